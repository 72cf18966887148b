package cache

import (
	"errors"
	"strings"
)

// Sentinel errors. Every error the package returns matches exactly one of
// them with [errors.Is]; most are wrapped in an [*Error] that also names the
// operation, the kind and the key, and keeps the underlying cause (which
// errors.Is and errors.As reach too, for example [context.DeadlineExceeded]).
var (
	// ErrUnavailable is returned when Redis cannot be reached or did not
	// answer within the operation timeout: connection refused or reset,
	// DNS failure, TLS failure, timeout, or a client still reconnecting.
	// The cache reconnects on its own; retry later or serve without the
	// cache (Fetch does so by itself).
	ErrUnavailable = errors.New("cache: redis unavailable")

	// ErrSerialization is returned when a value cannot be encoded for
	// storage, or when the bytes stored under a key cannot be decoded:
	// corrupt, truncated, written by something else, or by another codec.
	// Fetch treats an undecodable value as a miss and overwrites it.
	ErrSerialization = errors.New("cache: value could not be encoded or decoded")

	// ErrKeyGeneration is returned when a key cannot be derived from its
	// input: the input is not JSON-serialisable (channels, functions, NaN…)
	// or an embedding's model id is empty.
	ErrKeyGeneration = errors.New("cache: key could not be generated")

	// ErrOperation is returned when Redis answered with an error reply, for
	// example WRONGTYPE, OOM under maxmemory-policy noeviction, or NOPERM
	// from an ACL. The reply is kept as the cause.
	ErrOperation = errors.New("cache: redis rejected the operation")

	// ErrValueTooLarge is returned by Set and Fetch's store step when an
	// encoded value exceeds Config.MaxValueBytes. Nothing is sent to Redis.
	ErrValueTooLarge = errors.New("cache: value too large")

	// ErrInvalidArgument is returned when an argument is unusable: a
	// non-positive TTL, an empty key, a collection name with glob
	// characters.
	ErrInvalidArgument = errors.New("cache: invalid argument")

	// ErrClosed is returned by every operation after [RedisCache.Close].
	ErrClosed = errors.New("cache: closed")

	// ErrInvalidConfig is returned by [New] and [ConfigFromEnv] when a
	// setting is malformed. The message names the setting and never
	// contains a password.
	ErrInvalidConfig = errors.New("cache: invalid config")

	// ErrLoaderPanic is returned by Fetch to every caller waiting on a
	// loader that panicked. The panic is recovered so that no waiter hangs
	// and the process survives; the panic value is kept in the message.
	ErrLoaderPanic = errors.New("cache: loader panicked")
)

// Error describes a failed cache operation. Class is one of the sentinel
// errors above; Cause, when set, is what went wrong underneath.
type Error struct {
	Op    string // the operation: "get", "set", "delete", "scan", "ping", …
	Kind  string // the kind ("search", "intent", "embedding", a custom name), or "" for whole-cache operations
	Key   string // the Redis key or pattern involved, or ""
	Class error  // one of the sentinel errors
	Cause error  // the underlying error, or nil
}

// Error formats as "cache: OP KIND KEY: CLASS: CAUSE".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cache: ")
	b.WriteString(e.Op)
	for _, s := range [...]string{e.Kind, e.Key} {
		if s != "" {
			b.WriteByte(' ')
			b.WriteString(s)
		}
	}
	if e.Class != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Class.Error(), "cache: "))
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the class and the cause, so that errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Cause}
}

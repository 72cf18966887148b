package cache

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// Class is the class of a failure: one of the sentinel errors below. Every
// error the cache itself returns matches exactly one class with
// [errors.Is]; the errors a loader returns reach Fetch's caller unchanged and
// match none. A Class is also the label of a failure in [Event] and in
// metrics: its String is a short lower-case name ("unavailable").
type Class uint8

// The classes of failure. Each is a constant, so it can be compared with ==
// as well as matched with errors.Is.
const (
	// ErrUnavailable: Redis could not be reached or did not answer within
	// Config.OperationTimeout (connection refused or reset, DNS or TLS
	// failure, timeout, a client still reconnecting), or the caller's
	// context ended first. The cache reconnects on its own; retry later or
	// serve without the cache (Fetch does so by itself).
	ErrUnavailable Class = iota + 1

	// ErrOperation: Redis answered with an error reply, for example
	// WRONGTYPE, OOM under maxmemory-policy noeviction, NOPERM from an ACL,
	// or WRONGPASS when connecting. The reply is kept as the cause.
	ErrOperation

	// ErrSerialization: a value could not be encoded for storage, or the
	// bytes under a key could not be decoded (corrupt, truncated, written by
	// something else or with another codec). Get returns it; Fetch counts
	// such bytes as a miss and overwrites them.
	ErrSerialization

	// ErrKeyGeneration: a key could not be derived from its input (the
	// input is not JSON-serialisable: channels, functions, NaN…).
	ErrKeyGeneration

	// ErrValueTooLarge: an encoded value exceeds Config.MaxValueBytes.
	// Nothing is sent to Redis.
	ErrValueTooLarge

	// ErrInvalidArgument: an argument is unusable (a TTL that is not
	// positive, an empty key, a kind name with glob characters, a kind
	// registered twice with different TTLs). A programming error: it is
	// neither counted nor logged.
	ErrInvalidArgument

	// ErrInvalidConfig: [New] or [ConfigFromEnv] was given a malformed
	// setting. The message names the setting and never contains a password.
	ErrInvalidConfig

	// ErrClosed: the operation was called after, or raced with,
	// [RedisCache.Close].
	ErrClosed

	// ErrLoaderPanic: the loader of a Fetch, FetchMany or Warm panicked
	// (or code the cache ran during the load on its behalf, such as a
	// Recorder). The panic is recovered so that no waiter hangs and the
	// process survives; every caller that waited on that load gets this
	// class, with the panic value and the stack in the message. A value's
	// own encoder or decoder that panics (a MarshalJSON) fails with
	// ErrSerialization instead, holding the panic and its stack the same
	// way.
	ErrLoaderPanic

	numClasses = iota + 1 // one past the last class: the size of per-class arrays
)

var classes = [numClasses]struct{ name, msg string }{
	ErrUnavailable:     {"unavailable", "redis unavailable"},
	ErrOperation:       {"operation", "redis rejected the operation"},
	ErrSerialization:   {"serialization", "value could not be encoded or decoded"},
	ErrKeyGeneration:   {"key_generation", "key could not be generated"},
	ErrValueTooLarge:   {"value_too_large", "value too large"},
	ErrInvalidArgument: {"invalid_argument", "invalid argument"},
	ErrInvalidConfig:   {"invalid_config", "invalid config"},
	ErrClosed:          {"closed", "closed"},
	ErrLoaderPanic:     {"loader_panic", "loader panicked"},
}

// Error returns the class's message, "cache: redis unavailable".
func (c Class) Error() string {
	if c == 0 || c >= numClasses {
		return fmt.Sprintf("cache: unknown error class %d", uint8(c))
	}
	return "cache: " + classes[c].msg
}

// String returns the class's label: "unavailable", "operation",
// "serialization", …, "" for no class, "unknown" for a value that is not a
// class.
func (c Class) String() string {
	switch {
	case c == 0:
		return ""
	case c >= numClasses:
		return "unknown"
	}
	return classes[c].name
}

// ErrCircuitOpen is the cause of the [ErrUnavailable] errors of calls the
// cache did not send because its circuit breaker is open: Redis failed
// Config.BreakerThreshold times in a row, or could not be reached when New
// ran, and no probe has succeeded since. Such calls return at once, without
// touching the network; [RedisCache.Health] says when the next probe is due.
var ErrCircuitOpen = errors.New("circuit breaker open: Redis is not answering; calls skip it until a background probe succeeds (see Health)")

// Error describes a failed cache operation.
type Error struct {
	Op    Op     // the operation that failed
	Kind  string // the kind ("search", "intent", "embedding", "custom", or your own), "" for whole-cache operations
	Key   string // the Redis key or pattern involved, or ""
	Class Class  // the class of the failure
	Cause error  // the underlying error, or nil
	// Hint says what to do about it, in terms of Config and the
	// environment ("is Redis running there? set Config.URL or
	// REDIS_URL"), or "": New's errors give one. A tool that configures
	// the cache otherwise (flags) may print its own instead.
	Hint string
}

// Error formats as "cache: OP KIND KEY: CLASS MESSAGE: CAUSE (HINT)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cache: ")
	b.WriteString(e.Op.String())
	for _, s := range [...]string{e.Kind, e.Key} {
		if s != "" {
			b.WriteByte(' ')
			b.WriteString(s)
		}
	}
	if e.Class != 0 {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Class.Error(), "cache: "))
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteByte(')')
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

// panicError is a recovered loader panic: its value and the stack of the
// goroutine that panicked, taken where it panicked.
type panicError struct {
	value any
	stack []byte
}

func newPanicError(v any) *panicError { return &panicError{value: v, stack: debug.Stack()} }

func (p *panicError) Error() string { return fmt.Sprintf("%v\n\n%s", p.value, p.stack) }

// Unwrap returns the panic value when it is an error (panic(err)).
func (p *panicError) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// invalidArgument is the error of a misuse.
func invalidArgument(op Op, kind, key string, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Key: key, Class: ErrInvalidArgument, Cause: fmt.Errorf(format, args...)}
}

// invalidKind is the error of a constructor of kinds given unusable
// arguments.
func invalidKind(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

// invalidConfig is the error of a malformed setting.
func invalidConfig(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

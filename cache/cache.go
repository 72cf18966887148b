package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/rueidis"
	"golang.org/x/sync/singleflight"
)

// RedisCache is a cache of typed values in Redis. It is safe for concurrent
// use by any number of goroutines; create one per process and share it.
//
// Values are read and written through [Collection]s ([Search], [Intents],
// [Embeddings], [NewCollection]) or the key-level functions [Get], [Set] and
// [Fetch]. Every key the cache touches starts with its namespace.
type RedisCache struct {
	client rueidis.Client
	cfg    resolved
	log    *slog.Logger
	flight singleflight.Group // one loader call per key at a time (Fetch)
	closed atomic.Bool
	errs   atomic.Uint64 // failures that belong to no kind

	mu    sync.RWMutex     // guards kinds
	kinds map[string]*kind // by name; a kind is created once and never removed

	search, intent, embedding, custom *kind
}

// kind is the configuration of one family of values: its name (the key
// prefix after the namespace), TTL and counters. Every kind goes through the
// same code path.
type kind struct {
	name string
	ttl  time.Duration
	st   counters
}

// New connects to the Redis of cfg.URL, checks it with a PING, and returns a
// ready cache. It fails with an error wrapping [ErrInvalidConfig] for a bad
// setting, or [ErrUnavailable] when Redis cannot be reached within ctx and
// cfg.DialTimeout. Close the cache when done.
//
// The connection is kept and re-established on its own if Redis restarts:
// operations fail with ErrUnavailable while it is down and work again once
// it is back, on the same RedisCache.
func New(ctx context.Context, cfg Config) (*RedisCache, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	client, err := rueidis.NewClient(r.client)
	if err != nil {
		class, hint := classOf(err), "is Redis running there? set Config.URL or REDIS_URL"
		if class == ErrOperation { // the server answered the handshake with an error
			hint = "check the user, password and ACL in the URL"
		}
		return nil, &Error{Op: "connect", Key: r.redactedURL, Class: class, Cause: fmt.Errorf("%w (%s)", err, hint)}
	}
	c := &RedisCache{client: client, cfg: r, log: r.Logger, kinds: make(map[string]*kind)}
	c.search = c.kind(KindSearch, r.SearchTTL)
	c.intent = c.kind(KindIntent, r.IntentTTL)
	c.embedding = c.kind(KindEmbedding, r.EmbeddingTTL)
	c.custom = c.kind(KindCustom, 0)
	if _, err := c.Health(ctx); err != nil {
		client.Close()
		return nil, err
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "cache connected",
		slog.String("url", r.redactedURL), slog.String("namespace", r.Namespace))
	return c, nil
}

// Close releases the connections. Operations after Close fail with
// [ErrClosed]. Close is safe to call more than once and always returns nil.
func (c *RedisCache) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.client.Close()
	}
	return nil
}

// Namespace returns the prefix of every key this cache touches.
func (c *RedisCache) Namespace() string { return c.cfg.Namespace }

// kind returns the kind called name, creating it with ttl on first use.
func (c *RedisCache) kind(name string, ttl time.Duration) *kind {
	c.mu.RLock()
	k := c.kinds[name]
	c.mu.RUnlock()
	if k != nil {
		return k
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if k = c.kinds[name]; k == nil {
		k = &kind{name: name, ttl: ttl}
		c.kinds[name] = k
	}
	return k
}

// redisKey returns the namespaced key of prefix and the hash of data.
func (c *RedisCache) redisKey(prefix string, data any) (string, error) {
	ns := c.cfg.Namespace
	buf := make([]byte, 0, len(ns)+1+len(prefix)+1+64)
	buf = append(append(buf, ns...), ':')
	return appendKey(buf, prefix, data)
}

// opContext bounds one network call by the operation timeout.
func (c *RedisCache) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.OperationTimeout)
}

// do runs one command within the operation timeout.
func (c *RedisCache) do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	return c.doOn(ctx, c.client, cmd)
}

// getRaw reads the bytes under key. A missing key is (nil, false, nil).
// The returned bytes alias the reply and must not be modified.
func (c *RedisCache) getRaw(ctx context.Context, key string) ([]byte, bool, error) {
	if c.closed.Load() {
		return nil, false, ErrClosed
	}
	s, err := c.do(ctx, c.client.B().Get().Key(key).Build()).ToString()
	if err != nil {
		if rueidis.IsRedisNil(err) { // before any wrapping: IsRedisNil compares with ==
			return nil, false, nil
		}
		return nil, false, err
	}
	// The reply string is not shared with anyone else; decoders only read it.
	return unsafe.Slice(unsafe.StringData(s), len(s)), true, nil
}

// setRaw stores val under key for ttl.
func (c *RedisCache) setRaw(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if c.closed.Load() {
		return ErrClosed
	}
	// Redis counts PX in whole milliseconds, and refuses 0.
	ttl = max(ttl, time.Millisecond)
	// val is never reused after this call, so it can be sent without a copy.
	cmd := c.client.B().Set().Key(key).Value(rueidis.BinaryString(val)).Px(ttl).Build()
	return c.do(ctx, cmd).Error()
}

// fail wraps err as an *Error of the right class, counts it against k (or
// the cache, for errors of no kind) and logs it once, at warn level.
func (c *RedisCache) fail(ctx context.Context, k *kind, op, key string, class, err error) error {
	if class == nil {
		class = classOf(err)
	}
	if class == ErrUnavailable && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("%w (no answer within Config.OperationTimeout=%v)", err, c.cfg.OperationTimeout)
	}
	e := &Error{Op: op, Key: key, Class: class, Cause: err}
	if err == class {
		e.Cause = nil
	}
	if k != nil {
		e.Kind = k.name
	}
	level := slog.LevelWarn
	switch {
	case ctx.Err() != nil:
		// The caller gave up: not a failure of the cache, so not counted,
		// and logged only at debug level.
		level = slog.LevelDebug
	case k != nil:
		k.st.errors.Add(1)
	default:
		c.errs.Add(1)
	}
	c.log.LogAttrs(ctx, level, "cache error", slog.String("op", op), slog.String("kind", e.Kind),
		slog.String("key", key), slog.String("error", e.Error()))
	return e
}

// classOf maps an error from the Redis client to a sentinel class.
func classOf(err error) error {
	var re *rueidis.RedisError
	switch {
	case errors.Is(err, ErrClosed):
		return ErrClosed
	case errors.As(err, &re):
		return ErrOperation
	default: // network errors, timeouts, cancellations, client reconnecting
		return ErrUnavailable
	}
}

// logHitMiss logs a hit or a miss at debug level, at no cost when debug
// records are not wanted.
func (c *RedisCache) logHitMiss(ctx context.Context, k *kind, key string, hit bool) {
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	msg := "cache miss"
	if hit {
		msg = "cache hit"
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, msg, slog.String("kind", k.name), slog.String("key", key))
}

package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"golang.org/x/sync/singleflight"
)

// RedisCache is a cache of typed values in Redis. It is safe for concurrent
// use by any number of goroutines; create one per process and share it.
//
// Values are read and written through [Kind]s ([Search], [Intents],
// [Embeddings], [NewKind]) or the key-level functions [Get], [Set] and
// [Fetch]. Every key the cache touches starts with its namespace.
type RedisCache struct {
	client rueidis.Client
	cfg    resolved
	log    *slog.Logger
	rec    Recorder           // the user's, or nil
	now    func() time.Time   // the clock of log rate limits; tests replace it
	flight singleflight.Group // one loader call per key at a time (Fetch)
	// writes counts this process's writes by stripe of keys (see
	// writesTo): Fetch re-reads a key inside its flight only when one
	// happened since its miss.
	writes    [writeStripes]atomic.Uint64
	writeSeed maphash.Seed
	closed    atomic.Bool

	mu    sync.RWMutex          // guards kinds
	kinds map[string]*kindState // by name; a kind is created once and never removed
	whole *kindState            // figures of the operations of no kind

	search, intent, embedding, custom *kindState

	near      *near           // nil when the near cache is off
	nearState NearCacheStatus // whether it is on, and why not

	// Set by tests only: hookFetchMissed runs between a Fetch's miss and its
	// flight, hookFetchJoined once it has joined (or started) the flight,
	// hookNearRead between a tracked read's answer and its check against
	// invalidations (near.end).
	hookFetchMissed, hookFetchJoined, hookNearRead func(key string)
}

// New connects to Redis, checks it with a PING, and returns a ready cache.
// It fails with an error wrapping [ErrInvalidConfig] for a bad setting
// (a Sentinel's address given as a plain server included);
// [ErrUnavailable] when Redis cannot be reached within ctx and
// cfg.DialTimeout; [ErrOperation] when the server refuses the connection
// (a wrong password or user: WRONGPASS, NOAUTH). Close the cache when done.
//
// The connection is kept and re-established on its own if Redis restarts:
// operations fail with ErrUnavailable while it is down and work again once
// it is back, on the same RedisCache.
func New(ctx context.Context, cfg Config) (*RedisCache, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	c := &RedisCache{cfg: r, log: r.Logger, rec: r.Recorder, now: time.Now, writeSeed: maphash.MakeSeed(),
		kinds: make(map[string]*kindState), whole: &kindState{}}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	c.search, _ = c.kind(KindSearch, r.SearchTTL) // a new cache: no kind exists yet
	c.intent, _ = c.kind(KindIntent, r.IntentTTL)
	c.embedding, _ = c.kind(KindEmbedding, r.EmbeddingTTL)
	c.custom, _ = c.kind(KindCustom, 0)
	c.log.LogAttrs(ctx, slog.LevelDebug, "cache connected",
		slog.String("url", r.redactedURL), slog.String("namespace", r.Namespace))
	return c, nil
}

// connect builds the client and checks the server: with client tracking
// for the near cache when the configuration wants it and the server has
// it, without it otherwise.
func (c *RedisCache) connect(ctx context.Context) error {
	r := &c.cfg
	build := r.ClientBuilder
	if build == nil {
		build = rueidis.NewClient
	}
	opt := r.client
	if r.NearCacheBytes <= 0 {
		c.nearState.Reason = "turned off by Config.NearCacheBytes"
	} else {
		c.near = newNear(r.NearCacheBytes, r.NearCacheMaxAge)
		opt.OnInvalidations = c.near.onInvalidations
		if user := r.client.OnInvalidations; user != nil {
			n := c.near
			opt.OnInvalidations = func(m []rueidis.RedisMessage) { user(m); n.onInvalidations(m) }
		}
	}
	client, err := build(opt)
	if c.near != nil && errors.Is(err, rueidis.ErrNoCache) {
		c.nearOff(ctx, "the server does not offer client tracking (RESP3 CLIENT TRACKING, Redis 6 and later)", err)
		opt = r.client
		opt.DisableCache = true
		client, err = build(opt)
	}
	if err != nil {
		class, hint := classOf(err), "is Redis running there? set Config.URL or REDIS_URL"
		if class == ErrOperation { // the server answered the handshake with an error
			hint = "check the user, password and ACL in the URL"
		}
		return &Error{Op: OpConnect, Key: r.redactedURL, Class: class, Cause: fmt.Errorf("%w (%s)", err, hint)}
	}
	c.client = client
	if _, err := c.Health(ctx); err != nil {
		client.Close()
		return err
	}
	if client.Mode() == rueidis.ClientModeStandalone && c.serverMode(ctx) == "sentinel" {
		client.Close()
		return &Error{Op: OpConnect, Key: r.redactedURL, Class: ErrInvalidConfig,
			Cause: errors.New("the server is a Redis Sentinel, which holds no data; give the sentinels' addresses with ?master_set=<name> in the URL (or ClientOption.Sentinel.MasterSet), or the primary's address")}
	}
	if c.near != nil && client.Mode() == rueidis.ClientModeCluster {
		// The cluster client resends a redirected or retried command on its
		// own (MOVED, ASK, TRYAGAIN during a resharding or a failover),
		// without the CLIENT CACHING YES before it: the value read would
		// not be tracked, and could stay stale until NearCacheMaxAge.
		c.nearOff(ctx, "not yet on Redis Cluster: a read redirected during a resharding or failover is not tracked", nil)
	}
	if c.near != nil {
		if err := c.probeNear(ctx); err != nil {
			if ctx.Err() != nil {
				client.Close()
				return &Error{Op: OpConnect, Key: r.redactedURL, Class: ErrUnavailable, Cause: ctx.Err()}
			}
			c.nearOff(ctx, "the check that invalidations reach the cache failed", err)
		}
	}
	c.nearState.On = c.near != nil
	return nil
}

// serverMode returns the redis_mode of INFO server ("standalone",
// "cluster", "sentinel"), or "" when the server does not say (INFO refused
// by an ACL, a server without it).
func (c *RedisCache) serverMode(ctx context.Context) string {
	msg, err := c.send(ctx, c.client, c.client.B().Info().Section("server").Build())
	if err != nil {
		return ""
	}
	info, _ := msg.ToString()
	for _, line := range strings.Split(info, "\n") {
		if mode, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_mode:"); ok {
			return mode
		}
	}
	return ""
}

// nearOff turns the near cache off before any kind exists, and says why.
func (c *RedisCache) nearOff(ctx context.Context, reason string, err error) {
	if c.near != nil {
		c.near.close()
	}
	c.near = nil
	c.nearState.Reason = reason
	attrs := []slog.Attr{slog.String("reason", reason)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "cache: near cache off; every read goes to Redis", attrs...)
}

// Close releases the connections (the client's too, when it was built by
// Config.ClientBuilder). Operations after Close, and operations racing it,
// fail with [ErrClosed]. Close is safe to call more than once and always
// returns nil.
func (c *RedisCache) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.client.Close()
		if c.near != nil {
			c.near.flush()
			c.near.close()
		}
		c.mu.RLock()
		for _, k := range c.kinds {
			k.keys.StopAllGoroutines()
		}
		c.mu.RUnlock()
	}
	return nil
}

// Namespace returns the prefix of every key this cache touches.
func (c *RedisCache) Namespace() string { return c.cfg.Namespace }

// kind returns the kind called name, creating it with ttl on first use. A
// kind's TTL never changes: another ttl for an existing name is refused
// with ErrInvalidArgument (and the existing kind returned).
func (c *RedisCache) kind(name string, ttl time.Duration) (*kindState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.kinds[name]
	if k == nil {
		k = &kindState{name: name, ttl: ttl, keys: newKeyMemo(c.memoBytes())}
		if c.near != nil {
			k.near = c.near.tier()
		}
		c.kinds[name] = k
	}
	if k.ttl != ttl {
		return k, invalidKind("kind %q already exists with ttl %v; one kind has one TTL: use the same ttl, or another name", name, k.ttl)
	}
	return k, nil
}

// lookupKind returns the kind called name, or nil if it was never used.
func (c *RedisCache) lookupKind(name string) *kindState {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.kinds[name]
}

// memoBytes is the bound of each kind's memo of keys: a quarter of the
// near cache's bound, or of its default when the near cache is off.
func (c *RedisCache) memoBytes() int {
	if c.cfg.NearCacheBytes > 0 {
		return c.cfg.NearCacheBytes / 4
	}
	return defaultNearCacheBytes / 4
}

// wrote is called once this process has written or deleted key: it drops
// key from the near cache, so that its next read here sees the change
// without waiting for the server's invalidation, and counts the write for
// Fetch (see writesTo).
func (c *RedisCache) wrote(key string) {
	if c.near != nil {
		c.near.invalidate(key)
	}
	c.writesTo(key).Add(1)
}

// redisKey returns the namespaced key of prefix and the hash of data.
func (c *RedisCache) redisKey(prefix string, data any) (string, error) {
	ns := c.cfg.Namespace
	buf := make([]byte, 0, len(ns)+1+len(prefix)+1+64)
	buf = append(append(buf, ns...), ':')
	return appendKey(buf, prefix, data)
}

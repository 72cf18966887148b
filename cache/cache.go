package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/media-gateway/discovery/cache/internal/breaker"
	"github.com/media-gateway/discovery/cache/internal/lease"
	"github.com/media-gateway/discovery/cache/internal/near"
)

// RedisCache is a cache of typed values in Redis. It is safe for concurrent
// use by any number of goroutines; create one per process and share it.
//
// Values are read and written through [Kind]s ([Search], [Intents],
// [Embeddings], [NewKind]) or the key-level functions [Get], [Set] and
// [Fetch]. Every key the cache touches starts with its namespace.
type RedisCache struct {
	cfg      resolved
	closed   atomic.Bool
	redis    connection  // the client and the breaker in front of it (see transport.go)
	keyspace keyspace    // the commands the protocols send: the cache itself, or a test's
	near     nearSwitch  // the near cache, nil when off, and why (see near.go)
	stale    *staleStore // nil unless Config.StaleMaxAge is set (see stale.go)
	kinds    registry    // the kinds, by name
	loads    loads       // Fetch's flights and lease waits, by key
	writes   writeCounts // this process's writes, by stripe of keys (see writesTo)
	work     background  // work started in the background by reads, which Close ends
	report   reporting   // logs, and the user's Recorder
	similar  partitions  // the near match's partitions (see similar.go)
	hooks    testHooks   // set by tests only
}

// connection is the cache's link to Redis: the client once connected, the
// circuit breaker in front of it, and the background work of connecting
// and probing.
type connection struct {
	client   atomic.Pointer[link]    // nil until connected
	brk      *breaker.Breaker        // see door and breaker.go
	timeout  error                   // the cause of a call that got no answer within OperationTimeout
	lastFail atomic.Pointer[failure] // the last failure to get an answer from Redis
	mu       sync.Mutex              // orders installing a client against Close
	probing  atomic.Bool             // a probe loop runs (see probeLoop)
	// life is the context of connecting and probing: canceled by Close.
	// It carries the probing mark (see door).
	life context.Context
	stop context.CancelFunc
}

// nearSwitch holds the near cache, nil when it is off, and says why.
type nearSwitch struct {
	atomic.Pointer[near.Cache]
	mu    sync.Mutex      // guards state
	state NearCacheStatus // whether it is on, and why not
}

// registry holds the kinds: a kind is created once and never removed.
type registry struct {
	mu                                sync.RWMutex          // guards byName
	byName                            map[string]*kindState // by name
	whole                             *kindState            // figures of the operations of no kind
	search, intent, embedding, custom *kindState
	keys                              *keyMemo // the keys of recent string inputs of every kind (Kind.key)
}

// loads are the loads in progress in this process, by key.
type loads struct {
	flight singleflight.Group // one loader call per key at a time (Fetch)
	waits  lease.Waiters      // Fetches waiting on another process's lease (see lease.go)
}

// writeCounts counts this process's writes by stripe of keys (see
// writesTo): Fetch re-reads a key inside its flight only when one
// happened since its miss.
type writeCounts struct {
	stripes [writeStripes]atomic.Uint64
	seed    maphash.Seed
}

// background is the work started in the background by reads (early
// refreshes, adaptive extensions): its context is canceled by Close,
// which waits for it (see RedisCache.background).
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex     // orders starting background work against Close
	wg     sync.WaitGroup // background work under way
}

// reporting is where the cache reports: its logger, the user's Recorder
// (or nil), and the clock of log rate limits (tests replace it).
type reporting struct {
	log    *slog.Logger
	rec    Recorder
	tracer Tracer // rec, when it is one
	now    func() time.Time
}

// testHooks are set by tests only: fetchMissed runs between a Fetch's miss
// and its flight, fetchJoined once it has joined (or started) the flight,
// nearRead between a tracked read's answer and its check against
// invalidations (near.Cache.End).
type testHooks struct {
	fetchMissed, fetchJoined, nearRead func(key string)
}

// New returns a cache of values in Redis, connected when Redis can be
// reached. It fails with an error wrapping [ErrInvalidConfig] for a bad
// setting (a Sentinel's address given as a plain server included), and
// with [ErrOperation] when the server refuses the connection (a wrong
// password or user: WRONGPASS, NOAUTH). Close the cache when done.
//
// When Redis cannot be reached (refused, no answer within
// Config.DialTimeout, or ctx's deadline; an address that accepts
// connections and closes them, as a proxy or service-mesh sidecar does
// while its Redis is down; a server that answers it cannot serve yet,
// LOADING its data, BUSY, MASTERDOWN, CLUSTERDOWN), New still returns a working
// cache: Fetch answers from its loaders, Get and Set fail at once with
// [ErrUnavailable] (wrapping [ErrCircuitOpen]), and the cache connects in
// the background, with backoff, as soon as Redis answers; [RedisCache.Health]
// reports it. With Config.RequireConnection, New fails with ErrUnavailable
// instead.
//
// Once connected, the connection is kept and re-established on its own if
// Redis restarts; the circuit breaker (Config.BreakerThreshold) stops
// calling a Redis that does not answer, and probes it until it does.
func New(ctx context.Context, cfg Config) (*RedisCache, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	c := assemble(r)
	if err := c.connect(ctx); err != nil {
		err, bad := notRedis(err, r.client.InitAddress)
		if bad {
			c.Close()
			return nil, err
		}
		away := classOf(err) == ErrUnavailable || cannotServe(err) // unreachable, or up but not serving yet (LOADING…)
		if r.RequireConnection || !away || misconfigured(err) || errors.Is(ctx.Err(), context.Canceled) {
			c.Close()
			return nil, err
		}
		c.failed(time.Now(), err)
		c.report.log.LogAttrs(ctx, slog.LevelWarn, "cache: Redis unreachable; started without it, answering from loaders and connecting in the background",
			slog.String("url", r.redactedURL), slog.String("error", err.Error()))
		c.redis.brk.Trip() // the probes connect
		return c, nil
	}
	c.report.log.LogAttrs(ctx, slog.LevelDebug, "cache connected",
		slog.String("url", r.redactedURL), slog.String("namespace", r.Namespace))
	return c, nil
}

// assemble makes the parts of a cache of r, not connected: its
// keyspace is itself, through a connection New makes next.
func assemble(r resolved) *RedisCache {
	c := &RedisCache{cfg: r, report: reporting{log: r.Logger, rec: r.Recorder, now: time.Now}, writes: writeCounts{seed: maphash.MakeSeed()},
		kinds: registry{byName: make(map[string]*kindState), whole: &kindState{}}}
	c.keyspace = c
	c.report.tracer, _ = r.Recorder.(Tracer)
	c.redis.timeout = fmt.Errorf("%w: no answer within Config.OperationTimeout (%v)", context.DeadlineExceeded, r.OperationTimeout)
	c.redis.life, c.redis.stop = context.WithCancel(context.WithValue(context.Background(), probing{}, true))
	c.work.ctx, c.work.cancel = context.WithCancel(context.Background())
	c.redis.brk = breaker.New(breaker.Config{Threshold: r.BreakerThreshold, Backoff: r.BreakerBackoff,
		MaxBackoff: r.BreakerMaxBackoff, OnChange: c.breakerChanged})
	if r.NearCacheBytes <= 0 {
		c.near.state.Reason = "turned off by Config.NearCacheBytes"
	} else {
		n := near.New(r.NearCacheBytes, r.NearCacheMaxAge, c.keyChanged)
		c.near.Store(n)
		c.near.state.Reason = "not connected to Redis yet"
	}
	c.kinds.keys = newKeyMemo(c.memoBytes())
	if r.StaleMaxAge > 0 {
		c.stale = c.newStale()
	}
	c.kinds.search, _ = c.kind(KindSearch, r.SearchTTL) // a new cache: no kind exists yet
	c.kinds.intent, _ = c.kind(KindIntent, r.IntentTTL)
	c.kinds.embedding, _ = c.kind(KindEmbedding, r.EmbeddingTTL)
	c.kinds.custom, _ = c.kind(KindCustom, 0)
	return c
}

// nearOff turns the near cache off, for good, and says why.
func (c *RedisCache) nearOff(ctx context.Context, reason string, err error) {
	c.near.mu.Lock()
	n := c.near.Swap(nil)
	c.near.state = NearCacheStatus{Reason: reason}
	c.near.mu.Unlock()
	if n == nil {
		return
	}
	n.Close()
	attrs := []slog.Attr{slog.String("reason", reason)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	c.report.log.LogAttrs(ctx, slog.LevelWarn, "cache: near cache off; every read goes to Redis", attrs...)
}

// Close releases the connections (the client's too, when it was built by
// Config.ClientBuilder) and stops the background work: a connection
// attempt under way ends within Config.DialTimeout, and its client is
// closed; the early refreshes and TTL extensions under way see their
// context canceled, and Close waits for them up to 2 s. Operations after Close, and operations racing it, fail with
// [ErrClosed]. Close is safe to call more than once and always returns nil.
func (c *RedisCache) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.redis.stop()
	c.stopBackground()
	c.redis.mu.Lock()
	if l := c.redis.client.Load(); l != nil {
		l.Close()
	}
	c.redis.mu.Unlock()
	if n := c.near.Load(); n != nil {
		n.Flush()
		n.Close()
	}
	c.kinds.keys.StopAllGoroutines()
	if c.stale != nil {
		c.stale.InvalidateAll()
		c.stale.StopAllGoroutines()
	}
	return nil
}

// background runs fn on a goroutine of its own with the context of
// background work, unless the cache is closed (then it reports false).
func (c *RedisCache) background(fn func(ctx context.Context)) bool {
	c.work.mu.Lock()
	defer c.work.mu.Unlock()
	if c.closed.Load() {
		return false
	}
	c.work.wg.Add(1)
	go func() {
		defer c.work.wg.Done()
		fn(c.work.ctx)
	}()
	return true
}

// backgroundWait bounds how long Close waits for background work whose
// context it canceled: a loader that ignores its context is left to end
// on its own.
const backgroundWait = 2 * time.Second

// stopBackground cancels the background work and waits for it, up to
// backgroundWait.
func (c *RedisCache) stopBackground() {
	c.work.cancel()
	c.work.mu.Lock() // no background work starts from here on (see background)
	c.work.mu.Unlock()
	done := make(chan struct{})
	go func() {
		c.work.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(backgroundWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// backgroundFor returns a context for work started on behalf of a caller
// that must outlive the caller's own context: the caller's values
// (tracing), no deadline, canceled by cancel or by Close. Call cancel
// when the work is over.
func (c *RedisCache) backgroundFor(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(c.work.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Endpoint describes the Redis the cache talks to, for logs and status
// pages: the URL without its password (redis://user:xxxxx@host:6379/0),
// the cluster seeds or the sentinels; never a password.
func (c *RedisCache) Endpoint() string { return c.cfg.redactedURL }

// Namespace returns the prefix of every key this cache touches.
func (c *RedisCache) Namespace() string { return c.cfg.Namespace }

// kind returns the kind called name, creating it with ttl on first use. A
// kind's TTL never changes: another ttl for an existing name is refused
// with ErrInvalidArgument (and the existing kind returned).
func (c *RedisCache) kind(name string, ttl time.Duration) (*kindState, error) {
	c.kinds.mu.Lock()
	defer c.kinds.mu.Unlock()
	k := c.kinds.byName[name]
	if k == nil {
		k = &kindState{name: name, ttl: ttl, policy: c.cfg.policyOf(name).ForKind(ttl), keys: c.kinds.keys, stale: c.stale}
		c.kinds.byName[name] = k
	}
	if k.ttl != ttl {
		return k, invalidKind("kind %q already exists with ttl %v; one kind has one TTL: use the same ttl, or another name", name, k.ttl)
	}
	return k, nil
}

// lookupKind returns the kind called name, or nil if it was never used.
func (c *RedisCache) lookupKind(name string) *kindState {
	c.kinds.mu.RLock()
	defer c.kinds.mu.RUnlock()
	return c.kinds.byName[name]
}

// memoBytes is the bound of the memo of keys: a quarter of the near
// cache's bound, or of its default when the near cache is off.
func (c *RedisCache) memoBytes() int {
	if c.cfg.NearCacheBytes > 0 {
		return c.cfg.NearCacheBytes / 4
	}
	return defaultNearCacheBytes / 4
}

// wrote is called once this process has written or deleted key, or tried
// to (a write refused by the open breaker included): it drops key from the
// near cache, so that its next read here sees the change without waiting
// for the server's invalidation, and from the stale store, so that a value
// meant to be replaced or deleted is never served stale; and it counts the
// write for Fetch (see writesTo).
func (c *RedisCache) wrote(key string) {
	if n := c.near.Load(); n != nil {
		n.Invalidate(key)
	}
	c.forgetStale(key)
	c.writesTo(key).Add(1)
}

// wroteAll is wrote for each of keys.
func (c *RedisCache) wroteAll(keys []string) {
	for _, k := range keys {
		c.wrote(k)
	}
}

// redisKey returns the namespaced key of prefix and the hash of data.
func (c *RedisCache) redisKey(prefix string, data any) (string, error) {
	ns := c.cfg.Namespace
	buf := make([]byte, 0, len(ns)+1+len(prefix)+1+64)
	buf = append(append(buf, ns...), ':')
	return appendKey(buf, prefix, data)
}

package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/rueidis"
)

// The near cache holds decoded values in process memory, in front of
// Redis: one store for every kind, bounded by bytes as a whole
// (Config.NearCacheBytes), so that a hit costs a map lookup instead of a
// round trip and a decode. Keys are Redis keys, so an invalidation finds
// its entry with one lookup whatever the number of kinds; each entry
// points to its kind, which keeps the kind's figures (see
// kindState.nearEntries).
//
// Coherence comes from Redis itself. A value enters a tier only from a read
// that asked the server to track its key (CLIENT CACHING YES on a
// connection with CLIENT TRACKING ON OPTIN; see getTracked). From then on the
// server pushes an invalidation on the next change of the key, by any
// client, and invalidate drops the local copy; when a connection closes,
// or the server is flushed, rueidis reports a nil invalidation and the
// store is emptied (flush). Three races are closed here:
//
//   - An invalidation that arrives while a read of the same key is in flight
//     (after the server answered the read, before its value is stored
//     locally): begin notes the key's generation, invalidate moves it on,
//     and end stores the value only if it has not moved.
//   - A flush while a read is in flight (the read's connection died, so an
//     invalidation may have been lost): the same, with the epoch.
//   - A write by this process: invalidated here as soon as the write
//     returns, so that this process reads its own writes at once rather
//     than when the server's push arrives.
//
// Each entry also expires with its key in Redis (the read asks PTTL) and
// after Config.NearCacheMaxAge at most.
type near struct {
	maxAge time.Duration                   // longest life of an entry
	data   *otter.Cache[string, nearEntry] // every kind's values, by Redis key
	seed   maphash.Seed
	epoch  atomic.Uint64 // moved on by every flush
	shards [nearShards]nearShard

	flushes atomic.Uint64 // flushes since the cache was made

	probe atomic.Pointer[nearProbe] // set while New checks that invalidations arrive

	// changed, if not nil, is called with each key the server reports
	// changed (not for flushes): see RedisCache.keyChanged.
	changed func(key string)

	// Set by tests only: called once invalidate has dropped a key.
	hookInvalidated atomic.Pointer[func(key string)]
}

// nearProbe is the key of probeNear, and where its invalidation is
// reported.
type nearProbe struct {
	key  string
	seen chan struct{} // buffered: one report is enough
}

// nearShards spreads the reads in flight over locks.
const nearShards = 64

// nearShard tracks the reads in flight of the keys that hash to it.
type nearShard struct {
	mu    sync.Mutex
	reads map[string]*nearRead
	_     [64 - 16]byte // keep neighbouring shards' locks off one cache line
}

// nearRead is a key with reads in flight.
type nearRead struct {
	readers int    // reads between begin and end
	gen     uint64 // invalidations of the key seen while it had readers
}

// nearTicket is what begin hands a read, for end to check.
type nearTicket struct {
	gen, epoch uint64
}

// nearEntry is one decoded value.
type nearEntry struct {
	kind *kindState // whose value it is: its figures count the entry
	v    any
	typ  reflect.Type  // the value type of the view that stored it: another view (of an interface type, say) must not take it
	size uint32        // its weight: key, payload and bookkeeping bytes
	ttl  time.Duration // how long it may be served from when stored
	exp  int64         // when the key expires in Redis, Unix nanoseconds (at the latest: sent + PTTL); 0 for never
	born int64         // when the value was written, Unix nanoseconds (its envelope's time); 0 when unknown
	own  bool          // in a stale store: stored by this process, so not tracked (see staleChanged)
}

// nearEntryOverhead is the fixed cost of an entry, used to weigh it: its
// node, its key's header, the interface holding the value.
const nearEntryOverhead = 96

func newNear(maxBytes int, maxAge time.Duration) *near {
	n := &near{maxAge: maxAge, seed: maphash.MakeSeed()}
	for i := range n.shards {
		n.shards[i].reads = make(map[string]*nearRead)
	}
	n.data = otter.Must(&otter.Options[string, nearEntry]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(_ string, e nearEntry) uint32 { return e.size },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, nearEntry]) time.Duration {
			return e.Value.ttl
		}),
		// Every entry leaves through here (replaced, invalidated, evicted,
		// expired): its kind's figures follow. Atomics only: it runs under
		// a lock of the store.
		OnAtomicDeletion: func(e otter.DeletionEvent[string, nearEntry]) {
			e.Value.kind.nearEntries.Add(-1)
			e.Value.kind.nearBytes.Add(-int64(e.Value.size))
		},
	})
	return n
}

func (n *near) shard(key string) *nearShard {
	return &n.shards[maphash.String(n.seed, key)%nearShards]
}

// begin registers a read of key about to be sent to Redis.
func (n *near) begin(key string) nearTicket {
	s := n.shard(key)
	s.mu.Lock()
	r := s.reads[key]
	if r == nil {
		r = &nearRead{}
		s.reads[key] = r
	}
	r.readers++
	t := nearTicket{gen: r.gen, epoch: n.epoch.Load()}
	s.mu.Unlock()
	return t
}

// end closes a read opened by begin. When keep is true, e is stored
// under key, unless the key was invalidated or the tiers flushed since
// begin: then what was read may be older than what Redis holds. pttl is the
// key's PTTL reply and sent the time the read was sent: the entry expires
// no later than the key in Redis.
func (n *near) end(key string, tk nearTicket, e nearEntry, keep bool, pttl int64, sent time.Time) {
	s := n.shard(key)
	s.mu.Lock()
	r := s.reads[key]
	if keep && r.gen == tk.gen && n.epoch.Load() == tk.epoch {
		if pttl > 0 {
			e.exp = sent.Add(time.Duration(pttl) * time.Millisecond).UnixNano()
		}
		if e.ttl = n.entryTTL(pttl, sent); e.ttl > 0 {
			e.kind.nearEntries.Add(1)
			e.kind.nearBytes.Add(int64(e.size))
			n.data.Set(key, e)
		}
	}
	if r.readers--; r.readers == 0 {
		delete(s.reads, key)
	}
	s.mu.Unlock()
}

// invalidate drops key and spoils the reads of it in flight.
func (n *near) invalidate(key string) {
	s := n.shard(key)
	s.mu.Lock()
	if r := s.reads[key]; r != nil {
		r.gen++
	}
	if e, ok := n.data.Invalidate(key); ok {
		e.kind.nearInvalidated.Add(1)
	}
	s.mu.Unlock()
	if h := n.hookInvalidated.Load(); h != nil {
		(*h)(key)
	}
}

// flush empties the store and spoils every read in flight. Holding each
// shard's lock while the epoch moves means that no read can pass end's
// check before the move and store its value after the entries are gone.
func (n *near) flush() {
	for i := range n.shards {
		n.shards[i].mu.Lock()
	}
	n.epoch.Add(1)
	for i := range n.shards {
		n.shards[i].mu.Unlock()
	}
	n.data.InvalidateAll()
	n.flushes.Add(1)
}

// onInvalidations receives the server's pushes (see rueidis'
// ClientOption.OnInvalidations): keys that changed, or nil when every key
// must be considered changed (a connection closed, the database was
// flushed).
func (n *near) onInvalidations(msgs []rueidis.RedisMessage) {
	if msgs == nil {
		n.flush()
		return
	}
	for _, m := range msgs {
		key, err := m.ToString()
		if err != nil {
			continue
		}
		if p := n.probe.Load(); p != nil && key == p.key {
			select {
			case p.seen <- struct{}{}:
			default:
			}
		}
		n.invalidate(key)
		if n.changed != nil {
			n.changed(key)
		}
	}
}

// probeNear proves that the server's invalidations reach this cache: it
// writes a key of its own, reads it with tracking (which must report its
// TTL), writes it again and waits for the invalidation of that write. A
// client built by Config.ClientBuilder without the options it was given, a
// proxy that accepts CLIENT TRACKING but forwards no invalidations, or an
// ACL that refuses PTTL, fails it. A failure to reach Redis is tried once
// more before the near cache is given up.
func (c *RedisCache) probeNear(ctx context.Context) error {
	err := c.probeOnce(ctx)
	if err != nil && ctx.Err() == nil && classOf(err) == ErrUnavailable {
		err = c.probeOnce(ctx)
	}
	return err
}

// nearProbeSegment names the keys of probeOnce.
const nearProbeSegment = "near-probe"

func (c *RedisCache) probeOnce(ctx context.Context) error {
	var id [8]byte
	_, _ = rand.Read(id[:]) // never fails
	p := &nearProbe{key: c.cfg.Namespace + ":" + nearProbeSegment + ":" + hex.EncodeToString(id[:]), seen: make(chan struct{}, 1)}
	n := c.near.Load()
	if n == nil {
		return nil
	}
	n.probe.Store(p)
	defer n.probe.Store(nil)
	defer c.unlink(context.WithoutCancel(ctx), []string{p.key}) //nolint:errcheck // the key expires on its own
	const ttl = 10 * time.Second
	if err := c.setBytes(ctx, p.key, []byte{0}, ttl); err != nil {
		return err
	}
	_, pttl, found, err := c.getTracked(ctx, p.key)
	switch {
	case err != nil:
		return err
	case !found || pttl <= 0:
		return fmt.Errorf("a tracked read of a key just written found it %v with TTL %d ms (is PTTL or CLIENT CACHING refused?)", found, pttl)
	}
	if err := c.setBytes(ctx, p.key, []byte{1}, ttl); err != nil {
		return err
	}
	wait := time.NewTimer(c.cfg.OperationTimeout)
	defer wait.Stop()
	select {
	case <-p.seen:
		return nil
	case <-wait.C:
		return fmt.Errorf("no invalidation within Config.OperationTimeout (%v) of a write to a key read with tracking", c.cfg.OperationTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops the store's maintenance goroutines.
func (n *near) close() { n.data.StopAllGoroutines() }

// entryTTL is how long, from now, a value may be served locally when its
// key had pttl milliseconds to live as the server answered a read sent at
// sent: no longer than the key lives in Redis (the server answered after
// sent, so sent+pttl comes before the key expires), nor than maxAge. Zero
// or less means not at all.
func (n *near) entryTTL(pttl int64, sent time.Time) time.Duration {
	switch {
	case pttl == -1: // no expiry in Redis
		return n.maxAge
	case pttl <= 0: // gone, or about to go
		return 0
	}
	return min(time.Duration(pttl)*time.Millisecond-time.Since(sent), n.maxAge)
}

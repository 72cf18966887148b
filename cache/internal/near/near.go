// Package near is the near cache: decoded values in process memory, in
// front of Redis, kept coherent by the server's invalidations.
//
// One store holds the values of every kind, bounded by bytes as a whole,
// so that a hit costs a map lookup instead of a round trip and a decode.
// Keys are Redis keys, so an invalidation finds its entry with one lookup
// whatever the number of kinds; each entry points to its owner's Figures
// (a kind's), which follow it in and out.
//
// Coherence comes from Redis itself. A value enters the store only from a
// read that asked the server to track its key (CLIENT CACHING YES on a
// connection with CLIENT TRACKING ON OPTIN). From then on the server
// pushes an invalidation on the next change of the key, by any client,
// and Invalidate drops the local copy; when a connection closes, or the
// server is flushed, rueidis reports a nil invalidation and the store is
// emptied (Flush). Three races are closed here:
//
//   - An invalidation that arrives while a read of the same key is in
//     flight (after the server answered the read, before its value is
//     stored locally): Begin notes the key's generation, Invalidate moves
//     it on, and End stores the value only if it has not moved.
//   - A flush while a read is in flight (the read's connection died, so an
//     invalidation may have been lost): the same, with the epoch.
//   - A write by this process: its writer calls Invalidate as soon as the
//     write returns, so that this process reads its own writes at once
//     rather than when the server's push arrives.
//
// Each entry also expires with its key in Redis (the read asks PTTL) and
// after the store's maximum age at most.
package near

import (
	"hash/maphash"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/rueidis"
)

// Cache is the near cache. Its methods are safe for concurrent use.
type Cache struct {
	maxAge time.Duration               // longest life of an entry
	data   *otter.Cache[string, Entry] // every owner's values, by Redis key
	seed   maphash.Seed
	epoch  atomic.Uint64 // moved on by every flush
	shards [shards]shard

	flushes atomic.Uint64 // flushes since the store was made

	watch atomic.Pointer[watch] // a key whose invalidation is awaited (Watch)

	// changed, if not nil, is called with each key the server reports
	// changed (not for flushes).
	changed func(key string)

	// Set by tests only: called once Invalidate has dropped a key.
	hookInvalidated atomic.Pointer[func(key string)]
}

// Figures are one owner's share of the store (a kind's): kept by the
// store as entries come and go, read by whoever reports them.
type Figures struct {
	Entries, Bytes atomic.Int64
	Invalidated    atomic.Uint64 // entries dropped by an invalidation
	Evicted        atomic.Uint64 // entries dropped to keep the store within its bytes
}

// Entry is one decoded value.
type Entry struct {
	Owner *Figures     // whose value it is: its figures count the entry
	Value any          // the decoded value
	Type  reflect.Type // the value type of the view that stored it: another view (of an interface type, say) must not take it
	Size  uint32       // its weight: key, payload and bookkeeping bytes (see Weight)
	Exp   int64        // when the key expires in Redis, Unix nanoseconds (at the latest: sent + PTTL); 0 for never
	Born  int64        // when the value was written, Unix nanoseconds (its envelope's time); 0 when unknown
	Own   bool         // in a stale store: stored by this process, so not tracked
	ttl   time.Duration
}

// EntryOverhead is the fixed cost of an entry, used to weigh it: its
// node, its key's header, the interface holding the value.
const EntryOverhead = 96

// Weight is the weight of an entry of key whose payload was size bytes.
func Weight(key string, size int) uint32 {
	return uint32(min(uint64(len(key))+uint64(size)+EntryOverhead, 1<<32-1))
}

// watch is the key of Watch, and where its invalidation is reported.
type watch struct {
	key  string
	seen chan struct{} // buffered: one report is enough
}

// shards spreads the reads in flight over locks.
const shards = 64

// shard tracks the reads in flight of the keys that hash to it.
type shard struct {
	mu    sync.Mutex
	reads map[string]*read
	_     [64 - 16]byte // keep neighbouring shards' locks off one cache line
}

// read is a key with reads in flight.
type read struct {
	readers int    // reads between Begin and End
	gen     uint64 // invalidations of the key seen while it had readers
}

// Ticket is what Begin hands a read, for End to check.
type Ticket struct {
	gen, epoch uint64
}

// New makes a store of at most maxBytes (by the entries' Size), whose
// entries live maxAge at most. changed, if not nil, is called with each
// key the server reports changed, after its entry was dropped.
func New(maxBytes int, maxAge time.Duration, changed func(key string)) *Cache {
	n := &Cache{maxAge: maxAge, seed: maphash.MakeSeed(), changed: changed}
	for i := range n.shards {
		n.shards[i].reads = make(map[string]*read)
	}
	n.data = otter.Must(&otter.Options[string, Entry]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(_ string, e Entry) uint32 { return e.Size },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, Entry]) time.Duration {
			return e.Value.ttl
		}),
		// Every entry leaves through here (replaced, invalidated, evicted,
		// expired): its owner's figures follow. Atomics only: it runs under
		// a lock of the store.
		OnAtomicDeletion: func(e otter.DeletionEvent[string, Entry]) {
			e.Value.Owner.Entries.Add(-1)
			e.Value.Owner.Bytes.Add(-int64(e.Value.Size))
			if e.Cause == otter.CauseOverflow {
				e.Value.Owner.Evicted.Add(1)
			}
		},
	})
	return n
}

func (n *Cache) shard(key string) *shard {
	return &n.shards[maphash.String(n.seed, key)%shards]
}

// Get returns the entry of key, if the store holds one.
func (n *Cache) Get(key string) (Entry, bool) {
	return n.data.GetIfPresent(key)
}

// Begin registers a read of key about to be sent to Redis: from now on,
// an invalidation of key or a flush spoils it. Every Begin is closed by
// one End.
func (n *Cache) Begin(key string) Ticket {
	s := n.shard(key)
	s.mu.Lock()
	r := s.reads[key]
	if r == nil {
		r = &read{}
		s.reads[key] = r
	}
	r.readers++
	t := Ticket{gen: r.gen, epoch: n.epoch.Load()}
	s.mu.Unlock()
	return t
}

// End closes a read opened by Begin. When keep is true, e is stored under
// key, unless the key was invalidated or the store flushed since Begin:
// then what was read may be older than what Redis holds. pttl is the key's
// PTTL reply and sent the time the read was sent: the entry expires no
// later than the key in Redis. e.Owner must not be nil when keep is true.
func (n *Cache) End(key string, tk Ticket, e Entry, keep bool, pttl int64, sent time.Time) {
	s := n.shard(key)
	s.mu.Lock()
	r := s.reads[key]
	if keep && r.gen == tk.gen && n.epoch.Load() == tk.epoch {
		if pttl > 0 {
			e.Exp = sent.Add(time.Duration(pttl) * time.Millisecond).UnixNano()
		}
		if e.ttl = n.entryTTL(pttl, sent); e.ttl > 0 {
			e.Owner.Entries.Add(1)
			e.Owner.Bytes.Add(int64(e.Size))
			n.data.Set(key, e)
		}
	}
	if r.readers--; r.readers == 0 {
		delete(s.reads, key)
	}
	s.mu.Unlock()
}

// Invalidate drops key and spoils the reads of it in flight.
func (n *Cache) Invalidate(key string) {
	s := n.shard(key)
	s.mu.Lock()
	if r := s.reads[key]; r != nil {
		r.gen++
	}
	if e, ok := n.data.Invalidate(key); ok {
		e.Owner.Invalidated.Add(1)
	}
	s.mu.Unlock()
	if h := n.hookInvalidated.Load(); h != nil {
		(*h)(key)
	}
}

// Flush empties the store and spoils every read in flight. Holding each
// shard's lock while the epoch moves means that no read can pass End's
// check before the move and store its value after the entries are gone.
func (n *Cache) Flush() {
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

// Flushes returns how many times the store was flushed.
func (n *Cache) Flushes() uint64 { return n.flushes.Load() }

// OnInvalidations receives the server's pushes (it is rueidis'
// ClientOption.OnInvalidations): keys that changed, or nil when every key
// must be considered changed (a connection closed, the database was
// flushed).
func (n *Cache) OnInvalidations(msgs []rueidis.RedisMessage) {
	if msgs == nil {
		n.Flush()
		return
	}
	for _, m := range msgs {
		if key, err := m.ToString(); err == nil {
			n.Pushed(key)
		}
	}
}

// Pushed handles the server's report that key changed, as OnInvalidations
// does for each key it is given.
func (n *Cache) Pushed(key string) {
	if w := n.watch.Load(); w != nil && key == w.key {
		select {
		case w.seen <- struct{}{}:
		default:
		}
	}
	n.Invalidate(key)
	if n.changed != nil {
		n.changed(key)
	}
}

// Watch returns a channel that receives once the server reports key
// changed, and a function that stops watching (one key at a time: a
// second Watch replaces the first). It proves that invalidations arrive.
func (n *Cache) Watch(key string) (<-chan struct{}, func()) {
	w := &watch{key: key, seen: make(chan struct{}, 1)}
	n.watch.Store(w)
	return w.seen, func() { n.watch.CompareAndSwap(w, nil) }
}

// CleanUp applies pending writes and expiries to the figures.
func (n *Cache) CleanUp() { n.data.CleanUp() }

// Close stops the store's maintenance goroutines.
func (n *Cache) Close() { n.data.StopAllGoroutines() }

// SetInvalidatedHook sets a function called once Invalidate has dropped
// a key; for tests.
func (n *Cache) SetInvalidatedHook(h func(key string)) { n.hookInvalidated.Store(&h) }

// entryTTL is how long, from now, a value may be served locally when its
// key had pttl milliseconds to live as the server answered a read sent at
// sent: no longer than the key lives in Redis (the server answered after
// sent, so sent+pttl comes before the key expires), nor than maxAge. Zero
// or less means not at all.
func (n *Cache) entryTTL(pttl int64, sent time.Time) time.Duration {
	switch {
	case pttl == -1: // no expiry in Redis
		return n.maxAge
	case pttl <= 0: // gone, or about to go
		return 0
	}
	return min(time.Duration(pttl)*time.Millisecond-time.Since(sent), n.maxAge)
}

package cache

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/media-gateway/discovery/cache/internal/latency"
	"github.com/media-gateway/discovery/cache/internal/near"
	"github.com/media-gateway/discovery/cache/internal/policy"
)

// Op names an operation of the cache, in [Event]s and in [Error]s. Its
// String is a metric label.
type Op uint8

// The operations.
const (
	OpGet         Op = iota + 1 // a read: Get, and the lookup that starts a Fetch
	OpSet                       // a write: Set, and the store that ends a Fetch's load
	OpDelete                    // Delete of named keys
	OpFetch                     // Fetch: in errors; in events of stale answers; and, for each Fetch not answered by the near cache, an event of its time from end to end (OutcomeOK, or OutcomeError or OutcomeCanceled with its error, no Class), counted in no figure but Latency: its parts are recorded as OpGet, OpLoad and OpSet
	OpLoad                      // a loader call made by Fetch
	OpClear                     // ClearKind, ClearAll, DeletePattern
	OpPing                      // Health, and the check made by New
	OpServerStats               // ServerStats
	OpConnect                   // New
	OpGenerateKey               // deriving a key from an input (in errors only)
	OpBreaker                   // a change of state of the circuit breaker (in events only: see Event.Breaker)
	OpGetMany                   // a batch read: GetMany, and the lookup that starts a FetchMany
	OpSetMany                   // a batch write: SetMany, and the store that ends a FetchMany's load
	OpLease                     // a Fetch's wait on another process's lease (Policy.Lease): OutcomeHit when its value came, OutcomeMiss when the wait ended without it
	OpRefresh                   // an early refresh (Policy.EarlyRefresh): a reload in the background, before expiry, with its load and store
	OpExtend                    // an adaptive kind's extension of a value's life on a hit (Policy.Adaptive): OutcomeMiss when the key held another value by then, and was left as it was
	OpWarm                      // Warm (in errors only: its parts are recorded as OpGetMany, OpLoad and OpSet)
	numOps
)

var opNames = [numOps]string{
	OpGet: "get", OpSet: "set", OpDelete: "delete", OpFetch: "fetch", OpLoad: "load", OpClear: "clear",
	OpPing: "ping", OpServerStats: "server_stats", OpConnect: "connect", OpGenerateKey: "generate_key", OpBreaker: "breaker",
	OpGetMany: "get_many", OpSetMany: "set_many", OpLease: "lease", OpRefresh: "refresh", OpExtend: "extend",
	OpWarm: "warm",
}

// String returns the operation's label ("get", "set", …), or "unknown".
func (o Op) String() string {
	if o == 0 || o >= numOps {
		return "unknown"
	}
	return opNames[o]
}

// Outcome is how an operation ended.
type Outcome uint8

// The outcomes.
const (
	// OutcomeHit: a read found a usable value.
	OutcomeHit Outcome = iota + 1
	// OutcomeMiss: a read found no usable value under the key: nothing, or
	// bytes that could not be decoded (then the event's Class is
	// ErrSerialization) or were too large to decode (ErrValueTooLarge).
	OutcomeMiss
	// OutcomeOK: a write, delete, clear, ping or load succeeded.
	OutcomeOK
	// OutcomeError: the operation failed; the event's Class says how.
	OutcomeError
	// OutcomeCanceled: the caller's context ended before the operation
	// did. Not a failure of the cache (the circuit breaker still counts a
	// call that got no answer within Config.OperationTimeout). For OpLoad:
	// a load the cache gave up because a value came first (another
	// process's, or the flight's a caller loaded beside), whose loader
	// returned on its context's end.
	OutcomeCanceled
	// OutcomeStale: Fetch answered with a value from the stale store
	// (Config.StaleMaxAge) instead of calling the loader, Redis having
	// failed; the event's Op is OpFetch.
	OutcomeStale
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	OutcomeHit: "hit", OutcomeMiss: "miss", OutcomeOK: "ok", OutcomeError: "error", OutcomeCanceled: "canceled", OutcomeStale: "stale",
}

// String returns the outcome's label ("hit", "miss", …), or "unknown".
func (o Outcome) String() string {
	if o == 0 || o >= numOutcomes {
		return "unknown"
	}
	return outcomeNames[o]
}

// Tier is where the answer to a read came from.
type Tier uint8

// The tiers. The zero Tier is the tier of operations that are not reads.
const (
	TierRedis Tier = iota + 1 // the Redis server
	TierLocal                 // the near cache, in this process's memory (see Config.NearCacheBytes)
)

// String returns the tier's label ("redis", "local"), "" for no tier, or
// "unknown".
func (t Tier) String() string {
	switch t {
	case 0:
		return ""
	case TierRedis:
		return "redis"
	case TierLocal:
		return "local"
	}
	return "unknown"
}

// Event is one operation of the cache, as given to a [Recorder].
type Event struct {
	Kind    string        // the kind's name; "" for operations of the whole cache (ping, ClearAll, server stats)
	Op      Op            // what was done
	Outcome Outcome       // how it ended
	Class   Class         // why it failed: set with OutcomeError, and with OutcomeMiss for undecodable bytes
	Tier    Tier          // where a read's answer came from (a miss: Redis); zero for other operations
	Latency time.Duration // how long it took, encoding and decoding included; for OpLoad, the loader's run time
	Keys    int64         // for OpDelete and OpClear, the keys removed; for OpGetMany, the keys of the batch with this Outcome and Tier (one event per outcome, each with the batch's Latency); for OpSetMany, the keys stored; for OpLoad, the inputs the loader was given (1 for Fetch)
	Breaker BreakerState  // for OpBreaker, the state the circuit breaker entered (its Class: the last failure's, when it opened)

	// Key is the Redis key of an operation on one key (OpGet, OpSet,
	// OpDelete, OpLease, OpRefresh, OpExtend, OpFetch), "" for the
	// others: the namespace, the kind and the SHA-256 of the input, never
	// the input or a value. For a tracing span's attributes; not a metric
	// label (one series per key).
	Key string
	// Context is the operation's context: its caller's, for a tracing
	// adapter to parent a span; nil for events with none (a batch's parts,
	// the breaker's changes).
	Context context.Context
}

// Recorder receives every operation of the cache, once, when it ends: the
// seam for metrics (Prometheus, OpenTelemetry…). Record is called on the
// goroutine of the operation, in addition to the cache's own figures
// ([RedisCache.Stats]); it must be safe for concurrent use and quick, and
// must not call the cache.
type Recorder interface {
	Record(Event)
}

// RecorderFunc adapts a function to [Recorder].
type RecorderFunc func(Event)

// Record calls f(e).
func (f RecorderFunc) Record(e Event) { f(e) }

// kindState is the configuration and the live figures of one kind (or,
// with an empty name, of the operations of the whole cache).
type kindState struct {
	name   string
	ttl    time.Duration
	policy policy.Kind // see Config.Policies
	stale  *staleStore // the cache's, shared by every kind; nil unless Config.StaleMaxAge is set
	keys   *keyMemo    // the cache's memo of the keys of recent string inputs (Kind.key), shared by every kind

	// The kind's entries in the near cache, counted by the near cache as
	// they come and go: how many, their weight, and how many were dropped
	// because their key changed. In the stale store, the same pointer
	// says whose an entry is.
	nearFigures near.Figures

	match matchFigures // the near match's (FetchSimilar)

	loadNanos  atomic.Int64 // the average load time, for early refresh (see timedLoad)
	refreshing sync.Map     // keys being refreshed early (see refreshEarly)
	extending  sync.Map     // keys whose life is being extended (see adapt)

	localHits, hits, misses, sets, deletes, errors, canceled, loads, loadErrors, staleHits, leaseHits, leaseTimeouts, refreshes, extensions atomic.Uint64
	latency                                                                                                                                 [numOps]atomic.Pointer[latency.Histogram] // made on first use
	logs                                                                                                                                    [numClasses]logLimit                      // see absorb
}

// observe records one operation: the figures of k, and the user's
// Recorder. It is the one place where figures are counted.
func (c *RedisCache) observe(k *kindState, e Event) {
	if e.Op == OpFetch && e.Outcome != OutcomeStale {
		c.timeOnly(k, e) // a Fetch's time from end to end: its parts are counted
		return
	}
	n := uint64(1) // reads counted
	switch e.Op {
	case OpGetMany:
		n = uint64(e.Keys)
	case OpLease: // not a read: the Fetch's read was counted
		n = 0
		if e.Outcome == OutcomeHit {
			k.leaseHits.Add(1)
		} else {
			k.leaseTimeouts.Add(1)
		}
	}
	switch e.Outcome {
	case OutcomeHit:
		k.hits.Add(n)
		if e.Tier == TierLocal {
			k.localHits.Add(n)
		}
	case OutcomeMiss:
		k.misses.Add(n)
	case OutcomeCanceled:
		k.canceled.Add(1)
	case OutcomeStale:
		k.staleHits.Add(1)
	}
	if e.Class != 0 && e.Op != OpLoad { // a loader's panic is the loader's failure, not the cache's
		k.errors.Add(1)
	}
	switch e.Op {
	case OpSet:
		if e.Outcome == OutcomeOK {
			k.sets.Add(1)
		}
	case OpSetMany:
		if e.Outcome == OutcomeOK {
			k.sets.Add(uint64(e.Keys))
		}
	case OpDelete, OpClear:
		k.deletes.Add(uint64(e.Keys))
	case OpRefresh:
		k.refreshes.Add(1)
	case OpExtend:
		if e.Outcome == OutcomeOK {
			k.extensions.Add(1)
		}
	case OpLoad:
		k.loads.Add(1)
		// Only loads that answered time the estimate: a batch's takes
		// longer than one value's, a failure or a load given up shorter.
		if e.Keys <= 1 && e.Outcome == OutcomeOK {
			k.timedLoad(e.Latency)
		}
		if e.Outcome == OutcomeError {
			k.loadErrors.Add(1)
		}
	}
	c.timeOnly(k, e)
}

// timeOnly records e's latency and gives e to the user's Recorder, without
// counting it in k's figures.
func (c *RedisCache) timeOnly(k *kindState, e Event) {
	h := k.latency[e.Op].Load()
	if h == nil {
		k.latency[e.Op].CompareAndSwap(nil, new(latency.Histogram))
		h = k.latency[e.Op].Load()
	}
	h.Record(e.Latency)
	if c.report.rec != nil {
		e.Kind = k.name
		c.report.rec.Record(e)
	}
}

// observeResult records e, an operation that ended with err (nil for
// success).
func (c *RedisCache) observeResult(ctx context.Context, k *kindState, e Event, err error) {
	e.Outcome, e.Class = outcomeOf(ctx, err)
	e.Context = ctx
	c.observe(k, e)
}

// outcomeOf returns the outcome and class of an operation that ended with
// err (nil for success); a failure after the caller's context ended is a
// cancellation.
func outcomeOf(ctx context.Context, err error) (Outcome, Class) {
	switch {
	case err == nil:
		return OutcomeOK, 0
	case ctx.Err() != nil:
		return OutcomeCanceled, 0
	}
	return OutcomeError, classOf(err)
}

// KindStats are the figures of one kind since the cache was created, as
// counted by this process.
type KindStats struct {
	Hits       uint64 `json:"hits"`        // reads that found a usable value
	LocalHits  uint64 `json:"local_hits"`  // of Hits, those the near cache answered, without a round trip
	Misses     uint64 `json:"misses"`      // reads that found no usable value under the key (nothing, or undecodable bytes)
	Sets       uint64 `json:"sets"`        // values stored
	Deletes    uint64 `json:"deletes"`     // keys removed by Delete, DeletePattern and ClearKind
	Errors     uint64 `json:"errors"`      // operations of the cache that failed (undecodable bytes included), whether returned or absorbed by Fetch; not loader failures
	Canceled   uint64 `json:"canceled"`    // operations cut short because the caller's context ended, and loads given up (see OutcomeCanceled)
	Loads      uint64 `json:"loads"`       // loader calls made by Fetch
	LoadErrors uint64 `json:"load_errors"` // loader calls that returned an error or panicked (not those given up: see OutcomeCanceled)
	StaleHits  uint64 `json:"stale_hits"`  // Fetches answered from the stale store while Redis failed (Config.StaleMaxAge), not counted in Hits
	// LeaseHits counts the Fetches that missed, waited on another
	// process's lease of the key (Policy.Lease) and got the value it
	// loaded: loader calls saved across the fleet. LeaseTimeouts counts
	// those whose wait ended without it (they loaded for themselves).
	LeaseHits     uint64 `json:"lease_hits"`
	LeaseTimeouts uint64 `json:"lease_timeouts"`
	// Refreshes counts the early refreshes (Policy.EarlyRefresh): values
	// reloaded in the background shortly before they expired, while
	// Fetches kept getting them; their loads are in Loads too.
	Refreshes uint64 `json:"refreshes"`
	// Extensions counts the values of an adaptive kind whose life a hit
	// extended (Policy.Adaptive).
	Extensions uint64 `json:"extensions"`

	// Latency summarises how long each operation took, by operation (reads,
	// writes, loads…); operations never run are absent. In JSON, its keys
	// are the operations' names ("get", "load"…).
	Latency map[Op]LatencySummary `json:"latency,omitempty"`

	// Near is the kind's near cache as it is now; zero when it is off (and
	// then absent from JSON).
	Near NearStats `json:"near,omitzero"`

	// NearMatch is the kind's near match ([FetchSimilar]); zero when it is
	// off (and then absent from JSON).
	NearMatch NearMatchStats `json:"near_match,omitzero"`
}

// NearStats describe the near cache of one kind.
type NearStats struct {
	Entries     int    `json:"entries"`      // values held (an estimate while entries come and go)
	Bytes       uint64 `json:"weight_bytes"` // their weight, as bounded by Config.NearCacheBytes
	Invalidated uint64 `json:"invalidated"`  // entries dropped because their key changed in Redis, here or elsewhere
	Evicted     uint64 `json:"evicted"`      // entries dropped to stay within Config.NearCacheBytes (the least likely to be read again)
}

// NearCacheStatus says whether the near cache is on, and if not, why.
type NearCacheStatus struct {
	// On is true when reads may be answered from the near cache.
	On bool `json:"on"`
	// Reason says why it is off: turned off by Config.NearCacheBytes, or
	// not possible with this server or client. Empty when on.
	Reason string `json:"reason,omitempty"`
	// Flushes counts the times every entry was dropped at once, because a
	// connection to Redis closed (its invalidations may have been lost),
	// the server's data was flushed, or the cache was closed.
	Flushes uint64 `json:"flushes"`
}

// LatencySummary is the distribution of one operation's durations, read
// from a histogram of eight buckets a power of two: quantiles are within
// 6.25% of the exact ones. In JSON, the quantiles are in seconds
// (p50_seconds, p99_seconds).
type LatencySummary struct {
	Count uint64        `json:"count"` // operations timed
	P50   time.Duration `json:"-"`     // the median
	P99   time.Duration `json:"-"`     // the 99th percentile
}

// HitRate returns Hits / (Hits + Misses), or 0 before the first read.
func (s KindStats) HitRate() float64 {
	if reads := s.Hits + s.Misses; reads > 0 {
		return float64(s.Hits) / float64(reads)
	}
	return 0
}

// snapshot returns the kind's figures, with those of the near cache when
// near (the cache's) is not nil.
func (k *kindState) snapshot(withNear bool) KindStats {
	s := KindStats{
		LocalHits: k.localHits.Load(), Hits: k.hits.Load(), Misses: k.misses.Load(), Sets: k.sets.Load(), Deletes: k.deletes.Load(),
		Errors: k.errors.Load(), Canceled: k.canceled.Load(), Loads: k.loads.Load(), LoadErrors: k.loadErrors.Load(),
		StaleHits: k.staleHits.Load(), LeaseHits: k.leaseHits.Load(), LeaseTimeouts: k.leaseTimeouts.Load(),
		Refreshes: k.refreshes.Load(), Extensions: k.extensions.Load(),
	}
	for op := range k.latency {
		if h := k.latency[op].Load(); h != nil {
			if s.Latency == nil {
				s.Latency = make(map[Op]LatencySummary)
			}
			sum := h.Summary()
			s.Latency[Op(op)] = LatencySummary{Count: sum.Count, P50: sum.P50, P99: sum.P99}
		}
	}
	if withNear {
		f := &k.nearFigures
		s.Near = NearStats{Entries: int(max(f.Entries.Load(), 0)), Bytes: uint64(max(f.Bytes.Load(), 0)), Invalidated: f.Invalidated.Load(), Evicted: f.Evicted.Load()}
	}
	s.NearMatch = k.match.snapshot(k.policy.Near.Mode)
	return s
}

// Stats are the client-side figures of a cache.
type Stats struct {
	// Kinds maps a kind's name (KindSearch, KindIntent, KindEmbedding,
	// KindCustom, or a kind of your own) to its figures.
	Kinds map[string]KindStats `json:"kinds"`
	// Cache holds the figures of operations that belong to no kind: pings,
	// ClearAll, ServerStats.
	Cache KindStats `json:"cache"`
	// NearCache says whether the near cache is on.
	NearCache NearCacheStatus `json:"near_cache"`
	// Breaker is the circuit breaker in front of Redis.
	Breaker BreakerStatus `json:"breaker"`
}

// Total returns the sum of the counts of every kind (latencies are not
// summed: see each kind's).
func (s Stats) Total() KindStats {
	var t KindStats
	for _, k := range s.Kinds {
		t.LocalHits += k.LocalHits
		t.Hits += k.Hits
		t.Misses += k.Misses
		t.Sets += k.Sets
		t.Deletes += k.Deletes
		t.Errors += k.Errors
		t.Canceled += k.Canceled
		t.Loads += k.Loads
		t.LoadErrors += k.LoadErrors
		t.StaleHits += k.StaleHits
		t.LeaseHits += k.LeaseHits
		t.LeaseTimeouts += k.LeaseTimeouts
		t.Refreshes += k.Refreshes
		t.Extensions += k.Extensions
	}
	return t
}

// Names returns the kinds' names in sorted order.
func (s Stats) Names() []string {
	names := make([]string, 0, len(s.Kinds))
	for n := range s.Kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Stats returns the figures counted by this process. It does not touch the
// network; see [RedisCache.ServerStats] for the server's side.
func (c *RedisCache) Stats() Stats {
	s := Stats{Cache: c.kinds.whole.snapshot(false), NearCache: c.nearStatus(), Breaker: c.breakerStatus()}
	n := c.near.Load()
	if n != nil {
		n.CleanUp() // apply pending writes and expiries to the figures
	}
	c.kinds.mu.RLock()
	defer c.kinds.mu.RUnlock()
	s.Kinds = make(map[string]KindStats, len(c.kinds.byName))
	for name, k := range c.kinds.byName {
		s.Kinds[name] = k.snapshot(n != nil)
	}
	return s
}

// nearStatus returns the near cache's status now.
func (c *RedisCache) nearStatus() NearCacheStatus {
	c.near.mu.Lock()
	st := c.near.state
	c.near.mu.Unlock()
	if n := c.near.Load(); n != nil {
		st.Flushes = n.Flushes()
	}
	return st
}

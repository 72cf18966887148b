// Package cacheprom exports the figures of a [cache.RedisCache] as
// Prometheus metrics: a [cache.Recorder] that counts and times every
// operation as it ends, and a [prometheus.Collector] that also reads, at
// each scrape, the near cache's size, the circuit breaker's state and the
// Redis server's memory and evictions.
//
//	rec := cacheprom.New(cacheprom.Options{})
//	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
//	reg.MustRegister(rec)
//	c, err := cache.New(ctx, cache.Config{Recorder: rec})
//	…
//	rec.Watch(c) // the gauges: near cache, breaker, server; and the kinds c knows
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
//
// The metrics, with the default namespace "discovery_cache":
//
//	discovery_cache_reads_total{kind,tier,outcome}            keys read (Get, the lookups of Fetch, GetMany and FetchMany): tier local (near cache) or redis; outcome hit, miss, error, canceled; Fetches answered from the stale store as tier local, outcome stale
//	discovery_cache_operations_total{kind,op,outcome}         other operations ended (set, load, lease, clear, ping…), by outcome (ok, hit, miss, error, canceled)
//	discovery_cache_errors_total{kind,op,class}               failed operations of the cache, reads included, by class (unavailable, operation, serialization…); a loader's own errors are in operations_total{op="load",outcome="error"}
//	discovery_cache_operation_duration_seconds{kind,op,tier}  how long operations on Redis took, encoding and decoding included (tier redis); near-cache hits (tier local, a few hundred nanoseconds) are counted, not timed; lease waits and early refreshes (a wait on a load, a load) neither
//	discovery_cache_fetch_duration_seconds{kind,outcome}      how long Fetch took from end to end (read, lease wait, load, store), for the Fetches the near cache did not answer; outcome ok, error or canceled
//	discovery_cache_load_duration_seconds{kind,outcome}       how long the loaders took (outcome ok, error or canceled)
//	discovery_cache_removed_keys_total{kind}                  keys removed by Delete, DeletePattern and the clears
//	discovery_cache_near_cache_entries{kind}                  values held in the near cache (at scrape, from Watch)
//	discovery_cache_near_cache_bytes{kind}                    their weight, as bounded by Config.NearCacheBytes
//	discovery_cache_near_cache_invalidations_total{kind}      entries dropped because their key changed in Redis
//	discovery_cache_near_cache_evictions_total{kind}          entries dropped to stay within Config.NearCacheBytes
//	discovery_cache_near_cache_on                             1 when the near cache is on
//	discovery_cache_near_cache_flushes_total                  times the whole near cache was dropped (a lost connection)
//	discovery_cache_near_match_searches_total{kind,outcome}   FetchSimilar misses that looked for a neighbour (kinds with Policy.NearMatch on), by outcome: served, agreed and disagreed (shadow mode; precision = agreed / (agreed + disagreed)), no_neighbour, refused, other
//	discovery_cache_near_match_refusals_total{kind,guard}     neighbours a guard refused, by guard (numbers, negations, words…)
//	discovery_cache_near_match_gone_total{kind}               neighbours whose value was gone from Redis
//	discovery_cache_near_match_entries{kind}                  entries of the near match's index in this process
//	discovery_cache_near_match_bytes{kind}                    their memory
//	discovery_cache_near_match_evictions_total{kind}          entries evicted to stay within Policy.NearMatch.MaxEntries
//	discovery_cache_near_match_problems_total{kind,problem}   problems absorbed: corrupt entries, invalid_vector, error
//	discovery_cache_breaker_state{state}                      one series per state (closed, open, half_open): 1 for the state the breaker is in, 0 for the others
//	discovery_cache_breaker_opens_total                       times the breaker opened
//	discovery_cache_redis_used_memory_bytes                   the server's used_memory (summed over a cluster's primaries), read with INFO at most every Options.ServerInfoEvery
//	discovery_cache_redis_max_memory_bytes                    its maxmemory (0: unbounded)
//	discovery_cache_redis_evicted_keys_total                  keys the server evicted for memory since it started, of every client
//
// Every label has a value: kind is the kind's name ("search", "intent",
// "embedding", "custom" for the key-level functions, or your own), or
// "cache" ([cache.KindCache]) for the operations of the whole cache (ping,
// ClearAll, ServerStats); op is the cache's Op label ("get", "set",
// "load", "get_many", …). No label holds a key or a value.
//
// The series of the kinds the Recorder knows exist from the start, at 0:
// the built-in kinds from New, the watched cache's own (NewKind) from
// Watch, so that a rate or a sum has a value on a healthy system before
// the first miss or error. The gauges need Watch.
package cacheprom

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/counter"
)

// Options shape the metrics; the zero value is the defaults.
type Options struct {
	// Namespace is the metrics' prefix; if empty, "discovery_cache".
	Namespace string
	// ConstLabels are added to every metric (a service or instance name).
	ConstLabels prometheus.Labels
	// DurationBuckets are the operation histograms' buckets, in seconds;
	// if nil, 1 µs to 1 s (Redis round trips take tens of microseconds to
	// milliseconds; near-cache hits are not timed).
	DurationBuckets []float64
	// LoadBuckets are the loader histogram's buckets, in seconds; if nil,
	// 1 ms to 10 s.
	LoadBuckets []float64
	// FetchBuckets are the Fetch histogram's buckets, in seconds; if nil,
	// 100 µs to 10 s (a hit in Redis to a slow load).
	FetchBuckets []float64
	// ServerInfoEvery is how often, at most, a scrape reads the server's
	// memory and evictions (RedisCache.ServerInfo, one INFO per server,
	// bounded by a second) through the watched cache; between reads, a
	// scrape reports the last figures. 0 means 15 s; negative, never (the
	// redis_* metrics are then absent: use redis_exporter's).
	ServerInfoEvery time.Duration
}

// DefaultDurationBuckets are the operation histograms' default buckets.
var DefaultDurationBuckets = []float64{1e-6, 5e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1}

// DefaultLoadBuckets are the loader histogram's default buckets.
var DefaultLoadBuckets = []float64{1e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}

// DefaultFetchBuckets are the Fetch histogram's default buckets.
var DefaultFetchBuckets = []float64{100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}

// Recorder is a [cache.Recorder] and a [prometheus.Collector]. Give it to
// the cache as Config.Recorder, register it, and call Watch with the
// cache for the gauges. It is safe for concurrent use.
type Recorder struct {
	ops, errs, removed       *prometheus.CounterVec
	durations, loads, fetchs *prometheus.HistogramVec

	reads, nearEntries, nearBytes, nearInvalidations, nearEvictions, nearOn, nearFlushes, breakerState, breakerOpens *prometheus.Desc
	usedMemory, maxMemory, evictedKeys                                                                               *prometheus.Desc
	matchSearches, matchRefusals, matchGone, matchEntries, matchBytes, matchEvictions, matchProblems                 *prometheus.Desc

	kinds   sync.Map              // kind name → *kindMetrics
	builtin [3]lazy[*kindMetrics] // search, intent, embedding: r.kinds' entries
	watched atomic.Pointer[cache.RedisCache]

	infoEvery time.Duration
	info      struct {
		sync.Mutex
		at time.Time          // when last read; zero: never
		st *cache.ServerStats // the last figures read; nil when the last read failed
	}
}

// New returns a Recorder with the given options. The series of the
// built-in kinds and of the whole cache exist from now, at 0.
func New(o Options) *Recorder {
	if o.Namespace == "" {
		o.Namespace = "discovery_cache"
	}
	if o.DurationBuckets == nil {
		o.DurationBuckets = DefaultDurationBuckets
	}
	if o.LoadBuckets == nil {
		o.LoadBuckets = DefaultLoadBuckets
	}
	if o.FetchBuckets == nil {
		o.FetchBuckets = DefaultFetchBuckets
	}
	if o.ServerInfoEvery == 0 {
		o.ServerInfoEvery = 15 * time.Second
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels}, labels)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels, Buckets: buckets}, labels)
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, "", name), help, labels, o.ConstLabels)
	}
	r := &Recorder{
		reads:     desc("reads_total", "Keys read, by where the answer came from (local: the near cache; redis) and how the read ended.", "kind", "tier", "outcome"),
		ops:       counter("operations_total", "Cache operations other than reads ended, by outcome.", "kind", "op", "outcome"),
		errs:      counter("errors_total", "Failed cache operations, by class of failure.", "kind", "op", "class"),
		removed:   counter("removed_keys_total", "Keys removed by Delete, DeletePattern, ClearKind and ClearAll.", "kind"),
		durations: histogram("operation_duration_seconds", "How long cache operations on Redis took, encoding and decoding included.", o.DurationBuckets, "kind", "op", "tier"),
		loads:     histogram("load_duration_seconds", "How long the loaders called by Fetch took.", o.LoadBuckets, "kind", "outcome"),
		fetchs: histogram("fetch_duration_seconds", "How long Fetch took from end to end (read, lease wait, load, store), for the Fetches the near cache did not answer.",
			o.FetchBuckets, "kind", "outcome"),
		nearEntries:       desc("near_cache_entries", "Values held in the near cache.", "kind"),
		nearBytes:         desc("near_cache_bytes", "Weight of the values held in the near cache (keys and encoded payloads).", "kind"),
		nearInvalidations: desc("near_cache_invalidations_total", "Near-cache entries dropped because their key changed in Redis, here or elsewhere.", "kind"),
		nearEvictions:     desc("near_cache_evictions_total", "Near-cache entries dropped to stay within the near cache's bytes.", "kind"),
		nearOn:            desc("near_cache_on", "1 when the near cache is on, 0 when it is off."),
		nearFlushes:       desc("near_cache_flushes_total", "Times every near-cache entry was dropped at once (a connection to Redis closed, the server was flushed)."),
		breakerState:      desc("breaker_state", "The circuit breaker in front of Redis: 1 for the state it is in (closed, open, half_open), 0 for the others.", "state"),
		breakerOpens:      desc("breaker_opens_total", "Times the circuit breaker opened."),
		matchSearches: desc("near_match_searches_total", "FetchSimilar misses that looked for a neighbour, by how the search ended: served (a neighbour's value was served), agreed and disagreed (shadow mode: its value equalled the loaded one, or not), no_neighbour, refused (a guard refused every neighbour close enough), other (the neighbours' values were gone, or Redis failed).",
			"kind", "outcome"),
		matchRefusals:  desc("near_match_refusals_total", "Neighbours close enough that a guard refused, by guard.", "kind", "guard"),
		matchGone:      desc("near_match_gone_total", "Neighbours whose value was gone from Redis when read.", "kind"),
		matchEntries:   desc("near_match_entries", "Entries of the near match's index in this process.", "kind"),
		matchBytes:     desc("near_match_bytes", "Memory of the near match's index in this process: vectors, texts, keys, guards' signatures.", "kind"),
		matchEvictions: desc("near_match_evictions_total", "Entries evicted from the near match's index to stay within Policy.NearMatch.MaxEntries.", "kind"),
		matchProblems:  desc("near_match_problems_total", "Problems the near match absorbed: corrupt (entries in Redis it could not use), invalid_vector (FetchSimilar given an unusable vector), error (reads and writes of the entries in Redis that failed).", "kind", "problem"),
		usedMemory:     desc("redis_used_memory_bytes", "The Redis server's used_memory (summed over a cluster's primaries), as INFO last gave it."),
		maxMemory:      desc("redis_max_memory_bytes", "The Redis server's maxmemory (summed over a cluster's primaries); 0 when unbounded."),
		evictedKeys:    desc("redis_evicted_keys_total", "Keys the Redis server evicted for memory since it started (or CONFIG RESETSTAT), of every client."),
		infoEvery:      o.ServerInfoEvery,
	}
	for _, k := range []string{cache.KindSearch, cache.KindIntent, cache.KindEmbedding, cache.KindCustom} {
		r.kindByName(k)
	}
	r.kindByName(cache.KindCache)
	return r
}

// Watch makes the Recorder report c's near cache, circuit breaker and
// server at each scrape (from c.Stats and c.ServerInfo), and start the
// series of c's kinds at 0. Call it once the cache exists, and again after
// NewKind for the new kinds' series to exist before their first
// operation; a call with another cache replaces the cache watched.
func (r *Recorder) Watch(c *cache.RedisCache) {
	if old := r.watched.Swap(c); old != c {
		r.info.Lock()
		r.info.at, r.info.st = time.Time{}, nil
		r.info.Unlock()
	}
	for name := range c.Stats().Kinds {
		r.kindByName(name)
	}
}

// Tiers and outcomes index the metrics kept per kind.
const (
	numTiers    = int(cache.TierLocal) + 1
	numOutcomes = int(cache.OutcomeStale) + 1
	numOps      = int(cache.OpExtend) + 1
)

// kindMetrics are one kind's metrics: its reads, counted on sharded
// counters (a near-cache hit is counted in a few nanoseconds, without
// goroutines on other cores contending for one counter), and its other
// metrics' children, made on first use so that a lookup on the hot path
// is an array index.
type kindMetrics struct {
	reads     [numTiers][numOutcomes]counter.Sharded
	ops       [numOps][numOutcomes]lazy[prometheus.Counter]
	durations [numOps][numTiers]lazy[prometheus.Observer]
	fetchs    [numOutcomes]lazy[prometheus.Observer]
}

// lazy is a metric child made on first use.
type lazy[T any] struct{ p atomic.Pointer[T] }

func (l *lazy[T]) get(make func() T) T {
	if v := l.p.Load(); v != nil {
		return *v
	}
	v := make()
	l.p.CompareAndSwap(nil, &v)
	return *l.p.Load()
}

func (r *Recorder) kind(name string) *kindMetrics {
	switch name { // the built-in kinds, without a map lookup
	case cache.KindSearch:
		return r.builtin[0].get(func() *kindMetrics { return r.kindByName(name) })
	case cache.KindIntent:
		return r.builtin[1].get(func() *kindMetrics { return r.kindByName(name) })
	case cache.KindEmbedding:
		return r.builtin[2].get(func() *kindMetrics { return r.kindByName(name) })
	}
	return r.kindByName(name)
}

// kindByName returns the metrics of the kind name, made and started at 0
// on first use.
func (r *Recorder) kindByName(name string) *kindMetrics {
	if m, ok := r.kinds.Load(name); ok {
		return m.(*kindMetrics)
	}
	m, loaded := r.kinds.LoadOrStore(name, new(kindMetrics))
	if !loaded {
		r.start(name)
	}
	return m.(*kindMetrics)
}

// The series a kind starts with, at 0: those a dashboard or an alert sums
// or divides by on a healthy system. (Reads start with the kind: see
// Collect.)
var (
	startOps = []struct {
		op       cache.Op
		outcomes []cache.Outcome
	}{
		{cache.OpSet, []cache.Outcome{cache.OutcomeOK, cache.OutcomeError, cache.OutcomeCanceled}},
		{cache.OpLoad, []cache.Outcome{cache.OutcomeOK, cache.OutcomeError, cache.OutcomeCanceled}},
		{cache.OpDelete, []cache.Outcome{cache.OutcomeOK, cache.OutcomeError}},
		{cache.OpClear, []cache.Outcome{cache.OutcomeOK, cache.OutcomeError}},
		{cache.OpLease, []cache.Outcome{cache.OutcomeHit, cache.OutcomeMiss}},
		{cache.OpRefresh, []cache.Outcome{cache.OutcomeOK, cache.OutcomeError}},
	}
	startCacheOps = []struct {
		op       cache.Op
		outcomes []cache.Outcome
	}{
		{cache.OpPing, []cache.Outcome{cache.OutcomeOK, cache.OutcomeError}},
		{cache.OpClear, []cache.Outcome{cache.OutcomeOK, cache.OutcomeError}},
		{cache.OpServerStats, []cache.Outcome{cache.OutcomeOK, cache.OutcomeError}},
	}
	startErrors = []struct {
		op      cache.Op
		classes []cache.Class
	}{
		{cache.OpGet, []cache.Class{cache.ErrUnavailable, cache.ErrOperation, cache.ErrSerialization}},
		{cache.OpSet, []cache.Class{cache.ErrUnavailable, cache.ErrOperation, cache.ErrSerialization, cache.ErrValueTooLarge}},
	}
)

// start makes the series a kind starts with, at 0.
func (r *Recorder) start(name string) {
	if name == cache.KindCache {
		for _, s := range startCacheOps {
			for _, o := range s.outcomes {
				r.ops.WithLabelValues(name, s.op.String(), o.String())
			}
		}
		r.errs.WithLabelValues(name, cache.OpPing.String(), cache.ErrUnavailable.String())
		r.durations.WithLabelValues(name, cache.OpPing.String(), cache.TierRedis.String())
		r.removed.WithLabelValues(name)
		return
	}
	for _, s := range startOps {
		for _, o := range s.outcomes {
			r.ops.WithLabelValues(name, s.op.String(), o.String())
		}
	}
	for _, s := range startErrors {
		for _, c := range s.classes {
			r.errs.WithLabelValues(name, s.op.String(), c.String())
		}
	}
	for _, op := range []cache.Op{cache.OpGet, cache.OpSet} {
		r.durations.WithLabelValues(name, op.String(), cache.TierRedis.String())
	}
	for _, o := range []cache.Outcome{cache.OutcomeOK, cache.OutcomeError} {
		r.loads.WithLabelValues(name, o.String())
		r.fetchs.WithLabelValues(name, o.String())
	}
	r.removed.WithLabelValues(name)
}

// kindLabel is the kind label of an event: its kind, or "cache".
func kindLabel(e cache.Event) string {
	if e.Kind == "" {
		return cache.KindCache
	}
	return e.Kind
}

// tierLabel is the tier label of an event: where a read's answer came
// from, and "redis" for the other operations (they are all sent there).
func tierLabel(t cache.Tier) string {
	if t == 0 {
		return cache.TierRedis.String()
	}
	return t.String()
}

// Record counts and times one event (see [cache.Recorder]).
func (r *Recorder) Record(e cache.Event) {
	if e.Op == cache.OpBreaker { // reported by the gauges, at scrape
		return
	}
	if int(e.Op) >= numOps || int(e.Outcome) >= numOutcomes || int(e.Tier) >= numTiers {
		r.recordSlow(e) // an operation newer than this package
		return
	}
	m := r.kind(kindLabel(e))
	switch {
	case e.Op == cache.OpGet:
		m.reads[e.Tier][e.Outcome].Add(1)
	case e.Op == cache.OpGetMany:
		m.reads[e.Tier][e.Outcome].Add(max(e.Keys, 0))
	case e.Op == cache.OpFetch && e.Outcome == cache.OutcomeStale:
		m.reads[cache.TierLocal][e.Outcome].Add(1)
		return // counted: an answer from memory, not timed
	case e.Op == cache.OpFetch: // a Fetch's time from end to end: its parts are counted
		m.fetchs[e.Outcome].get(func() prometheus.Observer {
			return r.fetchs.WithLabelValues(kindLabel(e), e.Outcome.String())
		}).Observe(e.Latency.Seconds())
		return
	default:
		m.ops[e.Op][e.Outcome].get(func() prometheus.Counter {
			return r.ops.WithLabelValues(kindLabel(e), e.Op.String(), e.Outcome.String())
		}).Inc()
	}
	if e.Tier == cache.TierLocal && e.Outcome == cache.OutcomeHit {
		return // counted; its latency (a map lookup) is not worth a histogram's cost
	}
	if e.Class != 0 { // failures, and undecodable bytes (a miss with a class); a loader's own error has none: see operations_total{op="load"}
		r.errs.WithLabelValues(kindLabel(e), e.Op.String(), e.Class.String()).Inc()
	}
	if (e.Op == cache.OpDelete || e.Op == cache.OpClear) && e.Keys > 0 {
		r.removed.WithLabelValues(kindLabel(e)).Add(float64(e.Keys))
	}
	switch e.Op {
	case cache.OpLoad:
		r.loads.WithLabelValues(kindLabel(e), e.Outcome.String()).Observe(e.Latency.Seconds())
		return
	case cache.OpLease, cache.OpRefresh:
		return // a wait on another's load, a load: not Redis' time (see fetch_duration_seconds)
	}
	m.durations[e.Op][e.Tier].get(func() prometheus.Observer {
		return r.durations.WithLabelValues(kindLabel(e), e.Op.String(), tierLabel(e.Tier))
	}).Observe(e.Latency.Seconds())
}

// recordSlow records an event whose operation, outcome or tier this
// package does not index, through the label lookups.
func (r *Recorder) recordSlow(e cache.Event) {
	op, outcome := e.Op.String(), e.Outcome.String()
	r.ops.WithLabelValues(kindLabel(e), op, outcome).Inc()
	if e.Class != 0 {
		r.errs.WithLabelValues(kindLabel(e), op, e.Class.String()).Inc()
	}
	r.durations.WithLabelValues(kindLabel(e), op, tierLabel(e.Tier)).Observe(e.Latency.Seconds())
}

// Describe sends the descriptions of every metric (see
// [prometheus.Collector]).
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range r.vecs() {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{r.reads, r.nearEntries, r.nearBytes, r.nearInvalidations, r.nearEvictions, r.nearOn, r.nearFlushes,
		r.breakerState, r.breakerOpens, r.usedMemory, r.maxMemory, r.evictedKeys,
		r.matchSearches, r.matchRefusals, r.matchGone, r.matchEntries, r.matchBytes, r.matchEvictions, r.matchProblems} {
		ch <- d
	}
}

func (r *Recorder) vecs() []prometheus.Collector {
	return []prometheus.Collector{r.ops, r.errs, r.removed, r.durations, r.loads, r.fetchs}
}

// readTiers are the tiers and outcomes of the reads a kind reports, every
// one from the start.
var readTiers = []struct {
	tier     cache.Tier
	outcomes []cache.Outcome
}{
	{cache.TierLocal, []cache.Outcome{cache.OutcomeHit, cache.OutcomeStale}},
	{cache.TierRedis, []cache.Outcome{cache.OutcomeHit, cache.OutcomeMiss, cache.OutcomeError, cache.OutcomeCanceled}},
}

// Collect sends the current value of every metric (see
// [prometheus.Collector]); the gauges read the watched cache's Stats, and
// its ServerInfo when the last read is older than Options.ServerInfoEvery.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	c := r.watched.Load()
	var info *cache.ServerStats
	if c != nil {
		info = r.serverInfo(c) // first: its own event is then in this scrape
	}
	for _, v := range r.vecs() {
		v.Collect(ch)
	}
	r.kinds.Range(func(name, m any) bool {
		if name == cache.KindCache {
			return true // no reads
		}
		var sums [numTiers][numOutcomes]int64 // a read without a tier (a failure) is Redis'
		for tier := range numTiers {
			for outcome := range numOutcomes {
				t := cache.Tier(tier)
				if t == 0 {
					t = cache.TierRedis
				}
				sums[t][outcome] += m.(*kindMetrics).reads[tier][outcome].Sum()
			}
		}
		for tier := cache.TierRedis; int(tier) < numTiers; tier++ {
			for outcome := range numOutcomes {
				// Every series of readTiers, from the start; others (none
				// today) when they happen.
				if n := sums[tier][outcome]; n > 0 || listed(tier, cache.Outcome(outcome)) {
					ch <- prometheus.MustNewConstMetric(r.reads, prometheus.CounterValue, float64(n),
						name.(string), tier.String(), cache.Outcome(outcome).String())
				}
			}
		}
		return true
	})
	if c == nil {
		return
	}
	st := c.Stats()
	for name, k := range st.Kinds {
		ch <- prometheus.MustNewConstMetric(r.nearEntries, prometheus.GaugeValue, float64(k.Near.Entries), name)
		ch <- prometheus.MustNewConstMetric(r.nearBytes, prometheus.GaugeValue, float64(k.Near.Bytes), name)
		ch <- prometheus.MustNewConstMetric(r.nearInvalidations, prometheus.CounterValue, float64(k.Near.Invalidated), name)
		ch <- prometheus.MustNewConstMetric(r.nearEvictions, prometheus.CounterValue, float64(k.Near.Evicted), name)
		if m := k.NearMatch; m.Mode != "" {
			r.collectMatch(ch, name, m)
		}
	}
	ch <- prometheus.MustNewConstMetric(r.nearOn, prometheus.GaugeValue, boolValue(st.NearCache.On))
	ch <- prometheus.MustNewConstMetric(r.nearFlushes, prometheus.CounterValue, float64(st.NearCache.Flushes))
	for _, s := range []cache.BreakerState{cache.BreakerClosed, cache.BreakerOpen, cache.BreakerHalfOpen} {
		ch <- prometheus.MustNewConstMetric(r.breakerState, prometheus.GaugeValue, boolValue(st.Breaker.State == s), s.String())
	}
	ch <- prometheus.MustNewConstMetric(r.breakerOpens, prometheus.CounterValue, float64(st.Breaker.Opens))
	if info != nil {
		ch <- prometheus.MustNewConstMetric(r.usedMemory, prometheus.GaugeValue, float64(info.UsedMemory))
		ch <- prometheus.MustNewConstMetric(r.maxMemory, prometheus.GaugeValue, float64(info.MaxMemory))
		ch <- prometheus.MustNewConstMetric(r.evictedKeys, prometheus.CounterValue, float64(info.EvictedKeys))
	}
}

// collectMatch sends the near match's figures of the kind called name.
func (r *Recorder) collectMatch(ch chan<- prometheus.Metric, name string, m cache.NearMatchStats) {
	counter := func(d *prometheus.Desc, n uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), append([]string{name}, labels...)...)
	}
	counter(r.matchSearches, m.Served, "served")
	counter(r.matchSearches, m.Agreed, "agreed")
	counter(r.matchSearches, m.Disagreed, "disagreed")
	counter(r.matchSearches, m.NoNeighbour, "no_neighbour")
	counter(r.matchSearches, m.Refused, "refused")
	counter(r.matchSearches, m.Other, "other")
	for guard, n := range m.Refusals {
		counter(r.matchRefusals, n, guard)
	}
	counter(r.matchGone, m.Gone)
	counter(r.matchEvictions, m.Evicted)
	counter(r.matchProblems, m.Corrupt, "corrupt")
	counter(r.matchProblems, m.InvalidVectors, "invalid_vector")
	counter(r.matchProblems, m.Errors, "error")
	ch <- prometheus.MustNewConstMetric(r.matchEntries, prometheus.GaugeValue, float64(m.Entries), name)
	ch <- prometheus.MustNewConstMetric(r.matchBytes, prometheus.GaugeValue, float64(m.Bytes), name)
}

// listed reports whether readTiers holds tier and outcome.
func listed(tier cache.Tier, outcome cache.Outcome) bool {
	for _, t := range readTiers {
		if t.tier == tier {
			for _, o := range t.outcomes {
				if o == outcome {
					return true
				}
			}
		}
	}
	return false
}

// serverInfo returns c's server figures, read again when the last read is
// older than r.infoEvery; nil when they are off or the last read failed
// (the figures of a server that does not answer are not reported as if
// it did).
func (r *Recorder) serverInfo(c *cache.RedisCache) *cache.ServerStats {
	if r.infoEvery < 0 {
		return nil
	}
	r.info.Lock()
	defer r.info.Unlock()
	if now := time.Now(); now.Sub(r.info.at) >= r.infoEvery {
		r.info.at = now
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.ServerInfo(ctx)
		cancel()
		r.info.st = nil
		if err == nil && r.watched.Load() == c { // not the figures of a cache Watch replaced meanwhile
			r.info.st = &st
		}
	}
	return r.info.st
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var (
	_ cache.Recorder       = (*Recorder)(nil)
	_ prometheus.Collector = (*Recorder)(nil)
)

// Package cacheprom exports the figures of a [cache.RedisCache] as
// Prometheus metrics: a [cache.Recorder] that counts and times every
// operation as it ends, and a [prometheus.Collector] that also reads, at
// each scrape, the near cache's size and the circuit breaker's state.
//
//	rec := cacheprom.New(cacheprom.Options{})
//	prometheus.MustRegister(rec)
//	c, err := cache.New(ctx, cache.Config{Recorder: rec})
//	…
//	rec.Watch(c) // the gauges: near cache, breaker
//	http.Handle("/metrics", promhttp.Handler())
//
// The metrics, with the default namespace "discovery_cache":
//
//	discovery_cache_reads_total{kind,tier,outcome}            keys read (Get, the lookups of Fetch, GetMany and FetchMany): tier local (near cache) or redis; outcome hit, miss, error, canceled; Fetches answered from the stale store as tier "", outcome stale
//	discovery_cache_operations_total{kind,op,outcome}         other operations ended (set, load, lease, clear…), by outcome (ok, hit, miss, error, canceled)
//	discovery_cache_errors_total{kind,op,class}               failed operations of the cache, reads included, by class (unavailable, operation, serialization…); a loader's own errors are in operations_total{op="load",outcome="error"}
//	discovery_cache_operation_duration_seconds{kind,op,tier}  how long operations took, encoding and decoding included; near-cache hits (tier local, a few hundred nanoseconds) are counted, not timed
//	discovery_cache_load_duration_seconds{kind,outcome}       how long the loaders took (outcome ok or error)
//	discovery_cache_removed_keys_total{kind}                  keys removed by Delete, DeletePattern and the clears
//	discovery_cache_near_cache_entries{kind}                  values held in the near cache (at scrape, from Watch)
//	discovery_cache_near_cache_bytes{kind}                    their weight, as bounded by Config.NearCacheBytes
//	discovery_cache_near_cache_on                             1 when the near cache is on
//	discovery_cache_near_cache_flushes_total                  times the whole near cache was dropped (a lost connection)
//	discovery_cache_breaker_state                             0 closed, 1 open, 2 half-open
//	discovery_cache_breaker_opens_total                       times the breaker opened
//
// kind is the kind's name ("search", "intent", "embedding", "custom" for
// the key-level functions, or your own), "" for the operations of the
// whole cache (ping, ClearAll, ServerStats); op is the cache's Op label
// ("get", "fetch", "load", "get_many", …). No label holds a key or a
// value.
package cacheprom

import (
	"sync"
	"sync/atomic"

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
}

// DefaultDurationBuckets are the operation histograms' default buckets.
var DefaultDurationBuckets = []float64{1e-6, 5e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1}

// DefaultLoadBuckets are the loader histogram's default buckets.
var DefaultLoadBuckets = []float64{1e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}

// Recorder is a [cache.Recorder] and a [prometheus.Collector]. Give it to
// the cache as Config.Recorder, register it, and call Watch with the
// cache for the gauges. It is safe for concurrent use.
type Recorder struct {
	ops, errs, removed *prometheus.CounterVec
	durations, loads   *prometheus.HistogramVec

	reads, nearEntries, nearBytes, nearOn, nearFlushes, breakerState, breakerOpens *prometheus.Desc

	kinds   sync.Map              // kind name → *kindMetrics
	builtin [3]lazy[*kindMetrics] // search, intent, embedding: r.kinds' entries
	watched atomic.Pointer[cache.RedisCache]
}

// New returns a Recorder with the given options.
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
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels}, labels)
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, "", name), help, labels, o.ConstLabels)
	}
	return &Recorder{
		reads:   desc("reads_total", "Keys read, by where the answer came from (local: the near cache; redis) and how the read ended.", "kind", "tier", "outcome"),
		ops:     counter("operations_total", "Cache operations other than reads ended, by outcome.", "kind", "op", "outcome"),
		errs:    counter("errors_total", "Failed cache operations, by class of failure.", "kind", "op", "class"),
		removed: counter("removed_keys_total", "Keys removed by Delete, DeletePattern, ClearKind and ClearAll.", "kind"),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "operation_duration_seconds",
			Help: "How long cache operations took, encoding and decoding included.", ConstLabels: o.ConstLabels, Buckets: o.DurationBuckets},
			[]string{"kind", "op", "tier"}),
		loads: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "load_duration_seconds",
			Help: "How long the loaders called by Fetch took.", ConstLabels: o.ConstLabels, Buckets: o.LoadBuckets},
			[]string{"kind", "outcome"}),
		nearEntries:  desc("near_cache_entries", "Values held in the near cache.", "kind"),
		nearBytes:    desc("near_cache_bytes", "Weight of the values held in the near cache (keys and encoded payloads).", "kind"),
		nearOn:       desc("near_cache_on", "1 when the near cache is on, 0 when it is off."),
		nearFlushes:  desc("near_cache_flushes_total", "Times every near-cache entry was dropped at once (a connection to Redis closed, the server was flushed)."),
		breakerState: desc("breaker_state", "The circuit breaker in front of Redis: 0 closed, 1 open, 2 half-open."),
		breakerOpens: desc("breaker_opens_total", "Times the circuit breaker opened."),
	}
}

// Watch makes the Recorder report c's near cache and circuit breaker at
// each scrape (from c.Stats). Call it once the cache exists; a later call
// replaces the cache watched.
func (r *Recorder) Watch(c *cache.RedisCache) { r.watched.Store(c) }

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

func (r *Recorder) kindByName(name string) *kindMetrics {
	if m, ok := r.kinds.Load(name); ok {
		return m.(*kindMetrics)
	}
	m, _ := r.kinds.LoadOrStore(name, new(kindMetrics))
	return m.(*kindMetrics)
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
	m := r.kind(e.Kind)
	switch {
	case e.Op == cache.OpGet:
		m.reads[e.Tier][e.Outcome].Add(1)
	case e.Op == cache.OpGetMany:
		m.reads[e.Tier][e.Outcome].Add(max(e.Keys, 0))
	case e.Op == cache.OpFetch && e.Outcome == cache.OutcomeStale:
		m.reads[0][e.Outcome].Add(1)
	default:
		m.ops[e.Op][e.Outcome].get(func() prometheus.Counter {
			return r.ops.WithLabelValues(e.Kind, e.Op.String(), e.Outcome.String())
		}).Inc()
	}
	if e.Tier == cache.TierLocal && e.Outcome == cache.OutcomeHit {
		return // counted; its latency (a map lookup) is not worth a histogram's cost
	}
	if e.Class != 0 { // failures, and undecodable bytes (a miss with a class); a loader's own error has none: see operations_total{op="load"}
		r.errs.WithLabelValues(e.Kind, e.Op.String(), e.Class.String()).Inc()
	}
	if (e.Op == cache.OpDelete || e.Op == cache.OpClear) && e.Keys > 0 {
		r.removed.WithLabelValues(e.Kind).Add(float64(e.Keys))
	}
	if e.Op == cache.OpLoad {
		r.loads.WithLabelValues(e.Kind, e.Outcome.String()).Observe(e.Latency.Seconds())
		return
	}
	m.durations[e.Op][e.Tier].get(func() prometheus.Observer {
		return r.durations.WithLabelValues(e.Kind, e.Op.String(), e.Tier.String())
	}).Observe(e.Latency.Seconds())
}

// recordSlow records an event whose operation, outcome or tier this
// package does not index, through the label lookups.
func (r *Recorder) recordSlow(e cache.Event) {
	op, outcome, tier := e.Op.String(), e.Outcome.String(), e.Tier.String()
	r.ops.WithLabelValues(e.Kind, op, outcome).Inc()
	if e.Outcome == cache.OutcomeError {
		r.errs.WithLabelValues(e.Kind, op, e.Class.String()).Inc()
	}
	r.durations.WithLabelValues(e.Kind, op, tier).Observe(e.Latency.Seconds())
}

// Describe sends the descriptions of every metric (see
// [prometheus.Collector]).
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range []prometheus.Collector{r.ops, r.errs, r.removed, r.durations, r.loads} {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{r.reads, r.nearEntries, r.nearBytes, r.nearOn, r.nearFlushes, r.breakerState, r.breakerOpens} {
		ch <- d
	}
}

// Collect sends the current value of every metric (see
// [prometheus.Collector]); the gauges read the watched cache's Stats.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	for _, c := range []prometheus.Collector{r.ops, r.errs, r.removed, r.durations, r.loads} {
		c.Collect(ch)
	}
	r.kinds.Range(func(name, m any) bool {
		for tier := range numTiers {
			for outcome := range numOutcomes {
				if n := m.(*kindMetrics).reads[tier][outcome].Sum(); n > 0 {
					ch <- prometheus.MustNewConstMetric(r.reads, prometheus.CounterValue, float64(n),
						name.(string), cache.Tier(tier).String(), cache.Outcome(outcome).String())
				}
			}
		}
		return true
	})
	c := r.watched.Load()
	if c == nil {
		return
	}
	st := c.Stats()
	for name, k := range st.Kinds {
		ch <- prometheus.MustNewConstMetric(r.nearEntries, prometheus.GaugeValue, float64(k.Near.Entries), name)
		ch <- prometheus.MustNewConstMetric(r.nearBytes, prometheus.GaugeValue, float64(k.Near.Bytes), name)
	}
	on := 0.0
	if st.NearCache.On {
		on = 1
	}
	ch <- prometheus.MustNewConstMetric(r.nearOn, prometheus.GaugeValue, on)
	ch <- prometheus.MustNewConstMetric(r.nearFlushes, prometheus.CounterValue, float64(st.NearCache.Flushes))
	ch <- prometheus.MustNewConstMetric(r.breakerState, prometheus.GaugeValue, breakerValue(st.Breaker.State))
	ch <- prometheus.MustNewConstMetric(r.breakerOpens, prometheus.CounterValue, float64(st.Breaker.Opens))
}

// breakerValue is a breaker state as the gauge reports it.
func breakerValue(s cache.BreakerState) float64 {
	switch s {
	case cache.BreakerOpen:
		return 1
	case cache.BreakerHalfOpen:
		return 2
	}
	return 0
}

var (
	_ cache.Recorder       = (*Recorder)(nil)
	_ prometheus.Collector = (*Recorder)(nil)
)

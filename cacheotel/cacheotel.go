// Package cacheotel reports the operations of a [cache.RedisCache] to
// OpenTelemetry, following its database semantic conventions: a span per
// cache operation, started before the work so that what runs inside it
// (the loader: the caller's backend call) nests under it; a client span
// per round trip to Redis, named and attributed as the conventions say for
// Redis; db.client.operation.duration; and the cache's own metrics.
//
//	rec, err := cacheotel.New(cacheotel.Options{}) // the global providers
//	c, err := cache.New(ctx, cache.Config{Recorder: rec})
//	rec.Watch(c) // the gauges: near cache, breaker
//
// # Spans
//
// A cache operation is an internal span named "<op> <kind>" ("fetch
// search", "get intent", "set embedding", "ping" for Health), child of the
// caller's span, with the attributes cache.kind, cache.operation and, as
// the operation learns them, cache.outcome (hit, miss, stale…), cache.tier
// (redis; local for a near-cache hit), cache.key.hash (the SHA-256 of the
// input, as in the key: never the input or a value; not for the key-level
// functions, whose keys are the caller's) and, for GetMany and SetMany,
// the keys per outcome (cache.keys.hit, cache.keys.miss). A Fetch that misses holds its
// round trips and a "load <kind>" span, under which the loader runs: the
// loader's own spans are the load's children. A failure sets an error
// status, error.type (the cache's class of failure: unavailable,
// operation…; "loader" for the loader's own error; "canceled" or
// "deadline_exceeded" when the caller's context ended) and an exception
// event naming it.
//
// Each round trip to Redis is a client span, child of its operation's,
// named by the commands it is for (db.query.summary: "GET", "MGET", "SET";
// each command once, within 255 bytes), without those that only accompany
// them (the near cache's CLIENT CACHING, a value's PTTL, a transaction's
// MULTI and EXEC: a tracked read is a GET), with db.system.name ("redis"),
// db.operation.name (the command; "BATCH SET" or "BATCH" for a pipeline of
// several), db.operation.batch.size (the commands of such a pipeline),
// db.namespace (the database index), server.address and server.port (when
// the cache knows the server: not for commands a cluster client routes
// itself), and error.type on failure ("canceled" or "deadline_exceeded"
// when the caller left first). No attribute holds a key, a query, a text
// or a value.
//
// Near-cache hits get no span unless Options.SpanLocalHits: they take a few
// hundred nanoseconds, less than a span costs. Work in the background (an
// adaptive TTL's extension) has none.
//
// # Metrics
//
// Every metric's attributes come from one vocabulary, the spans': cache.kind
// ("search", "intent", "embedding", "custom" for the key-level functions,
// your own, or "cache" for the whole cache's operations), cache.operation,
// cache.outcome, cache.tier, error.type. Every instrument has a unit.
//
//	db.client.operation.duration{db.system.name,db.operation.name,db.namespace,server.address,server.port,error.type}  s, per round trip to Redis (the conventions' metric)
//	discovery.cache.reads{cache.kind,cache.tier,cache.outcome}                  {read}: keys read; tier local (near cache) or redis
//	discovery.cache.operations{cache.kind,cache.operation,cache.outcome}        {operation}: other operations ended (set, load, lease, clear…)
//	discovery.cache.errors{cache.kind,cache.operation,error.type}               {error}: failed operations of the cache, by class (loaders' errors are in operations, load, error)
//	discovery.cache.operation.duration{cache.kind,cache.operation,cache.tier}   s; near-cache hits are counted, not timed
//	discovery.cache.fetch.duration{cache.kind,cache.outcome}                    s: Fetch from end to end, for the calls the near cache did not answer
//	discovery.cache.load.duration{cache.kind,cache.outcome}                     s the loaders took
//	discovery.cache.removed_keys{cache.kind}                                    {key}: removed by Delete, DeletePattern and the clears
//	discovery.cache.near_cache.entries{cache.kind}                              {entry}: values held in the near cache (from Watch)
//	discovery.cache.near_cache.bytes{cache.kind}                                By: their weight
//	discovery.cache.near_cache.evictions{cache.kind}                            {entry}: dropped to stay within the near cache's bytes
//	discovery.cache.near_cache.invalidations{cache.kind}                        {entry}: dropped because their key changed in Redis
//	discovery.cache.near_cache.on                                               1 when the near cache is on
//	discovery.cache.near_cache.flushes                                          {flush}: times the whole near cache was dropped
//	discovery.cache.breaker.state{cache.breaker.state}                          1 for the state the breaker is in (closed, open, half_open), 0 for the others
//	discovery.cache.breaker.opens                                               {open}: times the breaker opened
//	discovery.cache.near_match.searches{cache.kind,cache.near_match.outcome}    {search}: FetchSimilar misses that looked for a neighbour (kinds with Policy.NearMatch on), by outcome: served, agreed and disagreed (shadow mode; precision = agreed / (agreed + disagreed)), no_neighbour, refused, other
//	discovery.cache.near_match.refusals{cache.kind,cache.near_match.guard}      {neighbour}: neighbours a guard refused, by guard (numbers, negations, words…)
//	discovery.cache.near_match.gone{cache.kind}                                 {neighbour}: neighbours whose value was gone from Redis
//	discovery.cache.near_match.entries{cache.kind}                              {entry}: entries of the near match's index in this process
//	discovery.cache.near_match.bytes{cache.kind}                                By: their memory
//	discovery.cache.near_match.evictions{cache.kind}                            {entry}: evicted to stay within Policy.NearMatch.MaxEntries
//	discovery.cache.near_match.problems{cache.kind,cache.near_match.problem}    {problem}: absorbed: corrupt (entries), invalid_vector, error
//
// The near match's instruments have data points only for the kinds that
// use it.
//
// An OpenTelemetry-to-Prometheus exporter writes discovery.cache.reads as
// discovery_cache_reads_total with the label cache_kind; package
// cacheprom, made for Prometheus, names its labels kind, op, outcome,
// tier and class, which the project's Grafana dashboard reads.
package cacheotel

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/counter"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/media-gateway/discovery/cacheotel"

// The attributes' keys, one vocabulary for spans and metrics.
const (
	KeyKind         = attribute.Key("cache.kind")
	KeyOperation    = attribute.Key("cache.operation")
	KeyOutcome      = attribute.Key("cache.outcome")
	KeyTier         = attribute.Key("cache.tier")
	KeyKeyHash      = attribute.Key("cache.key.hash")
	KeyBreakerState = attribute.Key("cache.breaker.state")
	KeyErrorType    = attribute.Key("error.type")
	// The near match's (cache.FetchSimilar): how a search ended, which
	// guard refused a neighbour, which problem was absorbed.
	KeyMatchOutcome = attribute.Key("cache.near_match.outcome")
	KeyMatchGuard   = attribute.Key("cache.near_match.guard")
	KeyMatchProblem = attribute.Key("cache.near_match.problem")
)

// Options configure a Recorder; the zero value uses the global providers.
type Options struct {
	MeterProvider  metric.MeterProvider // if nil, otel.GetMeterProvider()
	TracerProvider trace.TracerProvider // if nil, otel.GetTracerProvider()
	// SpanLocalHits gives near-cache hits spans too.
	SpanLocalHits bool
	// NoSpans turns spans off: metrics only.
	NoSpans bool
}

// Recorder is a [cache.Tracer] that records metrics and spans. It is safe
// for concurrent use.
type Recorder struct {
	o      Options
	tracer trace.Tracer
	meter  metric.Meter

	ops, errs, removed                metric.Int64Counter
	durations, loads, fetchs, dbTrips metric.Float64Histogram

	watched atomic.Bool // Watch was called
	attrs   sync.Map    // attrKey → metric.MeasurementOption, so that a hot event allocates nothing
	trips   sync.Map    // tripKey → metric.MeasurementOption, for db.client.operation.duration
	begins  sync.Map    // beginKey → *beginning: an operation's span name and options, made once
	names   struct {    // a round trip's commands → its operation name and summary, made once
		sync.RWMutex
		m map[[maxNamed]string]named
	}
	kinds   sync.Map                     // kind name → *kindReads
	builtin [3]atomic.Pointer[kindReads] // search, intent, embedding: r.kinds' entries
}

// kindReads counts one kind's reads on sharded counters, reported by an
// observable counter at collection: a near-cache hit is counted in a few
// nanoseconds, without the goroutines of other cores contending.
type kindReads [numTiers][numOutcomes]counter.Sharded

const (
	numTiers    = int(cache.TierLocal) + 1
	numOutcomes = int(cache.OutcomeStale) + 1
)

// readsOf returns the read counters of the kind called name.
func (r *Recorder) readsOf(name string) *kindReads {
	slot := -1
	switch name {
	case cache.KindSearch:
		slot = 0
	case cache.KindIntent:
		slot = 1
	case cache.KindEmbedding:
		slot = 2
	}
	if slot >= 0 {
		if k := r.builtin[slot].Load(); k != nil {
			return k
		}
	}
	v, _ := r.kinds.LoadOrStore(name, new(kindReads))
	k := v.(*kindReads)
	if slot >= 0 {
		r.builtin[slot].Store(k)
	}
	return k
}

// attrKey identifies a set of metric attributes.
type attrKey struct {
	metric            uint8
	kind              string
	op, outcome, tier uint8
	class             cache.Class
}

// tripKey identifies a set of db.client.operation.duration attributes.
type tripKey struct {
	op, server, errType string
	db                  int
}

// Buckets of the histograms, in seconds.
var (
	operationBuckets = []float64{1e-6, 5e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1}
	loadBuckets      = []float64{1e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}
	fetchBuckets     = []float64{100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}
	// the conventions' advice for db.client.operation.duration, with finer
	// steps below a millisecond, where Redis answers
	tripBuckets = []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3, 100e-3, 500e-3, 1, 5, 10}
)

// New returns a Recorder, or an error if an instrument cannot be made.
func New(o Options) (*Recorder, error) {
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	r := &Recorder{o: o, tracer: o.TracerProvider.Tracer(ScopeName), meter: o.MeterProvider.Meter(ScopeName)}
	var err error
	counter := func(name, desc, unit string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var c metric.Int64Counter
		c, err = r.meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		return c
	}
	histogram := func(name, desc string, buckets []float64) metric.Float64Histogram {
		if err != nil {
			return nil
		}
		var h metric.Float64Histogram
		h, err = r.meter.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(buckets...))
		return h
	}
	r.ops = counter("discovery.cache.operations", "Cache operations other than reads ended, by outcome.", "{operation}")
	r.errs = counter("discovery.cache.errors", "Failed cache operations, by class of failure.", "{error}")
	r.removed = counter("discovery.cache.removed_keys", "Keys removed by Delete, DeletePattern, ClearKind and ClearAll.", "{key}")
	r.durations = histogram("discovery.cache.operation.duration", "How long cache operations on Redis took, encoding and decoding included.", operationBuckets)
	r.loads = histogram("discovery.cache.load.duration", "How long the loaders called by Fetch took.", loadBuckets)
	r.fetchs = histogram("discovery.cache.fetch.duration", "How long Fetch took from end to end, for the calls the near cache did not answer.", fetchBuckets)
	r.dbTrips = histogram("db.client.operation.duration", "Duration of database client operations: one round trip to Redis.", tripBuckets)
	if err != nil {
		return nil, err
	}
	reads, err := r.meter.Int64ObservableCounter("discovery.cache.reads",
		metric.WithDescription("Keys read, by where the answer came from (local: the near cache; redis) and how the read ended."), metric.WithUnit("{read}"))
	if err != nil {
		return nil, err
	}
	if _, err := r.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		r.kinds.Range(func(name, v any) bool {
			k := v.(*kindReads)
			for tier := range numTiers {
				for outcome := range numOutcomes {
					if n := k[tier][outcome].Sum(); n > 0 {
						o.ObserveInt64(reads, n, metric.WithAttributes(KeyKind.String(name.(string)),
							KeyTier.String(tierName(cache.Tier(tier))), KeyOutcome.String(cache.Outcome(outcome).String())))
					}
				}
			}
			return true
		})
		return nil
	}, reads); err != nil {
		return nil, err
	}
	return r, nil
}

// The metrics, for attrKey.
const (
	mOps = iota + 1
	mErrs
	mRemoved
	mDurations
	mLoads
	mFetchs
)

// kindName is the cache.kind of kind: its name, or "cache".
func kindName(kind string) string {
	if kind == "" {
		return cache.KindCache
	}
	return kind
}

// tierName is the cache.tier of tier: where a read's answer came from,
// and "redis" for the other operations (they are all sent there).
func tierName(t cache.Tier) string {
	if t == 0 {
		return cache.TierRedis.String()
	}
	return t.String()
}

// attributes returns the measurement option of a metric's attributes,
// made once per set.
func (r *Recorder) attributes(k attrKey) metric.MeasurementOption {
	if v, ok := r.attrs.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	kv := []attribute.KeyValue{KeyKind.String(kindName(k.kind))}
	switch k.metric {
	case mOps:
		kv = append(kv, KeyOperation.String(cache.Op(k.op).String()), KeyOutcome.String(cache.Outcome(k.outcome).String()))
	case mErrs:
		kv = append(kv, KeyOperation.String(cache.Op(k.op).String()), KeyErrorType.String(k.class.String()))
	case mDurations:
		kv = append(kv, KeyOperation.String(cache.Op(k.op).String()), KeyTier.String(tierName(cache.Tier(k.tier))))
	case mLoads, mFetchs:
		kv = append(kv, KeyOutcome.String(cache.Outcome(k.outcome).String()))
	}
	opt := metric.WithAttributeSet(attribute.NewSet(kv...))
	r.attrs.Store(k, opt)
	return opt
}

// Record records one event's metrics, and tells its operation's span what
// the event learned (see [cache.Recorder]).
func (r *Recorder) Record(e cache.Event) {
	if e.Op == cache.OpBreaker { // reported by the gauge
		return
	}
	metricCtx := context.Background() // exemplars aside, metrics need no caller context
	op, outcome, tier := uint8(e.Op), uint8(e.Outcome), uint8(e.Tier)
	inRange := int(e.Tier) < numTiers && int(e.Outcome) < numOutcomes
	local := e.Tier == cache.TierLocal && e.Outcome == cache.OutcomeHit
	switch {
	case e.Op == cache.OpGet && inRange:
		r.readsOf(kindName(e.Kind))[e.Tier][e.Outcome].Add(1)
	case e.Op == cache.OpGetMany && inRange:
		r.readsOf(kindName(e.Kind))[e.Tier][e.Outcome].Add(max(e.Keys, 0))
	case e.Op == cache.OpFetch && e.Outcome == cache.OutcomeStale:
		r.readsOf(kindName(e.Kind))[cache.TierLocal][e.Outcome].Add(1)
		local = true // an answer from memory: counted, not timed
	case e.Op == cache.OpFetch: // a Fetch's time from end to end: its parts are counted
		r.fetchs.Record(metricCtx, e.Latency.Seconds(), r.attributes(attrKey{metric: mFetchs, kind: e.Kind, outcome: outcome}))
		r.annotate(e)
		return
	default:
		r.ops.Add(metricCtx, 1, r.attributes(attrKey{metric: mOps, kind: e.Kind, op: op, outcome: outcome}))
	}
	if !local {
		if e.Class != 0 { // failures, and undecodable bytes (a miss with a class); a loader's own error has none
			r.errs.Add(metricCtx, 1, r.attributes(attrKey{metric: mErrs, kind: e.Kind, op: op, class: e.Class}))
		}
		if (e.Op == cache.OpDelete || e.Op == cache.OpClear) && e.Keys > 0 {
			r.removed.Add(metricCtx, e.Keys, r.attributes(attrKey{metric: mRemoved, kind: e.Kind}))
		}
		switch e.Op {
		case cache.OpLoad:
			r.loads.Record(metricCtx, e.Latency.Seconds(), r.attributes(attrKey{metric: mLoads, kind: e.Kind, outcome: outcome}))
		case cache.OpLease, cache.OpRefresh: // a wait on another's load, a load: not Redis' time (see fetch.duration)
		default:
			r.durations.Record(metricCtx, e.Latency.Seconds(), r.attributes(attrKey{metric: mDurations, kind: e.Kind, op: op, tier: tier}))
		}
	}
	if r.o.NoSpans {
		return
	}
	if local && e.Op == cache.OpGet {
		if r.o.SpanLocalHits {
			r.localSpan(e)
		}
		return
	}
	r.annotate(e)
}

// Watch registers the instruments that read c's figures at each
// collection: the near cache's entries, bytes, evictions and
// invalidations per kind, whether it is on and its flushes, the breaker's
// state and opens, and the near match's figures (cache.FetchSimilar) of
// the kinds that use it. Call it once, once the cache exists; a second call is
// an error.
func (r *Recorder) Watch(c *cache.RedisCache) error {
	if !r.watched.CompareAndSwap(false, true) {
		return errors.New("cacheotel: Watch was already called: a Recorder watches one cache")
	}
	var err error
	gauge := func(name, desc, unit string) metric.Int64ObservableGauge {
		if err != nil {
			return nil
		}
		var g metric.Int64ObservableGauge
		g, err = r.meter.Int64ObservableGauge(name, metric.WithDescription(desc), metric.WithUnit(unit))
		return g
	}
	counter := func(name, desc, unit string) metric.Int64ObservableCounter {
		if err != nil {
			return nil
		}
		var c metric.Int64ObservableCounter
		c, err = r.meter.Int64ObservableCounter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		return c
	}
	entries := gauge("discovery.cache.near_cache.entries", "Values held in the near cache.", "{entry}")
	bytes := gauge("discovery.cache.near_cache.bytes", "Weight of the values held in the near cache.", "By")
	evictions := counter("discovery.cache.near_cache.evictions", "Near-cache entries dropped to stay within the near cache's bytes.", "{entry}")
	invalidations := counter("discovery.cache.near_cache.invalidations", "Near-cache entries dropped because their key changed in Redis.", "{entry}")
	breaker := gauge("discovery.cache.breaker.state", "The circuit breaker in front of Redis: 1 for the state it is in (closed, open, half_open), 0 for the others.", "1")
	on := gauge("discovery.cache.near_cache.on", "1 when the near cache is on, 0 when it is off.", "1")
	flushes := counter("discovery.cache.near_cache.flushes", "Times every near-cache entry was dropped at once (a connection to Redis closed, the server was flushed).", "{flush}")
	opens := counter("discovery.cache.breaker.opens", "Times the circuit breaker opened.", "{open}")
	m := matchInstruments{
		searches:  counter("discovery.cache.near_match.searches", "FetchSimilar misses that looked for a neighbour, by how the search ended: served (a neighbour's value was served), agreed and disagreed (shadow mode: its value equalled the loaded one, or not), no_neighbour, refused (a guard refused every neighbour close enough), other (the neighbours' values were gone, or Redis failed).", "{search}"),
		refusals:  counter("discovery.cache.near_match.refusals", "Neighbours close enough that a guard refused, by guard.", "{neighbour}"),
		gone:      counter("discovery.cache.near_match.gone", "Neighbours whose value was gone from Redis when read.", "{neighbour}"),
		entries:   gauge("discovery.cache.near_match.entries", "Entries of the near match's index in this process.", "{entry}"),
		bytes:     gauge("discovery.cache.near_match.bytes", "Memory of the near match's index in this process: vectors, texts, keys, guards' signatures.", "By"),
		evictions: counter("discovery.cache.near_match.evictions", "Entries evicted from the near match's index to stay within Policy.NearMatch.MaxEntries.", "{entry}"),
		problems:  counter("discovery.cache.near_match.problems", "Problems the near match absorbed: corrupt (entries in Redis it could not use), invalid_vector (FetchSimilar given an unusable vector), error (reads and writes of the entries in Redis that failed).", "{problem}"),
	}
	if err != nil {
		return err
	}
	states := []cache.BreakerState{cache.BreakerClosed, cache.BreakerOpen, cache.BreakerHalfOpen}
	_, err = r.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := c.Stats()
		for name, k := range st.Kinds {
			set := metric.WithAttributes(KeyKind.String(name))
			o.ObserveInt64(entries, int64(k.Near.Entries), set)
			o.ObserveInt64(bytes, int64(k.Near.Bytes), set)
			o.ObserveInt64(evictions, int64(k.Near.Evicted), set)
			o.ObserveInt64(invalidations, int64(k.Near.Invalidated), set)
			if k.NearMatch.Mode != "" {
				m.observe(o, name, k.NearMatch)
			}
		}
		for _, s := range states {
			o.ObserveInt64(breaker, boolValue(st.Breaker.State == s), metric.WithAttributes(KeyBreakerState.String(s.String())))
		}
		o.ObserveInt64(on, boolValue(st.NearCache.On))
		o.ObserveInt64(flushes, int64(st.NearCache.Flushes))
		o.ObserveInt64(opens, int64(st.Breaker.Opens))
		return nil
	}, entries, bytes, evictions, invalidations, breaker, on, flushes, opens,
		m.searches, m.refusals, m.gone, m.entries, m.bytes, m.evictions, m.problems)
	return err
}

// matchInstruments are the near match's instruments.
type matchInstruments struct {
	searches, refusals, gone, evictions, problems metric.Int64ObservableCounter
	entries, bytes                                metric.Int64ObservableGauge
}

// observe observes the near match's figures of the kind called name.
func (m matchInstruments) observe(o metric.Observer, name string, st cache.NearMatchStats) {
	kind := KeyKind.String(name)
	count := func(c metric.Int64ObservableCounter, n uint64, attrs ...attribute.KeyValue) {
		o.ObserveInt64(c, int64(n), metric.WithAttributes(append([]attribute.KeyValue{kind}, attrs...)...))
	}
	for _, s := range []struct {
		outcome string
		n       uint64
	}{{"served", st.Served}, {"agreed", st.Agreed}, {"disagreed", st.Disagreed}, {"no_neighbour", st.NoNeighbour},
		{"refused", st.Refused}, {"other", st.Other}} {
		count(m.searches, s.n, KeyMatchOutcome.String(s.outcome))
	}
	for guard, n := range st.Refusals {
		count(m.refusals, n, KeyMatchGuard.String(guard))
	}
	count(m.gone, st.Gone)
	count(m.evictions, st.Evicted)
	count(m.problems, st.Corrupt, KeyMatchProblem.String("corrupt"))
	count(m.problems, st.InvalidVectors, KeyMatchProblem.String("invalid_vector"))
	count(m.problems, st.Errors, KeyMatchProblem.String("error"))
	o.ObserveInt64(m.entries, int64(st.Entries), metric.WithAttributes(kind))
	o.ObserveInt64(m.bytes, int64(st.Bytes), metric.WithAttributes(kind))
}

func boolValue(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

var _ cache.Tracer = (*Recorder)(nil)

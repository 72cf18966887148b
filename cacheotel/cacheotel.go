// Package cacheotel reports the operations of a [cache.RedisCache] to
// OpenTelemetry: metrics with the names of package cacheprom (an
// OpenTelemetry-to-Prometheus exporter turns discovery.cache.reads into
// discovery_cache_reads_total), and a span per cache operation, following
// the database semantic conventions, parented to the caller's span.
//
//	rec, err := cacheotel.New(cacheotel.Options{}) // the global providers
//	c, err := cache.New(ctx, cache.Config{Recorder: rec})
//	rec.Watch(c) // the gauges: near cache, breaker
//
// Metrics:
//
//	discovery.cache.reads{kind,tier,outcome}                keys read: tier local (near cache) or redis
//	discovery.cache.operations{kind,op,outcome}             other operations ended (set, load, lease, clear…)
//	discovery.cache.errors{kind,op,class}                   failed operations of the cache, by class (loaders' errors are in operations, op load, outcome error)
//	discovery.cache.operation.duration{kind,op,tier}        seconds; near-cache hits are counted, not timed
//	discovery.cache.load.duration{kind,outcome}             seconds the loaders took
//	discovery.cache.removed_keys{kind}                      keys removed by Delete, DeletePattern and the clears
//	discovery.cache.near_cache.entries{kind}                values held in the near cache (from Watch)
//	discovery.cache.near_cache.bytes{kind}                  their weight
//	discovery.cache.near_cache.on                           1 when the near cache is on
//	discovery.cache.near_cache.flushes                      times the whole near cache was dropped
//	discovery.cache.breaker.state                           0 closed, 1 open, 2 half-open
//	discovery.cache.breaker.opens                           times the breaker opened
//
// Spans are named "<op> <kind>" ("get search", "load intent", "set
// embedding"), of kind client for Redis calls and internal for loads and
// lease waits, with the attributes db.system.name ("redis"),
// db.operation.name, cache.kind, cache.tier, cache.outcome, cache.key.hash
// (the SHA-256 of the input, as in the key: never the input or a value;
// not for the key-level functions, whose keys are the caller's), and, for
// failures, error.type, an error status and an exception event. Near-cache
// hits get no span unless Options.SpanLocalHits: they take a few hundred
// nanoseconds, less than a span costs.
//
// Spans are made when an operation ends, from its event: the parts of a
// Fetch (get, load, set) are siblings under the caller's span, not
// children of a fetch span, and a loader's own spans are children of the
// caller's span too. A batch read gives a span per outcome (its hits and
// its misses); background work (an adaptive TTL's extension) has no
// parent.
package cacheotel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/counter"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/media-gateway/discovery/cacheotel"

// Options configure a Recorder; the zero value uses the global providers.
type Options struct {
	MeterProvider  metric.MeterProvider // if nil, otel.GetMeterProvider()
	TracerProvider trace.TracerProvider // if nil, otel.GetTracerProvider()
	// SpanLocalHits gives near-cache hits spans too.
	SpanLocalHits bool
	// NoSpans turns spans off: metrics only.
	NoSpans bool
}

// Recorder is a [cache.Recorder] that records metrics and spans. It is
// safe for concurrent use.
type Recorder struct {
	o      Options
	tracer trace.Tracer
	meter  metric.Meter

	ops, errs, removed metric.Int64Counter
	durations, loads   metric.Float64Histogram

	watched atomic.Bool                  // Watch was called
	attrs   sync.Map                     // attrKey → metric.MeasurementOption, so that a hot event allocates nothing
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

// reads returns the read counters of the kind called name.
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
	r.durations = histogram("discovery.cache.operation.duration", "How long cache operations took, encoding and decoding included.",
		[]float64{1e-6, 5e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1})
	r.loads = histogram("discovery.cache.load.duration", "How long the loaders called by Fetch took.",
		[]float64{1e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10})
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
						o.ObserveInt64(reads, n, metric.WithAttributes(attribute.String("kind", name.(string)),
							attribute.String("tier", cache.Tier(tier).String()), attribute.String("outcome", cache.Outcome(outcome).String())))
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
)

// attributes returns the measurement option of a metric's attributes,
// made once per set.
func (r *Recorder) attributes(k attrKey) metric.MeasurementOption {
	if v, ok := r.attrs.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	kv := []attribute.KeyValue{attribute.String("kind", k.kind)}
	switch k.metric {
	case mOps:
		kv = append(kv, attribute.String("op", cache.Op(k.op).String()), attribute.String("outcome", cache.Outcome(k.outcome).String()))
	case mErrs:
		kv = append(kv, attribute.String("op", cache.Op(k.op).String()), attribute.String("class", k.class.String()))
	case mDurations:
		kv = append(kv, attribute.String("op", cache.Op(k.op).String()), attribute.String("tier", cache.Tier(k.tier).String()))
	case mLoads:
		kv = append(kv, attribute.String("outcome", cache.Outcome(k.outcome).String()))
	}
	opt := metric.WithAttributeSet(attribute.NewSet(kv...))
	r.attrs.Store(k, opt)
	return opt
}

// Record records one event's metrics and span (see [cache.Recorder]).
func (r *Recorder) Record(e cache.Event) {
	if e.Op == cache.OpBreaker { // reported by the gauge
		return
	}
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	metricCtx := context.Background() // exemplars aside, metrics need no caller context
	op, outcome, tier := uint8(e.Op), uint8(e.Outcome), uint8(e.Tier)
	inRange := int(e.Tier) < numTiers && int(e.Outcome) < numOutcomes
	switch {
	case e.Op == cache.OpGet && inRange:
		r.readsOf(e.Kind)[e.Tier][e.Outcome].Add(1)
	case e.Op == cache.OpGetMany && inRange:
		r.readsOf(e.Kind)[e.Tier][e.Outcome].Add(max(e.Keys, 0))
	case e.Op == cache.OpFetch && e.Outcome == cache.OutcomeStale:
		r.readsOf(e.Kind)[0][e.Outcome].Add(1)
	default:
		r.ops.Add(metricCtx, 1, r.attributes(attrKey{metric: mOps, kind: e.Kind, op: op, outcome: outcome}))
	}
	local := e.Tier == cache.TierLocal && e.Outcome == cache.OutcomeHit
	if !local {
		if e.Class != 0 { // failures, and undecodable bytes (a miss with a class); a loader's own error has none
			r.errs.Add(metricCtx, 1, r.attributes(attrKey{metric: mErrs, kind: e.Kind, op: op, class: e.Class}))
		}
		if (e.Op == cache.OpDelete || e.Op == cache.OpClear) && e.Keys > 0 {
			r.removed.Add(metricCtx, e.Keys, r.attributes(attrKey{metric: mRemoved, kind: e.Kind}))
		}
		if e.Op == cache.OpLoad {
			r.loads.Record(metricCtx, e.Latency.Seconds(), r.attributes(attrKey{metric: mLoads, kind: e.Kind, outcome: outcome}))
		} else {
			r.durations.Record(metricCtx, e.Latency.Seconds(), r.attributes(attrKey{metric: mDurations, kind: e.Kind, op: op, tier: tier}))
		}
	}
	if r.o.NoSpans || (local && !r.o.SpanLocalHits) {
		return
	}
	r.span(ctx, e)
}

// span records e as a span that ended now, started e.Latency ago.
func (r *Recorder) span(ctx context.Context, e cache.Event) {
	end := time.Now()
	kind := trace.SpanKindClient
	if e.Op == cache.OpLoad || e.Op == cache.OpLease || e.Tier == cache.TierLocal {
		kind = trace.SpanKindInternal
	}
	name := e.Op.String()
	if e.Kind != "" {
		name += " " + e.Kind
	}
	attrs := []attribute.KeyValue{
		attribute.String("db.system.name", "redis"),
		attribute.String("db.operation.name", e.Op.String()),
		attribute.String("cache.kind", e.Kind),
		attribute.String("cache.outcome", e.Outcome.String()),
	}
	if e.Tier != 0 {
		attrs = append(attrs, attribute.String("cache.tier", e.Tier.String()))
	}
	if h := keyHash(e.Key); h != "" && e.Kind != cache.KindCustom {
		attrs = append(attrs, attribute.String("cache.key.hash", h))
	}
	if e.Keys != 0 {
		attrs = append(attrs, attribute.Int64("cache.keys", e.Keys))
	}
	_, span := r.tracer.Start(ctx, name, trace.WithTimestamp(end.Add(-e.Latency)), trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	if e.Outcome == cache.OutcomeError {
		class := e.Class.String()
		if class == "" {
			class = "loader" // a loader's own error: the cache has no class for it
		}
		span.SetAttributes(attribute.String("error.type", class))
		span.RecordError(fmt.Errorf("cache %s: %s", name, class)) // the class: an error's text may quote a key or a value
		span.SetStatus(codes.Error, class)
	}
	span.End(trace.WithTimestamp(end))
}

// keyHash returns the hash part of a key made by the cache (its last
// segment, 64 hex characters), or "" for another key: a key-level key may
// hold text of the caller's, which a span must not carry.
func keyHash(key string) string {
	i := strings.LastIndexByte(key, ':')
	h := key[i+1:]
	if len(h) != 64 {
		return ""
	}
	for j := 0; j < len(h); j++ {
		if c := h[j]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	return h
}

// Watch registers the instruments that read c's figures at each
// collection: near_cache.entries and .bytes per kind, near_cache.on and
// .flushes, breaker.state and .opens. Call it once, once the cache exists;
// a second call is an error.
func (r *Recorder) Watch(c *cache.RedisCache) error {
	if !r.watched.CompareAndSwap(false, true) {
		return errors.New("cacheotel: Watch was already called: a Recorder watches one cache")
	}
	entries, err := r.meter.Int64ObservableGauge("discovery.cache.near_cache.entries", metric.WithDescription("Values held in the near cache."), metric.WithUnit("{entry}"))
	if err != nil {
		return err
	}
	bytes, err := r.meter.Int64ObservableGauge("discovery.cache.near_cache.bytes", metric.WithDescription("Weight of the values held in the near cache."), metric.WithUnit("By"))
	if err != nil {
		return err
	}
	breaker, err := r.meter.Int64ObservableGauge("discovery.cache.breaker.state", metric.WithDescription("The circuit breaker in front of Redis: 0 closed, 1 open, 2 half-open."))
	if err != nil {
		return err
	}
	on, err := r.meter.Int64ObservableGauge("discovery.cache.near_cache.on", metric.WithDescription("1 when the near cache is on, 0 when it is off."))
	if err != nil {
		return err
	}
	flushes, err := r.meter.Int64ObservableCounter("discovery.cache.near_cache.flushes", metric.WithDescription("Times every near-cache entry was dropped at once (a connection to Redis closed, the server was flushed)."))
	if err != nil {
		return err
	}
	opens, err := r.meter.Int64ObservableCounter("discovery.cache.breaker.opens", metric.WithDescription("Times the circuit breaker opened."))
	if err != nil {
		return err
	}
	_, err = r.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := c.Stats()
		for name, k := range st.Kinds {
			set := metric.WithAttributes(attribute.String("kind", name))
			o.ObserveInt64(entries, int64(k.Near.Entries), set)
			o.ObserveInt64(bytes, int64(k.Near.Bytes), set)
		}
		state := int64(0)
		switch st.Breaker.State {
		case cache.BreakerOpen:
			state = 1
		case cache.BreakerHalfOpen:
			state = 2
		}
		o.ObserveInt64(breaker, state)
		nearOn := int64(0)
		if st.NearCache.On {
			nearOn = 1
		}
		o.ObserveInt64(on, nearOn)
		o.ObserveInt64(flushes, int64(st.NearCache.Flushes))
		o.ObserveInt64(opens, int64(st.Breaker.Opens))
		return nil
	}, entries, bytes, breaker, on, flushes, opens)
	return err
}

var _ cache.Recorder = (*Recorder)(nil)

package cacheotel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/cacheotel"
	"github.com/media-gateway/discovery/internal/redistest"
)

// rig is a cache whose Recorder reports to an SDK meter and tracer that
// the test reads.
type rig struct {
	c      *cache.RedisCache
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

func newRig(t *testing.T) *rig {
	t.Helper()
	srv := redistest.Start(t)
	r := &rig{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	rec, err := cacheotel.New(cacheotel.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader)), TracerProvider: r.tp})
	if err != nil {
		t.Fatal(err)
	}
	r.c, err = cache.New(context.Background(), cache.Config{URL: srv.URL(), Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.c.Close() })
	if err := rec.Watch(r.c); err != nil {
		t.Fatal(err)
	}
	return r
}

// sum returns the value of an Int64 sum or gauge's data point with the
// given attributes (a histogram's count), and whether it exists.
func (r *rig) value(t *testing.T, name string, attrs map[string]string) (int64, bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			has := func(get func(string) (string, bool)) bool {
				for k, v := range attrs {
					if got, ok := get(k); !ok || got != v {
						return false
					}
				}
				return true
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if has(func(k string) (string, bool) { v, ok := p.Attributes.Value(attrKey(k)); return v.AsString(), ok }) {
						return p.Value, true
					}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if has(func(k string) (string, bool) { v, ok := p.Attributes.Value(attrKey(k)); return v.AsString(), ok }) {
						return p.Value, true
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if has(func(k string) (string, bool) { v, ok := p.Attributes.Value(attrKey(k)); return v.AsString(), ok }) {
						return int64(p.Count), true
					}
				}
			}
		}
	}
	return 0, false
}

// A Fetch that misses, under a caller's span, gives child spans for its
// read, load and store, with the key's hash and never the input or the
// value; the metrics count as the cache does.
func TestSpansAndMetrics(t *testing.T) {
	r := newRig(t)
	search := cache.Search[string, string](r.c)
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "handle /search")
	if _, err := search.Fetch(ctx, "secret query", func(context.Context) (string, error) { return "secret value", nil }); err != nil {
		t.Fatal(err)
	}
	parent.End()
	key, _ := search.Key("secret query")
	hash := key[strings.LastIndexByte(key, ':')+1:]
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range r.spans.Ended() {
		byName[s.Name()] = s
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.Emit(), "secret") {
				t.Errorf("span %q has attribute %s=%q: the input or the value", s.Name(), a.Key, a.Value.Emit())
			}
		}
	}
	for _, name := range []string{"get search", "load search", "set search"} {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no span %q; spans: %v", name, keys(byName))
			continue
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %q is not a child of the caller's span", name)
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		if attrs["db.system.name"] != "redis" || attrs["cache.kind"] != "search" {
			t.Errorf("span %q attributes %v", name, attrs)
		}
		if name != "load search" && attrs["cache.key.hash"] != hash {
			t.Errorf("span %q has key hash %q; want %q", name, attrs["cache.key.hash"], hash)
		}
		if s.EndTime().Sub(s.StartTime()) <= 0 || s.EndTime().After(time.Now()) {
			t.Errorf("span %q runs from %v to %v", name, s.StartTime(), s.EndTime())
		}
	}
	if s := byName["get search"]; s != nil && !hasAttr(s, "cache.outcome", "miss") {
		t.Errorf("the read's span does not say miss: %v", s.Attributes())
	}

	// A failing loader: an error span; a hit from the near cache: no span.
	r.spans.Reset()
	if _, err := search.Fetch(context.Background(), "failing", func(context.Context) (string, error) { return "", errors.New("backend down") }); err == nil {
		t.Fatal("no error from a failing loader")
	}
	for deadline := time.Now().Add(5 * time.Second); r.c.Stats().Kinds[cache.KindSearch].LocalHits == 0; {
		search.Get(context.Background(), "secret query")
		if time.Now().After(deadline) {
			t.Fatal("never a near-cache hit")
		}
	}
	var failed, local int
	for _, s := range r.spans.Ended() {
		if s.Name() == "load search" && s.Status().Code.String() == "Error" && hasAttr(s, "error.type", "loader") && len(s.Events()) == 1 && s.Events()[0].Name == "exception" {
			failed++
		}
		if hasAttr(s, "cache.tier", "local") {
			local++
		}
	}
	if failed != 1 || local != 0 {
		t.Errorf("%d error spans with an exception for the failed load (want 1), %d spans of near-cache hits (want 0)", failed, local)
	}

	st := r.c.Stats().Kinds[cache.KindSearch]
	for _, want := range []struct {
		name  string
		attrs map[string]string
		value int64
	}{
		{"discovery.cache.reads", map[string]string{"kind": "search", "tier": "local", "outcome": "hit"}, int64(st.LocalHits)},
		{"discovery.cache.reads", map[string]string{"kind": "search", "tier": "redis", "outcome": "miss"}, int64(st.Misses)},
		{"discovery.cache.operations", map[string]string{"kind": "search", "op": "load", "outcome": "error"}, 1},
		{"discovery.cache.operations", map[string]string{"kind": "search", "op": "set", "outcome": "ok"}, int64(st.Sets)},
		{"discovery.cache.load.duration", map[string]string{"kind": "search", "outcome": "ok"}, 1},
		{"discovery.cache.near_cache.entries", map[string]string{"kind": "search"}, 1},
		{"discovery.cache.breaker.state", nil, 0},
		{"discovery.cache.breaker.opens", nil, 0},
		{"discovery.cache.near_cache.on", nil, 1},
	} {
		if got, ok := r.value(t, want.name, want.attrs); !ok || got != want.value {
			t.Errorf("%s%v = %d (present %v); want %d", want.name, want.attrs, got, ok, want.value)
		}
	}

	// A batch under a caller's span: its spans are the caller's children.
	r.spans.Reset()
	bctx, batch := r.tp.Tracer("test").Start(context.Background(), "handle a batch")
	if err := search.SetMany(bctx, []string{"a", "b"}, []string{"1", "2"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := search.GetMany(bctx, []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	batch.End()
	batchSpans := 0
	for _, s := range r.spans.Ended() {
		if strings.HasSuffix(s.Name(), "_many search") {
			batchSpans++
			if s.Parent().SpanID() != batch.SpanContext().SpanID() {
				t.Errorf("batch span %q is not a child of the caller's span", s.Name())
			}
		}
	}
	if batchSpans < 2 {
		t.Errorf("%d batch spans; want set_many and get_many", batchSpans)
	}
	if rec, err := cacheotel.New(cacheotel.Options{MeterProvider: sdkmetric.NewMeterProvider()}); err != nil || rec.Watch(r.c) != nil || rec.Watch(r.c) == nil {
		t.Error("a second Watch was not refused")
	}
}

func hasAttr(s sdktrace.ReadOnlySpan, k, v string) bool {
	for _, a := range s.Attributes() {
		if string(a.Key) == k && a.Value.Emit() == v {
			return true
		}
	}
	return false
}

func keys(m map[string]sdktrace.ReadOnlySpan) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The Recorder's cost per near-cache hit event, metrics only (no span),
// against a Recorder that does nothing.
func BenchmarkRecord(b *testing.B) {
	rec, err := cacheotel.New(cacheotel.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))})
	if err != nil {
		b.Fatal(err)
	}
	for _, tier := range []cache.Tier{cache.TierLocal, cache.TierRedis} {
		e := cache.Event{Kind: cache.KindSearch, Op: cache.OpGet, Outcome: cache.OutcomeHit, Tier: tier, Latency: time.Microsecond}
		b.Run(fmt.Sprint("hit-", tier), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rec.Record(e)
				}
			})
		})
	}
}

type attrKey = attribute.Key

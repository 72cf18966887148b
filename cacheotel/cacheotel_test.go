package cacheotel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/cacheotel"
	"github.com/media-gateway/discovery/internal/redistest"
)

// rig is a cache whose Recorder reports to an SDK meter and tracer that
// the test reads.
type rig struct {
	c      *cache.RedisCache
	url    string
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

func newRig(t *testing.T) *rig { return newRigWith(t, nil) }

// newRigWith is newRig with the cache's Config.Policies.
func newRigWith(t *testing.T, policies map[string]cache.Policy) *rig {
	t.Helper()
	srv := redistest.Start(t)
	r := &rig{url: srv.URL(), reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	rec, err := cacheotel.New(cacheotel.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader)), TracerProvider: r.tp})
	if err != nil {
		t.Fatal(err)
	}
	r.c, err = cache.New(context.Background(), cache.Config{URL: srv.URL(), Recorder: rec, Policies: policies})
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
					if has(func(k string) (string, bool) { v, ok := p.Attributes.Value(attrKey(k)); return v.Emit(), ok }) {
						return p.Value, true
					}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if has(func(k string) (string, bool) { v, ok := p.Attributes.Value(attrKey(k)); return v.Emit(), ok }) {
						return p.Value, true
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if has(func(k string) (string, bool) { v, ok := p.Attributes.Value(attrKey(k)); return v.Emit(), ok }) {
						return int64(p.Count), true
					}
				}
			}
		}
	}
	return 0, false
}

// A Fetch that misses, under a caller's span, is a span of its own, begun
// before its work: the loader runs inside a load span (the caller's
// backend spans nest under it), and each round trip to Redis is a client
// span attributed as the database conventions say; no attribute holds the
// input or the value; the metrics count as the cache does, with the spans'
// attribute keys and a unit each.
func TestSpansAndMetrics(t *testing.T) {
	r := newRig(t)
	search := cache.Search[string, string](r.c)
	r.spans.Reset()
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "handle /search")
	if _, err := search.Fetch(ctx, "secret query", func(ctx context.Context) (string, error) {
		_, backend := r.tp.Tracer("test").Start(ctx, "backend call")
		backend.End()
		return "secret value", nil
	}); err != nil {
		t.Fatal(err)
	}
	parent.End()
	key, _ := search.Key("secret query")
	hash := key[strings.LastIndexByte(key, ':')+1:]
	byName := map[string]sdktrace.ReadOnlySpan{}
	var clients []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		byName[s.Name()] = s
		if s.SpanKind() == trace.SpanKindClient {
			clients = append(clients, s)
		}
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.Emit(), "secret") || strings.Contains(a.Value.Emit(), ":") {
				t.Errorf("span %q has attribute %s=%q: a key, the input or the value", s.Name(), a.Key, a.Value.Emit())
			}
		}
	}
	fetch, load, backend := byName["fetch search"], byName["load search"], byName["backend call"]
	if fetch == nil || load == nil || backend == nil {
		t.Fatalf("spans %v; want fetch search, load search, backend call", keys(byName))
	}
	for _, link := range []struct {
		child, parent sdktrace.ReadOnlySpan
		want          string
	}{{fetch, nil, "the caller's span"}, {load, fetch, "fetch search"}, {backend, load, "load search (the loader's spans nest under the load)"}} {
		want := parent.SpanContext().SpanID()
		if link.parent != nil {
			want = link.parent.SpanContext().SpanID()
		}
		if link.child.Parent().SpanID() != want {
			t.Errorf("span %q is not a child of %s", link.child.Name(), link.want)
		}
	}
	if !hasAttr(fetch, "cache.kind", "search") || !hasAttr(fetch, "cache.operation", "fetch") || !hasAttr(fetch, "cache.outcome", "miss") ||
		!hasAttr(fetch, "cache.key.hash", hash) || fetch.SpanKind() != trace.SpanKindInternal {
		t.Errorf("fetch span attributes %v", fetch.Attributes())
	}
	if !load.StartTime().After(fetch.StartTime()) || load.EndTime().After(fetch.EndTime()) {
		t.Error("the load span does not run within the fetch span")
	}
	_, port, _ := strings.Cut(strings.TrimPrefix(r.url, "redis://"), ":")
	port = strings.TrimSuffix(port, "/0")
	var commands []string
	for _, s := range clients {
		commands = append(commands, s.Name())
		if s.Parent().SpanID() != fetch.SpanContext().SpanID() {
			t.Errorf("round trip %q is not a child of the fetch span", s.Name())
		}
		if !hasAttr(s, "db.system.name", "redis") || !hasAttr(s, "server.address", "127.0.0.1") || !hasAttr(s, "server.port", port) ||
			!hasAttr(s, "db.namespace", "0") || !hasAttr(s, "db.query.summary", s.Name()) {
			t.Errorf("round trip %q attributes %v", s.Name(), s.Attributes())
		}
		if n := len(strings.Fields(s.Name())); n > 1 && !hasAttr(s, "db.operation.name", "BATCH") && !strings.HasPrefix(attr(s, "db.operation.name"), "BATCH ") {
			t.Errorf("pipeline %q has db.operation.name %q; want BATCH", s.Name(), attr(s, "db.operation.name"))
		}
	}
	if got := strings.Join(commands, " | "); !strings.Contains(got, "GET") || !strings.Contains(got, "SET") {
		t.Errorf("round trips %s; want the read and the store", got)
	}

	// A failing loader: error spans; a hit from the near cache: no span.
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
	r.spans.Reset()
	search.Get(context.Background(), "secret query")
	if n := len(r.spans.Ended()); n != 0 {
		t.Errorf("a near-cache hit made %d spans; want none", n)
	}

	st := r.c.Stats().Kinds[cache.KindSearch]
	for _, want := range []struct {
		name  string
		attrs map[string]string
		value int64
	}{
		{"discovery.cache.reads", map[string]string{"cache.kind": "search", "cache.tier": "local", "cache.outcome": "hit"}, int64(st.LocalHits)},
		{"discovery.cache.reads", map[string]string{"cache.kind": "search", "cache.tier": "redis", "cache.outcome": "miss"}, int64(st.Misses)},
		{"discovery.cache.operations", map[string]string{"cache.kind": "search", "cache.operation": "load", "cache.outcome": "error"}, 1},
		{"discovery.cache.operations", map[string]string{"cache.kind": "search", "cache.operation": "set", "cache.outcome": "ok"}, int64(st.Sets)},
		{"discovery.cache.operations", map[string]string{"cache.kind": "cache", "cache.operation": "ping", "cache.outcome": "ok"}, 1},
		{"discovery.cache.load.duration", map[string]string{"cache.kind": "search", "cache.outcome": "ok"}, 1},
		{"discovery.cache.fetch.duration", map[string]string{"cache.kind": "search", "cache.outcome": "error"}, 1},
		{"discovery.cache.near_cache.entries", map[string]string{"cache.kind": "search"}, 1},
		{"discovery.cache.breaker.state", map[string]string{"cache.breaker.state": "closed"}, 1},
		{"discovery.cache.breaker.state", map[string]string{"cache.breaker.state": "open"}, 0},
		{"discovery.cache.breaker.opens", nil, 0},
		{"discovery.cache.near_cache.on", nil, 1},
		{"db.client.operation.duration", map[string]string{"db.system.name": "redis", "db.operation.name": "PING", "server.port": port, "db.namespace": "0"}, 1},
	} {
		if got, ok := r.value(t, want.name, want.attrs); !ok || got != want.value {
			t.Errorf("%s%v = %d (present %v); want %d", want.name, want.attrs, got, ok, want.value)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Unit == "" {
				t.Errorf("metric %s has no unit", m.Name)
			}
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

// A loader's error fails the load's span and the Fetch's, with error.type
// loader and an exception event.
func TestLoaderErrorSpans(t *testing.T) {
	r := newRig(t)
	r.spans.Reset()
	if _, err := cache.Search[string, string](r.c).Fetch(context.Background(), "failing", func(context.Context) (string, error) {
		return "", errors.New("backend down")
	}); err == nil {
		t.Fatal("no error from a failing loader")
	}
	failed := 0
	for _, s := range r.spans.Ended() {
		if (s.Name() == "load search" || s.Name() == "fetch search") && s.Status().Code == codes.Error && hasAttr(s, "error.type", "loader") &&
			len(s.Events()) == 1 && s.Events()[0].Name == "exception" {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d error spans with an exception (want the load's and the fetch's)", failed)
	}
}

func attr(s sdktrace.ReadOnlySpan, k string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == k {
			return a.Value.Emit()
		}
	}
	return ""
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

// The spans of a read from Redis (its operation and its round trip), with
// the SDK's tracer recording every span, against the no-op tracer.
func BenchmarkReadSpans(b *testing.B) {
	rt := cache.RoundTrip{Commands: []string{"CLIENT CACHING", "GET", "PTTL"}, Server: "127.0.0.1:6379", Start: time.Now(), Latency: 50 * time.Microsecond}
	for _, sdk := range []bool{false, true} {
		o := cacheotel.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))}
		if sdk {
			o.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
		} else {
			o.TracerProvider = tracenoop.NewTracerProvider()
		}
		rec, err := cacheotel.New(o)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint("sdk=", sdk), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				ctx, end := rec.Begin(context.Background(), cache.OpGet, cache.KindSearch)
				rec.RoundTrip(ctx, rt)
				end(nil)
			}
		})
	}
}

// The near match's figures, as cacheprom reports them: searches by how
// they ended, refusals by guard (every guard, refused or not), entries and
// their memory; nothing for a kind without the near match.
func TestNearMatchMetrics(t *testing.T) {
	r := newRigWith(t, map[string]cache.Policy{cache.KindSearch: {NearMatch: cache.NearMatch{Mode: cache.NearMatchServe, Model: "m"}}})
	ctx := context.Background()
	search := cache.Search[string, string](r.c)
	vec := []float32{0.3, 0.1, 0.9, 0.2}
	load := func(v string) cache.LoaderFunc[string] {
		return func(context.Context) (string, error) { return v, nil }
	}
	// The first is loaded and indexed; the second, a paraphrase, is served
	// its value; the third, another decade, is refused by the numbers guard.
	for _, q := range []string{"Tom Hanks comedies from the 90s", "90s comedies with Tom Hanks", "Tom Hanks comedies from the 80s"} {
		if _, _, err := cache.FetchSimilar(ctx, search, q, vec, load(q)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []struct {
		name  string
		attrs map[string]string
		n     int64
	}{
		{"discovery.cache.near_match.searches", map[string]string{"cache.near_match.outcome": "served"}, 1},
		{"discovery.cache.near_match.searches", map[string]string{"cache.near_match.outcome": "refused"}, 1},
		{"discovery.cache.near_match.searches", map[string]string{"cache.near_match.outcome": "no_neighbour"}, 1},
		{"discovery.cache.near_match.searches", map[string]string{"cache.near_match.outcome": "agreed"}, 0},
		{"discovery.cache.near_match.searches", map[string]string{"cache.near_match.outcome": "other"}, 0},
		{"discovery.cache.near_match.refusals", map[string]string{"cache.near_match.guard": "numbers"}, 1},
		{"discovery.cache.near_match.refusals", map[string]string{"cache.near_match.guard": "negations"}, 0},
		{"discovery.cache.near_match.entries", nil, 2},
		{"discovery.cache.near_match.gone", nil, 0},
		{"discovery.cache.near_match.evictions", nil, 0},
		{"discovery.cache.near_match.problems", map[string]string{"cache.near_match.problem": "invalid_vector"}, 0},
	} {
		attrs := map[string]string{"cache.kind": "search"}
		for k, v := range want.attrs {
			attrs[k] = v
		}
		if n, ok := r.value(t, want.name, attrs); !ok || n != want.n {
			t.Errorf("%s%v = %d (present: %v); want %d", want.name, attrs, n, ok, want.n)
		}
	}
	// Counters are monotonic sums, the index's size gauges.
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				kinds[m.Name] = map[bool]string{true: "counter", false: "up-down"}[d.IsMonotonic]
			case metricdata.Gauge[int64]:
				kinds[m.Name] = "gauge"
			}
		}
	}
	for name, want := range map[string]string{"searches": "counter", "refusals": "counter", "gone": "counter", "evictions": "counter",
		"problems": "counter", "entries": "gauge", "bytes": "gauge"} {
		if got := kinds["discovery.cache.near_match."+name]; got != want {
			t.Errorf("discovery.cache.near_match.%s is a %q, want a %s", name, got, want)
		}
	}
	if n, _ := r.value(t, "discovery.cache.near_match.bytes", map[string]string{"cache.kind": "search"}); n < 2*4*4 {
		t.Errorf("near_match.bytes = %d", n)
	}
	if _, ok := r.value(t, "discovery.cache.near_match.entries", map[string]string{"cache.kind": "intent"}); ok {
		t.Error("near-match data points of a kind without it")
	}
}

package cacheprom_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/cacheprom"
	"github.com/media-gateway/discovery/internal/redistest"
)

// scrape fetches url as Prometheus would and parses the text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s: %s", resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape: parsing the exposition: %v\n%s", err, body)
	}
	return families
}

// value returns the value of the series of family with the given labels
// (a counter's or a gauge's value, a histogram's count), and whether it
// exists.
func value(families map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	f := families[family]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := make(map[string]string)
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// scraped returns a cache on a private server whose Recorder, made with
// o, is registered in a registry served over HTTP by web.
func scraped(t *testing.T, o cacheprom.Options) (*redistest.Server, *cache.RedisCache, *httptest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	rec := cacheprom.New(o)
	reg := prometheus.NewRegistry()
	reg.MustRegister(rec)
	c, err := cache.New(context.Background(), cache.Config{URL: srv.URL(), Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rec.Watch(c)
	web := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(web.Close)
	return srv, c, web
}

// A cache's operations, scraped over HTTP from a registry the Recorder is
// registered in, give counters equal to the cache's own figures, latency
// and loader histograms, the near cache's size and the breaker's state;
// no series holds a key or a value.
func TestScrape(t *testing.T) {
	srv, c, web := scraped(t, cacheprom.Options{ConstLabels: prometheus.Labels{"service": "discovery"}})
	ctx := context.Background()

	search := cache.Search[string, string](c)
	load := func(context.Context) (string, error) { time.Sleep(2 * time.Millisecond); return "secret result", nil }
	for i := range 10 {
		if _, err := search.Fetch(ctx, fmt.Sprint("secret query ", i), load); err != nil {
			t.Fatal(err)
		}
	}
	// Read each again until the near cache answers it (the first read
	// after this process's own write may go to Redis).
	for i := range 10 {
		for deadline := time.Now().Add(5 * time.Second); ; {
			before := c.Stats().Kinds[cache.KindSearch].LocalHits
			if _, _, err := search.Get(ctx, fmt.Sprint("secret query ", i)); err != nil {
				t.Fatal(err)
			}
			if c.Stats().Kinds[cache.KindSearch].LocalHits > before || time.Now().After(deadline) {
				break
			}
		}
	}
	if _, err := search.Fetch(ctx, "failing", func(context.Context) (string, error) { return "", errors.New("backend down") }); err == nil {
		t.Fatal("a failing loader's error was not returned")
	}
	intents := cache.Intents[string](c, "")
	if _, _, err := intents.GetMany(ctx, []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	if n, err := c.ClearKind(ctx, cache.KindSearch); n != 10 || err != nil {
		t.Fatalf("ClearKind = %d, %v", n, err)
	}

	fams := scrape(t, web.URL)
	st := c.Stats().Kinds[cache.KindSearch]
	for _, want := range []struct {
		family string
		labels map[string]string
		value  float64
	}{
		{"discovery_cache_reads_total", map[string]string{"kind": "search", "tier": "local", "outcome": "hit"}, float64(st.LocalHits)},
		{"discovery_cache_reads_total", map[string]string{"kind": "search", "tier": "redis", "outcome": "hit"}, float64(st.Hits - st.LocalHits)},
		{"discovery_cache_reads_total", map[string]string{"kind": "search", "tier": "redis", "outcome": "miss"}, float64(st.Misses)},
		{"discovery_cache_reads_total", map[string]string{"kind": "intent", "tier": "redis", "outcome": "miss"}, 3},
		{"discovery_cache_operations_total", map[string]string{"kind": "search", "op": "set", "outcome": "ok"}, float64(st.Sets)},
		{"discovery_cache_operations_total", map[string]string{"kind": "search", "op": "load", "outcome": "error"}, 1},
		{"discovery_cache_load_duration_seconds", map[string]string{"kind": "search", "outcome": "ok"}, 10},
		{"discovery_cache_load_duration_seconds", map[string]string{"kind": "search", "outcome": "error"}, 1},
		{"discovery_cache_operation_duration_seconds", map[string]string{"kind": "search", "op": "set", "tier": "redis"}, float64(st.Sets)},
		{"discovery_cache_fetch_duration_seconds", map[string]string{"kind": "search", "outcome": "ok"}, 10},
		{"discovery_cache_fetch_duration_seconds", map[string]string{"kind": "search", "outcome": "error"}, 1},
		{"discovery_cache_operations_total", map[string]string{"kind": "cache", "op": "ping", "outcome": "ok"}, 1}, // New's
		{"discovery_cache_errors_total", map[string]string{"kind": "search", "op": "get", "class": "unavailable"}, 0},
		{"discovery_cache_reads_total", map[string]string{"kind": "embedding", "tier": "redis", "outcome": "hit"}, 0},
		{"discovery_cache_near_cache_invalidations_total", map[string]string{"kind": "search"}, float64(st.Near.Invalidated)},
		{"discovery_cache_near_cache_evictions_total", map[string]string{"kind": "search"}, 0},
		{"discovery_cache_removed_keys_total", map[string]string{"kind": "search"}, 10},
		{"discovery_cache_near_cache_on", nil, 1},
		{"discovery_cache_breaker_state", map[string]string{"state": "closed"}, 1},
		{"discovery_cache_breaker_state", map[string]string{"state": "open"}, 0},
		{"discovery_cache_breaker_state", map[string]string{"state": "half_open"}, 0},
		{"discovery_cache_breaker_opens_total", nil, 0},
		{"discovery_cache_near_cache_entries", map[string]string{"kind": "search"}, 0}, // cleared
	} {
		got, ok := value(fams, want.family, want.labels)
		if !ok || got != want.value {
			t.Errorf("%s%v = %v (present: %v); want %v", want.family, want.labels, got, ok, want.value)
		}
	}
	if _, ok := value(fams, "discovery_cache_operation_duration_seconds", map[string]string{"kind": "search", "op": "get", "tier": "local"}); ok {
		t.Error("near-cache hits were timed; they are only counted")
	}
	if st.LocalHits < 10 {
		t.Errorf("%d local hits; the test wants the near cache to answer", st.LocalHits)
	}
	if n, _ := value(fams, "discovery_cache_redis_used_memory_bytes", nil); n <= 0 {
		t.Errorf("redis_used_memory_bytes = %v; want the server's", n)
	}
	if _, ok := value(fams, "discovery_cache_redis_evicted_keys_total", nil); !ok {
		t.Error("no redis_evicted_keys_total")
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "secret") || strings.Contains(l.GetValue(), ":") {
					t.Errorf("%s has label %s=%q: a key or a value", name, l.GetName(), l.GetValue())
				}
				if l.GetValue() == "" {
					t.Errorf("%s has an empty label %s", name, l.GetName())
				}
			}
			if labelOf(m, "service") != "discovery" {
				t.Errorf("%s lacks the constant label", name)
			}
		}
	}

	// The near cache's size and the breaker's state come from the watched
	// cache at scrape time.
	if err := search.Set(ctx, "again", "v"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		search.Get(ctx, "again")
	}
	if n, _ := value(scrape(t, web.URL), "discovery_cache_near_cache_entries", map[string]string{"kind": "search"}); n != 1 {
		t.Errorf("near_cache_entries{search} = %v after one value was read twice; want 1", n)
	}
	srv.Stop()
	for range 10 {
		search.Get(ctx, "other")
	}
	fams = scrape(t, web.URL)
	if v, _ := value(fams, "discovery_cache_breaker_state", map[string]string{"state": "open"}); v != 1 {
		t.Errorf("breaker_state{state=open} = %v with Redis stopped after 10 failed calls; want 1", v)
	}
	if v, _ := value(fams, "discovery_cache_breaker_state", map[string]string{"state": "closed"}); v != 0 {
		t.Errorf("breaker_state{state=closed} = %v with the breaker open; want 0", v)
	}
}

// Before any operation, the series a dashboard sums or divides by exist,
// at 0: a healthy system shows 0, not "No data". A kind of the service's
// own starts with Watch.
func TestSeriesExistFromTheStart(t *testing.T) {
	srv := redistest.Start(t)
	rec := cacheprom.New(cacheprom.Options{ServerInfoEvery: -1})
	reg := prometheus.NewRegistry()
	reg.MustRegister(rec)
	c, err := cache.New(context.Background(), cache.Config{URL: srv.URL(), Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := cache.NewKind[string, string](c, "trending", time.Minute); err != nil {
		t.Fatal(err)
	}
	rec.Watch(c)
	web := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer web.Close()
	fams := scrape(t, web.URL)
	for _, kind := range []string{"search", "intent", "embedding", "custom", "trending"} {
		for _, want := range []struct {
			family string
			labels map[string]string
		}{
			{"discovery_cache_reads_total", map[string]string{"tier": "local", "outcome": "hit"}},
			{"discovery_cache_reads_total", map[string]string{"tier": "local", "outcome": "stale"}},
			{"discovery_cache_reads_total", map[string]string{"tier": "redis", "outcome": "miss"}},
			{"discovery_cache_reads_total", map[string]string{"tier": "redis", "outcome": "error"}},
			{"discovery_cache_errors_total", map[string]string{"op": "get", "class": "unavailable"}},
			{"discovery_cache_errors_total", map[string]string{"op": "set", "class": "serialization"}},
			{"discovery_cache_operations_total", map[string]string{"op": "load", "outcome": "ok"}},
			{"discovery_cache_operations_total", map[string]string{"op": "lease", "outcome": "hit"}},
			{"discovery_cache_operations_total", map[string]string{"op": "refresh", "outcome": "ok"}},
			{"discovery_cache_removed_keys_total", nil},
			{"discovery_cache_load_duration_seconds", map[string]string{"outcome": "ok"}},
			{"discovery_cache_fetch_duration_seconds", map[string]string{"outcome": "ok"}},
			{"discovery_cache_operation_duration_seconds", map[string]string{"op": "get", "tier": "redis"}},
			{"discovery_cache_near_cache_entries", nil},
			{"discovery_cache_near_cache_evictions_total", nil},
		} {
			labels := map[string]string{"kind": kind}
			for k, v := range want.labels {
				labels[k] = v
			}
			if n, ok := value(fams, want.family, labels); !ok || n != 0 {
				t.Errorf("%s%v = %v (present: %v) before any operation; want 0", want.family, labels, n, ok)
			}
		}
	}
	if _, ok := value(fams, "discovery_cache_removed_keys_total", map[string]string{"kind": "cache"}); !ok {
		t.Error("removed_keys_total{kind=cache} (ClearAll) is absent before any operation")
	}
	if _, ok := value(fams, "discovery_cache_reads_total", map[string]string{"kind": "cache"}); ok {
		t.Error("reads_total{kind=cache}: the whole cache has no reads")
	}
	if fams["discovery_cache_redis_used_memory_bytes"] != nil {
		t.Error("redis_used_memory_bytes with ServerInfoEvery < 0; want none")
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == "" {
					t.Errorf("%s has an empty label %s", name, l.GetName())
				}
			}
		}
	}
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// The Recorder's cost per event, against a Recorder that does nothing:
// what a near-cache hit pays for its metrics.
func BenchmarkRecord(b *testing.B) {
	rec := cacheprom.New(cacheprom.Options{})
	hit := cache.Event{Kind: cache.KindSearch, Op: cache.OpGet, Outcome: cache.OutcomeHit, Tier: cache.TierLocal, Latency: 300 * time.Nanosecond}
	b.Run("local-hit", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				rec.Record(hit)
			}
		})
	})
	var nop cache.RecorderFunc = func(cache.Event) {}
	b.Run("baseline-nop", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				nop.Record(hit)
			}
		})
	})
}

func BenchmarkRecordSequential(b *testing.B) {
	rec := cacheprom.New(cacheprom.Options{})
	hit := cache.Event{Kind: cache.KindSearch, Op: cache.OpGet, Outcome: cache.OutcomeHit, Tier: cache.TierLocal, Latency: 300 * time.Nanosecond}
	redis := hit
	redis.Tier = cache.TierRedis
	b.Run("local-hit", func(b *testing.B) {
		for range b.N {
			rec.Record(hit)
		}
	})
	b.Run("redis-hit", func(b *testing.B) {
		for range b.N {
			rec.Record(redis)
		}
	})
}

// A near-cache hit through Kind.Get with this Recorder, against the same
// hit with no Recorder, in one run.
func BenchmarkNearHit(b *testing.B) {
	srv := redistest.Start(b)
	for _, with := range []bool{false, true} {
		b.Run(fmt.Sprint("recorder=", with), func(b *testing.B) {
			cfg := cache.Config{URL: srv.URL()}
			if with {
				cfg.Recorder = cacheprom.New(cacheprom.Options{})
			}
			c, err := cache.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			search := cache.Search[string, string](c)
			ctx := context.Background()
			if err := search.Set(ctx, "q", "v"); err != nil {
				b.Fatal(err)
			}
			for deadline := time.Now().Add(5 * time.Second); c.Stats().Kinds[cache.KindSearch].LocalHits == 0; {
				search.Get(ctx, "q")
				if time.Now().After(deadline) {
					b.Fatal("never a near-cache hit")
				}
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					search.Get(ctx, "q")
				}
			})
		})
	}
}

// The near match's figures (FetchSimilar) are scraped for the kinds that
// have it on, every guard's series from the start.
func TestNearMatchMetrics(t *testing.T) {
	srv := redistest.Start(t)
	rec := cacheprom.New(cacheprom.Options{ServerInfoEvery: -1})
	reg := prometheus.NewRegistry()
	reg.MustRegister(rec)
	c, err := cache.New(context.Background(), cache.Config{URL: srv.URL(), Recorder: rec,
		Policies: map[string]cache.Policy{cache.KindSearch: {NearMatch: cache.NearMatch{Mode: cache.NearMatchServe, Model: "m"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec.Watch(c)
	web := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer web.Close()
	ctx := context.Background()
	search := cache.Search[string, string](c)
	vec := []float32{0.3, 0.1, 0.9, 0.2}
	load := func(v string) cache.LoaderFunc[string] {
		return func(context.Context) (string, error) { return v, nil }
	}
	for _, q := range []string{"Tom Hanks comedies from the 90s", "90s comedies with Tom Hanks", "Tom Hanks comedies from the 80s"} {
		if _, _, err := cache.FetchSimilar(ctx, search, q, vec, load(q)); err != nil {
			t.Fatal(err)
		}
	}
	fams := scrape(t, web.URL)
	for _, want := range []struct {
		family string
		labels map[string]string
		n      float64
	}{
		{"discovery_cache_near_match_searches_total", map[string]string{"outcome": "served"}, 1},
		{"discovery_cache_near_match_searches_total", map[string]string{"outcome": "refused"}, 1},
		{"discovery_cache_near_match_searches_total", map[string]string{"outcome": "no_neighbour"}, 1},
		{"discovery_cache_near_match_searches_total", map[string]string{"outcome": "agreed"}, 0},
		{"discovery_cache_near_match_searches_total", map[string]string{"outcome": "other"}, 0},
		{"discovery_cache_near_match_refusals_total", map[string]string{"guard": "numbers"}, 1},
		{"discovery_cache_near_match_refusals_total", map[string]string{"guard": "negations"}, 0},
		{"discovery_cache_near_match_entries", nil, 2},
		{"discovery_cache_near_match_gone_total", nil, 0},
		{"discovery_cache_near_match_problems_total", map[string]string{"problem": "invalid_vector"}, 0},
	} {
		labels := map[string]string{"kind": "search"}
		for k, v := range want.labels {
			labels[k] = v
		}
		if n, ok := value(fams, want.family, labels); !ok || n != want.n {
			t.Errorf("%s%v = %v (present: %v); want %v", want.family, labels, n, ok, want.n)
		}
	}
	if n, _ := value(fams, "discovery_cache_near_match_bytes", map[string]string{"kind": "search"}); n < 2*4*4 {
		t.Errorf("near_match_bytes = %v", n)
	}
	if _, ok := value(fams, "discovery_cache_near_match_entries", map[string]string{"kind": "intent"}); ok {
		t.Error("near-match series of a kind without it")
	}
}

package cache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/jsonshape"
)

func TestStatusJSON(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, []string](c)
	search.Set(ctx, "a", []string{"x"})
	search.Get(ctx, "a")
	search.Get(ctx, "missing")
	search.Fetch(ctx, "loaded", func(context.Context) ([]string, error) { return []string{"y"}, nil })

	raw, err := json.Marshal(c.Stats())
	if err != nil {
		t.Fatal(err)
	}
	v := jsonshape.Check(t, "Stats", raw, 60, "kinds", "keys")
	for p, want := range map[string]any{
		"kinds.search.hits": 1.0, "kinds.search.misses": 2.0, "kinds.search.loads": 1.0,
		"kinds.search.latency.get.count": 3.0, "kinds.search.latency.fetch.count": 1.0, "kinds.search.errors": 0.0, "breaker.state": "closed", "near_cache.on": true,
	} {
		if got := jsonshape.At(v, p); got != want {
			t.Errorf("Stats JSON %s = %v, want %v", p, got, want)
		}
	}
	if p50, _ := jsonshape.At(v, "kinds.search.latency.get.p50_seconds").(float64); p50 <= 0 {
		t.Errorf("Stats JSON: no p50_seconds for get: %s", raw)
	}
	if jsonshape.At(v, "breaker.next_probe") != nil || jsonshape.At(v, "breaker.last_error_at") != nil {
		t.Errorf("Stats JSON: zero times not left out: %s", raw)
	}
	if b, _ := jsonshape.At(v, "breaker.backoff_seconds").(float64); b <= 0 {
		t.Errorf("Stats JSON: backoff_seconds missing: %s", raw)
	}
	roundTrip(t, "Stats", raw, &cache.Stats{})

	h, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(h)
	v = jsonshape.Check(t, "Health", raw, 10, "kinds", "keys")
	if l, _ := v["latency_seconds"].(float64); l <= 0 || jsonshape.At(v, "breaker.state") != "closed" || v["connected"] != true {
		t.Errorf("Health JSON: %s", raw)
	}
	var back cache.Health
	if err := json.Unmarshal(raw, &back); err != nil || back.Latency != h.Latency || back.Breaker.State != cache.BreakerClosed {
		t.Errorf("Health JSON read back: %+v, %v; want latency %v", back, err, h.Latency)
	}

	st, err := c.ServerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(st)
	v = jsonshape.Check(t, "ServerStats", raw, 0, "kinds", "keys")
	if n, _ := v["used_memory_bytes"].(float64); n <= 0 || jsonshape.At(v, "keys.search") != 2.0 {
		t.Errorf("ServerStats JSON: %s", raw)
	}
	roundTrip(t, "ServerStats", raw, &cache.ServerStats{})

	key, _ := search.Key("a")
	in, err := c.Inspect(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(in)
	v = jsonshape.Check(t, "Inspection", raw, 1800, "kinds", "keys")
	if ttl, _ := v["ttl_seconds"].(float64); ttl < 1500 || ttl > 1800 || v["codec"] != "cbor" || v["exists"] != true {
		t.Errorf("Inspection JSON: %s", raw)
	}
	if _, err := time.Parse(time.RFC3339Nano, v["written_at"].(string)); err != nil {
		t.Errorf("Inspection JSON written_at: %v", err)
	}
	if got := jsonshape.At(v, "value"); !strings.Contains(string(raw), `"value":["x"]`) {
		t.Errorf("Inspection JSON value = %v, want [x]", got)
	}
	roundTrip(t, "Inspection", raw, &cache.Inspection{})
	raw0 := rawClient(t, redisURL(t))
	if err := raw0.Do(ctx, raw0.B().Set().Key(c.Namespace()+":forever").Value("1").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	in, _ = c.Inspect(ctx, c.Namespace()+":forever")
	if raw, _ = json.Marshal(in); !strings.Contains(string(raw), `"ttl_seconds":-1`) {
		t.Errorf("Inspection JSON of a key without expiry: %s, want ttl_seconds -1", raw)
	}
	in, _ = c.Inspect(ctx, key+"-none")
	raw, _ = json.Marshal(in)
	if v = jsonshape.Check(t, "Inspection", raw, 0, "kinds", "keys"); v["exists"] != false || v["ttl_seconds"] != nil || v["written_at"] != nil {
		t.Errorf("Inspection JSON of a missing key: %s, want no ttl_seconds nor written_at", raw)
	}

	sum, err := search.Warm(ctx, []string{"a", "w1", "w2"}, func(_ context.Context, q string) ([]string, error) {
		if q == "w2" {
			return nil, errors.New("backend down")
		}
		return []string{q}, nil
	}, cache.WarmOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(sum)
	v = jsonshape.Check(t, "WarmSummary", raw, 60, "kinds", "keys")
	if v["cached"] != 1.0 || v["loaded"] != 1.0 || v["failed"] != 1.0 || !strings.Contains(v["first_error"].(string), "backend down") {
		t.Errorf("WarmSummary JSON: %s", raw)
	}
	if took, _ := v["took_seconds"].(float64); took <= 0 {
		t.Errorf("WarmSummary JSON took_seconds: %s", raw)
	}
	roundTrip(t, "WarmSummary", raw, &cache.WarmSummary{})
}

// roundTrip decodes raw into into, encodes it again and fails t unless the
// two encodings are the same.
func roundTrip(t *testing.T, what string, raw []byte, into any) {
	t.Helper()
	if err := json.Unmarshal(raw, into); err != nil {
		t.Errorf("%s JSON does not decode: %v\n%s", what, err, raw)
		return
	}
	again, err := json.Marshal(into)
	if err != nil || string(again) != string(raw) {
		t.Errorf("%s JSON does not round-trip:\n%s\n%s (%v)", what, raw, again, err)
	}
}

func TestStatusJSONWithoutServer(t *testing.T) {
	t.Parallel()
	open := cache.BreakerStatus{State: cache.BreakerHalfOpen, Since: time.Unix(1700000000, 0).UTC(), Backoff: 1500 * time.Millisecond}
	raw, _ := json.Marshal(open)
	if want := `{"state":"half_open","since":"2023-11-14T22:13:20Z","failures":0,"opens":0,"backoff_seconds":1.5}`; string(raw) != want {
		t.Errorf("BreakerStatus JSON = %s, want %s", raw, want)
	}
	for _, bad := range []string{`{"state":2}`, `{"backoff_seconds":1e300}`, `{"backoff_seconds":9223372036.854775807}`} {
		if err := json.Unmarshal([]byte(bad), &cache.BreakerStatus{}); err == nil {
			t.Errorf("BreakerStatus from %s: no error", bad)
		}
	}
	// A newer writer's names (and a zero state's "unknown") are read as
	// the zero value, not refused: an older tool reads a newer service.
	var bs cache.BreakerStatus
	if err := json.Unmarshal([]byte(`{"state":"ajar","opens":2}`), &bs); err != nil || bs.State != 0 || bs.Opens != 2 {
		t.Errorf("BreakerStatus with a state of a newer version = %+v, %v; want state 0, the rest read", bs, err)
	}
	raw, _ = json.Marshal(cache.Health{})
	if err := json.Unmarshal(raw, &cache.Health{}); err != nil {
		t.Errorf("a zero Health's JSON %s does not decode: %v", raw, err)
	}
	var ks cache.KindStats
	if err := json.Unmarshal([]byte(`{"hits":1,"latency":{"teleport":{"count":1},"get":{"count":2}}}`), &ks); err != nil || ks.Hits != 1 || ks.Latency[cache.OpGet].Count != 2 {
		t.Errorf("KindStats with an operation of a newer version = %+v, %v; want the rest read", ks, err)
	}
	if err := json.Unmarshal([]byte(`{"hits":3,"latency":{"get_many":{"count":2,"p50_seconds":0.000125,"p99_seconds":0.002}}}`), &ks); err != nil ||
		ks.Hits != 3 || ks.Latency[cache.OpGetMany] != (cache.LatencySummary{Count: 2, P50: 125 * time.Microsecond, P99: 2 * time.Millisecond}) {
		t.Errorf("KindStats from JSON = %+v, %v", ks, err)
	}
	// A value's integers stay exact when an Inspection is read back.
	var in cache.Inspection
	if err := json.Unmarshal([]byte(`{"key":"k","exists":true,"value":{"id":9007199254740993}}`), &in); err != nil || fmt.Sprint(in.Value) != "map[id:9007199254740993]" {
		t.Errorf("Inspection read back = %v, %v; want the id exact", in.Value, err)
	}
	// A value JSON cannot hold is said, not failed.
	raw, err := json.Marshal(cache.Inspection{Key: "k", Exists: true, Codec: "float32le", Value: []float32{1, float32(math.NaN())}})
	if err != nil || !strings.Contains(string(raw), `"decode_error":"the value holds a number JSON cannot write (NaN)"`) || strings.Contains(string(raw), `"value"`) {
		t.Errorf("Inspection of a NaN = %s, %v", raw, err)
	}
}

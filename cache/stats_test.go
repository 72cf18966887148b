package cache_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

func TestStatsCounters(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, int](c)
	search.Set(ctx, "a", 1)
	search.Set(ctx, "b", 2)
	search.Get(ctx, "a")
	search.Get(ctx, "a")
	search.Get(ctx, "missing")
	search.Delete(ctx, "b")
	cache.Set(ctx, c, "k", 1, time.Minute)
	cache.Get[int](ctx, c, "k")
	cache.Search[string, chan int](c).Set(ctx, "c", make(chan int)) // an encoding error

	st := c.Stats()
	// The second read of "a" is answered by the near cache, which holds
	// "a" since the first.
	want := cache.KindStats{Hits: 2, LocalHits: 1, Misses: 1, Sets: 2, Deletes: 1, Errors: 1}
	got := st.Kinds[cache.KindSearch]
	lat, near := got.Latency, got.Near
	got.Latency, got.Near = nil, cache.NearStats{}
	if near.Entries != 1 || near.Bytes == 0 {
		t.Errorf("near cache of search: %+v, want 1 entry (\"a\") and its bytes", near)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("search figures %+v, want %+v", got, want)
	}
	for op, n := range map[cache.Op]uint64{cache.OpGet: 3, cache.OpSet: 3, cache.OpDelete: 1} {
		if s := lat[op]; s.Count != n || s.P50 <= 0 || s.P99 < s.P50 {
			t.Errorf("latency of %v: %+v, want %d timed operations with p50 <= p99", op, s, n)
		}
	}
	if len(lat) != 3 {
		t.Errorf("latency summaries for %d operations, want get, set and delete only: %v", len(lat), lat)
	}
	if got := st.Kinds[cache.KindCustom]; got.Hits != 1 || got.Sets != 1 {
		t.Errorf("custom figures %+v, want 1 hit and 1 set", got)
	}
	if got := st.Total(); got.Hits != 3 || got.Sets != 3 {
		t.Errorf("total %+v, want 3 hits and 3 sets", got)
	}
	if names := strings.Join(st.Names(), ","); names != "custom,embedding,intent,search" {
		t.Errorf("Names = %s", names)
	}
	if (cache.KindStats{}).HitRate() != 0 {
		t.Error("HitRate before any read should be 0")
	}
}

func TestHealthAndServerStats(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	h, err := c.Health(ctx)
	if err != nil || h.Latency <= 0 {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	for i := range 3 {
		cache.Search[int, int](c).Set(ctx, i, i)
	}
	cache.Intents[int](c, "").Set(ctx, "x", 1)
	cache.Set(ctx, c, "user:1", 1, time.Minute)
	st, err := c.ServerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.UsedMemory <= 0 || st.MaxMemoryPolicy == "" {
		t.Errorf("memory figures missing: %+v", st)
	}
	if st.Keys[cache.KindSearch] != 3 || st.Keys[cache.KindIntent] != 1 || st.Keys["user"] != 1 || st.TotalKeys != 5 {
		t.Errorf("key counts %v (total %d); want search 3, intent 1, user 1", st.Keys, st.TotalKeys)
	}
	info, err := c.ServerInfo(ctx)
	if err != nil || info.UsedMemory <= 0 || info.MaxMemoryPolicy != st.MaxMemoryPolicy || info.Keys != nil || info.TotalKeys != 0 {
		t.Errorf("ServerInfo = %+v, %v; want the memory figures, and no key counted", info, err)
	}
	before := st.KeyspaceHits
	cache.Search[int, int](c).Get(ctx, 0)
	if st, _ := c.ServerStats(ctx); st.KeyspaceHits <= before {
		t.Errorf("keyspace_hits did not grow after a hit: %d then %d", before, st.KeyspaceHits)
	}
}

func TestLogging(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	c := newCache(t, func(cfg *cache.Config) {
		cfg.Logger = logs.logger()
		cfg.URL = strings.Replace(redisURL(t), "redis://", "redis://default:hunter2@", 1)
	})
	ctx := context.Background()
	search := cache.Search[string, int](c)
	search.Get(ctx, "q")
	search.Set(ctx, "q", 1)
	search.Get(ctx, "q")
	cache.Search[string, chan int](c).Set(ctx, "bad", make(chan int)) // ErrSerialization
	cache.Set(ctx, c, "k", 1, -1)                                     // ErrInvalidArgument
	out := logs.String()
	for _, want := range []string{
		`level=DEBUG msg="cache connected" url=redis://default:xxxxx@`,
		`level=DEBUG msg="cache miss" kind=search key=` + c.Namespace() + ":search:",
		`level=DEBUG msg="cache hit" kind=search`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// A returned error is the caller's to log, and a misuse is no outage:
	// neither is logged as a warning.
	if strings.Contains(out, "level=WARN") {
		t.Errorf("returned errors were logged at warn:\n%s", out)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("log leaks the password:\n%s", out)
	}
}

// ServerStats reports maxmemory and the keys the server evicted: a cache
// larger than its Redis shows.
func TestServerStatsEvictions(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
	c, err := cache.New(ctxT(t), cache.Config{URL: srv.URL(), CompressMinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	value := strings.Repeat("x", 10<<10)
	for i := range 1000 { // 10 MB into 4
		if err := cache.Search[int, string](c).Set(ctx, i, value); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.ServerStats(ctx)
	if err != nil || st.MaxMemory != 4<<20 || st.EvictedKeys == 0 || st.MaxMemoryPolicy != "allkeys-lru" {
		t.Errorf("ServerStats after 10 MB into a 4 MB server = maxmemory %d, evicted %d, policy %q, %v",
			st.MaxMemory, st.EvictedKeys, st.MaxMemoryPolicy, err)
	}
}

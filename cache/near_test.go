package cache_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// lastRead returns the tier and outcome of the last read rec received.
func lastRead(t *testing.T, rec *events) (cache.Tier, cache.Outcome) {
	t.Helper()
	evs := rec.take()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Op == cache.OpGet {
			return evs[i].Tier, evs[i].Outcome
		}
	}
	t.Fatal("no read recorded")
	return 0, 0
}

// The second read of a key is answered by the near cache: no round trip,
// the same decoded value (shared: read-only for callers), counted apart.
func TestNearCacheHit(t *testing.T) {
	t.Parallel()
	rec := new(events)
	c := newCache(t, func(cfg *cache.Config) { cfg.Recorder = rec })
	ctx := ctxT(t)
	if h, err := c.Health(ctx); err != nil || !h.NearCache.On || h.NearCache.Reason != "" {
		t.Fatalf("Health = %+v, %v; want the near cache on", h, err)
	}
	emb := embeddings(t, c, "m")
	if err := emb.Set(ctx, "text", []float32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	first, ok, err := emb.Get(ctx, "text")
	if tier, outcome := lastRead(t, rec); !ok || err != nil || tier != cache.TierRedis || outcome != cache.OutcomeHit {
		t.Fatalf("first read: %v %v, tier %v %v; want a hit from Redis", ok, err, tier, outcome)
	}
	second, ok, err := emb.Get(ctx, "text")
	if tier, outcome := lastRead(t, rec); !ok || err != nil || tier != cache.TierLocal || outcome != cache.OutcomeHit {
		t.Fatalf("second read: %v %v, tier %v %v; want a hit from the near cache", ok, err, tier, outcome)
	}
	if &first[0] != &second[0] || !slices.Equal(second, []float32{1, 2, 3}) {
		t.Errorf("near-cache hit %v is not the value decoded by the first read %v", second, first)
	}
	st := c.Stats()
	if k := st.Kinds[cache.KindEmbedding]; k.Hits != 2 || k.LocalHits != 1 || k.Near.Entries != 1 || k.Near.Bytes < 12 {
		t.Errorf("embedding figures %+v, want 2 hits, 1 of them local, 1 entry of 12 bytes and more", k)
	}
	if !st.NearCache.On {
		t.Errorf("Stats().NearCache = %+v, want on", st.NearCache)
	}

	// Views whose keys differ for one input (two models) never share a
	// near-cache entry or a remembered key.
	other := embeddings(t, c, "other-model")
	if err := other.Set(ctx, "text", []float32{9}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		a, _, _ := emb.Get(ctx, "text")
		b, _, _ := other.Get(ctx, "text")
		if !slices.Equal(a, []float32{1, 2, 3}) || !slices.Equal(b, []float32{9}) {
			t.Fatalf("two models' vectors of one text: %v and %v", a, b)
		}
	}

	// A view of an interface type never takes another view's value from
	// the near cache: it decodes its own, as it would from Redis.
	type user struct{ Name string }
	if err := cache.Set(ctx, c, "u", user{"ada"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	cache.Get[user](ctx, c, "u")
	cache.Get[user](ctx, c, "u")
	if v, _, err := cache.Get[any](ctx, c, "u"); err != nil {
		t.Fatal(err)
	} else if _, isMap := v.(map[string]any); !isMap {
		t.Errorf("Get[any] = %#v, want the map Redis' value decodes into", v)
	}

	// This process's own writes are seen at once.
	if err := emb.Set(ctx, "text", []float32{4}); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := emb.Get(ctx, "text"); !slices.Equal(v, []float32{4}) {
		t.Errorf("after Set, Get = %v, want [4]", v)
	}
	emb.Get(ctx, "text")
	if _, err := emb.Delete(ctx, "text"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := emb.Get(ctx, "text"); ok || err != nil {
		t.Errorf("after Delete, Get = %v, %v, %v; want a miss", v, ok, err)
	}

	// After Close, the near cache answers nothing either.
	emb.Set(ctx, "text", []float32{5})
	emb.Get(ctx, "text")
	emb.Get(ctx, "text")
	c.Close()
	if _, _, err := emb.Get(ctx, "text"); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
}

// writers are the ways another party changes a key the near cache holds.
var writers = []struct {
	name  string
	write func(ctx context.Context, t *testing.T, other *cache.RedisCache, raw rueidis.Client, url, key string, v int)
}{
	{"another instance's Set", func(ctx context.Context, t *testing.T, other *cache.RedisCache, _ rueidis.Client, _, _ string, v int) {
		if err := cache.Search[string, int](other).Set(ctx, "q", v); err != nil {
			t.Fatal(err)
		}
	}},
	{"redis-cli", func(ctx context.Context, t *testing.T, other *cache.RedisCache, _ rueidis.Client, url, key string, v int) {
		// The value is written by the other instance under a scratch key,
		// then copied over key by a redis-cli process.
		if err := cache.Set(ctx, other, "scratch", v, time.Minute); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(ctx, "redis-cli", "-u", url, "COPY", other.Namespace()+":scratch", key, "REPLACE").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Fatalf("redis-cli COPY: %s, %v", out, err)
		}
	}},
	{"another client's UNLINK", func(ctx context.Context, t *testing.T, _ *cache.RedisCache, raw rueidis.Client, _, key string, _ int) {
		if err := raw.Do(ctx, raw.B().Unlink().Key(key).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}},
	{"another instance's ClearKind", func(ctx context.Context, t *testing.T, other *cache.RedisCache, _ rueidis.Client, _, _ string, _ int) {
		if _, err := other.ClearKind(ctx, cache.KindSearch); err != nil {
			t.Fatal(err)
		}
	}},
}

// A write by any other client removes the near cache's copy: the next
// reads see it within a few milliseconds. The delay from the write's
// return to the first read that sees it is measured and logged; the
// assertion is generous (a second), the figure is the point.
func TestNearCacheSeesOtherWriters(t *testing.T) {
	t.Parallel()
	url := redisURL(t)
	ns := uniqueNamespace(t)
	same := func(cfg *cache.Config) { cfg.Namespace = ns }
	c, other := newCache(t, same), newCache(t, same)
	raw := rawClient(t, url)
	ctx := ctxT(t)
	search := cache.Search[string, int](c)
	key, _ := search.Key("q")
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			const rounds = 40
			var delays []time.Duration
			for i := range rounds {
				old, next := 2*i+1, 2*i+2 // never 0, which a deleted key reads as
				if err := search.Set(ctx, "q", old); err != nil {
					t.Fatal(err)
				}
				// Read until the near cache answers: the server's invalidation
				// of this very Set may still spoil the first reads.
				for deadline := time.Now().Add(time.Second); ; {
					before := c.Stats().Kinds[cache.KindSearch].LocalHits
					v, _, _ := search.Get(ctx, "q")
					if v != old {
						t.Fatalf("round %d: read %d, want %d", i, v, old)
					}
					if c.Stats().Kinds[cache.KindSearch].LocalHits > before {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("round %d: the near cache never answered", i)
					}
				}
				w.write(ctx, t, other, raw, url, key, next)
				written := time.Now()
				for {
					v, _, err := search.Get(ctx, "q")
					if err != nil {
						t.Fatal(err)
					}
					if v != old {
						delays = append(delays, time.Since(written))
						break
					}
					if time.Since(written) > time.Second {
						t.Fatalf("round %d: still reading %d a second after the write", i, v)
					}
					time.Sleep(50 * time.Microsecond)
				}
			}
			slices.Sort(delays)
			t.Logf("write seen after: p50 %v, p90 %v, max %v (%d rounds)",
				delays[len(delays)/2], delays[len(delays)*9/10], delays[len(delays)-1], rounds)
		})
	}
}

// An invalidation that arrives while a read of the same key is in flight
// (Redis answered with the old value, the answer is not yet in the near
// cache) must not leave the old value cached.
func TestNearCacheInvalidationDuringRead(t *testing.T) {
	t.Parallel()
	rec := new(events)
	c := newCache(t, func(cfg *cache.Config) { cfg.Recorder = rec })
	raw := rawClient(t, redisURL(t))
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	key, _ := search.Key("q")
	if err := search.Set(ctx, "q", "old"); err != nil {
		t.Fatal(err)
	}
	// The test writes the key from another client while the cache's read
	// is held between Redis' answer and the near cache, and waits for the
	// server's invalidation of that write to reach the cache.
	invalidated := make(chan string, 16)
	cache.SetInvalidationHook(c, func(k string) { invalidated <- k })
	var once sync.Once
	cache.SetNearReadHook(c, func(k string) {
		once.Do(func() {
			bytes, err := raw.Do(ctx, raw.B().Get().Key(key).Build()).AsBytes()
			if err != nil {
				t.Error(err)
				return
			}
			// Same bytes, a new write: Redis invalidates all the same. A
			// value the test can tell apart comes next.
			raw.Do(ctx, raw.B().Set().Key(key).Value(string(bytes)).Build())
			for got := range invalidated {
				if got == key {
					return
				}
			}
		})
	})
	if v, ok, err := search.Get(ctx, "q"); v != "old" || !ok || err != nil {
		t.Fatalf("held read: %q %v %v", v, ok, err)
	}
	if n := c.Stats().Kinds[cache.KindSearch].Near.Entries; n != 0 {
		t.Errorf("the near cache holds %d entries after a read that met an invalidation; want 0", n)
	}
	// A value read before a change that has since been invalidated would
	// answer this read from the near cache.
	rec.take()
	search.Get(ctx, "q")
	if tier, _ := lastRead(t, rec); tier != cache.TierRedis {
		t.Errorf("the read after the race was answered by tier %v; want Redis", tier)
	}
}

// A flush (the read's connection closed: its invalidations may be lost)
// during a read in flight spoils that read too, and after a reconnection no
// read is stale: every value written while the cache was cut off is seen.
func TestNearCacheFlushOnReconnect(t *testing.T) {
	t.Parallel()
	srv, c := privateCache(t)
	_, writer := privateCacheOn(t, srv)
	ctx := ctxT(t)
	search := cache.Search[int, int](c)
	other := cache.Search[int, int](writer)
	const keys = 100
	for i := range keys {
		if err := other.Set(ctx, i, i); err != nil {
			t.Fatal(err)
		}
		search.Get(ctx, i)
	}
	if n := c.Stats().Kinds[cache.KindSearch].Near.Entries; n != keys {
		t.Fatalf("near cache holds %d entries, want %d", n, keys)
	}

	// A read held while the server restarts: its answer predates the
	// restart and must not be kept.
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cache.SetNearReadHook(c, func(string) { once.Do(func() { close(held); <-release }) })
	heldKey := keys + 1
	if err := other.Set(ctx, heldKey, 1); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); search.Get(ctx, heldKey) }()
	<-held
	flushes := c.Stats().NearCache.Flushes
	srv.Restart(t) // the data is gone; the cache's connection with it
	for deadline := time.Now().Add(5 * time.Second); c.Stats().NearCache.Flushes == flushes; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection closed, and the near cache was not flushed")
		}
	}
	close(release)
	<-done
	if n := c.Stats().Kinds[cache.KindSearch].Near.Entries; n != 0 {
		t.Fatalf("near cache holds %d entries after the connection closed; want 0", n)
	}

	// Values written while the cache was cut off are all seen.
	for i := range keys {
		for {
			err := other.Set(ctx, i, -i)
			if err == nil {
				break
			}
			if !errors.Is(err, cache.ErrUnavailable) {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // the writer reconnecting
		}
	}
	stale := 0
	for i := range keys {
		if v, ok, err := search.Get(ctx, i); err != nil || !ok || v != -i {
			stale++
		}
	}
	if stale != 0 {
		t.Errorf("%d stale reads of %d after a reconnect; want 0", stale, keys)
	}
}

// privateCacheOn returns another cache on srv.
func privateCacheOn(t *testing.T, srv *redistest.Server) (*redistest.Server, *cache.RedisCache) {
	t.Helper()
	c, err := cache.New(ctxT(t), cache.Config{URL: srv.URL(), OperationTimeout: 200 * time.Millisecond, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

// A near-cache entry never outlives its key in Redis, even when nothing
// tells the cache that the key is gone (here the server's active expiry is
// off, so an expired key sends no invalidation until it is touched), nor
// Config.NearCacheMaxAge.
func TestNearCacheEntryLifetime(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--enable-debug-command", "yes")
	raw := rawClient(t, srv.URL())
	ctx := ctxT(t)
	if err := raw.Do(ctx, raw.B().Arbitrary("DEBUG", "SET-ACTIVE-EXPIRE").Args("0").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	rec := new(events)
	c, err := cache.New(ctx, cache.Config{URL: srv.URL(), Recorder: rec, NearCacheMaxAge: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	t.Run("key TTL", func(t *testing.T) {
		if err := cache.Set(ctx, c, "short", 1, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		cache.Get[int](ctx, c, "short")
		cache.Get[int](ctx, c, "short")
		if tier, _ := lastRead(t, rec); tier != cache.TierLocal {
			t.Fatalf("second read from tier %v, want the near cache", tier)
		}
		time.Sleep(150 * time.Millisecond) // the key's TTL passes
		if v, ok, err := cache.Get[int](ctx, c, "short"); ok || err != nil {
			t.Errorf("after the key's TTL: %v %v %v, want a miss", v, ok, err)
		}
	})
	t.Run("NearCacheMaxAge", func(t *testing.T) {
		if err := cache.Set(ctx, c, "long", 1, time.Hour); err != nil {
			t.Fatal(err)
		}
		cache.Get[int](ctx, c, "long")
		cache.Get[int](ctx, c, "long")
		if tier, _ := lastRead(t, rec); tier != cache.TierLocal {
			t.Fatalf("second read from tier %v, want the near cache", tier)
		}
		time.Sleep(350 * time.Millisecond) // NearCacheMaxAge passes
		cache.Get[int](ctx, c, "long")
		if tier, outcome := lastRead(t, rec); tier != cache.TierRedis || outcome != cache.OutcomeHit {
			t.Errorf("after NearCacheMaxAge: %v from %v, want a hit from Redis", outcome, tier)
		}
	})
}

// The near cache is off when configured so, and when the server or the
// client cannot keep it coherent; Health says why, and every read goes to
// Redis.
func TestNearCacheOff(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv.URL())
	// A user who may not use CLIENT: the server refuses CLIENT TRACKING.
	if err := raw.Do(ctx, raw.B().Arbitrary("ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-client").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	noClient := strings.Replace(srv.URL(), "redis://", "redis://app:pw@", 1)
	// A user who may not ask a key's TTL: entries could not be bounded by it.
	if err := raw.Do(ctx, raw.B().Arbitrary("ACL", "SETUSER", "nottl", "on", ">pw", "~*", "&*", "+@all", "-pttl").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	noPTTL := strings.Replace(srv.URL(), "redis://", "redis://nottl:pw@", 1)
	for _, tc := range []struct {
		name   string
		cfg    cache.Config
		reason string
	}{
		{"configured", cache.Config{URL: srv.URL(), NearCacheBytes: -1}, "Config.NearCacheBytes"},
		{"server refuses tracking", cache.Config{URL: noClient}, "client tracking"},
		{"client drops invalidations", cache.Config{URL: srv.URL(), OperationTimeout: 100 * time.Millisecond,
			ClientBuilder: func(opt rueidis.ClientOption) (rueidis.Client, error) {
				opt.OnInvalidations = nil
				return rueidis.NewClient(opt)
			}}, "invalidations reach the cache failed"},
		{"server refuses PTTL", cache.Config{URL: noPTTL}, "invalidations reach the cache failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := new(events)
			logs := new(logBuffer)
			tc.cfg.Recorder, tc.cfg.Logger = rec, logs.logger()
			c, err := cache.New(ctx, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			h, err := c.Health(ctx)
			if err != nil || h.NearCache.On || !strings.Contains(h.NearCache.Reason, tc.reason) {
				t.Errorf("Health = %+v, %v; want the near cache off because of %q", h, err, tc.reason)
			}
			if tc.cfg.NearCacheBytes >= 0 && !strings.Contains(logs.String(), "near cache off") {
				t.Errorf("the log does not say the near cache is off:\n%s", logs)
			}
			search := cache.Search[string, int](c)
			if err := search.Set(ctx, "q", 1); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, ok, err := search.Get(ctx, "q"); !ok || err != nil {
					t.Fatalf("Get: %v %v", ok, err)
				}
				if tier, _ := lastRead(t, rec); tier != cache.TierRedis {
					t.Errorf("read answered by %v with the near cache off", tier)
				}
			}
			if k := c.Stats().Kinds[cache.KindSearch]; k.LocalHits != 0 || k.Near != (cache.NearStats{}) {
				t.Errorf("near figures %+v with the near cache off", k)
			}
		})
	}
}

// Many readers and writers in two instances: once the writes stop and
// their invalidations have arrived, every read of the first instance
// agrees with Redis.
func TestNearCacheConverges(t *testing.T) {
	t.Parallel()
	ns := uniqueNamespace(t)
	same := func(cfg *cache.Config) { cfg.Namespace = ns }
	a, b := newCache(t, same), newCache(t, same)
	ctx := ctxT(t)
	const keys, rounds = 20, 200
	var wg sync.WaitGroup
	for w, c := range []*cache.RedisCache{a, b, a, b} {
		kd := cache.Search[int, string](c)
		wg.Go(func() {
			for i := range rounds {
				kd.Set(ctx, i%keys, fmt.Sprintf("w%d-%d", w, i))
				kd.Get(ctx, (i+7)%keys)
			}
		})
		wg.Go(func() {
			for i := range rounds * 2 {
				kd.Get(ctx, i%keys)
			}
		})
	}
	wg.Wait()
	// Each key must come to agree with Redis (read through a third
	// instance without a near cache) as soon as the last invalidations
	// have arrived; a stale entry nothing invalidates would stay for
	// NearCacheMaxAge (a minute).
	ref := cache.Search[int, string](newCache(t, same, func(cfg *cache.Config) { cfg.NearCacheBytes = -1 }))
	kd := cache.Search[int, string](a)
	stale := 0
	for i := range keys {
		want, _, err := ref.Get(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
			if got, _, _ := kd.Get(ctx, i); got == want {
				break
			} else if time.Now().After(deadline) {
				t.Logf("key %d: near cache %q, Redis %q", i, got, want)
				stale++
				break
			}
		}
	}
	if stale != 0 {
		t.Errorf("%d of %d keys disagree with Redis after the writes stopped", stale, keys)
	}
	if a.Stats().Kinds[cache.KindSearch].LocalHits == 0 {
		t.Error("no read was answered by the near cache: the test proves nothing")
	}
}

// The near cache of a kind holds no more than Config.NearCacheBytes.
func TestNearCacheBound(t *testing.T) {
	t.Parallel()
	const bound = 64 << 10
	c := newCache(t, func(cfg *cache.Config) { cfg.NearCacheBytes = bound })
	ctx := ctxT(t)
	emb := embeddings(t, c, "m")
	vec := make([]float32, 1536) // 6 KiB a vector: about ten fit
	for i := range 100 {
		text := fmt.Sprint(i)
		if err := emb.Set(ctx, text, vec); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := emb.Get(ctx, text); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	near := c.Stats().Kinds[cache.KindEmbedding].Near
	if near.Bytes > bound || near.Entries > 11 || near.Entries == 0 {
		t.Errorf("near cache %+v after 100 vectors of 6 KiB, want at most %d bytes", near, bound)
	}
}

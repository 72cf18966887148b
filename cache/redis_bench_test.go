package cache_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/fixtures"
)

// BenchmarkGetHit measures a cache hit end to end against the real Redis of
// the test run. raw-get is the baseline: a plain rueidis GET of the same
// bytes, with no key derivation and no decoding; the cache rows (near cache
// off: every hit from Redis) show what the cache adds on top of the round
// trip, and the near rows what a hit costs when the near cache holds the
// value.
func BenchmarkGetHit(b *testing.B) {
	ctx := context.Background()
	c := newCache(b, func(cfg *cache.Config) { cfg.NearCacheBytes = -1 })
	raw := rawClient(b, redisURL(b))
	search := cache.Search[string, []fixtures.Hit](c)
	if err := search.Set(ctx, "star wars", fixtures.Hits(20)); err != nil {
		b.Fatal(err)
	}
	vec := fixtures.Vector(1536)
	emb := embeddings(b, c, "text-embedding-3-small")
	if err := emb.Set(ctx, "a heist thriller", vec); err != nil {
		b.Fatal(err)
	}
	searchKey, _ := search.Key("star wars")
	embKey, _ := emb.Key("a heist thriller")
	run := func(name string, op func() error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16) // 32 goroutines on 2 cores: auto-pipelining at work
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	run("search-20/raw-get", func() error { return raw.Do(ctx, raw.B().Get().Key(searchKey).Build()).Error() })
	run("search-20/cache", func() error { _, _, err := search.Get(ctx, "star wars"); return err })
	run("embedding-1536/raw-get", func() error { return raw.Do(ctx, raw.B().Get().Key(embKey).Build()).Error() })
	run("embedding-1536/cache", func() error { _, _, err := emb.Get(ctx, "a heist thriller"); return err })
	near := newCache(b)
	searchNear := cache.Search[string, []fixtures.Hit](near)
	embNear := embeddings(b, near, "text-embedding-3-small")
	if err := searchNear.Set(ctx, "star wars", fixtures.Hits(20)); err != nil {
		b.Fatal(err)
	}
	if err := embNear.Set(ctx, "a heist thriller", vec); err != nil {
		b.Fatal(err)
	}
	run("search-20/near", func() error { _, _, err := searchNear.Get(ctx, "star wars"); return err })
	run("embedding-1536/near", func() error { _, _, err := embNear.Get(ctx, "a heist thriller"); return err })
	// Fetch adds the early-refresh check (Policy.EarlyRefresh) to a hit.
	run("embedding-1536/near-fetch", func() error {
		_, err := embNear.Fetch(ctx, "a heist thriller", func(context.Context) ([]float32, error) { return vec, nil })
		return err
	})
	// A caller deadline sooner than Config.OperationTimeout is used as it
	// is: no second timer.
	short, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	cShort := newCache(b, func(cfg *cache.Config) { cfg.OperationTimeout, cfg.NearCacheBytes = 2*time.Hour, -1 })
	embShort := embeddings(b, cShort, "text-embedding-3-small")
	if err := embShort.Set(ctx, "a heist thriller", vec); err != nil {
		b.Fatal(err)
	}
	run("embedding-1536/cache-caller-deadline", func() error { _, _, err := embShort.Get(short, "a heist thriller"); return err })
	run("embedding-1536/fetch-hit", func() error {
		_, err := emb.Fetch(ctx, "a heist thriller", func(context.Context) ([]float32, error) { return vec, nil })
		return err
	})
}

// BenchmarkSet measures storing a value; raw-set is a plain SET PX of the
// same size.
func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	c := newCache(b)
	raw := rawClient(b, redisURL(b))
	emb := embeddings(b, c, "text-embedding-3-small")
	vec := fixtures.Vector(1536)
	key, _ := emb.Key("a heist thriller")
	payload := string(make([]byte, 12+4*1536))
	b.Run("embedding-1536/raw-set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := raw.Do(ctx, raw.B().Set().Key(key).Value(payload).PxMilliseconds(3600000).Build()).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("embedding-1536/cache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := emb.Set(ctx, "a heist thriller", vec); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSetParallel measures writes from 8 goroutines, where client CPU
// and allocations count more than the round trip; raw-set stores the
// cache's own stored bytes, so it encodes nothing.
func BenchmarkSetParallel(b *testing.B) {
	ctx := context.Background()
	c := newCache(b, func(cfg *cache.Config) { cfg.NearCacheBytes = -1 })
	raw := rawClient(b, redisURL(b))
	search := cache.Search[string, []fixtures.Hit](c)
	emb := embeddings(b, c, "text-embedding-3-small")
	hits, vec := fixtures.Hits(20), fixtures.Vector(1536)
	search.Set(ctx, "star wars", hits)
	emb.Set(ctx, "a heist thriller", vec)
	for _, tc := range []struct {
		name string
		key  string
		set  func() error
	}{
		{"search-20", func() string { k, _ := search.Key("star wars"); return k }(), func() error { return search.Set(ctx, "star wars", hits) }},
		{"embedding-1536", func() string { k, _ := emb.Key("a heist thriller"); return k }(), func() error { return emb.Set(ctx, "a heist thriller", vec) }},
	} {
		stored, err := raw.Do(ctx, raw.B().Get().Key(tc.key).Build()).AsBytes()
		if err != nil {
			b.Fatal(err)
		}
		for _, row := range []struct {
			name string
			op   func() error
		}{
			{"raw-set", func() error {
				return raw.Do(ctx, raw.B().Set().Key(tc.key+"-raw").Value(rueidis.BinaryString(stored)).PxMilliseconds(3600000).Build()).Error()
			}},
			{"cache", tc.set},
		} {
			b.Run(tc.name+"/"+row.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(4) // 8 goroutines on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := row.op(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkBatchEmbeddings looks up a batch of 100 texts of which 80 are
// cached (1536-dimension vectors, as text-embedding-3-small's) and computes
// the 20 others with a fake embedder that answers at once with vectors
// made beforehand, so that only the cache's work shows. Rows:
// sequential (100 Fetches, one round trip each, plus one per store),
// fetch-many with the near cache off and on, and raw, the baseline written
// by hand on rueidis: one MGET, float32 decoding of the hits, and the
// misses' SETs pipelined. Between iterations the 20 computed vectors are
// removed again (not timed).
func BenchmarkBatchEmbeddings(b *testing.B) {
	ctx := context.Background()
	const n, cached, dims = 100, 80, 1536
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("batch text %d", i)
	}
	vector := fixtures.Vector(dims)
	embed := func(_ context.Context, ins []string) ([][]float32, error) {
		out := make([][]float32, len(ins))
		for i := range out {
			out[i] = vector
		}
		return out, nil
	}
	raw := rawClient(b, redisURL(b))
	setup := func(b *testing.B, near int) (*cache.Kind[string, []float32], []string) {
		c := newCache(b, func(cfg *cache.Config) { cfg.NearCacheBytes = near })
		emb := embeddings(b, c, "m")
		vals, _ := embed(ctx, texts[:cached])
		if err := emb.SetMany(ctx, texts[:cached], vals); err != nil {
			b.Fatal(err)
		}
		keys := make([]string, n)
		for i, t := range texts {
			keys[i], _ = emb.Key(t)
		}
		return emb, keys
	}
	forget := func(b *testing.B, keys []string) {
		b.StopTimer()
		cmds := make(rueidis.Commands, 0, n-cached)
		for _, k := range keys[cached:] {
			cmds = append(cmds, raw.B().Unlink().Key(k).Build())
		}
		raw.DoMulti(ctx, cmds...)
		b.StartTimer()
	}
	b.Run("sequential", func(b *testing.B) {
		emb, keys := setup(b, -1)
		for b.Loop() {
			for _, t := range texts {
				if _, err := emb.Fetch(ctx, t, func(ctx context.Context) ([]float32, error) {
					v, err := embed(ctx, []string{t})
					return v[0], err
				}); err != nil {
					b.Fatal(err)
				}
			}
			forget(b, keys)
		}
	})
	for _, near := range []struct {
		name  string
		bytes int
	}{{"fetch-many", -1}, {"fetch-many-near", 0}} {
		b.Run(near.name, func(b *testing.B) {
			emb, keys := setup(b, near.bytes)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := emb.FetchMany(ctx, texts, embed); err != nil {
					b.Fatal(err)
				}
				forget(b, keys)
			}
		})
	}
	b.Run("raw", func(b *testing.B) {
		_, keys := setup(b, -1)
		b.ReportAllocs()
		for b.Loop() {
			arr, err := raw.Do(ctx, raw.B().Mget().Key(keys...).Build()).ToArray()
			if err != nil {
				b.Fatal(err)
			}
			var miss []int
			vals := make([][]float32, n)
			for i, m := range arr {
				s, err := m.ToString()
				if err != nil {
					miss = append(miss, i)
					continue
				}
				v := make([]float32, len(s)/4)
				for j := range v {
					v[j] = math.Float32frombits(binary.LittleEndian.Uint32([]byte(s[4*j:])))
				}
				vals[i] = v
			}
			ins := make([]string, len(miss))
			for j, i := range miss {
				ins[j] = texts[i]
			}
			computed, _ := embed(ctx, ins)
			cmds := make(rueidis.Commands, len(miss))
			for j, i := range miss {
				buf := make([]byte, 4*len(computed[j]))
				for d, f := range computed[j] {
					binary.LittleEndian.PutUint32(buf[4*d:], math.Float32bits(f))
				}
				cmds[j] = raw.B().Set().Key(keys[i]).Value(rueidis.BinaryString(buf)).Px(time.Hour).Build()
			}
			for _, r := range raw.DoMulti(ctx, cmds...) {
				if err := r.Error(); err != nil {
					b.Fatal(err)
				}
			}
			forget(b, keys)
		}
	})
}

// BenchmarkAdaptiveTTL replays one Zipf workload (s = 1.1 over 20,000
// queries, 2,000 Fetches a second for 12 s, in compressed time: a TTL of
// 2 s stands for 30 min) against a kind with a fixed TTL and an adaptive
// one (ColdTTL 0.5 s, MaxTTL 8 s), and reports the hit rate, the loads a
// second, and the keys held in Redis (sampled every 250 ms; with values of
// one size, a measure of memory). Early refresh and the near cache are off
// in both, so that only the TTLs differ. Run it once:
//
//	go test ./cache -run '^$' -bench AdaptiveTTL -benchtime 1x
func BenchmarkAdaptiveTTL(b *testing.B) {
	const (
		queries = 20_000
		rate    = 2000 // Fetches a second
		run     = 12 * time.Second
	)
	value := make([]byte, 1024)
	for _, tc := range []struct {
		name   string
		policy cache.Policy
	}{
		{"fixed", cache.Policy{EarlyRefresh: -1}},
		{"adaptive", cache.Policy{EarlyRefresh: -1, Adaptive: true, ColdTTL: 500 * time.Millisecond, MaxTTL: 8 * time.Second}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := newCache(b, func(cfg *cache.Config) {
				cfg.NearCacheBytes = -1
				cfg.Policies = map[string]cache.Policy{"replay": tc.policy}
			})
			kd, err := cache.NewKind[int, []byte](c, "replay", 2*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			load := func(context.Context) ([]byte, error) { return value, nil }
			var hitRate, loadRate, keys float64
			for b.Loop() {
				zipf := mrand.NewZipf(mrand.New(mrand.NewPCG(1, 2)), 1.1, 1, queries-1)
				before := c.Stats().Kinds["replay"]
				done := make(chan struct{})
				samples := make(chan int64, 1)
				go func() { // the keys held, sampled
					var sum, n int64
					tick := time.NewTicker(250 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-done:
							samples <- sum / max(n, 1)
							return
						case <-tick.C:
							if st, err := c.ServerStats(ctx); err == nil {
								sum, n = sum+st.Keys["replay"], n+1
							}
						}
					}
				}()
				start := time.Now()
				for sent := 0; time.Since(start) < run; {
					for due := int(time.Since(start).Seconds() * rate); sent < due; sent++ {
						if _, err := kd.Fetch(ctx, int(zipf.Uint64()), load); err != nil {
							b.Fatal(err)
						}
					}
					time.Sleep(5 * time.Millisecond)
				}
				close(done)
				keys = float64(<-samples)
				st := c.Stats().Kinds["replay"]
				hits, misses := st.Hits-before.Hits, st.Misses-before.Misses
				hitRate = float64(hits) / float64(hits+misses)
				loadRate = float64(st.Loads-before.Loads) / run.Seconds()
			}
			b.ReportMetric(hitRate, "hit-rate")
			b.ReportMetric(loadRate, "loads/s")
			b.ReportMetric(keys, "keys")
		})
	}
}

// BenchmarkSetKinds measures a Set with 1, 200 and 2,000 kinds in the
// cache, each with values in the near cache: a write's cost (its drop of
// the key from the near cache and the stale store included) does not grow
// with the number of kinds.
func BenchmarkSetKinds(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1, 200, 2000} {
		b.Run(fmt.Sprint("kinds=", n), func(b *testing.B) {
			c := newCache(b, func(cfg *cache.Config) { cfg.StaleMaxAge = time.Minute })
			var kd *cache.Kind[string, string]
			for i := range n {
				k, err := cache.NewKind[string, string](c, fmt.Sprint("tenant", i), time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				if err := k.Set(ctx, "warm", "v"); err != nil {
					b.Fatal(err)
				}
				if _, _, err := k.Get(ctx, "warm"); err != nil {
					b.Fatal(err)
				}
				kd = k
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := kd.Set(ctx, fmt.Sprint("q", i%64), "v"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNearMatch measures FetchSimilar on a partition of 2,000
// entries of 384 dimensions: a paraphrase served from its neighbour
// (a miss under its own key, a scan, the guards, the neighbour's value
// from the near cache), against a Fetch that hits Redis (near cache off
// for its kind's key: the same round trip) as the baseline; and the
// entries' memory, in Redis (MEMORY USAGE of the stream) and in the index.
func BenchmarkNearMatch(b *testing.B) {
	ctx := context.Background()
	const entries, dims = 2000, 384
	c := newCache(b, func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindSearch: {NearMatch: cache.NearMatch{Mode: cache.NearMatchServe, Model: "m"}}}
	})
	search := cache.Search[string, []fixtures.Hit](c)
	hits := fixtures.Hits(20)
	load := func(context.Context) ([]fixtures.Hit, error) { return hits, nil }
	for i := range entries {
		if _, _, err := cache.FetchSimilar(ctx, search, fmt.Sprintf("movie number %d", i), vector(uint64(i), dims), load); err != nil {
			b.Fatal(err)
		}
	}
	raw := rawClient(b, redisURL(b))
	stream := ""
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		keys, err := raw.Do(ctx, raw.B().Keys().Pattern(c.Namespace()+":search:near:*").Build()).AsStrSlice()
		if err != nil {
			b.Fatal(err)
		}
		if len(keys) == 1 {
			if n, _ := raw.Do(ctx, raw.B().Xlen().Key(keys[0]).Build()).AsInt64(); n == entries {
				stream = keys[0]
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("the entries never reached Redis")
		}
	}
	usage, err := raw.Do(ctx, raw.B().MemoryUsage().Key(stream).Samples(0).Build()).AsInt64()
	if err != nil {
		b.Fatal(err)
	}
	st := c.Stats().Kinds[cache.KindSearch].NearMatch
	v := vector(1234, dims)
	if _, _, err := cache.FetchSimilar(ctx, search, "space westerns", v, load); err != nil {
		b.Fatal(err)
	}
	b.Run("neighbour", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, m, err := cache.FetchSimilar(ctx, search, "space westerns!", v, load)
			if err != nil || m.Kind != cache.MatchNeighbour {
				b.Fatal(m, err)
			}
		}
		b.ReportMetric(float64(usage)/entries, "redis-bytes/entry")
		b.ReportMetric(float64(st.Bytes)/float64(st.Entries), "index-bytes/entry")
	})
	// A hit from the near cache: FetchSimilar against Fetch, same kind.
	if _, _, err := cache.FetchSimilar(ctx, search, "space westerns", v, load); err != nil {
		b.Fatal(err)
	}
	b.Run("similar-near-hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, m, err := cache.FetchSimilar(ctx, search, "space westerns", v, load); err != nil || m.Kind != cache.MatchExact {
				b.Fatal(m, err)
			}
		}
	})
	b.Run("fetch-near-hit-baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := search.Fetch(ctx, "space westerns", load); err != nil {
				b.Fatal(err)
			}
		}
	})
	plain := cache.Search[string, []fixtures.Hit](newCache(b, func(cfg *cache.Config) { cfg.NearCacheBytes = -1 }))
	if err := plain.Set(ctx, "space westerns", hits); err != nil {
		b.Fatal(err)
	}
	b.Run("redis-hit-baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := plain.Fetch(ctx, "space westerns", load); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package cache_test

import (
	"context"
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

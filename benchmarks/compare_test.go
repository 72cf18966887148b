// Package benchmarks compares package cache with the libraries a Go service
// would otherwise pick, against one real Redis in one run. It is a module of
// its own so that the comparison's dependencies stay out of the library's.
//
//	cd benchmarks && go test -run '^$' -bench . -count 6 | tee compare.txt
package benchmarks

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/fixtures"
	"github.com/media-gateway/discovery/internal/redistest"
)

var addr string

func TestMain(m *testing.M) {
	srv, err := redistest.StartServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	addr = srv.Addr
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// BenchmarkHit compares a cache hit of each library, 32 goroutines on the
// machine's cores. Baselines: a raw GET of the same key with each client.
// stored-B is the size of the value in Redis.
func BenchmarkHit(b *testing.B) {
	ctx := context.Background()
	// The near cache is off: this compares hits from Redis (cmd/compare
	// measures the near cache too).
	c, err := cache.New(ctx, cache.Config{URL: "redis://" + addr, Namespace: "bench", NearCacheBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	gc := gocache.New(&gocache.Options{Redis: rdb}) // no local cache: Redis hits only
	ropt := rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true}
	raw, err := rueidis.NewClient(ropt)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()

	b.Run("search-20", func(b *testing.B) {
		value := fixtures.Hits(20)
		ours := cache.Search[string, []fixtures.Hit](c)
		if err := ours.Set(ctx, "star wars", value); err != nil {
			b.Fatal(err)
		}
		ourKey, _ := ours.Key("star wars")
		gcKey := "gocache:search:star wars"
		if err := gc.Set(&gocache.Item{Ctx: ctx, Key: gcKey, Value: value, TTL: time.Hour}); err != nil {
			b.Fatal(err)
		}
		compare(b, raw, rdb, ourKey, gcKey,
			func() error { _, _, err := ours.Get(ctx, "star wars"); return err },
			func() error { var v []fixtures.Hit; return gc.Get(ctx, gcKey, &v) })
	})
	b.Run("embedding-1536", func(b *testing.B) {
		value := fixtures.Vector(1536)
		ours, err := cache.Embeddings(c, "text-embedding-3-small")
		if err != nil {
			b.Fatal(err)
		}
		if err := ours.Set(ctx, "a heist thriller", value); err != nil {
			b.Fatal(err)
		}
		ourKey, _ := ours.Key("a heist thriller")
		gcKey := "gocache:embedding:a heist thriller"
		if err := gc.Set(&gocache.Item{Ctx: ctx, Key: gcKey, Value: value, TTL: time.Hour}); err != nil {
			b.Fatal(err)
		}
		compare(b, raw, rdb, ourKey, gcKey,
			func() error { _, _, err := ours.Get(ctx, "a heist thriller"); return err },
			func() error { var v []float32; return gc.Get(ctx, gcKey, &v) })
	})
}

func compare(b *testing.B, raw rueidis.Client, rdb *redis.Client, ourKey, gcKey string, ours, theirs func() error) {
	ctx := context.Background()
	ourSize, _ := raw.Do(ctx, raw.B().Strlen().Key(ourKey).Build()).AsInt64()
	gcSize, _ := raw.Do(ctx, raw.B().Strlen().Key(gcKey).Build()).AsInt64()
	rows := []struct {
		name string
		size int64
		op   func() error
	}{
		{"baseline-rueidis-get", ourSize, func() error { return raw.Do(ctx, raw.B().Get().Key(ourKey).Build()).Error() }},
		{"baseline-go-redis-get", gcSize, func() error { return rdb.Get(ctx, gcKey).Err() }},
		{"discovery-cache", ourSize, ours},
		{"go-redis-cache", gcSize, theirs},
	}
	for _, r := range rows {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := r.op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(r.size), "stored-B")
		})
	}
}

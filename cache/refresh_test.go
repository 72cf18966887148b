package cache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
)

// A hot key read at about 10,000 Fetches a second through three of its
// expiries (TTL 1 s, loads of 20 ms) is refreshed early each time: no
// Fetch after the first ever misses, so none waits on a load; the loader
// runs about once per TTL. With the near cache on and off.
func TestEarlyRefreshHotKey(t *testing.T) {
	t.Parallel()
	for _, near := range []int{0, -1} {
		t.Run(fmt.Sprint("NearCacheBytes=", near), func(t *testing.T) {
			t.Parallel()
			// EarlyRefresh 2 (twice the default's head start) keeps the test
			// from missing when a loaded machine delays the refresh itself.
			c := newCache(t, func(cfg *cache.Config) {
				cfg.NearCacheBytes = near
				cfg.Policies = map[string]cache.Policy{"hot": {EarlyRefresh: 2}}
			})
			ctx := ctxT(t)
			hot, err := cache.NewKind[string, int](c, "hot", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var loads atomic.Int32
			load := func(context.Context) (int, error) {
				time.Sleep(20 * time.Millisecond)
				return int(loads.Add(1)), nil
			}
			if _, err := hot.Fetch(ctx, "trending", load); err != nil {
				t.Fatal(err)
			}
			var reads atomic.Int64
			var slow atomic.Int64 // Fetches that took as long as a load
			end := time.Now().Add(3500 * time.Millisecond)
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					for time.Now().Before(end) {
						start := time.Now()
						if _, err := hot.Fetch(ctx, "trending", load); err != nil {
							t.Error(err)
							return
						}
						if time.Since(start) >= 15*time.Millisecond {
							slow.Add(1)
						}
						reads.Add(1)
						time.Sleep(400 * time.Microsecond) // 16 readers: about 10,000 a second
					}
				})
			}
			wg.Wait()
			st := c.Stats().Kinds["hot"]
			if st.Misses != 1 {
				t.Errorf("%d misses over %d Fetches through 3 expiries; want only the first (early refresh)", st.Misses, reads.Load())
			}
			if st.Refreshes < 3 || int(st.Refreshes)+1 != int(loads.Load()) {
				t.Errorf("%d early refreshes, %d loads; want one refresh per TTL (3 or more), and no other load", st.Refreshes, loads.Load())
			}
			t.Logf("%d Fetches (%.0f/s), %d misses, %d refreshes, %d loads; %d Fetches took 15 ms or more",
				reads.Load(), float64(reads.Load())/3.5, st.Misses, st.Refreshes, loads.Load(), slow.Load())
		})
	}
}

// A cold key is not refreshed: it is read rarely, far from its expiry.
// And with EarlyRefresh off, a hot key expires and is missed.
func TestEarlyRefreshOff(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) {
		cfg.NearCacheBytes = -1
		cfg.Policies = map[string]cache.Policy{"plain": {EarlyRefresh: -1}}
	})
	ctx := ctxT(t)
	plain, err := cache.NewKind[string, int](c, "plain", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	load := func(context.Context) (int, error) { time.Sleep(5 * time.Millisecond); return 1, nil }
	end := time.Now().Add(time.Second)
	for time.Now().Before(end) {
		if _, err := plain.Fetch(ctx, "k", load); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if st := c.Stats().Kinds["plain"]; st.Refreshes != 0 || st.Misses < 3 {
		t.Errorf("figures %+v; want no refresh, and a miss after each expiry", st)
	}
}

// Four instances reading one hot key refresh it early once per expiry
// between them, not once each: the first to draw a refresh claims it for
// the fleet.
func TestEarlyRefreshFleet(t *testing.T) {
	t.Parallel()
	ns := uniqueNamespace(t)
	var loads atomic.Int32
	load := func(context.Context) (int, error) {
		time.Sleep(20 * time.Millisecond)
		return int(loads.Add(1)), nil
	}
	kinds := make([]*cache.Kind[string, int], 4)
	caches := make([]*cache.RedisCache, 4)
	for i := range kinds {
		c := newCache(t, func(cfg *cache.Config) { cfg.Namespace = ns })
		caches[i] = c
		kd, err := cache.NewKind[string, int](c, "hot", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		kinds[i] = kd
	}
	ctx := ctxT(t)
	if _, err := kinds[0].Fetch(ctx, "trending", load); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(3500 * time.Millisecond)
	var wg sync.WaitGroup
	for _, kd := range kinds {
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(end) {
					if _, err := kd.Fetch(ctx, "trending", load); err != nil {
						t.Error(err)
						return
					}
					time.Sleep(400 * time.Microsecond)
				}
			})
		}
	}
	wg.Wait()
	// The first load, then one refresh per expiry: 4 or 5 in 3.5 s (the
	// TTL, jittered, is 0.9 to 1 s, and a refresh comes about 0.1 s before
	// it), with two to spare for a loaded machine. Each instance refreshing
	// on its own loads 8 or 9 times here (measured with leases, so claims,
	// off), and more on a loaded machine.
	if n := loads.Load(); n > 8 {
		t.Errorf("%d loads of one hot key read by 4 instances over 3.5 s with a 1 s TTL; want 1 + one refresh per expiry", n)
	}
	var misses, refreshes uint64
	for _, c := range caches {
		st := c.Stats().Kinds["hot"]
		misses, refreshes = misses+st.Misses, refreshes+st.Refreshes
	}
	t.Logf("%d loads: %d misses, %d early refreshes, over 4 instances", loads.Load(), misses, refreshes)
}

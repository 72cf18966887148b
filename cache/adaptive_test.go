package cache_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
)

// An adaptive kind (TTL 1 s; ColdTTL 250 ms, MaxTTL 2 s) stores values for
// ColdTTL: a key nobody reads is gone after it; a key read every 50 ms is
// extended past its TTL, but is gone after MaxTTL from its write. With the
// near cache on (hits in process memory extend too) and off.
func TestAdaptiveTTL(t *testing.T) {
	t.Parallel()
	for _, near := range []int{0, -1} {
		t.Run(fmt.Sprint("NearCacheBytes=", near), func(t *testing.T) {
			t.Parallel()
			c := newCache(t, func(cfg *cache.Config) {
				cfg.NearCacheBytes = near
				cfg.Policies = map[string]cache.Policy{"adaptive": {Adaptive: true, ColdTTL: 250 * time.Millisecond, MaxTTL: 2 * time.Second, EarlyRefresh: -1}}
			})
			ctx := ctxT(t)
			raw := rawClient(t, redisURL(t))
			kd, err := cache.NewKind[string, int](c, "adaptive", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			written := time.Now()
			if err := kd.SetMany(ctx, []string{"hot", "cold"}, []int{1, 2}); err != nil {
				t.Fatal(err)
			}
			for _, in := range []string{"hot", "cold"} {
				key, _ := kd.Key(in)
				// At most ColdTTL (250 ms), not the TTL (1 s): how much less
				// depends on the jitter and on how long the machine took
				// since the write.
				if ms, _ := raw.Do(ctx, raw.B().Pttl().Key(key).Build()).AsInt64(); ms > 250 || ms <= 0 {
					t.Errorf("%s stored for %d ms; want ColdTTL (250 ms, less 10%% jitter at most)", in, ms)
				}
			}
			var gone time.Duration // when the hot key was first missed, after its write
			for time.Since(written) < 3*time.Second {
				_, ok, err := kd.Get(ctx, "hot")
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					gone = time.Since(written)
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if _, ok, _ := kd.Get(ctx, "cold"); ok {
				t.Error("the cold key outlived its ColdTTL")
			}
			// Read every 50 ms, it lives until MaxTTL (2 s): not before its
			// TTL (1 s) nor long after MaxTTL.
			if gone < 1500*time.Millisecond || gone > 2500*time.Millisecond {
				t.Errorf("the hot key was gone %v after its write; want about MaxTTL (2 s)", gone)
			}
			if st := c.Stats().Kinds["adaptive"]; st.Extensions < 2 {
				t.Errorf("%d extensions; want the hot key extended at least twice", st.Extensions)
			}
			t.Logf("hot key gone %v after its write; %d extensions", gone, c.Stats().Kinds["adaptive"].Extensions)
		})
	}
}

// Adaptive TTLs on for every kind, off for one (a negative ColdTTL); the
// key-level functions store for the TTL they are given, jitter included,
// unless their own policy asks for jitter, which then spreads keys that
// differ only at their end.
func TestPolicyPerKind(t *testing.T) {
	t.Parallel()
	ns := uniqueNamespace(t)
	c := newCache(t, func(cfg *cache.Config) {
		cfg.Namespace = ns
		cfg.Policy = cache.Policy{Adaptive: true, TTLJitter: 0.5}
		cfg.Policies = map[string]cache.Policy{"fixed": {ColdTTL: -1}}
	})
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	pttl := func(key string) time.Duration {
		ms, err := raw.Do(ctx, raw.B().Pttl().Key(key).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(ms) * time.Millisecond
	}
	// Both with jitter of up to 50%: within [½, 1] of their TTL.
	for name, want := range map[string]time.Duration{"adaptive": 15 * time.Minute, "fixed": time.Hour} {
		kd, err := cache.NewKind[string, int](c, name, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := kd.Set(ctx, "k", 1); err != nil {
			t.Fatal(err)
		}
		key, _ := kd.Key("k")
		if got := pttl(key); got > want || got < want/2-10*time.Second {
			t.Errorf("%s: stored for %v; want %v (less up to half of it)", name, got, want)
		}
	}
	for i := range 5 {
		if err := cache.Set(ctx, c, fmt.Sprint("user:", i), i, 100*time.Second); err != nil {
			t.Fatal(err)
		}
		// Policy's jitter is the kinds': a key-level Set stores for its TTL.
		if got := pttl(ns + fmt.Sprint(":user:", i)); got > 100*time.Second || got < 99*time.Second {
			t.Errorf("key-level Set for 100 s stored for %v; want 100 s, no jitter", got)
		}
	}
	jittery := newCache(t, func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindCustom: {TTLJitter: 0.5}}
	})
	buckets := map[int]bool{}
	for i := range 200 {
		key := fmt.Sprint("user:", i)
		if err := cache.Set(ctx, jittery, key, i, 100*time.Second); err != nil {
			t.Fatal(err)
		}
		buckets[int(pttl(jittery.Namespace()+":"+key)/time.Second)] = true
	}
	// 200 keys over 50 one-second buckets: an even hash fills nearly all.
	if len(buckets) < 40 {
		t.Errorf("200 keys differing at their end fell into %d of the 50 seconds of jitter; want them spread", len(buckets))
	}
}

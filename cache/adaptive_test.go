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
				if ms, _ := raw.Do(ctx, raw.B().Pttl().Key(key).Build()).AsInt64(); ms > 250 || ms < 200 {
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

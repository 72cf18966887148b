package cache

// Tests of the read, write and lease protocols over a keyspace in memory
// (memKeys), in synctest bubbles: time is the bubble's, so each test
// orders its events exactly and checks when things happen, with no
// redis-server and no sleep of real time. What only a server proves
// (scripts, tracking, clusters) is tested against real servers elsewhere.

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/media-gateway/discovery/cache/internal/lease"
)

const ms = time.Millisecond

// Two processes miss one key at once: the first takes the lease and
// loads (100 ms); the second waits on the lease, polling at 2, 4, 8… ms,
// and gets the first's value at the first poll after it was stored.
func TestProtocolLeaseOneLoadForTheFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ks := newMemKeys()
		a, b := memCache(t, ks), memCache(t, ks)
		defer a.Close()
		defer b.Close()
		var loads atomic.Int32
		load := func(context.Context) (string, error) {
			loads.Add(1)
			time.Sleep(100 * ms)
			return "results", nil
		}
		ctx := context.Background()
		go Search[string, string](a).Fetch(ctx, "q", load)
		time.Sleep(10 * ms)
		start := time.Now()
		v, err := Search[string, string](b).Fetch(ctx, "q", load)
		if v != "results" || err != nil || loads.Load() != 1 {
			t.Fatalf("second process's Fetch = %q, %v after %d loads; want the first's value, one load", v, err, loads.Load())
		}
		// Polls at 0, 2, 6, 14, 30, 62, 126 ms after its miss (10 ms into
		// the first's load of 100 ms): the value is there at 126.
		if took := time.Since(start); took != 126*ms {
			t.Errorf("the waiter got the value after %v; want 126 ms (the first poll after the store, 90 ms in)", took)
		}
		if st := b.Stats().Kinds[KindSearch]; st.LeaseHits != 1 || st.LeaseTimeouts != 0 || st.Loads != 0 {
			t.Errorf("waiter's figures: %d lease hits, %d timeouts, %d loads; want 1, 0, 0", st.LeaseHits, st.LeaseTimeouts, st.Loads)
		}
	})
}

// A lease whose holder died stalls no one past its life: the waiter takes
// the key at the first poll after the lease expired, and loads.
func TestProtocolDeadHolderTakenOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ks := newMemKeys()
		c := memCache(t, ks)
		defer c.Close()
		search := Search[string, string](c)
		key, _ := search.Key("q")
		ks.Put(key, lease.New(), 300*ms) // a holder that will never store
		start := time.Now()
		v, err := search.Fetch(context.Background(), "q", func(context.Context) (string, error) { return "mine", nil })
		if v != "mine" || err != nil {
			t.Fatalf("Fetch behind a dead lease = %q, %v", v, err)
		}
		// Polls at 0, 2, 6, 14, 30, 62, 126, 226, 326 ms: expired at 300.
		if took := time.Since(start); took != 326*ms {
			t.Errorf("took %v; want 326 ms, the first poll after the lease's 300 ms", took)
		}
		if b, _, _ := ks.Get(key); string(b) == "" || lease.Is(b) {
			t.Errorf("the key holds %q; want the loaded value stored", b)
		}
		if st := c.Stats().Kinds[KindSearch]; st.LeaseTimeouts != 0 {
			t.Errorf("%d lease timeouts; want none: the lease was taken over", st.LeaseTimeouts)
		}
	})
}

// A caller whose deadline is short waits on another's lease only as long
// as leaves it the time of a load (by the kind's estimate, 100 ms before
// any load: 50 ms of 200), then loads for itself.
func TestProtocolLeaseWaitBoundedByDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ks := newMemKeys()
		c := memCache(t, ks)
		defer c.Close()
		search := Search[string, string](c)
		key, _ := search.Key("q")
		ks.Put(key, lease.New(), 10*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 200*ms)
		defer cancel()
		start := time.Now()
		v, err := search.Fetch(ctx, "q", func(context.Context) (string, error) { return "mine", nil })
		if v != "mine" || err != nil || time.Since(start) != 50*ms {
			t.Errorf("Fetch = %q, %v after %v; want its own value after 50 ms", v, err, time.Since(start))
		}
		if st := c.Stats().Kinds[KindSearch]; st.LeaseTimeouts != 1 {
			t.Errorf("%d lease timeouts; want 1", st.LeaseTimeouts)
		}
	})
}

// A value loaded under a lease lands only while the key holds the lease:
// a Delete during the load wins; a load that outlives its lease stores
// into an empty key, but not over another process's lease.
func TestProtocolLeasedStore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		load   time.Duration // how long the load takes (the lease lives 1 s)
		during func(ks *memKeys, key string)
		stored bool
	}{
		{"held", 100 * ms, nil, true},
		{"deleted during the load", 100 * ms, func(ks *memKeys, key string) { delete(ks.m, key) }, false},
		{"outlived, key empty", 1500 * ms, nil, true},
		{"outlived, another's lease", 1500 * ms, func(ks *memKeys, key string) {
			time.Sleep(1100 * ms) // past the first lease's life
			ks.put(key, lease.New(), 10*time.Second)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ks := newMemKeys()
				c := memCache(t, ks, func(cfg *Config) { cfg.Policy.Lease = time.Second })
				defer c.Close()
				search := Search[string, string](c)
				key, _ := search.Key("q")
				if tc.during != nil {
					go func() {
						time.Sleep(10 * ms)
						ks.mu.Lock()
						defer ks.mu.Unlock()
						tc.during(ks, key)
					}()
				}
				v, err := search.Fetch(context.Background(), "q", func(context.Context) (string, error) {
					time.Sleep(tc.load)
					return "loaded", nil
				})
				if v != "loaded" || err != nil {
					t.Fatalf("Fetch = %q, %v", v, err)
				}
				got, ok, _ := search.Get(context.Background(), "q")
				if ok != tc.stored || tc.stored && got != "loaded" {
					t.Errorf("after the load the key holds %q (%v); want stored %v", got, ok, tc.stored)
				}
			})
		})
	}
}

// A lease whose load fails, or whose value cannot be stored, is released
// at once.
func TestProtocolLeaseReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ks := newMemKeys()
		c := memCache(t, ks, func(cfg *Config) { cfg.MaxValueBytes = 64 })
		defer c.Close()
		search := Search[string, string](c)
		key, _ := search.Key("q")
		boom := errors.New("backend down")
		if _, err := search.Fetch(context.Background(), "q", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
			t.Fatalf("Fetch = %v; want the loader's error", err)
		}
		if b, _, ok := ks.Get(key); ok {
			t.Errorf("after a failed load the key holds %q; want the lease released", b)
		}
		big := string(make([]byte, 1024))
		if v, err := search.Fetch(context.Background(), "q", func(context.Context) (string, error) { return big, nil }); v != big || err != nil {
			t.Fatalf("Fetch of a value too large = %d bytes, %v", len(v), err)
		}
		if b, _, ok := ks.Get(key); ok {
			t.Errorf("after a value too large the key holds %q; want the lease released", b)
		}
	})
}

// After its lease wait, a Fetch races its own load against the holder's
// value, and looks for the value for Policy.Lease at most: a load of its
// own that hangs does not keep it reading Redis.
func TestProtocolRaceStopsPolling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ks := newMemKeys()
		c := memCache(t, ks, func(cfg *Config) { cfg.Policy.Lease = 100 * ms })
		defer c.Close()
		search := Search[string, string](c)
		key, _ := search.Key("q")
		ks.Put(key, lease.New(), time.Hour) // a holder that never stores
		release := make(chan struct{})
		done := make(chan string)
		go func() {
			v, _ := search.Fetch(context.Background(), "q", func(context.Context) (string, error) {
				<-release // hangs, ignoring its context
				return "mine", nil
			})
			done <- v
		}()
		time.Sleep(5 * time.Second)
		polls := ks.Gets()
		time.Sleep(5 * time.Second)
		if more := ks.Gets() - polls; more != 0 {
			t.Errorf("%d reads of the key between 5 s and 10 s into a hung load; want none after the 200 ms of waiting and racing", more)
		}
		close(release)
		if v := <-done; v != "mine" {
			t.Errorf("Fetch = %q; want its own value", v)
		}
	})
}

// Callers that join a flight that is only slow wait for it: one load for
// the process, whether the kind's loads were timed (800 ms: a load of
// their own could not end within their 1 s) or not yet (then they trust
// the flight). Only a flight that runs past what a load takes, by the
// kind's figures, has its joiners load beside it.
func TestProtocolSlowFlightNoStampede(t *testing.T) {
	for _, warm := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			ks := newMemKeys()
			c := memCache(t, ks)
			defer c.Close()
			search := Search[string, string](c)
			var loads atomic.Int32
			load := func(context.Context) (string, error) {
				loads.Add(1)
				time.Sleep(800 * ms)
				return "results", nil
			}
			ctx := context.Background()
			if warm {
				if _, err := search.Fetch(ctx, "timed", load); err != nil {
					t.Fatal(err)
				}
				loads.Store(0)
			}
			done := make(chan string, 20)
			for range 20 {
				go func() {
					ctx, cancel := context.WithTimeout(ctx, time.Second)
					defer cancel()
					v, _ := search.Fetch(ctx, "q", load)
					done <- v
				}()
			}
			for range 20 {
				if v := <-done; v != "results" {
					t.Errorf("warm %v: a caller got %q; want the flight's value", warm, v)
				}
			}
			if n := loads.Load(); n != 1 {
				t.Errorf("warm %v: %d loads by 20 callers of a slow flight; want 1", warm, n)
			}
		})
	}
}

// A value loaded beside a flight, in a race after a lease wait, or by an
// early refresh never lands over a value written while it loaded.
func TestProtocolLoadsNeverOverwriteNewer(t *testing.T) {
	newer := func(t *testing.T, c *RedisCache, ks *memKeys, in string) {
		t.Helper()
		if v, ok, err := Search[string, string](c).Get(context.Background(), in); v != "newer" || !ok || err != nil {
			t.Errorf("the key holds %q (%v, %v); want the value written during the load, newer", v, ok, err)
		}
	}
	t.Run("beside a flight", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ks := newMemKeys()
			a, b := memCache(t, ks), memCache(t, ks)
			defer a.Close()
			defer b.Close()
			search := Search[string, string](a)
			ctx := context.Background()
			search.Fetch(ctx, "timed", func(context.Context) (string, error) { time.Sleep(ms); return "v", nil }) // loads are timed: 1 ms
			release := make(chan struct{})
			defer close(release)
			go search.Fetch(ctx, "q", func(context.Context) (string, error) { <-release; return "hung", nil })
			time.Sleep(ms)
			go func() {
				time.Sleep(800 * ms) // while the joiner's own load runs
				Search[string, string](b).Set(ctx, "q", "newer")
			}()
			jctx, cancel := context.WithTimeout(ctx, time.Second) // loads beside at 750 ms, for 100 ms
			defer cancel()
			v, err := search.Fetch(jctx, "q", func(context.Context) (string, error) { time.Sleep(100 * ms); return "older", nil })
			if v != "older" || err != nil {
				t.Fatalf("joiner's Fetch = %q, %v; want its own value", v, err)
			}
			newer(t, b, ks, "q")
		})
	})
	t.Run("racing a lease", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ks := newMemKeys()
			c := memCache(t, ks, func(cfg *Config) { cfg.Policy.Lease = 50 * ms })
			defer c.Close()
			search := Search[string, string](c)
			key, _ := search.Key("q")
			ks.Put(key, lease.New(), time.Hour)
			go func() {
				time.Sleep(200 * ms) // the holder stores, after the race stopped looking (100 ms)
				Search[string, string](memCache(t, ks)).Set(context.Background(), "q", "newer")
			}()
			v, err := search.Fetch(context.Background(), "q", func(context.Context) (string, error) { time.Sleep(300 * ms); return "older", nil })
			if v != "older" || err != nil {
				t.Fatalf("Fetch = %q, %v; want its own value", v, err)
			}
			newer(t, c, ks, "q")
		})
	})
	for _, many := range []bool{false, true} {
		name := "no lease"
		if many {
			name = "FetchMany"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ks := newMemKeys()
				c := memCache(t, ks, func(cfg *Config) { cfg.Policy.Lease = -1 })
				defer c.Close()
				search := Search[string, string](c)
				ctx := context.Background()
				go func() {
					time.Sleep(300 * ms) // during the load
					Search[string, string](memCache(t, ks)).Set(ctx, "q", "newer")
				}()
				slow := func() { time.Sleep(time.Second) }
				var v string
				if many {
					vs, _ := search.FetchMany(ctx, []string{"q"}, func(context.Context, []string) ([]string, error) { slow(); return []string{"older"}, nil })
					v = vs[0]
				} else {
					v, _ = search.Fetch(ctx, "q", func(context.Context) (string, error) { slow(); return "older", nil })
				}
				if v != "older" {
					t.Fatalf("Fetch = %q; want its own value", v)
				}
				newer(t, c, ks, "q")
			})
		})
	}
	t.Run("over unusable bytes", func(t *testing.T) { // which a load without a lease replaces
		for _, many := range []bool{false, true} {
			ks := newMemKeys()
			c := memCache(t, ks, func(cfg *Config) { cfg.Policy.Lease = -1 })
			search := Search[string, string](c)
			key, _ := search.Key("q")
			ks.Put(key, []byte("not an envelope"), time.Hour)
			load := func() string { return "newer" }
			if many {
				search.FetchMany(context.Background(), []string{"q"}, func(context.Context, []string) ([]string, error) { return []string{load()}, nil })
			} else {
				search.Fetch(context.Background(), "q", func(context.Context) (string, error) { return load(), nil })
			}
			newer(t, c, ks, "q")
			c.Close()
		}
	})
	t.Run("early refresh", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ks := newMemKeys()
			c := memCache(t, ks, func(cfg *Config) { cfg.Policy = Policy{EarlyRefresh: 100, TTLJitter: -1} })
			search := Search[string, string](c)
			ctx := context.Background()
			if err := search.Set(ctx, "q", "old"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(search.TTL() - ms)
			refreshing := make(chan struct{})
			search.Fetch(ctx, "q", func(context.Context) (string, error) {
				close(refreshing)
				time.Sleep(100 * ms)
				return "older", nil
			})
			<-refreshing
			if err := Search[string, string](memCache(t, ks)).Set(ctx, "q", "newer"); err != nil {
				t.Fatal(err)
			}
			c.Close() // waits for the refresh
			newer(t, memCache(t, ks), ks, "q")
		})
	})
}

// Early refresh: hits of a value about to expire reload it in the
// background, once for a fleet (the claim), and the value's life starts
// over.
func TestProtocolEarlyRefreshOnceForTheFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ks := newMemKeys()
		// The largest beta, 1 ms before expiry: the chance that a hit does
		// not refresh is 1e-4 (1 - exp(-gap/(beta × 100 ms))), that none
		// of 4 does, 1e-16.
		policy := func(cfg *Config) { cfg.Policy = Policy{EarlyRefresh: 100, TTLJitter: -1} }
		a, b := memCache(t, ks, policy), memCache(t, ks, policy)
		var loads atomic.Int32
		load := func(context.Context) (string, error) { loads.Add(1); return "fresh", nil }
		kind := func(c *RedisCache) *Kind[string, string] {
			kd, err := NewKind[string, string](c, "refreshed", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return kd
		}
		ka, kb := kind(a), kind(b)
		ctx := context.Background()
		if err := ka.Set(ctx, "q", "old"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(999 * ms) // 1 ms before expiry
		for i, kd := range []*Kind[string, string]{ka, kb, ka, kb} {
			// The first hit gets the cached value and starts the refresh;
			// the others get the cached value or, once the refresh has
			// stored it, the refreshed one: none loads.
			v, err := kd.Fetch(ctx, "q", load)
			if err != nil || v != "old" && (i == 0 || v != "fresh") {
				t.Fatalf("hit %d near expiry = %q, %v; want the cached value", i, v, err)
			}
		}
		a.Close() // waits for the refreshes under way
		b.Close()
		if n := loads.Load(); n != 1 {
			t.Errorf("%d loads by 4 hits of 2 processes near expiry; want 1 early refresh", n)
		}
		key, _ := ka.Key("q")
		if _, pttl, ok := ks.Get(key); !ok || pttl < 990 {
			t.Errorf("after the refresh the key lives %d ms more (%v); want its TTL again (1 s)", pttl, ok)
		}
	})
}

// Adaptive TTLs: a value first lives ColdTTL; a hit with less than half
// the TTL left extends it to the TTL from the hit, never past MaxTTL from
// its write.
func TestProtocolAdaptiveExtension(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ks := newMemKeys()
		c := memCache(t, ks, func(cfg *Config) {
			cfg.Policies = map[string]Policy{"adaptive": {Adaptive: true, ColdTTL: time.Second, MaxTTL: 12 * time.Second, EarlyRefresh: -1, TTLJitter: -1}}
		})
		kd, err := NewKind[string, int](c, "adaptive", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := kd.Set(ctx, "k", 1); err != nil {
			t.Fatal(err)
		}
		key, _ := kd.Key("k")
		if _, pttl, _ := ks.Get(key); pttl != 1000 {
			t.Fatalf("stored for %d ms; want ColdTTL, 1000", pttl)
		}
		time.Sleep(600 * ms)
		if _, ok, err := kd.Get(ctx, "k"); !ok || err != nil {
			t.Fatalf("Get = %v, %v", ok, err)
		}
		synctest.Wait() // the extension, in the background
		if _, pttl, _ := ks.Get(key); pttl != 10_000 {
			t.Errorf("after a hit at 600 ms the key lives %d ms more; want the TTL from the hit, 10000", pttl)
		}
		time.Sleep(9 * time.Second) // 9.6 s from the write: 1 s left
		if _, ok, _ := kd.Get(ctx, "k"); !ok {
			t.Fatal("miss at 9.6 s")
		}
		synctest.Wait()
		if _, pttl, _ := ks.Get(key); pttl != 2400 {
			t.Errorf("after a hit at 9.6 s the key lives %d ms more; want up to MaxTTL from its write (12 s), 2400", pttl)
		}
		if st := c.Stats().Kinds["adaptive"]; st.Extensions != 2 {
			t.Errorf("%d extensions; want 2", st.Extensions)
		}
		c.Close()
	})
}

// A Fetch whose Redis fails answers from its loader, and stores nothing.
func TestProtocolFailOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ks := newMemKeys()
		ks.fails = &Error{Class: ErrUnavailable, Cause: errors.New("connection refused")}
		c := memCache(t, ks)
		defer c.Close()
		v, err := Search[string, string](c).Fetch(context.Background(), "q", func(context.Context) (string, error) { return "loaded", nil })
		if v != "loaded" || err != nil {
			t.Errorf("Fetch with Redis failing = %q, %v; want the loader's value", v, err)
		}
		if st := c.Stats().Kinds[KindSearch]; st.Errors == 0 || st.Loads != 1 {
			t.Errorf("figures: %d errors, %d loads; want the failure counted and one load", st.Errors, st.Loads)
		}
	})
}

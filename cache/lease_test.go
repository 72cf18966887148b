package cache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
)

// leaseBytes is a lease as the cache writes it under a key (see lease.go):
// the mark, then a token.
const leaseBytes = "\xddlease:0123456789abcdef"

// Concurrent misses of one key in four processes (four caches on one
// server, 250 goroutines each) call the loader once: one process takes the
// lease, the others wait for its value. Every trial of 20, with the near
// cache on (waiters woken by the server's invalidation) and off (polling).
func TestLeaseOneLoadAcrossInstances(t *testing.T) {
	t.Parallel()
	for _, near := range []int{0, -1} {
		t.Run(fmt.Sprint("NearCacheBytes=", near), func(t *testing.T) {
			t.Parallel()
			ns := uniqueNamespace(t)
			instances := make([]*cache.RedisCache, 4)
			for i := range instances {
				instances[i] = newCache(t, func(cfg *cache.Config) { cfg.Namespace = ns; cfg.NearCacheBytes = near })
			}
			ctx := ctxT(t)
			var leaseHits uint64
			for trial := range 20 {
				var calls atomic.Int32
				load := func(context.Context) (string, error) {
					calls.Add(1)
					time.Sleep(20 * time.Millisecond) // a search takes a while
					return "results", nil
				}
				query := fmt.Sprint("query ", trial)
				start := make(chan struct{})
				var wg sync.WaitGroup
				errs := make(chan error, 1000)
				for _, c := range instances {
					search := cache.Search[string, string](c)
					for range 250 {
						wg.Go(func() {
							<-start
							v, err := search.Fetch(ctx, query, load)
							if err != nil || v != "results" {
								errs <- fmt.Errorf("Fetch = %q, %v", v, err)
							}
						})
					}
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				if n := calls.Load(); n != 1 {
					t.Fatalf("trial %d: %d loader calls for one key missed by 4 instances × 250 goroutines; want 1", trial, n)
				}
			}
			for _, c := range instances {
				st := c.Stats().Kinds[cache.KindSearch]
				leaseHits += st.LeaseHits
				if st.LeaseTimeouts != 0 {
					t.Errorf("%d waits on a lease timed out; want none (the loader takes 20 ms, the lease 2 s)", st.LeaseTimeouts)
				}
			}
			t.Logf("20 trials: 20 loader calls; %d Fetch flights got another instance's value after waiting on its lease", leaseHits)
		})
	}
}

// A lease whose holder died (nobody will store a value) stalls no one for
// longer than it lives: the waiter takes the key once it expires and loads.
// A caller with a short deadline does not wait that long: it loads after
// half its time.
func TestLeaseDeadHolder(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) { cfg.Policy.Lease = 10 * time.Second })
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	search := cache.Search[string, string](c)
	dead := func(q string, ttl time.Duration) {
		key, _ := search.Key(q)
		if err := raw.Do(ctx, raw.B().Set().Key(key).Value(leaseBytes).Px(ttl).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	loads := 0
	load := func(context.Context) (string, error) { loads++; return "mine", nil }

	dead("expiring", 300*time.Millisecond)
	if v, err := search.Fetch(ctx, "expiring", load); v != "mine" || err != nil || loads != 1 {
		t.Fatalf("Fetch behind a dead lease = %q, %v after %d loads; want the loader's value", v, err, loads)
	}
	if v, ok, err := search.Get(ctx, "expiring"); v != "mine" || !ok || err != nil {
		t.Errorf("Get after = %q, %v, %v; want the loaded value stored", v, ok, err)
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.LeaseTimeouts != 0 {
		t.Errorf("%d lease timeouts; want the dead lease taken over when it expired", st.LeaseTimeouts)
	}

	dead("long", 10*time.Second)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	v, err := search.Fetch(short, "long", load)
	if v != "mine" || err != nil || loads != 2 {
		t.Fatalf("Fetch with a 200 ms deadline behind a 10 s lease = %q, %v (%d loads); want the loader's value in time", v, err, loads)
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.LeaseTimeouts != 1 {
		t.Errorf("%d lease timeouts; want 1", st.LeaseTimeouts)
	}
}

// A leaseholder whose load fails releases the key at once: a process
// waiting on it loads then, not when the lease would have expired (10 s).
func TestLeaseReleasedOnLoaderError(t *testing.T) {
	t.Parallel()
	ns := uniqueNamespace(t)
	a := newCache(t, func(cfg *cache.Config) { cfg.Namespace = ns; cfg.Policy.Lease = 10 * time.Second })
	b := newCache(t, func(cfg *cache.Config) { cfg.Namespace = ns; cfg.Policy.Lease = 10 * time.Second })
	ctx := ctxT(t)
	loading, fail := make(chan struct{}), make(chan struct{})
	boom := errors.New("engine down")
	aDone := make(chan error, 1)
	go func() {
		_, err := cache.Search[string, string](a).Fetch(ctx, "q", func(context.Context) (string, error) {
			close(loading)
			<-fail
			return "", boom
		})
		aDone <- err
	}()
	<-loading // a holds the lease
	bDone := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		v, err := cache.Search[string, string](b).Fetch(ctx, "q", func(context.Context) (string, error) { return "b's", nil })
		if v != "b's" || err != nil {
			t.Errorf("b's Fetch = %q, %v", v, err)
		}
		bDone <- time.Since(start)
	}()
	time.Sleep(50 * time.Millisecond) // b is waiting on a's lease (if it is not yet, it takes the key itself)
	close(fail)
	if err := <-aDone; !errors.Is(err, boom) {
		t.Errorf("a's Fetch: %v; want its loader's error", err)
	}
	select {
	case took := <-bDone:
		t.Logf("b loaded %v after it started waiting", took)
	case <-time.After(5 * time.Second):
		t.Fatal("b still waits 5 s after a's load failed; the lease (10 s) was not released")
	}
}

// A lease under a key is a miss for readers, not an error, and never a
// value: Get, GetMany, and with the near cache on, nothing kept locally.
func TestLeaseIsAMiss(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	search := cache.Search[string, string](c)
	key, _ := search.Key("q")
	if err := raw.Do(ctx, raw.B().Set().Key(key).Value(leaseBytes).Px(time.Minute).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if v, ok, err := search.Get(ctx, "q"); ok || err != nil || v != "" {
			t.Errorf("Get of a lease = %q, %v, %v; want a plain miss", v, ok, err)
		}
	}
	if _, missing, err := search.GetMany(ctx, []string{"q"}); len(missing) != 1 || err != nil {
		t.Errorf("GetMany of a lease: missing %v, %v; want a plain miss", missing, err)
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.Errors != 0 || st.Misses != 3 || st.LocalHits != 0 {
		t.Errorf("figures %+v; want 3 misses, no error, nothing local", st)
	}
}

// Callers with request deadlines behind another process's lease still get
// an answer in time: a waiter loads for itself when its deadline leaves
// just the time of a load, and takes the holder's value if it comes first.
// 4 instances × 10 callers, deadlines of 300 ms, loads of 200 ms.
func TestLeaseCallerDeadlines(t *testing.T) {
	t.Parallel()
	ns := uniqueNamespace(t)
	instances := make([]*cache.RedisCache, 4)
	for i := range instances {
		instances[i] = newCache(t, func(cfg *cache.Config) { cfg.Namespace = ns })
	}
	var calls atomic.Int32
	load := func(context.Context) (string, error) {
		calls.Add(1)
		time.Sleep(200 * time.Millisecond)
		return "results", nil
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	start := make(chan struct{})
	for _, c := range instances {
		search := cache.Search[string, string](c)
		for range 10 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				<-start
				if v, err := search.Fetch(ctx, "q", load); err != nil || v != "results" {
					failed.Add(1)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of 40 Fetches with 300 ms deadlines failed behind a lease (loads take 200 ms); want none", n)
	}
	t.Logf("40 Fetches with 300 ms deadlines, 4 instances: %d loader calls", calls.Load())
}

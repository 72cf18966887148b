package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
)

func TestFetchHitAndMiss(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	emb := embeddings(t, c, "m")
	var calls atomic.Int32
	load := func(context.Context) ([]float32, error) { calls.Add(1); return []float32{1, 2, 3}, nil }
	for i := range 3 {
		v, err := emb.Fetch(ctx, "text", load)
		if err != nil || len(v) != 3 {
			t.Fatalf("Fetch %d = %v, %v", i, v, err)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("loader called %d times for one key, want 1", calls.Load())
	}
	st := c.Stats().Kinds[cache.KindEmbedding]
	if st.Hits != 2 || st.Misses != 1 || st.Loads != 1 || st.Sets != 1 || st.Errors != 0 {
		t.Errorf("figures %+v; want 2 hits, 1 miss, 1 load, 1 set", st)
	}
	if r := st.HitRate(); r < 0.66 || r > 0.67 {
		t.Errorf("HitRate = %v, want 2/3", r)
	}
}

// Concurrent misses of one key call the loader once; the other callers get
// its value.
func TestFetchSingleflight(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, []string](c)
	const callers = 150
	var calls atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) ([]string, error) {
		calls.Add(1)
		<-release
		return []string{"Alien", "Aliens"}, nil
	}
	// Every caller misses (the loader holds the only value back) and joins
	// the flight; release the loader once all of them have.
	joined := make(chan struct{}, callers)
	cache.SetFetchJoinedHook(c, func(string) { joined <- struct{}{} })
	var wg sync.WaitGroup
	results := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := search.Fetch(ctx, "alien", load)
			if err == nil && len(v) != 2 {
				err = fmt.Errorf("got %v", v)
			}
			results <- err
		}()
	}
	for range callers {
		<-joined
	}
	close(release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Error(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("loader called %d times by %d concurrent callers, want 1", n, callers)
	}
}

var errSearchBackend = errors.New("search backend down")

func TestFetchLoaderError(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, int](c)
	_, err := search.Fetch(ctx, "q", func(context.Context) (int, error) { return 0, errSearchBackend })
	if err != errSearchBackend {
		t.Fatalf("Fetch = %v, want the loader's error unchanged", err)
	}
	if _, ok, _ := search.Get(ctx, "q"); ok {
		t.Error("a failed load was cached")
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.LoadErrors != 1 {
		t.Errorf("LoadErrors = %d, want 1", st.LoadErrors)
	}
}

// A panicking loader fails every waiter with ErrLoaderPanic; nothing hangs.
func TestFetchLoaderPanic(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, int](c)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := search.Fetch(ctx, "q", func(context.Context) (int, error) { panic("model crashed") })
			if !errors.Is(err, cache.ErrLoaderPanic) {
				t.Errorf("Fetch with a panicking loader: %v, want ErrLoaderPanic", err)
			}
		}()
	}
	wg.Wait()
	// The cache still works.
	if v, err := search.Fetch(ctx, "q", func(context.Context) (int, error) { return 1, nil }); v != 1 || err != nil {
		t.Errorf("Fetch after a panic = %d, %v", v, err)
	}
}

// Undecodable bytes are a miss for Fetch: the loader's value replaces them.
func TestFetchOverwritesCorruptValue(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	intents := cache.Intents[string](c, "")
	key, _ := intents.Key("q")
	raw.Do(ctx, raw.B().Set().Key(key).Value("\xdc\x01garbage").Build())
	v, err := intents.Fetch(ctx, "q", func(context.Context) (string, error) { return "fresh", nil })
	if err != nil || v != "fresh" {
		t.Fatalf("Fetch over corrupt bytes = %q, %v", v, err)
	}
	if got, ok, err := intents.Get(ctx, "q"); got != "fresh" || !ok || err != nil {
		t.Errorf("after Fetch, Get = %q, %v, %v; want the loaded value stored", got, ok, err)
	}
}

// A caller that gives up gets its context's error; the load goes on and its
// value is stored for the next caller.
func TestFetchCallerCancels(t *testing.T) {
	t.Parallel()
	stored := make(chan struct{})
	c := newCache(t, func(cfg *cache.Config) {
		cfg.Recorder = cache.RecorderFunc(func(e cache.Event) {
			if e.Op == cache.OpSet && e.Outcome == cache.OutcomeOK {
				close(stored)
			}
		})
	})
	search := cache.Search[string, int](c)
	started, release := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := search.Fetch(ctx, "q", func(context.Context) (int, error) { close(started); <-release; return 5, nil })
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Fetch = %v, want context.Canceled", err)
	}
	close(release)
	<-stored
	if v, ok, err := search.Get(ctxT(t), "q"); v != 5 || !ok || err != nil {
		t.Errorf("the abandoned load was not stored: %d, %v, %v", v, ok, err)
	}
}

// An input that cannot be hashed cannot be cached, but Fetch still answers.
func TestFetchUnhashableInput(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	col := cache.Search[any, int](c)
	v, err := col.Fetch(ctxT(t), make(chan int), func(context.Context) (int, error) { return 9, nil })
	if v != 9 || err != nil {
		t.Errorf("Fetch with an unhashable input = %d, %v; want the loader's value", v, err)
	}
	_, _, err = col.Get(ctxT(t), func() {})
	if !errors.Is(err, cache.ErrKeyGeneration) {
		t.Errorf("Get with an unhashable input: %v, want ErrKeyGeneration", err)
	} else if msg := err.Error(); strings.Count(msg, "could not be generated") != 1 || !strings.HasPrefix(msg, "cache: generate_key search: ") {
		t.Errorf("message %q should name the operation and kind once, then the cause", msg)
	}
	if _, err := cache.Embeddings(c, ""); !errors.Is(err, cache.ErrInvalidArgument) {
		t.Errorf("Embeddings without a model: %v, want ErrInvalidArgument", err)
	}
}

// A caller whose context has ended starts no load, and its cancellation is
// not counted as a cache error.
func TestFetchCancelledCaller(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := cache.Search[string, int](c).Fetch(ctx, "q", func(context.Context) (int, error) {
		t.Error("loader called for a caller that is gone")
		return 0, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch with a cancelled context: %v, want context.Canceled", err)
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.Errors != 0 || st.Loads != 0 {
		t.Errorf("figures %+v; a caller's cancellation is no cache error", st)
	}
}

func TestFetchInvalidArguments(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	load := func(context.Context) (int, error) { t.Error("loader called"); return 0, nil }
	if _, err := cache.Fetch(ctxT(t), c, "k", 0, load); !errors.Is(err, cache.ErrInvalidArgument) {
		t.Errorf("Fetch with ttl 0: %v, want ErrInvalidArgument", err)
	}
	if _, err := cache.Fetch(ctxT(t), c, "", time.Minute, load); !errors.Is(err, cache.ErrInvalidArgument) {
		t.Errorf("Fetch with an empty key: %v, want ErrInvalidArgument", err)
	}
}

// A Fetch that misses reads the key once (no second read inside its
// flight when nothing was written meanwhile), or, with a lease, once more
// in the round trip that takes the lease (which is its re-check); with the
// near cache, the next Fetch reads it once more, then never.
func TestFetchReadsOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		nearBytes int
		lease     time.Duration
		missGets  int64
	}{{-1, -1, 1}, {0, -1, 1}, {-1, 0, 2}, {0, 0, 2}} {
		nearBytes := tc.nearBytes
		t.Run(fmt.Sprintf("NearCacheBytes=%d/Lease=%v", tc.nearBytes, tc.lease), func(t *testing.T) {
			gets := new(atomic.Int64)
			c := newCache(t, func(cfg *cache.Config) {
				cfg.Policy.Lease = tc.lease
				cfg.NearCacheBytes = nearBytes
				cfg.ClientBuilder = func(opt rueidis.ClientOption) (rueidis.Client, error) {
					client, err := rueidis.NewClient(opt)
					return watchedClient{Client: client, see: func(cmd rueidis.Completed) {
						if cmd.Commands()[0] == "GET" {
							gets.Add(1)
						}
					}}, err
				}
			})
			ctx := ctxT(t)
			search := cache.Search[string, int](c)
			gets.Store(0)
			load := func(context.Context) (int, error) { return 7, nil }
			fetch := func() int64 {
				t.Helper()
				before := gets.Load()
				if v, err := search.Fetch(ctx, "q", load); v != 7 || err != nil {
					t.Fatal(v, err)
				}
				return gets.Load() - before
			}
			if n := fetch(); n != tc.missGets {
				t.Errorf("a Fetch that missed sent %d GETs, want %d", n, tc.missGets)
			}
			if nearBytes < 0 {
				for range 3 {
					if n := fetch(); n != 1 {
						t.Errorf("a Fetch that hit sent %d GETs, want 1", n)
					}
				}
				return
			}
			// The first reads may be spoiled by the server's invalidation of
			// the Fetch's own write; then the near cache answers.
			for i := 0; fetch() != 0; i++ {
				if i == 10 {
					t.Fatal("the near cache never answered a Fetch")
				}
			}
			for range 3 {
				if n := fetch(); n != 0 {
					t.Errorf("a Fetch answered by the near cache sent %d GETs, want 0", n)
				}
			}
		})
	}
}

// A key that holds another Redis type (a hash here) is a miss for Fetch,
// counted as an error, and its store replaces it: the next Fetch is a hit.
func TestFetchReplacesWrongType(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	search := cache.Search[string, string](c)
	key, _ := search.Key("q")
	if err := raw.Do(ctx, raw.B().Hset().Key(key).FieldValue().FieldValue("f", "v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := search.Get(ctx, "q"); !errors.Is(err, cache.ErrOperation) {
		t.Errorf("Get of a hash: %v, want ErrOperation (WRONGTYPE)", err)
	}
	loads := 0
	load := func(context.Context) (string, error) { loads++; return "loaded", nil }
	for range 3 {
		if v, err := search.Fetch(ctx, "q", load); err != nil || v != "loaded" {
			t.Fatalf("Fetch = %q, %v", v, err)
		}
	}
	if loads != 1 {
		t.Errorf("the loader ran %d times; want once, then hits", loads)
	}
	if typ, _ := raw.Do(ctx, raw.B().Type().Key(key).Build()).ToString(); typ != "string" {
		t.Errorf("the key is a %s after Fetch, want the cache's string", typ)
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.Errors != 2 {
		t.Errorf("figures %+v: want the two WRONGTYPE reads (Get, first Fetch) counted as errors", st)
	}
}

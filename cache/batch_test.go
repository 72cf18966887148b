package cache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
)

// commandCounter counts the commands a cache sends, by name, and the round
// trips (Do and DoMulti calls) that carry them.
type commandCounter struct {
	mu     sync.Mutex
	byName map[string]int
	trips  int
}

func (cc *commandCounter) builder(opt rueidis.ClientOption) (rueidis.Client, error) {
	client, err := rueidis.NewClient(opt)
	return watchedClient{Client: client, see: func(cmd rueidis.Completed) {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if cc.byName == nil {
			cc.byName = map[string]int{}
		}
		cc.byName[strings.ToUpper(cmd.Commands()[0])]++
	}, trip: func() {
		cc.mu.Lock()
		cc.trips++
		cc.mu.Unlock()
	}}, err
}

// take returns the counts so far, and forgets them.
func (cc *commandCounter) take() (map[string]int, int) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	m, n := cc.byName, cc.trips
	cc.byName, cc.trips = nil, 0
	return m, n
}

func vec(i int) []float32 { return []float32{float32(i), float32(i) / 2, -1} }

// A batch of 100 texts, 80 of them cached: one round trip reads them all
// (one MGET), the embedder is called once with just the 20 that missed, in
// order and each once although some appear twice, and their vectors are
// stored in one more round trip; the next batch is all hits. With the near
// cache on, the second batch costs no round trip at all.
func TestFetchManyEmbeddings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		nearBytes int
	}{{"near-off", -1}, {"near-on", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cc commandCounter
			c := newCache(t, func(cfg *cache.Config) {
				cfg.NearCacheBytes = tc.nearBytes
				cfg.ClientBuilder = cc.builder
			})
			ctx := ctxT(t)
			vectors := embeddings(t, c, "m")
			texts := make([]string, 100)
			for i := range texts {
				texts[i] = fmt.Sprint("text ", i)
			}
			if err := vectors.SetMany(ctx, texts[:80], func() [][]float32 {
				out := make([][]float32, 80)
				for i := range out {
					out[i] = vec(i)
				}
				return out
			}()); err != nil {
				t.Fatal(err)
			}
			batch := append(slices.Clone(texts), texts[95], texts[3]) // a miss and a hit, twice
			cc.take()
			before := c.Stats().Kinds[cache.KindEmbedding]
			var calls [][]string
			got, err := vectors.FetchMany(ctx, batch, func(_ context.Context, ins []string) ([][]float32, error) {
				calls = append(calls, ins)
				out := make([][]float32, len(ins))
				for j, in := range ins {
					var i int
					fmt.Sscanf(in, "text %d", &i)
					out[j] = vec(i)
				}
				return out, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(calls) != 1 || !slices.Equal(calls[0], texts[80:]) {
				t.Fatalf("the embedder was called with %v; want once, with texts 80 to 99 in order", calls)
			}
			for i, text := range batch {
				var n int
				fmt.Sscanf(text, "text %d", &n)
				if !slices.Equal(got[i], vec(n)) {
					t.Fatalf("FetchMany[%d] (%s) = %v, want %v", i, text, got[i], vec(n))
				}
			}
			cmds, trips := cc.take()
			if cmds["MGET"] != 1 || cmds["GET"] != 0 || cmds["SET"] != 20 || trips != 2 {
				t.Errorf("FetchMany sent %v in %d round trips; want 1 MGET, 20 SETs, in 2", cmds, trips)
			}
			st := c.Stats().Kinds[cache.KindEmbedding]
			if hits, misses, loads, sets := st.Hits-before.Hits, st.Misses-before.Misses, st.Loads-before.Loads, st.Sets-before.Sets; hits != 80 || misses != 20 || loads != 1 || sets != 20 {
				t.Errorf("figures moved by %d hits, %d misses, %d loads, %d sets; want 80, 20, 1, 20", hits, misses, loads, sets)
			}
			vals, missing, err := vectors.GetMany(ctx, texts)
			if err != nil || len(missing) != 0 {
				t.Fatalf("GetMany after FetchMany: missing %v, %v; want every text", missing, err)
			}
			if !slices.Equal(vals[99], vec(99)) {
				t.Errorf("GetMany[99] = %v", vals[99])
			}
			cmds, trips = cc.take()
			if trips != 1 || cmds["MGET"] != 1 {
				t.Errorf("GetMany of cached texts sent %v in %d round trips; want 1 MGET in 1", cmds, trips)
			}
			if tc.nearBytes < 0 {
				return
			}
			// Values this process stored are not held locally (the server
			// does not track them for it), values it read are: once all
			// have been read, a batch costs no round trip. (A read that
			// crosses the server's report of this process's own write is
			// not kept: then the next batch reads that key again.)
			for i := 0; ; i++ {
				before := c.Stats().Kinds[cache.KindEmbedding].LocalHits
				if _, missing, err := vectors.GetMany(ctx, texts); len(missing) != 0 || err != nil {
					t.Fatal(missing, err)
				}
				if _, trips := cc.take(); trips == 0 {
					if local := c.Stats().Kinds[cache.KindEmbedding].LocalHits - before; local != 100 {
						t.Errorf("a batch with no round trip counted %d local hits; want 100", local)
					}
					break
				}
				if i == 5 {
					t.Fatal("the near cache never answered a whole batch")
				}
			}
		})
	}
}

// Unusable values in a batch are misses, not failures of the batch:
// undecodable bytes, a value of another Redis type, a value over
// MaxValueBytes. FetchMany replaces them.
func TestFetchManyReplacesUnusable(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) { cfg.MaxValueBytes = 1 << 10 })
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	raw := rawClient(t, redisURL(t))
	ins := []string{"corrupt", "hash", "huge", "good"}
	keys := make([]string, len(ins))
	for i, in := range ins {
		keys[i], _ = search.Key(in)
	}
	for _, cmd := range []rueidis.Completed{
		raw.B().Set().Key(keys[0]).Value("not an envelope").Build(),
		raw.B().Hset().Key(keys[1]).FieldValue().FieldValue("f", "v").Build(),
		raw.B().Set().Key(keys[2]).Value(strings.Repeat("x", 4<<10)).Build(),
	} {
		if err := raw.Do(ctx, cmd).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := search.Set(ctx, "good", "kept"); err != nil {
		t.Fatal(err)
	}
	vals, missing, err := search.GetMany(ctx, ins)
	if err != nil || !slices.Equal(missing, []int{0, 1, 2}) || vals[3] != "kept" {
		t.Fatalf("GetMany = %q, missing %v, %v; want the good value, the rest missing, no error", vals, missing, err)
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.Errors != 2 || st.Misses != 3 {
		t.Errorf("figures %+v; want 3 misses, 2 of them errors (undecodable, too large; MGET reads a hash as nil)", st)
	}
	var loaded []string
	got, err := search.FetchMany(ctx, ins, func(_ context.Context, ins []string) ([]string, error) {
		loaded = ins
		out := make([]string, len(ins))
		for i, in := range ins {
			out[i] = "new " + in
		}
		return out, nil
	})
	if err != nil || !slices.Equal(got, []string{"new corrupt", "new hash", "new huge", "kept"}) {
		t.Fatalf("FetchMany = %q, %v", got, err)
	}
	if !slices.Equal(loaded, ins[:3]) {
		t.Errorf("loaded %q; want the three unusable ones", loaded)
	}
	if _, missing, err := search.GetMany(ctx, ins); len(missing) != 0 || err != nil {
		t.Errorf("after FetchMany, missing %v, %v; want every value replaced", missing, err)
	}
}

// The loader's failures reach the caller and nothing is stored; a loader
// that returns the wrong number of values is refused; a panic is an
// ErrLoaderPanic.
func TestFetchManyLoaderFailures(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, int](c)
	boom := errors.New("engine down")
	for _, tc := range []struct {
		name string
		load cache.BatchLoaderFunc[string, int]
		want error
	}{
		{"error", func(context.Context, []string) ([]int, error) { return nil, boom }, boom},
		{"short", func(context.Context, []string) ([]int, error) { return []int{1}, nil }, cache.ErrInvalidArgument},
		{"panic", func(context.Context, []string) ([]int, error) { panic("bad batch") }, cache.ErrLoaderPanic},
	} {
		got, err := search.FetchMany(ctx, []string{"a", "b"}, tc.load)
		if !errors.Is(err, tc.want) || got != nil {
			t.Errorf("%s: FetchMany = %v, %v; want no values and %v", tc.name, got, err, tc.want)
		}
	}
	if _, missing, _ := search.GetMany(ctx, []string{"a", "b"}); len(missing) != 2 {
		t.Errorf("a failed batch stored values: missing %v", missing)
	}
	if err := search.SetMany(ctx, []string{"a"}, []int{1, 2}); !errors.Is(err, cache.ErrInvalidArgument) {
		t.Errorf("SetMany of 1 input and 2 values: %v; want ErrInvalidArgument", err)
	}
	// Nothing at all: no round trip, no loader call.
	got, err := search.FetchMany(ctx, nil, func(context.Context, []string) ([]int, error) {
		t.Error("loader called for an empty batch")
		return nil, nil
	})
	if len(got) != 0 || err != nil {
		t.Errorf("FetchMany(nil) = %v, %v", got, err)
	}
}

// With Redis gone, FetchMany answers every input from the loader, in one
// call, and returns no error; GetMany reports the failure.
func TestFetchManyRedisDown(t *testing.T) {
	t.Parallel()
	srv, c := privateCache(t)
	srv.Stop()
	ctx := ctxT(t)
	intents := cache.Intents[string](c, "")
	var calls atomic.Int32
	got, err := intents.FetchMany(ctx, []string{"a", "b", "a"}, func(_ context.Context, ins []string) ([]string, error) {
		calls.Add(1)
		return slices.Clone(ins), nil
	})
	if err != nil || !slices.Equal(got, []string{"a", "b", "a"}) || calls.Load() != 1 {
		t.Fatalf("FetchMany with Redis down = %q, %v (%d loader calls); want the loader's values, one call", got, err, calls.Load())
	}
	_, missing, err := intents.GetMany(ctx, []string{"a", "b"})
	if !errors.Is(err, cache.ErrUnavailable) || len(missing) != 2 {
		t.Errorf("GetMany with Redis down: missing %v, %v; want both missing and ErrUnavailable", missing, err)
	}
}

// A batch read fills the near cache, and the server's invalidations keep
// it coherent: a value changed by another client is read anew.
func TestGetManyNearCacheCoherent(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	if err := search.SetMany(ctx, []string{"a", "b"}, []string{"A", "B"}); err != nil {
		t.Fatal(err)
	}
	if _, missing, err := search.GetMany(ctx, []string{"a", "b"}); len(missing) != 0 || err != nil {
		t.Fatal(missing, err)
	}
	invalidated := make(chan string, 4)
	cache.SetInvalidationHook(c, func(key string) { invalidated <- key })
	other, err := cache.New(ctx, cache.Config{URL: redisURL(t), Namespace: c.Namespace()}) // another instance
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := cache.Search[string, string](other).Set(ctx, "b", "B2"); err != nil {
		t.Fatal(err)
	}
	keyB, _ := search.Key("b")
	for k := range invalidated {
		if k == keyB {
			break
		}
	}
	vals, _, err := search.GetMany(ctx, []string{"a", "b"})
	if err != nil || vals[0] != "A" || vals[1] != "B2" {
		t.Errorf("GetMany after another instance's write = %q, %v; want A and B2", vals, err)
	}
}

// A value too large to store does not keep the rest of a FetchMany's
// batch from being stored; it is returned all the same, and counted.
func TestFetchManyStoresWhatItCan(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) { cfg.MaxValueBytes = 1000 })
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	got, err := search.FetchMany(ctx, []string{"a", "huge", "b"}, func(_ context.Context, ins []string) ([]string, error) {
		return []string{"A", strings.Repeat("x", 5000), "B"}, nil
	})
	if err != nil || got[0] != "A" || len(got[1]) != 5000 || got[2] != "B" {
		t.Fatalf("FetchMany = %d values, %v", len(got), err)
	}
	if _, missing, err := search.GetMany(ctx, []string{"a", "huge", "b"}); !slices.Equal(missing, []int{1}) || err != nil {
		t.Errorf("after FetchMany, missing %v, %v; want only the value too large", missing, err)
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.Sets != 2 || st.Errors != 1 {
		t.Errorf("figures %+v; want 2 sets and 1 error", st)
	}
}

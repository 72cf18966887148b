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

	"github.com/media-gateway/discovery/cache"
)

// Warm reads what is cached, loads the rest Concurrency at a time, stores
// it, counts each input once, reports progress after each, and leaves the
// values in the near cache; failed loads are counted, not returned.
func TestWarm(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	var ins []string
	for i := range 300 {
		ins = append(ins, fmt.Sprint("query ", i))
	}
	if err := search.SetMany(ctx, ins[:100], ins[:100]); err != nil {
		t.Fatal(err)
	}
	var running, most, calls atomic.Int32
	load := func(_ context.Context, q string) (string, error) {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if strings.HasSuffix(q, "7") {
			return "", errors.New("engine refused " + q)
		}
		return q, nil
	}
	var mu sync.Mutex
	var reports []cache.WarmSummary
	sum, err := search.Warm(ctx, append(ins, ins[5], ins[250]), load, cache.WarmOptions{Concurrency: 4, Progress: func(s cache.WarmSummary) {
		mu.Lock()
		reports = append(reports, s)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Of the 200 to load (100 to 299), 20 end in 7.
	if sum.Inputs != 300 || sum.Cached != 100 || sum.Loaded != 180 || sum.Failed != 20 || sum.Done != 300 || sum.FirstError == nil {
		t.Errorf("summary %+v; want 300 inputs: 100 cached, 180 loaded, 20 failed", sum)
	}
	if calls.Load() != 200 || most.Load() > 4 {
		t.Errorf("%d loads, %d at once; want 200, at most 4 at once", calls.Load(), most.Load())
	}
	if last := reports[len(reports)-1]; last.Done != 300 || len(reports) < 200 {
		t.Errorf("%d progress reports, the last %+v; want one per load and the cached ones, ending at 300 done", len(reports), last)
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].Done < reports[i-1].Done {
			t.Fatalf("progress went back: %+v after %+v", reports[i], reports[i-1])
		}
	}
	before := c.Stats().Kinds[cache.KindSearch].LocalHits
	_, missing, err := search.GetMany(ctx, ins)
	if err != nil || len(missing) != 20 {
		t.Errorf("after Warm, %d missing (%v); want the 20 that failed", len(missing), err)
	}
	if local := c.Stats().Kinds[cache.KindSearch].LocalHits - before; local != 280 {
		t.Errorf("%d of the 280 warmed values answered by the near cache; want all", local)
	}
	// Force loads everything again.
	calls.Store(0)
	sum, err = search.Warm(ctx, ins[:10], load, cache.WarmOptions{Force: true})
	if err != nil || sum.Loaded != 9 || sum.Failed != 1 || sum.Cached != 0 || calls.Load() != 10 {
		t.Errorf("forced Warm = %+v, %v after %d loads; want 10 loads, 9 stored, 1 failed", sum, err, calls.Load())
	}
}

// With Redis gone, Warm loads every input and counts each as failed (none
// can be stored); a context that ends stops it with the summary so far.
func TestWarmFailures(t *testing.T) {
	t.Parallel()
	srv, c := privateCache(t)
	ctx := ctxT(t)
	intents := cache.Intents[string](c, "")
	ok := func(_ context.Context, q string) (string, error) { return q, nil }
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if sum, err := intents.Warm(canceled, []string{"a", "b"}, ok, cache.WarmOptions{}); !errors.Is(err, context.Canceled) || sum.Done != 0 {
		t.Errorf("Warm with an ended context = %+v, %v; want context.Canceled and nothing done", sum, err)
	}
	srv.Stop()
	sum, err := intents.Warm(ctx, []string{"a", "b", "c"}, ok, cache.WarmOptions{})
	if err != nil || sum.Failed != 3 || sum.Loaded != 0 || !errors.Is(sum.FirstError, cache.ErrUnavailable) {
		t.Errorf("Warm with Redis down = %+v, %v; want 3 failed with ErrUnavailable", sum, err)
	}
}

// Warming is not use: the values of an adaptive kind that Warm stores and
// reads back keep their ColdTTL.
func TestWarmAdaptive(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) { cfg.Policy = cache.Policy{Adaptive: true, TTLJitter: -1} })
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	kd, err := cache.NewKind[string, string](c, "warmed", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := kd.Warm(ctx, []string{"a", "b", "c"}, func(_ context.Context, in string) (string, error) { return in, nil }, cache.WarmOptions{})
	if err != nil || sum.Loaded != 3 {
		t.Fatalf("Warm = %+v, %v", sum, err)
	}
	key, _ := kd.Key("a")
	ms, err := raw.Do(ctx, raw.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil || ms <= 0 || ms > (15*time.Minute).Milliseconds() {
		t.Errorf("a warmed value lives %d ms (%v); want ColdTTL (15 min), not extended", ms, err)
	}
	c.Close() // waits for background work: an extension would be counted by then
	if st := c.Stats().Kinds["warmed"]; st.Extensions != 0 {
		t.Errorf("%d extensions by Warm; want none", st.Extensions)
	}
}

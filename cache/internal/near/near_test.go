package near

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// keep stores v under key for f, as a tracked read that nothing
// invalidated does.
func (n *Cache) keep(f *Figures, key string, v any, size uint32) {
	tk := n.Begin(key)
	n.End(key, tk, Entry{Owner: f, Value: v, Size: size}, true, -1, time.Now())
}

// The store has one budget for every owner: 200 kinds reading 100 values
// each hold no more than the budget together, and each owner's figures
// add up to what the store holds; those it drops to stay within it are
// counted as evicted.
func TestOneBudget(t *testing.T) {
	t.Parallel()
	const budget = 1 << 20
	n := New(budget, time.Minute, nil)
	defer n.Close()
	kinds := make([]Figures, 200)
	for i := range kinds {
		for j := range 100 {
			n.keep(&kinds[i], fmt.Sprintf("ns:kind%d:%d", i, j), j, 10<<10)
		}
	}
	n.CleanUp()
	var entries, bytes int64
	var evicted uint64
	for i := range kinds {
		entries += kinds[i].Entries.Load()
		bytes += kinds[i].Bytes.Load()
		evicted += kinds[i].Evicted.Load()
	}
	if kept := uint64(entries) + evicted; kept != 200*100 {
		t.Errorf("%d entries held and %d evicted; want the 20000 kept, one way or the other", entries, evicted)
	}
	if w := n.data.WeightedSize(); w > budget || uint64(bytes) != w || entries != int64(n.data.EstimatedSize()) {
		t.Errorf("store holds %d bytes in %d entries, the kinds count %d bytes in %d; want at most %d, and the same figures", w, n.data.EstimatedSize(), bytes, entries, budget)
	}
	if entries == 0 {
		t.Error("no entry kept")
	}
}

// An invalidation finds its entry by key, whatever the number of kinds,
// and counts it for the owner that held it.
func TestInvalidateCountsItsOwner(t *testing.T) {
	t.Parallel()
	n := New(1<<20, time.Minute, nil)
	defer n.Close()
	var a, b Figures
	n.keep(&a, "ns:a:1", "x", 100)
	n.keep(&b, "ns:b:1", "y", 100)
	n.Invalidate("ns:a:1")
	n.Invalidate("ns:a:2") // never held
	n.CleanUp()
	if a.Invalidated.Load() != 1 || b.Invalidated.Load() != 0 || a.Entries.Load() != 0 || b.Entries.Load() != 1 {
		t.Errorf("after invalidating a's key: a %d invalidated, %d entries; b %d, %d; want 1, 0; 0, 1",
			a.Invalidated.Load(), a.Entries.Load(), b.Invalidated.Load(), b.Entries.Load())
	}
	n.keep(&b, "ns:b:1", "z", 300) // a replacement counts once
	n.CleanUp()
	if b.Entries.Load() != 1 || b.Bytes.Load() != 300 {
		t.Errorf("after a replacement, b counts %d entries of %d bytes; want 1 of 300", b.Entries.Load(), b.Bytes.Load())
	}
}

// The races the store closes: a read whose key is invalidated, or whose
// store is flushed, between Begin and End keeps nothing; a read that
// began after them keeps its value; reads of one key in flight together
// are each judged by their own ticket.
func TestReadsInFlight(t *testing.T) {
	t.Parallel()
	var f Figures
	for _, tc := range []struct {
		name   string
		during func(n *Cache)
		kept   bool
	}{
		{"nothing", func(*Cache) {}, true},
		{"invalidated", func(n *Cache) { n.Invalidate("k") }, false},
		{"another key invalidated", func(n *Cache) { n.Invalidate("other") }, true},
		{"flushed", func(n *Cache) { n.Flush() }, false},
		{"nil push", func(n *Cache) { n.OnInvalidations(nil) }, false},
		{"pushed", func(n *Cache) { n.Pushed("k") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := New(1<<20, time.Minute, nil)
			defer n.Close()
			tk := n.Begin("k")
			tc.during(n)
			n.End("k", tk, Entry{Owner: &f, Value: 1, Size: 100}, true, 60_000, time.Now())
			if _, ok := n.Get("k"); ok != tc.kept {
				t.Errorf("kept %v; want %v", ok, tc.kept)
			}
			n.End("k", n.Begin("k"), Entry{Owner: &f, Value: 2, Size: 100}, true, 60_000, time.Now())
			if e, ok := n.Get("k"); !ok || e.Value != 2 {
				t.Errorf("a read begun after the change: %v, %v; want its value kept", e.Value, ok)
			}
		})
	}
	t.Run("two reads, one spoiled", func(t *testing.T) {
		n := New(1<<20, time.Minute, nil)
		defer n.Close()
		first := n.Begin("k")
		n.Invalidate("k")
		second := n.Begin("k")
		n.End("k", first, Entry{Owner: &f, Value: 1, Size: 100}, true, 60_000, time.Now())
		if _, ok := n.Get("k"); ok {
			t.Error("the read that crossed the invalidation kept its value")
		}
		n.End("k", second, Entry{Owner: &f, Value: 2, Size: 100}, true, 60_000, time.Now())
		if e, ok := n.Get("k"); !ok || e.Value != 2 {
			t.Errorf("the read begun after it: %v, %v; want its value kept", e.Value, ok)
		}
		if len(n.shard("k").reads) != 0 {
			t.Error("reads in flight left registered after their End")
		}
	})
}

// An entry lives no longer than its key in Redis, nor than the store's
// maximum age; a key that is gone, or has no expiry, is kept accordingly.
func TestEntryLife(t *testing.T) {
	t.Parallel()
	n := New(1<<20, time.Minute, nil)
	defer n.Close()
	sent := time.Now()
	for _, tc := range []struct {
		pttl   int64
		lo, hi time.Duration
	}{
		{-1, time.Minute, time.Minute}, // no expiry: the maximum age
		{-2, 0, 0},                     // gone
		{0, 0, 0},                      // about to go
		{5_000, 4 * time.Second, 5 * time.Second}, // its key's life, less the time since it was sent
		{3_600_000, time.Minute, time.Minute},     // the maximum age
	} {
		if got := n.entryTTL(tc.pttl, sent); got < tc.lo || got > tc.hi {
			t.Errorf("entryTTL(%d ms) = %v; want within [%v, %v]", tc.pttl, got, tc.lo, tc.hi)
		}
	}
	var f Figures
	n.End("gone", n.Begin("gone"), Entry{Owner: &f, Value: 1, Size: 100}, true, -2, sent)
	if _, ok := n.Get("gone"); ok || f.Entries.Load() != 0 {
		t.Error("a key gone from Redis was kept")
	}
	n.End("k", n.Begin("k"), Entry{Owner: &f, Value: 1, Size: 100}, true, 5_000, sent)
	if e, ok := n.Get("k"); !ok || e.Exp != sent.Add(5*time.Second).UnixNano() {
		t.Errorf("entry %+v, %v; want its key's expiry, sent + PTTL", e, ok)
	}
}

// The server's pushes drop their keys and tell the owner of the store
// (changed); a watched key's push is reported; a flush is not a change.
func TestPushes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var changed []string
	n := New(1<<20, time.Minute, func(key string) { mu.Lock(); changed = append(changed, key); mu.Unlock() })
	defer n.Close()
	var f Figures
	n.keep(&f, "a", 1, 100)
	n.keep(&f, "b", 2, 100)
	seen, stop := n.Watch("b")
	defer stop()
	n.Pushed("a")
	n.Pushed("b")
	select {
	case <-seen:
	default:
		t.Error("the watched key's push was not reported")
	}
	if _, ok := n.Get("a"); ok {
		t.Error("a pushed key is still held")
	}
	n.OnInvalidations(nil)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(changed) != "[a b]" || n.Flushes() != 1 {
		t.Errorf("changed %v, %d flushes; want [a b] and 1", changed, n.Flushes())
	}
}

// The cost of an invalidation (every write of this process, every push of
// the server) does not grow with the number of kinds: compare the
// families' ns/op.
func BenchmarkInvalidate(b *testing.B) {
	for _, kinds := range []int{1, 200, 2000} {
		b.Run(fmt.Sprint("kinds=", kinds), func(b *testing.B) {
			n := New(64<<20, time.Minute, nil)
			defer n.Close()
			fs := make([]Figures, kinds)
			for i := range fs {
				n.keep(&fs[i], fmt.Sprintf("ns:kind%d:0", i), i, 200)
			}
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = fmt.Sprintf("ns:kind%d:%d", i%kinds, i)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				n.Invalidate(keys[i%len(keys)])
			}
		})
	}
}

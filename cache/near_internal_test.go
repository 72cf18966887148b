package cache

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// keep stores v under key for k, as a tracked read that nothing
// invalidated does.
func (n *near) keep(k *kindState, key string, v any, size uint32) {
	tk := n.begin(key)
	n.end(key, tk, nearEntry{kind: k, v: v, typ: reflect.TypeOf(v), size: size}, true, -1, time.Now())
}

// The near cache has one budget for every kind: 200 kinds reading 100
// values each hold no more than NearCacheBytes together (at the defaults
// of the per-kind design, 200 kinds held 3.2 GiB), and each kind's figures
// add up to what the store holds.
func TestNearOneBudget(t *testing.T) {
	t.Parallel()
	const budget = 1 << 20
	n := newNear(budget, time.Minute)
	defer n.close()
	kinds := make([]*kindState, 200)
	for i := range kinds {
		kinds[i] = &kindState{name: fmt.Sprint("kind", i)}
		for j := range 100 {
			n.keep(kinds[i], fmt.Sprintf("ns:%s:%d", kinds[i].name, j), j, 10<<10)
		}
	}
	n.data.CleanUp()
	var entries, bytes int64
	for _, k := range kinds {
		entries += k.nearEntries.Load()
		bytes += k.nearBytes.Load()
	}
	if w := n.data.WeightedSize(); w > budget || uint64(bytes) != w || entries != int64(n.data.EstimatedSize()) {
		t.Errorf("store holds %d bytes in %d entries, the kinds count %d bytes in %d; want at most %d, and the same figures", w, n.data.EstimatedSize(), bytes, entries, budget)
	}
	if entries == 0 {
		t.Error("no entry kept")
	}
}

// An invalidation finds its entry by key, whatever the number of kinds,
// and counts it for the kind that held it.
func TestNearInvalidateCountsItsKind(t *testing.T) {
	t.Parallel()
	n := newNear(1<<20, time.Minute)
	defer n.close()
	a, b := &kindState{name: "a"}, &kindState{name: "b"}
	n.keep(a, "ns:a:1", "x", 100)
	n.keep(b, "ns:b:1", "y", 100)
	n.invalidate("ns:a:1")
	n.invalidate("ns:a:2") // never held
	n.data.CleanUp()
	if a.nearInvalidated.Load() != 1 || b.nearInvalidated.Load() != 0 || a.nearEntries.Load() != 0 || b.nearEntries.Load() != 1 {
		t.Errorf("after invalidating a's key: a %d invalidated, %d entries; b %d, %d; want 1, 0; 0, 1",
			a.nearInvalidated.Load(), a.nearEntries.Load(), b.nearInvalidated.Load(), b.nearEntries.Load())
	}
	n.keep(b, "ns:b:1", "z", 300) // a replacement counts once
	n.data.CleanUp()
	if b.nearEntries.Load() != 1 || b.nearBytes.Load() != 300 {
		t.Errorf("after a replacement, b counts %d entries of %d bytes; want 1 of 300", b.nearEntries.Load(), b.nearBytes.Load())
	}
}

// The cost of an invalidation (every write of this process, every push of
// the server) does not grow with the number of kinds: compare the
// families' ns/op.
func BenchmarkNearInvalidate(b *testing.B) {
	for _, kinds := range []int{1, 200, 2000} {
		b.Run(fmt.Sprint("kinds=", kinds), func(b *testing.B) {
			n := newNear(64<<20, time.Minute)
			defer n.close()
			ks := make([]*kindState, kinds)
			for i := range ks {
				ks[i] = &kindState{name: fmt.Sprint("kind", i)}
				n.keep(ks[i], fmt.Sprintf("ns:kind%d:0", i), i, 200)
			}
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = fmt.Sprintf("ns:kind%d:%d", i%kinds, i)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				n.invalidate(keys[i%len(keys)])
			}
		})
	}
}

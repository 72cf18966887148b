package latency

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Every value falls in a bucket whose bounds contain it, and buckets are
// contiguous and increasing.
func TestBuckets(t *testing.T) {
	for i := 1; i < nBuckets; i++ {
		_, prevHi := bounds(i - 1)
		lo, hi := bounds(i)
		if lo != prevHi || hi <= lo {
			t.Fatalf("bucket %d = [%d,%d), previous ends at %d", i, lo, hi, prevHi)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := r.Uint64N(1 << maxExp)
		lo, hi := bounds(index(v))
		if v < lo || v >= hi {
			t.Fatalf("%d is in bucket %d = [%d,%d)", v, index(v), lo, hi)
		}
		if float64(hi-lo) > float64(max(lo, 1))/sub+1 {
			t.Fatalf("bucket of %d is [%d,%d): wider than 1/%d of its start", v, lo, hi, sub)
		}
	}
	if index(math.MaxUint64) != nBuckets-1 {
		t.Error("the largest value does not fall in the last bucket")
	}
}

// Quantiles read back are within the promised 6.25% of the exact ones.
func TestSummaryQuantiles(t *testing.T) {
	var h Histogram
	r := rand.New(rand.NewPCG(3, 4))
	var all []time.Duration
	for range 50000 {
		d := time.Duration(r.ExpFloat64() * float64(200*time.Microsecond))
		h.Record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	s := h.Summary()
	if s.Count != uint64(len(all)) {
		t.Fatalf("Count = %d, want %d", s.Count, len(all))
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"p50", s.P50, all[len(all)/2]},
		{"p99", s.P99, all[len(all)*99/100]},
	} {
		if rel := math.Abs(float64(c.got-c.want)) / float64(c.want); rel > 0.0625 {
			t.Errorf("%s = %v, exact %v: off by %.1f%%", c.name, c.got, c.want, 100*rel)
		}
	}
}

func TestEmptyAndNegative(t *testing.T) {
	var h Histogram
	if s := h.Summary(); s != (Summary{}) {
		t.Errorf("empty histogram: %+v", s)
	}
	h.Record(-time.Second)
	if s := h.Summary(); s.Count != 1 || s.P99 != 0 {
		t.Errorf("a negative duration: %+v, want one zero", s)
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	b.RunParallel(func(pb *testing.PB) {
		d := 30 * time.Microsecond
		for pb.Next() {
			h.Record(d)
			d += 17
		}
	})
}

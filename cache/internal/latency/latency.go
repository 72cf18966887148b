// Package latency keeps latency distributions that many goroutines record
// into without locks: a log-linear histogram of atomic counters.
//
// Durations are counted in buckets eight to an octave (1–1.125 µs,
// 1.125–1.25 µs, …), so a quantile read back is within 6.25% of the true
// value. Recording is one atomic add to a bucket; reading walks the
// buckets. Durations past about 68 s fall in the last bucket.
package latency

import (
	"math/bits"
	"sync/atomic"
	"time"
)

const (
	subBits  = 3 // 2^subBits buckets per octave
	sub      = 1 << subBits
	maxExp   = 36 // durations ≥ 2^36 ns (≈ 68.7 s) share the last bucket
	nBuckets = (maxExp-subBits+1)*sub + sub
)

// Histogram is a latency distribution. The zero value is empty and ready;
// it must not be copied after first use.
type Histogram struct {
	buckets [nBuckets]atomic.Uint64
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	h.buckets[index(uint64(d))].Add(1)
}

// index returns the bucket of v nanoseconds: exact below 2^subBits, then
// 2^subBits buckets per power of two.
func index(v uint64) int {
	if v < sub {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v is in [2^e, 2^(e+1))
	if e >= maxExp {
		return nBuckets - 1
	}
	m := int(v>>(e-subBits)) & (sub - 1)
	return (e-subBits+1)*sub + m
}

// bounds returns the range [lo, hi) of bucket i, in nanoseconds.
func bounds(i int) (lo, hi uint64) {
	if i < sub {
		return uint64(i), uint64(i) + 1
	}
	e := i/sub + subBits - 1
	m := uint64(i % sub)
	width := uint64(1) << (e - subBits)
	lo = uint64(1)<<e + m*width
	return lo, lo + width
}

// Summary is a histogram read at one moment.
type Summary struct {
	Count uint64        // durations recorded
	P50   time.Duration // the median, within 6.25%
	P99   time.Duration // the 99th percentile, within 6.25%
}

// Summary reads the histogram. Durations recorded while it runs may be
// partly included.
func (h *Histogram) Summary() Summary {
	var counts [nBuckets]uint64
	var total uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return Summary{}
	}
	s := Summary{Count: total}
	s.P50 = quantile(&counts, total, 0.50)
	s.P99 = quantile(&counts, total, 0.99)
	return s
}

// quantile returns the middle of the bucket holding the q-quantile.
func quantile(counts *[nBuckets]uint64, total uint64, q float64) time.Duration {
	rank := uint64(q*float64(total-1)) + 1 // 1-based rank of the wanted value
	var seen uint64
	for i, n := range counts {
		if seen += n; seen >= rank {
			lo, hi := bounds(i)
			return time.Duration(lo + (hi-lo)/2)
		}
	}
	return 0
}

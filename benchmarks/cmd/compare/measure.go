package main

import (
	"context"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// A workload is one cell of the matrix: which value, which keys (uniform
// or Zipf over the key space), how many goroutines, reads or writes.
type workload struct {
	Value string `json:"value"`
	Dist  string `json:"dist"`
	Conc  int    `json:"concurrency"`
	Op    string `json:"op"`
}

func (w workload) String() string {
	return w.Op + " " + w.Value + ", " + w.Dist + " keys, " + itoa(w.Conc) + " goroutines"
}

// A result is one pass of one stack on one workload.
type result struct {
	OpsPerSec   float64       `json:"ops_per_sec"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	AllocsPerOp float64       `json:"allocs_per_op"`
	Errors      int64         `json:"errors"`
}

// hist is a latency histogram: 8 buckets a power of two, so quantiles are
// within 1/8 of the truth. One per goroutine; merged at the end.
type hist [64 * 8]uint64

func bucket(ns int64) int {
	if ns < 8 {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 1 // ns is in [2^e, 2^(e+1))
	return e*8 + int(uint64(ns)>>(e-3)&7)
}

// lower is the smallest duration of bucket b.
func lower(b int) time.Duration {
	if b < 8 {
		return time.Duration(b)
	}
	e := b / 8
	return time.Duration(uint64(8+b%8) << (e - 3))
}

func (h *hist) add(d time.Duration) { h[bucket(int64(d))]++ }

func (h *hist) merge(o *hist) {
	for i := range h {
		h[i] += o[i]
	}
}

func (h *hist) quantile(q float64) time.Duration {
	var n uint64
	for _, c := range h {
		n += c
	}
	rank := uint64(q * float64(n))
	var seen uint64
	for b, c := range h {
		if seen += c; seen > rank {
			return lower(b)
		}
	}
	return 0
}

// sequences caches keySequence: every stack reads the same sequences.
var sequences sync.Map // seqID → []int

type seqID struct {
	dist       string
	keys, seed int
}

// keySequence returns a sequence of key indexes of the distribution, long
// enough to be read in a loop without showing its period.
func keySequence(dist string, keys int, seed uint64) []int {
	id := seqID{dist, keys, int(seed)}
	if seq, ok := sequences.Load(id); ok {
		return seq.([]int)
	}
	seq := makeSequence(dist, keys, seed)
	sequences.Store(id, seq)
	return seq
}

func makeSequence(dist string, keys int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	seq := make([]int, 1<<16)
	if dist == "uniform" {
		for i := range seq {
			seq[i] = r.IntN(keys)
		}
		return seq
	}
	z := rand.NewZipf(r, 1.1, 1, uint64(keys-1)) // a few hot keys, a long tail
	for i := range seq {
		seq[i] = int(z.Uint64())
	}
	return seq
}

// padded keeps each goroutine's counters on their own cache line.
type padded struct {
	ops, errs int64
	h         hist
	_         [64]byte
}

// measure measures st on w for d, after a warm-up of d/10.
func measure(ctx context.Context, st *stack, w workload, keys int, d time.Duration) result {
	op := st.get
	if w.Op == "write" {
		op = st.set
	}
	per := make([]padded, w.Conc)
	seqs := make([][]int, w.Conc)
	for g := range seqs {
		seqs[g] = keySequence(w.Dist, keys, uint64(g+1))
	}
	// Collect before the workers start: a collection asked for while
	// goroutines spin on two cores takes seconds to get its turns.
	runtime.GC()
	var measuring, stop atomic.Bool
	var started sync.WaitGroup
	var wg sync.WaitGroup
	for g := range w.Conc {
		started.Add(1)
		wg.Go(func() {
			p, seq := &per[g], seqs[g]
			started.Done()
			for j := 0; !stop.Load(); j++ {
				t0 := time.Now()
				err := op(ctx, w.Value, seq[j&(len(seq)-1)])
				lat := time.Since(t0)
				if !measuring.Load() {
					continue
				}
				p.ops++
				p.h.add(lat)
				if err != nil {
					p.errs++
				}
			}
		})
	}
	started.Wait()
	time.Sleep(d / 10)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	measuring.Store(true)
	time.Sleep(d)
	measuring.Store(false)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	stop.Store(true)
	wg.Wait()

	var total hist
	var r result
	var ops int64
	for i := range per {
		ops += per[i].ops
		r.Errors += per[i].errs
		total.merge(&per[i].h)
	}
	if ops == 0 {
		return r
	}
	r.OpsPerSec = float64(ops) / elapsed.Seconds()
	r.P50, r.P99 = total.quantile(0.50), total.quantile(0.99)
	r.AllocsPerOp = float64(after.Mallocs-before.Mallocs) / float64(ops)
	return r
}

// summary is the passes of one stack on one workload, condensed: medians,
// and the spread of throughput between passes ((max-min)/median).
type summary struct {
	Stack  string   `json:"stack"`
	Passes []result `json:"passes"`
	Median result   `json:"median"`
	Spread float64  `json:"spread"`
}

func summarize(name string, passes []result) summary {
	s := summary{Stack: name, Passes: passes}
	med := func(f func(r result) float64) float64 {
		v := make([]float64, len(passes))
		for i, r := range passes {
			v[i] = f(r)
		}
		sort.Float64s(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	s.Median = result{
		OpsPerSec:   med(func(r result) float64 { return r.OpsPerSec }),
		P50:         time.Duration(med(func(r result) float64 { return float64(r.P50) })),
		P99:         time.Duration(med(func(r result) float64 { return float64(r.P99) })),
		AllocsPerOp: med(func(r result) float64 { return r.AllocsPerOp }),
	}
	lo, hi := passes[0].OpsPerSec, passes[0].OpsPerSec
	for _, r := range passes {
		lo, hi = min(lo, r.OpsPerSec), max(hi, r.OpsPerSec)
		s.Median.Errors += r.Errors
	}
	if s.Median.OpsPerSec > 0 {
		s.Spread = (hi - lo) / s.Median.OpsPerSec
	}
	return s
}

package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ours are the stacks of this library; the others are peers.
func ours(name string) bool { return strings.HasPrefix(name, "cache ") }

const baselineSet = "rueidis SET of encoded bytes"

// find returns the summary of stack in c, or nil.
func (c cell) find(stack string) *summary {
	for i := range c.Stacks {
		if c.Stacks[i].Stack == stack {
			return &c.Stacks[i]
		}
	}
	return nil
}

// bestPeer returns the fastest stack of c that is not this library's nor
// the write baseline.
func (c cell) bestPeer() *summary {
	var best *summary
	for i := range c.Stacks {
		s := &c.Stacks[i]
		if ours(s.Stack) || s.Stack == baselineSet {
			continue
		}
		if best == nil || s.Median.OpsPerSec > best.Median.OpsPerSec {
			best = s
		}
	}
	return best
}

func (r report) cell(op, value, dist string, conc int) (cell, bool) {
	for _, c := range r.Cells {
		if w := c.Workload; w.Op == op && w.Value == value && w.Dist == dist && w.Conc == conc {
			return c, true
		}
	}
	return cell{}, false
}

func writeMarkdown(w io.Writer, r report) {
	fmt.Fprintf(w, "# Side by side: this cache and its peers\n\n")
	fmt.Fprintf(w, "Run %s on %s; %v of measuring per stack and workload, %v passes, %v keys per value.\n",
		r.Started.Format(time.RFC3339), r.Machine, r.Options["duration"], r.Options["passes"], r.Options["keys"])
	fmt.Fprintf(w, "Produced by `go -C benchmarks run ./cmd/compare`; figures are medians of the passes.\n\n")

	fmt.Fprintf(w, "## Targets\n\n| target | measured | ratio |\n|---|---|---|\n")
	target := func(name string, c cell, ok bool, stack, against string) {
		if !ok {
			return
		}
		s, base := c.find(stack), c.find(against)
		if against == "" {
			base = c.bestPeer()
		}
		if s == nil || base == nil || base.Median.OpsPerSec == 0 {
			return
		}
		fmt.Fprintf(w, "| %s | %s %s ops/s (p99 %v) vs %s %s ops/s | %.2f× |\n", name, stack, ops(s.Median.OpsPerSec),
			round(s.Median.P99), base.Stack, ops(base.Median.OpsPerSec), s.Median.OpsPerSec/base.Median.OpsPerSec)
	}
	c, ok := r.cell("read", valueSearch, "zipf", 8)
	target("hot search hits, Zipf keys, 8 goroutines: near cache on vs the best peer", c, ok, "cache (near on)", "")
	c, ok = r.cell("read", valueEmbedding, "zipf", 8)
	target("hot embedding hits, Zipf keys, 8 goroutines: near cache on vs rueidis' client-side cache", c, ok, "cache (near on)", "rueidis client-side cache")
	for _, d := range []string{"zipf", "uniform"} {
		c, ok = r.cell("read", valueSearch, d, 64)
		target("search hits from Redis, "+d+" keys, 64 goroutines: near cache off vs rueidis + encoding/json", c, ok, "cache (near off)", "rueidis")
	}
	for _, d := range []string{"zipf", "uniform"} {
		for _, conc := range []int{8, 64} {
			c, ok = r.cell("write", valueSearch, d, conc)
			target("writes of search-20, "+d+" keys, "+itoa(conc)+" goroutines, near cache off: vs rueidis + encoding/json", c, ok, "cache (near off)", "rueidis")
		}
	}
	for _, v := range []string{valueSearch, valueEmbedding} {
		for _, d := range []string{"zipf", "uniform"} {
			for _, st := range []string{"cache (near off)", "cache (near on)"} {
				c, ok = r.cell("write", v, d, 8)
				target("writes of "+v+", "+d+" keys, 8 goroutines, "+strings.TrimPrefix(st, "cache ")+": vs a SET of the same bytes", c, ok, st, baselineSet)
			}
		}
	}
	fmt.Fprintln(w)

	if len(r.Coherence) > 0 {
		fmt.Fprintf(w, "## Coherence\n\nA writer instance writes a key a reader instance holds locally; the delay runs from the write's return to the reader's first read of the new value (limit %v). Then every client connection but an admin one is cut (`CLIENT KILL TYPE normal`), 100 keys the reader holds are rewritten, and the reader reads them.\n\n", coherenceLimit)
		fmt.Fprintf(w, "| stack | writes | seen after p50 | p99 | max | not seen within %v | stale reads after reconnect |\n|---|---|---|---|---|---|---|\n", coherenceLimit)
		for _, f := range r.Coherence {
			fmt.Fprintf(w, "| %s | %d | %v | %v | %v | %d | %d of %d |\n", f.Stack, f.Writes, round(f.P50), round(f.P99), round(f.Max), f.NotSeen, f.StaleReads, f.ReconnectOf)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "## Every workload\n\nratio: ops/s against the best peer (this library's rows), or against this library's near cache off (peers' rows); spread: (max − min) / median of the passes' ops/s.\n")
	for _, c := range r.Cells {
		fmt.Fprintf(w, "\n### %s\n\n| stack | ops/s | ratio | p50 | p99 | allocs/op | spread | errors |\n|---|---|---|---|---|---|---|---|\n", c.Workload)
		best, far := c.bestPeer(), c.find("cache (near off)")
		for _, s := range c.Stacks {
			base := far
			if ours(s.Stack) {
				base = best
			}
			if c.Workload.Op == "write" {
				base = c.find(baselineSet)
			}
			ratio := "—"
			if base != nil && base.Median.OpsPerSec > 0 && base.Stack != s.Stack {
				ratio = fmt.Sprintf("%.2f×", s.Median.OpsPerSec/base.Median.OpsPerSec)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %v | %v | %.1f | %.0f%% | %d |\n", s.Stack, ops(s.Median.OpsPerSec), ratio,
				round(s.Median.P50), round(s.Median.P99), s.Median.AllocsPerOp, 100*s.Spread, s.Median.Errors)
		}
	}
}

// ops writes a throughput with three significant digits.
func ops(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= time.Microsecond:
		return d.Round(10 * time.Nanosecond)
	}
	return d
}

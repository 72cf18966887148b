// Command compare measures package cache side by side with the libraries
// a Go service would otherwise pick, on one private redis-server, in one
// run: this cache with its near cache on and off, rueidis with and without
// its client-side cache, go-redis, and go-redis/cache with and without its
// TinyLFU local cache. Values are realistic (20 search hits as JSON, a
// 1536-dimension embedding); keys are uniform or Zipf over a key space;
// concurrency 1, 8 and 64 goroutines; reads (every key stored first, so
// all hits) and writes. Each pass runs every stack on every workload, the
// stacks in an order rotated from pass to pass, and the report gives the
// median of the passes, p50 and p99 latency, allocations per operation and
// the spread of throughput between passes. It also measures coherence: how
// long after another instance's write each near cache serves the new
// value, and how many reads are stale after a reconnection.
//
//	go -C benchmarks run ./cmd/compare -md ../docs/benchmarks-compare.md \
//	    -json ../docs/benchmarks-compare.json -chart ../docs/benchmarks-compare.png
//
// The machine is shared and noisy: read ratios within one run, not
// absolute figures across runs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/media-gateway/discovery/internal/redistest"
)

func main() {
	log.SetFlags(0)
	if err := run(os.Args[1:], os.Stdout); err != nil {
		log.Fatal("compare: ", err)
	}
}

type options struct {
	duration    time.Duration
	passes      int
	keys        int
	values      []string
	dists       []string
	concs       []int
	ops         []string
	mdPath      string
	jsonPath    string
	chartPath   string
	coherence   int
	from        string
	progressOut io.Writer
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var o options
	var values, dists, concs, ops string
	fs.DurationVar(&o.duration, "duration", time.Second, "measuring time of each stack on each workload, each pass")
	fs.IntVar(&o.passes, "passes", 3, "passes over the whole matrix")
	fs.IntVar(&o.keys, "keys", 1000, "keys of each value")
	fs.StringVar(&values, "values", valueSearch+","+valueEmbedding, "values to measure")
	fs.StringVar(&dists, "dists", "zipf,uniform", "key distributions")
	fs.StringVar(&concs, "concurrency", "1,8,64", "goroutine counts")
	fs.StringVar(&ops, "ops", "read,write", "operations")
	fs.StringVar(&o.mdPath, "md", "", "also write the report (markdown) to this file")
	fs.StringVar(&o.jsonPath, "json", "", "write every pass's figures as JSON to this file")
	fs.StringVar(&o.chartPath, "chart", "", "draw the hot-read chart (PNG) to this file")
	fs.IntVar(&o.coherence, "coherence", 100, "writes timed by the coherence measurement (0: skip it)")
	fs.StringVar(&o.from, "from", "", "measure nothing: write the report and chart of the figures in this JSON file (from -json)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.values, o.dists, o.ops = split(values), split(dists), split(ops)
	for _, c := range split(concs) {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return o, fmt.Errorf("-concurrency: %q is not a goroutine count", c)
		}
		o.concs = append(o.concs, n)
	}
	for _, v := range o.values {
		if v != valueSearch && v != valueEmbedding {
			return o, fmt.Errorf("-values: %q is neither %s nor %s", v, valueSearch, valueEmbedding)
		}
	}
	for _, d := range o.dists {
		if d != "zipf" && d != "uniform" {
			return o, fmt.Errorf("-dists: %q is neither zipf nor uniform", d)
		}
	}
	for _, op := range o.ops {
		if op != "read" && op != "write" {
			return o, fmt.Errorf("-ops: %q is neither read nor write", op)
		}
	}
	if o.passes < 1 || o.keys < 2 || o.duration <= 0 {
		return o, fmt.Errorf("-passes, -keys and -duration must be positive (keys at least 2)")
	}
	return o, nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// report is everything one run measured.
type report struct {
	Started   time.Time         `json:"started"`
	Machine   string            `json:"machine"`
	Options   map[string]any    `json:"options"`
	Cells     []cell            `json:"cells"`
	Coherence []coherenceFigure `json:"coherence,omitempty"`
}

type cell struct {
	Workload workload  `json:"workload"`
	Stacks   []summary `json:"stacks"`
}

func run(args []string, out io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if o.progressOut == nil {
		o.progressOut = os.Stderr
	}
	if o.from != "" {
		b, err := os.ReadFile(o.from)
		if err != nil {
			return err
		}
		var rep report
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("-from %s: %w", o.from, err)
		}
		return o.write(rep, out)
	}
	srv, err := redistest.StartServer()
	if err != nil {
		return err
	}
	defer srv.Close()
	ctx := context.Background()
	makeInputs(o.keys)
	stacks, err := newStacks(ctx, srv.Addr, o.keys)
	if err != nil {
		return err
	}
	defer func() {
		for _, st := range stacks {
			st.close()
		}
	}()
	// Store every key of every value in every stack; each measurement
	// starts with a warm-up of reads (see measure), which fills the local
	// caches as a warm service's would be.
	for _, st := range stacks {
		for _, v := range o.values {
			for i := range o.keys {
				if err := st.set(ctx, v, i); err != nil {
					return fmt.Errorf("%s: storing %s %d: %w", st.name, v, i, err)
				}
			}
		}
	}
	if contains(o.ops, "write") {
		rs, err := rawSetStack(ctx, srv.Addr, o.values)
		if err != nil {
			return err
		}
		defer rs.close()
		stacks = append(stacks, rs)
	}

	var matrix []workload
	for _, op := range o.ops {
		for _, v := range o.values {
			for _, d := range o.dists {
				for _, c := range o.concs {
					matrix = append(matrix, workload{Value: v, Dist: d, Conc: c, Op: op})
				}
			}
		}
	}
	rep := report{
		Started: time.Now().UTC(),
		Machine: fmt.Sprintf("%s/%s, %d CPUs, %s, redis-server %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), serverVersion(ctx, srv.Addr)),
		Options: map[string]any{"duration": o.duration.String(), "passes": o.passes, "keys": o.keys},
	}
	passes := make(map[int]map[string][]result)
	total := o.passes * len(matrix) * len(stacks)
	done := 0
	for p := range o.passes {
		for wi, w := range matrix {
			if passes[wi] == nil {
				passes[wi] = make(map[string][]result)
			}
			for k := range stacks {
				st := stacks[(k+p)%len(stacks)] // rotated order, pass to pass
				done++
				if w.Op == "read" && st.name == "rueidis SET of encoded bytes" {
					continue // a write baseline only
				}
				fmt.Fprintf(o.progressOut, "\r[%d/%d] pass %d: %-28s %-60s", done, total, p+1, st.name, w)
				passes[wi][st.name] = append(passes[wi][st.name], measure(ctx, st, w, o.keys, o.duration))
			}
		}
	}
	fmt.Fprintln(o.progressOut)
	for wi, w := range matrix {
		c := cell{Workload: w}
		for _, st := range stacks {
			if rs := passes[wi][st.name]; len(rs) > 0 {
				c.Stacks = append(c.Stacks, summarize(st.name, rs))
			}
		}
		rep.Cells = append(rep.Cells, c)
	}
	if o.coherence > 0 {
		fmt.Fprintln(o.progressOut, "coherence…")
		rep.Coherence, err = measureCoherence(ctx, srv, o.coherence)
		if err != nil {
			return err
		}
	}

	return o.write(rep, out)
}

// write writes the report to out and to the files the options name.
func (o options) write(rep report, out io.Writer) error {
	var md strings.Builder
	writeMarkdown(&md, rep)
	fmt.Fprint(out, md.String())
	if o.mdPath != "" {
		if err := os.WriteFile(o.mdPath, []byte(md.String()), 0o644); err != nil {
			return err
		}
	}
	if o.jsonPath != "" && o.jsonPath != o.from {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonPath, b, 0o644); err != nil {
			return err
		}
	}
	if o.chartPath != "" {
		if err := drawChart(rep, o.chartPath); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/media-gateway/discovery/cache"
)

// benchRow is one measured operation.
type benchRow struct {
	Op          string  `json:"op"`                    // set, get_hit, get_miss, get_hit_parallel
	Concurrency int     `json:"concurrency"`           // goroutines at once: 1, or --concurrency for get_hit_parallel
	Count       int     `json:"count"`                 // operations timed
	P50         float64 `json:"p50_seconds"`           // the median latency
	P99         float64 `json:"p99_seconds"`           // the 99th percentile
	Mean        float64 `json:"mean_seconds"`          // the mean latency
	PerSecond   float64 `json:"operations_per_second"` // count over the run's wall time
}

func (a *app) benchCmd() *cobra.Command {
	var n, size, concurrency int
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "A quick latency check of set, hit and miss against the configured Redis, in a scratch namespace",
		Long: `bench writes --n values of --size bytes under a scratch namespace of its own
(cachectl-bench-<random>), reads them back (hits), reads keys that do not exist
(misses), and removes its keys. Every read is a round trip (no near cache), timed
one at a time; then --concurrency goroutines read at once, for throughput. It
touches no key of the cache's namespace.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 || size < 1 || concurrency < 1 {
				return usage("bench: --n, --size and --concurrency must be positive")
			}
			var id [4]byte
			rand.Read(id[:])
			ns := "cachectl-bench-" + hex.EncodeToString(id[:])
			ctx, c, done, err := a.connect(cmd, 5*time.Minute, func(cfg *cache.Config) { cfg.Namespace = ns; cfg.CompressMinBytes = -1 })
			if err != nil {
				return err
			}
			defer done()
			defer c.ClearAll(ctx) //nolint:errcheck // the keys expire within a minute anyway
			kd, err := cache.NewKind[int, []byte](c, "bench", time.Minute)
			if err != nil {
				return err
			}
			value := make([]byte, size)
			rand.Read(value)
			var rows []benchRow
			measure := func(op string, call func(i int) error) error {
				lat := make([]time.Duration, n)
				start := time.Now()
				for i := range n {
					t := time.Now()
					if err := call(i); err != nil {
						return fmt.Errorf("bench %s: %w", op, err)
					}
					lat[i] = time.Since(t)
				}
				rows = append(rows, summarize(op, lat, time.Since(start)))
				return nil
			}
			if err := measure("set", func(i int) error { return kd.Set(ctx, i, value) }); err != nil {
				return err
			}
			if err := measure("get_hit", func(i int) error {
				if _, ok, err := kd.Get(ctx, i); err != nil || !ok {
					return fmt.Errorf("value %d: found %v, %v", i, ok, err)
				}
				return nil
			}); err != nil {
				return err
			}
			if err := measure("get_miss", func(i int) error { _, _, err := kd.Get(ctx, n+i); return err }); err != nil {
				return err
			}
			// Throughput: concurrency goroutines reading hits at once.
			var mu sync.Mutex
			var lat []time.Duration
			var wg sync.WaitGroup
			var firstErr error
			start := time.Now()
			for g := range concurrency {
				wg.Go(func() {
					mine := make([]time.Duration, 0, n/concurrency+1)
					for i := g; i < n; i += concurrency {
						t := time.Now()
						if _, _, err := kd.Get(ctx, i); err != nil {
							mu.Lock()
							firstErr = err
							mu.Unlock()
							return
						}
						mine = append(mine, time.Since(t))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
			}
			wg.Wait()
			if firstErr != nil {
				return fmt.Errorf("bench parallel get: %w", firstErr)
			}
			par := summarize("get_hit_parallel", lat, time.Since(start))
			par.Concurrency = concurrency
			rows = append(rows, par)
			if a.asJSON {
				return a.printJSON(map[string]any{"ok": true, "redis": c.Endpoint(), "n": n, "size_bytes": size, "results": rows})
			}
			fmt.Fprintf(a.stdout, "%s: %d values of %d bytes\n\n", c.Endpoint(), n, size)
			table := [][]string{{"OP", "COUNT", "P50", "P99", "MEAN", "PER SECOND"}}
			for _, r := range rows {
				op := strings.ReplaceAll(r.Op, "_", " ")
				if r.Concurrency > 1 {
					op = fmt.Sprintf("get hit ×%d", r.Concurrency)
				}
				us := func(s float64) string { return fmt.Sprintf("%.0f µs", s*1e6) }
				table = append(table, []string{op, fmt.Sprint(r.Count), us(r.P50), us(r.P99), us(r.Mean), fmt.Sprintf("%.0f", r.PerSecond)})
			}
			a.table(table)
			return nil
		},
	}
	cmd.Flags().IntVar(&n, "n", 1000, "values written and read")
	cmd.Flags().IntVar(&size, "size", 1024, "bytes per value")
	cmd.Flags().IntVar(&concurrency, "concurrency", 16, "goroutines of the throughput run")
	return cmd
}

// summarize turns latencies into a row; took is the run's wall time.
func summarize(op string, lat []time.Duration, took time.Duration) benchRow {
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	r := benchRow{Op: op, Concurrency: 1, Count: len(lat)}
	if len(lat) > 0 {
		r.P50, r.P99, r.Mean = lat[len(lat)/2].Seconds(), lat[len(lat)*99/100].Seconds(), (sum / time.Duration(len(lat))).Seconds()
		r.PerSecond = float64(len(lat)) / took.Seconds()
	}
	return r
}

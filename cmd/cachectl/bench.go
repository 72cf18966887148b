package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/media-gateway/discovery/cache"
)

// benchRow is one measured operation.
type benchRow struct {
	Op        string  `json:"op"`
	Count     int     `json:"count"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	MeanUs    float64 `json:"mean_us"`
	PerSecond float64 `json:"per_second"`
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
			if err := measure("get hit", func(i int) error {
				if _, ok, err := kd.Get(ctx, i); err != nil || !ok {
					return fmt.Errorf("value %d: found %v, %v", i, ok, err)
				}
				return nil
			}); err != nil {
				return err
			}
			if err := measure("get miss", func(i int) error { _, _, err := kd.Get(ctx, n+i); return err }); err != nil {
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
			rows = append(rows, summarize(fmt.Sprintf("get hit ×%d", concurrency), lat, time.Since(start)))
			if a.asJSON {
				return a.printJSON(map[string]any{"redis": c.Endpoint(), "n": n, "size": size, "results": rows})
			}
			fmt.Fprintf(a.stdout, "%s: %d values of %d bytes\n\n", c.Endpoint(), n, size)
			table := [][]string{{"OP", "COUNT", "P50", "P99", "MEAN", "PER SECOND"}}
			for _, r := range rows {
				table = append(table, []string{r.Op, fmt.Sprint(r.Count), fmt.Sprintf("%.0f µs", r.P50us), fmt.Sprintf("%.0f µs", r.P99us),
					fmt.Sprintf("%.0f µs", r.MeanUs), fmt.Sprintf("%.0f", r.PerSecond)})
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
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	r := benchRow{Op: op, Count: len(lat)}
	if len(lat) > 0 {
		r.P50us, r.P99us, r.MeanUs = us(lat[len(lat)/2]), us(lat[len(lat)*99/100]), us(sum/time.Duration(len(lat)))
		r.PerSecond = float64(len(lat)) / took.Seconds()
	}
	return r
}

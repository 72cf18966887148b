package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/media-gateway/discovery/cache"
)

func (a *app) healthCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "PING Redis and report the address and the round trip (with --json, this command's breaker too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, c, done, err := a.connect(cmd, 30*time.Second)
			if err != nil {
				return err
			}
			defer done()
			h, err := c.Health(ctx)
			if err != nil {
				return fmt.Errorf("%w\nRedis did not answer PING: see docs/operations.md, \"Redis is down\"", err)
			}
			if a.asJSON {
				// The near cache is this command's own, off: not printed,
				// as it says nothing of the service's.
				return a.printJSON(healthReport{OK: true, Redis: c.Endpoint(), Latency: h.Latency.Seconds(), Connected: h.Connected, Breaker: h.Breaker})
			}
			a.table([][]string{
				{"redis", c.Endpoint()},
				{"status", "ok"},
				{"latency", ms(h.Latency)},
			})
			return nil
		},
	}
}

// healthReport is what health prints as JSON.
type healthReport struct {
	OK        bool                `json:"ok"`
	Redis     string              `json:"redis"`
	Latency   float64             `json:"latency_seconds"`
	Connected bool                `json:"connected"`
	Breaker   cache.BreakerStatus `json:"breaker"` // this command's breaker: closed unless Redis failed it
}

// statsReport is what stats prints as JSON.
type statsReport struct {
	OK     bool               `json:"ok"`
	Redis  string             `json:"redis"`
	Server cache.ServerStats  `json:"server"`
	Client *serviceFigures    `json:"client,omitempty"` // the service's, with --service
	Kinds  map[string]kindRow `json:"kinds"`
}

// serviceFigures are the figures a service serves as JSON (the kinds of
// cache.Stats, as discovery-demo's /status.json has them).
type serviceFigures struct {
	Kinds map[string]serviceKind `json:"kinds"`
}

// serviceKind is a kind's figures as a service serves them: cache.KindStats,
// and, from discovery-demo, those of the last minute.
type serviceKind struct {
	cache.KindStats
	LastMinute *struct {
		Reads   uint64  `json:"reads"`
		HitRate float64 `json:"hit_rate"`
	} `json:"last_minute,omitempty"`
}

// expectedHitRates are the hit rates the original service's design
// expected of each built-in kind on a discovery service's traffic: search
// results 70–85% (as diverse as the queries), intents 60–75% (moderate
// volatility), embeddings 85–95% (high stability).
var expectedHitRates = map[string][2]float64{
	cache.KindSearch:    {0.70, 0.85},
	cache.KindIntent:    {0.60, 0.75},
	cache.KindEmbedding: {0.85, 0.95},
}

// kindRow is a kind's line of stats --json: its keys, and with --service
// its hit rates beside the expected ones.
type kindRow struct {
	Keys       int64       `json:"keys"`
	HitRate    *float64    `json:"hit_rate,omitempty"`             // the service's, since it started
	LastMinute *float64    `json:"last_minute_hit_rate,omitempty"` // the service's, over the last minute (discovery-demo)
	Expected   *[2]float64 `json:"expected_hit_rate,omitempty"`    // the original design's range, for the built-in kinds
}

func (a *app) statsCmd() *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Server figures (memory, eviction policy, keyspace hits, keys per kind), and a service's own with --service",
		Long: `stats reads the server's figures (INFO and a SCAN of the namespace: memory, eviction
policy, keyspace hits and misses, keys per kind) and, with --service, the client
figures a running service reports (per kind hits, near-cache hits, misses, loads,
errors), from an endpoint serving them as JSON such as discovery-demo's /status.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, c, done, err := a.connect(cmd, 30*time.Second)
			if err != nil {
				return err
			}
			defer done()
			st, err := c.ServerStats(ctx)
			if err != nil {
				return err
			}
			rep := statsReport{OK: true, Redis: c.Endpoint(), Server: st, Kinds: map[string]kindRow{}}
			for k, n := range st.Keys {
				rep.Kinds[k] = kindRow{Keys: n}
			}
			var client serviceFigures
			if service != "" {
				raw, err := fetchJSON(ctx, service)
				if err != nil {
					return fmt.Errorf("reading the service's figures at %s: %w", service, err)
				}
				if err := json.Unmarshal(raw, &client); err != nil {
					return fmt.Errorf("the service's figures at %s are not the JSON of cache.Stats (%w)", service, err)
				}
				rep.Client = &client
				for name, ks := range client.Kinds {
					row := rep.Kinds[name]
					if ks.Hits+ks.Misses > 0 {
						rate := ks.HitRate()
						row.HitRate = &rate
					}
					if m := ks.LastMinute; m != nil && m.Reads > 0 {
						row.LastMinute = &m.HitRate
					}
					if e, ok := expectedHitRates[name]; ok {
						row.Expected = &e
					}
					rep.Kinds[name] = row
				}
			}
			if a.asJSON {
				return a.printJSON(rep)
			}
			hitRate := "-"
			if t := st.KeyspaceHits + st.KeyspaceMisses; t > 0 {
				hitRate = fmt.Sprintf("%.1f%%", 100*float64(st.KeyspaceHits)/float64(t))
			}
			a.table([][]string{
				{"redis", c.Endpoint()},
				{"used memory", fmt.Sprintf("%.1f MiB of %s", float64(st.UsedMemory)/(1<<20), maxMemory(st.MaxMemory))},
				{"eviction policy", st.MaxMemoryPolicy},
				{"evicted keys", fmt.Sprintf("%d (all clients, since the server started)", st.EvictedKeys)},
				{"keyspace hits", fmt.Sprintf("%d (%s of lookups, all clients)", st.KeyspaceHits, hitRate)},
				{"keys in namespace", strconv.FormatInt(st.TotalKeys, 10)},
			})
			fmt.Fprintln(a.stdout)
			names := make([]string, 0, len(st.Keys))
			for k := range st.Keys {
				names = append(names, k)
			}
			for k := range client.Kinds {
				if !slices.Contains(names, k) {
					names = append(names, k)
				}
			}
			sort.Strings(names)
			rows := [][]string{{"KIND", "KEYS"}}
			if service != "" {
				rows[0] = append(rows[0], "HIT RATE", "LAST MINUTE", "EXPECTED", "NEAR HITS", "HITS", "MISSES", "LOADS", "ERRORS")
			}
			percent := func(p *float64) string {
				if p == nil {
					return "-"
				}
				return fmt.Sprintf("%.1f%%", 100**p)
			}
			for _, k := range names {
				row := []string{k, strconv.FormatInt(st.Keys[k], 10)}
				if service != "" {
					ks, r := client.Kinds[k], rep.Kinds[k]
					expected := "-"
					if e := r.Expected; e != nil {
						expected = fmt.Sprintf("%.0f–%.0f%%", 100*e[0], 100*e[1])
					}
					row = append(row, percent(r.HitRate), percent(r.LastMinute), expected, fmt.Sprint(ks.LocalHits), fmt.Sprint(ks.Hits),
						fmt.Sprint(ks.Misses), fmt.Sprint(ks.Loads), fmt.Sprint(ks.Errors))
				}
				rows = append(rows, row)
			}
			a.table(rows)
			if service != "" {
				fmt.Fprintln(a.stdout, "\nEXPECTED: the hit rates the original service's design expected on a discovery service's traffic (docs/operations.md).")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "URL of a running service's figures as JSON (discovery-demo: http://127.0.0.1:8080/status.json)")
	return cmd
}

// fetchJSON GETs url and returns its body, failing on a status other than
// 200.
func fetchJSON(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	return body, nil
}

// maxMemory formats a server's maxmemory.
func maxMemory(n int64) string {
	if n == 0 {
		return "no maxmemory (unbounded: set one, with an allkeys-lru or allkeys-lfu policy)"
	}
	return fmt.Sprintf("%.1f MiB maxmemory", float64(n)/(1<<20))
}

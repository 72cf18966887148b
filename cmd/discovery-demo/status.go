package main

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/media-gateway/discovery/cache"
)

// history keeps, for the status page, one sample a second of each
// endpoint's request latencies.
type history struct {
	mu      sync.Mutex
	size    int
	current map[string]*window // the second being filled
	samples []sample           // the last size seconds, oldest first
	totals  map[string]*endpointTotals
}

// window is one second of one endpoint's requests.
type window struct {
	lat    []time.Duration
	errors int
}

// sample is one second of every endpoint.
type sample struct {
	At        time.Time                 `json:"at"`
	Endpoints map[string]endpointSample `json:"endpoints"`
}

// endpointSample is one endpoint's second: how many requests, how many
// failed, and their latency percentiles, in seconds.
type endpointSample struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50      float64 `json:"p50_seconds"`
	P99      float64 `json:"p99_seconds"`
}

// endpointTotals are one endpoint's figures since the start.
type endpointTotals struct {
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
}

func newHistory(size int) *history {
	return &history{size: size, current: map[string]*window{}, totals: map[string]*endpointTotals{}}
}

// observe records one request.
func (h *history) observe(endpoint string, d time.Duration, failed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.current[endpoint]
	if w == nil {
		w = &window{}
		h.current[endpoint] = w
	}
	w.lat = append(w.lat, d)
	t := h.totals[endpoint]
	if t == nil {
		t = &endpointTotals{}
		h.totals[endpoint] = t
	}
	t.Requests++
	if failed {
		w.errors++
		t.Errors++
	}
}

// roll closes the current second into a sample.
func (h *history) roll(at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := sample{At: at, Endpoints: map[string]endpointSample{}}
	for name, w := range h.current {
		slices.Sort(w.lat)
		quantile := func(q float64) float64 { return w.lat[min(int(q*float64(len(w.lat))), len(w.lat)-1)].Seconds() }
		s.Endpoints[name] = endpointSample{Requests: len(w.lat), Errors: w.errors, P50: quantile(0.5), P99: quantile(0.99)}
	}
	h.current = map[string]*window{}
	h.samples = append(h.samples, s)
	if len(h.samples) > h.size {
		h.samples = slices.Delete(h.samples, 0, len(h.samples)-h.size)
	}
}

// snapshot copies the samples and totals.
func (h *history) snapshot() ([]sample, map[string]endpointTotals) {
	h.mu.Lock()
	defer h.mu.Unlock()
	totals := make(map[string]endpointTotals, len(h.totals))
	for k, v := range h.totals {
		totals[k] = *v
	}
	return slices.Clone(h.samples), totals
}

// sample rolls the history every second until the service stops.
func (s *service) sample() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.history.roll(now)
		}
	}
}

// status is the body of /status.json: the cache's own figures (Kinds, as
// cache.Stats has them, which cachectl stats --service reads), its state,
// and the service's request history.
type status struct {
	Redis         string                    `json:"redis"`
	EmbeddedRedis bool                      `json:"embedded_redis"`
	RedisOK       bool                      `json:"redis_ok"`
	RedisError    string                    `json:"redis_error,omitempty"`
	Ping          float64                   `json:"ping_seconds"`
	Breaker       string                    `json:"breaker"`
	NearCache     cache.NearCacheStatus     `json:"near_cache"`
	Kinds         map[string]kindStatus     `json:"kinds"`
	Endpoints     map[string]endpointTotals `json:"endpoints"`
	History       []sample                  `json:"history"`
	UptimeSeconds float64                   `json:"uptime_seconds"`
	Backend       map[string]any            `json:"backend"`
}

// kindStatus is cache.KindStats with the rates the page shows.
type kindStatus struct {
	cache.KindStats
	HitRate      float64 `json:"hit_rate"`       // hits / reads
	LocalHitRate float64 `json:"local_hit_rate"` // near-cache hits / reads
	RedisHitRate float64 `json:"redis_hit_rate"` // Redis hits / reads
}

func (s *service) status(r *http.Request) status {
	st := s.cache.Stats()
	h, err := s.cache.Health(r.Context())
	out := status{Redis: s.cache.Endpoint(), EmbeddedRedis: s.embedded != nil, RedisOK: err == nil,
		Ping: h.Latency.Seconds(), Breaker: st.Breaker.State.String(), NearCache: st.NearCache,
		Kinds: map[string]kindStatus{}, UptimeSeconds: time.Since(s.started).Seconds(),
		Backend: map[string]any{"latency_seconds": s.opt.latency.Seconds(), "failure_rate": s.opt.failureRate}}
	if err != nil {
		out.RedisError = err.Error()
	}
	for name, k := range st.Kinds {
		if name == cache.KindCustom {
			continue // the demo uses no key-level function
		}
		ks := kindStatus{KindStats: k, HitRate: k.HitRate()}
		if reads := k.Hits + k.Misses; reads > 0 {
			ks.LocalHitRate = float64(k.LocalHits) / float64(reads)
			ks.RedisHitRate = float64(k.Hits-k.LocalHits) / float64(reads)
		}
		out.Kinds[name] = ks
	}
	out.History, out.Endpoints = s.history.snapshot()
	return out
}

func (s *service) handleStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(s.status(r))
}

//go:embed status.html
var statusPage []byte

func (s *service) handleStatusPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(statusPage)
}

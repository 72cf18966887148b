package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/media-gateway/discovery/cache"
)

// history keeps, for the status page, one sample a second of each
// endpoint's request latencies, the latencies of the last seconds, and a
// snapshot a second of the cache's figures, for the rates of the last
// minute.
type history struct {
	mu      sync.Mutex
	size    int
	current map[string]*window           // the second being filled
	samples []sample                     // the last size seconds, oldest first
	recent  []map[string][]time.Duration // each endpoint's latencies of the last recentSeconds seconds, oldest first
	figures []figures                    // the cache's figures, one a second, the last minute's (oldest first)
	totals  map[string]*endpointTotals
}

// recentSeconds is the window of the endpoints' percentiles on the page:
// long enough that a pause in traffic does not empty them.
const recentSeconds = 10

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

// endpointTotals are one endpoint's figures since the start, and its
// latency percentiles over the last recentSeconds seconds (absent without
// requests then).
type endpointTotals struct {
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Recent   int     `json:"recent_requests"`       // requests in the last seconds
	P50      float64 `json:"p50_seconds,omitempty"` // over the last seconds
	P99      float64 `json:"p99_seconds,omitempty"`
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
		s.Endpoints[name] = endpointSample{Requests: len(w.lat), Errors: w.errors, P50: quantile(w.lat, 0.5), P99: quantile(w.lat, 0.99)}
	}
	second := map[string][]time.Duration{}
	for name, w := range h.current {
		second[name] = w.lat
	}
	h.recent = append(h.recent, second)
	if len(h.recent) > recentSeconds {
		h.recent = slices.Delete(h.recent, 0, len(h.recent)-recentSeconds)
	}
	h.current = map[string]*window{}
	h.samples = append(h.samples, s)
	if len(h.samples) > h.size {
		h.samples = slices.Delete(h.samples, 0, len(h.samples)-h.size)
	}
}

// figures are the cache's figures at one time.
type figures struct {
	at time.Time
	st cache.Stats
}

// keep adds the cache's figures of now, keeping those of the last minute
// (the oldest kept is the minute's start, or the service's).
func (h *history) keep(at time.Time, st cache.Stats) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.figures = append(h.figures, figures{at, st})
	for len(h.figures) > 1 && at.Sub(h.figures[1].at) >= time.Minute {
		h.figures = h.figures[1:]
	}
}

// minuteAgo returns the cache's figures of a minute ago (or of the start,
// in the first minute), and when they were taken.
func (h *history) minuteAgo() (figures, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.figures) == 0 {
		return figures{}, false
	}
	return h.figures[0], true
}

// snapshot copies the samples and totals, with each endpoint's
// percentiles over the last seconds.
func (h *history) snapshot() ([]sample, map[string]endpointTotals) {
	h.mu.Lock()
	defer h.mu.Unlock()
	totals := make(map[string]endpointTotals, len(h.totals))
	for k, v := range h.totals {
		t := *v
		var lat []time.Duration
		for _, second := range h.recent {
			lat = append(lat, second[k]...)
		}
		if t.Recent = len(lat); len(lat) > 0 {
			slices.Sort(lat)
			t.P50, t.P99 = quantile(lat, 0.5), quantile(lat, 0.99)
		}
		totals[k] = t
	}
	return append([]sample{}, h.samples...), totals // [] rather than null before the first second
}

// quantile returns the q-quantile of sorted, in seconds.
func quantile(sorted []time.Duration, q float64) float64 {
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)].Seconds()
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
			s.history.keep(now, s.cache.Stats())
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
	RedisSummary  string                    `json:"redis_summary"`         // one line for a person: "ok", or why not
	RedisError    string                    `json:"redis_error,omitempty"` // the error in full
	Ping          float64                   `json:"ping_seconds"`
	Breaker       string                    `json:"breaker"`
	NearCache     cache.NearCacheStatus     `json:"near_cache"`
	Kinds         map[string]kindStatus     `json:"kinds"`
	Endpoints     map[string]endpointTotals `json:"endpoints"`
	History       []sample                  `json:"history"`
	UptimeSeconds float64                   `json:"uptime_seconds"`
	Backend       map[string]any            `json:"backend"`
	Cachectl      string                    `json:"cachectl"` // the command that reads this service's cache
}

// kindStatus is cache.KindStats with the rates the page shows, since the
// start and over the last minute.
type kindStatus struct {
	cache.KindStats
	rates
	LastMinute lastMinute `json:"last_minute"`
}

// rates are a kind's hit rates, of its reads.
type rates struct {
	Rate      float64 `json:"hit_rate"`       // hits / reads
	LocalRate float64 `json:"local_hit_rate"` // near-cache hits / reads
	RedisRate float64 `json:"redis_hit_rate"` // Redis hits / reads
}

// lastMinute are a kind's figures over the last minute (since the start,
// in the first minute).
type lastMinute struct {
	Seconds float64 `json:"seconds"` // the window: 60, or less in the first minute
	Reads   uint64  `json:"reads"`
	Misses  uint64  `json:"misses"`
	Loads   uint64  `json:"loads"`
	Errors  uint64  `json:"errors"`
	Stale   uint64  `json:"stale_hits"`
	rates
}

func ratesOf(hits, localHits, misses uint64) rates {
	var r rates
	localHits = min(localHits, hits) // counters read one after the other: a near-cache hit may be in one and not yet the other
	if reads := hits + misses; reads > 0 {
		r.Rate = float64(hits) / float64(reads)
		r.LocalRate = float64(localHits) / float64(reads)
		r.RedisRate = float64(hits-localHits) / float64(reads)
	}
	return r
}

// since returns now - then, or 0 when then is not older (figures read a
// moment apart, in either order).
func since(now, then uint64) uint64 {
	if now > then {
		return now - then
	}
	return 0
}

func (s *service) status(r *http.Request) status {
	then, _ := s.history.minuteAgo() // first: older than the figures read next
	st := s.cache.Stats()
	h, err := s.cache.Health(r.Context())
	out := status{Redis: s.cache.Endpoint(), EmbeddedRedis: s.embedded != nil, RedisOK: err == nil, RedisSummary: "ok",
		Ping: h.Latency.Seconds(), Breaker: st.Breaker.State.String(), NearCache: st.NearCache,
		Kinds: map[string]kindStatus{}, UptimeSeconds: time.Since(s.started).Seconds(),
		Backend:  map[string]any{"latency_seconds": s.opt.latency.Seconds(), "failure_rate": s.opt.failureRate},
		Cachectl: s.cachectl("http://" + r.Host)}
	if err != nil {
		out.RedisError, out.RedisSummary = err.Error(), summary(err, h)
	}
	window := time.Since(s.started)
	if !then.at.IsZero() {
		window = time.Since(then.at)
	}
	for name, k := range st.Kinds {
		if name == cache.KindCustom {
			continue // the demo uses no key-level function
		}
		o := then.st.Kinds[name]
		m := lastMinute{Seconds: window.Seconds(), Reads: since(k.Hits+k.Misses, o.Hits+o.Misses), Misses: since(k.Misses, o.Misses),
			Loads: since(k.Loads, o.Loads), Errors: since(k.Errors, o.Errors), Stale: since(k.StaleHits, o.StaleHits),
			rates: ratesOf(since(k.Hits, o.Hits), since(k.LocalHits, o.LocalHits), since(k.Misses, o.Misses))}
		out.Kinds[name] = kindStatus{KindStats: k, rates: ratesOf(k.Hits, k.LocalHits, k.Misses), LastMinute: m}
	}
	out.History, out.Endpoints = s.history.snapshot()
	return out
}

// summary says in one line why Redis is not answering, for a person: the
// breaker's state and next probe, or the failure's class and its first
// cause, without the cache's wrapping.
func summary(err error, h cache.Health) string {
	if errors.Is(err, cache.ErrCircuitOpen) {
		s := "down: Redis does not answer; calls skip it, the backends answer"
		if next := time.Until(h.Breaker.NextProbe); !h.Breaker.NextProbe.IsZero() && next > 0 {
			s += fmt.Sprintf(" (next check in %.1f s)", next.Seconds())
		}
		return s
	}
	var ce *cache.Error
	if !errors.As(err, &ce) {
		return "down: " + firstLine(err.Error())
	}
	cause := ce.Class.String()
	if ce.Cause != nil {
		cause = firstLine(ce.Cause.Error())
	}
	return "down: " + cause
}

// firstLine returns the first line of s, at most 100 bytes of it.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 100 {
		s = s[:97] + "…"
	}
	return s
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

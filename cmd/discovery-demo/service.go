package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/cacheprom"
	"github.com/media-gateway/discovery/internal/fixtures"
)

// options configure the service.
type options struct {
	addr        string
	redisURL    string // "": an embedded server
	latency     time.Duration
	failureRate float64
	drain       time.Duration        // how long /readyz fails before shutdown
	drainFor    func() time.Duration // if set, the drain, asked when shutting down (run: none after Ctrl-C)
	logger      *slog.Logger
	out         io.Writer // where the start's lines for a person go
}

// service is the demo discovery service.
type service struct {
	opt      options
	cache    *cache.RedisCache
	embedded *miniredis.Miniredis   // nil with a real Redis
	url      string                 // the Redis URL the cache was given
	base     atomic.Pointer[string] // the service's own URL, once it listens
	registry *prometheus.Registry

	search  *cache.Kind[string, []fixtures.Hit]
	intents *cache.Kind[string, intent]
	vectors *cache.Kind[string, []float32]

	started  time.Time
	stopping atomic.Bool
	history  *history
	rng      sync.Mutex // guards rand below (math/rand/v2's top-level functions need no lock; this keeps a seedable source)
	random   *rand.Rand
	stop     chan struct{}
}

// intent is what the simulated NLP parser returns.
type intent struct {
	Action     string  `json:"action"`
	Subject    string  `json:"subject"`
	Confidence float64 `json:"confidence"`
}

// embeddingDims is the size of the simulated model's vectors.
const embeddingDims = 384

func newService(ctx context.Context, opt options) (*service, error) {
	if opt.logger == nil {
		opt.logger = slog.New(slog.DiscardHandler)
	}
	s := &service{opt: opt, started: time.Now(), history: newHistory(120), random: rand.New(rand.NewPCG(1, 2)), stop: make(chan struct{})}
	url := opt.redisURL
	if url == "" {
		mr, err := miniredis.Run()
		if err != nil {
			return nil, fmt.Errorf("starting the embedded Redis-compatible server: %w", err)
		}
		s.embedded = mr
		url = "redis://" + mr.Addr() + "/0"
	}
	s.url = url
	rec := cacheprom.New(cacheprom.Options{})
	cfg := cache.Config{URL: url, Recorder: rec, Logger: opt.logger, StaleMaxAge: 10 * time.Minute}
	if s.embedded != nil {
		cfg.NearCacheBytes = -1 // miniredis has no client tracking: off by choice, said on the page, not warned of
	}
	c, err := cache.New(ctx, cfg)
	if err != nil {
		if s.embedded != nil {
			s.embedded.Close()
		}
		return nil, err
	}
	rec.Watch(c)
	s.cache = c
	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(rec, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.search = cache.Search[string, []fixtures.Hit](c)
	s.intents = cache.Intents[intent](c, "demo-parser-1")
	if s.vectors, err = cache.Embeddings(c, "demo-embedder"); err != nil {
		c.Close()
		return nil, err
	}
	s.history.keep(s.started, c.Stats()) // the start of the first minute
	go s.sample()
	return s, nil
}

// Close stops the service's cache and embedded server.
func (s *service) Close() {
	close(s.stop)
	s.cache.Close()
	if s.embedded != nil {
		s.embedded.Close()
	}
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /search", s.timed("search", s.handleSearch))
	mux.HandleFunc("GET /intent", s.timed("intent", s.handleIntent))
	mux.HandleFunc("GET /embed", s.timed("embed", s.handleEmbed))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{EnableOpenMetrics: true})) // OpenMetrics to a scraper that asks for it
	mux.HandleFunc("GET /status", s.handleStatusPage)
	mux.HandleFunc("GET /status.json", s.handleStatus)
	mux.HandleFunc("POST /traffic", s.handleTraffic)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/status", http.StatusFound) })
	return mux
}

// answer is the body of /search, /intent and /embed.
type answer struct {
	Query  string  `json:"query"`
	Source string  `json:"source"` // "cache" or "backend"
	Took   float64 `json:"took_seconds"`
	Value  any     `json:"value"`
}

// timed records each request's latency for the status page.
func (s *service) timed(endpoint string, h func(http.ResponseWriter, *http.Request) (int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		code, err := h(w, r)
		s.history.observe(endpoint, time.Since(start), err != nil || code >= 500)
		if err != nil {
			http.Error(w, err.Error(), code)
		}
	}
}

func (s *service) handleSearch(w http.ResponseWriter, r *http.Request) (int, error) {
	q := r.URL.Query().Get("q")
	if q == "" {
		return http.StatusBadRequest, errors.New("give a query: /search?q=the+last+empire")
	}
	start, loaded := time.Now(), new(atomic.Bool)
	hits, err := s.search.Fetch(r.Context(), q, func(ctx context.Context) ([]fixtures.Hit, error) {
		loaded.Store(true) // this request's own load; a request that joined another's reports "cache"
		return s.backendSearch(ctx, q)
	})
	return s.reply(w, q, start, loaded, hits, err)
}

func (s *service) handleIntent(w http.ResponseWriter, r *http.Request) (int, error) {
	q := r.URL.Query().Get("q")
	if q == "" {
		return http.StatusBadRequest, errors.New("give a query: /intent?q=play+the+last+empire")
	}
	start, loaded := time.Now(), new(atomic.Bool)
	in, err := s.intents.Fetch(r.Context(), q, func(ctx context.Context) (intent, error) {
		loaded.Store(true) // this request's own load; a request that joined another's reports "cache"
		if err := s.backendCall(ctx, s.opt.latency/2); err != nil {
			return intent{}, err
		}
		return intent{Action: "play", Subject: q, Confidence: 0.5 + float64(hash(q)%50)/100}, nil
	})
	return s.reply(w, q, start, loaded, in, err)
}

func (s *service) handleEmbed(w http.ResponseWriter, r *http.Request) (int, error) {
	text := r.URL.Query().Get("text")
	if text == "" {
		return http.StatusBadRequest, errors.New("give a text: /embed?text=a+text")
	}
	start, loaded := time.Now(), new(atomic.Bool)
	vec, err := s.vectors.Fetch(r.Context(), text, func(ctx context.Context) ([]float32, error) {
		loaded.Store(true) // this request's own load; a request that joined another's reports "cache"
		if err := s.backendCall(ctx, s.opt.latency); err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(hash(text), 7))
		v := make([]float32, embeddingDims)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.05)
		}
		return v, nil
	})
	return s.reply(w, text, start, loaded, vec, err)
}

// reply writes an answer, or says that the backend failed.
func (s *service) reply(w http.ResponseWriter, q string, start time.Time, loaded *atomic.Bool, v any, err error) (int, error) {
	if err != nil {
		return http.StatusBadGateway, fmt.Errorf("the backend failed and nothing was cached for %q: %w", q, err)
	}
	source := "cache"
	if loaded.Load() {
		source = "backend"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer{Query: q, Source: source, Took: time.Since(start).Seconds(), Value: v})
	return http.StatusOK, nil
}

// backendSearch is the simulated search engine: 20 hits that depend on q.
func (s *service) backendSearch(ctx context.Context, q string) ([]fixtures.Hit, error) {
	if err := s.backendCall(ctx, s.opt.latency); err != nil {
		return nil, err
	}
	hits := fixtures.Hits(20)
	for i := range hits {
		hits[i].Score = float64(hash(q+strconv.Itoa(i))%1000) / 1000
	}
	slices.SortFunc(hits, func(a, b fixtures.Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	return hits, nil
}

// errBackend is a simulated backend failure.
var errBackend = errors.New("simulated backend failure (-failure-rate)")

// backendCall waits about d (±25%), or fails at the failure rate.
func (s *service) backendCall(ctx context.Context, d time.Duration) error {
	s.rng.Lock()
	jitter, fail := s.random.Float64()/2-0.25, s.random.Float64() < s.opt.failureRate
	s.rng.Unlock()
	t := time.NewTimer(d + time.Duration(jitter*float64(d)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	if fail {
		return errBackend
	}
	return nil
}

func (s *service) handleReady(w http.ResponseWriter, r *http.Request) {
	// Ready while it can answer: with Redis down it still does, from the
	// backends, so only shutting down makes it unready; the cache's state
	// is reported for the curious.
	h, err := s.cache.Health(r.Context())
	body := map[string]any{"ready": !s.stopping.Load(), "redis_ok": err == nil, "breaker": h.Breaker.State.String(), "near_cache": h.NearCache}
	if err != nil {
		body["redis_error"] = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	if s.stopping.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(body)
}

// handleTraffic sends n requests (Zipf-distributed queries) to the
// service's own endpoints, for the page's button: POST /traffic?n=100.
func (s *service) handleTraffic(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 1 || n > 10000 {
		http.Error(w, "give n from 1 to 10000: POST /traffic?n=100", http.StatusBadRequest)
		return
	}
	h := s.routes()
	s.rng.Lock()
	zipf := rand.NewZipf(s.random, 1.2, 1, 200)
	picks := make([]uint64, n)
	for i := range picks {
		picks[i] = zipf.Uint64()
	}
	s.rng.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, p := range picks {
		path := []string{"/search?q=", "/intent?q=", "/embed?text="}[i%3] + "query+" + strconv.FormatUint(p, 10)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, path, nil)
			h.ServeHTTP(discard{}, req)
		})
	}
	wg.Wait()
	fmt.Fprintf(w, "sent %d requests\n", n)
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

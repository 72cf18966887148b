// Command discovery-demo is a small discovery HTTP service that uses the
// cache as a real one would: search results, intents and embeddings from
// simulated slow backends, cached in Redis, with a live status page.
//
//	go run ./cmd/discovery-demo                      # an embedded Redis-compatible server
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./cmd/discovery-demo
//
// Endpoints: /search?q=, /intent?q=, /embed?text=, /healthz, /readyz,
// /metrics (Prometheus), /status (a live page) and /status.json (its
// figures, which cachectl stats --service reads).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var cfg options
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	flag.StringVar(&cfg.redisURL, "redis", os.Getenv("REDIS_URL"), "Redis URL (default $REDIS_URL; if empty, an embedded server)")
	flag.DurationVar(&cfg.latency, "latency", 80*time.Millisecond, "how long a simulated backend call takes (±25%)")
	flag.Float64Var(&cfg.failureRate, "failure-rate", 0.02, "share of simulated backend calls that fail (0 to 1)")
	flag.DurationVar(&cfg.drain, "drain", 5*time.Second, "on SIGTERM, how long /readyz fails while requests are still served, before shutting down")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.logger = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg); err != nil {
		log.Error("discovery-demo", "error", err)
		os.Exit(1)
	}
}

// serve runs the service on cfg.addr until ctx ends.
func serve(ctx context.Context, cfg options) error {
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.failureRate < 0 || cfg.failureRate > 1 {
		return fmt.Errorf("-failure-rate %v: give a share from 0 to 1", cfg.failureRate)
	}
	svc, err := newService(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another process there? choose another with -addr)", cfg.addr, err)
	}
	srv := &http.Server{Handler: svc.routes(), ReadHeaderTimeout: 5 * time.Second}
	cfg.logger.Info("discovery-demo listening", "status_page", "http://"+ln.Addr().String()+"/status", "redis", svc.cache.Endpoint(), "embedded_redis", svc.embedded != nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Unready first, while still serving, so that a load balancer stops
	// sending requests before the listener closes.
	svc.stopping.Store(true)
	cfg.logger.Info("discovery-demo draining", "for", cfg.drain)
	select {
	case <-time.After(cfg.drain):
	case err := <-errc:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

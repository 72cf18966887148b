// Command discovery-demo is a small discovery HTTP service that uses the
// cache as a real one would: search results, intents and embeddings from
// simulated slow backends, cached in Redis, with a live status page.
//
//	go run ./cmd/discovery-demo                      # an embedded Redis-compatible server
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./cmd/discovery-demo
//
// Endpoints: /search?q=, /intent?q=, /embed?text=, /healthz, /readyz,
// /metrics (Prometheus), /status (a live page) and /status.json (its
// figures, which cachectl stats --service reads). At start it prints the
// cachectl command that reaches its Redis. Ctrl-C stops it at once; SIGTERM
// drains first (-drain); a second signal stops it at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], sigs, os.Stderr))
}

// run is the command: it serves until a signal comes on sigs, and returns
// the exit status.
func run(args []string, sigs <-chan os.Signal, stderr io.Writer) int {
	var cfg options
	fs := flag.NewFlagSet("discovery-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.redisURL, "redis", os.Getenv("REDIS_URL"), "Redis URL (default $REDIS_URL; if empty, an embedded server)")
	fs.DurationVar(&cfg.latency, "latency", 80*time.Millisecond, "how long a simulated backend call takes (±25%)")
	fs.Float64Var(&cfg.failureRate, "failure-rate", 0.02, "share of simulated backend calls that fail (0 to 1)")
	fs.DurationVar(&cfg.drain, "drain", 5*time.Second, "on SIGTERM, how long /readyz fails while requests are still served, before shutting down (Ctrl-C does not drain)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.logger = slog.New(slog.NewTextHandler(stderr, nil))
	cfg.out = stderr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	drain := cfg.drain
	cfg.drainFor = func() time.Duration { return drain }
	done := make(chan int, 1)
	go func() {
		err := serve(ctx, cfg)
		if err != nil {
			cfg.logger.Error("discovery-demo", "error", err)
			done <- 1
			return
		}
		done <- 0
	}()
	select {
	case code := <-done:
		return code
	case sig := <-sigs:
		if sig == os.Interrupt {
			drain = 0 // a person at a terminal: no load balancer to tell
		}
		cancel()
	}
	select {
	case code := <-done:
		return code
	case <-sigs:
		fmt.Fprintln(stderr, "discovery-demo: stopped at once (second signal)")
		return 1
	}
}

// serve runs the service on cfg.addr until ctx ends.
func serve(ctx context.Context, cfg options) error {
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.out == nil {
		cfg.out = io.Discard
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
	base := "http://" + ln.Addr().String()
	svc.base.Store(&base)
	redis := svc.cache.Endpoint()
	if svc.embedded != nil {
		redis += " (embedded, in this process)"
	}
	fmt.Fprintf(cfg.out, "discovery-demo: status page %s/status, Redis %s\n", base, redis)
	fmt.Fprintf(cfg.out, "discovery-demo: its cache, from another terminal: %s\n", svc.cachectl(base))
	fmt.Fprintln(cfg.out, "discovery-demo: Ctrl-C stops it")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Unready first, while still serving, so that a load balancer stops
	// sending requests before the listener closes.
	drain := cfg.drain
	if cfg.drainFor != nil {
		drain = cfg.drainFor()
	}
	if drain > 0 {
		svc.stopping.Store(true)
		cfg.logger.Info("discovery-demo draining: /readyz fails while requests are still served; a second signal stops it at once", "for", drain)
		select {
		case <-time.After(drain):
		case err := <-errc:
			return err
		}
	}
	// Requests in flight get a moment to end (5 s after a drain, a second
	// after Ctrl-C); then their connections are closed.
	grace := 5 * time.Second
	if drain == 0 {
		grace = time.Second
	}
	shutdown, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdown); errors.Is(err, context.DeadlineExceeded) {
		cfg.logger.Info("discovery-demo: requests still running after the grace, their connections closed", "grace", grace)
		return srv.Close()
	} else if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// cachectl returns the cachectl command that reads this service's cache
// and figures: with the Redis URL, unless it holds a secret (a password,
// a sentinel's: the cache's Endpoint masks it), then with the REDIS_URL
// the service was given, which cachectl reads too.
func (s *service) cachectl(base string) string {
	cmd := "go run ./cmd/cachectl"
	if s.cache.Endpoint() == s.url {
		cmd += " --url " + shellQuote(s.url)
	} else {
		cmd = "REDIS_URL=<the URL given to the demo> " + cmd
	}
	return cmd + " stats --service " + shellQuote(base+"/status.json")
}

// shellQuote returns s as one word of a POSIX shell: as it is when it
// holds only characters no shell interprets, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/._-@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

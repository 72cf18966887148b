package cache_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
	"github.com/media-gateway/discovery/internal/syncbuf"
)

// privateCache starts a server of its own (tests here stop and freeze it)
// and a cache on it with a short operation timeout.
func privateCache(t *testing.T, edit ...func(*cache.Config)) (*redistest.Server, *cache.RedisCache) {
	t.Helper()
	srv := redistest.Start(t)
	cfg := cache.Config{URL: srv.URL(), OperationTimeout: 200 * time.Millisecond, DialTimeout: time.Second}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := cache.New(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

// logBuffer is a slog handler target that tests can read.
type logBuffer struct{ syncbuf.Buffer }

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// With the server gone, every operation returns ErrUnavailable within the
// operation timeout (before the caller's deadline), and nothing panics.
func TestServerGone(t *testing.T) {
	t.Parallel()
	srv, c := privateCache(t)
	search := cache.Search[string, int](c)
	ctx := ctxT(t)
	if err := search.Set(ctx, "q", 1); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	ops := map[string]func(context.Context) error{
		"get":          func(ctx context.Context) error { _, _, err := search.Get(ctx, "q"); return err },
		"set":          func(ctx context.Context) error { return search.Set(ctx, "q", 2) },
		"delete":       func(ctx context.Context) error { _, err := search.Delete(ctx, "q"); return err },
		"clear":        func(ctx context.Context) error { _, err := c.ClearKind(ctx, search.Name()); return err },
		"health":       func(ctx context.Context) error { _, err := c.Health(ctx); return err },
		"server stats": func(ctx context.Context) error { _, err := c.ServerStats(ctx); return err },
	}
	for name, op := range ops {
		callerCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := op(callerCtx)
		if !errors.Is(err, cache.ErrUnavailable) {
			t.Errorf("%s with the server gone: %v, want ErrUnavailable", name, err)
		}
		if callerCtx.Err() != nil {
			t.Errorf("%s outlived the caller's 20 s deadline instead of the 200 ms operation timeout", name)
		}
		cancel()
	}
}

// A frozen server (connection open, no answers) costs at most the operation
// timeout per call.
func TestServerFrozen(t *testing.T) {
	t.Parallel()
	srv, c := privateCache(t)
	search := cache.Search[string, int](c)
	srv.Pause(t)
	defer srv.Resume(t)
	callerCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _, err := search.Get(callerCtx, "q")
	if !errors.Is(err, cache.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get from a frozen server: %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "OperationTimeout") {
		t.Errorf("error %q does not name the setting that bounded it", err)
	}
	if callerCtx.Err() != nil {
		t.Error("Get waited for the caller's deadline instead of the operation timeout")
	}
	// Fetch still answers, from the loader.
	v, err := search.Fetch(callerCtx, "q", func(context.Context) (int, error) { return 7, nil })
	if err != nil || v != 7 {
		t.Fatalf("Fetch with a frozen server = %d, %v; want the loader's 7", v, err)
	}
}

// The same RedisCache works again after its server restarts.
func TestReconnectAfterRestart(t *testing.T) {
	t.Parallel()
	srv, c := privateCache(t)
	search := cache.Search[string, int](c)
	ctx := ctxT(t)
	if err := search.Set(ctx, "q", 1); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, _, err := search.Get(ctx, "q"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Get while down: %v, want ErrUnavailable", err)
	}
	srv.Restart(t)
	// The client redials on demand; allow it a bounded number of tries.
	var err error
	for range 100 {
		if _, err = c.Health(ctx); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no reconnection after the restart: %v", err)
	}
	// The restarted server is empty (no persistence): a miss, then a round trip.
	if _, ok, err := search.Get(ctx, "q"); ok || err != nil {
		t.Fatalf("Get after restart = %v, %v; want a plain miss", ok, err)
	}
	if err := search.Set(ctx, "q", 2); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := search.Get(ctx, "q"); v != 2 || !ok || err != nil {
		t.Fatalf("Get after restart = %d, %v, %v", v, ok, err)
	}
}

// Fetch makes the cache invisible when Redis is down: the loader answers,
// the error is counted and logged, not returned.
func TestFetchFailsOpen(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	srv, c := privateCache(t, func(cfg *cache.Config) { cfg.Logger = logs.logger() })
	srv.Stop()
	ctx := ctxT(t)
	intents := cache.Intents[string](c, "")
	for i := range 3 {
		v, err := intents.Fetch(ctx, "movies like Alien", func(context.Context) (string, error) { return "recommend", nil })
		if err != nil || v != "recommend" {
			t.Fatalf("Fetch %d with Redis down = %q, %v; want the loader's value and no error", i, v, err)
		}
	}
	st := c.Stats().Kinds[cache.KindIntent]
	// A failed read is an error, not a miss: the hit rate says nothing of
	// an outage, the error rate does.
	if st.Errors != 3 || st.Loads != 3 || st.Misses != 0 || st.Sets != 0 {
		t.Errorf("figures %+v; want 3 errors, 3 loads, no misses, no sets", st)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "unavailable") {
		t.Errorf("no warning logged for the absorbed error:\n%s", out)
	}
	if out := logs.String(); strings.Contains(out, "cache miss") {
		t.Errorf("a failed read was logged as a miss:\n%s", out)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, int](c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := search.Get(ctx, "q"); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if err := search.Set(ctx, "q", 1); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("Set after Close: %v, want ErrClosed", err)
	}
	if _, err := c.ClearAll(ctx); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("ClearAll after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Health(ctx); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("Health after Close: %v, want ErrClosed", err)
	}
	if v, err := search.Fetch(ctx, "q", func(context.Context) (int, error) { return 3, nil }); v != 3 || err != nil {
		t.Errorf("Fetch after Close = %d, %v; want the loader's value", v, err)
	}
}

func TestNewWithoutServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	srv.Stop() // a port where nothing listens
	url := "redis://app:s3cret-pw@" + srv.Addr + "/0"
	_, err := cache.New(ctxT(t), cache.Config{URL: url, DialTimeout: time.Second, RequireConnection: true})
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("New with no server and RequireConnection: %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error leaks the password: %v", err)
	}
	if !strings.Contains(err.Error(), srv.Addr) {
		t.Errorf("error %q does not say where it tried to connect", err)
	}
}

// TestStartsDegraded: New while Redis is down returns a cache that answers
// from loaders at once, and connects when Redis comes.
func TestStartsDegraded(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	srv.Stop()
	ctx := ctxT(t)
	var events []cache.Event
	var mu sync.Mutex
	started := time.Now()
	c, err := cache.New(ctx, cache.Config{URL: srv.URL(), DialTimeout: time.Second, BreakerBackoff: 50 * time.Millisecond,
		BreakerMaxBackoff: 200 * time.Millisecond, Recorder: cache.RecorderFunc(func(e cache.Event) {
			if e.Op == cache.OpBreaker {
				mu.Lock()
				events = append(events, e)
				mu.Unlock()
			}
		})})
	if err != nil {
		t.Fatalf("New with Redis down: %v; want a cache that starts without it", err)
	}
	defer c.Close()
	newTook := time.Since(started)
	search := cache.Search[string, int](c)
	loads := 0
	load := func(context.Context) (int, error) { loads++; return 7, nil }
	if v, err := search.Fetch(ctx, "q", load); v != 7 || err != nil {
		t.Fatalf("Fetch before connecting = %d, %v; want the loader's 7", v, err)
	}
	_, _, err = search.Get(ctx, "q")
	if !errors.Is(err, cache.ErrUnavailable) || !errors.Is(err, cache.ErrCircuitOpen) {
		t.Fatalf("Get before connecting: %v; want ErrUnavailable and ErrCircuitOpen", err)
	}
	h, err := c.Health(ctx)
	if err == nil || h.Connected || h.Breaker.State == cache.BreakerClosed || h.Breaker.LastError == "" {
		t.Fatalf("Health before connecting = %+v, %v; want an error, not connected, the breaker not closed, the last error", h, err)
	}

	srv.Restart(t)
	back := time.Now()
	deadline := time.Now().Add(20 * time.Second) // a bound, not a figure: probes come every 50–200 ms
	for {
		h, err = c.Health(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not connected 20 s after Redis came back: %+v, %v", h, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !h.Connected || h.Breaker.State != cache.BreakerClosed || !h.NearCache.On {
		t.Fatalf("Health once connected = %+v; want connected, the breaker closed, the near cache on", h)
	}
	report(t, "New while Redis is down (connection refused)", fmt.Sprintf("returned a working cache in %v; connected %v after Redis came (BreakerBackoff 50 ms, max 200 ms)",
		round(newTook), round(time.Since(back))))
	if v, err := search.Fetch(ctx, "q", load); v != 7 || err != nil || loads != 2 {
		t.Fatalf("Fetch once connected = %d, %v after %d loads", v, err, loads)
	}
	if v, err := search.Fetch(ctx, "q", load); v != 7 || err != nil || loads != 2 {
		t.Fatalf("second Fetch once connected = %d, %v after %d loads; want a hit", v, err, loads)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) < 3 || events[0].Breaker != cache.BreakerOpen || events[len(events)-1].Breaker != cache.BreakerClosed {
		t.Fatalf("breaker events %+v; want open first, closed last", events)
	}
}

// Callers more impatient than Redis on a loaded machine (64 goroutines,
// deadlines of 1 to 30 ms) never open the breaker of a healthy Redis: a
// call they abandon is judged by whether it was answered within
// OperationTimeout, not by their patience. (The callers pause 100 µs
// between calls, as a service does its own work: 64 goroutines spinning on
// near-cache hits starve the client's reading goroutine of the two cores,
// so that answers are read late, which is another matter.)
func TestBreakerIgnoresImpatientCallers(t *testing.T) {
	t.Parallel()
	_, c := privateCache(t, func(cfg *cache.Config) { cfg.OperationTimeout = 0 }) // the default, 500 ms
	search := cache.Search[int, int](c)
	if err := search.Set(ctxT(t), 1, 1); err != nil {
		t.Fatal(err)
	}
	var abandoned atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(2 * time.Second)
	for g := range 64 {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+(g+i)%30)*time.Millisecond)
				_, err := search.Fetch(ctx, i%100, func(context.Context) (int, error) { return 1, nil })
				if err != nil {
					abandoned.Add(1)
				}
				cancel()
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if st := c.Stats().Breaker; st.Opens != 0 {
		t.Errorf("breaker %+v after %d Fetches gave up on a healthy Redis; want it never opened", st, abandoned.Load())
	}
	t.Logf("%d Fetches ended with their caller's deadline; breaker never opened", abandoned.Load())
}

// A service-mesh sidecar (Envoy, Istio) accepts connections and closes
// them while the Redis behind it is down; New took that for a port that
// is not Redis's (ErrInvalidConfig) and the service did not start. It now
// starts without Redis, says why it may be so in Health and the log, and
// connects once the sidecar forwards again.
func TestStartsDegradedBehindSidecar(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	sidecar := redistest.StartProxy(t, srv.Addr)
	sidecar.Hangup()
	ctx := ctxT(t)
	c, err := cache.New(ctx, cache.Config{URL: sidecar.URL(), BreakerBackoff: 50 * time.Millisecond, BreakerMaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("New behind a sidecar whose Redis is down: %v; want a cache that starts without it", err)
	}
	defer c.Close()
	if v, err := cache.Search[string, int](c).Fetch(ctx, "q", func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("Fetch before connecting = %d, %v; want the loader's 7", v, err)
	}
	for _, when := range []string{"at once", "after the probes"} {
		h, err := c.Health(ctx)
		if err == nil || h.Connected || !strings.Contains(h.Breaker.LastError, "sidecar") || !strings.Contains(h.Breaker.LastError, "bus port") ||
			strings.Count(h.Breaker.LastError, "cache: connect") != 1 {
			t.Fatalf("Health behind the sidecar, %s = %+v, %v; want not connected, the last error naming a sidecar and the bus port, once", when, h, err)
		}
		time.Sleep(500 * time.Millisecond) // probes every 50–200 ms: several have failed by then
	}
	sidecar.Heal()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) { // a bound: probes come every 50–200 ms
		h, err := c.Health(ctx)
		if err == nil && h.Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not connected 20 s after the sidecar forwarded again: %+v, %v", h, err)
		}
	}
	if err := cache.Search[string, int](c).Set(ctx, "q", 1); err != nil {
		t.Errorf("Set once connected: %v", err)
	}
}

// A Redis loading its data at start (restarting with persistence) answers
// -LOADING: New failed with ErrOperation and an ACL hint. It now starts
// without Redis, as for any outage.
func TestStartsDegradedWhileLoading(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // a server that answers every read with LOADING
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for { // one reply per command: *N, then N of $len and the bytes
					line, err := r.ReadString('\n')
					if err != nil || !strings.HasPrefix(line, "*") {
						return
					}
					n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
					for range n {
						head, err := r.ReadString('\n')
						if err != nil {
							return
						}
						size, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
						if _, err := r.Discard(size + 2); err != nil {
							return
						}
					}
					conn.Write([]byte("-LOADING Redis is loading the dataset in memory\r\n"))
				}
			}()
		}
	}()
	ctx := ctxT(t)
	c, err := cache.New(ctx, cache.Config{URL: "redis://" + ln.Addr().String(), BreakerBackoff: time.Second})
	if err != nil {
		t.Fatalf("New against a Redis loading its data: %v; want a cache that starts without it", err)
	}
	defer c.Close()
	h, err := c.Health(ctx)
	if err == nil || h.Connected || !strings.Contains(h.Breaker.LastError, "LOADING") || strings.Contains(h.Breaker.LastError, "ACL") {
		t.Errorf("Health while Redis loads = %+v, %v; want not connected, the last error saying LOADING, no ACL hint", h, err)
	}
	if _, err := cache.New(ctx, cache.Config{URL: "redis://" + ln.Addr().String(), RequireConnection: true}); !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("New with RequireConnection while Redis loads: %v; want ErrUnavailable", err)
	}
}

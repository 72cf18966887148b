package cache_test

// The fault suite: a cache behind a fault-injecting TCP proxy
// (redistest.Proxy) in front of a private redis-server, for blackholes,
// added latency, refused and reset connections, a server killed and
// restarted, and CLIENT PAUSE. Each test asserts what it proves with
// margins a loaded machine cannot break, and reports its tight figures:
// to the test log, and to the file named by CACHE_FAULT_REPORT, from which
// docs/reliability.md is written:
//
//	CACHE_FAULT_REPORT=/tmp/faults.md go test ./cache -run Fault -count=1
//
// The tests do not run in parallel: each checks that the goroutines it
// started are gone when its cache is closed.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/goleak"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// faultTimeout is the OperationTimeout of the suite's caches.
const faultTimeout = 100 * time.Millisecond

// faultRig is a cache on a proxy on a private server, counting the
// client's dials.
type faultRig struct {
	srv   *redistest.Server
	proxy *redistest.Proxy
	c     *cache.RedisCache
	dials atomic.Int64
}

// newFaultRig starts the rig. It checks, when t ends, that no goroutine
// started during the test is left.
func newFaultRig(t *testing.T, edit ...func(*cache.Config)) *faultRig {
	t.Helper()
	noLeaks(t)
	r := &faultRig{srv: redistest.Start(t)}
	r.proxy = redistest.StartProxy(t, r.srv.Addr)
	cfg := cache.Config{
		ClientOption: &rueidis.ClientOption{
			InitAddress: []string{r.proxy.Addr},
			DialCtxFn: func(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
				r.dials.Add(1)
				return d.DialContext(ctx, "tcp", addr)
			},
		},
		OperationTimeout: faultTimeout,
		DialTimeout:      time.Second,
	}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := cache.New(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r.c = c
	return r
}

// noLeaks fails t if goroutines started during it outlive it (its
// cleanups included: registered first, this check runs last).
func noLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		// Abandoned calls end when the client is closed; a connection
		// attempt within its DialTimeout. Find retries for about 2 s. The
		// package's shared server may have started meanwhile.
		var err error
		for range 3 {
			if err = goleak.Find(ignore,
				goleak.IgnoreAnyFunction("github.com/media-gateway/discovery/internal/redistest.(*Server).start.func1"),
				goleak.IgnoreAnyFunction("github.com/media-gateway/discovery/internal/redistest.(*Server).start.func2")); err == nil {
				return
			}
		}
		t.Error(err)
	})
}

// durations are latencies of calls.
type durations []time.Duration

func (d durations) quantile(q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (d durations) String() string {
	return fmt.Sprintf("p50 %v, p99 %v, max %v (%d calls)", round(d.quantile(0.5)), round(d.quantile(0.99)), round(d.quantile(1)), len(d))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// report logs one measured row of the reliability table, and appends it
// to CACHE_FAULT_REPORT when set.
func report(t *testing.T, what, measured string) {
	t.Helper()
	t.Logf("%s: %s", what, measured)
	path := os.Getenv("CACHE_FAULT_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("report: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "| %s | %s | %s |\n", t.Name(), what, measured)
}

// timed runs op and returns how long it took.
func timed(op func()) time.Duration {
	start := time.Now()
	op()
	return time.Since(start)
}

// waitHealthy polls Health until it succeeds or within fails t, and
// returns how long it took.
func waitHealthy(t *testing.T, c *cache.RedisCache, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		h, err := c.Health(context.Background())
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("not healthy %v after the fault ended: %+v, %v", within, h, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFaultBlackhole(t *testing.T) {
	r := newFaultRig(t, func(cfg *cache.Config) { cfg.NearCacheBytes = -1 })
	search := cache.Search[string, int](r.c)
	ctx := context.Background()
	if err := search.Set(ctx, "warm", 1); err != nil {
		t.Fatal(err)
	}
	r.proxy.Blackhole()

	// Until the breaker opens, each call waits for the operation timeout,
	// and no longer.
	var before durations
	var err error
	for i := 0; ; i++ {
		before = append(before, timed(func() { _, _, err = search.Get(ctx, fmt.Sprint("q", i)) }))
		if errors.Is(err, cache.ErrCircuitOpen) {
			break
		}
		if !errors.Is(err, cache.ErrUnavailable) || i > 20 {
			t.Fatalf("Get %d through a blackhole: %v; want ErrUnavailable, and the breaker open after 5", i, err)
		}
	}
	waited := before[:len(before)-1]
	if len(waited) != 5 {
		t.Errorf("%d calls waited before the breaker opened; want BreakerThreshold (5)", len(waited))
	}
	if worst := waited.quantile(1); worst > 2*faultTimeout {
		t.Errorf("a blackholed call took %v; want at most twice the operation timeout (%v)", worst, faultTimeout)
	}
	report(t, "blackhole: calls before the breaker opens", waited.String()+fmt.Sprintf("; OperationTimeout %v", faultTimeout))

	// Open: no call waits on the network, and nothing is dialled.
	dials := r.dials.Load()
	var open durations
	loads := 0
	for i := range 1000 {
		open = append(open, timed(func() {
			_, _, err = search.Get(ctx, fmt.Sprint("q", i))
		}))
		if !errors.Is(err, cache.ErrCircuitOpen) {
			t.Fatalf("Get with the breaker open: %v; want ErrCircuitOpen", err)
		}
		v, err := search.Fetch(ctx, fmt.Sprint("f", i), func(context.Context) (int, error) { loads++; return 7, nil })
		if v != 7 || err != nil {
			t.Fatalf("Fetch with the breaker open = %d, %v; want the loader's 7", v, err)
		}
	}
	if st := r.c.Stats().Breaker; st.State == cache.BreakerClosed || st.Opens != 1 {
		t.Errorf("breaker %+v; want open, opened once", st)
	}
	if worst := open.quantile(1); worst >= faultTimeout {
		t.Errorf("a Get with the breaker open took %v; want none to wait on the network (%v)", worst, faultTimeout)
	}
	report(t, "blackhole: Get with the breaker open", open.String()+fmt.Sprintf("; 1000 Fetches answered by the loader"))

	// Probes fail while the blackhole lasts, then one succeeds after Heal.
	// Meanwhile calls keep failing at once, and nothing is dialled.
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); { // the first probe comes after 1 s ± 20%
		if _, _, err := search.Get(ctx, "q"); !errors.Is(err, cache.ErrCircuitOpen) {
			t.Fatalf("Get while the probes fail: %v; want ErrCircuitOpen", err)
		}
		time.Sleep(time.Millisecond)
	}
	if got := r.dials.Load() - dials; got != 0 {
		t.Errorf("%d dials from the breaker opening to the end of the blackhole (1.5 s); want 0", got)
	}
	report(t, "blackhole, breaker open: dials over 1.5 s of calls and a failed probe", fmt.Sprint(r.dials.Load()-dials))
	if st := r.c.Stats().Breaker; st.Backoff != 2*time.Second {
		t.Errorf("breaker %+v after a failed probe; want the backoff doubled to 2 s", st)
	}
	r.proxy.Heal()
	back := waitHealthy(t, r.c, 15*time.Second)
	if _, _, err := search.Get(ctx, "warm"); err != nil {
		t.Fatalf("Get after the blackhole: %v", err)
	}
	report(t, "blackhole healed: healthy again after", fmt.Sprintf("%v (the next probe is due 2 s ± 20%% after the failed one)", round(back)))
}

// Redis slower than the callers' deadlines: no call outlasts its deadline
// by much, every Fetch answers from the loader within its deadline (its
// read gets half the time left), and the calls that timed out kept their
// connection.
func TestFaultLatency(t *testing.T) {
	r := newFaultRig(t, func(cfg *cache.Config) {
		cfg.NearCacheBytes = -1
		cfg.OperationTimeout = 500 * time.Millisecond
		cfg.BreakerBackoff = 30 * time.Second // no probe during the test
	})
	search := cache.Search[string, int](r.c)
	if err := search.Set(context.Background(), "q", 1); err != nil {
		t.Fatal(err)
	}
	for range 50 { // the client opens its pipelined connections (two here) on first use
		search.Get(context.Background(), "q")
	}
	dials := r.dials.Load()
	r.proxy.Latency(200 * time.Millisecond)
	const deadline = 50 * time.Millisecond
	var gets, fetches durations
	waited := 0 // Gets that waited on Redis before the breaker opened
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		var err error
		gets = append(gets, timed(func() { _, _, err = search.Get(ctx, "q") }))
		cancel()
		switch {
		case errors.Is(err, cache.ErrCircuitOpen):
		case errors.Is(err, context.DeadlineExceeded) && errors.Is(err, cache.ErrUnavailable):
			waited++
		default:
			t.Fatalf("Get %d with 200 ms each way and a 50 ms deadline: %v; want DeadlineExceeded, then ErrCircuitOpen", i, err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), deadline)
		var v int
		fetches = append(fetches, timed(func() {
			v, err = search.Fetch(ctx, "q", func(context.Context) (int, error) { return 2, nil })
		}))
		cancel()
		if v != 2 || err != nil {
			t.Fatalf("Fetch %d with 200 ms each way and a 50 ms deadline = %d, %v; want the loader's 2 within the deadline", i, v, err)
		}
	}
	for name, d := range map[string]durations{"Get": gets, "Fetch": fetches} {
		if worst := d.quantile(1); worst > 2*deadline {
			t.Errorf("%s took %v with a %v deadline; want at most twice the deadline", name, worst, deadline)
		}
	}
	// Whether the breaker opens depends on whether the delayed answers
	// come within OperationTimeout (the proxy delays each chunk in turn, so
	// a queue of calls makes them later): not asserted, reported.
	st := r.c.Stats().Breaker
	report(t, "200 ms added each way, caller deadline 50 ms: Get", gets.String()+fmt.Sprintf("; %d waited on Redis; breaker %v after %d failures", waited, st.State, st.Failures))
	report(t, "200 ms added each way, caller deadline 50 ms: Fetch (every one answered by the loader)", fetches.String())
	// Redials: the calls that timed out kept their connection.
	if n := r.dials.Load() - dials; n > 0 {
		t.Errorf("%d dials; a call timed out by its caller must not cost a redial", n)
	}
	report(t, "200 ms added each way: dials for the timed-out calls", fmt.Sprint(r.dials.Load()-dials))
}

// Callers whose deadlines are shorter than OperationTimeout (the default
// 500 ms here), on a blackholed connection: every Fetch answers from its
// loader within its deadline; the calls they abandoned get no answer
// within OperationTimeout, so the breaker opens, and the abandoned calls
// do not pile up.
func TestFaultBlackholeShortDeadlines(t *testing.T) {
	r := newFaultRig(t, func(cfg *cache.Config) {
		cfg.NearCacheBytes = -1
		cfg.OperationTimeout = 0 // the default, 500 ms
		cfg.BreakerBackoff = 30 * time.Second
	})
	search := cache.Search[string, int](r.c)
	if err := search.Set(context.Background(), "warm", 1); err != nil {
		t.Fatal(err)
	}
	goroutines := runtime.NumGoroutine()
	r.proxy.Blackhole()
	const deadline = 50 * time.Millisecond
	var fetches durations
	most := 0
	for i := range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		var v int
		var err error
		fetches = append(fetches, timed(func() {
			v, err = search.Fetch(ctx, fmt.Sprint("q", i), func(context.Context) (int, error) { return 7, nil })
		}))
		cancel()
		if v != 7 || err != nil {
			t.Fatalf("Fetch %d through a blackhole with a 50 ms deadline = %d, %v; want the loader's 7", i, v, err)
		}
		most = max(most, runtime.NumGoroutine())
	}
	if worst := fetches.quantile(1); worst > 2*deadline {
		t.Errorf("a Fetch took %v with a %v deadline", worst, deadline)
	}
	if st := r.c.Stats().Breaker; st.State == cache.BreakerClosed || st.Opens != 1 {
		t.Errorf("breaker %+v; want it open once", st)
	}
	// Abandoned calls live until the breaker opens (each is judged at
	// OperationTimeout), about 20 here; without the breaker, one per call.
	if most > goroutines+60 {
		t.Errorf("%d goroutines during the blackhole, %d before; abandoned calls pile up", most, goroutines)
	}
	report(t, "blackhole, caller deadline 50 ms, OperationTimeout 500 ms: Fetch (every one answered by the loader)",
		fetches.String()+fmt.Sprintf("; goroutines %d before, at most %d during", goroutines, most))
}

// New with a deadline shorter than DialTimeout returns by it, started
// degraded, when Redis does not answer.
func TestFaultNewHonoursDeadline(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	proxy.Blackhole()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var c *cache.RedisCache
	var err error
	took := timed(func() { c, err = cache.New(ctx, cache.Config{URL: proxy.URL(), DialTimeout: 3 * time.Second}) })
	if err != nil {
		t.Fatalf("New through a blackhole: %v; want a cache started without Redis", err)
	}
	c.Close()
	if took > time.Second {
		t.Errorf("New took %v with a 200 ms deadline (DialTimeout 3 s)", took)
	}
	report(t, "New through a blackhole, deadline 200 ms, DialTimeout 3 s", fmt.Sprintf("returned degraded after %v", round(took)))
}

// A short deadline given to New bounds New only: the client's later
// redials keep their DialTimeout. Here a cache made with 100 ms to spare
// reconnects over a link that takes 60 ms each way after its connections
// are reset.
func TestFaultNewDeadlineIsNotTheDialTimeout(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c, err := cache.New(ctx, cache.Config{URL: proxy.URL(), NearCacheBytes: -1, DialTimeout: 2 * time.Second,
		BreakerBackoff: 100 * time.Millisecond, BreakerMaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if h, err := c.Health(context.Background()); err != nil || !h.Connected {
		t.Fatalf("Health after New: %+v, %v; want connected", h, err)
	}
	proxy.Latency(60 * time.Millisecond)
	proxy.Reset()
	back := waitHealthy(t, c, 10*time.Second)
	report(t, "New with a 100 ms deadline, then 60 ms each way and the connections reset: healthy after", round(back).String())
}

func TestFaultRefused(t *testing.T) {
	var logs logBuffer
	r := newFaultRig(t, func(cfg *cache.Config) { cfg.NearCacheBytes = -1; cfg.Logger = logs.logger() })
	search := cache.Search[string, int](r.c)
	ctx := context.Background()
	r.proxy.Refuse()
	var before, open durations
	var err error
	for i := range 1005 {
		d := timed(func() { _, _, err = search.Get(ctx, "q") })
		if !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("Get %d with the server refusing: %v; want ErrUnavailable", i, err)
		}
		if errors.Is(err, cache.ErrCircuitOpen) {
			open = append(open, d)
		} else {
			before = append(before, d)
		}
	}
	if len(before) > 5 {
		t.Errorf("%d calls reached the network; want the breaker open after 5", len(before))
	}
	dials := r.dials.Load()
	for range 1000 {
		search.Get(ctx, "q")
	}
	if n := r.dials.Load() - dials; n != 0 {
		t.Errorf("%d dials with the breaker open; want 0", n)
	}
	report(t, "connection refused: Get before the breaker opens", before.String())
	report(t, "connection refused: Get with the breaker open", open.String())
	r.proxy.Heal()
	back := waitHealthy(t, r.c, 15*time.Second)
	report(t, "connection refused, then listening again: healthy after", round(back).String())
	// One line per change of state: a warning when it opened, one when it
	// closed (probes are at debug level).
	out := logs.String()
	if n := strings.Count(out, "circuit breaker open;"); n != 1 || !strings.Contains(out, "level=WARN msg=\"cache: circuit breaker open") {
		t.Errorf("%d warnings that the breaker opened; want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "circuit breaker closed"); n != 1 {
		t.Errorf("%d lines that the breaker closed; want 1:\n%s", n, out)
	}
}

func TestFaultReset(t *testing.T) {
	r := newFaultRig(t, func(cfg *cache.Config) { cfg.NearCacheBytes = -1 })
	search := cache.Search[string, int](r.c)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, errs atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v, err := search.Fetch(ctx, fmt.Sprint(g, ":", i%50), func(context.Context) (int, error) { return 1, nil })
				calls.Add(1)
				if err != nil || v != 1 {
					errs.Add(1)
				}
			}
		})
	}
	const window = 2 * time.Second
	dials := r.dials.Load()
	end := time.Now().Add(window)
	for time.Now().Before(end) {
		r.proxy.Reset()
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	n := r.dials.Load() - dials
	if errs.Load() != 0 {
		t.Errorf("%d of %d Fetches failed while connections were reset", errs.Load(), calls.Load())
	}
	// Without the breaker, each reset costs a redial (~200 in 2 s); with
	// it, redials wait for the probes' backoff.
	if n > 40 {
		t.Errorf("%d dials in %v of resets every 10 ms; want them bounded by the breaker's backoff", n, window)
	}
	report(t, "a reset every 10 ms for 2 s, 8 goroutines Fetching", fmt.Sprintf("%d dials, %d Fetches, 0 errors", n, calls.Load()))
}

func TestFaultServerKilled(t *testing.T) {
	r := newFaultRig(t, func(cfg *cache.Config) {
		cfg.BreakerBackoff = 100 * time.Millisecond
		cfg.BreakerMaxBackoff = 400 * time.Millisecond
	})
	search := cache.Search[string, int](r.c)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, errs atomic.Int64
	var mu sync.Mutex
	var lat durations
	for g := range 32 {
		wg.Go(func() {
			var mine durations
			for i := 0; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
					return
				default:
				}
				var err error
				mine = append(mine, timed(func() {
					_, err = search.Fetch(ctx, fmt.Sprint(g%4, ":", i%100), func(context.Context) (int, error) { return 1, nil })
				}))
				calls.Add(1)
				if err != nil {
					errs.Add(1)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	r.srv.Stop()
	time.Sleep(time.Second)
	r.srv.Restart(t)
	back := waitHealthy(t, r.c, 15*time.Second)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if errs.Load() != 0 {
		t.Errorf("%d of %d Fetches failed with the server killed and restarted; want 0", errs.Load(), calls.Load())
	}
	report(t, "server killed for 1 s under 32 goroutines Fetching", fmt.Sprintf("0 errors; Fetch %v; healthy %v after the restart", lat, round(back)))
}

func TestFaultClientPause(t *testing.T) {
	r := newFaultRig(t, func(cfg *cache.Config) { cfg.NearCacheBytes = -1 })
	search := cache.Search[string, int](r.c)
	ctx := context.Background()
	raw := rawClient(t, r.srv.URL())
	if err := raw.Do(ctx, raw.B().ClientPause().Timeout(1500).All().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	var gets, fetches durations
	for i := range 10 {
		var err error
		gets = append(gets, timed(func() { _, _, err = search.Get(ctx, fmt.Sprint("q", i)) }))
		if !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("Get during CLIENT PAUSE: %v; want ErrUnavailable", err)
		}
		var v int
		fetches = append(fetches, timed(func() {
			v, err = search.Fetch(ctx, fmt.Sprint("f", i), func(context.Context) (int, error) { return 3, nil })
		}))
		if v != 3 || err != nil {
			t.Fatalf("Fetch during CLIENT PAUSE = %d, %v; want the loader's 3", v, err)
		}
	}
	if worst := gets.quantile(1); worst > 2*faultTimeout {
		t.Errorf("a Get during CLIENT PAUSE took %v; want at most twice the operation timeout", worst)
	}
	report(t, "CLIENT PAUSE 1.5 s: Get", gets.String())
	report(t, "CLIENT PAUSE 1.5 s: Fetch (answered by the loader)", fetches.String())
	back := waitHealthy(t, r.c, 15*time.Second)
	report(t, "CLIENT PAUSE 1.5 s: healthy again after", round(back).String())
}

func TestFaultServesStale(t *testing.T) {
	var mu sync.Mutex
	var staleEvents int
	r := newFaultRig(t, func(cfg *cache.Config) {
		cfg.StaleMaxAge = time.Minute
		cfg.BreakerBackoff = 30 * time.Second // stays open for the test
		cfg.Recorder = cache.RecorderFunc(func(e cache.Event) {
			if e.Outcome == cache.OutcomeStale {
				mu.Lock()
				staleEvents++
				mu.Unlock()
			}
		})
	})
	other := newCache(t, func(cfg *cache.Config) { cfg.URL = r.srv.URL(); cfg.Namespace = r.c.Namespace() })
	ctx := context.Background()
	search := cache.Search[string, string](r.c)
	loads := map[string]int{}
	loader := func(q string) cache.LoaderFunc[string] {
		return func(context.Context) (string, error) { loads[q]++; return fmt.Sprint(q, loads[q]), nil }
	}
	fetch := func(q string) string {
		t.Helper()
		v, err := search.Fetch(ctx, q, loader(q))
		if err != nil {
			t.Fatalf("Fetch %q: %v", q, err)
		}
		return v
	}
	fetch("loaded")                                                                       // loaded, stored, kept
	fetch("deleted")                                                                      // kept, then deleted here
	if err := cache.Search[string, string](other).Set(ctx, "read", "read0"); err != nil { // read from Redis, kept
		t.Fatal(err)
	}
	fetch("read")
	if err := cache.Search[string, string](other).Set(ctx, "changed", "changed0"); err != nil { // read, kept, then changed by another client
		t.Fatal(err)
	}
	fetch("changed")
	if _, err := search.Delete(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	invalidated := r.c.Stats().Kinds[cache.KindSearch].Near.Invalidated
	if err := cache.Search[string, string](other).Set(ctx, "changed", "changed-elsewhere"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); r.c.Stats().Kinds[cache.KindSearch].Near.Invalidated == invalidated; {
		if time.Now().After(deadline) {
			t.Fatal("the other client's write was not reported within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}

	r.proxy.Refuse()
	for range 5 { // open the breaker
		search.Get(ctx, "x")
	}
	for q, want := range map[string]string{"loaded": "loaded1", "read": "read0"} {
		if got := fetch(q); got != want || loads[q] > 1 {
			t.Errorf("Fetch %q during the outage = %q after %d loads; want the stale %q, no load", q, got, loads[q], want)
		}
	}
	for q, want := range map[string]int{"deleted": 2, "changed": 1} {
		if fetch(q); loads[q] != want {
			t.Errorf("Fetch %q during the outage: %d loads; a key deleted or changed since must not be served stale", q, loads[q])
		}
	}
	fetch("new") // loaded during the outage, and kept
	if fetch("new"); loads["new"] != 1 {
		t.Errorf("a value loaded during the outage was loaded again (%d loads); want it kept", loads["new"])
	}
	// A Delete refused by the open breaker still ends the stale value: the
	// caller meant it gone. (No stale hit from here on.)
	if _, err := search.Delete(ctx, "new"); !errors.Is(err, cache.ErrCircuitOpen) {
		t.Fatalf("Delete with the breaker open: %v; want ErrCircuitOpen", err)
	}
	if fetch("new"); loads["new"] != 2 {
		t.Errorf("Fetch after a refused Delete: %d loads; want the deleted value not served stale", loads["new"])
	}
	// So does a refused Set (the caller meant to replace the value), and a
	// refused DeletePattern.
	if err := search.Set(ctx, "loaded", "replaced"); !errors.Is(err, cache.ErrCircuitOpen) {
		t.Fatalf("Set with the breaker open: %v; want ErrCircuitOpen", err)
	}
	if fetch("loaded"); loads["loaded"] != 2 {
		t.Errorf("Fetch after a refused Set: %d loads; want the replaced value not served stale", loads["loaded"])
	}
	if _, err := r.c.DeletePattern(ctx, "search:*"); !errors.Is(err, cache.ErrCircuitOpen) {
		t.Fatalf("DeletePattern with the breaker open: %v; want ErrCircuitOpen", err)
	}
	if fetch("read"); loads["read"] != 1 {
		t.Errorf("Fetch after a refused DeletePattern: %d loads; want the deleted value not served stale", loads["read"])
	}
	st := r.c.Stats().Kinds[cache.KindSearch]
	mu.Lock()
	defer mu.Unlock()
	if st.StaleHits != 3 || staleEvents != 3 {
		t.Errorf("StaleHits %d, stale events %d; want 3", st.StaleHits, staleEvents)
	}
	report(t, "Redis down, StaleMaxAge 1 min: Fetch of keys served recently", "answered stale, no loader call; keys deleted here or changed elsewhere are loaded")
}

func TestFaultStaleMaxAge(t *testing.T) {
	r := newFaultRig(t, func(cfg *cache.Config) {
		cfg.StaleMaxAge = 300 * time.Millisecond
		cfg.BreakerBackoff = 30 * time.Second
	})
	ctx := context.Background()
	search := cache.Search[string, int](r.c)
	loads := 0
	load := func(context.Context) (int, error) { loads++; return loads, nil }
	search.Fetch(ctx, "q", load)
	r.proxy.Refuse()
	if v, _ := search.Fetch(ctx, "q", load); v != 1 {
		t.Fatalf("Fetch during the outage = %d; want the stale 1", v)
	}
	time.Sleep(600 * time.Millisecond)
	if v, _ := search.Fetch(ctx, "q", load); v != 2 {
		t.Fatalf("Fetch 600 ms later = %d; want the loader's 2: a stale value lives StaleMaxAge (300 ms)", v)
	}
}

// A Redis that does not answer cannot send invalidations either: when the
// breaker opens and its first probe fails, the near cache is emptied; until
// then, it answers what it holds.
func TestFaultBlackholeEmptiesNearCache(t *testing.T) {
	r := newFaultRig(t)
	search := cache.Search[string, int](r.c)
	ctx := context.Background()
	if err := search.Set(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, ok, err := search.Get(ctx, "k"); !ok || err != nil {
			t.Fatalf("Get = %v, %v", ok, err)
		}
	}
	st := r.c.Stats()
	if st.Kinds[cache.KindSearch].LocalHits != 1 {
		t.Fatalf("LocalHits = %d; want the second Get answered by the near cache", st.Kinds[cache.KindSearch].LocalHits)
	}
	r.proxy.Blackhole()
	openBreaker(t, r.c, search)
	opened := time.Now()
	if v, ok, err := search.Get(ctx, "k"); v != 1 || !ok || err != nil {
		t.Errorf("Get of a key held locally, the breaker just opened = %d, %v, %v; want the near cache's 1 until the first probe", v, ok, err)
	}
	for r.c.Stats().NearCache.Flushes == st.NearCache.Flushes {
		if time.Since(opened) > 10*time.Second {
			t.Fatal("near cache not emptied 10 s after the breaker opened, its probes failing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("near cache emptied %v after the breaker opened (backoff %v, operation timeout %v)", time.Since(opened).Round(time.Millisecond), r.c.Stats().Breaker.Backoff, faultTimeout)
	if _, _, err := search.Get(ctx, "k"); !errors.Is(err, cache.ErrCircuitOpen) {
		t.Fatalf("Get of a key held locally once the probe failed: %v; want ErrCircuitOpen (the near cache emptied)", err)
	}
	if got := r.c.Stats().NearCache.Flushes; got != st.NearCache.Flushes+1 {
		t.Errorf("near-cache flushes %d → %d; want one", st.NearCache.Flushes, got)
	}
	r.proxy.Heal()
	waitHealthy(t, r.c, 15*time.Second)
	if v, ok, err := search.Get(ctx, "k"); v != 1 || !ok || err != nil {
		t.Fatalf("Get after the blackhole = %d, %v, %v", v, ok, err)
	}
}

// openBreaker sends reads of keys of its own until c's breaker opens.
func openBreaker(t *testing.T, c *cache.RedisCache, search *cache.Kind[string, int]) {
	t.Helper()
	for i := 0; c.Stats().Breaker.State != cache.BreakerOpen; i++ {
		if i == 50 {
			t.Fatalf("breaker %v after %d reads that timed out", c.Stats().Breaker.State, i)
		}
		search.Get(context.Background(), fmt.Sprint("other", i))
	}
}

// A stall that the breaker takes for an outage (this process starved of
// CPU, or the network holding its packets for a moment) no longer empties
// the near cache: it answers what it holds through the breaker's first
// probe, and when that probe closes the breaker, on a connection that
// never dropped, it is kept. It stays coherent: a change made meanwhile by
// another client is reported once the stall is over, and read anew.
func TestFaultStallKeepsNearCache(t *testing.T) {
	const timeout = 300 * time.Millisecond // the probe's PING, on a loaded machine
	r := newFaultRig(t, func(cfg *cache.Config) { cfg.OperationTimeout = timeout })
	search := cache.Search[string, int](r.c)
	ctx := context.Background()
	other, err := cache.New(ctx, cache.Config{URL: r.srv.URL(), NearCacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := search.Set(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	search.Get(ctx, "k") // read with tracking: held locally
	st := r.c.Stats()
	r.proxy.Blackhole()
	openBreaker(t, r.c, search)
	opened := time.Now()
	if v, ok, err := search.Get(ctx, "k"); v != 1 || !ok || err != nil {
		t.Errorf("Get of a key held locally, the breaker just opened = %d, %v, %v; want the near cache's 1", v, ok, err)
	}
	if err := cache.Search[string, int](other).Set(ctx, "k", 2); err != nil { // straight to the server
		t.Fatal(err)
	}
	r.proxy.Heal()
	waitHealthy(t, r.c, 15*time.Second)
	closed := time.Since(opened)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if v, _, _ := search.Get(ctx, "k"); v == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a change made during the stall is still not read 5 s after it")
		}
	}
	grace := 1200*time.Millisecond + 2*timeout                          // the backoff (1 s, jittered by up to a fifth), the probe and the verdict
	time.Sleep(max(0, grace-time.Since(opened)) + 200*time.Millisecond) // the grace is over: a flush would have come
	if got := r.c.Stats().NearCache.Flushes; got != st.NearCache.Flushes {
		t.Errorf("near-cache flushes %d → %d; want none: the breaker closed %v after opening, within its first probe", st.NearCache.Flushes, got, closed.Round(time.Millisecond))
	}
	if v, ok, err := search.Get(ctx, "k"); v != 2 || !ok || err != nil {
		t.Errorf("Get = %d, %v, %v; want 2", v, ok, err)
	}
	t.Logf("breaker closed %v after it opened; the near cache kept", closed.Round(time.Millisecond))
}

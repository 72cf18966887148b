package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/jsonshape"
	"github.com/media-gateway/discovery/internal/redistest"
	"github.com/media-gateway/discovery/internal/syncbuf"
)

// start runs the service on a private Redis (or the embedded server, for
// redisURL ""), behind an httptest server.
func start(t *testing.T, redisURL string, failureRate float64) (*service, *httptest.Server) {
	t.Helper()
	svc, err := newService(context.Background(), options{redisURL: redisURL, latency: 5 * time.Millisecond, failureRate: failureRate})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(svc.routes())
	t.Cleanup(func() { web.Close(); svc.Close() })
	return svc, web
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The endpoints answer as a discovery service would: from the backend,
// then from the cache; health, readiness, metrics and status report.
func TestEndpoints(t *testing.T) {
	srv := redistest.Start(t)
	_, web := start(t, srv.URL(), 0)
	for _, path := range []string{"/search?q=the+last+empire", "/intent?q=play+it", "/embed?text=a+text"} {
		var first, second answer
		_, b := get(t, web.URL+path)
		json.Unmarshal([]byte(b), &first)
		_, b = get(t, web.URL+path)
		json.Unmarshal([]byte(b), &second)
		if first.Source != "backend" || second.Source != "cache" || second.Value == nil {
			t.Errorf("%s: sources %q then %q; want backend then cache", path, first.Source, second.Source)
		}
	}
	if code, body := get(t, web.URL+"/search"); code != http.StatusBadRequest || !strings.Contains(body, "give a query") {
		t.Errorf("/search without q = %d %q", code, body)
	}
	if code, body := get(t, web.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, web.URL+"/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) || !strings.Contains(body, `"redis_ok":true`) {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if _, body := get(t, web.URL+"/metrics"); !strings.Contains(body, `discovery_cache_reads_total{kind="search",outcome="hit",tier=`) || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics lacks the cache's or the runtime's metrics:\n%.500s", body)
	}
	req, _ := http.NewRequest("GET", web.URL+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") || !strings.HasSuffix(string(b), "# EOF\n") {
			t.Errorf("/metrics asked for OpenMetrics: Content-Type %q, ends %q", ct, b[max(len(b)-20, 0):])
		}
	}
	var st status
	_, body := get(t, web.URL+"/status.json")
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.EmbeddedRedis || !st.NearCache.On || st.Endpoints["search"].Requests != 3 || st.Kinds["search"].Loads != 1 {
		t.Errorf("/status.json = %+v (%v)", st, err)
	}
	v := jsonshape.Check(t, "/status.json", []byte(body), 60, "kinds", "endpoints")
	if p, _ := v["ping_seconds"].(float64); p <= 0 || v["breaker"] != "closed" || jsonshape.At(v, "kinds.search.hits") == nil {
		t.Errorf("/status.json: %s", body)
	}
	if _, ok := v["history"].([]any); !ok {
		t.Errorf("/status.json history is %v; want a list, empty in the first second", v["history"])
	}
	// In the first minute, the last minute's figures are those since the
	// start, the first second's included.
	if k := st.Kinds["search"]; k.LastMinute.Reads != k.Hits+k.Misses || k.LastMinute.Seconds <= 0 || k.LastMinute.Seconds > 60 {
		t.Errorf("search in the first minute: %d reads in the last %.1f s of %d since the start; want all", k.LastMinute.Reads, k.LastMinute.Seconds, k.Hits+k.Misses)
	}
	for _, path := range []string{"/search?q=the+last+empire", "/readyz"} {
		_, body := get(t, web.URL+path)
		jsonshape.Check(t, path, []byte(body), 60)
	}
	// Redis lost: the service still answers (from the backends), and is
	// still ready.
	srv.Stop()
	if code, body := get(t, web.URL+"/search?q=new+query"); code != 200 || !strings.Contains(body, `"source":"backend"`) {
		t.Errorf("/search with Redis down = %d %.200s; want an answer from the backend", code, body)
	}
	if code, body := get(t, web.URL+"/readyz"); code != 200 || !strings.Contains(body, `"redis_ok":false`) {
		t.Errorf("/readyz with Redis down = %d %q; want ready, saying Redis is not", code, body)
	}
	_, body = get(t, web.URL+"/status.json")
	if v := jsonshape.Check(t, "/status.json with Redis down", []byte(body), 60, "kinds", "endpoints"); v["redis_ok"] != false || v["redis_error"] == nil {
		t.Errorf("/status.json with Redis down: %s", body)
	}
}

// A failing backend with nothing cached is a 502 that says so.
func TestBackendFailure(t *testing.T) {
	_, web := start(t, "", 1)
	if code, body := get(t, web.URL+"/search?q=x"); code != http.StatusBadGateway || !strings.Contains(body, "simulated backend failure") {
		t.Errorf("/search with a failing backend = %d %q", code, body)
	}
}

// serve listens on its address; when its context ends, /readyz fails for
// the drain while requests are still answered, then it stops.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	addr := freeAddr(t)
	go func() {
		errc <- serve(ctx, options{addr: addr, latency: time.Millisecond, drain: time.Second})
	}()
	base := "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the service never answered")
		}
	}
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz while running = %d; want 200", code)
	}
	cancel()
	time.Sleep(200 * time.Millisecond)
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"ready":false`) {
		t.Errorf("/readyz while draining = %d %q; want 503", code, body)
	}
	if code, _ := get(t, base+"/search?q=during+the+drain"); code != http.StatusOK {
		t.Errorf("/search while draining = %d; want it still answered", code)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop with its context")
	}
	if err := serve(context.Background(), options{addr: "127.0.0.1:0", failureRate: 2}); err == nil || !strings.Contains(err.Error(), "-failure-rate") {
		t.Errorf("serve with -failure-rate 2 = %v", err)
	}
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// running starts the command with args, waits until it answers, and
// returns its base URL, its output and the channel its exit status comes
// on.
func running(t *testing.T, sigs chan os.Signal, args ...string) (string, *syncbuf.Buffer, chan int) {
	t.Helper()
	addr := freeAddr(t)
	out := &syncbuf.Buffer{}
	code := make(chan int, 1)
	go func() { code <- run(append([]string{"-addr", addr, "-latency", "1ms"}, args...), sigs, out) }()
	base := "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return base, out, code
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service never answered:\n%s", out)
		}
	}
}

// The demo starts quietly, saying where its page is and the cachectl
// command that reaches its Redis; Ctrl-C stops it without the drain, and
// without waiting for a slow request.
func TestRunStartsQuietlyAndStopsOnCtrlC(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	base, out, code := running(t, sigs, "-redis", "", "-drain", "30s", "-latency", "20s")
	text := out.String()
	want := regexp.MustCompile(`go run \./cmd/cachectl --url redis://127\.0\.0\.1:\d+/0 stats --service ` + regexp.QuoteMeta(base) + `/status\.json`)
	if !want.MatchString(text) || !strings.Contains(text, base+"/status") || strings.Contains(text, "WARN") || strings.Count(text, "\n") > 4 {
		t.Errorf("start output:\n%s\nwant a few lines: the page, and the cachectl command with the embedded server's URL; no warning", text)
	}
	go http.Get(base + "/search?q=a+slow+one") //nolint:errcheck // in flight when Ctrl-C comes: its backend takes 20 s
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	sigs <- os.Interrupt
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit status %d after Ctrl-C; want 0\n%s", c, out)
		}
	case <-time.After(4 * time.Second): // a second's grace, on a busy machine
		t.Fatalf("still running 4 s after Ctrl-C with a request in flight (drain 30 s, backend 20 s)\n%s", out)
	}
	t.Logf("stopped %v after Ctrl-C, a request in flight", time.Since(start))
}

// The cachectl command the demo prints never holds a secret of its Redis
// URL (a password, a sentinel's), and is one word per argument for a
// shell.
func TestCachectlCommandKeepsSecrets(t *testing.T) {
	for _, url := range []string{"redis://:s3cret@127.0.0.1:1/0", "redis://127.0.0.1:1/0?master_set=m&sentinel_password=s3cret"} {
		c, err := cache.New(context.Background(), cache.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		cmd := (&service{cache: c, url: url}).cachectl("http://127.0.0.1:8080")
		c.Close()
		if strings.Contains(cmd, "s3cret") || !strings.HasPrefix(cmd, "REDIS_URL=<the URL given to the demo> go run ./cmd/cachectl stats") {
			t.Errorf("with %s the command is %q", url, cmd)
		}
	}
	if got := shellQuote("redis://h:1/0?a=b&c=d"); got != "'redis://h:1/0?a=b&c=d'" {
		t.Errorf("shellQuote = %s", got)
	}
	if got := shellQuote("it's"); got != `'it'\''s'` {
		t.Errorf("shellQuote = %s", got)
	}
}

// SIGTERM drains (readyz fails while requests are answered); a second
// signal stops it at once.
func TestRunSecondSignalStopsAtOnce(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	srv := redistest.Start(t)
	base, out, code := running(t, sigs, "-redis", srv.URL(), "-drain", "60s")
	if strings.Contains(out.String(), srv.URL()) == false {
		t.Errorf("start output names no Redis URL:\n%s", out)
	}
	sigs <- syscall.SIGTERM
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, _ := get(t, base+"/readyz"); c == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never failed after SIGTERM")
		}
	}
	sigs <- os.Interrupt
	select {
	case c := <-code:
		if c != 1 || !strings.Contains(out.String(), "stopped at once") {
			t.Errorf("exit status %d after a second signal; want 1, said\n%s", c, out)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after a second signal (drain 60 s)\n%s", out)
	}
}

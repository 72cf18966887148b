package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/media-gateway/discovery/internal/jsonshape"
	"github.com/media-gateway/discovery/internal/redistest"
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

// chromium returns Debian's Chromium, failing t with how to get it.
func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("the status page test needs Chromium: apt-get install chromium (./scripts/test.sh installs it), or set CHROMIUM to its path")
	return ""
}

// The status page, in headless Chromium, loads without console errors,
// shows the figures the service reports, and updates after traffic; with
// the embedded server, it says so. DEMO_SCREENSHOT=path saves a
// screenshot of it.
func TestStatusPageInBrowser(t *testing.T) {
	exe := chromium(t)
	srv := redistest.Start(t)
	svc, web := start(t, srv.URL(), 0)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1100))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTime()

	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console."+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text+" "+exceptionText(e.ExceptionDetails))
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				problems = append(problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	}); err != nil {
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(web.URL+"/status"), chromedp.WaitVisible(chromedp.CSS("#kinds"))); err != nil {
		t.Fatalf("loading the status page: %v", err)
	}
	waitFor := func(what, js string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
				t.Fatalf("%s: not within 20 s; the page holds:\n%.3000s", what, html)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	waitFor("the first refresh", `Number(document.body.dataset.updates || 0) >= 1`)
	if got := text("#redis"); got != svc.cache.Endpoint() {
		t.Errorf("the page names Redis %q; the service %q", got, svc.cache.Endpoint())
	}
	if got := text("#near"); !strings.HasPrefix(got, "on") {
		t.Errorf("near cache shown as %q; want on", got)
	}
	if got := text("#breaker"); got != "closed" {
		t.Errorf("breaker shown as %q; want closed", got)
	}

	// Traffic: 30 searches of 10 queries, then the page's own button.
	for i := range 30 {
		get(t, fmt.Sprintf("%s/search?q=query+%d", web.URL, i%10))
	}
	waitFor("the page to count 30 searches", `(document.querySelector("#endpoint-search .requests")||{}).textContent === "30"`)
	st := svc.status(httptest.NewRequest("GET", "/status.json", nil))
	ks := st.Kinds["search"]
	wantRate := fmt.Sprintf("%.1f%%", 100*ks.HitRate)
	waitFor("the search hit rate the service reports ("+wantRate+")", `(document.querySelector("#kind-search .hit-rate")||{}).textContent === "`+wantRate+`"`)
	if got := text("#kind-search .loads"); got != "10" {
		t.Errorf("search loads shown %q; want 10 (one per query)", got)
	}
	if got := text("#redis-state"); !strings.HasPrefix(got, "ok · PING ") || !strings.HasSuffix(got, " ms") {
		t.Errorf("Redis health shown %q; want ok with the PING's round trip", got)
	}
	// Every figure of the kinds' table is what /status.json says, once the
	// page has refreshed after the traffic stopped.
	time.Sleep(1200 * time.Millisecond) // the last requests' figures settle
	st = svc.status(httptest.NewRequest("GET", "/status.json", nil))
	time.Sleep(1200 * time.Millisecond) // and the page refreshes once more
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	num := func(n uint64) string { // as toLocaleString("en-US")
		s := fmt.Sprint(n)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	}
	for name, k := range st.Kinds {
		for _, cellWant := range [][2]string{
			{"reads", num(k.Hits + k.Misses)}, {"hit-rate", pct(k.HitRate)}, {"local", pct(k.LocalHitRate)}, {"redis", pct(k.RedisHitRate)},
			{"misses", num(k.Misses)}, {"loads", num(k.Loads)}, {"errors", num(k.Errors)}, {"near-entries", num(uint64(k.Near.Entries))},
			{"near-bytes", num(k.Near.Bytes)},
		} {
			if got := text("#kind-" + name + " ." + cellWant[0]); got != cellWant[1] {
				t.Errorf("kind %s, %s shown %q; /status.json says %q", name, cellWant[0], got, cellWant[1])
			}
		}
	}
	if k := st.Kinds["search"]; k.LocalHits == 0 || k.Near.Entries == 0 {
		t.Errorf("search with the near cache on: %d near-cache hits, %d entries; the page would show zeros", k.LocalHits, k.Near.Entries)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#traffic"))); err != nil {
		t.Fatal(err)
	}
	waitFor("the button's traffic to show", `(document.querySelector("#endpoint-search .requests")||{}).textContent === "130"`)
	// Traffic in later seconds draws the chart's lines.
	seconds := 2
	if os.Getenv("DEMO_SCREENSHOT") != "" {
		seconds = 20 // a fuller chart for the docs
	}
	for sec := range seconds {
		time.Sleep(time.Second)
		for i := range 20 + 10*(sec%3) {
			get(t, fmt.Sprintf("%s/search?q=query+%d", web.URL, (i*7+sec)%40))
			get(t, fmt.Sprintf("%s/intent?q=query+%d", web.URL, (i*3+sec)%30))
			get(t, fmt.Sprintf("%s/embed?text=query+%d", web.URL, (i*5+sec)%30))
		}
	}
	waitFor("the latency chart's line for /search", `(document.querySelector('polyline[data-series="search-p50"]')||{getAttribute(){return ""}}).getAttribute("points").split(" ").length >= 2`)
	if bad, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll("polyline")].some(p => /NaN|Infinity/.test(p.getAttribute("points")))`)); err != nil || bad {
		t.Errorf("a chart line has points that are not numbers (%v)", err)
	}
	if p50, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#endpoint-search td:nth-child(4)"))); !regexp.MustCompile(`^(\d+\.\d\d|-)$`).MatchString(strings.TrimSpace(p50)) {
		t.Errorf("/search p50 shown %q; want milliseconds or -", p50)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(shot, []byte{0x89, 'P', 'N', 'G'}) && !bytes.HasPrefix(shot, []byte{0xff, 0xd8}) {
		t.Errorf("the screenshot is not an image (%d bytes)", len(shot))
	}
	if path := os.Getenv("DEMO_SCREENSHOT"); path != "" {
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		os.WriteFile(filepath.Join(t.TempDir(), "status.png"), shot, 0o644)
	}

	// The embedded server, said on the page.
	_, embedded := start(t, "", 0)
	if err := chromedp.Do(ctx, chromedp.Navigate(embedded.URL+"/status"), chromedp.WaitVisible(chromedp.CSS("#kinds"))); err != nil {
		t.Fatal(err)
	}
	waitFor("the embedded server's note", `!document.getElementById("embedded-note").hidden && document.body.dataset.updates >= 1`)
	if got := text("#near"); !strings.HasPrefix(got, "off") {
		t.Errorf("near cache with the embedded server shown as %q; want off, with the reason", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("the page logged an error: %s", p)
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running starts the command with args, waits until it answers, and
// returns its base URL, its output and the channel its exit status comes
// on.
func running(t *testing.T, sigs chan os.Signal, args ...string) (string, *syncBuffer, chan int) {
	t.Helper()
	addr := freeAddr(t)
	out := &syncBuffer{}
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
// command that reaches its Redis; Ctrl-C stops it without the drain.
func TestRunStartsQuietlyAndStopsOnCtrlC(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	base, out, code := running(t, sigs, "-redis", "", "-drain", "30s")
	text := out.String()
	want := regexp.MustCompile(`go run \./cmd/cachectl --url redis://127\.0\.0\.1:\d+/0 stats --service ` + regexp.QuoteMeta(base) + `/status\.json`)
	if !want.MatchString(text) || !strings.Contains(text, base+"/status") || strings.Contains(text, "WARN") || strings.Count(text, "\n") > 4 {
		t.Errorf("start output:\n%s\nwant a few lines: the page, and the cachectl command with the embedded server's URL; no warning", text)
	}
	start := time.Now()
	sigs <- os.Interrupt
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit status %d after Ctrl-C; want 0\n%s", c, out)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after Ctrl-C (drain 30 s): Ctrl-C must not drain\n%s", out)
	}
	t.Logf("stopped %v after Ctrl-C", time.Since(start))
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

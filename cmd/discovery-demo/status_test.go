package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/media-gateway/discovery/internal/redistest"
)

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

// page is the status page in headless Chromium.
type page struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	problems []string // console errors, exceptions, error logs
}

// openPage starts Chromium with a window of width × height and loads url.
func openPage(t *testing.T, url string, width, height int) *page {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	ctx, cancelTime := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(cancelTime)
	p := &page{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, func(ev any) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				p.problems = append(p.problems, "console."+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			text := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				text += " " + e.ExceptionDetails.Exception.Description
			}
			p.problems = append(p.problems, "exception: "+text)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				p.problems = append(p.problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	}); err != nil {
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	if width < 500 { // below a headless window's least width: a phone's screen, emulated
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height), chromedp.EmulateMobile, chromedp.EmulateScale(2))); err != nil {
			t.Fatalf("emulating a %d × %d screen: %v", width, height, err)
		}
	}
	p.open(url)
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, pr := range p.problems {
			t.Errorf("the page logged an error: %s", pr)
		}
	})
	return p
}

// open loads url and waits for the page's first refresh.
func (p *page) open(url string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#kinds"))); err != nil {
		p.t.Fatalf("loading the status page: %v", err)
	}
	p.waitFor("the first refresh", `Number(document.body.dataset.updates || 0) >= 1`)
}

// waitFor waits up to 20 s for js to be true.
func (p *page) waitFor(what, js string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](js))
		if err != nil {
			p.t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(p.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
			p.t.Fatalf("%s: not within 20 s; the page holds:\n%.3000s", what, html)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eval returns the value of js.
func eval[T any](p *page, js string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// text returns the text of the element sel selects.
func (p *page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("reading %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// screenshot takes a screenshot of the whole page, and saves it as
// $DEMO_SCREENSHOTS/name when that is set.
func (p *page) screenshot(name string) {
	p.t.Helper()
	shot, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatal(err)
	}
	if !bytes.HasPrefix(shot, []byte{0x89, 'P', 'N', 'G'}) && !bytes.HasPrefix(shot, []byte{0xff, 0xd8}) {
		p.t.Errorf("the screenshot is not an image (%d bytes)", len(shot))
	}
	dir := os.Getenv("DEMO_SCREENSHOTS")
	if dir == "" {
		dir = p.t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name), shot, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// traffic sends n rounds of requests to each endpoint over seconds
// seconds, so that the chart has lines.
func traffic(t *testing.T, base string, seconds int) {
	for sec := range seconds {
		if sec > 0 {
			time.Sleep(time.Second)
		}
		for i := range 20 + 10*(sec%3) {
			get(t, fmt.Sprintf("%s/search?q=query+%d", base, (i*7+sec)%40))
			get(t, fmt.Sprintf("%s/intent?q=query+%d", base, (i*3+sec)%30))
			get(t, fmt.Sprintf("%s/embed?text=query+%d", base, (i*5+sec)%30))
		}
	}
}

// screenshotSeconds is how long the screenshot tests send traffic: longer
// when the screenshots are for the docs, for a fuller chart.
func screenshotSeconds() int {
	if os.Getenv("DEMO_SCREENSHOTS") != "" {
		return 25
	}
	return 3
}

// fitsWidth fails t unless the page has no horizontal scroll and every
// cell of its tables and every value of its lists is within the window.
func (p *page) fitsWidth(what string) {
	p.t.Helper()
	if over := eval[string](p, `(() => {
		const w = window.innerWidth, out = [];
		if (document.documentElement.scrollWidth > w) out.push("the page is " + document.documentElement.scrollWidth + " px wide in a " + w + " px window");
		for (const el of document.querySelectorAll("td, dd, th, h1, button, .legend span")) {
			const r = el.getBoundingClientRect();
			if (r.width > 0 && r.right > w + 0.5) out.push((el.id || el.className || el.tagName) + " ends at " + Math.round(r.right) + " px: " + el.textContent.slice(0, 40));
		}
		return out.slice(0, 8).join("; ");
	})()`); over != "" {
		p.t.Errorf("%s: %s", what, over)
	}
}

// The status page, in headless Chromium at a desktop's size, loads
// without console errors, shows the figures the service reports (since
// the start and over the last minute), and updates after traffic; its
// chart has a time axis; with the embedded server, it says so.
// DEMO_SCREENSHOTS=dir saves its screenshot there (demo-status.png).
func TestStatusPageInBrowser(t *testing.T) {
	srv := redistest.Start(t)
	svc, web := start(t, srv.URL(), 0)
	p := openPage(t, web.URL+"/status", 1280, 1100)
	if got := p.text("#redis"); got != svc.cache.Endpoint() {
		t.Errorf("the page names Redis %q; the service %q", got, svc.cache.Endpoint())
	}
	if got := p.text("#near"); !strings.HasPrefix(got, "on · empty") {
		t.Errorf("near cache shown as %q before any read; want on, and empty", got)
	}
	if got := p.text("#breaker"); got != "closed" {
		t.Errorf("breaker shown as %q; want closed", got)
	}
	if got := p.text("#cachectl"); !strings.Contains(got, "--url "+srv.URL()) || !strings.Contains(got, web.URL+"/status.json") {
		t.Errorf("cachectl command shown %q; want one with the Redis URL and this page's /status.json", got)
	}

	// Traffic: 30 searches of 10 queries, then the page's own button.
	for i := range 30 {
		get(t, fmt.Sprintf("%s/search?q=query+%d", web.URL, i%10))
	}
	p.waitFor("the page to count 30 searches", `(document.querySelector("#endpoint-search .requests")||{}).textContent === "30"`)
	st := svc.status(httptest.NewRequest("GET", "/status.json", nil))
	wantRate := fmt.Sprintf("%.1f%%", 100*st.Kinds["search"].Rate)
	p.waitFor("the search hit rate the service reports ("+wantRate+")", `(document.querySelector("#kind-search .hit-rate")||{}).textContent === "`+wantRate+`"`)
	if got := p.text("#kind-search .loads"); got != "10" {
		t.Errorf("search loads shown %q; want 10 (one per query)", got)
	}
	if got := p.text("#redis-state"); !regexp.MustCompile(`^ok · PING \d+(\.\d+)? (µs|ms|s)$`).MatchString(got) {
		t.Errorf("Redis health shown %q; want ok with the PING's round trip", got)
	}
	if got := p.text("#near"); !regexp.MustCompile(`^on · [\d,]+ entries · \d+ flushes$`).MatchString(got) || strings.HasPrefix(got, "on · 0 ") {
		t.Errorf("near cache shown as %q after reads; want on with its entries", got)
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
		rate1m, rate := "-", "-"
		if k.LastMinute.Reads > 0 {
			rate1m = pct(k.LastMinute.Rate)
		}
		if k.Hits+k.Misses > 0 {
			rate = pct(k.Rate)
		}
		for _, cellWant := range [][2]string{
			{"reads", num(k.Hits + k.Misses)}, {"hit-rate", rate}, {"local", pct(k.LocalRate)}, {"redis", pct(k.RedisRate)},
			{"misses", num(k.Misses)}, {"loads", num(k.Loads)}, {"errors", num(k.Errors)}, {"near-entries", num(uint64(k.Near.Entries))},
			{"near-bytes", num(k.Near.Bytes)}, {"hit-rate-1m", rate1m}, {"reads-1m", num(k.LastMinute.Reads)},
		} {
			if got := p.text("#kind-" + name + " ." + cellWant[0]); got != cellWant[1] {
				t.Errorf("kind %s, %s shown %q; /status.json says %q", name, cellWant[0], got, cellWant[1])
			}
		}
	}
	if k := st.Kinds["search"]; k.LocalHits == 0 || k.Near.Entries == 0 || k.LastMinute.Reads != k.Hits+k.Misses {
		t.Errorf("search: %d near-cache hits, %d entries, %d reads in the last minute of %d; want near-cache figures, and every read within the minute",
			k.LocalHits, k.Near.Entries, k.LastMinute.Reads, k.Hits+k.Misses)
	}
	if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS("#traffic"))); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the button's traffic to show", `(document.querySelector("#endpoint-search .requests")||{}).textContent === "130"`)
	// Traffic in later seconds draws the chart's lines.
	traffic(t, web.URL, screenshotSeconds())
	p.waitFor("the latency chart's line for /search", `(document.querySelector('polyline[data-series="search-p50"]')||{getAttribute(){return ""}}).getAttribute("points").split(" ").length >= 2`)
	if bad := eval[bool](p, `[...document.querySelectorAll("polyline")].some(p => /NaN|Infinity/.test(p.getAttribute("points")))`); bad {
		t.Error("a chart line has points that are not numbers")
	}
	if labels := eval[string](p, `[...document.querySelectorAll("#chart .time-label")].map(t => t.textContent).join(",")`); labels != "−120 s,−90 s,−60 s,−30 s,now" {
		t.Errorf("the chart's time axis reads %q", labels)
	}
	if p50 := p.text("#endpoint-search .p50"); !regexp.MustCompile(`^(\d+ µs|\d+\.\d+ ms|\d+\.\d\d s)$`).MatchString(p50) {
		t.Errorf("/search p50 shown %q; want a duration in µs, ms or s", p50)
	}
	p.fitsWidth("at 1280 px")
	p.screenshot("demo-status.png")

	// The embedded server, said on the page.
	_, embedded := start(t, "", 0)
	p.open(embedded.URL + "/status")
	p.waitFor("the embedded server's note", `!document.getElementById("embedded-note").hidden`)
	if got := p.text("#near"); !strings.HasPrefix(got, "off") {
		t.Errorf("near cache with the embedded server shown as %q; want off, with the reason", got)
	}
}

// On a phone (390 × 844), nothing is cut off: no horizontal scroll, every
// figure within the window, the chart drawn at its size with a shorter
// time axis; with Redis stopped, the health line is one short sentence,
// not a Go error. DEMO_SCREENSHOTS=dir saves demo-status-phone.png there.
func TestStatusPageOnAPhone(t *testing.T) {
	srv := redistest.Start(t)
	_, web := start(t, srv.URL(), 0)
	p := openPage(t, web.URL+"/status", 390, 844)
	if w := eval[int](p, `window.innerWidth`); w > 400 {
		t.Fatalf("the window is %d px wide; want a phone's 390", w)
	}
	traffic(t, web.URL, screenshotSeconds())
	p.waitFor("the latency chart's line for /search", `(document.querySelector('polyline[data-series="search-p50"]')||{getAttribute(){return ""}}).getAttribute("points").split(" ").length >= 2`)
	p.waitFor("the kinds' figures", `(document.querySelector("#kind-search .reads")||{}).textContent !== "0"`)
	p.fitsWidth("at 390 px")
	if ratio := eval[float64](p, `(() => { const s = document.getElementById("chart"); return s.viewBox.baseVal.width / s.getBoundingClientRect().width })()`); ratio < 0.98 || ratio > 1.02 {
		t.Errorf("the chart is drawn %.2f× its width: its labels are stretched", ratio)
	}
	if labels := eval[string](p, `[...document.querySelectorAll("#chart .time-label")].map(t => t.textContent).join(",")`); labels != "−120 s,−60 s,now" {
		t.Errorf("the chart's time axis on a phone reads %q", labels)
	}
	p.screenshot("demo-status-phone.png")

	srv.Stop()
	p.waitFor("the page to say Redis is down", `document.getElementById("redis-state").textContent.startsWith("down")`)
	line := p.text("#redis-state")
	if strings.Contains(line, "\n") || len(line) > 160 || strings.Contains(line, "RedisCache") || strings.Contains(line, "cache: ") {
		t.Errorf("health line during an outage: %q; want one short sentence, no Go error", line)
	}
	p.fitsWidth("at 390 px, Redis down")
}

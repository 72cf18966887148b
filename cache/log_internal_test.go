package cache

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/media-gateway/discovery/internal/redistest"
)

// During an outage, Fetch logs one warning per kind and class per
// logInterval, and the next line says how many it stood for.
func TestAbsorbedErrorsRateLimited(t *testing.T) {
	srv := redistest.Start(t)
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	ctx := context.Background()
	c, err := New(ctx, Config{URL: srv.URL(), Logger: logger, OperationTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Unix(1_000_000, 0)
	c.report.now = func() time.Time { return now }
	srv.Stop()
	search := Search[string, int](c)
	fetch := func(n int) {
		for range n {
			if v, err := search.Fetch(ctx, "q", func(context.Context) (int, error) { return 1, nil }); v != 1 || err != nil {
				t.Fatalf("Fetch with Redis down = %d, %v", v, err)
			}
		}
	}
	lines := func() []string { // the absorbed errors' lines (the breaker logs its own)
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if strings.Contains(l, "absorbed") {
				out = append(out, l)
			}
		}
		return out
	}
	fetch(5)
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "level=WARN") ||
		!strings.Contains(got[0], "class=unavailable") || !strings.Contains(got[0], "suppressed=0") {
		t.Fatalf("5 failures in one interval logged:\n%s\nwant one warning", strings.Join(got, "\n"))
	}
	now = now.Add(logInterval - time.Millisecond)
	fetch(1)
	if got := lines(); len(got) != 1 {
		t.Fatalf("a failure within the interval was logged:\n%s", strings.Join(got, "\n"))
	}
	now = now.Add(time.Millisecond)
	fetch(1)
	got := lines()
	if len(got) != 2 || !strings.Contains(got[1], "suppressed=5") {
		t.Fatalf("after the interval:\n%s\nwant a second line standing for the 5 suppressed", strings.Join(got, "\n"))
	}
	if st := c.Stats().Kinds[KindSearch]; st.Errors != 7 {
		t.Errorf("Errors = %d; every absorbed error is counted, logged or not", st.Errors)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

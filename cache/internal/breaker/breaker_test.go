package breaker

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Unix(1_000_000, 0)} }

func TestOpensAtThresholdOfConsecutiveFailures(t *testing.T) {
	var changes []string
	b := New(Config{Threshold: 3, Backoff: time.Second, MaxBackoff: 8 * time.Second,
		OnChange: func(from, to State) { changes = append(changes, from.String()+">"+to.String()) }})
	b.Failure(b.cfg.Now())
	b.Failure(b.cfg.Now())
	b.Success() // breaks the run
	b.Failure(b.cfg.Now())
	b.Failure(b.cfg.Now())
	if !b.Allow() {
		t.Fatal("opened after 2 consecutive failures; threshold is 3")
	}
	b.Failure(b.cfg.Now())
	if b.Allow() || b.State() != Open {
		t.Fatalf("state %v after 3 consecutive failures, want open", b.State())
	}
	if len(changes) != 1 || changes[0] != "closed>open" {
		t.Fatalf("changes %v, want [closed>open]", changes)
	}
	if st := b.Status(); st.Opens != 1 || st.Failures != 3 {
		t.Fatalf("status %+v, want 1 open and 3 failures", st)
	}
}

func TestProbesWithBackoff(t *testing.T) {
	clk := newClock()
	b := New(Config{Threshold: 1, Backoff: time.Second, MaxBackoff: 4 * time.Second, Now: clk.now})
	b.Failure(b.cfg.Now())
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		due := b.Due()
		if due < want*4/5 || due > want*6/5 {
			t.Fatalf("probe %d due in %v, want %v ± a fifth", i, due, want)
		}
		if b.Probe() {
			t.Fatalf("probe %d allowed before its backoff passed", i)
		}
		clk.add(due)
		if !b.Probe() || b.State() != HalfOpen {
			t.Fatalf("probe %d not allowed once due (state %v)", i, b.State())
		}
		if b.Probe() {
			t.Fatal("a second probe allowed while one runs")
		}
		if b.Allow() {
			t.Fatal("calls allowed while half-open")
		}
		b.Probed(false)
		if b.State() != Open {
			t.Fatalf("state %v after a failed probe, want open", b.State())
		}
	}
	clk.add(b.Due())
	b.Probe()
	b.Probed(true)
	if !b.Allow() {
		t.Fatal("still refusing calls after a successful probe")
	}
	// Opened again before any call succeeded: the backoff stays long.
	b.Failure(b.cfg.Now())
	if due := b.Due(); due < 4*time.Second*4/5 {
		t.Fatalf("reopened without a success in between: probe due in %v, want the long backoff (4s ± a fifth)", due)
	}
	clk.add(b.Due())
	b.Probe()
	b.Probed(true)
	b.Success() // a call succeeded: the backoff starts over
	b.Failure(b.cfg.Now())
	if due := b.Due(); due > time.Second*6/5 {
		t.Fatalf("probe due in %v after a call succeeded, want the first backoff (1s ± a fifth)", due)
	}
}

func TestTripAndNoThreshold(t *testing.T) {
	b := New(Config{Threshold: 0, Backoff: time.Second})
	for range 100 {
		b.Failure(b.cfg.Now())
	}
	if !b.Allow() {
		t.Fatal("opened on failures with no threshold")
	}
	b.Trip()
	if b.Allow() {
		t.Fatal("Trip did not open the breaker")
	}
}

func TestConcurrentUse(t *testing.T) {
	b := New(Config{Threshold: 5, Backoff: time.Microsecond, MaxBackoff: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				switch {
				case b.Allow() && (i+g)%3 == 0:
					b.Success()
				case b.Allow():
					b.Failure(b.cfg.Now())
				case b.Probe():
					b.Probed(i%2 == 0)
				}
				_ = b.Status()
			}
		})
	}
	wg.Wait()
	if s := b.State(); s > HalfOpen {
		t.Fatalf("state %d", s)
	}
}

func BenchmarkClosed(b *testing.B) {
	br := New(Config{Threshold: 5, Backoff: time.Second})
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !br.Allow() {
				b.Fatal("open")
			}
			br.Success()
		}
	})
}

// OnChange runs once the lock is released: it may read the breaker (a
// Recorder that reads the cache's Stats, a log handler that takes its
// time) without deadlocking or holding up other callers.
func TestOnChangeRunsOutsideTheLock(t *testing.T) {
	c := newClock()
	var seen []Status
	var b *Breaker
	b = New(Config{Threshold: 1, Backoff: time.Second, Now: c.now,
		OnChange: func(from, to State) { seen = append(seen, b.Status()) }})
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Failure(b.cfg.Now())
		c.add(2 * time.Second)
		if b.Probe() {
			b.Probed(true)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a change of state whose OnChange reads Status never returned")
	}
	if len(seen) != 3 || seen[0].State != Open || seen[1].State != HalfOpen || seen[2].State != Closed {
		t.Fatalf("OnChange saw %+v; want open, half-open, closed, each already in force", seen)
	}
}

// A slow OnChange that reads Status, while another goroutine changes the
// state: neither waits on the other, no report is lost, and they come in
// order.
func TestOnChangeSlowWhileStateChanges(t *testing.T) {
	c := newClock()
	var mu sync.Mutex // guards clock and seen
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return c.now() }
	var seen []string
	var b *Breaker
	b = New(Config{Threshold: 1, Backoff: time.Second, Now: now,
		OnChange: func(from, to State) {
			time.Sleep(20 * time.Millisecond)
			_ = b.Status()
			mu.Lock()
			seen = append(seen, from.String()+">"+to.String())
			mu.Unlock()
		}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Go(func() { b.Failure(b.cfg.Now()) }) // closed > open, reported slowly
		wg.Go(func() {
			for b.State() != Open {
				time.Sleep(time.Millisecond)
			}
			mu.Lock()
			c.add(2 * time.Second)
			mu.Unlock()
			if b.Probe() { // open > half-open, while the first report may still run
				b.Success() // a call succeeding meanwhile is not held up
				b.Probed(true)
			}
		})
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("changes of state with a slow OnChange that reads Status never returned")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == 3 || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"closed>open", "open>half_open", "half_open>closed"}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("reports %v; want %v", seen, want)
	}
}

// With silence required, failures in a row open the breaker only once no
// call has succeeded for that long: a burst of failures from one server
// among several that answer keeps it closed.
func TestRequireSilence(t *testing.T) {
	clk := newClock()
	b := New(Config{Threshold: 3, Backoff: time.Second, Now: clk.now})
	b.RequireSilence(500 * time.Millisecond)
	b.Success()
	for range 10 {
		b.Failure(b.cfg.Now())
	}
	clk.add(100 * time.Millisecond)
	b.Failure(b.cfg.Now())
	if !b.Allow() {
		t.Fatal("opened 100 ms after a success; silence of 500 ms is required")
	}
	clk.add(400 * time.Millisecond)
	b.Failure(b.cfg.Now())
	if b.State() != Open {
		t.Fatalf("state %v after failures and 500 ms without a success, want open", b.State())
	}
	b = New(Config{Threshold: 3, Backoff: time.Second, Now: clk.now})
	b.RequireSilence(time.Second)
	b.RequireSilence(0)
	for range 3 {
		b.Failure(b.cfg.Now())
	}
	if b.State() != Open {
		t.Fatal("RequireSilence(0) still required silence")
	}
}

// The verdicts of calls started before a probe closed the breaker do not
// open it again: a call abandoned during the outage is judged a failure an
// OperationTimeout after it started, possibly after the probe succeeded.
// Calls started after the close count as before.
func TestLateVerdictsDoNotReopen(t *testing.T) {
	clk := newClock()
	b := New(Config{Threshold: 2, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, Now: clk.now})
	started := clk.now() // calls sent while Redis is silent
	b.Failure(started)
	b.Failure(started)
	if b.State() != Open {
		t.Fatalf("state %v after 2 failures; want open", b.State())
	}
	clk.add(b.Due())
	if !b.Probe() {
		t.Fatal("no probe once due")
	}
	b.Probed(true)
	clk.add(400 * time.Millisecond) // their OperationTimeout passes: they are judged now
	for range 5 {
		b.Failure(started)
	}
	if b.State() != Closed || b.Status().Failures != 0 {
		t.Fatalf("state %v, %d failures after the late verdicts of calls sent before the probe; want closed, 0", b.State(), b.Status().Failures)
	}
	b.Failure(clk.now())
	b.Failure(clk.now())
	if b.State() != Open {
		t.Fatalf("state %v after 2 failures of calls sent after the close; want open", b.State())
	}
}

package lease

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestLeaseBytes(t *testing.T) {
	t.Parallel()
	a, b := New(), New()
	if !Is(a) || !strings.HasPrefix(string(a), Mark) || len(a) != len(Mark)+16 {
		t.Errorf("New() = %q; want the mark and 16 hex digits", a)
	}
	if string(a) == string(b) {
		t.Errorf("two leases share a token: %q", a)
	}
	for _, raw := range []string{"", "\xdd", "\xdclease:0123", `{"lease":1}`, "lease:0123456789abcdef"} {
		if Is([]byte(raw)) {
			t.Errorf("Is(%q) = true; want false: only the mark makes a lease", raw)
		}
	}
}

func TestWaiters(t *testing.T) {
	t.Parallel()
	var w Waiters
	a, b := w.Add("k"), w.Add("k")
	if a != b {
		t.Fatal("two waits on one key got different channels")
	}
	other := w.Add("other")
	w.Wake("k")
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			t.Fatal("a wait on the changed key was not woken")
		}
	}
	select {
	case <-other:
		t.Fatal("a wait on another key was woken")
	default:
	}
	c := w.Add("k") // a new wait after the wake-up
	w.Drop("k", a)  // a stale channel must not end it
	w.Wake("k")
	select {
	case <-c:
	default:
		t.Fatal("dropping a woken wait ended a newer one")
	}
	w.Drop("k", nil) // nothing
	w.Drop("other", other)
	w.Wake("other") // no wait left: nothing to close twice
}

// tries runs Poll with try answering steps in turn (Wait once they run
// out) and returns the times of the tries, from the start, and Poll's
// result.
func tries(w *Waiters, deadline time.Duration, stop <-chan struct{}, steps ...Step) ([]time.Duration, bool) {
	start := time.Now()
	var at []time.Duration
	var dl time.Time
	if deadline > 0 {
		dl = start.Add(deadline)
	}
	ok := Poll("k", w, dl, stop, func() Step {
		at = append(at, time.Since(start))
		if len(at) <= len(steps) {
			return steps[len(at)-1]
		}
		return Wait
	})
	return at, ok
}

func TestPollBacksOff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const ms = time.Millisecond
		at, ok := tries(nil, 0, nil, Wait, Wait, Wait, Wait, Wait, Wait, Wait, Wait, Wait, Done)
		want := []time.Duration{0, 2 * ms, 6 * ms, 14 * ms, 30 * ms, 62 * ms, 126 * ms, 226 * ms, 326 * ms, 426 * ms}
		if !ok || len(at) != len(want) {
			t.Fatalf("Poll = %v after tries at %v; want true after tries at %v", ok, at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("tries at %v; want %v (waits doubling from 2 ms to 100 ms)", at, want)
			}
		}
	})
}

func TestPollTriesAgainAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		at, ok := tries(nil, 0, nil, Again, Again, Again, Done)
		if !ok || len(at) != 4 || at[3] != 0 {
			t.Errorf("Poll = %v, tries at %v; want 4 tries at once: a key that holds nothing is tried again without waiting", ok, at)
		}
	})
}

func TestPollDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const ms = time.Millisecond
		at, ok := tries(nil, 50*ms, nil)
		want := []time.Duration{0, 2 * ms, 6 * ms, 14 * ms, 30 * ms, 50 * ms}
		if ok || len(at) != len(want) || at[len(at)-1] != 50*ms {
			t.Errorf("Poll = %v, tries at %v; want false after tries at %v: the last wait cut to the deadline, one try at it", ok, at, want)
		}
	})
}

func TestPollWokenByChange(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var w Waiters
		go func() {
			time.Sleep(time.Millisecond)
			w.Wake("k")
		}()
		at, ok := tries(&w, 0, nil, Wait, Done)
		if !ok || len(at) != 2 || at[1] != time.Millisecond {
			t.Errorf("Poll = %v, tries at %v; want the second try when the key changed (1 ms), not at the poll (2 ms)", ok, at)
		}
		if len(w.m) != 0 {
			t.Errorf("%d waits left registered", len(w.m))
		}
	})
}

func TestPollStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		stop := make(chan struct{})
		go func() {
			time.Sleep(5 * time.Millisecond)
			close(stop)
		}()
		start := time.Now()
		at, ok := tries(nil, 0, stop)
		if ok || time.Since(start) != 5*time.Millisecond {
			t.Errorf("Poll = %v after %v (tries at %v); want false when stop closed, at 5 ms", ok, time.Since(start), at)
		}
		if _, ok := tries(nil, 0, stop, Done); ok {
			t.Error("Poll with stop closed before it began = true; want false, with no try")
		}
	})
}

// Waits registered for tries that ended are dropped: no channel of a key
// stays in Waiters after Poll, whatever ended it.
func TestPollLeavesNoWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var w Waiters
		tries(&w, 0, nil, Wait, Again, Done)
		tries(&w, 10*time.Millisecond, nil)
		if len(w.m) != 0 {
			t.Errorf("%d waits left registered", len(w.m))
		}
	})
}

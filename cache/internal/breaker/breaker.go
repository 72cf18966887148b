// Package breaker is the circuit breaker in front of Redis: it counts
// consecutive failures of calls, and once there are enough of them it
// opens, so that calls fail at once instead of waiting on a server that
// does not answer. While it is open, no call reaches the network: its
// owner probes in the background (Due, Probe, Probed), after a backoff that
// doubles with each failed probe, and closes it when a probe succeeds.
//
// The closed state — the one that matters for speed — costs one atomic
// load per call (Allow) and one per outcome (Success, Failure); the lock is
// taken only to change state.
package breaker

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// State is the state of a Breaker.
type State uint32

// The states.
const (
	Closed   State = iota // calls go through
	Open                  // calls are refused; a probe is due after the backoff
	HalfOpen              // calls are refused; a probe is running
)

// Config configures a Breaker.
type Config struct {
	// Threshold is how many consecutive failures open the breaker; zero or
	// less never opens it on failures (Trip still does).
	Threshold int
	// Backoff is how long the breaker stays open before its first probe;
	// each failed probe doubles it, up to MaxBackoff. A success of a call
	// resets it. Each wait is jittered by up to a fifth either way, so that
	// a fleet does not probe in step.
	Backoff, MaxBackoff time.Duration
	// OnChange, if not nil, is called on each change of state, in order,
	// once the breaker's lock is released, on the goroutine that made the
	// change or on one that was reporting others: it may read the breaker
	// (State, Status) and take its time without holding up calls.
	OnChange func(from, to State)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Breaker is a circuit breaker. Its methods are safe for concurrent use.
type Breaker struct {
	cfg     Config
	silence atomic.Int64 // see RequireSilence; 0 when not required
	lastOK  atomic.Int64 // when a call last succeeded, Unix nanoseconds, while silence is required
	state   atomic.Uint32
	fails   atomic.Int64 // consecutive failures while closed
	// closedAt is when the breaker last closed after a probe, Unix
	// nanoseconds: failures of calls started before it are not counted.
	closedAt atomic.Int64
	// proven is false from a probe's success until a call succeeds: a
	// breaker that opens again before then doubles its backoff, so that a
	// server that answers PING but fails every call is not hammered.
	proven atomic.Bool

	mu      sync.Mutex // guards the fields below, and every change of state
	changes []change   // made under mu, to report once it is released (see unlock)
	notify  sync.Mutex // held by the goroutine reporting changes (see unlock)
	backoff time.Duration
	due     time.Time // when the next probe may start (Open)
	since   time.Time // when the current state began
	opens   uint64
}

// change is a change of state, from and to.
type change struct{ from, to State }

// unlock releases mu, then reports the changes of state made while it was
// held (see Config.OnChange). One goroutine at a time reports (notify),
// without holding mu, so OnChange may read the breaker; a change made
// while another goroutine reports is reported by that one, after its own,
// so reports keep the order of the changes.
func (b *Breaker) unlock() {
	pending := len(b.changes) > 0
	b.mu.Unlock()
	for pending && b.notify.TryLock() {
		b.mu.Lock()
		changes := b.changes
		b.changes = nil
		b.mu.Unlock()
		for _, ch := range changes {
			b.cfg.OnChange(ch.from, ch.to)
		}
		b.notify.Unlock()
		// A change made while this goroutine reported found notify taken
		// and left its report here.
		b.mu.Lock()
		pending = len(b.changes) > 0
		b.mu.Unlock()
	}
}

// New returns a closed breaker.
func New(cfg Config) *Breaker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.Backoff)
	b := &Breaker{cfg: cfg, backoff: cfg.Backoff, since: cfg.Now()}
	b.proven.Store(true)
	return b
}

// RequireSilence makes failures open the breaker only when, besides
// Threshold failures in a row, no call has succeeded for d: for a client
// of several servers (a cluster's primaries), one of which failing fails
// some calls while the others still answer. Zero removes the
// requirement.
func (b *Breaker) RequireSilence(d time.Duration) {
	b.lastOK.Store(b.cfg.Now().UnixNano())
	b.silence.Store(int64(d))
}

// Allow reports whether a call may go to the network: whether the breaker
// is closed.
func (b *Breaker) Allow() bool { return State(b.state.Load()) == Closed }

// State returns the current state.
func (b *Breaker) State() State { return State(b.state.Load()) }

// Success records a call that got an answer.
func (b *Breaker) Success() {
	if b.silence.Load() != 0 {
		b.lastOK.Store(b.cfg.Now().UnixNano())
	}
	if b.fails.Load() != 0 {
		b.fails.Store(0)
	}
	if !b.proven.Load() {
		b.mu.Lock()
		b.proven.Store(true)
		b.backoff = b.cfg.Backoff
		b.mu.Unlock()
	}
}

// Failure records a call, started at started, that failed for want of an
// answer (a timeout, a broken connection). It opens the breaker at the
// Threshold-th failure in a row. A call started before the breaker last
// closed is not counted: its verdict, which may come an OperationTimeout
// after it started, says nothing of the server that a probe has since
// found answering (without this, the late verdicts of calls abandoned
// during an outage reopened the breaker a probe had just closed).
func (b *Breaker) Failure(started time.Time) {
	if started.UnixNano() < b.closedAt.Load() {
		return
	}
	n := b.fails.Add(1)
	if b.cfg.Threshold > 0 && n >= int64(b.cfg.Threshold) && b.Allow() && b.silent() {
		b.Trip()
	}
}

// silent reports whether no call has succeeded for the silence required
// (see RequireSilence), or none is.
func (b *Breaker) silent() bool {
	d := b.silence.Load()
	return d == 0 || b.cfg.Now().UnixNano()-b.lastOK.Load() >= d
}

// Trip opens a closed breaker, whatever the count of failures (a client
// that is not connected yet).
func (b *Breaker) Trip() {
	b.mu.Lock()
	defer b.unlock()
	if b.State() != Closed {
		return
	}
	if !b.proven.Load() { // opened again before any call succeeded
		b.backoff = min(2*b.backoff, b.cfg.MaxBackoff)
	}
	b.opens++
	b.open()
}

// open moves to Open for the current backoff. Called with mu held.
func (b *Breaker) open() {
	now := b.cfg.Now()
	b.due = now.Add(jitter(b.backoff))
	b.set(Open, now)
}

// Due returns how long until a probe may start: zero or less when one may
// start now, or when the breaker is not Open.
func (b *Breaker) Due() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.State() != Open {
		return 0
	}
	return b.due.Sub(b.cfg.Now())
}

// Probe moves an Open breaker whose backoff has passed to HalfOpen, and
// reports whether it did: then the caller probes, and reports with Probed.
func (b *Breaker) Probe() bool {
	b.mu.Lock()
	defer b.unlock()
	now := b.cfg.Now()
	if b.State() != Open || now.Before(b.due) {
		return false
	}
	b.set(HalfOpen, now)
	return true
}

// Probed ends a probe started by Probe: its success closes the breaker;
// its failure opens it again, for twice the backoff.
func (b *Breaker) Probed(ok bool) {
	b.mu.Lock()
	defer b.unlock()
	if b.State() != HalfOpen {
		return
	}
	if ok {
		now := b.cfg.Now()
		b.fails.Store(0)
		b.proven.Store(false)
		b.closedAt.Store(now.UnixNano())
		b.set(Closed, now)
		return
	}
	b.backoff = min(2*b.backoff, b.cfg.MaxBackoff)
	b.open()
}

// set changes the state. Called with mu held.
func (b *Breaker) set(to State, now time.Time) {
	from := b.State()
	b.state.Store(uint32(to))
	b.since = now
	if b.cfg.OnChange != nil && from != to {
		b.changes = append(b.changes, change{from, to})
	}
}

// Status is a breaker's state as seen at one instant.
type Status struct {
	State    State
	Since    time.Time     // when the state began
	Failures int64         // consecutive failures counted while closed
	Backoff  time.Duration // the wait before the next probe (after the current one, when HalfOpen)
	Due      time.Time     // when the next probe may start; zero unless Open
	Opens    uint64        // how many times it opened
}

// Status returns the breaker's state now.
func (b *Breaker) Status() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Status{State: b.State(), Since: b.since, Failures: b.fails.Load(), Backoff: b.backoff, Opens: b.opens}
	if s.State == Open {
		s.Due = b.due
	}
	return s
}

// jitter returns d moved by up to a fifth either way.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/5 + rand.N(2*d/5+1)
}

// String returns "closed", "open", "half_open", or "unknown".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "unknown"
}

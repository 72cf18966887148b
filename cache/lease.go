package cache

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/media-gateway/discovery/cache/internal/policy"
)

// The lease makes one process load a missing key for a fleet (see
// Policy.Lease). It lives under the value's own key, as a placeholder that
// no value can be taken for (leaseMark and a token of the flight that took
// it), so it needs no second key, no second hash slot, and no ordering
// between keys:
//
//   - A Fetch that missed sends SET key lease NX PX Lease, then GET key, in
//     one round trip (the same key, so the same connection, in order).
//   - If its SET took the lease, it loads, and its value's SET replaces the
//     lease; if the load fails, a script deletes the lease if it still
//     holds its token, so that another process loads at once.
//   - If another process's lease is there, it waits: woken by the server's
//     invalidation of the key when the near cache is on (the GET was
//     tracked), or at the next poll (2 ms, doubling to 100 ms), and tries
//     again; it gets the value when it is there, takes the lease if it has
//     gone (a leaseholder that died: its lease expires), and after
//     Policy.Lease, or when its caller's deadline leaves just the time of
//     a load, loads for itself while it keeps looking: the holder's value
//     or its own, whichever comes first, answers (see raceLoad).
//   - Readers take a lease for a miss (see isLease): Get, GetMany and the
//     near cache never return or keep one.

// leaseMark starts every lease: 0xDD is not the envelope's magic (0xDC),
// nor the first byte of any JSON value, so no value is taken for a lease,
// nor a lease for a value.
const leaseMark = "\xddlease:"

// isLease reports whether raw, bytes read under a key, is a lease.
func isLease(raw []byte) bool {
	return len(raw) >= len(leaseMark) && string(raw[:len(leaseMark)]) == leaseMark
}

// newLease returns a lease of a flight's own: the mark and a random token.
func newLease() []byte {
	var tok [8]byte
	for i := range tok {
		tok[i] = byte(rand.Uint32())
	}
	return hex.AppendEncode([]byte(leaseMark), tok[:])
}

// heldLease is a lease this process holds on a key: its token, and when
// its life ends (see Policy.Lease).
type heldLease struct {
	token []byte
	ends  time.Time
}

// expired reports whether the lease has had its life: from then on, its
// absence from its key is its expiry, not another writer's change.
func (l *heldLease) expired() bool { return !time.Now().Before(l.ends) }

// leaseResult is how waiting on the lease of a key ended.
type leaseResult uint8

const (
	leaseHeld    leaseResult = iota + 1 // this flight holds the lease: it loads and stores
	leaseValue                          // a value arrived (another process's load): no load
	leaseNone                           // load without the lease: a value to replace
	leaseTimeout                        // waited as long as it may on another's lease: load, and keep looking for its value (see raceLoad)
	leaseDown                           // Redis failed: load, and do not store
)

// Bounds of the polls of a lease held by another process, when no
// invalidation wakes the waiter.
const (
	leasePollMin = 2 * time.Millisecond
	leasePollMax = 100 * time.Millisecond
)

// leasing returns how long a Fetch of s that missed, with the caller's
// context ctx, may wait on another process's lease before it loads for
// itself (and keeps looking: see raceLoad): the kind's Policy.Lease, but
// no longer than half the time ctx's deadline leaves, nor than leaves time
// for a load of its own (one and a half times the kind's average load),
// and at least a quarter of that time; zero when the kind takes no
// leases. A view that shares the original service's cache
// (LegacyReadWrite) takes none: that service would read a lease as a
// corrupt value.
func (s store[V]) leasing(ctx context.Context) time.Duration {
	wait := s.k.policy.Lease
	if wait <= 0 || s.plain {
		return 0
	}
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, policy.OwnLoadAfter(time.Until(d), s.k.loadTime()))
	}
	return max(wait, time.Millisecond)
}

// lease takes the lease on key, or waits up to wait for the value of the
// process that holds it (see the top of this file). With leaseValue, v is
// that value. ctx is a flight's: it does not end.
func (s store[V]) lease(ctx context.Context, key string, mark []byte, wait time.Duration) (V, leaseResult) {
	var zero V
	start := time.Now()
	deadline := start.Add(wait)
	tracked := s.c.near.Load() != nil
	poll := leasePollMin
	waited := false
	for {
		var woken <-chan struct{}
		if tracked { // registered before the GET: its invalidation may come at once
			woken = s.c.loads.waits.add(key)
		}
		held, raw, found, err := s.c.acquire(ctx, key, mark, s.k.policy.Lease, tracked)
		if woken != nil && (err != nil || held || found && !isLease(raw)) {
			s.c.loads.waits.drop(key, woken)
		}
		switch {
		case err != nil && wrongType(err):
			return zero, leaseNone // SET replaces a key of another type
		case err != nil:
			s.c.absorb(ctx, s.k, failIf(err, OpGet, s.k, key))
			return zero, leaseDown
		case held:
			return zero, leaseHeld
		case found && !isLease(raw):
			v, _, err := s.open(key, raw)
			if err != nil {
				return zero, leaseNone // unusable: replaced by the load
			}
			if waited {
				s.c.observe(s.k, Event{Op: OpLease, Outcome: OutcomeHit, Latency: time.Since(start), Key: key, Context: ctx})
			}
			return v, leaseValue
		}
		// Another process's lease, or nothing (a lease just released or
		// expired): try again after a poll, or at once for nothing.
		left := time.Until(deadline)
		if left > 0 && found {
			waited = true
			sleep(min(poll, left), woken)
			poll = min(2*poll, leasePollMax)
		}
		if woken != nil {
			s.c.loads.waits.drop(key, woken)
		}
		if left <= 0 {
			return zero, leaseTimeout
		}
	}
}

// raceLoad loads for a flight that waited on another process's lease as
// long as it may, and meanwhile keeps looking for that process's value:
// whichever comes first answers, so a holder slower than the wait costs no
// more than a load of one's own, and still saves it when it comes first.
// The load, if it loses, sees its context canceled, and its value is not
// stored.
func (s store[V]) raceLoad(ctx context.Context, key string, ttl time.Duration, load LoaderFunc[V]) (any, error) {
	type result struct {
		v   V
		err error
	}
	start := time.Now()
	own := make(chan result, 1)
	// Canceled when the holder's value wins; not by Close: this is a
	// caller's load, and its caller gets its value (ctx is the flight's,
	// which has no end).
	lctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		v, err := s.load(lctx, load)
		own <- result{v, err}
	}()
	stored := func(r result) (any, error) {
		s.c.observe(s.k, Event{Op: OpLease, Outcome: OutcomeMiss, Latency: time.Since(start), Key: key, Context: ctx})
		if r.err == nil {
			if err := s.set(ctx, key, r.v, ttl); err != nil {
				s.c.absorb(ctx, s.k, err)
			}
		}
		return r.v, r.err
	}
	tracked := s.c.near.Load() != nil
	for poll := leasePollMin; ; poll = min(2*poll, leasePollMax) {
		var woken <-chan struct{}
		if tracked {
			woken = s.c.loads.waits.add(key)
		}
		raw, _, found, err := s.c.getWithTTL(ctx, key, tracked)
		if err == nil && found && !isLease(raw) {
			if v, _, err := s.open(key, raw); err == nil {
				s.c.loads.waits.drop(key, woken)
				cancel() // the own load is not needed: a loader that honours its context stops
				s.c.observe(s.k, Event{Op: OpLease, Outcome: OutcomeHit, Latency: time.Since(start), Key: key, Context: ctx})
				return v, nil
			}
		}
		if err != nil { // Redis failing: the own load answers
			s.c.loads.waits.drop(key, woken)
			return stored(<-own)
		}
		t := time.NewTimer(poll)
		select {
		case r := <-own:
			t.Stop()
			s.c.loads.waits.drop(key, woken)
			return stored(r)
		case <-woken:
		case <-t.C:
		}
		t.Stop()
		s.c.loads.waits.drop(key, woken)
	}
}

// sleep waits for d, or until woken is closed (a nil woken never is).
func sleep(d time.Duration, woken <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-woken:
	}
}

// waiters are the flights waiting on another process's lease, by key: the
// server's invalidation of the key wakes them (see keyChanged).
type waiters struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// add registers a wait on key and returns the channel closed when key
// changes.
func (w *waiters) add(key string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[string]chan struct{})
	}
	ch := w.m[key]
	if ch == nil {
		ch = make(chan struct{})
		w.m[key] = ch
	}
	return ch
}

// drop ends a wait registered by add (a nil ch: none), unless it was
// woken.
func (w *waiters) drop(key string, ch <-chan struct{}) {
	if ch == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if cur, ok := w.m[key]; ok && (<-chan struct{})(cur) == ch {
		delete(w.m, key)
	}
}

// wake wakes the waits on key.
func (w *waiters) wake(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.m[key]; ok {
		close(ch)
		delete(w.m, key)
	}
}

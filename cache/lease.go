package cache

import (
	"context"
	"time"

	"github.com/media-gateway/discovery/cache/internal/lease"
	"github.com/media-gateway/discovery/cache/internal/policy"
)

// The lease makes one process load a missing key for a fleet (see
// Policy.Lease). It lives under the value's own key, as a placeholder that
// no value can be taken for (lease.Mark and a token of the flight that
// took it), so it needs no second key, no second hash slot, and no
// ordering between keys:
//
//   - A Fetch that missed sends SET key lease NX PX Lease, then GET key, in
//     one round trip (the same key, so the same connection, in order).
//   - If its SET took the lease, it loads, and its value replaces the
//     lease by a script that stores it only while the key still holds the
//     lease (a Set, Delete or clear meanwhile wins over the older value);
//     if the load fails, or its value cannot be stored, a script deletes
//     the lease if it still holds its token, so that another process
//     loads at once.
//   - If another process's lease is there, it waits (lease.Poll): woken by
//     the server's invalidation of the key when the near cache is on (the
//     GET was tracked), or at the next poll (2 ms, doubling to 100 ms),
//     and tries again; it gets the value when it is there, takes the lease
//     if it has gone (a leaseholder that died: its lease expires), and
//     after Policy.Lease, or when its caller's deadline leaves just the
//     time of a load, loads for itself while it keeps looking, for
//     Policy.Lease more at most: the holder's value or its own, whichever
//     comes first, answers (see raceLoad).
//   - Readers take a lease for a miss (lease.Is): Get, GetMany and the
//     near cache never return or keep one.

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
func (s store[V]) lease(ctx context.Context, key string, mark []byte, wait time.Duration) (v V, res leaseResult) {
	start := time.Now()
	tracked := s.c.near.Load() != nil
	waited := false
	res = leaseTimeout
	lease.Poll(key, s.waiters(tracked), start.Add(wait), nil, func() lease.Step {
		held, raw, found, err := s.c.keyspace.acquire(ctx, key, mark, s.k.policy.Lease, tracked)
		switch {
		case err != nil && wrongType(err):
			res = leaseNone // SET replaces a key of another type
		case err != nil:
			s.c.absorb(ctx, s.k, failIf(err, OpGet, s.k, key))
			res = leaseDown
		case held:
			res = leaseHeld
		case found && !lease.Is(raw):
			got, _, err := s.open(key, raw)
			if err != nil {
				res = leaseNone // unusable: replaced by the load
				break
			}
			if waited {
				s.c.observe(s.k, Event{Op: OpLease, Outcome: OutcomeHit, Latency: time.Since(start), Key: key, Context: ctx})
			}
			v, res = got, leaseValue
		case found: // another process's lease
			waited = true
			return lease.Wait
		default: // nothing: a lease just released or expired
			return lease.Again
		}
		return lease.Done
	})
	return v, res
}

// waiters returns the waits the server's invalidations wake, for a wait
// whose reads are tracked; nil (polls only) for one whose are not.
func (s store[V]) waiters(tracked bool) *lease.Waiters {
	if tracked {
		return &s.c.loads.waits
	}
	return nil
}

// raceLoad loads for a flight that waited on another process's lease as
// long as it may, and meanwhile keeps looking for that process's value:
// whichever comes first answers, so a holder slower than the wait costs no
// more than a load of one's own, and still saves it when it comes first.
// The load, if it loses, sees its context canceled, and its value is not
// stored. It looks for Policy.Lease at most (the holder's lease has
// expired by then), then only waits for its own load: a loader that hangs
// does not keep it polling Redis.
func (s store[V]) raceLoad(ctx context.Context, key string, ttl time.Duration, load LoaderFunc[V]) (any, error) {
	type result struct {
		v   V
		err error
	}
	start := time.Now()
	own := make(chan result, 1)
	loaded := make(chan struct{}) // closed once own holds the result
	// Canceled when the holder's value wins; not by Close: this is a
	// caller's load, and its caller gets its value (ctx is the flight's,
	// which has no end).
	lctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		v, err := s.guardedLoad(lctx, key, load)
		own <- result{v, err}
		close(loaded)
	}()
	tracked := s.c.near.Load() != nil
	var theirs V
	found := false
	lease.Poll(key, s.waiters(tracked), start.Add(s.k.policy.Lease), loaded, func() lease.Step {
		raw, _, ok, err := s.c.keyspace.getWithTTL(ctx, key, tracked)
		if err != nil {
			return lease.Done // Redis failing: the own load answers
		}
		if ok && !lease.Is(raw) {
			if v, _, err := s.open(key, raw); err == nil {
				theirs, found = v, true
				return lease.Done
			}
		}
		return lease.Wait
	})
	if found {
		cancel() // the own load is not needed: a loader that honours its context stops
		s.c.observe(s.k, Event{Op: OpLease, Outcome: OutcomeHit, Latency: time.Since(start), Key: key, Context: ctx})
		return theirs, nil
	}
	r := <-own
	s.c.observe(s.k, Event{Op: OpLease, Outcome: OutcomeMiss, Latency: time.Since(start), Key: key, Context: ctx})
	if r.err == nil { // over the holder's lease, or nothing: never over a value stored meanwhile
		s.setLoaded(ctx, key, r.v, ttl, storeGuard{older: true})
	}
	return r.v, r.err
}

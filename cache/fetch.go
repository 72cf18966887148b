package cache

import (
	"context"
	"hash/maphash"
	"sync/atomic"
	"time"
)

// LoaderFunc computes a value on a cache miss: runs the search, parses the
// intent, computes the embedding. It should bound its own work (see
// [Kind.Fetch] for the context it receives).
type LoaderFunc[V any] func(ctx context.Context) (V, error)

// fetch is the cache-aside path shared by every kind; its contract is on
// Kind.Fetch. A nil keyErr means key is usable; alt is as for get.
func (s store[V]) fetch(ctx context.Context, key, alt string, keyErr error, ttl time.Duration, load LoaderFunc[V]) (V, error) {
	if keyErr != nil { // no key, so no caching: still answer from the loader
		s.c.absorb(ctx, s.k, keyErr)
		return s.load(ctx, load)
	}
	start := time.Now()
	s.stale = s.k.stale != nil
	writes := s.c.writesTo(key)
	before := writes.Load()
	if v, m, ok := s.local(ctx, key, start); ok {
		s.hit(ctx, key, ttl, m, start, load)
		return v, nil
	}
	rctx, cancel := s.c.readBudget(ctx)
	v, m, ok, err := s.remote(rctx, key, alt, ttl, start)
	cancel()
	if ok {
		s.hit(ctx, key, ttl, m, start, load)
		return v, nil
	}
	if err := ctx.Err(); err != nil { // the caller is gone: start no load for it
		return v, err
	}
	// When Redis failed, do not ask it again inside the flight: a second
	// and third round trip (re-check, store) would only add timeouts.
	redisOK := err == nil || unusable(err) || wrongType(err)
	if err != nil {
		s.c.absorb(ctx, s.k, err)
	}
	if !redisOK {
		if v, ok := s.staleValue(ctx, key, start); ok {
			return v, nil
		}
	}
	if h := s.c.hookFetchMissed; h != nil {
		h(key)
	}
	wait := s.leasing(ctx) // computed here: the flight's context has no deadline
	ch := s.c.flight.DoChan(key, func() (any, error) {
		// The load runs without the cancellation of the caller that started
		// it, so that one caller giving up does not fail the others.
		ctx := context.WithoutCancel(ctx)
		if redisOK && wait > 0 {
			return s.leasedLoad(ctx, key, ttl, wait, load)
		}
		// Re-check inside the flight when this process wrote a key of the
		// same stripe since the read that missed. Without it, this
		// interleaving calls the loader twice for one key:
		//   G1: get → miss
		//   G2: get → miss; flight starts; load; set; flight ends
		//   G1: flight starts (G2's is over); load again
		// With it, G1 finds G2's value. When nothing was written here since
		// the miss, the second round trip is saved; a value another process
		// wrote in the instant between the miss and the flight is then
		// loaded again (one load across processes is a lease's job). Not
		// recorded: get recorded this miss.
		if redisOK && writes.Load() != before {
			if v, _, ok, err := s.lookup(ctx, key, s.k.near.Load(), ttl); ok {
				return v, nil
			} else if err != nil && !unusable(err) && !wrongType(err) {
				redisOK = false
			}
		}
		v, err := s.load(ctx, load)
		if err != nil {
			return v, err
		}
		if redisOK {
			// The caller gets its value even if it cannot be stored.
			if err := s.set(ctx, key, v, ttl); err != nil {
				s.c.absorb(ctx, s.k, err)
			}
		} else if s.stale {
			// Kept for the next Fetches while Redis is away.
			s.keepStale(key, v, s.encodedSize(v), true)
		}
		return v, nil
	})
	if h := s.c.hookFetchJoined; h != nil {
		h(key)
	}
	select {
	case r := <-ch:
		v, ok := r.Val.(V)
		if !ok && r.Err == nil {
			// The flight was started by a caller reading the same key as
			// another type: do not hand out its value; load for this caller.
			return s.load(ctx, load)
		}
		return v, r.Err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// leasedLoad is a Fetch's flight with a lease (Policy.Lease): it takes the
// lease on key and loads, or waits up to wait for the value of the process
// that holds it. The lease's own GET re-reads the key, so no other
// re-check is needed: a value stored since the miss, by this process or
// another, is found there.
func (s store[V]) leasedLoad(ctx context.Context, key string, ttl, wait time.Duration, load LoaderFunc[V]) (any, error) {
	lease := newLease()
	v, res := s.lease(ctx, key, lease, wait)
	switch res {
	case leaseValue:
		return v, nil
	case leaseTimeout:
		return s.raceLoad(ctx, key, ttl, load)
	}
	v, err := s.load(ctx, load)
	switch {
	case err != nil && res == leaseHeld:
		// Free the key for the others at once, rather than when the
		// lease expires.
		if rerr := s.c.release(ctx, key, lease); rerr != nil {
			s.c.absorb(ctx, s.k, failIf(rerr, OpDelete, s.k, key))
		}
		return v, err
	case err != nil:
		return v, err
	case res == leaseDown:
		if s.stale {
			s.keepStale(key, v, s.encodedSize(v), true)
		}
	default: // the value replaces the lease (or a value that could not be used)
		if err := s.set(ctx, key, v, ttl); err != nil {
			s.c.absorb(ctx, s.k, err)
		}
	}
	return v, nil
}

// readBudget returns the context of the read that starts a Fetch: ctx,
// or, when the caller's deadline leaves less than twice
// Config.OperationTimeout, ctx bounded to half the time left, so that a
// Redis that does not answer leaves the loader the other half. cancel must
// be called once the read is over.
func (c *RedisCache) readBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return ctx, noCancel
	}
	half := time.Until(d) / 2
	if half >= c.cfg.OperationTimeout {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, half)
}

func noCancel() {}

// load calls the loader, records the call, and turns a panic into an
// ErrLoaderPanic error that keeps the panic's value and stack.
func (s store[V]) load(ctx context.Context, load LoaderFunc[V]) (V, error) {
	return runLoader(ctx, s.c, s.k, load)
}

// runLoader calls a loader of one value or of a batch, as load does.
func runLoader[T any](ctx context.Context, c *RedisCache, k *kindState, load func(context.Context) (T, error)) (v T, err error) {
	start := time.Now()
	defer func() {
		e := Event{Op: OpLoad, Outcome: OutcomeOK, Latency: time.Since(start), Context: ctx}
		if r := recover(); r != nil {
			err = &Error{Op: OpLoad, Kind: k.name, Class: ErrLoaderPanic, Cause: newPanicError(r)}
			e.Class = ErrLoaderPanic
		}
		if err != nil { // a loader's own error is not a failure of the cache: no class
			e.Outcome = OutcomeError
		}
		c.observe(k, e)
	}()
	return load(ctx)
}

// writeStripes is how many counters of writes there are: keys share one
// per stripe, so that an unrelated write rarely costs a re-check.
const writeStripes = 256

// writesTo returns the counter of this process's writes to the keys of
// key's stripe, moved on once each write has returned (see wrote).
func (c *RedisCache) writesTo(key string) *atomic.Uint64 {
	return &c.writes[maphash.String(c.writeSeed, key)%writeStripes]
}

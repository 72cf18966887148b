package cache

import (
	"context"
	"hash/maphash"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/media-gateway/discovery/cache/internal/lease"
	"github.com/media-gateway/discovery/cache/internal/policy"
)

// LoaderFunc computes a value on a cache miss: runs the search, parses the
// intent, computes the embedding. It should bound its own work (see
// [Kind.Fetch] for the context it receives).
type LoaderFunc[V any] func(ctx context.Context) (V, error)

// fetch is the cache-aside path shared by every kind; its contract is on
// Kind.Fetch. A nil keyErr means key is usable; alt is as for get.
func (s store[V]) fetch(ctx context.Context, key, alt string, keyErr error, ttl time.Duration, load LoaderFunc[V]) (V, error) {
	return s.fetchNoted(ctx, key, alt, keyErr, ttl, load, nil)
}

// fetchNote is what FetchSimilar asks of a Fetch: onMiss, called once the
// read from Redis found no usable value, before any load, may answer
// instead (a neighbour's value); hit is set when the near cache or Redis
// answered.
type fetchNote[V any] struct {
	onMiss func(ctx context.Context) (V, bool)
	hit    bool
}

// fetchNoted is fetch, with a note (nil for none).
func (s store[V]) fetchNoted(ctx context.Context, key, alt string, keyErr error, ttl time.Duration, load LoaderFunc[V], note *fetchNote[V]) (V, error) {
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
		if note != nil {
			note.hit = true
		}
		return v, nil
	}
	ctx, end := s.c.begin(ctx, OpFetch, s.k)
	v, err := s.fetchFar(ctx, key, alt, ttl, load, start, writes, before, note)
	// The Fetch's time from end to end, for those that went past the near
	// cache: its parts (read, load, store) are counted on their own.
	e := Event{Op: OpFetch, Outcome: OutcomeOK, Latency: time.Since(start), Key: key, Context: ctx}
	if err != nil {
		e.Outcome, _ = outcomeOf(ctx, err)
	}
	s.c.observe(s.k, e)
	end(err)
	return v, err
}

// fetchFar is the part of fetch past the near cache: Redis, the stale
// store, the load.
func (s store[V]) fetchFar(ctx context.Context, key, alt string, ttl time.Duration, load LoaderFunc[V], start time.Time, writes *atomic.Uint64, before uint64, note *fetchNote[V]) (V, error) {
	rctx, cancel := s.c.readBudget(ctx)
	v, m, ok, err := s.remote(rctx, key, alt, ttl, start)
	cancel()
	if ok {
		s.hit(ctx, key, ttl, m, start, load)
		if note != nil {
			note.hit = true
		}
		return v, nil
	}
	if err := ctx.Err(); err != nil { // the caller is gone: start no load for it
		return v, err
	}
	// When Redis failed, do not ask it again inside the flight: a second
	// and third round trip (re-check, store) would only add timeouts.
	redisOK := err == nil || unusable(err) || wrongType(err)
	absent := err == nil // the read found nothing (see unleasedLoad)
	if err != nil {
		s.c.absorb(ctx, s.k, err)
	}
	if note != nil && note.onMiss != nil && redisOK {
		if v, ok := note.onMiss(ctx); ok {
			return v, nil
		}
	}
	if !redisOK {
		if v, ok := s.staleValue(ctx, key, start); ok {
			return v, nil
		}
	}
	if h := s.c.hooks.fetchMissed; h != nil {
		h(key)
	}
	wait := s.leasing(ctx)  // computed here: the flight's context has no deadline
	var started atomic.Bool // this caller's function runs the flight: it is no joiner
	ch := s.c.loads.flight.DoChan(key, guarded(s.k, key, func() (any, error) {
		started.Store(true)
		// The load runs without the cancellation of the caller that started
		// it, so that one caller giving up does not fail the others.
		ctx := context.WithoutCancel(ctx)
		if redisOK && wait > 0 {
			return s.leasedLoad(ctx, key, ttl, wait, load)
		}
		return s.unleasedLoad(ctx, key, ttl, redisOK, absent, writes.Load() != before, load)
	}))
	if h := s.c.hooks.fetchJoined; h != nil {
		h(key)
	}
	own, stop := s.ownLoadTimer(ctx)
	defer stop()
	for {
		select {
		case r := <-ch:
			return s.fromFlight(ctx, r, load)
		case <-own:
			if started.Load() {
				// The flight runs this caller's own loader, and bounds
				// its lease wait by this caller's deadline.
				own = nil
				continue
			}
			return s.loadBeside(ctx, key, ttl, redisOK, ch, load)
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
}

// unleasedLoad is a Fetch's flight without a lease: it loads and stores
// the value, unless Redis failed (redisOK false: the value is only kept
// in the stale store). absent says that the read found nothing: the value
// is then stored only while the key still holds nothing, so that a Set, a
// load of another process or the original service's write during the
// load wins over it (a Delete during the load does not: only a lease
// tells a deleted key from one never written). Without absent, the value
// replaces bytes that could not be used.
//
// With wrote, this process wrote a key of the same stripe since the read
// that missed, and the key is read again first. Without it, this
// interleaving calls the loader twice for one key:
//
//	G1: get → miss
//	G2: get → miss; flight starts; load; set; flight ends
//	G1: flight starts (G2's is over); load again
//
// With it, G1 finds G2's value. When nothing was written here since the
// miss, the second round trip is saved; a value another process wrote in
// the instant between the miss and the flight is then loaded again, and
// not stored over it. Not recorded: get recorded this miss.
func (s store[V]) unleasedLoad(ctx context.Context, key string, ttl time.Duration, redisOK, absent, wrote bool, load LoaderFunc[V]) (any, error) {
	if redisOK && wrote {
		v, _, ok, err := s.lookup(ctx, key, s.c.near.Load(), ttl)
		switch {
		case ok:
			return v, nil
		case err == nil:
			absent = true
		case unusable(err) || wrongType(err):
			absent = false
		default:
			redisOK = false
		}
	}
	v, err := s.load(ctx, load)
	if err != nil {
		return v, err
	}
	if redisOK { // the caller gets its value even if it cannot be stored
		s.setLoaded(ctx, key, v, ttl, storeGuard{absent: absent})
	} else if s.stale {
		// Kept for the next Fetches while Redis is away.
		s.keepStale(key, v, s.encodedSize(v), true)
	}
	return v, nil
}

// fromFlight returns the result of the flight a Fetch joined.
func (s store[V]) fromFlight(ctx context.Context, r singleflight.Result, load LoaderFunc[V]) (V, error) {
	v, ok := r.Val.(V)
	if !ok && r.Err == nil {
		// The flight was started by a caller reading the same key as
		// another type: do not hand out its value; load for this caller.
		return s.load(ctx, load)
	}
	return v, r.Err
}

// guardedLoad is load on a goroutine of the cache's own (beside a flight,
// or racing a lease): nothing it runs may panic out of it (see guarded).
func (s store[V]) guardedLoad(ctx context.Context, key string, load LoaderFunc[V]) (V, error) {
	r, err := guarded(s.k, key, func() (any, error) { return s.load(ctx, load) })()
	v, _ := r.(V)
	return v, err
}

// ownLoadTimer returns a channel that fires when a Fetch that joined
// another caller's flight should stop trusting it and load for itself:
// when its deadline leaves just the time of a load of its own (see
// policy.LoadBesideAfter); a nil channel, which never fires, without a
// deadline, without the time for a load, or before any load of the kind
// was timed (a flight that seems long may be only slow: its joiners trust
// it). stop releases the timer.
func (s store[V]) ownLoadTimer(ctx context.Context) (<-chan time.Time, func()) {
	d, ok := ctx.Deadline()
	if !ok || s.k.loadNanos.Load() == 0 {
		return nil, noCancel
	}
	wait, ok := policy.LoadBesideAfter(time.Until(d), s.k.loadTime())
	if !ok {
		return nil, noCancel
	}
	t := time.NewTimer(wait)
	return t.C, func() { t.Stop() }
}

// loadBeside runs the caller's own load beside the flight it joined, which
// has not answered while the caller's deadline still leaves time for a
// load: whichever answers first answers the caller, so that a loader that
// hangs (a backend call ignoring its context) pins its key for nobody but
// its own caller. The own value is stored unless Redis failed, but never
// over a value stored since (the flight's, another process's, a Set); the
// own load, if it loses, sees its context canceled.
func (s store[V]) loadBeside(ctx context.Context, key string, ttl time.Duration, redisOK bool, ch <-chan singleflight.Result, load LoaderFunc[V]) (V, error) {
	type result struct {
		v   V
		err error
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	own := make(chan result, 1)
	go func() {
		v, err := s.guardedLoad(lctx, key, load)
		own <- result{v, err}
	}()
	select {
	case r := <-ch:
		return s.fromFlight(ctx, r, load)
	case r := <-own:
		if r.err == nil && redisOK { // over this process's lease, or nothing: never over a value stored meanwhile
			s.setLoaded(ctx, key, r.v, ttl, storeGuard{older: true})
		}
		return r.v, r.err
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
//
// A value loaded under the lease is stored only while the key still holds
// the lease: a Set, a Delete or a clear of the key during the load (in any
// process) wins over it, and the value, older than the change, is only
// returned. A load that fails, or whose value cannot be stored, releases
// the lease at once, so that other processes do not wait it out.
func (s store[V]) leasedLoad(ctx context.Context, key string, ttl, wait time.Duration, load LoaderFunc[V]) (any, error) {
	token := lease.New()
	v, res := s.lease(ctx, key, token, wait)
	switch res {
	case leaseValue:
		return v, nil
	case leaseTimeout:
		return s.raceLoad(ctx, key, ttl, load)
	}
	// The lease was taken no later than now: counting its life from here
	// can only drop a value whose lease had just expired (by a round trip
	// at most), never store one that a change of the key should drop.
	held := &heldLease{token: token, ends: time.Now().Add(s.k.policy.Lease)}
	v, err := s.load(ctx, load)
	switch {
	case err != nil && res == leaseHeld:
		s.release(ctx, key, held) // the others load at once, rather than when the lease expires
		return v, err
	case err != nil:
		return v, err
	case res == leaseDown:
		if s.stale {
			s.keepStale(key, v, s.encodedSize(v), true)
		}
	case res == leaseHeld: // the value replaces the lease, if the key still holds it
		if _, err := s.setGuarded(ctx, key, v, ttl, storeGuard{lease: held}); err != nil {
			s.c.absorb(ctx, s.k, err)
			s.release(ctx, key, held)
		}
	default: // leaseNone: a value that could not be used, or a key of another type, to replace
		s.setLoaded(ctx, key, v, ttl, storeGuard{})
	}
	return v, nil
}

// release frees key of the lease l, if the key still holds it.
func (s store[V]) release(ctx context.Context, key string, l *heldLease) {
	err := s.c.keyspace.release(ctx, key, l.token)
	s.c.wrote(key)
	if err != nil {
		s.c.absorb(ctx, s.k, failIf(err, OpDelete, s.k, key))
	}
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
	return runLoader(ctx, s.c, s.k, 1, load)
}

// runLoader calls a loader of n values (1, or a batch's), as load does.
func runLoader[T any](ctx context.Context, c *RedisCache, k *kindState, n int, load func(context.Context) (T, error)) (v T, err error) {
	start := time.Now()
	ctx, end := c.begin(ctx, OpLoad, k) // the loader's own spans nest under the load's
	defer func() {
		e := Event{Op: OpLoad, Outcome: OutcomeOK, Latency: time.Since(start), Keys: int64(n), Context: ctx}
		if r := recover(); r != nil {
			err = &Error{Op: OpLoad, Kind: k.name, Class: ErrLoaderPanic, Cause: newPanicError(r)}
			e.Class = ErrLoaderPanic
		}
		switch {
		case err != nil && ctx.Err() != nil: // a load the cache gave up (another's value came first)
			e.Outcome = OutcomeCanceled
		case err != nil: // a loader's own error is not a failure of the cache: no class
			e.Outcome = OutcomeError
		}
		c.observe(k, e)
		end(err)
	}()
	return load(ctx)
}

// guarded returns fn, made to return a panic as an error of class
// ErrLoaderPanic with the panic's stack. Every function run by the flight
// group goes through it: singleflight re-panics a flight's panic on a
// goroutine of its own, which would end the process. The loader's panics
// are recovered closer (runLoader) and codecs' fail their read or write
// (store.open, store.encode); this catches the rest, such as a Recorder
// or a log handler that panics during a load.
func guarded(k *kindState, key string, fn func() (any, error)) func() (any, error) {
	return func() (v any, err error) {
		defer func() {
			if r := recover(); r != nil {
				v, err = nil, &Error{Op: OpFetch, Kind: k.name, Key: key, Class: ErrLoaderPanic, Cause: newPanicError(r)}
			}
		}()
		return fn()
	}
}

// writeStripes is how many counters of writes there are: keys share one
// per stripe, so that an unrelated write rarely costs a re-check.
const writeStripes = 256

// writesTo returns the counter of this process's writes to the keys of
// key's stripe, moved on once each write has returned (see wrote).
func (c *RedisCache) writesTo(key string) *atomic.Uint64 {
	return &c.writes.stripes[maphash.String(c.writes.seed, key)%writeStripes]
}

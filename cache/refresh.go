package cache

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/media-gateway/discovery/cache/internal/lease"
)

// Early refresh (Policy.EarlyRefresh) is XFetch: a Fetch that hits a value
// expiring in gap reloads it in the background when
//
//	gap <= beta × delta × Exp(1)
//
// where delta is how long the kind's loads take and Exp(1) a random draw
// (-ln of a uniform one). Far from expiry the chance is nil; as expiry
// nears it grows to certainty, sooner for slower loads, so that one of the
// many readers of a hot key reloads it shortly before it expires and none
// ever waits on a load; a cold key is left to expire. Vattani, Chierichetti
// and Lowenstein, "Optimal Probabilistic Cache Stampede Prevention", VLDB
// 2015.

// defaultLoadTime is the delta of a kind none of whose loads has been
// timed in this process yet.
const defaultLoadTime = 100 * time.Millisecond

// refreshEarly starts, with XFetch's chance, a background reload of key,
// whose value, of life m (m.exp 0 when unknown or never), was read at
// now. One reload runs per key at a time in a process; it joins a Fetch's
// flight of the key, if one runs, and stores for ttl, over the value it
// refreshes (or nothing, or a lease), never over a newer one written
// meanwhile.
func (s store[V]) refreshEarly(ctx context.Context, key string, ttl time.Duration, m meta, now time.Time, load LoaderFunc[V]) {
	exp := m.exp
	if exp == 0 || s.c.closed.Load() || !s.k.policy.RefreshNow(time.Duration(exp-now.UnixNano()), s.k.loadTime(), rand.ExpFloat64) {
		return
	}
	if _, busy := s.k.refreshing.LoadOrStore(key, struct{}{}); busy {
		return
	}
	if !s.c.background(func(context.Context) {
		defer s.k.refreshing.Delete(key)
		ctx, cancel := s.c.backgroundFor(ctx) // the caller's values; not its deadline (it has its answer), but Close's end
		defer cancel()
		ctx, end := s.c.begin(ctx, OpRefresh, s.k)
		claim, ok := s.claimRefresh(ctx, key, ttl)
		if !ok {
			end(nil) // another process refreshes it
			return
		}
		start := time.Now()
		_, err, _ := s.c.loads.flight.Do(key, guarded(s.k, key, func() (any, error) {
			v, err := s.load(ctx, load)
			if err != nil {
				return v, err // the current value stays until it expires
			}
			g := storeGuard{older: true, born: m.born}
			if s.plain { // the original service's format has no written-at time to tell its values apart
				g = storeGuard{}
			}
			s.setLoaded(ctx, key, v, ttl, g)
			return v, nil
		}))
		e := Event{Op: OpRefresh, Outcome: OutcomeOK, Latency: time.Since(start), Key: key, Context: ctx}
		if err != nil {
			e.Outcome = OutcomeError // the loader's: no class
			if claim != nil {        // let another process try
				s.c.keyspace.release(ctx, key+refreshSuffix, claim) //nolint:errcheck // it expires anyway
			}
		}
		s.c.observe(s.k, e)
		end(err)
	}) {
		s.k.refreshing.Delete(key)
	}
}

// claimRefresh makes one process of a fleet refresh key, stored for ttl,
// early: it writes a token of its own under key + refreshSuffix if no
// other process has (SET NX), and reports whether it did, with the token
// (nil when leases are off: then every process refreshes for itself). The
// claim lives the kind's Policy.Lease, and at most half the TTL the value
// is stored for, so that it is gone when the refreshed value nears its
// own expiry; a refresh that fails releases it. A Redis that does not
// answer gets no refresh either.
func (s store[V]) claimRefresh(ctx context.Context, key string, ttl time.Duration) ([]byte, bool) {
	life := s.k.policy.Lease
	if life <= 0 {
		return nil, true
	}
	if ttl > 0 {
		life = min(life, s.k.policy.StoreTTL(ttl, key)/2)
	}
	token := lease.New()
	held, _, _, err := s.c.keyspace.acquire(ctx, key+refreshSuffix, token, life, false)
	return token, err == nil && held
}

// refreshSuffix names the key that claims an early refresh of a key for
// one process of a fleet: the 0xDD of leases makes it a key no kind's and,
// in practice, no caller's.
const refreshSuffix = ":\xddrefresh"

// loadTime is the kind's delta for early refresh: an average of its recent
// loads' durations.
func (k *kindState) loadTime() time.Duration {
	if d := k.loadNanos.Load(); d > 0 {
		return time.Duration(d)
	}
	return defaultLoadTime
}

// timedLoad adds one load's duration to the kind's average (an
// exponentially weighted one, an eighth for the newest), racing other
// loads without harm.
func (k *kindState) timedLoad(d time.Duration) {
	old := k.loadNanos.Load()
	if old == 0 {
		k.loadNanos.Store(int64(d))
		return
	}
	k.loadNanos.Store(old + (int64(d)-old)/8)
}

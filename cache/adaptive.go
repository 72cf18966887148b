package cache

import (
	"context"
	"time"
)

// Adaptive TTLs (Policy.Adaptive): an adaptive kind stores a value for its
// ColdTTL, and a hit of a value with less than half the kind's TTL left
// moves its expiry to the TTL from the hit, capped at MaxTTL after the
// value was written. The move is a PEXPIREAT sent in the background, one at
// a time per key in a process, by a script that moves it only if the key
// still holds the value read (not a lease, not a newer value: its
// written-at time tells) and only to a later expiry (see extendScript);
// the server then reports the key changed, so
// near caches read it again with its new PTTL. A value's age never passes
// MaxTTL, so adaptive TTLs trade no more staleness than a fixed TTL of
// MaxTTL would, for the memory of the keys nobody reads again.

// hit is what a Fetch does after a hit, besides returning the value: an
// adaptive kind's extension, and early refresh.
func (s store[V]) hit(ctx context.Context, key string, ttl time.Duration, m meta, now time.Time, load LoaderFunc[V]) {
	s.adapt(key, m, now)
	s.refreshEarly(ctx, key, ttl, m, now, load)
}

// adapt extends the life of a value of an adaptive kind just hit at now,
// whose life is m, when it has less than half the kind's TTL left and can
// still gain at least an eighth of it before MaxTTL.
func (s store[V]) adapt(key string, m meta, now time.Time) {
	target, ok := s.k.policy.Extension(s.k.ttl, m.born, m.exp, now.UnixNano())
	if !ok || s.c.closed.Load() {
		return
	}
	if _, busy := s.k.extending.LoadOrStore(key, struct{}{}); busy {
		return
	}
	if !s.c.background(func(ctx context.Context) {
		defer s.k.extending.Delete(key)
		start := time.Now()
		done, err := s.c.keyspace.extend(ctx, key, time.Unix(0, m.born), time.Unix(0, target)) // bounded by OperationTimeout
		e := Event{Op: OpExtend, Latency: time.Since(start), Key: key}
		if err == nil && !done { // the key holds another value, or a longer life, since the read
			e.Outcome = OutcomeMiss
			s.c.observe(s.k, e)
			return
		}
		s.c.observeResult(ctx, s.k, e, failIf(err, OpExtend, s.k, key))
	}) {
		s.k.extending.Delete(key)
	}
}

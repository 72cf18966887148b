// Package policy holds the cache's policies as pure functions of time and
// figures: how long a caller waits on another's load before it loads for
// itself, TTL jitter, early refresh (XFetch) and adaptive TTLs. They take
// what they depend on (the time left, a load's duration, a random draw) as
// arguments, so that they are tested without a clock or a server.
package policy

import "time"

// OwnLoadAfter returns how long a caller whose deadline leaves left may
// wait on a load that another runs for it (its process's flight of the
// key, or another process's lease) before it runs a load of its own, when
// a load takes about load: half the time left, but no longer than leaves
// time for a load and a half, and at least a quarter of the time left, so
// that a caller whose loads seem too slow to fit still waits a while for
// the other's.
func OwnLoadAfter(left, load time.Duration) time.Duration {
	left = max(left, 0)
	return max(left/4, min(left/2, left-3*load/2))
}

// LoadBesideAfter returns how long a caller that joined a load another
// caller runs for it (its process's flight of the key) waits before it
// runs a load of its own beside it, when its deadline leaves left and a
// load takes about load; ok is false when it should not (a load of its
// own could not end in time). It waits until its deadline leaves the time
// of a load and a half, and at least a quarter of the time left: a flight
// that is only slow ends before, and one that hangs (a backend call that
// ignores its context) costs its joiners no answer.
func LoadBesideAfter(left, load time.Duration) (wait time.Duration, ok bool) {
	wait = left - max(3*load/2, left/4)
	return wait, wait > 0
}

// Kind is the resolved policy of one kind (see cache.Policy): zero means
// off.
type Kind struct {
	Lease      time.Duration // how long a miss waits on another process's load (and a lease lives)
	Jitter     float64       // the largest fraction TTLs are shortened by
	Refresh    float64       // XFetch's beta; 0: no early refresh
	Cold, Most time.Duration // adaptive TTLs (ColdTTL, MaxTTL), set by ForKind; zero when off
	Adaptive   bool          // adaptive TTLs as asked; ForKind decides
	Canonical  bool          // keys of the canonical form of string inputs (see cache.Policy.CanonicalKeys)
	Near       Near          // the near match (see cache.Policy.NearMatch)
	Vector     string        // a kind of vectors' encoding: "", "float32", "float16", "int8" (see cache.Policy.VectorEncoding)
}

// Near is a kind's near match, resolved: Mode 0 is off.
type Near struct {
	Mode  uint8   // 0 off, 1 shadow, 2 serve
	Model string  // the embedding model: part of the partition
	Min   float64 // the least cosine similarity of a neighbour
	Max   int     // the most entries of a partition
}

// ForKind completes p for a kind whose TTL is ttl: its adaptive TTLs
// (ColdTTL a quarter of ttl and MaxTTL four times it by default, ColdTTL
// at most ttl, MaxTTL at least ttl; none for a ttl that is not positive,
// as the key-level functions', whose TTL is their caller's).
func (p Kind) ForKind(ttl time.Duration) Kind {
	if !p.Adaptive || ttl <= 0 {
		p.Cold, p.Most = 0, 0
		return p
	}
	if p.Cold == 0 {
		p.Cold = ttl / 4
	}
	if p.Most == 0 {
		p.Most = 4 * ttl
	}
	p.Cold, p.Most = min(p.Cold, ttl), max(p.Most, ttl)
	return p
}

// StoreTTL returns the TTL to store a value under key with, when asked
// for ttl: an adaptive kind's ColdTTL instead of ttl, jittered.
func (p Kind) StoreTTL(ttl time.Duration, key string) time.Duration {
	if p.Cold > 0 {
		ttl = p.Cold
	}
	return p.Jittered(ttl, key)
}

// Jittered returns the TTL of a value written under key for ttl: ttl
// shortened by a fraction of up to Jitter, drawn from the key, so that
// keys written together do not expire together, and any reader can tell
// when a value expires (its written-at time + Jittered).
func (p Kind) Jittered(ttl time.Duration, key string) time.Duration {
	if p.Jitter == 0 {
		return ttl
	}
	return ttl - time.Duration(KeyFraction(key)*p.Jitter*float64(ttl))
}

// KeyFraction returns a fraction in [0, 1) drawn from key: FNV-1a, whose
// last multiply barely stirs the high bits (keys that differ only at
// their end, "user:1" and "user:2", would share a fraction), mixed by
// splitmix64's finaliser before its top 53 bits are taken.
func KeyFraction(key string) float64 {
	const offset, prime = 14695981039346656037, 1099511628211
	x := uint64(offset)
	for i := 0; i < len(key); i++ {
		x ^= uint64(key[i])
		x *= prime
	}
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// RefreshNow is XFetch's test (Vattani, Chierichetti and Lowenstein,
// "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015): whether a
// hit of a value that expires in gap should reload it now, when loads take
// about load and draw is a draw of Exp(1) (rand.ExpFloat64). Far from
// expiry the chance is nil; as expiry nears it grows to certainty, sooner
// for slower loads. Without early refresh (Refresh 0) it is never.
func (p Kind) RefreshNow(gap, load time.Duration, draw func() float64) bool {
	if p.Refresh == 0 {
		return false
	}
	scale := p.Refresh * float64(load)
	if float64(gap) > 20*scale { // a chance under exp(-20): not worth a draw
		return false
	}
	return float64(gap) <= scale*draw()
}

// Extension returns when a value of an adaptive kind whose TTL is ttl,
// written at born and expiring at exp (Unix nanoseconds), hit at now,
// should expire instead: ttl after the hit, but no later than MaxTTL after
// it was written. ok is false when it should be left as it is: not an
// adaptive kind, its life unknown, more than half of ttl left, or less
// than an eighth of ttl to gain.
func (p Kind) Extension(ttl time.Duration, born, exp, now int64) (at int64, ok bool) {
	if p.Most == 0 || exp == 0 || born == 0 {
		return 0, false
	}
	if exp-now > int64(ttl/2) {
		return 0, false
	}
	at = min(now+int64(ttl), born+int64(p.Most))
	if at-exp < int64(ttl/8) {
		return 0, false
	}
	return at, true
}

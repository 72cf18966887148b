package cache

import (
	"context"
	"reflect"
	"time"

	"github.com/media-gateway/discovery/cache/internal/envelope"
	"github.com/media-gateway/discovery/cache/internal/lease"
	"github.com/media-gateway/discovery/cache/internal/near"
)

// The read protocol, one for a key and for a batch. The near cache answers
// what it holds (nearValue); the rest is read from Redis, tracked when the
// near cache is on, and each key's answer is taken by accept, whether it
// came alone (lookup) or in a batch (readMany): a lease is a miss, the
// bytes are decoded, the value is kept in the near cache unless the key
// changed during the read, and in the stale store unless this process
// wrote the key meanwhile, and its life (meta) is told, for adaptive TTLs
// and early refresh. With LegacyRead, a key that holds nothing is read
// again under the original service's key, in either format. So a single
// read and a batch cannot drift apart: they differ only in how many keys
// go in one round trip.

// meta is what a read learned of a value's life in Redis, in Unix
// nanoseconds: when it expires (0: unknown, or never) and when it was
// written (0: unknown).
type meta struct{ exp, born int64 }

// get reads and decodes key: a hit, a miss (nothing there; or bytes that
// are undecodable or too large, which also return an ErrSerialization or
// ErrValueTooLarge error), or a failure. The near cache answers first when
// it holds key. When key holds nothing and alt is not empty, alt (the
// original service's key, LegacyRead) is read in either format. A hit
// extends an adaptive kind's value.
func (s store[V]) get(ctx context.Context, key, alt string) (V, bool, error) {
	start := time.Now()
	if v, m, ok := s.local(ctx, key, start); ok {
		s.adapt(key, m, start)
		return v, true, nil
	}
	ctx, end := s.c.begin(ctx, OpGet, s.k)
	v, m, ok, err := s.remote(ctx, key, alt, s.k.ttl, start)
	end(err)
	if ok {
		s.adapt(key, m, start)
	}
	return v, ok, err
}

// entryValue returns the value of a near-cache or stale-store entry, if it
// is of type V: another view of the kind may have stored another type
// (an interface type, say), and then the entry is not this view's.
func entryValue[V any](e near.Entry) (V, bool) {
	v, ok := e.Value.(V)
	return v, ok && e.Type == reflect.TypeFor[V]()
}

// nearValue returns the near cache's value for key, if it holds one of
// type V, with its life.
func (s store[V]) nearValue(t *near.Cache, key string) (V, meta, bool) {
	if t != nil && !s.c.closed.Load() {
		if e, ok := t.Get(key); ok {
			if v, ok := entryValue[V](e); ok {
				return v, meta{exp: e.Exp, born: e.Born}, true
			}
		}
	}
	var zero V
	return zero, meta{}, false
}

// local returns the near cache's value for key, as nearValue, and records
// the hit; a read that started at start.
func (s store[V]) local(ctx context.Context, key string, start time.Time) (V, meta, bool) {
	v, m, ok := s.nearValue(s.c.near.Load(), key)
	if ok {
		s.c.observe(s.k, Event{Op: OpGet, Outcome: OutcomeHit, Tier: TierLocal, Latency: time.Since(start), Key: key, Context: ctx})
		s.c.logHitMiss(ctx, s.k, key, true)
	}
	return v, m, ok
}

// remote is get's read from Redis, after the near cache did not answer;
// ttl and the meta are as for lookup.
func (s store[V]) remote(ctx context.Context, key, alt string, ttl time.Duration, start time.Time) (V, meta, bool, error) {
	v, m, ok, err := s.lookup(ctx, key, s.c.near.Load(), ttl)
	if !ok && err == nil && alt != "" {
		v, m, ok, err = s.legacy().lookup(ctx, alt, nil, ttl) // not kept locally: the near cache is by key
		m = meta{}                                            // the original service's key: not extended, not refreshed
	}
	e := Event{Op: OpGet, Outcome: OutcomeHit, Tier: TierRedis, Latency: time.Since(start), Key: key, Context: ctx}
	switch {
	case ok:
	case err == nil:
		e.Outcome = OutcomeMiss
	case unusable(err):
		e.Outcome, e.Class = OutcomeMiss, classOf(err)
	default: // a failure, not a miss
		e.Outcome, e.Class = outcomeOf(ctx, err)
	}
	s.c.observe(s.k, e)
	if e.Outcome == OutcomeHit || e.Outcome == OutcomeMiss {
		s.c.logHitMiss(ctx, s.k, key, ok)
	}
	return v, m, ok, err
}

// legacy returns the view of s that reads the original service's keys:
// either format, plain JSON or this cache's envelope.
func (s store[V]) legacy() store[V] {
	s.plain = true
	return s
}

// keyRead is the read of one key in flight, opened by openRead and closed
// by accept (or by close, after a failure or a panic).
type keyRead struct {
	key    string
	tk     near.Ticket // the near cache's ticket, when open
	before uint64      // this process's writes to the key's stripe when the read began (stale store)
	open   bool        // begun in the near cache and not ended yet
}

// openRead opens the read of key, before it is sent: with the near cache
// t, its ticket (an invalidation from now on spoils the read); with the
// stale store, the count of this process's writes (a value read while this
// process wrote the key is not kept: the write may have come after it).
func (s store[V]) openRead(key string, t *near.Cache) keyRead {
	r := keyRead{key: key}
	if s.stale {
		r.before = s.c.writesTo(key).Load()
	}
	if t != nil {
		r.tk, r.open = t.Begin(key), true
	}
	return r
}

// close ends r in the near cache, keeping nothing, if accept did not.
func (r *keyRead) close(t *near.Cache) {
	if r.open {
		t.End(r.key, r.tk, near.Entry{}, false, 0, time.Time{})
		r.open = false
	}
}

// accept takes what Redis answered for the read r, sent at sent: raw and
// found, and pttl, the key's PTTL reply (0 when not asked). A value is
// kept in the near cache t only when the read was tracked. m.exp comes
// from pttl when the read asked it, else from the value's written-at time
// and ttl, the TTL it was written with. Its error is a decoding failure
// (ErrSerialization, ErrValueTooLarge): a miss.
func (s store[V]) accept(r *keyRead, t *near.Cache, tracked bool, raw []byte, found bool, pttl int64, sent time.Time, ttl time.Duration) (v V, m meta, ok bool, err error) {
	found = found && !lease.Is(raw) // another process is loading it: a miss
	var size int
	if found {
		v, size, err = s.open(r.key, raw)
	}
	at, written := envelope.WrittenAt(raw)
	written = written && found && err == nil
	if r.open {
		if h := s.c.hooks.nearRead; h != nil {
			h(r.key)
		}
		keep := tracked && found && err == nil
		e := near.Entry{Owner: &s.k.nearFigures, Value: v, Type: reflect.TypeFor[V](), Size: near.Weight(r.key, size)}
		if written {
			e.Born = at.UnixNano()
		}
		t.End(r.key, r.tk, e, keep, pttl, sent)
		r.open = false
	}
	if err != nil || !found {
		return v, m, false, failIf(err, OpGet, s.k, r.key)
	}
	if s.stale && s.c.writesTo(r.key).Load() == r.before {
		s.keepStale(r.key, v, size, false)
	}
	if written {
		m.born = at.UnixNano()
	}
	switch {
	case pttl > 0:
		m.exp = sent.Add(time.Duration(pttl) * time.Millisecond).UnixNano()
	case written && ttl > 0 && pttl == 0 && s.k.policy.Most == 0:
		m.exp = at.Add(s.k.policy.Jittered(ttl, r.key)).UnixNano()
	}
	return v, m, true, nil
}

// lookup reads key from Redis without recording (Fetch's re-check inside
// its flight uses it too): tracked, and kept in the near cache, when t is
// not nil; with the key's PTTL when tracked or when the kind is adaptive
// (whose values' expiry cannot be told from their age).
func (s store[V]) lookup(ctx context.Context, key string, t *near.Cache, ttl time.Duration) (v V, m meta, ok bool, err error) {
	r := s.openRead(key, t)
	defer r.close(t) // after a failure, or a decoder that panics
	var (
		raw   []byte
		found bool
		pttl  int64
		sent  time.Time
	)
	switch {
	case t != nil:
		sent = time.Now()
		raw, pttl, found, err = s.c.keyspace.getTracked(ctx, key)
	case s.k.policy.Most > 0:
		sent = time.Now()
		raw, pttl, found, err = s.c.keyspace.getWithTTL(ctx, key, false)
	default:
		raw, found, err = s.c.keyspace.getBytes(ctx, key)
	}
	if err != nil {
		return v, m, false, failIf(err, OpGet, s.k, key)
	}
	return s.accept(&r, t, t != nil, raw, found, pttl, sent, ttl)
}

// getMany reads keys: the near cache first, the rest from Redis in one
// round trip (then, with alts, the original service's keys of those that
// missed, alts[i] for keys[i], "" for none, in a second). hit[i] says
// whether vals[i] is a usable value, bad[i] whether keys[i] held bytes
// that could not be used; on a Redis failure, the answers so far are kept
// and err says what failed. With extend, hits extend an
// adaptive kind's values, as single reads do (Warm's reads do not: warming
// is not use).
func (s store[V]) getMany(ctx context.Context, keys, alts []string, extend bool) (vals []V, hit, bad []bool, err error) {
	start := time.Now()
	vals, hit = make([]V, len(keys)), make([]bool, len(keys))
	metas := make([]meta, len(keys))
	t := s.c.near.Load()
	var rest []int // positions to read from Redis
	var local int64
	for i, key := range keys {
		if v, m, ok := s.nearValue(t, key); ok {
			vals[i], metas[i], hit[i] = v, m, true
			local++
			continue
		}
		rest = append(rest, i)
	}
	var found, missed int64
	bad = make([]bool, len(keys)) // not read again under the original key, as by get
	if len(rest) > 0 {
		found, missed, err = s.readMany(ctx, keys, rest, t, vals, metas, hit, bad, start)
	}
	if err == nil && alts != nil && missed > 0 {
		var again []int // positions of misses with an original key
		for _, i := range rest {
			if !hit[i] && !bad[i] && alts[i] != "" {
				again = append(again, i)
			}
		}
		if len(again) > 0 {
			var old int64
			old, _, err = s.legacy().readMany(ctx, alts, again, nil, vals, make([]meta, len(keys)), hit, nil, start) // not extended, not kept locally
			found, missed = found+old, missed-old
		}
	}
	latency := time.Since(start)
	for _, g := range [...]struct {
		n    int64
		out  Outcome
		tier Tier
	}{{local, OutcomeHit, TierLocal}, {found, OutcomeHit, TierRedis}, {missed, OutcomeMiss, TierRedis}} {
		if g.n > 0 {
			s.c.observe(s.k, Event{Op: OpGetMany, Outcome: g.out, Tier: g.tier, Keys: g.n, Latency: latency, Context: ctx})
		}
	}
	if err != nil {
		e := Event{Op: OpGetMany, Keys: int64(len(rest)), Latency: latency, Context: ctx}
		e.Outcome, e.Class = outcomeOf(ctx, err)
		s.c.observe(s.k, e)
		err = failIf(err, OpGetMany, s.k, keys[rest[0]])
	}
	if extend {
		for i, key := range keys {
			if hit[i] {
				s.adapt(key, metas[i], start)
			}
		}
	}
	return vals, hit, bad, err
}

// readMany reads the keys at positions rest from Redis into vals, metas
// and hit, tracked and kept in the near cache when t is not nil, and
// returns how many were
// found and how many missed; each undecodable or oversized value is a
// miss, recorded with its class, and marked in unusable when it is not
// nil.
func (s store[V]) readMany(ctx context.Context, keys []string, rest []int, t *near.Cache, vals []V, metas []meta, hit, unusable []bool, start time.Time) (found, missed int64, err error) {
	ks := make([]string, len(rest))
	reads := make([]keyRead, len(rest))
	for j, i := range rest {
		ks[j] = keys[i]
		reads[j] = s.openRead(keys[i], t)
	}
	defer func() { // after a failure, or a decoder that panics
		for j := range reads {
			reads[j].close(t)
		}
	}()
	raws, ok, pttls, tracked, err := s.c.keyspace.getMany(ctx, ks, t != nil, s.k.policy.Most > 0)
	if err != nil {
		return 0, 0, err
	}
	for j, i := range rest {
		var pttl int64
		if pttls != nil {
			pttl = pttls[j]
		}
		v, m, got, derr := s.accept(&reads[j], t, tracked, raws[j], ok[j], pttl, start, s.k.ttl)
		switch {
		case derr != nil:
			s.c.observe(s.k, Event{Op: OpGetMany, Outcome: OutcomeMiss, Class: classOf(derr), Tier: TierRedis, Keys: 1, Latency: time.Since(start)})
			if unusable != nil {
				unusable[i] = true
			}
		case !got:
			missed++
		default:
			vals[i], metas[i], hit[i] = v, m, true
			found++
		}
	}
	return found, missed, nil
}

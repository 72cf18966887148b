package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache/internal/codec"
	"github.com/media-gateway/discovery/cache/internal/envelope"
)

// store is the one code path every kind goes through: a kind (name, TTL,
// figures) and a codec for its values. Each method records its operation
// once (observe) and returns its errors unlogged.
type store[V any] struct {
	c     *RedisCache
	k     *kindState
	codec codec.Codec[V]
	plain bool // write plain JSON and read either format (LegacyReadWrite)
	stale bool // keep what is read and stored in the kind's stale store (Fetch, with Config.StaleMaxAge)
}

// get reads and decodes key: a hit, a miss (nothing there; or bytes that
// are undecodable or too large, which also return an ErrSerialization or
// ErrValueTooLarge error), or a failure. The
// kind's near cache answers first when it holds key. When key holds
// nothing and alt is not empty, alt (the original service's key,
// LegacyRead) is read in either format.
func (s store[V]) get(ctx context.Context, key, alt string) (V, bool, error) {
	start := time.Now()
	if v, m, ok := s.local(ctx, key, start); ok {
		s.adapt(key, m, start)
		return v, true, nil
	}
	v, m, ok, err := s.remote(ctx, key, alt, s.k.ttl, start)
	if ok {
		s.adapt(key, m, start)
	}
	return v, ok, err
}

// local returns the near cache's value for key, if it holds one of type V,
// and when the key expires in Redis (see nearEntry.exp), and records the
// hit; a read that started at start.
func (s store[V]) local(ctx context.Context, key string, start time.Time) (V, meta, bool) {
	t := s.c.near.Load()
	if t != nil && !s.c.closed.Load() {
		if e, ok := t.data.GetIfPresent(key); ok {
			// Another view of the kind may have stored another type: then
			// this is a near-cache miss, and Redis answers.
			if v, ok := e.v.(V); ok && e.typ == reflect.TypeFor[V]() {
				s.c.observe(s.k, Event{Op: OpGet, Outcome: OutcomeHit, Tier: TierLocal, Latency: time.Since(start), Key: key, Context: ctx})
				s.c.logHitMiss(ctx, s.k, key, true)
				return v, meta{exp: e.exp, born: e.born}, true
			}
		}
	}
	var zero V
	return zero, meta{}, false
}

// remote is get's read from Redis, after the near cache did not answer;
// ttl and the meta are as for lookup.
func (s store[V]) remote(ctx context.Context, key, alt string, ttl time.Duration, start time.Time) (V, meta, bool, error) {
	v, m, ok, err := s.lookup(ctx, key, s.c.near.Load(), ttl)
	if !ok && err == nil && alt != "" {
		either := s
		either.plain = true
		v, m, ok, err = either.lookup(ctx, alt, nil, ttl) // not kept locally: the near cache is by key
		m = meta{}                                        // the original service's key: not extended, not refreshed
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

// meta is what a read learned of a value's life in Redis, in Unix
// nanoseconds: when it expires (0: unknown, or never) and when it was
// written (0: unknown).
type meta struct{ exp, born int64 }

// lookup reads key from Redis without recording (Fetch's re-check inside
// its flight uses it too). With a near-cache tier t, the read is tracked
// and a value read is kept in t (see near). m.exp comes from the key's
// PTTL when the read asked it (tracked, or an adaptive kind's), else from
// the value's written-at time and ttl, the TTL it was written with.
func (s store[V]) lookup(ctx context.Context, key string, t *near, ttl time.Duration) (v V, m meta, ok bool, err error) {
	var (
		raw   []byte
		found bool
		pttl  int64
		sent  time.Time
		tk    nearTicket
		ended bool // end was called
	)
	var writes *atomic.Uint64
	var before uint64
	if s.stale {
		// A value read while this process wrote or deleted the key is not
		// kept: the write may have come after it.
		writes = s.c.writesTo(key)
		before = writes.Load()
	}
	switch {
	case t == nil && s.k.policy.Most > 0: // adaptive: its expiry cannot be told from its age
		sent = time.Now()
		raw, pttl, found, err = s.c.getWithTTL(ctx, key, false)
	case t == nil:
		raw, found, err = s.c.getBytes(ctx, key)
	default:
		tk = t.begin(key)
		defer func() { // a decoder that panics (a user's UnmarshalJSON) must not leave the read open
			if !ended {
				t.end(key, tk, nearEntry{}, false, 0, sent)
			}
		}()
		sent = time.Now()
		raw, pttl, found, err = s.c.getTracked(ctx, key)
	}
	found = found && !isLease(raw) // another process is loading it: a miss
	var size int
	if found {
		v, size, err = s.open(key, raw)
	}
	if t != nil {
		if h := s.c.hookNearRead; h != nil {
			h(key)
		}
		keep := found && err == nil
		weight := min(uint64(len(key))+uint64(size)+nearEntryOverhead, math.MaxUint32)
		e := nearEntry{kind: s.k, v: v, typ: reflect.TypeFor[V](), size: uint32(weight)}
		if at, ok := envelope.WrittenAt(raw); ok && keep {
			e.born = at.UnixNano()
		}
		t.end(key, tk, e, keep, pttl, sent)
		ended = true
	}
	if err != nil || !found {
		return v, m, false, failIf(err, OpGet, s.k, key)
	}
	if s.stale && writes.Load() == before {
		s.keepStale(key, v, size, false)
	}
	at, written := envelope.WrittenAt(raw)
	if written {
		m.born = at.UnixNano()
	}
	switch {
	case pttl > 0:
		m.exp = sent.Add(time.Duration(pttl) * time.Millisecond).UnixNano()
	case written && ttl > 0 && pttl == 0 && s.k.policy.Most == 0:
		m.exp = at.Add(s.k.policy.Jittered(ttl, key)).UnixNano()
	}
	return v, m, true, nil
}

// open decodes raw, the bytes stored under key, and returns the value and
// the size of its payload; the error is an *Error of class
// ErrValueTooLarge or ErrSerialization.
func (s store[V]) open(key string, raw []byte) (v V, size int, err error) {
	if len(raw) > s.c.cfg.MaxValueBytes {
		// Refused before decoding, as writes are: decoding 32 MiB of JSON
		// would cost ten times that in memory.
		return v, 0, &Error{Op: OpGet, Kind: s.k.name, Key: key, Class: ErrValueTooLarge,
			Cause: fmt.Errorf("stored value is %d bytes, Config.MaxValueBytes is %d; it is not decoded", len(raw), s.c.cfg.MaxValueBytes)}
	}
	defer func() { // a decoder that panics (a user's UnmarshalJSON) fails this read, not the process
		if r := recover(); r != nil {
			var zero V
			v, size, err = zero, 0, &Error{Op: OpGet, Kind: s.k.name, Key: key, Class: ErrSerialization, Cause: newPanicError(r)}
		}
	}()
	if s.plain {
		v, size, err = decodeEither(s.codec, raw, s.c.cfg.MaxValueBytes)
	} else {
		v, size, err = decode(s.codec, raw, s.c.cfg.MaxValueBytes)
	}
	if err != nil {
		err = &Error{Op: OpGet, Kind: s.k.name, Key: key, Class: ErrSerialization, Cause: err}
	}
	return v, size, err
}

// set encodes v and stores it under key for ttl, which the caller has
// checked is positive.
func (s store[V]) set(ctx context.Context, key string, v V, ttl time.Duration) error {
	_, err := s.setLeased(ctx, key, v, ttl, nil)
	return err
}

// setLeased is set, made conditional by a lease this flight holds on key
// (nil: none): the value is stored only while key still holds it (see
// RedisCache.setLeased), and stored says whether it was. A value not
// stored because the key changed during the load is not a failure, and
// not recorded.
func (s store[V]) setLeased(ctx context.Context, key string, v V, ttl time.Duration, l *heldLease) (stored bool, err error) {
	start := time.Now()
	stored, err = s.put(ctx, key, v, ttl, l)
	if stored || err != nil {
		s.c.observeResult(ctx, s.k, Event{Op: OpSet, Latency: time.Since(start), Key: key}, err)
	}
	return stored, err
}

// put is setLeased without recording.
func (s store[V]) put(ctx context.Context, key string, v V, ttl time.Duration, l *heldLease) (bool, error) {
	var pooled *[]byte
	var dst []byte
	if !s.plain {
		pooled = encodeBuffers.Get().(*[]byte)
		dst = *pooled
	}
	buf, raw, err := s.seal(key, v, dst)
	if err != nil {
		return false, err
	}
	stored := true
	if l == nil {
		err = s.c.setBytes(ctx, key, raw, s.k.policy.StoreTTL(ttl, key))
	} else {
		stored, err = s.c.setLeased(ctx, key, l.token, raw, s.k.policy.StoreTTL(ttl, key), l.expired())
	}
	if stored && err == nil && s.stale {
		s.keepStale(key, v, len(buf), true)
	}
	// The encoding buffer goes back to the pool once nothing can read it:
	// when the value sent was a compressed copy, or when the server has
	// answered (the command was written in full). After an error the
	// command may still be queued, so the buffer is left to the collector.
	if pooled != nil && cap(buf) <= maxPooledEncodeBuffer && (err == nil || &raw[0] != &buf[0]) {
		*pooled = buf[:0]
		encodeBuffers.Put(pooled)
	}
	return stored && err == nil, failIf(err, OpSet, s.k, key)
}

// seal encodes v, to be stored under key, in dst's space when it is large
// enough: buf is the encoding (envelope and payload), stored what to send
// (buf, or a compressed copy). Its error is an *Error of class
// ErrSerialization or ErrValueTooLarge.
func (s store[V]) seal(key string, v V, dst []byte) (buf, stored []byte, err error) {
	buf, err = s.encode(v, dst)
	if err != nil {
		return nil, nil, &Error{Op: OpSet, Kind: s.k.name, Key: key, Class: ErrSerialization, Cause: err}
	}
	if len(buf) > s.c.cfg.MaxValueBytes {
		return nil, nil, &Error{Op: OpSet, Kind: s.k.name, Key: key, Class: ErrValueTooLarge,
			Cause: fmt.Errorf("encoded value is %d bytes, Config.MaxValueBytes is %d", len(buf), s.c.cfg.MaxValueBytes)}
	}
	if s.plain {
		return buf, buf, nil
	}
	return buf, envelope.Seal(buf, compressMin(s.codec, s.c.cfg.CompressMinBytes)), nil
}

// encode encodes v, in its envelope unless the view writes plain JSON, in
// dst's space when it is large enough. An encoder that panics (a user's
// MarshalJSON) returns an error holding the panic and its stack: a value
// that cannot be encoded fails its write, never the process.
func (s store[V]) encode(v V, dst []byte) (buf []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			buf, err = nil, newPanicError(r)
		}
	}()
	if s.plain {
		return codec.JSON[V]{}.Append(dst[:0], v)
	}
	return encode(s.codec, v, time.Now(), dst)
}

// compressMin is the compression threshold for payloads of cd: configured,
// or -1 (never) for codecs whose payloads do not compress.
func compressMin[V any](cd codec.Codec[V], configured int) int {
	if ic, ok := cd.(codec.Incompressible); ok && ic.Incompressible() {
		return -1
	}
	return configured
}

// encodeBuffers hold the buffers values are encoded into, reused from one
// write to the next (see put).
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledEncodeBuffer keeps one huge value from pinning its buffer.
const maxPooledEncodeBuffer = 256 << 10

// del removes keys and returns how many existed.
func (s store[V]) del(ctx context.Context, keys ...string) (int64, error) {
	start := time.Now()
	n, err := s.c.unlink(ctx, keys)
	e := Event{Op: OpDelete, Latency: time.Since(start), Keys: n}
	if len(keys) == 1 {
		e.Key = keys[0]
	}
	s.c.observeResult(ctx, s.k, e, err)
	return n, failIf(err, OpDelete, s.k, keys[0])
}

// unusable reports whether err says that something was found but cannot be
// used (undecodable, too large to decode): a miss, which Fetch replaces.
func unusable(err error) bool {
	c := classOf(err)
	return c == ErrSerialization || c == ErrValueTooLarge
}

// wrongType reports whether err is Redis' WRONGTYPE: the key holds a hash,
// a list… Fetch replaces it (SET overwrites any type); Get reports it.
func wrongType(err error) bool {
	var re *rueidis.RedisError
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE")
}

// failIf is fail for an error that may be nil.
func failIf(err error, op Op, k *kindState, key string) error {
	if err == nil {
		return nil
	}
	return fail(err, op, k, key)
}

// decode opens the envelope of raw (decompressing up to maxPayload bytes)
// and decodes its payload with cd. It returns the payload's size too: what
// the near cache weighs the value by.
func decode[V any](cd codec.Codec[V], raw []byte, maxPayload int) (V, int, error) {
	if len(raw) > 2 {
		cd = codec.Reading(cd, envelope.Codec(raw[2]))
	}
	_, payload, err := envelope.Open(raw, cd.ID(), maxPayload)
	if err != nil {
		var zero V
		return zero, 0, err
	}
	v, err := cd.Decode(payload)
	return v, len(payload), err
}

// encode puts v in an envelope with cd, uncompressed (see envelope.Seal),
// in dst's space when it is large enough.
func encode[V any](cd codec.Codec[V], v V, now time.Time, dst []byte) ([]byte, error) {
	size := envelope.HeaderSize + max(cd.SizeHint(v), 512)
	if cap(dst) < size {
		dst = make([]byte, 0, size)
	}
	return cd.Append(envelope.AppendHeader(dst[:0], cd.ID(), 0, now), v)
}

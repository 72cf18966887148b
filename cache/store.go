package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
func (s store[V]) set(ctx context.Context, key string, v V, ttl time.Duration) (err error) {
	ctx, end := s.c.begin(ctx, OpSet, s.k)
	defer func() { end(err) }()
	_, err = s.setGuarded(ctx, key, v, ttl, storeGuard{})
	return err
}

// storeGuard says what a loaded value may replace, so that a value loaded
// while the key changed never lands over the change: the zero guard,
// anything (Set, and loads that replace a value that could not be used).
type storeGuard struct {
	// absent: store only if the key holds nothing (SET NX): the loads that
	// take no lease after a read that found nothing, so that a Set, a
	// load of another process or the original service's write during the
	// load wins over it.
	absent bool
	// lease: store only while the key still holds this flight's lease
	// (or, once the lease has had its life, holds nothing).
	lease *heldLease
	// older: store only over nothing, a lease, or the value written at
	// born (Unix nanoseconds; 0: none), never over another value: the
	// loads that run beside a flight or race a lease, and early refreshes.
	older bool
	born  int64
}

// setGuarded is set, made conditional by g, and reports whether the value
// was stored. A value not stored because the key changed during the load
// is not a failure, and not recorded.
func (s store[V]) setGuarded(ctx context.Context, key string, v V, ttl time.Duration, g storeGuard) (stored bool, err error) {
	start := time.Now()
	stored, err = s.put(ctx, key, v, ttl, g)
	if stored || err != nil {
		s.c.observeResult(ctx, s.k, Event{Op: OpSet, Latency: time.Since(start), Key: key}, err)
	}
	return stored, err
}

// setLoaded stores a loaded value under g, and counts (and logs) a failure
// to: the caller has its value either way.
func (s store[V]) setLoaded(ctx context.Context, key string, v V, ttl time.Duration, g storeGuard) {
	if _, err := s.setGuarded(ctx, key, v, ttl, g); err != nil {
		s.c.absorb(ctx, s.k, err)
	}
}

// put is setGuarded without recording.
func (s store[V]) put(ctx context.Context, key string, v V, ttl time.Duration, g storeGuard) (bool, error) {
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
	stored, life := true, s.k.policy.StoreTTL(ttl, key)
	switch {
	case g.lease != nil:
		stored, err = s.c.keyspace.setLeased(ctx, key, g.lease.token, raw, life, g.lease.expired())
	case g.older:
		stored, err = s.c.keyspace.setOverOlder(ctx, key, time.Unix(0, g.born), g.born != 0, raw, life)
	case g.absent:
		stored, err = s.c.keyspace.setAbsent(ctx, key, raw, life)
	default:
		err = s.c.keyspace.setBytes(ctx, key, raw, life)
	}
	if (g.lease != nil || g.older) && scriptRefused(err) {
		// Without the right to run scripts (an ACL without EVAL), the
		// value is stored plainly, unguarded, rather than not at all.
		stored, err = true, s.c.keyspace.setBytes(ctx, key, raw, life)
	}
	// Even after an error, or a refusal by the breaker: the write may have
	// been applied, and what this process knew of the key is over anyway.
	s.c.wrote(key)
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
func (s store[V]) del(ctx context.Context, keys ...string) (n int64, err error) {
	ctx, end := s.c.begin(ctx, OpDelete, s.k)
	defer func() { end(err) }()
	start := time.Now()
	n, err = s.c.keyspace.unlink(ctx, keys)
	s.c.wroteAll(keys) // as after a write: a deleted value must not be served stale
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

// scriptRefused reports whether err is the server's refusal to run a
// script at all: an ACL without EVAL (NOPERM), or a server or proxy
// without scripting.
func scriptRefused(err error) bool {
	var re *rueidis.RedisError
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	return strings.HasPrefix(msg, "NOPERM") || strings.Contains(msg, "unknown command")
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
	h, payload, err := envelope.Open(raw, cd.ID(), maxPayload)
	if err != nil {
		var zero V
		return zero, 0, err
	}
	if o, ok := cd.(codec.Owner[V]); ok && h.Flags&envelope.FlagS2 != 0 {
		// Decompressed into a buffer of its own: the value may keep it.
		v, err := o.DecodeOwned(payload)
		return v, len(payload), err
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

package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/media-gateway/discovery/cache/internal/codec"
	"github.com/media-gateway/discovery/cache/internal/envelope"
)

// store is the one code path every kind goes through: a kind (name, TTL,
// counters) and a codec for its values.
type store[V any] struct {
	c     *RedisCache
	k     *kind
	codec codec.Codec[V]
}

// lookup reads and decodes key without counting. Undecodable bytes are
// reported as an ErrSerialization error with ok false.
func (s store[V]) lookup(ctx context.Context, key string) (v V, ok bool, err error) {
	raw, found, err := s.c.getRaw(ctx, key)
	if err != nil {
		return v, false, s.c.fail(ctx, s.k, "get", key, nil, err)
	}
	if !found {
		return v, false, nil
	}
	if v, err = decode(s.codec, raw, s.c.cfg.MaxValueBytes); err != nil {
		return v, false, s.c.fail(ctx, s.k, "get", key, ErrSerialization, err)
	}
	return v, true, nil
}

// decode opens the envelope of raw (decompressing up to maxPayload bytes)
// and decodes its payload with cd.
func decode[V any](cd codec.Codec[V], raw []byte, maxPayload int) (V, error) {
	_, payload, err := envelope.Open(raw, cd.ID(), maxPayload)
	if err != nil {
		var zero V
		return zero, err
	}
	return cd.Decode(payload)
}

// encode puts v in an envelope with cd, uncompressed (see envelope.Seal).
func encode[V any](cd codec.Codec[V], v V, now time.Time) ([]byte, error) {
	size := cd.SizeHint(v)
	if size == 0 {
		size = 512
	}
	buf := envelope.AppendHeader(make([]byte, 0, envelope.HeaderSize+size), cd.ID(), 0, now)
	return cd.Append(buf, v)
}

// get is lookup plus counting: one hit or one miss per call.
func (s store[V]) get(ctx context.Context, key string) (V, bool, error) {
	v, ok, err := s.lookup(ctx, key)
	if ok {
		s.k.st.hits.Add(1)
	} else {
		s.k.st.misses.Add(1)
	}
	s.c.logHitMiss(ctx, s.k, key, ok)
	return v, ok, err
}

// set encodes v and stores it under key for ttl.
func (s store[V]) set(ctx context.Context, key string, v V, ttl time.Duration) error {
	if ttl <= 0 {
		return s.c.fail(ctx, s.k, "set", key, ErrInvalidArgument, fmt.Errorf("ttl %v is not positive", ttl))
	}
	buf, err := encode(s.codec, v, time.Now())
	if err != nil {
		return s.c.fail(ctx, s.k, "set", key, ErrSerialization, err)
	}
	if len(buf) > s.c.cfg.MaxValueBytes {
		return s.c.fail(ctx, s.k, "set", key, ErrValueTooLarge,
			fmt.Errorf("encoded value is %d bytes, Config.MaxValueBytes is %d", len(buf), s.c.cfg.MaxValueBytes))
	}
	buf = envelope.Seal(buf, s.c.cfg.CompressMinBytes)
	if err := s.c.setRaw(ctx, key, buf, ttl); err != nil {
		return s.c.fail(ctx, s.k, "set", key, nil, err)
	}
	s.k.st.sets.Add(1)
	return nil
}

// del removes keys and returns how many existed.
func (s store[V]) del(ctx context.Context, keys ...string) (int64, error) {
	n, err := s.c.unlink(ctx, keys)
	if err != nil {
		return n, s.c.fail(ctx, s.k, "delete", keys[0], nil, err)
	}
	s.k.st.deletes.Add(uint64(n))
	return n, nil
}

// Get reads the value stored under key (the cache's namespace is put in
// front of it). A missing key is not an error: it returns the zero value and
// false. Bytes that cannot be decoded as V return an error wrapping
// [ErrSerialization]; Redis failures wrap [ErrUnavailable] or [ErrOperation].
// Values are decoded with encoding/json.
//
// Get, [Set], [Fetch] and [RedisCache.Delete] are for values that are not one
// of the built-in kinds; their figures are under [KindCustom] in
// [RedisCache.Stats]. Keys are used as given: prefer a [Collection] for
// hashed keys derived from structured input.
func Get[V any](ctx context.Context, c *RedisCache, key string) (V, bool, error) {
	s := customStore[V](c)
	if key == "" {
		var zero V
		return zero, false, s.c.fail(ctx, s.k, "get", key, ErrInvalidArgument, errEmptyKey)
	}
	return s.get(ctx, c.rawKey(key))
}

// Set stores v under key (the cache's namespace is put in front of it) for
// ttl, which must be positive. v is encoded with encoding/json; an encoded
// value over Config.MaxValueBytes is refused with [ErrValueTooLarge].
func Set[V any](ctx context.Context, c *RedisCache, key string, v V, ttl time.Duration) error {
	s := customStore[V](c)
	if key == "" {
		return s.c.fail(ctx, s.k, "set", key, ErrInvalidArgument, errEmptyKey)
	}
	return s.set(ctx, c.rawKey(key), v, ttl)
}

// Fetch returns the value under key, or calls load, stores its result for
// ttl and returns it; see [LoaderFunc] for what happens when things fail.
// An empty key or a ttl that is not positive is a programming error: Fetch
// then returns [ErrInvalidArgument] without calling load.
func Fetch[V any](ctx context.Context, c *RedisCache, key string, ttl time.Duration, load LoaderFunc[V]) (V, error) {
	s := customStore[V](c)
	var zero V
	if key == "" {
		return zero, s.c.fail(ctx, s.k, "fetch", key, ErrInvalidArgument, errEmptyKey)
	}
	if ttl <= 0 {
		return zero, s.c.fail(ctx, s.k, "fetch", key, ErrInvalidArgument, fmt.Errorf("ttl %v is not positive", ttl))
	}
	return s.fetch(ctx, c.rawKey(key), ttl, load)
}

// Delete removes the given keys (the cache's namespace is put in front of
// each) and returns how many existed. Deleting a missing key is not an
// error.
func (c *RedisCache) Delete(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		if k == "" {
			return 0, c.fail(ctx, c.custom, "delete", k, ErrInvalidArgument, errEmptyKey)
		}
		full[i] = c.rawKey(k)
	}
	return customStore[struct{}](c).del(ctx, full...)
}

var errEmptyKey = fmt.Errorf("key is empty")

func customStore[V any](c *RedisCache) store[V] {
	return store[V]{c: c, k: c.custom, codec: codec.JSON[V]{}}
}

// rawKey puts the namespace in front of a caller's key.
func (c *RedisCache) rawKey(key string) string { return c.cfg.Namespace + ":" + key }

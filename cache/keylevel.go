package cache

import (
	"context"
	"time"

	"github.com/media-gateway/discovery/cache/internal/codec"
)

// Get reads the value stored under key (the cache's namespace is put in
// front of it). A missing key is not an error: it returns the zero value and
// false. Bytes that cannot be decoded as V return an error wrapping
// [ErrSerialization]; Redis failures wrap [ErrUnavailable], [ErrOperation]
// or [ErrClosed]; an empty key, [ErrInvalidArgument]. Values are decoded
// with encoding/json. The value may be shared with other callers: treat
// slices, maps and pointers in it as read-only.
//
// Get, [Set], [Fetch], [RedisCache.Delete] and [RedisCache.DeletePattern]
// are for values that are not one of the built-in kinds; their figures are
// under [KindCustom] in [RedisCache.Stats]. Keys are used as given: prefer
// a [Kind] for hashed keys derived from structured input.
func Get[V any](ctx context.Context, c *RedisCache, key string) (V, bool, error) {
	if key == "" {
		var zero V
		return zero, false, errEmptyKey(OpGet)
	}
	return customStore[V](c).get(ctx, c.rawKey(key), "")
}

// Set stores v under key (the cache's namespace is put in front of it) for
// ttl, which must be positive. v is encoded with encoding/json; an encoded
// value over Config.MaxValueBytes is refused with [ErrValueTooLarge]. An
// empty key or a ttl that is not positive is refused with
// [ErrInvalidArgument].
func Set[V any](ctx context.Context, c *RedisCache, key string, v V, ttl time.Duration) error {
	if err := checkKeyTTL(OpSet, key, ttl); err != nil {
		return err
	}
	return customStore[V](c).set(ctx, c.rawKey(key), v, ttl)
}

// Fetch returns the value under key, or calls load, stores its result for
// ttl and returns it. It behaves as [Kind.Fetch] does, failures included:
// the errors it returns are the loader's, [ErrLoaderPanic], the caller's
// context error, and [ErrInvalidArgument] for an empty key or a ttl that is
// not positive (then load is not called).
func Fetch[V any](ctx context.Context, c *RedisCache, key string, ttl time.Duration, load LoaderFunc[V]) (V, error) {
	if err := checkKeyTTL(OpFetch, key, ttl); err != nil {
		var zero V
		return zero, err
	}
	return customStore[V](c).fetch(ctx, c.rawKey(key), "", nil, ttl, load)
}

// Delete removes the given keys (the cache's namespace is put in front of
// each) and returns how many existed. Deleting a missing key is not an
// error; an empty key is refused with [ErrInvalidArgument].
func (c *RedisCache) Delete(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		if k == "" {
			return 0, errEmptyKey(OpDelete)
		}
		full[i] = c.rawKey(k)
	}
	return customStore[struct{}](c).del(ctx, full...)
}

// DeletePattern removes every key of this cache that matches pattern and
// returns how many were removed. pattern is a Redis glob matched against
// keys without the namespace: "search:*" removes every search result,
// "user:42:*" every key under "user:42:". Keys outside the namespace are
// never matched, whatever the pattern.
//
// Place user text in a pattern only through [EscapePattern]. The keys are
// found with SCAN and removed with UNLINK in batches of about 1000, each call
// bounded by Config.OperationTimeout; Redis is never blocked by KEYS. Keys
// written while the deletion runs may survive it. On error the count says how
// many keys were removed before it. With Config.StaleMaxAge, every stale
// value is forgotten first, whether or not Redis can be reached. On a
// Redis Cluster, a primary that fails is passed over as by
// [RedisCache.ClearKind].
func (c *RedisCache) DeletePattern(ctx context.Context, pattern string) (int64, error) {
	c.forgetAllStale() // whichever keys match: none of them may be served stale after
	return c.clear(ctx, c.kinds.custom, nil, c.namespaced(pattern))
}

func customStore[V any](c *RedisCache) store[V] {
	return store[V]{c: c, k: c.kinds.custom, codec: codec.JSON[V]{}}
}

// rawKey puts the namespace in front of a caller's key.
func (c *RedisCache) rawKey(key string) string { return c.cfg.Namespace + ":" + key }

func errEmptyKey(op Op) error {
	return invalidArgument(op, KindCustom, "", "the key is empty")
}

func checkKeyTTL(op Op, key string, ttl time.Duration) error {
	if key == "" {
		return errEmptyKey(op)
	}
	if ttl <= 0 {
		return invalidArgument(op, KindCustom, key, "ttl %v is not positive", ttl)
	}
	return nil
}

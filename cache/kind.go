package cache

import (
	"context"
	"reflect"
	"time"

	"github.com/media-gateway/discovery/cache/internal/canon"
	"github.com/media-gateway/discovery/cache/internal/codec"

	"github.com/media-gateway/discovery/cache/internal/config"
)

// Kind is a typed view of one kind of value: inputs of type K map to keys
// "namespace:name:sha256(canonical JSON of the input)", holding values of
// type V for the kind's TTL. The built-in kinds are [Search], [Intents] and
// [Embeddings]; [NewKind] makes more. A Kind is cheap, holds no state of its
// own and is safe for concurrent use; all views of one kind share its
// figures, its TTL, its near cache and its memory of recent inputs' keys.
// To remove every value of a kind, use [RedisCache.ClearKind] with its
// [Kind.Name].
//
// How values are stored: embeddings as packed float32 (or float16, or
// int8: see Policy.VectorEncoding); values of plain
// data types — booleans, numbers, strings, and slices, arrays, maps,
// pointers and structs of them — as CBOR (RFC 8949, following the json
// tags), which decodes about three times and encodes about twice as fast
// as JSON; other types as JSON: interfaces (CBOR and JSON decode them into
// different types), types with their own JSON or text encoding (time.Time,
// say), fields tagged ",string" or "cbor", and recursive types (a value
// may hold a cycle). Values stored as JSON by an earlier release are still
// read. Two views of one kind whose value types are stored differently (one
// plain, one not) read each other's values as misses: give the views of a
// kind value types stored the same way.
type Kind[K, V any] struct {
	store[V]
	keyInput    func(K) (any, error) // what is hashed into the key
	legacyInput func(K) any          // what the original service hashes, for a view that meets its cache (see Legacy); nil otherwise
	view        string               // tells apart views of the kind whose keys differ for one input (see memoKey)
}

// NewKind returns a kind of your own: values of type V (stored as a kind's
// values are: see [Kind]) for inputs of type K, under keys "namespace:name:sha256(…)", kept for ttl.
// The error wraps [ErrInvalidArgument] when name is empty, contains glob
// characters or white space, or is a built-in kind's or [KindCache]; when ttl is not
// positive; or when the name is already a kind with another TTL (views of one
// kind share one TTL).
func NewKind[K, V any](c *RedisCache, name string, ttl time.Duration) (*Kind[K, V], error) {
	if err := config.CheckName("kind name", name); err != nil {
		return nil, invalidKind("%v", err)
	}
	switch name {
	case KindSearch, KindIntent, KindEmbedding, KindCustom:
		return nil, invalidKind("%q is a built-in kind; use Search, Intents or Embeddings, or another name", name)
	case KindCache:
		return nil, invalidKind("%q names the whole cache's operations in metrics; choose another name", name)
	}
	if ttl <= 0 {
		return nil, invalidKind("ttl %v is not positive", ttl)
	}
	k, err := c.kind(name, ttl)
	if err != nil {
		return nil, err
	}
	cd := codec.Auto[V]()
	if k.policy.Vector != "" { // a kind of vectors, in the encoding asked
		vc, ok := any(codec.Vector(k.policy.Vector)).(codec.Codec[V])
		if !ok {
			return nil, invalidKind("Policies[%q].VectorEncoding is %s, but the kind's values are %v, not []float32", name, k.policy.Vector, reflect.TypeFor[V]())
		}
		cd = vc
	}
	return &Kind[K, V]{store: store[V]{c: c, k: k, codec: cd}, keyInput: identity[K]}, nil
}

func identity[K any](in K) (any, error) { return in, nil }

// Name returns the kind's name, which is also its key prefix.
func (kd *Kind[K, V]) Name() string { return kd.k.name }

// TTL returns how long stored values live.
func (kd *Kind[K, V]) TTL() time.Duration { return kd.k.ttl }

// Key returns the Redis key, namespace included, under which the value for
// in is stored, or an error wrapping [ErrKeyGeneration]. With
// Config.Legacy set to LegacyReadWrite, the built-in kinds store under the
// original service's key, which Key then returns. With
// Policy.CanonicalKeys, a string input is keyed by its canonical form
// ([CanonicalForm]).
func (kd *Kind[K, V]) Key(in K) (string, error) {
	var key string
	var err error
	if kd.legacyInput != nil && kd.c.cfg.Legacy == LegacyReadWrite {
		key, err = legacyKey(kd.k.name, kd.legacyInput(in))
	} else {
		if kd.k.policy.Canonical {
			in = canonicalInput(in) // the rules' version and the form, hashed in place of the text
		}
		var data any
		if data, err = kd.keyInput(in); err == nil {
			key, err = kd.c.redisKey(kd.k.name, data)
		}
	}
	if err != nil {
		return "", &Error{Op: OpGenerateKey, Kind: kd.k.name, Class: ErrKeyGeneration, Cause: err}
	}
	return key, nil
}

// key is Key, remembered for string inputs (see keyMemo): a near-cache hit
// then costs no hashing (SHA-256 of the input's JSON is about ten times the
// cost of the rest of the hit), and other operations three allocations
// less.
func (kd *Kind[K, V]) key(in K) (string, error) {
	s, ok := any(in).(string)
	if !ok || len(s) > maxMemoInput {
		return kd.Key(in)
	}
	mk := memoKey{kind: kd.k, view: kd.view, in: s}
	if key, ok := kd.k.keys.GetIfPresent(mk); ok {
		return key, nil
	}
	key, err := kd.Key(in)
	if err == nil {
		kd.k.keys.Set(mk, key)
	}
	return key, err
}

// altKey returns the original service's key of in, read after a miss with
// LegacyRead, or "".
func (kd *Kind[K, V]) altKey(in K) string {
	if kd.legacyInput == nil || kd.c.cfg.Legacy != LegacyRead {
		return ""
	}
	key, _ := legacyKey(kd.k.name, kd.legacyInput(in)) // an input that cannot be hashed has no key of its own either
	return key
}

// Get returns the value stored for in. A miss is not an error: it returns
// the zero value and false. Undecodable bytes give an error wrapping
// [ErrSerialization], and a stored value over Config.MaxValueBytes one
// wrapping [ErrValueTooLarge] (both also a miss); Redis failures wrap [ErrUnavailable], [ErrOperation]
// or [ErrClosed]; an input that cannot be hashed, [ErrKeyGeneration].
//
// The value may be shared with other callers of the same key: treat
// slices, maps and pointers in it as read-only.
func (kd *Kind[K, V]) Get(ctx context.Context, in K) (V, bool, error) {
	key, err := kd.key(in)
	if err != nil {
		var zero V
		return zero, false, err
	}
	return kd.get(ctx, key, kd.altKey(in))
}

// Set stores v for in, replacing any value, for the kind's TTL. An encoded
// value over Config.MaxValueBytes is refused with [ErrValueTooLarge] and
// nothing is sent; a value that cannot be encoded, with [ErrSerialization].
// The cache does not keep v: the caller may change it afterwards.
func (kd *Kind[K, V]) Set(ctx context.Context, in K, v V) error {
	key, err := kd.key(in)
	if err != nil {
		return err
	}
	return kd.set(ctx, key, v, kd.k.ttl)
}

// Delete removes the value for in and reports whether there was one. With
// Config.Legacy set to LegacyRead, the original service's key for in goes
// too.
func (kd *Kind[K, V]) Delete(ctx context.Context, in K) (bool, error) {
	key, err := kd.key(in)
	if err != nil {
		return false, err
	}
	keys := []string{key}
	if alt := kd.altKey(in); alt != "" { // with LegacyRead, a value left there would be read back
		keys = append(keys, alt)
	}
	n, err := kd.del(ctx, keys...)
	return n > 0, err
}

// Fetch returns the value for in, or calls load, stores what it returns for
// the kind's TTL and returns it: the cache-aside pattern, invisible to the
// caller when Redis misbehaves.
//
// Concurrent Fetches of one key in one process share a single loader call.
// It runs with the context of the caller that started it, without that
// caller's cancellation, so that one caller giving up does not fail the
// others; each caller stops waiting when its own context ends. The callers
// that shared a call receive the same value: treat slices, maps and pointers
// in it as read-only.
//
// What Fetch does when things fail:
//   - Redis unavailable, slow, or answering with errors: the loader's value
//     is returned all the same. The error is counted in [RedisCache.Stats]
//     and logged at warn level (at most one line per kind and class every
//     10 s), never returned. The cost of an outage is latency (at most
//     Config.OperationTimeout per Redis call, and for the read, at most
//     half the time ctx's deadline leaves, so that the loader has the
//     rest), not availability; once the circuit breaker is open, none.
//   - Bytes under the key cannot be decoded: a miss (and an error in the
//     figures); the loader runs and its value replaces them.
//   - The input cannot be hashed into a key: the loader's value is returned
//     and not stored.
//   - The loader's value cannot be stored (too large, not encodable, Redis
//     failing): it is returned all the same.
//   - The loader returns an error: Fetch returns it unchanged and caches
//     nothing.
//   - The loader panics: the panic is recovered, and every caller waiting on
//     it gets an error wrapping [ErrLoaderPanic] whose message holds the
//     panic value and the loader's stack.
//   - The caller's context ends: Fetch returns ctx.Err() at once (a caller
//     whose context has already ended starts no load). This is not counted
//     as an error.
//
// So the errors Fetch returns are the loader's, ErrLoaderPanic, and the
// caller's context error.
func (kd *Kind[K, V]) Fetch(ctx context.Context, in K, load LoaderFunc[V]) (V, error) {
	key, err := kd.key(in)
	return kd.fetch(ctx, key, kd.altKey(in), err, kd.k.ttl, load)
}

// canonicalInput returns in, a text, as canon.Key writes it: the rules'
// version and its canonical form. A K of another kind than a string is
// returned as it is; one of a string kind of its own (type Query string)
// keeps its type.
func canonicalInput[K any](in K) K {
	if s, ok := any(in).(string); ok {
		return any(canon.Key(s)).(K)
	}
	v := reflect.ValueOf(&in).Elem()
	if v.Kind() != reflect.String {
		return in
	}
	v.SetString(canon.Key(v.String()))
	return in
}

package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/media-gateway/discovery/cache/internal/codec"
)

// Names of the built-in kinds: the key prefix after the namespace, and the
// name of their figures in [Stats].
const (
	KindSearch    = "search"
	KindIntent    = "intent"
	KindEmbedding = "embedding"
	// KindCustom is the name under which [Stats] reports the key-level
	// functions [Get], [Set], [Fetch], [RedisCache.Delete] and
	// [RedisCache.DeletePattern]. It is not a key prefix.
	KindCustom = "custom"
)

// Collection is a typed view of one kind of value: inputs of type K map to
// keys "namespace:name:sha256(canonical JSON of the input)", holding values
// of type V for the kind's TTL. A Collection is cheap, holds no state of its
// own and is safe for concurrent use; all collections of one kind share its
// figures.
type Collection[K, V any] struct {
	store[V]
	keyInput func(K) (any, error) // what is hashed into the key
}

// Search returns the collection of search results: values of type V (any
// JSON-serialisable type) for queries of type Q (a string, or a struct of
// query, filters and paging), kept for Config.SearchTTL (30 min by default).
//
// The key of a query q is GenerateKey("search", q) behind the namespace.
func Search[Q, V any](c *RedisCache) *Collection[Q, V] {
	return &Collection[Q, V]{store: store[V]{c: c, k: c.search, codec: codec.JSON[V]{}}, keyInput: identity[Q]}
}

// Intents returns the collection of parsed intents: values of type V for
// query texts, kept for Config.IntentTTL (10 min by default).
//
// With parserVersion "", the key of a text t is GenerateKey("intent", t)
// behind the namespace. Pass the version of the NLP parser otherwise: it is
// hashed with the text ({"parser":version,"text":t}), so that a new parser
// never reads intents its predecessor wrote.
func Intents[V any](c *RedisCache, parserVersion string) *Collection[string, V] {
	col := &Collection[string, V]{store: store[V]{c: c, k: c.intent, codec: codec.JSON[V]{}}, keyInput: identity[string]}
	if parserVersion != "" {
		col.keyInput = func(text string) (any, error) {
			return versionedIntentKey{Parser: parserVersion, Text: text}, nil
		}
	}
	return col
}

type versionedIntentKey struct {
	Parser string `json:"parser"`
	Text   string `json:"text"`
}

// Embeddings returns the collection of the embedding vectors computed by
// model, kept for Config.EmbeddingTTL (1 h by default). Vectors are stored as
// packed little-endian float32, 4 bytes a dimension; NaN and infinities
// round-trip exactly.
//
// The key of a text t is GenerateKey("embedding", {"model":model,"text":t})
// behind the namespace, so vectors of different models never mix. An empty
// model makes every operation fail with [ErrKeyGeneration].
func Embeddings(c *RedisCache, model string) *Collection[string, []float32] {
	return &Collection[string, []float32]{
		store: store[[]float32]{c: c, k: c.embedding, codec: codec.Float32LE{}},
		keyInput: func(text string) (any, error) {
			if model == "" {
				return nil, fmt.Errorf("embedding model id is empty; pass the model name to Embeddings")
			}
			return embeddingKey{Model: model, Text: text}, nil
		},
	}
}

type embeddingKey struct {
	Model string `json:"model"`
	Text  string `json:"text"`
}

// NewCollection returns a collection for a kind of your own: values of type
// V (stored as JSON) for inputs of type K, under keys
// "namespace:name:sha256(…)", kept for ttl. name must not be empty or contain
// glob characters or white space, and ttl must be positive; otherwise the
// error wraps [ErrInvalidArgument].
//
// Collections created with the same name share their figures and their TTL:
// the first ttl given for a name is kept.
func NewCollection[K, V any](c *RedisCache, name string, ttl time.Duration) (*Collection[K, V], error) {
	if err := checkName("collection name", name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	switch name {
	case KindSearch, KindIntent, KindEmbedding, KindCustom:
		return nil, fmt.Errorf("%w: collection name %q is a built-in kind; use Search, Intents or Embeddings, or another name", ErrInvalidArgument, name)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("%w: collection %q: ttl %v is not positive", ErrInvalidArgument, name, ttl)
	}
	return &Collection[K, V]{store: store[V]{c: c, k: c.kind(name, ttl), codec: codec.JSON[V]{}}, keyInput: identity[K]}, nil
}

func identity[K any](in K) (any, error) { return in, nil }

// Name returns the kind's name, which is also its key prefix.
func (col *Collection[K, V]) Name() string { return col.k.name }

// TTL returns how long stored values live.
func (col *Collection[K, V]) TTL() time.Duration { return col.k.ttl }

// Key returns the Redis key, namespace included, under which the value for
// in is stored, or an error wrapping [ErrKeyGeneration].
func (col *Collection[K, V]) Key(in K) (string, error) {
	key, err := col.derive(in)
	if err != nil {
		return "", &Error{Op: "generate key", Kind: col.k.name, Class: ErrKeyGeneration, Cause: err}
	}
	return key, nil
}

// derive computes the key of in; its error is the bare cause.
func (col *Collection[K, V]) derive(in K) (string, error) {
	data, err := col.keyInput(in)
	if err != nil {
		return "", err
	}
	return col.c.redisKey(col.k.name, data)
}

// key is Key for operation op, with a failure counted and logged.
func (col *Collection[K, V]) key(ctx context.Context, op string, in K) (string, error) {
	key, err := col.derive(in)
	if err != nil {
		return "", col.c.fail(ctx, col.k, op, "", ErrKeyGeneration, err)
	}
	return key, nil
}

// Get returns the value stored for in. A miss is not an error: it returns
// the zero value and false. Undecodable bytes give an error wrapping
// [ErrSerialization]; Redis failures wrap [ErrUnavailable] or [ErrOperation].
// The returned value belongs to the caller.
func (col *Collection[K, V]) Get(ctx context.Context, in K) (V, bool, error) {
	key, err := col.key(ctx, "get", in)
	if err != nil {
		var zero V
		return zero, false, err
	}
	return col.get(ctx, key)
}

// Set stores v for in, replacing any value, for the collection's TTL. An
// encoded value over Config.MaxValueBytes is refused with [ErrValueTooLarge]
// and nothing is sent.
func (col *Collection[K, V]) Set(ctx context.Context, in K, v V) error {
	key, err := col.key(ctx, "set", in)
	if err != nil {
		return err
	}
	return col.set(ctx, key, v, col.k.ttl)
}

// Delete removes the value for in and reports whether there was one.
func (col *Collection[K, V]) Delete(ctx context.Context, in K) (bool, error) {
	key, err := col.key(ctx, "delete", in)
	if err != nil {
		return false, err
	}
	n, err := col.del(ctx, key)
	return n > 0, err
}

// Fetch returns the value for in, calling load on a miss and storing what it
// returns; see [LoaderFunc] for what happens when things fail.
func (col *Collection[K, V]) Fetch(ctx context.Context, in K, load LoaderFunc[V]) (V, error) {
	key, err := col.key(ctx, "fetch", in)
	if err != nil { // no key, so no caching: still answer from the loader
		return col.load(ctx, load)
	}
	return col.fetch(ctx, key, col.k.ttl, load)
}

// Clear removes every value of this kind (for embeddings, of every model)
// and returns how many keys it removed.
func (col *Collection[K, V]) Clear(ctx context.Context) (int64, error) {
	return col.c.deleteMatching(ctx, col.k, col.k.name+":*") // names hold no glob characters
}

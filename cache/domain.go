package cache

import (
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

// Search returns the kind of search results: values of type V (any
// JSON-serialisable type) for queries of type Q (a string, or a struct of
// query, filters and paging), kept for Config.SearchTTL (30 min by default).
//
// The key of a query q is GenerateKey("search", q) behind the namespace.
func Search[Q, V any](c *RedisCache) *Kind[Q, V] {
	return &Kind[Q, V]{store: store[V]{c: c, k: c.search, codec: codec.JSON[V]{}}, keyInput: identity[Q]}
}

// Intents returns the kind of parsed intents: values of type V for query
// texts, kept for Config.IntentTTL (10 min by default).
//
// With parserVersion "", the key of a text t is GenerateKey("intent", t)
// behind the namespace. Pass the version of the NLP parser otherwise: it is
// hashed with the text ({"parser":version,"text":t}), so that a new parser
// never reads intents its predecessor wrote.
func Intents[V any](c *RedisCache, parserVersion string) *Kind[string, V] {
	kd := &Kind[string, V]{store: store[V]{c: c, k: c.intent, codec: codec.JSON[V]{}}, keyInput: identity[string]}
	if parserVersion != "" {
		kd.keyInput = func(text string) (any, error) {
			return versionedIntentKey{Parser: parserVersion, Text: text}, nil
		}
	}
	return kd
}

type versionedIntentKey struct {
	Parser string `json:"parser"`
	Text   string `json:"text"`
}

// Embeddings returns the kind of the embedding vectors computed by model,
// kept for Config.EmbeddingTTL (1 h by default). Vectors are stored as
// packed little-endian float32, 4 bytes a dimension; NaN and infinities
// round-trip exactly.
//
// The key of a text t is GenerateKey("embedding", {"model":model,"text":t})
// behind the namespace, so vectors of different models never mix. An empty
// model is refused with [ErrInvalidArgument].
func Embeddings(c *RedisCache, model string) (*Kind[string, []float32], error) {
	if model == "" {
		return nil, invalidKind("the model id is empty; pass the name of the model that computes the vectors")
	}
	return &Kind[string, []float32]{
		store: store[[]float32]{c: c, k: c.embedding, codec: codec.Float32LE{}},
		keyInput: func(text string) (any, error) {
			return embeddingKey{Model: model, Text: text}, nil
		},
	}, nil
}

type embeddingKey struct {
	Model string `json:"model"`
	Text  string `json:"text"`
}

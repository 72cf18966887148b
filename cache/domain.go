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
	// KindCache names the operations of the whole cache (Health's ping,
	// ClearAll, ServerStats) where a kind's name is expected: in metrics
	// (cacheprom, cacheotel) and in JSON ([Stats].Cache). Their Event has
	// an empty Kind. It is no kind's name.
	KindCache = "cache"
)

// Search returns the kind of search results: values of type V (any
// JSON-serialisable type) for queries of type Q (a string, or a struct of
// query, filters and paging), kept for Config.SearchTTL (30 min by default).
// Values of plain data types (structs, slices, maps, strings, numbers) are
// stored as CBOR, others as JSON: see [Kind].
//
// The key of a query q is GenerateKey("search", q) behind the namespace
// (and GenerateKey("search", q) itself with Config.Legacy).
func Search[Q, V any](c *RedisCache) *Kind[Q, V] {
	return &Kind[Q, V]{store: builtin(c, c.kinds.search, codec.Auto[V](), true),
		keyInput: identity[Q], legacyInput: func(q Q) any { return q }}
}

// Intents returns the kind of parsed intents: values of type V for query
// texts, kept for Config.IntentTTL (10 min by default).
//
// With parserVersion "", the key of a text t is GenerateKey("intent", t)
// behind the namespace. Pass the version of the NLP parser otherwise: it is
// hashed with the text ({"parser":version,"text":t}), so that a new parser
// never reads intents its predecessor wrote.
func Intents[V any](c *RedisCache, parserVersion string) *Kind[string, V] {
	legacy := parserVersion == "" // the original service had no parser version
	kd := &Kind[string, V]{store: builtin(c, c.kinds.intent, codec.Auto[V](), legacy), keyInput: identity[string], view: parserVersion}
	if legacy {
		kd.legacyInput = func(text string) any { return text }
	} else {
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
	legacy := model == c.cfg.LegacyEmbeddingModel // empty when embeddings do not meet the original cache
	kd := &Kind[string, []float32]{
		store: builtin(c, c.kinds.embedding, codec.Vector(c.kinds.embedding.policy.Vector), legacy),
		keyInput: func(text string) (any, error) {
			return embeddingKey{Model: model, Text: text}, nil
		},
		view: model,
	}
	if legacy {
		kd.legacyInput = func(text string) any { return text }
	}
	return kd, nil
}

// builtin returns the store of a built-in kind: it writes plain JSON when
// the view shares the original service's cache (LegacyReadWrite).
func builtin[V any](c *RedisCache, k *kindState, cd codec.Codec[V], legacy bool) store[V] {
	return store[V]{c: c, k: k, codec: cd, plain: legacy && c.cfg.Legacy == LegacyReadWrite}
}

type embeddingKey struct {
	Model string `json:"model"`
	Text  string `json:"text"`
}

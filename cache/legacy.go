package cache

import (
	"fmt"
	"strings"

	"github.com/media-gateway/discovery/cache/internal/codec"
	"github.com/media-gateway/discovery/cache/internal/envelope"
)

// Legacy says how the built-in kinds meet the cache of the original service
// (written in Rust), so that a fleet can move to this cache without a cold
// start. That service keys a value as "search:", "intent:" or "embedding:"
// followed by the hex SHA-256 of the JSON of its input (the query, the query
// text, the text to embed), with no namespace, no parser version and no
// model id, and stores it as plain JSON (an embedding as a JSON array).
type Legacy uint8

// The legacy modes.
const (
	// LegacyOff: this cache's own keys and format only. The default.
	LegacyOff Legacy = iota

	// LegacyRead: this cache reads and writes its own keys and format; a
	// read that misses its own key then reads the original service's key,
	// and a value found there is a hit. Nothing is ever written under the
	// original service's keys, so it may keep running beside. Misses cost
	// a second GET: switch back to LegacyOff once the original service is
	// gone and its longest TTL has passed.
	LegacyRead

	// LegacyReadWrite: the built-in kinds use the original service's keys
	// and write its format, plain JSON, so that both services share one live
	// cache. Values of this cache's own format found there are read too.
	// Clearing a built-in kind touches only the original service's keys of
	// that kind (the prefix followed by exactly 64 hex digits).
	LegacyReadWrite

	numLegacy
)

var legacyNames = [numLegacy]string{LegacyOff: "off", LegacyRead: "read", LegacyReadWrite: "read-write"}

// String returns "off", "read", "read-write", or "unknown".
func (l Legacy) String() string {
	if l >= numLegacy {
		return "unknown"
	}
	return legacyNames[l]
}

// parseLegacy reads a mode written as String writes it.
func parseLegacy(s string) (Legacy, bool) {
	for l, name := range legacyNames {
		if s == name {
			return Legacy(l), true
		}
	}
	return 0, false
}

// legacyKey returns the original service's key of input for a kind.
func legacyKey(kind string, input any) (string, error) {
	return appendKey(make([]byte, 0, len(kind)+1+64), kind, input)
}

// legacyPattern matches the original service's keys of a kind and nothing
// else: the prefix, a colon and 64 lower-case hex digits.
func legacyPattern(kind string) string {
	return kind + ":" + strings.Repeat("[0-9a-f]", 64)
}

// legacyKinds are the kinds the original service had.
var legacyKinds = [...]string{KindSearch, KindIntent, KindEmbedding}

// decodeEither decodes raw written in this cache's format (the envelope's
// magic byte first, which no JSON text starts with) or as plain JSON, and
// returns the size of what it decoded as decode does.
func decodeEither[V any](cd codec.Codec[V], raw []byte, maxPayload int) (V, int, error) {
	if len(raw) > 0 && raw[0] == envelope.Magic {
		return decode(cd, raw, maxPayload)
	}
	v, err := codec.JSON[V]{}.Decode(raw)
	if err != nil {
		return v, 0, fmt.Errorf("neither this cache's format nor plain JSON: %w", err)
	}
	return v, len(raw), nil
}

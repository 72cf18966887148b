package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache/internal/codec"
	"github.com/media-gateway/discovery/cache/internal/envelope"
	"github.com/media-gateway/discovery/internal/fixtures"
)

type benchIntent struct {
	Action   string            `json:"action"`
	Entities map[string]string `json:"entities"`
}

// BenchmarkEnvelope measures encoding and decoding of a value of each kind,
// envelope included. The -json rows are the baselines: the same value as
// JSON (what search and intent values were before CBOR, and what a vector
// would be without its packed format).
func BenchmarkEnvelope(b *testing.B) {
	now := time.Now()
	intent := benchIntent{Action: "recommend", Entities: map[string]string{"like": "Alien", "genre": "horror"}}
	vec := fixtures.Vector(1536)
	benchCodec(b, "search-20", codec.CBOR[[]fixtures.Hit]{}, fixtures.Hits(20), now)
	benchCodec(b, "search-20-json", codec.JSON[[]fixtures.Hit]{}, fixtures.Hits(20), now)
	benchCodec(b, "intent", codec.CBOR[benchIntent]{}, intent, now)
	benchCodec(b, "intent-json", codec.JSON[benchIntent]{}, intent, now)
	benchCodec(b, "embedding-1536", codec.Float32LE{}, vec, now)
	benchCodec(b, "embedding-1536-json", codec.JSON[[]float32]{}, vec, now)
}

// benchCodec measures the write path (encode, then compress if worth it)
// and the read path of one value, with the default compression threshold.
// stored-B is the size the value takes in Redis.
func benchCodec[V any](b *testing.B, name string, cd codec.Codec[V], v V, now time.Time) {
	plain, err := encode(cd, v, now, nil)
	if err != nil {
		b.Fatal(err)
	}
	threshold := compressMin(cd, defaultCompressMinBytes) // as store.put decides
	raw := envelope.Seal(plain, threshold)
	b.Run("encode/"+name, func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			buf, err := encode(cd, v, now, nil)
			if err != nil {
				b.Fatal(err)
			}
			envelope.Seal(buf, threshold)
		}
		b.ReportMetric(float64(len(raw)), "stored-B")
	})
	b.Run("decode/"+name, func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if _, _, err := decode(cd, raw, 1<<30); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkKey measures key derivation for typical inputs.
func BenchmarkKey(b *testing.B) {
	inputs := []struct {
		name string
		data any
	}{
		{"string", "star wars"},
		{"struct", struct {
			Q      string   `json:"q"`
			Genres []string `json:"genres"`
			Page   int      `json:"page"`
		}{"star wars", []string{"sci-fi", "adventure"}, 2}},
		{"embedding", embeddingKey{Model: "text-embedding-3-small", Text: "a heist thriller set in Paris with a twist ending"}},
		{"long-text-4KiB", strings.Repeat("a heist thriller ", 241)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := GenerateKey("search", in.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("sha256-only-baseline", func(b *testing.B) { // what hashing alone costs for "string"
		b.ReportAllocs()
		data, _ := json.Marshal("star wars")
		for b.Loop() {
			sum := sha256.Sum256(data)
			_ = "search:" + hex.EncodeToString(sum[:])
		}
	})
}

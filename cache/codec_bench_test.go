package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache/internal/codec"
)

type benchHit struct {
	ID    string   `json:"id"`
	Title string   `json:"title"`
	Score float64  `json:"score"`
	Tags  []string `json:"tags"`
}

type benchIntent struct {
	Action   string            `json:"action"`
	Entities map[string]string `json:"entities"`
}

func benchHits(n int) []benchHit {
	hits := make([]benchHit, n)
	for i := range hits {
		hits[i] = benchHit{ID: fmt.Sprintf("tt%07d", i), Title: fmt.Sprintf("Title number %d", i), Score: 1 / float64(i+1), Tags: []string{"sci-fi", "classic"}}
	}
	return hits
}

func benchVector(dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(i%97)/97 - 0.5
	}
	return v
}

// BenchmarkEnvelope measures encoding and decoding of a value of each kind,
// envelope included. embedding-json is the baseline: the same vector as JSON.
func BenchmarkEnvelope(b *testing.B) {
	now := time.Now()
	intent := benchIntent{Action: "recommend", Entities: map[string]string{"like": "Alien", "genre": "horror"}}
	vec := benchVector(1536)
	benchCodec(b, "search-20", codec.JSON[[]benchHit]{}, benchHits(20), now)
	benchCodec(b, "intent", codec.JSON[benchIntent]{}, intent, now)
	benchCodec(b, "embedding-1536", codec.Float32LE{}, vec, now)
	benchCodec(b, "embedding-1536-json", codec.JSON[[]float32]{}, vec, now)
}

func benchCodec[V any](b *testing.B, name string, cd codec.Codec[V], v V, now time.Time) {
	raw, err := encode(cd, v, now)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode/"+name, func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := encode(cd, v, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/"+name, func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := decode(cd, raw, 1<<30); err != nil {
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

package cache

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache/internal/codec"
	"github.com/media-gateway/discovery/cache/internal/envelope"
)

type fuzzHit struct {
	ID    string            `json:"id"`
	Score float64           `json:"score"`
	Tags  []string          `json:"tags"`
	Extra map[string]string `json:"extra"`
}

// FuzzDecode feeds arbitrary bytes, as they could be found under a key, to
// the decoders of each kind: they must return a value or an error, never
// panic, and whatever they accept must re-encode to an equal value.
func FuzzDecode(f *testing.F) {
	now := time.UnixMilli(1764115200123)
	hits, _ := encode[[]fuzzHit](codec.JSON[[]fuzzHit]{}, []fuzzHit{{ID: "1", Score: 0.5, Tags: []string{"a"}}}, now, nil)
	vec, _ := encode[[]float32](codec.Float32LE{}, []float32{1, -2, 3.5}, now, nil)
	hitsCBOR, _ := encode[[]fuzzHit](codec.CBOR[[]fuzzHit]{}, []fuzzHit{{ID: "1", Score: 0.5, Tags: []string{"a"}, Extra: map[string]string{"k": "v"}}}, now, nil)
	f.Add(hits)
	f.Add(hitsCBOR)
	f.Add(vec)
	for _, cd := range []codec.Codec[[]float32]{codec.Float16LE{}, codec.Int8{}} {
		b, _ := encode[[]float32](cd, []float32{1, -2, 3.5}, now, nil)
		f.Add(b)
	}
	f.Add(envelope.Seal(append(hits[:envelope.HeaderSize:envelope.HeaderSize], bytes.Repeat(hits[envelope.HeaderSize:], 40)...), 64))
	f.Add([]byte(`[{"id":"1"}]`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if v, _, err := decode[[]fuzzHit](codec.JSON[[]fuzzHit]{}, raw, 1<<20); err == nil {
			if _, err := encode(codec.JSON[[]fuzzHit]{}, v, now, nil); err != nil {
				t.Fatalf("accepted value does not re-encode: %v", err)
			}
		}
		// The CBOR kind reads CBOR and (older) JSON values.
		if v, _, err := decode[[]fuzzHit](codec.CBOR[[]fuzzHit]{}, raw, 1<<20); err == nil {
			if _, err := encode(codec.CBOR[[]fuzzHit]{}, v, now, nil); err != nil {
				t.Fatalf("accepted value does not re-encode as CBOR: %v", err)
			}
		}
		if v, _, err := decode[[]float32](codec.Float32LE{}, raw, 1<<20); err == nil {
			again, _ := encode(codec.Float32LE{}, v, now, nil)
			w, _, err := decode[[]float32](codec.Float32LE{}, envelope.Seal(again, 64), 1<<20)
			if err != nil || len(w) != len(v) {
				t.Fatalf("vector of %d dimensions does not round-trip: %d, %v", len(v), len(w), err)
			}
			for i := range v {
				if math.Float32bits(v[i]) != math.Float32bits(w[i]) {
					t.Fatalf("dimension %d: %v became %v", i, v[i], w[i])
				}
			}
		}
		// The compact encodings: a vector read from any bytes re-encodes.
		for _, cd := range []codec.Codec[[]float32]{codec.Float16LE{}, codec.Int8{}} {
			if v, _, err := decode[[]float32](cd, raw, 1<<20); err == nil {
				if _, err := encode(cd, v, now, nil); err != nil && !errors.Is(err, codec.ErrVectorRange) {
					t.Fatalf("a %s vector read does not re-encode: %v", cd.ID(), err)
				}
				if len(raw) > 2 && envelope.Codec(raw[2]) == envelope.CodecInt8 && slices.ContainsFunc(v, func(f float32) bool { return f != f || math.IsInf(float64(f), 0) }) {
					t.Fatalf("an int8 vector decoded to %v", v)
				}
			}
		}
		decode[string](codec.JSON[string]{}, raw, 1<<20)
		decode[map[string]any](codec.JSON[map[string]any]{}, raw, 1<<20)
	})
}

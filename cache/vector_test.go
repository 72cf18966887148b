package cache_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
)

// A kind of vectors stores them in the encoding its policy asks; every
// view reads every encoding back as []float32, within the encoding's
// error; what an encoding cannot hold is refused and nothing is stored;
// Inspect names the encoding.
func TestVectorEncoding(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	exact := newCache(t)
	vec := make([]float32, 384)
	for i := range vec {
		vec[i] = float32(math.Sin(float64(i))) / 10
	}
	for _, c := range []struct {
		enc   cache.VectorEncoding
		codec string
		bytes int
		min   float64
	}{{cache.VectorFloat32, "float32le", 4 * 384, 1}, {cache.VectorFloat16, "float16le", 2 * 384, 0.99999}, {cache.VectorInt8, "int8", 4 + 384, 0.9999}} {
		w := newCache(t, func(cfg *cache.Config) {
			cfg.Namespace = exact.Namespace()
			cfg.Policies = map[string]cache.Policy{cache.KindEmbedding: {VectorEncoding: c.enc}, "vectors": {VectorEncoding: c.enc}}
		})
		emb, err := cache.Embeddings(w, "m-"+c.codec)
		if err != nil {
			t.Fatal(err)
		}
		if err := emb.Set(ctx, "a text", vec); err != nil {
			t.Fatal(err)
		}
		key, _ := emb.Key("a text")
		in, err := exact.Inspect(ctx, key)
		if err != nil || in.Codec != c.codec || in.Payload != c.bytes {
			t.Errorf("%v: Inspect = codec %q, %d bytes, %v; want %q, %d", c.enc, in.Codec, in.Payload, err, c.codec, c.bytes)
		}
		reader, _ := cache.Embeddings(exact, "m-"+c.codec) // a float32 view
		got, ok, err := reader.Get(ctx, "a text")
		if err != nil || !ok || len(got) != 384 {
			t.Fatalf("%v read by a float32 view: %d, %v, %v", c.enc, len(got), ok, err)
		}
		if cos := cosine(vec, got); cos < c.min || c.min == 1 && cos != 1 {
			t.Errorf("%v: cosine to the original %.7f, want ≥ %v", c.enc, cos, c.min)
		}
		// In a batch, too.
		vals, missing, err := reader.GetMany(ctx, []string{"a text", "absent"})
		if err != nil || len(missing) != 1 || missing[0] != 1 || cosine(vec, vals[0]) < c.min {
			t.Errorf("%v in a batch: %d values, missing %v, %v", c.enc, len(vals), missing, err)
		}
		// A kind of one's own, of []float32, follows its policy too.
		own, err := cache.NewKind[string, []float32](w, "vectors", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := own.Set(ctx, "x", vec); err != nil {
			t.Fatal(err)
		}
		okey, _ := own.Key("x")
		if in, _ := exact.Inspect(ctx, okey); in.Codec != c.codec {
			t.Errorf("NewKind with %v: codec %q", c.enc, in.Codec)
		}
	}
	// What an encoding cannot hold is refused.
	i8 := newCache(t, func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindEmbedding: {VectorEncoding: cache.VectorInt8}}
	})
	emb, _ := cache.Embeddings(i8, "m")
	if err := emb.Set(ctx, "nan", []float32{1, float32(math.NaN())}); !errors.Is(err, cache.ErrSerialization) {
		t.Errorf("int8 of a NaN: %v, want ErrSerialization", err)
	}
	if _, ok, _ := emb.Get(ctx, "nan"); ok {
		t.Error("a refused vector was stored")
	}
	f16 := newCache(t, func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindEmbedding: {VectorEncoding: cache.VectorFloat16}}
	})
	e16, _ := cache.Embeddings(f16, "m")
	if err := e16.Set(ctx, "big", []float32{1e6}); !errors.Is(err, cache.ErrSerialization) {
		t.Errorf("float16 of 1e6: %v, want ErrSerialization", err)
	}
	if _, err := cache.New(ctx, cache.Config{URL: redisURL(t), Policies: map[string]cache.Policy{cache.KindSearch: {VectorEncoding: cache.VectorFloat16}}}); !errors.Is(err, cache.ErrInvalidConfig) {
		t.Errorf("VectorEncoding for searches: %v, want ErrInvalidConfig", err)
	}
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

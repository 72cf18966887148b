package cache_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/fixtures"
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
		if cos := fixtures.Cosine(vec, got); cos < c.min || c.min == 1 && cos != 1 {
			t.Errorf("%v: cosine to the original %.7f, want ≥ %v", c.enc, cos, c.min)
		}
		// In a batch, too.
		vals, missing, err := reader.GetMany(ctx, []string{"a text", "absent"})
		if err != nil || len(missing) != 1 || missing[0] != 1 || fixtures.Cosine(vec, vals[0]) < c.min {
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
	// Policy's applies to the embeddings only: a kind of one's own changes
	// through Policies[name] alone; a kind that is no []float32 refuses it.
	global := newCache(t, func(cfg *cache.Config) {
		cfg.Policy.VectorEncoding = cache.VectorInt8
		cfg.Policies = map[string]cache.Policy{"named": {VectorEncoding: cache.VectorFloat16}}
	})
	prices, _ := cache.NewKind[string, []float32](global, "prices", time.Minute)
	if err := prices.Set(ctx, "p", []float32{1234.567, 1.0001}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := prices.Get(ctx, "p"); !slices.Equal(got, []float32{1234.567, 1.0001}) {
		t.Errorf("Policy.VectorEncoding changed a kind of one's own: %v", got)
	}
	type vector []float32
	if _, err := cache.NewKind[string, vector](global, "named", time.Minute); !errors.Is(err, cache.ErrInvalidArgument) {
		t.Errorf("VectorEncoding for a named vector type: %v, want ErrInvalidArgument", err)
	}
	// The Redis memory of a 1,536-dimension vector, by encoding.
	raw := rawClient(t, redisURL(t))
	big := make([]float32, 1536)
	for i := range big {
		big[i] = float32(math.Cos(float64(i))) / 40
	}
	usage := map[cache.VectorEncoding]int64{}
	for _, enc := range []cache.VectorEncoding{cache.VectorFloat32, cache.VectorFloat16, cache.VectorInt8} {
		c := newCache(t, func(cfg *cache.Config) {
			cfg.Policies = map[string]cache.Policy{cache.KindEmbedding: {VectorEncoding: enc}}
		})
		e, _ := cache.Embeddings(c, "m")
		if err := e.Set(ctx, "t", big); err != nil {
			t.Fatal(err)
		}
		key, _ := e.Key("t")
		var err error
		if usage[enc], err = raw.Do(ctx, raw.B().MemoryUsage().Key(key).Samples(0).Build()).AsInt64(); err != nil {
			t.Fatal(err)
		}
	}
	if r16, r8 := float64(usage[cache.VectorFloat16])/float64(usage[cache.VectorFloat32]), float64(usage[cache.VectorInt8])/float64(usage[cache.VectorFloat32]); r16 > 0.52 || r8 > 0.28 {
		t.Errorf("MEMORY USAGE of 1,536 dimensions: float16 %.3f×, int8 %.3f× float32's; want ≤ 0.52, ≤ 0.28 (%v)", r16, r8, usage)
	}
}

package codec

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/media-gateway/discovery/cache/internal/envelope"
	"github.com/media-gateway/discovery/internal/fixtures"
)

// randomVectors returns n vectors of dims dimensions: random directions
// (normal components), or, clustered, points near 50 random centres
// (as a model's embeddings of related texts gather).
func randomVectors(n, dims int, clustered bool, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	centres := make([][]float32, 50)
	for c := range centres {
		centres[c] = make([]float32, dims)
		for i := range centres[c] {
			centres[c][i] = float32(r.NormFloat64())
		}
	}
	out := make([][]float32, n)
	for k := range out {
		v := make([]float32, dims)
		var norm float64
		for i := range v {
			x := r.NormFloat64()
			if clustered {
				x = float64(centres[k%50][i]) + 0.35*x
			}
			v[i] = float32(x)
			norm += x * x
		}
		for i := range v { // unit length, as most models give them
			v[i] = float32(float64(v[i]) / math.Sqrt(norm))
		}
		out[k] = v
	}
	return out
}

func roundTrip(t testing.TB, cd Codec[[]float32], v []float32) []float32 {
	t.Helper()
	b, err := cd.Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cd.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Each encoding keeps a vector's direction within its bound, on random and
// clustered vectors of 384 to 1536 dimensions; float32 is exact.
func TestVectorEncodings(t *testing.T) {
	for _, dims := range []int{384, 768, 1536} {
		for _, clustered := range []bool{false, true} {
			vs := randomVectors(500, dims, clustered, uint64(dims))
			for _, c := range []struct {
				cd   Codec[[]float32]
				min  float64
				size int
			}{{Float32LE{}, 1, 4 * dims}, {Float16LE{}, 0.99999, 2 * dims}, {Int8{}, 0.9999, 4 + dims}} {
				worst := 1.0
				for _, v := range vs {
					b, _ := c.cd.Append(nil, v)
					if len(b) != c.size {
						t.Fatalf("%s: %d bytes for %d dimensions, want %d", c.cd.ID(), len(b), dims, c.size)
					}
					got := roundTrip(t, c.cd, v)
					if c.min == 1 && !slices.Equal(got, v) {
						t.Fatalf("float32 is not exact")
					}
					worst = min(worst, fixtures.Cosine(v, got))
				}
				if worst < c.min {
					t.Errorf("%s, %d dims, clustered %v: worst cosine to the original %.7f, want ≥ %v", c.cd.ID(), dims, clustered, worst, c.min)
				}
			}
		}
	}
}

// Vectors with an outlier dimension (a component of k standard
// deviations, as some models have), and int8's documented bounds on them;
// float16 on vectors of a small norm.
func TestVectorOutliers(t *testing.T) {
	for _, c := range []struct {
		sigmas float64
		min    float64
	}{{6, 0.9998}, {10, 0.9995}, {20, 0.998}} {
		worst := 1.0
		for _, v := range randomVectors(200, 1536, false, 7) {
			v[3] = float32(c.sigmas / math.Sqrt(1536)) // k σ of a unit vector's components
			worst = min(worst, fixtures.Cosine(v, roundTrip(t, Int8{}, v)))
		}
		if worst < c.min {
			t.Errorf("int8, an outlier of %vσ: worst cosine %.6f, want ≥ %v (docs/vectors.md)", c.sigmas, worst, c.min)
		}
	}
	for _, norm := range []float32{1, 1e-2, 1e-3} {
		worst := 1.0
		for _, v := range randomVectors(100, 768, false, 8) {
			for i := range v {
				v[i] *= norm
			}
			worst = min(worst, fixtures.Cosine(v, roundTrip(t, Float16LE{}, v)))
		}
		if worst < 0.99999 {
			t.Errorf("float16, norm %v: worst cosine %.7f", norm, worst)
		}
	}
	// Rounding: halves away from zero, computed exactly.
	got := roundTrip(t, Int8{}, []float32{127, 0.49999997, 0.5, -0.5, -127})
	if !slices.Equal(got, []float32{127, 0, 1, -1, -127}) {
		t.Errorf("int8 rounding: %v", got)
	}
	if _, err := (Int8{}).Append(nil, []float32{3e-39, 1e-39}); !errors.Is(err, ErrVectorRange) {
		t.Errorf("int8 of a subnormal vector: %v", err)
	}
	for _, bad := range [][]byte{
		{0, 0, 0x80, 0x7f, 1},       // an infinite scale
		{0xff, 0xff, 0x7f, 0x7f, 1}, // a scale that overflows
		{0, 0, 0, 0, 1},             // a zero scale under a code
		{0, 0, 0x80, 0x3f, 0x80},    // the code -128
		{0, 0, 0x80, 0xbf, 1},       // a negative scale
	} {
		if v, err := (Int8{}).Decode(bad); err == nil {
			t.Errorf("int8 decoded % x to %v", bad, v)
		}
	}
}

// What the encodings cannot hold is refused, never turned into something
// else; corrupt payloads are errors, never panics.
func TestVectorEdges(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	if got := roundTrip(t, Float16LE{}, []float32{inf, -inf, 1}); !math.IsInf(float64(got[0]), 1) || !math.IsInf(float64(got[1]), -1) {
		t.Errorf("float16 infinities: %v", got)
	}
	if got := roundTrip(t, Float16LE{}, []float32{nan}); !math.IsNaN(float64(got[0])) {
		t.Errorf("float16 NaN: %v", got)
	}
	if _, err := (Float16LE{}).Append(nil, []float32{1e6}); !errors.Is(err, ErrVectorRange) {
		t.Errorf("float16 of 1e6: %v", err)
	}
	for _, v := range [][]float32{{nan, 1}, {inf}} {
		if _, err := (Int8{}).Append(nil, v); !errors.Is(err, ErrVectorRange) {
			t.Errorf("int8 of %v: %v", v, err)
		}
	}
	if got := roundTrip(t, Int8{}, []float32{0, 0}); !slices.Equal(got, []float32{0, 0}) {
		t.Errorf("int8 zeros: %v", got)
	}
	if got := roundTrip(t, Int8{}, nil); len(got) != 0 {
		t.Errorf("int8 empty: %v", got)
	}
	for _, bad := range [][]byte{{1}, {1, 2, 3}} {
		if _, err := (Float16LE{}).Decode(bad); err == nil { // odd lengths
			t.Errorf("float16 of %d bytes decoded", len(bad))
		}
		if _, err := (Int8{}).Decode(bad); err == nil {
			t.Errorf("int8 of %d bytes decoded", len(bad))
		}
	}
	nanScale := []byte{0, 0, 0xc0, 0x7f, 1}
	if _, err := (Int8{}).Decode(nanScale); err == nil {
		t.Error("int8 with a NaN scale decoded")
	}
	// Any view reads any encoding as []float32.
	for _, cd := range []Codec[[]float32]{Float32LE{}, Float16LE{}, Int8{}} {
		b, _ := cd.Append(nil, []float32{0.5, -0.25})
		for _, view := range []Codec[[]float32]{Float32LE{}, Float16LE{}, Int8{}, CBOR[[]float32]{}} {
			got, err := Reading(view, cd.ID()).Decode(b)
			if err != nil || math.Abs(float64(got[0]-0.5)) > 0.01 {
				t.Errorf("%s read by a %s view: %v, %v", cd.ID(), view.ID(), got, err)
			}
		}
		if v, err := Any(cd.ID(), b); err != nil || len(v.([]float32)) != 2 {
			t.Errorf("Any(%s) = %v, %v", cd.ID(), v, err)
		}
	}
	_ = envelope.CodecInt8
}

// recallAt10 returns the mean share of each query's 10 nearest neighbours
// (by cosine) among the originals that the encoded vectors find.
func recallAt10(orig, enc [][]float32, queries int) float64 {
	var sum float64
	for q := range queries {
		top := func(vs [][]float32) map[int]bool {
			type s struct {
				i   int
				sim float64
			}
			all := make([]s, 0, len(vs))
			for i, v := range vs {
				if i != q {
					all = append(all, s{i, fixtures.Cosine(orig[q], v)})
				}
			}
			sort.Slice(all, func(a, b int) bool { return all[a].sim > all[b].sim })
			m := map[int]bool{}
			for _, x := range all[:10] {
				m[x.i] = true
			}
			return m
		}
		want, got := top(orig), top(enc)
		n := 0
		for i := range got {
			if want[i] {
				n++
			}
		}
		sum += float64(n) / 10
	}
	return sum / float64(queries)
}

// BenchmarkVectorEncodings reports, for 1536 dimensions, the time to
// encode and decode one vector, and on 10,000 random and 10,000 clustered
// vectors of 384 dimensions the worst cosine to the original and the
// recall@10 of exact nearest-neighbour search on the decoded vectors
// (100 queries against the originals' neighbours).
func BenchmarkVectorEncodings(b *testing.B) {
	v := randomVectors(1, 1536, false, 1)[0]
	sets := map[string][][]float32{"random": randomVectors(10000, 384, false, 2), "clustered": randomVectors(10000, 384, true, 3)}
	for _, cd := range []Codec[[]float32]{Float32LE{}, Float16LE{}, Int8{}} {
		buf, _ := cd.Append(nil, v)
		b.Run(fmt.Sprintf("%s/encode-1536", cd.ID()), func(b *testing.B) {
			dst := make([]byte, 0, len(buf))
			for b.Loop() {
				dst, _ = cd.Append(dst[:0], v)
			}
		})
		b.Run(fmt.Sprintf("%s/decode-1536", cd.ID()), func(b *testing.B) {
			for b.Loop() {
				_, _ = cd.Decode(buf)
			}
		})
		for name, set := range sets {
			b.Run(fmt.Sprintf("%s/quality-%s", cd.ID(), name), func(b *testing.B) {
				enc := make([][]float32, len(set))
				worst := 1.0
				for i, x := range set {
					enc[i] = roundTrip(b, cd, x)
					worst = min(worst, fixtures.Cosine(x, enc[i]))
				}
				for b.Loop() {
				}
				b.ReportMetric(worst, "worst-cosine")
				b.ReportMetric(recallAt10(set, enc, 100), "recall@10")
			})
		}
	}
}

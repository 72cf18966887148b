package codec

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"
)

func TestFloat32LE(t *testing.T) {
	for _, le := range []bool{true, false} { // the byte-copy path and the portable one
		littleEndian = le
		testFloat32LE(t)
	}
	littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
}

func testFloat32LE(t *testing.T) {
	in := []float32{0, -0, 1, -1.5, math.MaxFloat32, float32(math.Inf(-1)), float32(math.NaN())}
	b, err := Float32LE{}.Append([]byte("hdr"), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 3+4*len(in) || string(b[:3]) != "hdr" {
		t.Fatalf("Append wrote %d bytes", len(b))
	}
	if got := b[3+8 : 3+12]; got[0] != 0 || got[3] != 0x3f || got[2] != 0x80 { // 1.0 little-endian
		t.Errorf("1.0 encoded as % x, want 00 00 80 3f", got)
	}
	out, err := Float32LE{}.Decode(b[3:])
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if math.Float32bits(out[i]) != math.Float32bits(in[i]) {
			t.Errorf("[%d] %v became %v", i, in[i], out[i])
		}
	}
	if v, err := (Float32LE{}).Decode(nil); err != nil || len(v) != 0 {
		t.Errorf("empty vector: %v, %v", v, err)
	}
	if _, err := (Float32LE{}).Decode([]byte{1, 2, 3}); err == nil {
		t.Error("3 bytes decoded as a vector")
	}
}

// The packed form is what the design promises: a third of JSON's size.
func TestFloat32LESmallerThanJSON(t *testing.T) {
	t.Parallel()
	v := make([]float32, 1536)
	for i := range v {
		v[i] = float32(math.Sin(float64(i))) / 3
	}
	packed, _ := Float32LE{}.Append(nil, v)
	text, _ := json.Marshal(v)
	if ratio := float64(len(text)) / float64(len(packed)); ratio < 2.5 {
		t.Errorf("JSON is only %.1f× the packed size", ratio)
	} else {
		t.Logf("1536 dims: packed %d bytes, JSON %d bytes (%.1f×)", len(packed), len(text), ratio)
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	type v struct{ A []string }
	b, err := JSON[v]{}.Append(nil, v{A: []string{"<x>"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := JSON[v]{}.Decode(b)
	if err != nil || got.A[0] != "<x>" {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	if _, err := (JSON[v]{}).Decode([]byte("{")); err == nil {
		t.Error("truncated JSON decoded")
	}
	if _, err := (JSON[func()]{}).Append(nil, func() {}); err == nil {
		t.Error("a func encoded")
	}
}

func FuzzFloat32LEDecode(f *testing.F) {
	f.Add([]byte{0, 0, 0x80, 0x3f})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Float32LE{}.Decode(b)
		if (err == nil) != (len(b)%4 == 0) {
			t.Fatalf("len %d: err %v", len(b), err)
		}
		if err == nil {
			if again, _ := (Float32LE{}).Append(nil, v); string(again) != string(b) {
				t.Fatal("re-encoding differs")
			}
		}
	})
}

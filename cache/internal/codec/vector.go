package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/x448/float16"

	"github.com/media-gateway/discovery/cache/internal/envelope"
)

// The compact encodings of []float32 vectors: half the bytes (Float16LE)
// or about a quarter (Int8), for the vectors of an embedding model, whose
// similarities survive the rounding (see docs/vectors.md). Each is read
// back as []float32 by any view, whatever its own encoding: the envelope
// names the codec.

// ErrVectorRange is the error of a vector an encoding cannot hold: a
// finite component beyond float16's range (65504), or, for Int8, a NaN
// or an infinity.
var ErrVectorRange = errors.New("vector component out of the encoding's range")

// Float16LE packs a []float32 as little-endian IEEE-754 half-precision
// words (binary16): 2 bytes a dimension, a relative error of at most
// 2^-11 (4.9e-4) a component within ±65504 (smaller magnitudes, below
// 6.1e-5, lose more, as subnormals). NaN and infinities are kept; a finite
// component beyond ±65504 is refused (ErrVectorRange), not turned into an
// infinity.
type Float16LE struct{}

var _ Codec[[]float32] = Float16LE{}

// ID implements Codec.
func (Float16LE) ID() envelope.Codec { return envelope.CodecFloat16LE }

// SizeHint implements Codec.
func (Float16LE) SizeHint(v []float32) int { return 2 * len(v) }

// Incompressible implements Incompressible, as for Float32LE.
func (Float16LE) Incompressible() bool { return true }

// Append implements Codec.
func (Float16LE) Append(dst []byte, v []float32) ([]byte, error) {
	dst = growBy(dst, 2*len(v))
	for i, f := range v {
		if f > 65504 || f < -65504 {
			if !math.IsInf(float64(f), 0) {
				return dst, fmt.Errorf("%w: component %d is %v, beyond float16's ±65504", ErrVectorRange, i, f)
			}
		}
		dst = binary.LittleEndian.AppendUint16(dst, float16.Fromfloat32(f).Bits())
	}
	return dst, nil
}

// Decode implements Codec.
func (Float16LE) Decode(payload []byte) ([]float32, error) {
	if len(payload)%2 != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of float16 values", envelope.ErrPayloadSize, len(payload))
	}
	v := make([]float32, len(payload)/2)
	table := halves()
	for i := range v {
		v[i] = table[binary.LittleEndian.Uint16(payload[2*i:])]
	}
	return v, nil
}

// halves is every float16's float32 value, by its bits (256 KiB, made on
// first use): a decode is then a lookup a component.
var halves = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = float16.Frombits(uint16(i)).Float32()
	}
	return &t
})

// Int8 quantises a []float32 to one signed byte a dimension with a
// symmetric scale of its own: the payload is the scale (the largest
// magnitude / 127, float32 little-endian) and each component's round(v /
// scale), in [-127, 127]. The error of a component is at most half a
// step, the largest magnitude / 254: a vector whose largest component
// stands far above the others (an outlier dimension) loses more of its
// small ones (docs/vectors.md). NaN and infinities are refused
// (ErrVectorRange): they have no scale; so is a vector whose largest
// component is under 1e-30 but for all zeros.
type Int8 struct{}

var _ Codec[[]float32] = Int8{}

// ID implements Codec.
func (Int8) ID() envelope.Codec { return envelope.CodecInt8 }

// SizeHint implements Codec.
func (Int8) SizeHint(v []float32) int { return 4 + len(v) }

// Incompressible implements Incompressible, as for Float32LE.
func (Int8) Incompressible() bool { return true }

// Append implements Codec.
func (Int8) Append(dst []byte, v []float32) ([]byte, error) {
	var most float32
	for i, f := range v {
		a := f
		if a < 0 {
			a = -a
		}
		if a != a || a > math.MaxFloat32 { // NaN, or an infinity
			return dst, fmt.Errorf("%w: component %d is %v, which 8-bit quantisation cannot hold", ErrVectorRange, i, f)
		}
		most = max(most, a)
	}
	if most != 0 && most < minInt8Magnitude {
		return dst, fmt.Errorf("%w: the largest component is %v, too small for a scale", ErrVectorRange, most)
	}
	scale := float64(most) / 127
	dst = growBy(dst, 4+len(v))
	dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(scale)))
	n := len(dst)
	dst = dst[:n+len(v)]
	q := dst[n:]
	if most == 0 {
		clear(q)
		return dst, nil
	}
	for i, f := range v {
		// In float64: round(f / scale) exactly, halves away from zero, in
		// [-127, 127] (the largest component is ±127 itself).
		q[i] = byte(int8(math.Round(float64(f) / scale)))
	}
	return dst, nil
}

// minInt8Magnitude is the least largest component Int8 scales: below it,
// the scale (a float32) would lose precision as a subnormal.
const minInt8Magnitude = 1e-30

// Decode implements Codec. It refuses a payload its encoder would not
// write: a scale that is not finite, is negative or makes components
// overflow, or is zero under codes that are not; a code of -128.
func (Int8) Decode(payload []byte) ([]float32, error) {
	if len(payload) < 4 {
		return nil, fmt.Errorf("%w: %d bytes holds no scale", envelope.ErrPayloadSize, len(payload))
	}
	scale := math.Float32frombits(binary.LittleEndian.Uint32(payload))
	if scale != scale || scale < 0 || scale > math.MaxFloat32/127 {
		return nil, fmt.Errorf("codec: an int8 vector's scale is %v", scale)
	}
	q := payload[4:]
	v := make([]float32, len(q))
	for i, b := range q {
		if b == 0x80 || scale == 0 && b != 0 {
			return nil, fmt.Errorf("codec: an int8 vector's code %d is none its encoder writes", int8(b))
		}
		v[i] = float32(int8(b)) * scale
	}
	return v, nil
}

// Vector returns the codec of the encoding enc of a []float32 kind:
// "float16", "int8", or Float32LE for "" and "float32".
func Vector(enc string) Codec[[]float32] {
	switch enc {
	case "float16":
		return Float16LE{}
	case "int8":
		return Int8{}
	}
	return Float32LE{}
}

// vectorReader returns the codec that reads a vector stored with codec
// stored, if it is one of the vector codecs.
func vectorReader(stored envelope.Codec) (Codec[[]float32], bool) {
	switch stored {
	case envelope.CodecFloat32LE:
		return Float32LE{}, true
	case envelope.CodecFloat16LE:
		return Float16LE{}, true
	case envelope.CodecInt8:
		return Int8{}, true
	}
	return nil, false
}

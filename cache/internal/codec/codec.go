// Package codec turns typed values into envelope payloads and back.
package codec

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"unsafe"

	"github.com/media-gateway/discovery/cache/internal/envelope"
)

// Codec encodes values of type V. Implementations are stateless and safe
// for concurrent use.
type Codec[V any] interface {
	// ID is the codec number written in the envelope.
	ID() envelope.Codec
	// Append appends the encoding of v to dst.
	Append(dst []byte, v V) ([]byte, error)
	// Decode decodes a payload. It never panics, whatever the bytes, and
	// neither modifies nor keeps payload.
	Decode(payload []byte) (V, error)
	// SizeHint estimates the encoded size of v, to size the buffer once;
	// 0 means unknown.
	SizeHint(v V) int
}

// JSON encodes any JSON-serialisable value with encoding/json.
type JSON[V any] struct{}

var _ Codec[any] = JSON[any]{}

// ID implements Codec.
func (JSON[V]) ID() envelope.Codec { return envelope.CodecJSON }

// Append implements Codec.
func (JSON[V]) Append(dst []byte, v V) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(growBy(dst, len(b)), b...), nil
}

// SizeHint implements Codec: JSON sizes are not known before encoding.
func (JSON[V]) SizeHint(V) int { return 0 }

// Decode implements Codec.
func (JSON[V]) Decode(payload []byte) (V, error) {
	var v V
	err := json.Unmarshal(payload, &v)
	return v, err
}

// Float32LE packs a []float32 as little-endian IEEE-754 words: 4 bytes a
// dimension, a third of the size of its JSON text and far cheaper to decode.
// NaN and infinities round-trip exactly.
type Float32LE struct{}

var _ Codec[[]float32] = Float32LE{}

// ID implements Codec.
func (Float32LE) ID() envelope.Codec { return envelope.CodecFloat32LE }

// SizeHint implements Codec.
func (Float32LE) SizeHint(v []float32) int { return 4 * len(v) }

// Append implements Codec.
func (Float32LE) Append(dst []byte, v []float32) ([]byte, error) {
	dst = growBy(dst, 4*len(v))
	if littleEndian && len(v) > 0 { // the memory layout is the wire layout
		return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))...), nil
	}
	for _, f := range v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(f))
	}
	return dst, nil
}

// Decode implements Codec.
func (Float32LE) Decode(payload []byte) ([]float32, error) {
	if len(payload)%4 != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of float32 values", envelope.ErrPayloadSize, len(payload))
	}
	v := make([]float32, len(payload)/4)
	if littleEndian && len(v) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(payload)), payload)
		return v, nil
	}
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(payload[4*i:]))
	}
	return v, nil
}

// Incompressible implements Incompressible: the float32 mantissas of a
// trained model's vectors look random to a compressor, which saves nothing
// on them, and trying costs a pass over every vector written. (Vectors
// that would compress, mostly zeros, are stored as they are too.)
func (Float32LE) Incompressible() bool { return true }

// Owner is implemented by codecs that can decode a payload they may keep:
// DecodeOwned is Decode for a payload that nobody else holds or changes
// (one just decompressed), which the value may point into instead of
// copying it.
type Owner[V any] interface {
	DecodeOwned(payload []byte) (V, error)
}

// Incompressible is implemented by codecs whose payloads are not worth
// offering to compression.
type Incompressible interface {
	Incompressible() bool
}

// littleEndian reports whether this machine stores a float32 in memory as
// the codec does on the wire, so that vectors can be copied as bytes.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// growBy makes room for n more bytes in dst, allocating at most once.
func growBy(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]byte, len(dst), len(dst)+n)
	copy(grown, dst)
	return grown
}

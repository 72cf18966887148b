package codec

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"unsafe"

	"github.com/fxamacker/cbor/v2"

	"github.com/media-gateway/discovery/cache/internal/envelope"
)

// CBOR encodes plain data (see Auto) as CBOR (RFC 8949), following the
// types' json tags: about three times faster to decode than JSON and twice
// as fast to encode, for values of the same shape.
//
// Decoding is safe on any bytes: the decoder checks that the whole input is
// well-formed before it allocates, so a length prefix can never make it
// allocate more than the input's size implies, and nesting is limited.
type CBOR[V any] struct{}

var _ Codec[any] = CBOR[any]{}

var (
	cborEnc, _ = cbor.EncOptions{
		// As encoding/json: a type's binary encoding is not its data.
		BinaryMarshaler: cbor.BinaryMarshalerNone,
	}.UserBufferEncMode()
	cborDec, _ = cbor.DecOptions{
		// Bounded by the input's size already (well-formedness is checked
		// first): the defaults would refuse large values that encoded
		// fine.
		MaxArrayElements: 1<<31 - 1,
		MaxMapPairs:      1<<31 - 1,
		MaxNestedLevels:  65535, // the most it allows; encoding/json stops at 10000
		// Strings round-trip as they were, like the []byte they came from.
		UTF8:              cbor.UTF8DecodeInvalid,
		BinaryUnmarshaler: cbor.BinaryUnmarshalerNone,
	}.DecMode()
)

// ID implements Codec.
func (CBOR[V]) ID() envelope.Codec { return envelope.CodecCBOR }

// Append implements Codec: it encodes into dst's spare capacity, growing it
// only when the value does not fit; through the type's plan when it has one
// (see plan), which writes the bytes the general encoder writes.
func (CBOR[V]) Append(dst []byte, v V) ([]byte, error) {
	if pl := planOf(reflect.TypeFor[V]()); pl != nil {
		return pl.enc(dst, unsafe.Pointer(&v)), nil
	}
	buf := bytes.NewBuffer(dst)
	if err := cborEnc.MarshalToBuffer(v, buf); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

// SizeHint implements Codec: CBOR sizes are not known before encoding.
func (CBOR[V]) SizeHint(V) int { return 0 }

// Decode implements Codec: through the type's plan when it has one (see
// plan), else, or when the plan gives up, with the general decoder.
func (c CBOR[V]) Decode(payload []byte) (V, error) { return c.decode(payload, false) }

// DecodeOwned implements Owner: the strings of a plan's value point into
// payload itself (when it is at most 64 KiB), with no copy.
func (c CBOR[V]) DecodeOwned(payload []byte) (V, error) { return c.decode(payload, true) }

func (CBOR[V]) decode(payload []byte, owned bool) (V, error) {
	var v V
	if pl := planOf(reflect.TypeFor[V]()); pl != nil {
		if pl.decode(payload, owned, unsafe.Pointer(&v)) {
			return v, nil
		}
		var zero V
		v = zero // a partial value
	}
	err := cborDec.Unmarshal(payload, &v)
	return v, err
}

// Auto returns the codec for values of type V: CBOR when V is plain data,
// whose CBOR and JSON encodings carry the same information (booleans,
// numbers, strings, and slices, arrays, maps, pointers and structs of
// them), and JSON otherwise: for interfaces (decoded into other types by
// the two), types with their own JSON, text or binary encoding (time.Time,
// url.URL), fields tagged ",string" or "cbor", and recursive types, whose
// values can hold a cycle: encoding/json reports it as an error, the CBOR
// encoder would recurse until the stack overflows.
func Auto[V any]() Codec[V] {
	if plainType(reflect.TypeFor[V]()) {
		return CBOR[V]{}
	}
	return JSON[V]{}
}

// plainType reports whether t is plain data (see Auto), once per type.
func plainType(t reflect.Type) bool {
	plain, ok := plainTypes.Load(t)
	if !ok {
		plain = isPlain(t, map[reflect.Type]bool{}, map[reflect.Type]bool{})
		plainTypes.Store(t, plain)
	}
	return plain.(bool)
}

// Reading returns the codec that decodes a value of cd's kind stored with
// codec stored: JSON for a JSON value read by a kind that now writes CBOR
// (values written before it did); for a view of an interface type (any:
// tools that read a kind's values without their type, such as cachectl),
// the stored codec, decoding as Any does (a JSON value is read by cd, as
// encoding/json reads it into an interface: numbers as float64); cd
// otherwise.
func Reading[V any](cd Codec[V], stored envelope.Codec) Codec[V] {
	switch {
	case stored == cd.ID():
		return cd
	case stored == envelope.CodecJSON && cd.ID() == envelope.CodecCBOR:
		return JSON[V]{}
	case reflect.TypeFor[V]() == reflect.TypeFor[[]float32]():
		// A vector written in another encoding (Policy.VectorEncoding), read
		// as []float32 whatever this view writes.
		if r, ok := vectorReader(stored); ok {
			return any(r).(Codec[V])
		}
		switch stored { // a kind of vectors that wrote plain data before
		case envelope.CodecCBOR:
			return CBOR[V]{}
		case envelope.CodecJSON:
			return JSON[V]{}
		}
	case reflect.TypeFor[V]().Kind() == reflect.Interface:
		return untyped[V]{stored}
	}
	return cd
}

// untyped reads values of any codec into V, an interface type, as Any
// decodes them; it writes nothing.
type untyped[V any] struct{ stored envelope.Codec }

func (u untyped[V]) ID() envelope.Codec { return u.stored }

func (u untyped[V]) Append(dst []byte, _ V) ([]byte, error) {
	return dst, fmt.Errorf("codec: a %s reader does not write", u.stored)
}

func (u untyped[V]) Decode(payload []byte) (V, error) {
	var zero V
	a, err := Any(u.stored, payload)
	if err != nil && u.stored == envelope.CodecCBOR {
		// Maps whose keys are not strings (a plain map[int]T) are
		// values too: keyed by what they hold.
		err = cborLoose.Unmarshal(payload, &a)
	}
	if err != nil {
		return zero, err
	}
	if a == nil { // a nil slice, map or pointer, stored as such
		return zero, nil
	}
	v, ok := a.(V)
	if !ok {
		return zero, fmt.Errorf("codec: a %s value decodes to %T, not %v", u.stored, a, reflect.TypeFor[V]())
	}
	return v, nil
}

func (untyped[V]) SizeHint(V) int { return 0 }

var plainTypes sync.Map // reflect.Type → bool

var (
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	cborMarshaler   = reflect.TypeFor[cbor.Marshaler]()
	cborUnmarshaler = reflect.TypeFor[cbor.Unmarshaler]()
	binMarshaler    = reflect.TypeFor[encoding.BinaryMarshaler]()
	binUnmarshaler  = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// isPlain reports whether values of t are plain data (see Auto). path
// holds the types being checked on the way down, so that a recursive type
// is seen (and refused); done holds the types already found plain.
func isPlain(t reflect.Type, path, done map[reflect.Type]bool) bool {
	if done[t] {
		return true
	}
	if path[t] {
		return false // recursive: a value may hold a cycle
	}
	path[t] = true
	defer delete(path, t)
	if !isPlainType(t, path, done) {
		return false
	}
	done[t] = true
	return true
}

func isPlainType(t reflect.Type, path, done map[reflect.Type]bool) bool {
	for _, i := range []reflect.Type{jsonMarshaler, jsonUnmarshaler, textMarshaler, textUnmarshaler,
		cborMarshaler, cborUnmarshaler, binMarshaler, binUnmarshaler} {
		if t.Implements(i) || reflect.PointerTo(t).Implements(i) {
			return false
		}
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	case reflect.Slice, reflect.Array, reflect.Pointer:
		return isPlain(t.Elem(), path, done)
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			return false
		}
		return isPlain(t.Key(), path, done) && isPlain(t.Elem(), path, done)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			if tag := f.Tag.Get("json"); tag == "-" {
				continue
			} else if hasOption(tag, "string") {
				return false
			}
			if _, ok := f.Tag.Lookup("cbor"); ok { // a CBOR-specific encoding: keep to JSON's
				return false
			}
			if !isPlain(f.Type, path, done) {
				return false
			}
		}
		return true
	}
	return false // interfaces, channels, functions, complex numbers, unsafe pointers
}

// hasOption reports whether a json tag lists option after its name.
func hasOption(tag, option string) bool {
	for i := 0; i < len(tag); {
		j := i
		for j < len(tag) && tag[j] != ',' {
			j++
		}
		if i > 0 && tag[i:j] == option {
			return true
		}
		i = j + 1
	}
	return false
}

// cborAny decodes CBOR into plain Go values that encoding/json can write:
// maps with string keys, []any, float64 and the like.
var cborAny, _ = cbor.DecOptions{
	MaxArrayElements:  1<<31 - 1,
	MaxMapPairs:       1<<31 - 1,
	MaxNestedLevels:   65535,
	UTF8:              cbor.UTF8DecodeInvalid,
	BinaryUnmarshaler: cbor.BinaryUnmarshalerNone,
	DefaultMapType:    reflect.TypeFor[map[string]any](),
}.DecMode()

// cborLoose decodes CBOR into plain Go values as cborAny does, but maps
// whose keys are not strings too (as map[any]any), which encoding/json
// cannot write: for views of type any, not for showing.
var cborLoose, _ = cbor.DecOptions{
	MaxArrayElements:  1<<31 - 1,
	MaxMapPairs:       1<<31 - 1,
	MaxNestedLevels:   65535,
	UTF8:              cbor.UTF8DecodeInvalid,
	BinaryUnmarshaler: cbor.BinaryUnmarshalerNone,
}.DecMode()

// Any decodes a payload stored with codec stored into plain Go values,
// whatever type wrote it: for looking at a value without its type
// (cachectl inspect, a view of type any). Numbers are exact: json.Number
// for JSON, int64 or uint64 for CBOR integers.
func Any(stored envelope.Codec, payload []byte) (any, error) {
	switch stored {
	case envelope.CodecJSON:
		// Numbers as written (json.Number): a 64-bit id must not round
		// through a float64.
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, errors.New("codec: JSON payload has data after its value")
		}
		return v, nil
	case envelope.CodecCBOR:
		var v any
		err := cborAny.Unmarshal(payload, &v)
		return v, err
	case envelope.CodecFloat32LE, envelope.CodecFloat16LE, envelope.CodecInt8:
		r, _ := vectorReader(stored)
		return r.Decode(payload)
	}
	return nil, fmt.Errorf("codec %s is unknown", stored)
}

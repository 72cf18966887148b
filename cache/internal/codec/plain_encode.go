package codec

import (
	"encoding/binary"
	"math"
	"reflect"
	"unsafe"
)

// The encoding half of plans (see plan): the bytes the general encoder
// writes, from the value's memory.

// encodeFunc appends the encoding of the value at p to dst: the bytes the
// general encoder writes for it (maps aside, whose order is Go's).
type encodeFunc func(dst []byte, p unsafe.Pointer) []byte

// encoder is a type's encodeFunc, and its emptiness as "omitempty" sees it
// in the general encoder: false, 0, an empty string, slice or map, a nil
// pointer, a struct whose fields are all "omitempty" and empty.
type encoder struct {
	enc   encodeFunc
	empty func(p unsafe.Pointer) bool
}

// appendHead appends the head of an item of major type major and argument
// arg, in its shortest form, as the general encoder does.
func appendHead(dst []byte, major byte, arg uint64) []byte {
	m := major << 5
	switch {
	case arg < 24:
		return append(dst, m|byte(arg))
	case arg <= math.MaxUint8:
		return append(dst, m|24, byte(arg))
	case arg <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(arg))
	case arg <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(arg))
	}
	return binary.BigEndian.AppendUint64(append(dst, m|27), arg)
}

func appendInt(dst []byte, v int64) []byte {
	if v < 0 {
		return appendHead(dst, 1, uint64(-1-v))
	}
	return appendHead(dst, 0, uint64(v))
}

// appendFloat appends f as the general encoder does without its shortest
// form: NaN and the infinities as half precision, the rest as the type's
// own width.
func appendFloat(dst []byte, f float64, wide bool) []byte {
	switch {
	case f != f:
		return append(dst, 0xf9, 0x7e, 0x00)
	case math.IsInf(f, 1):
		return append(dst, 0xf9, 0x7c, 0x00)
	case math.IsInf(f, -1):
		return append(dst, 0xf9, 0xfc, 0x00)
	case wide:
		return binary.BigEndian.AppendUint64(append(dst, 0xfb), math.Float64bits(f))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xfa), math.Float32bits(float32(f)))
}

var isZeroer = reflect.TypeFor[interface{ IsZero() bool }]()

// compileEncode returns the encoder of t, or nil where compileDecode
// returns nil.
func compileEncode(t reflect.Type) *encoder {
	switch t.Kind() {
	case reflect.Bool:
		return &encoder{
			enc: func(dst []byte, p unsafe.Pointer) []byte {
				if *(*bool)(p) {
					return append(dst, 0xf5)
				}
				return append(dst, 0xf4)
			},
			empty: func(p unsafe.Pointer) bool { return !*(*bool)(p) },
		}
	case reflect.String:
		return &encoder{
			enc: func(dst []byte, p unsafe.Pointer) []byte {
				s := *(*string)(p)
				return append(appendHead(dst, 3, uint64(len(s))), s...)
			},
			empty: func(p unsafe.Pointer) bool { return len(*(*string)(p)) == 0 },
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits()
		get := func(p unsafe.Pointer) int64 { // sign-extended from the low bits
			return int64(getBits(p, bits)<<(64-bits)) >> (64 - bits)
		}
		return &encoder{
			enc:   func(dst []byte, p unsafe.Pointer) []byte { return appendInt(dst, get(p)) },
			empty: func(p unsafe.Pointer) bool { return getBits(p, bits) == 0 },
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := t.Bits()
		return &encoder{
			enc:   func(dst []byte, p unsafe.Pointer) []byte { return appendHead(dst, 0, getBits(p, bits)) },
			empty: func(p unsafe.Pointer) bool { return getBits(p, bits) == 0 },
		}
	case reflect.Float32:
		return &encoder{
			enc:   func(dst []byte, p unsafe.Pointer) []byte { return appendFloat(dst, float64(*(*float32)(p)), false) },
			empty: func(p unsafe.Pointer) bool { return *(*float32)(p) == 0 },
		}
	case reflect.Float64:
		return &encoder{
			enc:   func(dst []byte, p unsafe.Pointer) []byte { return appendFloat(dst, *(*float64)(p), true) },
			empty: func(p unsafe.Pointer) bool { return *(*float64)(p) == 0 },
		}
	case reflect.Pointer:
		e := compileEncode(t.Elem())
		if e == nil {
			return nil
		}
		return &encoder{
			enc: func(dst []byte, p unsafe.Pointer) []byte {
				q := *(*unsafe.Pointer)(p)
				if q == nil {
					return append(dst, 0xf6)
				}
				return e.enc(dst, q)
			},
			empty: func(p unsafe.Pointer) bool { return *(*unsafe.Pointer)(p) == nil },
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		e := compileEncode(t.Elem())
		if e == nil {
			return nil
		}
		size := t.Elem().Size()
		return &encoder{
			enc: func(dst []byte, p unsafe.Pointer) []byte {
				h := (*sliceHeader)(p)
				if h.data == nil {
					return append(dst, 0xf6)
				}
				dst = appendHead(dst, 4, uint64(h.len))
				for i := range h.len {
					dst = e.enc(dst, unsafe.Add(h.data, uintptr(i)*size))
				}
				return dst
			},
			empty: func(p unsafe.Pointer) bool { return (*sliceHeader)(p).len == 0 },
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil
		}
		e := compileEncode(t.Elem())
		if e == nil {
			return nil
		}
		return &encoder{
			enc: func(dst []byte, p unsafe.Pointer) []byte {
				m := reflect.NewAt(t, p).Elem()
				if m.IsNil() {
					return append(dst, 0xf6)
				}
				dst = appendHead(dst, 5, uint64(m.Len()))
				k, v := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
				var it reflect.MapIter
				it.Reset(m)
				for it.Next() {
					k.SetIterKey(&it)
					v.SetIterValue(&it)
					s := k.String()
					dst = append(appendHead(dst, 3, uint64(len(s))), s...)
					dst = e.enc(dst, v.Addr().UnsafePointer())
				}
				return dst
			},
			empty: func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().Len() == 0 },
		}
	case reflect.Struct:
		return compileStructEncode(t)
	}
	return nil
}

// getBits loads an integer of that many bits at p, zero-extended: putBits'
// inverse.
func getBits(p unsafe.Pointer, bits int) uint64 {
	switch bits {
	case 8:
		return uint64(*(*uint8)(p))
	case 16:
		return uint64(*(*uint16)(p))
	case 32:
		return uint64(*(*uint32)(p))
	}
	return *(*uint64)(p)
}

type encField struct {
	key       []byte // the name's text string, head included
	offset    uintptr
	enc       *encoder
	omitEmpty bool
	omitZero  reflect.Type // the field's type, when "omitzero"
}

// omitted reports whether the field at p is left out, as the general
// encoder leaves it out.
func (f *encField) omitted(p unsafe.Pointer) bool {
	return f.omitEmpty && f.enc.empty(p) || f.omitZero != nil && reflect.NewAt(f.omitZero, p).Elem().IsZero()
}

// compileStructEncode returns the encoder of struct type t: a map of its
// fields, named as compileStruct names them, in their order, less those
// "omitempty" and "omitzero" leave out.
func compileStructEncode(t reflect.Type) *encoder {
	if compileStruct(t) == nil {
		return nil
	}
	var fields []encField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name := jsonName(f, tag)
		e := compileEncode(f.Type)
		if e == nil {
			return nil
		}
		ef := encField{key: append(appendHead(nil, 3, uint64(len(name))), name...), offset: f.Offset, enc: e, omitEmpty: hasOption(tag, "omitempty")}
		if hasOption(tag, "omitzero") {
			if f.Type.Implements(isZeroer) || reflect.PointerTo(f.Type).Implements(isZeroer) {
				return nil // its own IsZero, which the general encoder calls
			}
			ef.omitZero = f.Type
		}
		fields = append(fields, ef)
	}
	allOmitEmpty := true
	for _, f := range fields {
		allOmitEmpty = allOmitEmpty && f.omitEmpty
	}
	return &encoder{
		enc: func(dst []byte, p unsafe.Pointer) []byte {
			var omit uint64
			n := 0
			for j := range fields {
				if fields[j].omitted(unsafe.Add(p, fields[j].offset)) {
					omit |= 1 << j
				} else {
					n++
				}
			}
			dst = appendHead(dst, 5, uint64(n))
			for j := range fields {
				if omit&(1<<j) == 0 {
					dst = append(dst, fields[j].key...)
					dst = fields[j].enc.enc(dst, unsafe.Add(p, fields[j].offset))
				}
			}
			return dst
		},
		empty: func(p unsafe.Pointer) bool {
			if !allOmitEmpty {
				return false
			}
			for j := range fields {
				if !fields[j].enc.empty(unsafe.Add(p, fields[j].offset)) {
					return false
				}
			}
			return true
		},
	}
}

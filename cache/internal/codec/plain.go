package codec

import (
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/x448/float16"
)

// A plan decodes the CBOR that the encoder writes for one plain type
// without reflection on the way: compiled once per type, it walks the
// payload and stores each item straight into the value's memory, and the
// strings of a value share one copy of the payload instead of one
// allocation each. It covers the common shape of cached values (structs,
// slices, pointers and string-keyed maps of booleans, numbers and
// strings), and only the items the encoder writes for them, plus the
// values of keys no field has (skipped, as the general decoder skips
// them): anything else (a key that matches a field in another case, a
// duplicate key, an integer that does not fit, a tag, an indefinite
// length, a null where the type has no nil, a double for a float32) makes
// it give up, and the general decoder (fxamacker/cbor) decodes the
// payload from the start. So a plan never
// decides a payload's meaning on its own: what it decodes, the general
// decoder decodes to the same value (FuzzPlan checks it), and what it
// does not, the general decoder decodes or refuses as before.
type plan struct {
	dec decodeFunc
	enc encodeFunc
}

// decodeFunc decodes the next item of d into the value at p; false gives
// up (see plan).
type decodeFunc func(d *decoder, p unsafe.Pointer) bool

// aliasMax is the largest payload whose strings share its copy: a string
// kept from a larger value keeps at most this much memory alive; above it,
// each string is copied alone, as encoding/json does.
const aliasMax = 64 << 10

type decoder struct {
	b          []byte
	s          string // b's copy that strings point into, when len(b) <= aliasMax
	i          int
	alias      bool
	wellformed bool // checked and found so
}

// decode decodes payload into the zero value at p: false when the plan
// gave up, and then *p holds a partial value to throw away. The strings
// point into a copy of payload, or into payload itself when it is owned:
// nobody else holds or changes it.
func (pl *plan) decode(payload []byte, owned bool, p unsafe.Pointer) bool {
	d := decoder{b: payload, alias: len(payload) <= aliasMax}
	switch {
	case d.alias && owned:
		d.s = unsafe.String(unsafe.SliceData(payload), len(payload))
	case d.alias:
		d.s = string(payload)
	}
	return pl.dec(&d, p) && d.i == len(d.b)
}

var plans sync.Map // reflect.Type → *plan, nil when the type has none

// planOf returns the plan of t, or nil when t's values are not all of the
// shapes plans cover.
func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	var pl *plan
	if plainType(t) { // not marshalers, ",string" fields, recursive types
		dec, enc := compileDecode(t), compileEncode(t)
		if dec != nil && enc != nil {
			pl = &plan{dec: dec, enc: enc.enc}
		}
	}
	plans.Store(t, pl)
	return pl
}

// head reads the head of the next item: its major type, and its argument
// (a count, a length, an integer, or a float's bits). false for heads a
// plan does not take: reserved and indefinite lengths, and truncated input.
func (d *decoder) head() (major byte, arg uint64, ok bool) {
	if d.i >= len(d.b) {
		return 0, 0, false
	}
	c := d.b[d.i]
	major, ai := c>>5, c&31
	rest := d.b[d.i+1:]
	switch {
	case ai < 24:
		d.i++
		return major, uint64(ai), true
	case ai == 24 && len(rest) >= 1:
		d.i += 2
		return major, uint64(rest[0]), true
	case ai == 25 && len(rest) >= 2:
		d.i += 3
		return major, uint64(binary.BigEndian.Uint16(rest)), true
	case ai == 26 && len(rest) >= 4:
		d.i += 5
		return major, uint64(binary.BigEndian.Uint32(rest)), true
	case ai == 27 && len(rest) >= 8:
		d.i += 9
		return major, binary.BigEndian.Uint64(rest), true
	}
	return 0, 0, false
}

// length reads the head of an item of major type want and returns its
// count, when at least count<<shift bytes remain: so a count can never
// make a plan allocate more than the payload's size allows.
func (d *decoder) length(want byte, shift uint) (int, bool) {
	major, n, ok := d.head()
	if !ok || major != want || n > uint64(len(d.b)-d.i)>>shift {
		return 0, false
	}
	return int(n), true
}

// key reads a text string without copying it: a field's name.
func (d *decoder) key() ([]byte, bool) {
	n, ok := d.length(3, 0)
	if !ok {
		return nil, false
	}
	d.i += n
	return d.b[d.i-n : d.i], true
}

// skipDepth is the deepest a plan skips into a value it does not decode.
const skipDepth = 16

// skip skips the next item, at depth levels of nesting into the skipped
// value, when it can tell that the general decoder finds it well-formed:
// definite lengths within the payload, no tags, no simple value in two
// bytes, at most skipDepth levels deep (the general decoder allows more,
// but not without limit).
func (d *decoder) skip(depth int) bool {
	if depth > skipDepth || d.i >= len(d.b) || d.b[d.i] == 0xf8 {
		return false
	}
	major, n, ok := d.head()
	if !ok || major >= 2 && major <= 5 && n > uint64(len(d.b)-d.i) {
		return false
	}
	switch major {
	case 2, 3: // byte and text strings
		d.i += int(n)
	case 4, 5: // arrays, maps
		if major == 5 {
			n *= 2 // within the payload's length: no overflow
		}
		for range n {
			if !d.skip(depth + 1) {
				return false
			}
		}
	case 6: // tags
		return false
	}
	return true
}

// bigAlloc is the most a plan allocates for one slice or map before it
// checks that the whole payload is well-formed, as the general decoder
// checks it before it allocates anything: a count in a corrupt payload
// must not make it allocate more than a valid one could.
const bigAlloc = 64 << 10

// room reports whether the plan may allocate n items of size bytes: at
// once when small, else once the payload is known to be well-formed.
func (d *decoder) room(n int, size uintptr) bool {
	if uintptr(n)*size <= bigAlloc || d.wellformed {
		return true
	}
	d.wellformed = cborDec.Wellformed(d.b) == nil
	return d.wellformed
}

// text reads a text string.
func (d *decoder) text() (string, bool) {
	n, ok := d.length(3, 0)
	if !ok {
		return "", false
	}
	if n == 0 {
		return "", true
	}
	i := d.i
	d.i += n
	if d.alias {
		return d.s[i:d.i], true
	}
	return string(d.b[i:d.i]), true
}

// null reports whether the next item is null or undefined, and skips it.
func (d *decoder) null() bool {
	if d.i < len(d.b) && (d.b[d.i] == 0xf6 || d.b[d.i] == 0xf7) {
		d.i++
		return true
	}
	return false
}

// integer reads an integer as a sign and magnitude: the value is -1-mag
// when neg.
func (d *decoder) integer() (mag uint64, neg bool, ok bool) {
	major, arg, ok := d.head()
	if !ok || major > 1 {
		return 0, false, false
	}
	return arg, major == 1, true
}

// float reads a float: half or single precision (the encoder writes NaN
// and the infinities as half), and double when wide, for a float64. Each
// converts exactly, as the general decoder converts it.
func (d *decoder) float(wide bool) (float64, bool) {
	if d.i >= len(d.b) {
		return 0, false
	}
	c := d.b[d.i]
	if c != 0xf9 && c != 0xfa && (c != 0xfb || !wide) {
		return 0, false
	}
	_, bits, ok := d.head()
	switch c {
	case 0xf9:
		return float64(float16.Frombits(uint16(bits)).Float32()), ok
	case 0xfa:
		return float64(math.Float32frombits(uint32(bits))), ok
	}
	return math.Float64frombits(bits), ok
}

// compileDecode returns the decodeFunc of t, or nil when t is not covered.
// Types are plain (see isPlain): never recursive, so this ends.
func compileDecode(t reflect.Type) decodeFunc {
	switch t.Kind() {
	case reflect.Bool:
		return func(d *decoder, p unsafe.Pointer) bool {
			if d.i >= len(d.b) || d.b[d.i]&^1 != 0xf4 {
				return false
			}
			*(*bool)(p) = d.b[d.i] == 0xf5
			d.i++
			return true
		}
	case reflect.String:
		return func(d *decoder, p unsafe.Pointer) bool {
			s, ok := d.text()
			*(*string)(p) = s
			return ok
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits()
		return func(d *decoder, p unsafe.Pointer) bool {
			mag, neg, ok := d.integer()
			if !ok || mag > 1<<(bits-1)-1 {
				return false // one past the largest negative is refused too: the general decoder takes it
			}
			v := int64(mag)
			if neg {
				v = -1 - v
			}
			putBits(p, bits, uint64(v)) // two's complement: the low bits are the narrower int
			return true
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if t.Kind() == reflect.Uintptr {
			return nil
		}
		bits := t.Bits()
		return func(d *decoder, p unsafe.Pointer) bool {
			mag, neg, ok := d.integer()
			if !ok || neg || (bits < 64 && mag >= 1<<bits) {
				return false
			}
			putBits(p, bits, mag)
			return true
		}
	case reflect.Float32:
		return func(d *decoder, p unsafe.Pointer) bool {
			f, ok := d.float(false)
			*(*float32)(p) = float32(f)
			return ok
		}
	case reflect.Float64:
		return func(d *decoder, p unsafe.Pointer) bool {
			f, ok := d.float(true)
			*(*float64)(p) = f
			return ok
		}
	case reflect.Pointer:
		elem := t.Elem()
		dec := compileDecode(elem)
		if dec == nil {
			return nil
		}
		return func(d *decoder, p unsafe.Pointer) bool {
			if d.null() {
				*(*unsafe.Pointer)(p) = nil
				return true
			}
			q := reflect.New(elem).UnsafePointer()
			*(*unsafe.Pointer)(p) = q
			return dec(d, q)
		}
	case reflect.Slice:
		elem := t.Elem()
		if elem.Kind() == reflect.Uint8 {
			return nil // []byte is a byte string
		}
		dec := compileDecode(elem)
		if dec == nil {
			return nil
		}
		size, alloc := elem.Size(), allocator(t)
		return func(d *decoder, p unsafe.Pointer) bool {
			if d.null() {
				*(*sliceHeader)(p) = sliceHeader{}
				return true
			}
			n, ok := d.length(4, 0)
			if !ok || !d.room(n, size) {
				return false
			}
			data := alloc(p, n)
			for i := range n {
				if !dec(d, unsafe.Add(data, uintptr(i)*size)) {
					return false
				}
			}
			return true
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil
		}
		elem := t.Elem()
		dec := compileDecode(elem)
		if dec == nil {
			return nil
		}
		return func(d *decoder, p unsafe.Pointer) bool {
			mv := reflect.NewAt(t, p).Elem()
			if d.null() {
				mv.SetZero()
				return true
			}
			n, ok := d.length(5, 1)
			if !ok || !d.room(n, t.Key().Size()+elem.Size()) {
				return false
			}
			m := reflect.MakeMapWithSize(t, n)
			mv.Set(m)
			k, e := reflect.New(t.Key()).Elem(), reflect.New(elem)
			for range n {
				s, ok := d.text()
				if !ok {
					return false
				}
				e.Elem().SetZero()
				if !dec(d, e.UnsafePointer()) {
					return false
				}
				k.SetString(s)
				before := m.Len()
				m.SetMapIndex(k, e.Elem())
				if m.Len() == before {
					return false // a duplicate key
				}
			}
			return true
		}
	case reflect.Struct:
		return compileStruct(t)
	}
	return nil // arrays, interfaces and the rest: the general decoder
}

// allocator returns the function that makes the slice at p, of slice type
// t, n long, and returns its array: one allocation. Slices of strings and
// numbers are made as their underlying type, whose memory is laid out as
// t's (named types such as a "type Genre string" included); others
// through reflect.
func allocator(t reflect.Type) func(p unsafe.Pointer, n int) unsafe.Pointer {
	switch e := t.Elem(); e.Kind() {
	case reflect.String:
		return typedAlloc[string]
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		switch e.Size() {
		case 1:
			return typedAlloc[uint8]
		case 2:
			return typedAlloc[uint16]
		case 4:
			return typedAlloc[uint32]
		case 8:
			return typedAlloc[uint64]
		}
	}
	return func(p unsafe.Pointer, n int) unsafe.Pointer {
		sv := reflect.NewAt(t, p).Elem()
		if n == 0 {
			sv.Set(reflect.MakeSlice(t, 0, 0)) // empty, not nil, as the general decoder makes it
			return nil
		}
		sv.Grow(n)
		sv.SetLen(n)
		return sv.UnsafePointer()
	}
}

func typedAlloc[E any](p unsafe.Pointer, n int) unsafe.Pointer {
	s := make([]E, n)
	*(*[]E)(p) = s
	return unsafe.Pointer(unsafe.SliceData(s))
}

// putBits stores the low bits of v at p, an integer of that many bits.
func putBits(p unsafe.Pointer, bits int, v uint64) {
	switch bits {
	case 8:
		*(*uint8)(p) = uint8(v)
	case 16:
		*(*uint16)(p) = uint16(v)
	case 32:
		*(*uint32)(p) = uint32(v)
	default:
		*(*uint64)(p) = v
	}
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

type field struct {
	name   string
	offset uintptr
	dec    decodeFunc
}

// compileStruct returns the decodeFunc of struct type t, whose fields are
// named as encoding/json names them; nil for structs with embedded fields,
// a "cbor" tag on any field, a "_" field (which holds the general
// encoder's struct options), keys
// that are not names ("keyasint"), names that clash, or more than 64
// fields.
func compileStruct(t reflect.Type) decodeFunc {
	var fields []field
	seen := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil // promoted fields: the general decoder's rules
		}
		if _, ok := f.Tag.Lookup("cbor"); ok {
			return nil // a name or options of the general codec's own, even on a "-" field
		}
		if f.Name == "_" {
			return nil // options of the struct's own ("toarray")
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		if hasOption(tag, "keyasint") || hasOption(tag, "toarray") {
			return nil // keys that are not names
		}
		name := jsonName(f, tag)
		if !simpleName(name) || seen[name] {
			return nil
		}
		seen[name] = true
		dec := compileDecode(f.Type)
		if dec == nil {
			return nil
		}
		fields = append(fields, field{name: name, offset: f.Offset, dec: dec})
	}
	if len(fields) > 64 {
		return nil
	}
	return func(d *decoder, p unsafe.Pointer) bool {
		n, ok := d.length(5, 1)
		if !ok {
			return false
		}
		var done uint64
	pairs:
		for range n {
			key, ok := d.key()
			if !ok {
				return false
			}
			for j := range fields {
				if fields[j].name == string(key) {
					if done&(1<<j) != 0 {
						return false // a duplicate key
					}
					done |= 1 << j
					if !fields[j].dec(d, unsafe.Add(p, fields[j].offset)) {
						return false
					}
					continue pairs
				}
			}
			// A key of no field (a field the type lost since, or one a newer
			// writer added): the general decoder would match it to a field
			// whatever its case, or skip its value.
			for j := range fields {
				if strings.EqualFold(fields[j].name, string(key)) {
					return false
				}
			}
			if !d.skip(0) {
				return false
			}
		}
		return true
	}
}

// jsonName returns the name of field f with json tag tag, as
// encoding/json names it: the tag's name, else the field's.
func jsonName(f reflect.StructField, tag string) string {
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		return f.Name
	}
	return name
}

// simpleName reports whether a field's name is one that encoding/json and
// the general decoder take as it is.
func simpleName(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return s != "" && s != "-"
}

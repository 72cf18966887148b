package codec

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/fxamacker/cbor/v2"

	"github.com/media-gateway/discovery/internal/fixtures"
)

type genre string

type planLeaf struct {
	N int8
	U uint16
	F float32
	S string
	B bool
}

type planValue struct {
	ID     string              `json:"id"`
	Score  float64             `json:"score,omitempty"`
	Count  int                 `json:"count"`
	Big    uint64              // named as in Go
	Small  int32               `json:"small"`
	Tiny   uint8               `json:"tiny"`
	Tags   []string            `json:"tags"`
	Genre  genre               `json:"genre"`
	Leaf   planLeaf            `json:"leaf"`
	Ptr    *planLeaf           `json:"ptr"`
	PP     **int64             `json:"pp"`
	Items  []planLeaf          `json:"items"`
	Attrs  map[string]float64  `json:"attrs"`
	Names  map[genre][]genre   `json:"names"`
	Years  []int16             `json:"years"`
	Rates  []float32           `json:"rates"`
	Flags  []bool              `json:"flags"`
	Nested [][]string          `json:"nested"`
	ByName map[string]planLeaf `json:"by_name"`
	Skip   string              `json:"-"`
	hidden int
}

// planValues are values whose encodings a plan must decode as the general
// decoder does, without giving up.
func planValues() []planValue {
	n := int64(-7)
	pn := &n
	return []planValue{
		{},
		{ID: "tt0076759", Score: 9.5, Count: -3, Big: math.MaxUint64, Small: math.MinInt32, Tiny: 255,
			Tags: []string{"space", "", "opera"}, Genre: "sci-fi", Leaf: planLeaf{N: -128, U: 65535, F: 1.5, S: "é", B: true},
			Ptr: &planLeaf{S: "x"}, PP: &pn, Items: []planLeaf{{N: 127}, {}}, Attrs: map[string]float64{"a": math.Inf(-1), "": 0},
			Names: map[genre][]genre{"x": {"y"}, "z": nil}, Years: []int16{1977, -1}, Rates: []float32{float32(math.NaN()), -0.0},
			Flags: []bool{true, false}, Nested: [][]string{{"a"}, {}, nil}, ByName: map[string]planLeaf{"k": {S: "v"}}},
		{Tags: []string{}, Items: []planLeaf{}, Attrs: map[string]float64{}, Score: math.NaN(), Big: 1 << 63, Count: math.MinInt},
		{Score: math.SmallestNonzeroFloat64, Count: math.MaxInt, Rates: []float32{math.MaxFloat32, math.SmallestNonzeroFloat32}},
	}
}

// same reports whether a and b are the same value, NaNs included: their
// encodings, with maps sorted, are equal.
func same(t testing.TB, a, b any) bool {
	t.Helper()
	em, err := cbor.EncOptions{Sort: cbor.SortBytewiseLexical}.EncMode()
	if err != nil {
		t.Fatal(err)
	}
	ea, err1 := em.Marshal(a)
	eb, err2 := em.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return bytes.Equal(ea, eb)
}

// mustMarshal encodes v with the general encoder's defaults.
func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// planDecode decodes payload with V's plan only.
func planDecode[V any](t testing.TB, payload []byte) (V, bool) {
	t.Helper()
	pl := planOf(reflect.TypeFor[V]())
	if pl == nil {
		t.Fatalf("%v has no plan", reflect.TypeFor[V]())
	}
	var v V
	ok := pl.decode(payload, false, unsafe.Pointer(&v))
	return v, ok
}

func general[V any](payload []byte) (V, error) {
	var v V
	err := cborDec.Unmarshal(payload, &v)
	return v, err
}

// Every value the encoder writes is decoded by the plan, to what the
// general decoder makes of it.
func TestPlanDecodesWhatTheEncoderWrites(t *testing.T) {
	check := func(name string, v any, payload []byte, got any, ok bool, want any, err error) {
		t.Helper()
		if !ok {
			t.Errorf("%s: the plan gave up on the encoder's bytes %x", name, payload)
			return
		}
		if err != nil {
			t.Fatalf("%s: general decoder: %v", name, err)
		}
		if !same(t, got, want) || !same(t, got, v) {
			t.Errorf("%s: plan decoded %+v, general decoder %+v, stored %+v", name, got, want, v)
		}
	}
	for i, v := range planValues() {
		b, err := CBOR[planValue]{}.Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := planDecode[planValue](t, b)
		want, err := general[planValue](b)
		check("planValue "+itoa(i), v, b, got, ok, want, err)
		if ok && !reflect.DeepEqual(got.Tags == nil, want.Tags == nil) {
			t.Errorf("value %d: nil and empty slices differ: plan %#v, general %#v", i, got.Tags, want.Tags)
		}
		// The same value behind a pointer, and in a slice.
		bp, _ := CBOR[*planValue]{}.Append(nil, &v)
		gotP, ok := planDecode[*planValue](t, bp)
		wantP, err := general[*planValue](bp)
		check("*planValue "+itoa(i), &v, bp, gotP, ok, wantP, err)
	}
	hits := fixtures.Hits(20)
	b, _ := CBOR[[]fixtures.Hit]{}.Append(nil, hits)
	got, ok := planDecode[[]fixtures.Hit](t, b)
	want, err := general[[]fixtures.Hit](b)
	check("hits", hits, b, got, ok, want, err)
	if !reflect.DeepEqual(got, hits) {
		t.Errorf("hits: plan decoded %+v, stored %+v", got, hits)
	}
	var nilHits []fixtures.Hit
	b, _ = CBOR[[]fixtures.Hit]{}.Append(nil, nilHits)
	got, ok = planDecode[[]fixtures.Hit](t, b)
	if !ok || got != nil {
		t.Errorf("a nil slice decoded to %#v (plan took it: %v)", got, ok)
	}
	for _, s := range []string{"", "a", strings.Repeat("x", 23), strings.Repeat("y", 24), strings.Repeat("z", 70000)} {
		b, _ := CBOR[string]{}.Append(nil, s)
		got, ok := planDecode[string](t, b)
		if !ok || got != s {
			t.Errorf("a string of %d bytes: plan took it: %v, equal: %v", len(s), ok, got == s)
		}
	}
}

// Payloads the encoder does not write make the plan give up, and Decode
// answers as the general decoder does.
func TestPlanGivesUp(t *testing.T) {
	enc := func(v any) []byte { return mustMarshal(t, v) }
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"a key in another case", enc(map[string]any{"ID": "x"})},
		{"a key of no field in another case", enc(map[string]any{"id": "x", "SCORE": 1.5})},
		{"a key of no field with a tagged value", enc(map[string]any{"id": "x", "when": cbor.Tag{Number: 1, Content: 5}})},
		{"a key of no field with an indefinite value", []byte{0xa2, 0x62, 'i', 'd', 0x61, 'x', 0x61, 'z', 0x9f, 0xff}},
		{"a key of no field with a malformed simple value", []byte{0xa2, 0x62, 'i', 'd', 0x61, 'x', 0x61, 'z', 0xf8, 0x10}},
		{"a key of no field nested too deep", append([]byte{0xa2, 0x62, 'i', 'd', 0x61, 'x', 0x61, 'z'}, append(bytes.Repeat([]byte{0x81}, skipDepth+1), 0x00)...)},
		{"a key of no field cut short", []byte{0xa2, 0x62, 'i', 'd', 0x61, 'x', 0x61, 'z', 0x82, 0x01}},
		{"a duplicate key", []byte{0xa2, 0x62, 'i', 'd', 0x61, 'a', 0x62, 'i', 'd', 0x61, 'b'}},
		{"an indefinite-length map", []byte{0xbf, 0x62, 'i', 'd', 0x61, 'a', 0xff}},
		{"an indefinite-length string", []byte{0xa1, 0x62, 'i', 'd', 0x7f, 0x61, 'a', 0xff}},
		{"the self-described tag", append([]byte{0xd9, 0xd9, 0xf7}, enc(map[string]any{"id": "x"})...)},
		{"an integer score", []byte{0xa1, 0x65, 's', 'c', 'o', 'r', 'e', 0x01}},
		{"a float count", enc(map[string]any{"count": 1.0})},
		{"an int32 that overflows", enc(map[string]any{"small": int64(math.MaxInt32) + 1})},
		{"a uint8 that overflows", enc(map[string]any{"tiny": 256})},
		{"a negative uint", enc(map[string]any{"tiny": -1})},
		{"null for a struct", enc(map[string]any{"leaf": nil})},
		{"null for a string", enc(map[string]any{"id": nil})},
		{"a byte string for a string", enc(map[string]any{"id": []byte("x")})},
		{"a float64 for a float32", []byte{0xa1, 0x64, 'l', 'e', 'a', 'f', 0xa1, 0x61, 'F', 0xfb, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"an array too long for its bytes", []byte{0xa1, 0x64, 't', 'a', 'g', 's', 0x9a, 0xff, 0xff, 0xff, 0xff}},
		{"a map too long for its bytes", []byte{0xba, 0x7f, 0xff, 0xff, 0xff}},
		{"a string past the end", []byte{0xa1, 0x62, 'i', 'd', 0x65, 'a'}},
		{"bytes after the value", append(enc(map[string]any{"id": "x"}), 0x00)},
		{"nothing", nil},
		{"an array for the struct", []byte{0x80}},
		{"a reserved head", []byte{0xbc}},
	} {
		if _, ok := planDecode[planValue](t, tc.payload); ok {
			t.Errorf("%s: the plan took %x", tc.name, tc.payload)
		}
		got, err := CBOR[planValue]{}.Decode(tc.payload)
		want, werr := general[planValue](tc.payload)
		if (err == nil) != (werr == nil) || !same(t, got, want) {
			t.Errorf("%s: Decode gave %+v, %v; the general decoder %+v, %v", tc.name, got, err, want, werr)
		}
	}
}

// Keys of no field, of a type that lost fields or of a newer writer's,
// are skipped by the plan as the general decoder skips them: values of
// every shape it can tell well-formed, nested up to skipDepth.
func TestPlanSkipsKeysOfNoField(t *testing.T) {
	enc := func(v any) []byte { return mustMarshal(t, v) }
	for _, v := range []any{
		map[string]any{"id": "x", "removed": 1},
		map[string]any{"id": "x", "old": []any{1, "two", 3.5, nil, true, []byte{1}}, "count": 7},
		map[string]any{"gone": map[string]any{"a": []any{map[string]any{"b": -1}}}, "score": 2.5},
		map[string]any{"id": "x", "n": uint64(math.MaxUint64), "f": float32(1.5), "h": math.Inf(1)},
		// In nested structs too.
		map[string]any{"leaf": map[string]any{"S": "x", "gone": []any{1}}, "items": []any{map[string]any{"N": 1, "q": "r"}}},
	} {
		b := enc(v)
		got, ok := planDecode[planValue](t, b)
		want, err := general[planValue](b)
		if !ok || err != nil || !same(t, got, want) {
			t.Errorf("%v: the plan took it: %v, decoded %+v; the general decoder %+v, %v", v, ok, got, want, err)
		}
	}
	deep := append([]byte{0xa2, 0x62, 'i', 'd', 0x61, 'x', 0x61, 'z'}, append(bytes.Repeat([]byte{0x81}, skipDepth), 0x00)...)
	if _, ok := planDecode[planValue](t, deep); !ok {
		t.Errorf("a value of no field %d deep: the plan gave up", skipDepth)
	}
}

// The plan's skipping of keys of no field mirrors the general decoder
// under these options only: with duplicate keys refused, unknown fields
// reported, other simple values or NaN refused, it would accept what the
// general decoder refuses. A change of cborDec must revisit skip.
func TestPlanAssumesTheDecoderOptions(t *testing.T) {
	o := cborDec.DecOptions()
	if o.DupMapKey != cbor.DupMapKeyQuiet || o.ExtraReturnErrors != cbor.ExtraDecErrorNone || o.SimpleValues != nil ||
		o.NaN != cbor.NaNDecodeAllowed || o.Inf != cbor.InfDecodeAllowed || o.UTF8 != cbor.UTF8DecodeInvalid ||
		o.FieldNameMatching != cbor.FieldNameMatchingPreferCaseSensitive || o.IndefLength != cbor.IndefLengthAllowed {
		t.Errorf("the general decoder's options changed: %+v", o)
	}
}

// Which types have a plan: the shapes it covers, and nothing with a byte
// string, an array, an embedded struct or a name the two decoders could
// read differently.
func TestPlanCoverage(t *testing.T) {
	type withBytes struct{ B []byte }
	type withArray struct{ A [3]float32 }
	type embedded struct {
		planLeaf
		X int
	}
	type clash struct {
		A string `json:"B"`
		B string
	}
	type oddName struct {
		A string `json:"a b"`
	}
	type intKeys struct{ M map[int]string }
	type asArray struct {
		_ struct{} `cbor:",toarray"`
		A string
	}
	type keyAsInt struct {
		A string `json:"1,keyasint"`
	}
	type dashWithCBOR struct {
		A string `json:"a"`
		X int    `json:"-" cbor:"x"`
	}
	type cborOptions struct {
		X int `cbor:",omitempty"`
	}
	type recursive struct{ Next *recursive }
	type quotedNumber struct {
		N int `json:"n,string"`
	}
	type sixtyFour struct {
		F0, F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, F13, F14, F15, F16, F17, F18, F19, F20, F21, F22, F23, F24, F25, F26, F27, F28, F29, F30, F31 int
		G0, G1, G2, G3, G4, G5, G6, G7, G8, G9, G10, G11, G12, G13, G14, G15, G16, G17, G18, G19, G20, G21, G22, G23, G24, G25, G26, G27, G28, G29, G30, G31 int
	}
	type many struct {
		F0, F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, F13, F14, F15, F16, F17, F18, F19, F20, F21, F22, F23, F24, F25, F26, F27, F28, F29, F30, F31 int
		G0, G1, G2, G3, G4, G5, G6, G7, G8, G9, G10, G11, G12, G13, G14, G15, G16, G17, G18, G19, G20, G21, G22, G23, G24, G25, G26, G27, G28, G29, G30, G31 int
		H                                                                                                                                                    int
	}
	for _, tc := range []struct {
		t    reflect.Type
		want bool
	}{
		{reflect.TypeFor[[]fixtures.Hit](), true},
		{reflect.TypeFor[planValue](), true},
		{reflect.TypeFor[map[string][]float64](), true},
		{reflect.TypeFor[string](), true},
		{reflect.TypeFor[withBytes](), false},
		{reflect.TypeFor[withArray](), false},
		{reflect.TypeFor[embedded](), false},
		{reflect.TypeFor[clash](), false},
		{reflect.TypeFor[oddName](), false},
		{reflect.TypeFor[intKeys](), false},
		{reflect.TypeFor[asArray](), false},
		{reflect.TypeFor[keyAsInt](), false},
		{reflect.TypeFor[many](), false},
		{reflect.TypeFor[uintptr](), false},
		{reflect.TypeFor[dashWithCBOR](), false},
		{reflect.TypeFor[cborOptions](), false},
		{reflect.TypeFor[recursive](), false},
		{reflect.TypeFor[quotedNumber](), false},
		{reflect.TypeFor[custom](), false},
		{reflect.TypeFor[sixtyFour](), true},
	} {
		if got := planOf(tc.t) != nil; got != tc.want {
			t.Errorf("%v: has a plan: %v, want %v", tc.t, got, tc.want)
		}
	}
}

// Strings of a payload up to aliasMax share one copy of it; larger
// payloads' strings are copied one by one. Either way, they are copies:
// changing the payload afterwards changes nothing decoded.
func TestPlanStrings(t *testing.T) {
	// A payload of "x" and a string of m bytes: 1 + 2 + (1 + headLen(m)) + m
	// bytes; m = aliasMax-6 makes it exactly aliasMax.
	for _, m := range []int{3, aliasMax - 6, aliasMax - 5, 70000} {
		v := []string{"x", strings.Repeat("a", m)}
		b, _ := CBOR[[]string]{}.Append(nil, v)
		if len(b) != 4+headLen(m)+m {
			t.Fatalf("payload of %d bytes, want %d", len(b), 4+headLen(m)+m)
		}
		got, ok := planDecode[[]string](t, b)
		if !ok {
			t.Fatal("the plan gave up")
		}
		for i := range b {
			b[i] = 0
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("strings of a payload of %d bytes changed with the payload", len(b))
		}
		gap := uintptr(unsafe.Pointer(unsafe.StringData(got[1]))) - uintptr(unsafe.Pointer(unsafe.StringData(got[0])))
		shared := gap == uintptr(2+headLen(m)) // "x", then the second string's head
		if want := len(b) <= aliasMax; shared != want {
			t.Errorf("payload of %d bytes: strings share its copy: %v, want %v", len(b), shared, want)
		}
	}
}

// A count in a corrupt payload makes a plan allocate no more than the
// general decoder would: large slices and maps wait for the payload to be
// found well-formed.
func TestPlanCorruptCountAllocatesLittle(t *testing.T) {
	payload := append([]byte{0x9a, 0x00, 0x10, 0x00, 0x00}, bytes.Repeat([]byte{0xff}, 1<<20)...) // 1 Mi hits claimed, none there
	mapPayload := append([]byte{0xba, 0x00, 0x08, 0x00, 0x00}, bytes.Repeat([]byte{0xff}, 1<<20)...)
	for _, tc := range []struct {
		name   string
		decode func() bool
	}{
		{"slice", func() bool { _, ok := planDecode[[]fixtures.Hit](t, payload); return ok }},
		{"map", func() bool { _, ok := planDecode[map[string]planLeaf](t, mapPayload); return ok }},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ok := tc.decode()
		runtime.ReadMemStats(&after)
		if ok {
			t.Fatalf("%s: the plan took a corrupt payload", tc.name)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: the plan allocated %d bytes for a corrupt payload of 1 MiB", tc.name, n)
		}
	}
	// A valid payload as large still decodes through the plan.
	hits := make([]fixtures.Hit, 5000)
	b, _ := CBOR[[]fixtures.Hit]{}.Append(nil, hits)
	if got, ok := planDecode[[]fixtures.Hit](t, b); !ok || len(got) != len(hits) {
		t.Errorf("5,000 empty hits: the plan took them: %v", ok)
	}
}

// DecodeOwned's strings point into the payload itself, Decode's into a
// copy.
func TestPlanOwned(t *testing.T) {
	b, _ := CBOR[[]string]{}.Append(nil, []string{"a heist thriller", "space opera"})
	within := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		start := uintptr(unsafe.Pointer(&b[0]))
		return start <= p && p < start+uintptr(len(b))
	}
	owned, err := CBOR[[]string]{}.DecodeOwned(b)
	if err != nil || !within(owned[0]) || !within(owned[1]) {
		t.Errorf("DecodeOwned: %q, %v; strings within the payload: %v %v", owned, err, within(owned[0]), within(owned[1]))
	}
	copied, err := CBOR[[]string]{}.Decode(b)
	if err != nil || within(copied[0]) || within(copied[1]) {
		t.Errorf("Decode: %q, %v; strings within the payload: %v %v", copied, err, within(copied[0]), within(copied[1]))
	}
}

// headLen is the size of a text string's head for a length of n.
func headLen(n int) int {
	switch {
	case n < 24:
		return 0
	case n < 256:
		return 1
	case n < 65536:
		return 2
	}
	return 4
}

// FuzzPlan feeds any bytes to the plans of several types: whatever a plan
// decodes, the general decoder decodes without error to the same value.
func FuzzPlan(f *testing.F) {
	for _, v := range planValues() {
		b, _ := CBOR[planValue]{}.Append(nil, v)
		f.Add(b)
	}
	b, _ := CBOR[[]fixtures.Hit]{}.Append(nil, fixtures.Hits(3))
	f.Add(b)
	b, _ = CBOR[map[string][]float64]{}.Append(nil, map[string][]float64{"a": {1, 2}, "b": nil})
	f.Add(b)
	f.Add([]byte{0xa2, 0x62, 'i', 'd', 0x61, 'a', 0x62, 'i', 'd', 0x61, 'b'})
	for _, v := range []any{ // keys of no field, skipped
		map[string]any{"id": "x", "old": []any{1, "two", 3.5, nil, true, []byte{1}}, "count": 7},
		map[string]any{"gone": map[string]any{"a": []any{map[string]any{"b": -1}}}, "score": 2.5},
	} {
		b, _ := cbor.Marshal(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		fuzzPlan[planValue](t, payload)
		fuzzPlan[[]fixtures.Hit](t, payload)
		fuzzPlan[map[string][]float64](t, payload)
		fuzzPlan[*planLeaf](t, payload)
		fuzzPlan[[]int8](t, payload)
		fuzzPlan[[]uint64](t, payload)
		fuzzPlan[[]int](t, payload)
		fuzzPlan[[]float64](t, payload)
		fuzzPlan[[]**string](t, payload)
		fuzzPlan[map[genre]*planLeaf](t, payload)
	})
}

func fuzzPlan[V any](t *testing.T, payload []byte) {
	got, ok := planDecode[V](t, payload)
	if !ok {
		return
	}
	want, err := general[V](payload)
	if err != nil {
		t.Fatalf("%v: the plan decoded %x to %+v; the general decoder refused it: %v", reflect.TypeFor[V](), payload, got, err)
	}
	if !same(t, got, want) {
		t.Fatalf("%v: %x: the plan decoded %+v, the general decoder %+v", reflect.TypeFor[V](), payload, got, want)
	}
}

type emptyish struct {
	A string `json:"a,omitempty"`
	B *int   `json:"b,omitempty"`
}

type notEmptyish struct {
	A string `json:"a,omitempty"`
	B int
}

type omitted struct {
	A  string         `json:"a,omitempty"`
	B  int8           `json:"b,omitempty"`
	U  uint32         `json:"u,omitempty"`
	F  float64        `json:"f,omitempty"`
	G  float32        `json:"g,omitempty"`
	S  []int          `json:"s,omitempty"`
	M  map[string]int `json:"m,omitempty"`
	P  *int           `json:"p,omitempty"`
	E  emptyish       `json:"e,omitempty"`
	N  notEmptyish    `json:"n,omitempty"`
	T  bool           `json:"t,omitempty"`
	Z  planLeaf       `json:"z,omitzero"`
	ZF float64        `json:"zf,omitzero"`
	ZP *int           `json:"zp,omitzero"`
	ZS []int          `json:"zs,omitzero"`
	ZE emptyish       `json:"ze,omitempty,omitzero"`
}

// omittedValues exercise omitempty and omitzero: zero values, negative
// zeros, empty but not nil slices and maps, structs empty or not.
func omittedValues() []omitted {
	zero := 0
	return []omitted{
		{},
		{F: math.Copysign(0, -1), G: float32(math.Copysign(0, -1)), ZF: math.Copysign(0, -1), S: []int{}, M: map[string]int{}, ZS: []int{}, E: emptyish{B: &zero}},
		{A: "a", B: -1, U: 1, F: math.NaN(), G: 1, S: []int{1}, M: map[string]int{"k": 1}, P: &zero, E: emptyish{A: "x"}, N: notEmptyish{},
			T: true, Z: planLeaf{S: "z"}, ZF: 1, ZP: &zero, ZS: []int{0}, ZE: emptyish{A: "y"}},
	}
}

// The plan writes the general encoder's bytes: the same bytes wherever
// the order of a map's keys cannot differ (no map of two keys or more),
// else the same length and the same value.
func TestPlanEncodesAsTheGeneralEncoder(t *testing.T) {
	for i, v := range planValues() {
		checkEncode(t, "planValue "+itoa(i), v, len(v.Attrs) < 2 && len(v.Names) < 2 && len(v.ByName) < 2)
		checkEncode(t, "*planValue "+itoa(i), &v, len(v.Attrs) < 2 && len(v.Names) < 2 && len(v.ByName) < 2)
	}
	for i, v := range omittedValues() {
		checkEncode(t, "omitted "+itoa(i), v, true)
	}
	checkEncode(t, "hits", fixtures.Hits(20), true)
	checkEncode(t, "nil hits", []fixtures.Hit(nil), true)
	checkEncode(t, "a long string", strings.Repeat("x", 70000), true)
	for _, n := range []int64{0, 23, 24, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64, -1, -24, -25, -256, -257, math.MinInt64} {
		checkEncode(t, "int "+strconvItoa(n), n, true)
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1.5, math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64} {
		checkEncode(t, "float64", f, true)
		checkEncode(t, "float32", float32(f), true)
	}
}

func strconvItoa(n int64) string { return fmt.Sprint(n) }

// checkEncode encodes v with its plan and with the general encoder and
// compares: bytes when exact, else lengths and decoded values.
func checkEncode[V any](t *testing.T, name string, v V, exact bool) {
	t.Helper()
	pl := planOf(reflect.TypeFor[V]())
	if pl == nil {
		t.Fatalf("%s: %v has no plan", name, reflect.TypeFor[V]())
	}
	got := pl.enc(nil, unsafe.Pointer(&v))
	want, err := cborEnc.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if exact && !bytes.Equal(got, want) {
		t.Errorf("%s: the plan wrote %x, the general encoder %x", name, got, want)
		return
	}
	a, err1 := general[V](got)
	b, err2 := general[V](want)
	if len(got) != len(want) || err1 != nil || err2 != nil || !same(t, a, b) {
		t.Errorf("%s: the plan wrote %x (%v), the general encoder %x (%v)", name, got, err1, want, err2)
	}
}

// FuzzPlanEncode encodes, with the plan and with the general encoder,
// whatever values the general decoder makes of any bytes.
func FuzzPlanEncode(f *testing.F) {
	for _, v := range planValues() {
		b, _ := cborEnc.Marshal(v)
		f.Add(b)
	}
	for _, v := range omittedValues() {
		b, _ := cborEnc.Marshal(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if v, err := general[planValue](payload); err == nil {
			checkEncode(t, "planValue", v, false)
		}
		if v, err := general[omitted](payload); err == nil {
			checkEncode(t, "omitted", v, false)
		}
		if v, err := general[[]fixtures.Hit](payload); err == nil {
			checkEncode(t, "hits", v, true)
		}
	})
}

func itoa(i int) string { return string(rune('0' + i)) }

// BenchmarkPlan compares a plan's decoding and encoding of 20 search hits
// with the general decoder's and encoder's, on the same value.
func BenchmarkPlan(b *testing.B) {
	hits := fixtures.Hits(20)
	payload, _ := CBOR[[]fixtures.Hit]{}.Append(nil, hits)
	buf := make([]byte, 0, 4096)
	b.Run("encode/general", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			w := bytes.NewBuffer(buf[:0])
			if err := cborEnc.MarshalToBuffer(hits, w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/plan", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := (CBOR[[]fixtures.Hit]{}).Append(buf[:0], hits); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/general", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := general[[]fixtures.Hit](payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/plan", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := (CBOR[[]fixtures.Hit]{}).Decode(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}

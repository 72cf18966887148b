package codec

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache/internal/envelope"
)

type plainHit struct {
	ID       string            `json:"id"`
	Title    string            `json:"title,omitempty"`
	Score    float64           `json:"score"`
	Tags     []string          `json:"tags,omitempty"`
	Extra    map[string]int    `json:"extra"`
	Next     *plainLeaf        `json:"next,omitempty"`
	Prev     *plainLeaf        `json:"prev,omitempty"` // the same type twice is not recursion
	ByID     map[int64][]uint8 `json:"by_id"`
	Skipped  chan int          `json:"-"`
	internal func()
}

type plainLeaf struct{ ID string }

type node struct {
	Name     string
	Children []*node
}

type withTime struct{ At time.Time }

type withAny struct{ V any }

type quoted struct {
	N int `json:"n,string"`
}

type custom struct{ s string }

func (c custom) MarshalJSON() ([]byte, error) { return json.Marshal(c.s) }

type embedsCustom struct {
	custom
	Name string
}

// Auto picks CBOR only where CBOR and JSON carry the same information.
func TestAuto(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  Codec[any]
		id   envelope.Codec
	}{
		{"plain struct", as[plainHit](), envelope.CodecCBOR},
		{"slice of plain structs", as[[]plainHit](), envelope.CodecCBOR},
		{"string", as[string](), envelope.CodecCBOR},
		{"map of ints", as[map[string]int](), envelope.CodecCBOR},
		{"time.Time field", as[withTime](), envelope.CodecJSON},
		{"interface field", as[withAny](), envelope.CodecJSON},
		{"any", as[any](), envelope.CodecJSON},
		{"map[string]any", as[map[string]any](), envelope.CodecJSON},
		{",string option", as[quoted](), envelope.CodecJSON},
		{"custom MarshalJSON", as[custom](), envelope.CodecJSON},
		{"embedded custom MarshalJSON", as[embedsCustom](), envelope.CodecJSON},
		{"json.RawMessage", as[json.RawMessage](), envelope.CodecJSON},
		{"map[bool]int", as[map[bool]int](), envelope.CodecJSON},
		{"recursive type (a value may hold a cycle)", as[node](), envelope.CodecJSON},
		{"url.URL (binary marshaler)", as[url.URL](), envelope.CodecJSON},
	} {
		if id := tc.got.ID(); id != tc.id {
			t.Errorf("%s: %s, want %s", tc.name, id, tc.id)
		}
	}
}

// as returns Auto's choice for V, as a Codec[any] that only reports the ID.
func as[V any]() Codec[any] { return idOnly{Auto[V]().ID()} }

type idOnly struct{ id envelope.Codec }

func (i idOnly) ID() envelope.Codec                     { return i.id }
func (idOnly) Append(dst []byte, _ any) ([]byte, error) { return dst, nil }
func (idOnly) Decode([]byte) (any, error)               { return nil, nil }
func (idOnly) SizeHint(any) int                         { return 0 }

// Plain values round-trip through CBOR as they do through JSON (invalid
// UTF-8 even better: kept as it was), and a CBOR kind reads JSON values
// written before it.
func TestCBORRoundTrip(t *testing.T) {
	in := []plainHit{{ID: "tt0076759", Title: "Star Wars ✓ \xff", Score: 0.98, Tags: []string{"a"},
		Extra: map[string]int{"x": 1}, Next: &plainLeaf{ID: "n"}, ByID: map[int64][]uint8{7: {1, 2}}}}
	b, err := CBOR[[]plainHit]{}.Append([]byte("hdr"), in)
	if err != nil || !strings.HasPrefix(string(b), "hdr") {
		t.Fatalf("Append: %q, %v", b, err)
	}
	out, err := CBOR[[]plainHit]{}.Decode(b[3:])
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("round trip: %+v, %v; want %+v", out, err, in)
	}
	j, _ := json.Marshal(in)
	if len(b)-3 >= len(j) {
		t.Errorf("CBOR %d bytes, JSON %d: want CBOR smaller", len(b)-3, len(j))
	}
	if cd := Reading[[]plainHit](CBOR[[]plainHit]{}, envelope.CodecJSON); cd.ID() != envelope.CodecJSON {
		t.Errorf("a CBOR kind reads a JSON value with %s", cd.ID())
	}
	if cd := Reading[[]plainHit](CBOR[[]plainHit]{}, envelope.CodecFloat32LE); cd.ID() != envelope.CodecCBOR {
		t.Errorf("a CBOR kind reads a float32 value with %s; it must refuse it as CBOR", cd.ID())
	}
}

// Hostile bytes: a length prefix far beyond the input, and deep nesting,
// are refused without allocating what they claim.
func TestCBORHostileInput(t *testing.T) {
	for name, in := range map[string][]byte{
		"array of 2^31 elements":   {0x9a, 0x80, 0, 0, 0},
		"string of 2^63 bytes":     {0x7b, 0x80, 0, 0, 0, 0, 0, 0, 0},
		"nesting beyond the limit": []byte(strings.Repeat("\x81", 70000) + "\x00"),
		"truncated map":            {0xa2, 0x61, 'a'},
	} {
		if _, err := (CBOR[[]plainHit]{}).Decode(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if allocs := testing.AllocsPerRun(3, func() { CBOR[[]plainHit]{}.Decode(in) }); allocs > 20 {
			t.Errorf("%s: %v allocations", name, allocs)
		}
	}
}

// A view of type any (a tool reading a kind's values without their type)
// reads every codec a kind may write, numbers exact: it used to read a
// CBOR value as JSON, fail, and take it for a miss (cachectl warm then
// replaced the service's value).
func TestReadingUntyped(t *testing.T) {
	const big = 9007199254740993 // 2^53 + 1: a float64 would round it
	type item struct {
		ID   int64    `json:"id"`
		Tags []string `json:"tags"`
	}
	cborPayload, err := CBOR[item]{}.Append(nil, item{ID: big, Tags: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	vec, _ := Float32LE{}.Append(nil, []float32{0.5, -1})
	for _, tc := range []struct {
		stored  envelope.Codec
		payload []byte
		want    string
	}{
		{envelope.CodecCBOR, cborPayload, `{"id":9007199254740993,"tags":["a"]}`},
		{envelope.CodecFloat32LE, vec, `[0.5,-1]`},
	} {
		cd := Reading[any](JSON[any]{}, tc.stored)
		if cd.ID() != tc.stored {
			t.Errorf("reading %s with an any view: codec %s", tc.stored, cd.ID())
		}
		v, err := cd.Decode(tc.payload)
		if err != nil {
			t.Errorf("reading %s with an any view: %v", tc.stored, err)
			continue
		}
		if got, _ := json.Marshal(v); string(got) != tc.want {
			t.Errorf("reading %s with an any view = %s; want %s", tc.stored, got, tc.want)
		}
	}
	// Any, as inspect uses it, keeps JSON's numbers exact too (a view of
	// type any reading JSON decodes as encoding/json does).
	if v, err := Any(envelope.CodecJSON, []byte(`{"id":9007199254740993}`)); err != nil || fmt.Sprint(v) != "map[id:9007199254740993]" {
		t.Errorf("Any of JSON = %v, %v; want the id exact", v, err)
	}
	for _, bad := range []string{`1 2`, `{"a":1}}`, `[1]]`} {
		if _, err := Any(envelope.CodecJSON, []byte(bad)); err == nil {
			t.Errorf("Any of %s: no error", bad)
		}
	}
	// Values an any view must take as values: a nil slice (an empty
	// result) and a map keyed by integers, both stored as CBOR.
	nilSlice, _ := CBOR[[]item]{}.Append(nil, nil)
	intKeys, _ := CBOR[map[int]string]{}.Append(nil, map[int]string{7: "x"})
	for name, payload := range map[string][]byte{"a nil slice": nilSlice, "a map keyed by integers": intKeys} {
		if _, err := Reading[any](JSON[any]{}, envelope.CodecCBOR).Decode(payload); err != nil {
			t.Errorf("an any view reading %s: %v", name, err)
		}
	}
	if cd := Reading[item](JSON[item]{}, envelope.CodecFloat32LE); cd.ID() != envelope.CodecJSON {
		t.Errorf("a typed view reading another codec: %s; want its own (the mismatch is an error)", cd.ID())
	}
	if _, err := Reading[any](JSON[any]{}, envelope.CodecCBOR).Append(nil, 1); err == nil {
		t.Error("an untyped reader wrote")
	}
}

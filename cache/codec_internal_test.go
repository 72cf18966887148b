package cache

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache/internal/codec"
	"github.com/media-gateway/discovery/cache/internal/envelope"
	"github.com/media-gateway/discovery/internal/fixtures"
)

type migratedHit struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
}

// Search values of plain types are written as CBOR; values written as JSON
// before are still read.
func TestSearchWritesCBORReadsJSON(t *testing.T) {
	ctx := context.Background()
	c := privateServer(t, Config{})
	search := Search[string, []migratedHit](c)
	old, _ := search.Key("old")
	buf, _ := encode[[]migratedHit](codec.JSON[[]migratedHit]{}, []migratedHit{{ID: "json", Score: 1}}, time.Now(), nil)
	if err := c.setBytes(ctx, old, buf, time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := search.Get(ctx, "old"); err != nil || !ok || v[0].ID != "json" {
		t.Fatalf("a JSON value: %v %v %v", v, ok, err)
	}
	if err := search.Set(ctx, "new", []migratedHit{{ID: "cbor", Score: 2}}); err != nil {
		t.Fatal(err)
	}
	key, _ := search.Key("new")
	raw, _, err := c.getBytes(ctx, key)
	if err != nil || len(raw) < envelope.HeaderSize || envelope.Codec(raw[2]) != envelope.CodecCBOR {
		t.Fatalf("stored %x, %v; want a CBOR envelope", raw, err)
	}
	if v, ok, err := search.Get(ctx, "new"); err != nil || !ok || v[0].ID != "cbor" {
		t.Fatalf("a CBOR value: %v %v %v", v, ok, err)
	}
}

// A decoded value never points into the bytes read, which belong to the
// caller; a value decompressed into a buffer of its own points into that
// buffer, with no other copy, and is the same value.
func TestDecodeKeepsNoStoredBytes(t *testing.T) {
	hits := fixtures.Hits(20)
	cd := codec.Auto[[]fixtures.Hit]()
	plain, err := encode(cd, hits, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		raw        []byte
		compressed bool
	}{{"plain", plain, false}, {"compressed", envelope.Seal(append([]byte(nil), plain...), 1), true}} {
		if got := envelope.Flags(tc.raw[3])&envelope.FlagS2 != 0; got != tc.compressed {
			t.Fatalf("%s: compressed %v", tc.name, got)
		}
		v, _, err := decode(cd, tc.raw, 1<<20)
		if err != nil || !reflect.DeepEqual(v, hits) {
			t.Fatalf("%s: decoded %v, %v", tc.name, v, err)
		}
		for i := range tc.raw {
			tc.raw[i] = 0
		}
		if !reflect.DeepEqual(v, hits) {
			t.Errorf("%s: the value changed with the bytes it was read from", tc.name)
		}
	}
	// Each way makes one copy of the payload that the strings point into:
	// the plain one copies it, the compressed one decompresses it and keeps
	// that buffer, with no second copy.
	plain, _ = encode(cd, hits, time.Now(), nil) // the bytes above were zeroed
	compressed := envelope.Seal(append([]byte(nil), plain...), 1)
	allocs := func(raw []byte) float64 {
		if v, _, err := decode(cd, raw, 1<<20); err != nil || !reflect.DeepEqual(v, hits) {
			t.Fatalf("decoded %v, %v", v, err)
		}
		return testing.AllocsPerRun(100, func() { decode(cd, raw, 1<<20) })
	}
	if p, c := allocs(plain), allocs(compressed); c != p {
		t.Errorf("decoding allocates %v times plain, %v times compressed: a decompressed payload is copied again", p, c)
	}
}

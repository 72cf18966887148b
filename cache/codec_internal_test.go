package cache

import (
	"context"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache/internal/codec"
	"github.com/media-gateway/discovery/cache/internal/envelope"
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

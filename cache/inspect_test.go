package cache_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/fixtures"
)

// Inspect describes what is under a key, whatever wrote it, and changes
// nothing.
func TestInspect(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, []fixtures.Hit](c)
	if err := search.Set(ctx, "the last empire", fixtures.Hits(20)); err != nil {
		t.Fatal(err)
	}
	vectors := embeddings(t, c, "m")
	if err := vectors.Set(ctx, "text", []float32{0.5, -1}); err != nil {
		t.Fatal(err)
	}
	key, _ := search.Key("the last empire")
	before := c.Stats().Kinds[cache.KindSearch]
	in, err := c.Inspect(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	hits, _ := in.Value.([]any)
	first, _ := hits[0].(map[string]any)
	if !in.Exists || in.Kind != cache.KindSearch || in.Codec != "cbor" || !in.Compressed || in.Size == 0 || in.Payload <= in.Size ||
		in.TTL <= 0 || in.TTL > 30*time.Minute || time.Since(in.WrittenAt) > time.Minute || len(hits) != 20 || first["title"] == nil || in.DecodeError != "" {
		t.Errorf("Inspect of a search result = %+v", in)
	}
	if after := c.Stats().Kinds[cache.KindSearch]; after.Hits != before.Hits || after.Misses != before.Misses {
		t.Errorf("Inspect counted as a read: %+v, then %+v", before, after)
	}
	vkey, _ := vectors.Key("text")
	if in, err := c.Inspect(ctx, vkey); err != nil || in.Codec != "float32le" || in.Compressed || fmt.Sprint(in.Value) != "[0.5 -1]" {
		t.Errorf("Inspect of an embedding = %+v, %v", in, err)
	}
	raw := rawClient(t, redisURL(t))
	foreign := c.Namespace() + ":search:foreign"
	if err := raw.Do(ctx, raw.B().Set().Key(foreign).Value("plain bytes").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if in, err := c.Inspect(ctx, foreign); err != nil || !in.Exists || in.TTL != -1 || in.Codec != "" || in.DecodeError == "" || in.Size != 11 {
		t.Errorf("Inspect of foreign bytes = %+v, %v; want them described, with a DecodeError", in, err)
	}
	plain := c.Namespace() + ":search:plain"
	if err := raw.Do(ctx, raw.B().Set().Key(plain).Value(`{"id":9007199254740993}`).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if in, err := c.Inspect(ctx, plain); err != nil || !in.Plain || in.DecodeError != "" || fmt.Sprint(in.Value) != "map[id:9007199254740993]" {
		t.Errorf("Inspect of plain JSON = %+v, %v; want it decoded, marked Plain", in, err)
	}
	if in, err := c.Inspect(ctx, c.Namespace()+":search:none"); err != nil || in.Exists {
		t.Errorf("Inspect of a missing key = %+v, %v", in, err)
	}
	if _, err := c.Inspect(ctx, ""); !errors.Is(err, cache.ErrInvalidArgument) {
		t.Errorf("Inspect of an empty key: %v", err)
	}
}

// Clear with a dry run counts and removes nothing; without, it removes,
// reporting progress; Kind and All are exclusive.
func TestClearOptions(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[int, int](c)
	for i := range 2500 {
		if err := search.Set(ctx, i, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := cache.Intents[string](c, "").Set(ctx, "q", "play"); err != nil {
		t.Fatal(err)
	}
	var reports []int64
	n, err := c.Clear(ctx, cache.ClearOptions{Kind: cache.KindSearch, DryRun: true, Progress: func(d int64) { reports = append(reports, d) }})
	if n != 2500 || err != nil || len(reports) < 2 || reports[len(reports)-1] != 2500 {
		t.Fatalf("dry run = %d, %v, reports %v; want 2500, reported in batches", n, err, reports)
	}
	if n, err := c.Clear(ctx, cache.ClearOptions{All: true, DryRun: true}); n != 2501 || err != nil {
		t.Errorf("dry run of all = %d, %v; want 2501", n, err)
	}
	if _, ok, _ := search.Get(ctx, 7); !ok {
		t.Fatal("a dry run removed a value")
	}
	reports = nil
	if n, err := c.Clear(ctx, cache.ClearOptions{Kind: cache.KindSearch, Progress: func(d int64) { reports = append(reports, d) }}); n != 2500 || err != nil || reports[len(reports)-1] != 2500 {
		t.Errorf("Clear = %d, %v, reports %v", n, err, reports)
	}
	if n, err := c.Clear(ctx, cache.ClearOptions{All: true}); n != 1 || err != nil {
		t.Errorf("Clear all = %d, %v; want 1", n, err)
	}
	for _, o := range []cache.ClearOptions{{}, {Kind: "search", All: true}, {Kind: "se*", DryRun: true}} {
		if _, err := c.Clear(ctx, o); !errors.Is(err, cache.ErrInvalidArgument) {
			t.Errorf("Clear(%+v): %v; want ErrInvalidArgument", o, err)
		}
	}
}

package cache_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// The original service's key: prefix, ':' and the hex SHA-256 of the JSON
// text of the input, computed here from JSON written by hand.
func rustKey(prefix, jsonText string) string {
	sum := sha256.Sum256([]byte(jsonText))
	return prefix + ":" + hex.EncodeToString(sum[:])
}

type rustHit struct {
	ID    string  `json:"id"`
	Title string  `json:"title"`
	Score float64 `json:"score"`
}

// rustQuery has the fields of the original service's query struct, in its
// order, so that encoding/json writes what serde_json writes.
type rustQuery struct {
	Query string `json:"query"`
	Limit int    `json:"limit"`
}

type rustIntent struct {
	Action   string            `json:"action"`
	Entities map[string]string `json:"entities"`
}

// legacyServer starts a private server (the original service's keys have
// no namespace, so these tests must not share one) holding values written
// exactly as the original service writes them: SET key json EX ttl.
func legacyServer(t *testing.T) (*redistest.Server, rueidis.Client) {
	t.Helper()
	srv := redistest.Start(t)
	raw := rawClient(t, srv.URL())
	ctx := ctxT(t)
	for key, val := range map[string]string{
		rustKey("search", `"star wars"`):                        `[{"id":"tt0076759","title":"Star Wars","score":0.98}]`,
		rustKey("search", `{"query":"alien","limit":20}`):       `[{"id":"tt0078748","title":"Alien","score":0.99}]`,
		rustKey("intent", `"movies like Alien"`):                `{"action":"recommend","entities":{"like":"Alien"}}`,
		rustKey("embedding", `"a heist thriller set in Paris"`): `[0.25,-1.5,3.0,1e-7]`,
	} {
		if err := raw.Do(ctx, raw.B().Set().Key(key).Value(val).ExSeconds(1800).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	return srv, raw
}

func legacyCache(t *testing.T, url string, mode cache.Legacy) *cache.RedisCache {
	t.Helper()
	c, err := cache.New(ctxT(t), cache.Config{URL: url, Legacy: mode, LegacyEmbeddingModel: "text-embedding-3-small"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkRustValues reads the original service's values through c.
func checkRustValues(t *testing.T, c *cache.RedisCache) {
	t.Helper()
	ctx := ctxT(t)
	hits, ok, err := cache.Search[string, []rustHit](c).Get(ctx, "star wars")
	if err != nil || !ok || len(hits) != 1 || hits[0].Title != "Star Wars" {
		t.Errorf("search by string: %v, %v, %v", hits, ok, err)
	}
	hits, ok, err = cache.Search[rustQuery, []rustHit](c).Get(ctx, rustQuery{Query: "alien", Limit: 20})
	if err != nil || !ok || len(hits) != 1 || hits[0].Title != "Alien" {
		t.Errorf("search by struct: %v, %v, %v", hits, ok, err)
	}
	in, ok, err := cache.Intents[rustIntent](c, "").Get(ctx, "movies like Alien")
	if err != nil || !ok || in.Action != "recommend" || in.Entities["like"] != "Alien" {
		t.Errorf("intent: %+v, %v, %v", in, ok, err)
	}
	vec, ok, err := embeddings(t, c, "text-embedding-3-small").Get(ctx, "a heist thriller set in Paris")
	if err != nil || !ok || !reflect.DeepEqual(vec, []float32{0.25, -1.5, 3, 1e-7}) {
		t.Errorf("embedding: %v, %v, %v", vec, ok, err)
	}
	// What the original service did not have never reads its keys.
	if _, ok, _ := embeddings(t, c, "another-model").Get(ctx, "a heist thriller set in Paris"); ok {
		t.Error("another model read the original service's vector")
	}
	if _, ok, _ := cache.Intents[rustIntent](c, "parser-2").Get(ctx, "movies like Alien"); ok {
		t.Error("a versioned parser read the original service's intent")
	}
}

// With LegacyReadWrite the two services share keys and values: each reads
// what the other writes.
func TestLegacyReadWrite(t *testing.T) {
	t.Parallel()
	srv, raw := legacyServer(t)
	c := legacyCache(t, srv.URL(), cache.LegacyReadWrite)
	ctx := ctxT(t)
	checkRustValues(t, c)

	search := cache.Search[string, []rustHit](c)
	if key, _ := search.Key("star wars"); key != rustKey("search", `"star wars"`) {
		t.Errorf("Key = %s, want the original service's key", key)
	}
	// Written as the original service writes: plain JSON, under its key.
	for _, w := range []struct {
		set  func() error
		key  string
		want any
		ttl  time.Duration
	}{
		{func() error { return search.Set(ctx, "dune", []rustHit{{ID: "tt1160419", Title: "Dune", Score: 0.9}}) },
			rustKey("search", `"dune"`), []rustHit{{ID: "tt1160419", Title: "Dune", Score: 0.9}}, 30 * time.Minute},
		{func() error { return cache.Intents[rustIntent](c, "").Set(ctx, "dune", rustIntent{Action: "play"}) },
			rustKey("intent", `"dune"`), rustIntent{Action: "play"}, 10 * time.Minute},
		{func() error { return embeddings(t, c, "text-embedding-3-small").Set(ctx, "dune", []float32{0.5, -2}) },
			rustKey("embedding", `"dune"`), []float32{0.5, -2}, time.Hour},
	} {
		if err := w.set(); err != nil {
			t.Fatal(err)
		}
		got, err := raw.Do(ctx, raw.B().Get().Key(w.key).Build()).ToString()
		if err != nil {
			t.Fatalf("%s: %v", w.key, err)
		}
		want, _ := json.Marshal(w.want)
		if got != string(want) {
			t.Errorf("%s holds %q, want the plain JSON %q", w.key, got, want)
		}
		if pttl, _ := raw.Do(ctx, raw.B().Pttl().Key(w.key).Build()).AsInt64(); pttl <= 0 || pttl > w.ttl.Milliseconds() {
			t.Errorf("%s expires in %d ms, want (0, %v]", w.key, pttl, w.ttl)
		}
	}
	// A value of this cache's own format under a shared key is read too.
	off := newCache(t)
	if err := cache.Search[string, []rustHit](off).Set(ctx, "x", []rustHit{{Title: "X"}}); err != nil {
		t.Fatal(err)
	}
	offKey, _ := cache.Search[string, []rustHit](off).Key("x")
	enveloped, _ := rawClient(t, redisURL(t)).Do(ctx, raw.B().Get().Key(offKey).Build()).AsBytes()
	raw.Do(ctx, raw.B().Set().Key(rustKey("search", `"x"`)).Value(string(enveloped)).Build())
	if v, ok, err := search.Get(ctx, "x"); !ok || err != nil || v[0].Title != "X" {
		t.Errorf("this cache's format under a shared key: %v, %v, %v", v, ok, err)
	}
	// Kinds the original service did not have keep this cache's keys.
	if key, _ := embeddings(t, c, "another-model").Key("dune"); !strings.HasPrefix(key, "discovery:embedding:") {
		t.Errorf("another model's key %s, want this cache's", key)
	}
}

// With LegacyRead this cache keeps its own keys and format, and reads the
// original service's keys after a miss, without writing them.
func TestLegacyRead(t *testing.T) {
	t.Parallel()
	srv, raw := legacyServer(t)
	c := legacyCache(t, srv.URL(), cache.LegacyRead)
	ctx := ctxT(t)
	checkRustValues(t, c)
	if st := c.Stats().Kinds[cache.KindSearch]; st.Hits != 2 || st.Misses != 0 {
		t.Errorf("search figures %+v; a value found under the original key is a hit", st)
	}

	search := cache.Search[string, []rustHit](c)
	rk := rustKey("search", `"star wars"`)
	before, _ := raw.Do(ctx, raw.B().Get().Key(rk).Build()).ToString()
	if _, err := search.Fetch(ctx, "star wars", func(context.Context) ([]rustHit, error) {
		t.Error("loader called although the original service holds the value")
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := search.Set(ctx, "star wars", []rustHit{{Title: "Star Wars (1977)"}}); err != nil {
		t.Fatal(err)
	}
	if after, _ := raw.Do(ctx, raw.B().Get().Key(rk).Build()).ToString(); after != before {
		t.Errorf("the original service's value changed: %q, was %q", after, before)
	}
	if v, _, _ := search.Get(ctx, "star wars"); len(v) != 1 || v[0].Title != "Star Wars (1977)" {
		t.Errorf("after Set, Get = %v; want this cache's own value first", v)
	}
	key, _ := search.Key("star wars")
	if !strings.HasPrefix(key, "discovery:search:") {
		t.Errorf("Key = %s, want this cache's own key", key)
	}
	// An invalidation holds: Delete removes both keys.
	if ok, err := search.Delete(ctx, "star wars"); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if _, ok, _ := search.Get(ctx, "star wars"); ok {
		t.Error("a deleted value is read back from the original service's key")
	}
}

// Clears touch the original service's keys of the cleared kinds and
// nothing else that shares its prefixes.
func TestLegacyClears(t *testing.T) {
	t.Parallel()
	srv, raw := legacyServer(t)
	c := legacyCache(t, srv.URL(), cache.LegacyReadWrite)
	ctx := ctxT(t)
	foreign := []string{"search:history:42", "search:" + strings.Repeat("a", 63), "search:" + strings.Repeat("A", 64),
		"intent:" + strings.Repeat("0", 65), "other:" + strings.Repeat("0", 64), "discoveryX:search:1"}
	for _, k := range foreign {
		raw.Do(ctx, raw.B().Set().Key(k).Value("foreign").Build())
	}
	if err := cache.Set(ctx, c, "user:1", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, err := c.ClearKind(ctx, cache.KindSearch); err != nil || n != 2 {
		t.Errorf("ClearKind(search) = %d, %v; want the 2 search values", n, err)
	}
	if _, ok, _ := cache.Intents[rustIntent](c, "").Get(ctx, "movies like Alien"); !ok {
		t.Error("clearing search removed an intent")
	}
	if n, err := c.ClearAll(ctx); err != nil || n != 3 {
		t.Errorf("ClearAll = %d, %v; want the intent, the vector and user:1", n, err)
	}
	for _, k := range foreign {
		if n, _ := raw.Do(ctx, raw.B().Exists().Key(k).Build()).AsInt64(); n != 1 {
			t.Errorf("foreign key %s was removed", k)
		}
	}
}

func TestLegacyConfig(t *testing.T) {
	for name, cfg := range map[string]cache.Config{
		"unknown mode":         {Legacy: 7},
		"model without a mode": {LegacyEmbeddingModel: "m"},
	} {
		if _, err := cache.New(context.Background(), cfg); !errors.Is(err, cache.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	for _, l := range []cache.Legacy{cache.LegacyOff, cache.LegacyRead, cache.LegacyReadWrite} {
		t.Setenv("CACHE_LEGACY", l.String())
		if cfg, err := cache.ConfigFromEnv(); err != nil || cfg.Legacy != l {
			t.Errorf("CACHE_LEGACY=%s: %v, %v", l, cfg.Legacy, err)
		}
	}
	t.Setenv("CACHE_LEGACY", "readwrite")
	if _, err := cache.ConfigFromEnv(); !errors.Is(err, cache.ErrInvalidConfig) {
		t.Errorf("CACHE_LEGACY=readwrite: %v, want ErrInvalidConfig", err)
	}
}

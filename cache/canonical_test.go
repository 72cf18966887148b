package cache_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
)

// With Policy.CanonicalKeys, spellings that cannot differ in meaning share
// one key and one value; texts that differ never do; the key is not the
// exact text's; embeddings and the original service's keys refuse it.
func TestCanonicalKeys(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindSearch: {CanonicalKeys: true}, "queries": {CanonicalKeys: true}}
	})
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	loads := 0
	load := func(v string) cache.LoaderFunc[string] {
		return func(context.Context) (string, error) { loads++; return v, nil }
	}
	if v, err := search.Fetch(ctx, "Tom Hanks comedies from the '90s!", load("hanks-90s")); err != nil || v != "hanks-90s" {
		t.Fatalf("Fetch = %q, %v", v, err)
	}
	if v, err := search.Fetch(ctx, "90s comedies with tom hanks", load("other")); err != nil || v != "hanks-90s" || loads != 1 {
		t.Errorf("a paraphrase: %q, %v after %d loads; want the first spelling's value, one load", v, err, loads)
	}
	if v, _ := search.Fetch(ctx, "80s comedies with tom hanks", load("hanks-80s")); v != "hanks-80s" || loads != 2 {
		t.Errorf("another decade: %q after %d loads; want its own value", v, loads)
	}
	exact := cache.Search[string, string](newCache(t))
	k1, _ := search.Key("90s comedies with tom hanks")
	k2, _ := exact.Key("90s comedies with tom hanks")
	if k1[len(k1)-64:] == k2[len(k2)-64:] {
		t.Error("the canonical key is the exact text's hash")
	}
	if f := cache.CanonicalForm("Tom Hanks comedies from the '90s!"); f != "1990s | comedies | tom hanks" {
		t.Errorf("CanonicalForm = %q", f)
	}
	// A query type of its own, of a string kind, is keyed the same way.
	type query string
	q1, _ := cache.NewKind[query, string](c, "queries", time.Minute)
	kq1, _ := q1.Key("Tom Hanks comedies from the '90s!")
	kq2, _ := q1.Key("90s comedies with tom hanks")
	if kq1 != kq2 {
		t.Error("a kind of a string type of its own ignored CanonicalKeys")
	}
	// Intents hash the canonical form with the parser version.
	ic := newCache(t, func(cfg *cache.Config) { cfg.Policy.CanonicalKeys = true })
	a, _ := cache.Intents[string](ic, "p1").Key("Show me sci-fi movies")
	b, _ := cache.Intents[string](ic, "p1").Key("scifi films")
	p2, _ := cache.Intents[string](ic, "p2").Key("scifi films")
	e1, _ := cache.Embeddings(ic, "m")
	v1, _ := e1.Key("scifi films")
	v2, _ := e1.Key("sci-fi movies")
	if a != b || a == p2 || v1 == v2 {
		t.Errorf("intents %v %v %v, embeddings %v %v: want one intent key per parser for the paraphrases, embeddings by exact text", a, b, p2, v1, v2)
	}

	for name, cfg := range map[string]cache.Config{
		"embedding": {Policies: map[string]cache.Policy{cache.KindEmbedding: {CanonicalKeys: true}}},
		"custom":    {Policies: map[string]cache.Policy{cache.KindCustom: {CanonicalKeys: true}}},
		"legacy":    {Legacy: cache.LegacyReadWrite, Policies: map[string]cache.Policy{cache.KindSearch: {CanonicalKeys: true}}},
	} {
		cfg.URL = redisURL(t)
		if _, err := cache.New(ctx, cfg); !errors.Is(err, cache.ErrInvalidConfig) || !strings.Contains(err.Error(), "CanonicalKeys") {
			t.Errorf("%s with CanonicalKeys: %v; want ErrInvalidConfig", name, err)
		}
	}
}

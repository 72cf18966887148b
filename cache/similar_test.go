package cache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/jsonshape"
)

// vector returns a unit-ish vector of dims dimensions drawn from seed:
// one seed, one vector; two seeds, two nearly orthogonal vectors.
func vector(seed uint64, dims int) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// near returns v moved towards w by a small step: a cosine similarity to
// v of about 1-eps.
func nudge(v []float32, seed uint64, eps float64) []float32 {
	w := vector(seed, len(v))
	out := make([]float32, len(v))
	for i := range v {
		out[i] = v[i] + float32(math.Sqrt(2*eps))*w[i]
	}
	return out
}

func loader(loads *int, v string) cache.LoaderFunc[string] {
	return func(context.Context) (string, error) { *loads++; return v, nil }
}

func nearConfig(mode cache.NearMatchMode, model string) func(*cache.Config) {
	return func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindSearch: {NearMatch: cache.NearMatch{Mode: mode, Model: model}}}
	}
}

// waitEntries waits until the kind's near-match streams in c's namespace
// hold n entries (they are added in the background).
func waitEntries(t *testing.T, c *cache.RedisCache, kind string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); streamLen(t, c, kind) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the near-match streams of %s never held %d entries (figures %+v)", kind, n, c.Stats().Kinds[kind].NearMatch)
		}
	}
}

// waitIndexed waits until c's index of the kind holds n entries.
func waitIndexed(t *testing.T, c *cache.RedisCache, kind string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); c.Stats().Kinds[kind].NearMatch.Entries < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the index of %s never held %d entries (figures %+v)", kind, n, c.Stats().Kinds[kind].NearMatch)
		}
	}
}

// streams returns the keys of the kind's near-match streams in c's
// namespace.
func streams(t *testing.T, c *cache.RedisCache, kind string) []string {
	t.Helper()
	raw := rawClient(t, redisURL(t))
	keys, err := raw.Do(ctxT(t), raw.B().Keys().Pattern(c.Namespace()+":"+kind+":near:*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// streamLen returns how many entries the kind's near-match streams hold.
func streamLen(t *testing.T, c *cache.RedisCache, kind string) int {
	t.Helper()
	raw := rawClient(t, redisURL(t))
	n := 0
	for _, k := range streams(t, c, kind) {
		l, err := raw.Do(ctxT(t), raw.B().Xlen().Key(k).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		n += int(l)
	}
	return n
}

// A paraphrase whose vector is close is served its neighbour's value; a
// text that differs in a year is refused by a guard whatever its vector; a
// far vector finds no neighbour; a repeat is an exact hit; another process
// finds the entries; a neighbour whose value is gone is a miss.
func TestFetchSimilar(t *testing.T) {
	t.Parallel()
	cfg := nearConfig(cache.NearMatchServe, "minilm")
	a := newCache(t, cfg)
	ctx := ctxT(t)
	search := cache.Search[string, string](a)
	v := vector(1, 64)
	loads := 0

	got, m, err := cache.FetchSimilar(ctx, search, "Tom Hanks comedies from the 90s", v, loader(&loads, "hanks-90s"))
	if err != nil || got != "hanks-90s" || m.Kind != cache.MatchLoaded || loads != 1 {
		t.Fatalf("first: %q, %+v, %v after %d loads", got, m, err, loads)
	}
	got, m, err = cache.FetchSimilar(ctx, search, "90s comedies starring tom hanks please", nudge(v, 2, 0.001), loader(&loads, "other"))
	if err != nil || got != "hanks-90s" || m.Kind != cache.MatchNeighbour || loads != 1 {
		t.Fatalf("paraphrase: %q, %+v, %v after %d loads; want the neighbour's value", got, m, err, loads)
	}
	if m.Text != "Tom Hanks comedies from the 90s" || m.Score < 0.99 || m.Score > 1 {
		t.Errorf("paraphrase's match %+v", m)
	}
	got, m, _ = cache.FetchSimilar(ctx, search, "Tom Hanks comedies from the 80s", v, loader(&loads, "hanks-80s"))
	if got != "hanks-80s" || m.Kind != cache.MatchLoaded || loads != 2 {
		t.Fatalf("another decade, identical vector: %q, %+v after %d loads; want its own load", got, m, loads)
	}
	got, m, _ = cache.FetchSimilar(ctx, search, "whale documentaries", vector(3, 64), loader(&loads, "whales"))
	if got != "whales" || m.Kind != cache.MatchLoaded || m.Text != "" || loads != 3 {
		t.Fatalf("a far vector: %q, %+v after %d loads", got, m, loads)
	}
	got, m, _ = cache.FetchSimilar(ctx, search, "Tom Hanks comedies from the 90s", v, loader(&loads, "again"))
	if got != "hanks-90s" || m.Kind != cache.MatchExact || loads != 3 {
		t.Fatalf("a repeat: %q, %+v after %d loads", got, m, loads)
	}
	st := a.Stats().Kinds[cache.KindSearch].NearMatch
	if st.Mode != "serve" || st.Served != 1 || st.Refused != 1 || st.Refusals["numbers"] != 1 || st.NoNeighbour < 1 || st.Indexed != 3 || st.Entries != 3 || st.Partitions != 1 || st.Bytes < 3*64*4 {
		t.Errorf("figures %+v", st)
	}
	// The figures' JSON form (docs/operations.md).
	raw, err := json.Marshal(a.Stats())
	if err != nil {
		t.Fatal(err)
	}
	j := jsonshape.Check(t, "Stats", raw, 60, "kinds", "keys")
	if got := jsonshape.At(j, "kinds.search.near_match.mode"); got != "serve" {
		t.Errorf("near_match.mode = %v", got)
	}
	if got := jsonshape.At(j, "kinds.search.near_match.refusals.numbers"); got != 1.0 {
		t.Errorf("near_match.refusals.numbers = %v", got)
	}
	if got := jsonshape.At(j, "kinds.intent.near_match"); got != nil {
		t.Errorf("near_match of a kind without it: %v", got)
	}
	if r := st.RecentRefusals; len(r) != 1 || r[0].Cached != "Tom Hanks comedies from the 90s" || r[0].Asked != "Tom Hanks comedies from the 80s" || !strings.Contains(r[0].Reason, "numbers") || r[0].Score < 0.999 {
		t.Errorf("refusals %+v", r)
	}

	// Another process reads the entries from Redis: in the background,
	// after its first search.
	waitEntries(t, a, cache.KindSearch, 3)
	b := newCache(t, func(c *cache.Config) { cfg(c); c.Namespace = a.Namespace() })
	other := cache.Search[string, string](b)
	cache.FetchSimilar(ctx, other, "cooking shows", vector(5, 64), loader(&loads, "cooking"))
	waitIndexed(t, b, cache.KindSearch, 4)
	loads--
	got, m, _ = cache.FetchSimilar(ctx, other, "tom hanks comedies of the nineties", nudge(v, 4, 0.002), loader(&loads, "b"))
	if got != "hanks-90s" || m.Kind != cache.MatchNeighbour || loads != 3 {
		t.Fatalf("another process: %q, %+v after %d loads", got, m, loads)
	}
	// A value changed is served as it is now; one gone is a miss.
	if err := search.Set(ctx, "Tom Hanks comedies from the 90s", "changed"); err != nil {
		t.Fatal(err)
	}
	got, _, _ = cache.FetchSimilar(ctx, other, "comedies with Tom Hanks from the 1990s", v, loader(&loads, "b"))
	if got != "changed" {
		t.Fatalf("after a Set: %q", got)
	}
	if _, err := search.Delete(ctx, "Tom Hanks comedies from the 90s"); err != nil {
		t.Fatal(err)
	}
	got, m, _ = cache.FetchSimilar(ctx, other, "90s Tom Hanks comedies", v, loader(&loads, "fresh"))
	if got != "fresh" || m.Kind != cache.MatchLoaded || loads != 4 {
		t.Fatalf("after a Delete: %q, %+v after %d loads", got, m, loads)
	}
	st = b.Stats().Kinds[cache.KindSearch].NearMatch
	// The last search found its neighbour gone, then refused the 80s.
	if st.Gone != 1 || st.Served != 2 || st.Refused != 1 || st.Other != 0 ||
		st.Searches != st.Served+st.Agreed+st.Disagreed+st.NoNeighbour+st.Refused+st.Other {
		t.Errorf("b's figures %+v: each search ended one way", st)
	}
}

// A search whose every neighbour's value is gone ends as "other", a count
// of its own (a counter of ended searches that never goes down).
func TestFetchSimilarNeighboursGone(t *testing.T) {
	t.Parallel()
	c := newCache(t, nearConfig(cache.NearMatchServe, "minilm"))
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	v := vector(3, 64)
	loads := 0
	cache.FetchSimilar(ctx, search, "space operas from the 70s", v, loader(&loads, "70s"))
	waitIndexed(t, c, cache.KindSearch, 1)
	if _, err := search.Delete(ctx, "space operas from the 70s"); err != nil {
		t.Fatal(err)
	}
	got, m, err := cache.FetchSimilar(ctx, search, "70s space operas", v, loader(&loads, "fresh"))
	if err != nil || got != "fresh" || m.Kind != cache.MatchLoaded {
		t.Fatalf("%q, %+v, %v", got, m, err)
	}
	st := c.Stats().Kinds[cache.KindSearch].NearMatch
	if st.Other != 1 || st.Gone != 1 || st.Searches != st.NoNeighbour+st.Other {
		t.Errorf("figures %+v: want one search ended as other, its neighbour gone", st)
	}
}

// Entries are never compared across models, dimensions, parser versions
// or kinds: a paraphrase with the very same vector is a miss in another
// partition.
func TestFetchSimilarPartitions(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	a := newCache(t, func(cfg *cache.Config) {
		cfg.Policy.NearMatch = cache.NearMatch{Mode: cache.NearMatchServe, Model: "m1"}
	})
	ns := a.Namespace()
	loads := 0
	v := vector(5, 32)
	search := cache.Search[string, string](a)
	if _, _, err := cache.FetchSimilar(ctx, search, "space operas", v, loader(&loads, "v1")); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, a, cache.KindSearch, 1)
	m2 := newCache(t, func(cfg *cache.Config) {
		cfg.Namespace = ns
		cfg.Policy.NearMatch = cache.NearMatch{Mode: cache.NearMatchServe, Model: "m2"}
	})
	if got, m, _ := cache.FetchSimilar(ctx, cache.Search[string, string](m2), "space opera movies please", v, loader(&loads, "m2")); m.Kind != cache.MatchLoaded || got != "m2" {
		t.Errorf("another model: %q, %+v", got, m)
	}
	if got, m, _ := cache.FetchSimilar(ctx, search, "space operas please", append(v, 1), loader(&loads, "dims")); m.Kind != cache.MatchLoaded || got != "dims" {
		t.Errorf("another dimension: %q, %+v", got, m)
	}
	if got, m, _ := cache.FetchSimilar(ctx, search, "Space Operas!", v, loader(&loads, "x")); m.Kind != cache.MatchNeighbour || got != "v1" {
		t.Errorf("same partition: %q, %+v", got, m)
	}
	p1, p2 := cache.Intents[string](a, "p1"), cache.Intents[string](a, "p2")
	if _, _, err := cache.FetchSimilar(ctx, p1, "space operas", v, loader(&loads, "i1")); err != nil {
		t.Fatal(err)
	}
	if got, m, _ := cache.FetchSimilar(ctx, p2, "Space Operas!", v, loader(&loads, "i2")); m.Kind != cache.MatchLoaded || got != "i2" {
		t.Errorf("another parser version: %q, %+v", got, m)
	}
	if got, m, _ := cache.FetchSimilar(ctx, p1, "Space Operas!", v, loader(&loads, "i3")); m.Kind != cache.MatchNeighbour || got != "i1" {
		t.Errorf("same parser version: %q, %+v", got, m)
	}
	queries, err := cache.NewKind[string, string](a, "queries", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got, m, _ := cache.FetchSimilar(ctx, queries, "space operas please", v, loader(&loads, "q")); m.Kind != cache.MatchLoaded || got != "q" {
		t.Errorf("another kind: %q, %+v", got, m)
	}
}

// In shadow mode, the loaded value is served and compared with the
// neighbour's: the figures give the precision the near match would have.
func TestFetchSimilarShadow(t *testing.T) {
	t.Parallel()
	c := newCache(t, nearConfig(cache.NearMatchShadow, "m"))
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	loads := 0
	v := vector(9, 16)
	cache.FetchSimilar(ctx, search, "scary movies for kids", v, loader(&loads, "heists"))
	waitShadowed(t, c, 1) // or its search could find the next call's entry, and agree with it
	got, m, err := cache.FetchSimilar(ctx, search, "Scary movies for kids!", v, loader(&loads, "heists"))
	if err != nil || got != "heists" || m.Kind != cache.MatchLoaded || m.Text != "" || loads != 2 {
		t.Fatalf("an agreeing neighbour: %q, %+v, %v after %d loads", got, m, err, loads)
	}
	waitShadowed(t, c, 2)
	got, m, _ = cache.FetchSimilar(ctx, search, "scary movies for kids please", v, loader(&loads, "newer"))
	if got != "newer" || m.Kind != cache.MatchLoaded || loads != 3 {
		t.Fatalf("a disagreeing neighbour: %q, %+v after %d loads", got, m, loads)
	}
	waitShadowed(t, c, 3)
	st := c.Stats().Kinds[cache.KindSearch].NearMatch
	if st.Mode != "shadow" || st.Served != 0 || st.Agreed != 1 || st.Disagreed != 1 || st.Precision != 0.5 || len(st.RecentDisagreements) != 1 {
		t.Errorf("figures %+v", st)
	}
	if d := st.RecentDisagreements[0]; d.Asked != "scary movies for kids please" || d.Cached == "" || d.Score < 0.999 {
		t.Errorf("disagreement %+v", d)
	}
}

// waitShadowed waits until n of c's shadow searches for a neighbour ended,
// however they ended.
func waitShadowed(t *testing.T, c *cache.RedisCache, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st := c.Stats().Kinds[cache.KindSearch].NearMatch
		if st.Agreed+st.Disagreed+st.NoNeighbour+st.Refused+st.Other >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d searches never ended (figures %+v)", n, st)
		}
	}
}

// Without the near cache, the entries of other processes are read all the
// same (at most every 100 ms); an unusable vector costs the near match,
// never the answer; corrupt entries in Redis are skipped.
func TestFetchSimilarUntrackedAndBadInput(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	off := func(cfg *cache.Config) { nearConfig(cache.NearMatchServe, "m")(cfg); cfg.NearCacheBytes = -1 }
	a := newCache(t, off)
	search := cache.Search[string, string](a)
	ns := a.Namespace()
	b := newCache(t, func(cfg *cache.Config) { off(cfg); cfg.Namespace = ns })
	other := cache.Search[string, string](b)
	loads := 0
	v := vector(11, 8)
	cache.FetchSimilar(ctx, other, "prime suspects", vector(12, 8), loader(&loads, "warm b's index"))
	cache.FetchSimilar(ctx, search, "zombie comedies", v, loader(&loads, "zombies"))
	waitEntries(t, a, cache.KindSearch, 2)
	time.Sleep(150 * time.Millisecond)
	if got, m, _ := cache.FetchSimilar(ctx, other, "Zombie comedies!", v, loader(&loads, "b")); m.Kind != cache.MatchNeighbour || got != "zombies" {
		t.Fatalf("untracked, another process: %q, %+v", got, m)
	}
	for i, bad := range [][]float32{nil, {0, 0}, {float32(math.NaN()), 1}, {float32(math.Inf(1))}, make([]float32, 5000)} {
		got, m, err := cache.FetchSimilar(ctx, search, "zombie comedies please", bad, loader(&loads, "bad"))
		want := cache.MatchExact // the text is cached: a bad vector costs the near match only
		if i == 0 {
			want = cache.MatchLoaded
		}
		if err != nil || m.Kind != want || got != "bad" {
			t.Fatalf("vector %v: %q, %+v, %v", bad, got, m, err)
		}
	}
	if st := a.Stats().Kinds[cache.KindSearch].NearMatch; st.InvalidVectors != 5 || st.Partitions != 1 {
		t.Errorf("%d invalid vectors counted, %d partitions (bad vectors open none)", st.InvalidVectors, st.Partitions)
	}
	// Corrupt entries: a vector of another length, no text, an ID that is
	// not a time; then a sound one, which is found.
	raw := rawClient(t, redisURL(t))
	ss := streams(t, a, cache.KindSearch)
	if len(ss) != 1 {
		t.Fatalf("streams %q", ss)
	}
	stream := ss[0]
	for _, cmd := range [][]string{
		{"XADD", stream, "*", "t", "bad length", "v", "abc"},
		{"XADD", stream, "*", "v", string(make([]byte, 32))},
		{"XADD", stream, "*", "t", "zeros", "v", string(make([]byte, 32))},
	} {
		if err := raw.Do(ctx, raw.B().Arbitrary(cmd...).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(150 * time.Millisecond)
	if _, m, _ := cache.FetchSimilar(ctx, other, "Zombie comedies, please", v, loader(&loads, "b")); m.Kind != cache.MatchNeighbour {
		t.Fatalf("after corrupt entries: %+v", m)
	}
	if n := b.Stats().Kinds[cache.KindSearch].NearMatch.Corrupt; n != 3 {
		t.Errorf("%d corrupt entries counted, want 3", n)
	}
	// ClearKind takes the entries with the values.
	if _, err := a.ClearKind(ctx, cache.KindSearch); err != nil {
		t.Fatal(err)
	}
	if n, _ := raw.Do(ctx, raw.B().Exists().Key(stream).Build()).AsInt64(); n != 0 {
		t.Error("ClearKind left the near-match stream")
	}
}

// Configurations that cannot hold are refused.
func TestNearMatchConfig(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]cache.Config{
		"no model":       {Policy: cache.Policy{NearMatch: cache.NearMatch{Mode: cache.NearMatchServe}}},
		"kind no model":  {Policies: map[string]cache.Policy{cache.KindIntent: {NearMatch: cache.NearMatch{Mode: cache.NearMatchShadow}}}},
		"embeddings":     {Policies: map[string]cache.Policy{cache.KindEmbedding: {NearMatch: cache.NearMatch{Mode: cache.NearMatchServe, Model: "m"}}}},
		"custom":         {Policies: map[string]cache.Policy{cache.KindCustom: {NearMatch: cache.NearMatch{Mode: cache.NearMatchServe, Model: "m"}}}},
		"similarity":     {Policy: cache.Policy{NearMatch: cache.NearMatch{Mode: cache.NearMatchServe, Model: "m", MinSimilarity: 1.5}}},
		"NaN similarity": {Policy: cache.Policy{NearMatch: cache.NearMatch{Mode: cache.NearMatchServe, Model: "m", MinSimilarity: math.NaN()}}},
		"entries":        {Policy: cache.Policy{NearMatch: cache.NearMatch{Mode: cache.NearMatchServe, Model: "m", MaxEntries: 1 << 20}}},
		"mode":           {Policy: cache.Policy{NearMatch: cache.NearMatch{Mode: 7, Model: "m"}}},
	} {
		p.URL = redisURL(t)
		if c, err := cache.New(ctxT(t), p); !errors.Is(err, cache.ErrInvalidConfig) {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s: New = %v, want ErrInvalidConfig", name, err)
		}
	}
	// Off: FetchSimilar is Fetch, and says how it found the value.
	c := newCache(t, func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindSearch: {CanonicalKeys: true}}
	})
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	loads := 0
	if _, m, _ := cache.FetchSimilar(ctx, search, "noir films", nil, loader(&loads, "noir")); m.Kind != cache.MatchLoaded {
		t.Errorf("off, first: %+v", m)
	}
	if got, m, _ := cache.FetchSimilar(ctx, search, "Noir movies", nil, loader(&loads, "x")); m.Kind != cache.MatchCanonical || got != "noir" || loads != 1 {
		t.Errorf("off, a spelling: %q, %+v", got, m)
	}
	if st := c.Stats().Kinds[cache.KindSearch].NearMatch; st.Mode != "" {
		t.Errorf("off, figures %+v", st)
	}
	// Policy turns it on for every kind of texts; one kind turns it off.
	c = newCache(t, func(cfg *cache.Config) {
		cfg.Policy.NearMatch = cache.NearMatch{Mode: cache.NearMatchServe, Model: "m"}
		cfg.Policies = map[string]cache.Policy{cache.KindIntent: {NearMatch: cache.NearMatch{Mode: cache.NearMatchOff}}}
	})
	st := c.Stats().Kinds
	if st[cache.KindSearch].NearMatch.Mode != "serve" || st[cache.KindIntent].NearMatch.Mode != "" || st[cache.KindEmbedding].NearMatch.Mode != "" {
		t.Errorf("modes: search %q, intent %q, embedding %q", st[cache.KindSearch].NearMatch.Mode, st[cache.KindIntent].NearMatch.Mode, st[cache.KindEmbedding].NearMatch.Mode)
	}
}

// A text is indexed again when it is cached again after its entry
// expired, and when a hit finds its entry half through its life, so that
// a popular text never leaves the index; a stream whose IDs were pushed
// far ahead of the server's clock is replaced, not left unusable.
func TestFetchSimilarRenewal(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	nm := cache.NearMatch{Mode: cache.NearMatchServe, Model: "m"}
	a := newCache(t, func(cfg *cache.Config) { cfg.Policies = map[string]cache.Policy{"queries": {NearMatch: nm}} })
	queries, err := cache.NewKind[string, string](a, "queries", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	loads := 0
	v := vector(21, 16)
	start := time.Now()
	cache.FetchSimilar(ctx, queries, "noir films", v, loader(&loads, "noir"))
	time.Sleep(time.Until(start.Add(600 * time.Millisecond)))
	if _, m, _ := cache.FetchSimilar(ctx, queries, "noir films", v, loader(&loads, "noir")); m.Kind != cache.MatchExact {
		t.Fatalf("a hit: %+v", m)
	}
	if n := a.Stats().Kinds["queries"].NearMatch.Indexed; n != 2 {
		t.Errorf("a hit past half its entry's life indexed %d times in all; want 2", n)
	}
	time.Sleep(time.Until(start.Add(1300 * time.Millisecond)))
	if _, m, _ := cache.FetchSimilar(ctx, queries, "noir films", v, loader(&loads, "noir again")); m.Kind != cache.MatchLoaded {
		t.Fatalf("after expiry: %+v", m)
	}
	if got, m, _ := cache.FetchSimilar(ctx, queries, "Noir films!", v, loader(&loads, "x")); m.Kind != cache.MatchNeighbour || got != "noir again" {
		t.Fatalf("a paraphrase after the text was cached again: %q, %+v", got, m)
	}
	if n := a.Stats().Kinds["queries"].NearMatch.Indexed; n != 3 {
		t.Errorf("indexed %d times in all; want 3", n)
	}

	// A stream poisoned with an ID far in the future.
	raw := rawClient(t, redisURL(t))
	waitEntries(t, a, "queries", 1)
	stream := streams(t, a, "queries")[0]
	if err := raw.Do(ctx, raw.B().Arbitrary("XADD", stream, "9000000000000000-0", "t", "poison", "v", string(make([]byte, 64))).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	cache.FetchSimilar(ctx, queries, "silent films", vector(22, 16), loader(&loads, "silent"))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		id, err := raw.Do(ctx, raw.B().Arbitrary("XINFO", "STREAM", stream).Build()).AsMap()
		if err == nil {
			last := id["last-generated-id"]
			if s, _ := last.ToString(); !strings.HasPrefix(s, "9000000000000000") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the poisoned stream was never replaced")
		}
	}
	b := newCache(t, func(cfg *cache.Config) {
		cfg.Namespace = a.Namespace()
		cfg.Policies = map[string]cache.Policy{"queries": {NearMatch: nm}}
	})
	other, _ := cache.NewKind[string, string](b, "queries", time.Second)
	cache.FetchSimilar(ctx, other, "westerns", vector(23, 16), loader(&loads, "westerns"))
	waitIndexed(t, b, "queries", 2)
	if got, m, _ := cache.FetchSimilar(ctx, other, "Silent films!", vector(22, 16), loader(&loads, "b")); m.Kind != cache.MatchNeighbour || got != "silent" {
		t.Fatalf("another process after the stream was replaced: %q, %+v", got, m)
	}
}

// With the server gone, FetchSimilar answers from the loader, every time,
// without an error; no neighbour is served (its value cannot be read), and
// once the circuit breaker is open no entry is added.
func TestFetchSimilarServerGone(t *testing.T) {
	t.Parallel()
	srv, c := privateCache(t, nearConfig(cache.NearMatchServe, "m"))
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	loads := 0
	v := vector(31, 16)
	if _, _, err := cache.FetchSimilar(ctx, search, "western movies", v, loader(&loads, "westerns")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	open := false
	for i := range 60 {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		got, m, err := cache.FetchSimilar(callCtx, search, fmt.Sprintf("western movies %d", i), v, loader(&loads, "fresh"))
		cancel()
		if err != nil || got != "fresh" || m.Kind != cache.MatchLoaded {
			t.Fatalf("call %d with the server gone: %q, %+v, %v; want the loader's value", i, got, m, err)
		}
		if c.Stats().Breaker.State == cache.BreakerOpen {
			open = true
			break
		}
	}
	if !open {
		t.Fatal("the breaker never opened")
	}
	before := c.Stats().Kinds[cache.KindSearch].NearMatch.Indexed
	for i := range 5 {
		got, m, err := cache.FetchSimilar(ctx, search, fmt.Sprintf("Western movies, %d!", i), v, loader(&loads, "fresh"))
		if err != nil || got != "fresh" || m.Kind != cache.MatchLoaded {
			t.Fatalf("with the breaker open: %q, %+v, %v", got, m, err)
		}
	}
	if after := c.Stats().Kinds[cache.KindSearch].NearMatch.Indexed; after != before {
		t.Errorf("%d entries added while the breaker was open", after-before)
	}
	if st := c.Stats().Kinds[cache.KindSearch].NearMatch; st.Served != 0 {
		t.Errorf("%d neighbours served with the server gone", st.Served)
	}
}

// The search for a neighbour takes at most a quarter of the time the
// caller's deadline leaves, and none under a millisecond: the loader keeps
// the rest.
func TestNearBudget(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if d, ok := cache.NearBudgetOf(ctx); !ok || d > 500*time.Millisecond || d < 100*time.Millisecond {
		t.Errorf("with 2 s left: %v, %v; want about 500 ms", d, ok)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 2*time.Millisecond)
	defer cancel2()
	if _, ok := cache.NearBudgetOf(short); ok {
		t.Error("with 2 ms left, a search runs")
	}
	if d, ok := cache.NearBudgetOf(context.Background()); !ok || d != -1 {
		t.Errorf("without a deadline: %v, %v", d, ok)
	}
}

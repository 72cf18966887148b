package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
)

type hit struct {
	ID    string            `json:"id"`
	Title string            `json:"title"`
	Score float64           `json:"score"`
	Tags  []string          `json:"tags,omitempty"`
	Extra map[string]string `json:"extra,omitempty"`
}

type intent struct {
	Action   string            `json:"action"`
	Entities map[string]string `json:"entities"`
}

func TestKindsRoundTrip(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)

	search := cache.Search[string, []hit](c)
	hits := []hit{{ID: "tt0076759", Title: "Star Wars", Score: 0.98, Tags: []string{"sci-fi"}}}
	if _, ok, err := search.Get(ctx, "star wars"); ok || err != nil {
		t.Fatalf("Get before Set = ok %v, err %v; want a plain miss", ok, err)
	}
	if err := search.Set(ctx, "star wars", hits); err != nil {
		t.Fatal(err)
	}
	got, ok, err := search.Get(ctx, "star wars")
	if err != nil || !ok || fmt.Sprint(got) != fmt.Sprint(hits) {
		t.Fatalf("search Get = %v, %v, %v; want %v", got, ok, err, hits)
	}

	intents := cache.Intents[intent](c, "")
	in := intent{Action: "recommend", Entities: map[string]string{"like": "Alien"}}
	if err := intents.Set(ctx, "movies like Alien", in); err != nil {
		t.Fatal(err)
	}
	gotIn, ok, err := intents.Get(ctx, "movies like Alien")
	if err != nil || !ok || gotIn.Action != "recommend" || gotIn.Entities["like"] != "Alien" {
		t.Fatalf("intent Get = %+v, %v, %v", gotIn, ok, err)
	}
	// Another parser version never reads the first one's intents.
	if _, ok, _ := cache.Intents[intent](c, "v2").Get(ctx, "movies like Alien"); ok {
		t.Error("intent written without a parser version was read by parser v2")
	}

	vec := []float32{0.25, -1.5, float32(math.Inf(1)), float32(math.NaN()), math.SmallestNonzeroFloat32}
	small := embeddings(t, c, "text-embedding-3-small")
	if err := small.Set(ctx, "a heist thriller", vec); err != nil {
		t.Fatal(err)
	}
	gotVec, ok, err := small.Get(ctx, "a heist thriller")
	if err != nil || !ok || len(gotVec) != len(vec) {
		t.Fatalf("embedding Get = %v, %v, %v", gotVec, ok, err)
	}
	for i := range vec {
		if math.Float32bits(gotVec[i]) != math.Float32bits(vec[i]) {
			t.Errorf("dimension %d: got %v, want %v (bit for bit)", i, gotVec[i], vec[i])
		}
	}
	if _, ok, _ := embeddings(t, c, "text-embedding-3-large").Get(ctx, "a heist thriller"); ok {
		t.Error("an embedding of one model was returned for another model")
	}

	deleted, err := search.Delete(ctx, "star wars")
	if err != nil || !deleted {
		t.Fatalf("Delete = %v, %v; want true", deleted, err)
	}
	if deleted, err := search.Delete(ctx, "star wars"); err != nil || deleted {
		t.Fatalf("second Delete = %v, %v; want false, nil", deleted, err)
	}
}

// The keys in Redis are the namespace, a colon, and GenerateKey's result.
func TestKeysInRedis(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) { cfg.Namespace = "discovery-" + uniqueNamespace(t) })
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	ns := c.Namespace()
	cases := []struct {
		set  func() error
		want string
	}{
		{func() error { return cache.Search[string, int](c).Set(ctx, "star wars", 1) },
			ns + ":search:68e51761ff1e643aa85a3d8220e7fe88a4dbcc6f15accaa6ffa8c2123e711068"},
		{func() error { return cache.Intents[int](c, "").Set(ctx, `movies like <Alien> & "Aliens"`, 1) },
			ns + ":intent:bf140604f36e9149e6058bb601361bdd00c66082b47ca559bd49cd440432aab5"},
		{func() error {
			return embeddings(t, c, "text-embedding-3-small").Set(ctx, "a heist thriller set in Paris", []float32{1})
		}, ns + ":embedding:fff4905c93703980a5fc3952e0b762b92b82dc0d3805fd981befd013d1cc2267"},
	}
	for _, tc := range cases {
		if err := tc.set(); err != nil {
			t.Fatal(err)
		}
		n, err := raw.Do(ctx, raw.B().Exists().Key(tc.want).Build()).AsInt64()
		if err != nil || n != 1 {
			t.Errorf("key %s not in Redis (exists=%d, err=%v)", tc.want, n, err)
		}
	}
}

// Each kind's TTL is set on the key, as the server sees it (jitter off).
func TestTTLPerKind(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) { cfg.IntentTTL = 7 * time.Minute; cfg.Policy.TTLJitter = -1 })
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	custom, err := cache.NewKind[string, string](c, "trending", 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	search := cache.Search[string, int](c)
	intents := cache.Intents[int](c, "")
	emb := embeddings(t, c, "m")
	steps := []struct {
		name string
		set  func() error
		key  func() (string, error)
		want time.Duration
	}{
		{"search", func() error { return search.Set(ctx, "q", 1) }, func() (string, error) { return search.Key("q") }, 30 * time.Minute},
		{"intent", func() error { return intents.Set(ctx, "q", 1) }, func() (string, error) { return intents.Key("q") }, 7 * time.Minute},
		{"embedding", func() error { return emb.Set(ctx, "q", []float32{1}) }, func() (string, error) { return emb.Key("q") }, time.Hour},
		{"custom collection", func() error { return custom.Set(ctx, "q", "v") }, func() (string, error) { return custom.Key("q") }, 90 * time.Second},
		{"key-level Set", func() error { return cache.Set(ctx, c, "k", "v", 42*time.Second) },
			func() (string, error) { return c.Namespace() + ":k", nil }, 42 * time.Second},
	}
	for _, s := range steps {
		if err := s.set(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		key, _ := s.key()
		pttl, err := raw.Do(ctx, raw.B().Pttl().Key(key).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		got := time.Duration(pttl) * time.Millisecond
		// PTTL counts down from the moment of SET: allow the time the test took.
		if got > s.want || got < s.want-10*time.Second {
			t.Errorf("%s: PTTL %v, want %v", s.name, got, s.want)
		}
	}
}

// TTL jitter spreads the expiry of keys written together over the
// configured fraction of the TTL, per kind: by default 10%, 50% for a kind
// that asks for it, none for a kind that turns it off.
func TestTTLJitter(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{"jittery": {TTLJitter: 0.5}, "exact": {TTLJitter: -1}}
	})
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	kind := func(name string) *cache.Kind[int, int] {
		kd, err := cache.NewKind[int, int](c, name, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return kd
	}
	ins, vals := make([]int, 200), make([]int, 200)
	for i := range ins {
		ins[i] = i
	}
	for _, tc := range []struct {
		kd       *cache.Kind[int, int]
		fraction float64
	}{{kind("default"), 0.1}, {kind("jittery"), 0.5}, {kind("exact"), 0}} {
		if err := tc.kd.SetMany(ctx, ins, vals); err != nil {
			t.Fatal(err)
		}
		if err := tc.kd.Set(ctx, 1000, 0); err != nil { // the single write too
			t.Fatal(err)
		}
		cmds := make(rueidis.Commands, 0, len(ins)+1)
		for _, in := range append(ins, 1000) {
			key, _ := tc.kd.Key(in)
			cmds = append(cmds, raw.B().Pttl().Key(key).Build())
		}
		lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
		for _, r := range raw.DoMulti(ctx, cmds...) {
			ms, err := r.AsInt64()
			if err != nil {
				t.Fatal(err)
			}
			d := time.Duration(ms) * time.Millisecond
			lo, hi = min(lo, d), max(hi, d)
		}
		floor := time.Duration(float64(time.Hour) * (1 - tc.fraction))
		// 201 keys spread evenly over the fraction (each key's share is drawn
		// from its hash): with no jitter all sit at the TTL; with it, some
		// fall in its lower half.
		const slack = 10 * time.Second // the time the test took
		if lo < floor-slack || hi > time.Hour {
			t.Errorf("%s: TTLs from %v to %v; want within [%v, 1h]", tc.kd.Name(), lo, hi, floor)
		}
		spread := hi - lo
		if tc.fraction > 0 && spread < time.Duration(float64(time.Hour)*tc.fraction/2) || tc.fraction == 0 && spread > slack {
			t.Errorf("%s: TTLs spread over %v (%v to %v); want about %.0f%% of the TTL", tc.kd.Name(), spread, lo, hi, 100*tc.fraction)
		}
	}
}

func TestKeyLevelOperations(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	type profile struct {
		Name  string         `json:"name"`
		Prefs map[string]int `json:"prefs"`
	}
	p := profile{Name: "Zoë 🎬", Prefs: map[string]int{"horror": 3}}
	if err := cache.Set(ctx, c, "profile:1", p, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, ok, err := cache.Get[profile](ctx, c, "profile:1")
	if err != nil || !ok || got.Name != p.Name || got.Prefs["horror"] != 3 {
		t.Fatalf("Get = %+v, %v, %v", got, ok, err)
	}
	if _, ok, err := cache.Get[profile](ctx, c, "profile:2"); ok || err != nil {
		t.Fatalf("Get of a missing key = %v, %v", ok, err)
	}
	// A value stored as one type and read as an incompatible one.
	if _, _, err := cache.Get[int](ctx, c, "profile:1"); !errors.Is(err, cache.ErrSerialization) {
		t.Errorf("Get[int] of a struct: %v, want ErrSerialization", err)
	}
	n, err := c.Delete(ctx, "profile:1", "profile:2")
	if err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v; want 1", n, err)
	}
	if err := cache.Set(ctx, c, "brief", 1, time.Microsecond); err != nil {
		t.Errorf("Set with a sub-millisecond ttl: %v (Redis PX needs at least 1 ms)", err)
	}
	for _, bad := range []time.Duration{0, -time.Second} {
		if err := cache.Set(ctx, c, "k", 1, bad); !errors.Is(err, cache.ErrInvalidArgument) {
			t.Errorf("Set with ttl %v: %v, want ErrInvalidArgument", bad, err)
		}
	}
	if err := cache.Set(ctx, c, "", 1, time.Minute); !errors.Is(err, cache.ErrInvalidArgument) {
		t.Errorf("Set with an empty key: %v, want ErrInvalidArgument", err)
	}
	if err := cache.Set(ctx, c, "k", make(chan int), time.Minute); !errors.Is(err, cache.ErrSerialization) {
		t.Errorf("Set of a channel: %v, want ErrSerialization", err)
	}
}

func TestComplexValues(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	type node struct {
		Name     string  `json:"name"`
		Children []*node `json:"children,omitempty"`
	}
	deep := &node{Name: "root"}
	for i, n := 0, deep; i < 50; i++ {
		child := &node{Name: fmt.Sprintf("level %d ✓ «ünïcode» 漢字 \u2028 \x00", i)}
		n.Children = []*node{child}
		n = child
	}
	col := cache.Search[map[string]any, *node](c)
	query := map[string]any{"q": "漢字 <b>&", "filters": map[string]any{"year": []int{1977, 1980}}, "page": 2}
	if err := col.Set(ctx, query, deep); err != nil {
		t.Fatal(err)
	}
	got, ok, err := col.Get(ctx, query)
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	for a, b := deep, got; a != nil; {
		if b == nil || a.Name != b.Name {
			t.Fatalf("nested value differs at %q", a.Name)
		}
		if len(a.Children) == 0 {
			break
		}
		a, b = a.Children[0], b.Children[0]
	}
	// A large value (about 1 MiB of JSON) under the limit.
	big := strings.Repeat("0123456789abcdef", 64<<10)
	if err := cache.Set(ctx, c, "big", big, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := cache.Get[string](ctx, c, "big"); err != nil || !ok || got != big {
		t.Fatalf("large value: ok %v, err %v, equal %v", ok, err, got == big)
	}
	// 1536 dimensions, the size of common embedding models.
	vec := make([]float32, 1536)
	for i := range vec {
		vec[i] = float32(i) / 7
	}
	emb := embeddings(t, c, "m")
	if err := emb.Set(ctx, "text", vec); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := emb.Get(ctx, "text"); err != nil || !ok || len(got) != 1536 || got[1535] != vec[1535] {
		t.Fatalf("1536-d vector: ok %v, err %v, len %d", ok, err, len(got))
	}
}

func TestValueTooLarge(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) { cfg.MaxValueBytes = 1024 })
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	col := cache.Search[string, string](c)
	if err := col.Set(ctx, "q", "small"); err != nil {
		t.Fatal(err)
	}
	err := col.Set(ctx, "q", strings.Repeat("x", 2000))
	if !errors.Is(err, cache.ErrValueTooLarge) {
		t.Fatalf("Set of 2000 bytes with a 1024-byte limit: %v, want ErrValueTooLarge", err)
	}
	if !strings.Contains(err.Error(), "MaxValueBytes") {
		t.Errorf("error %q does not say which setting limits it", err)
	}
	// The old value is untouched: nothing was sent.
	if got, ok, _ := col.Get(ctx, "q"); !ok || got != "small" {
		t.Errorf("after a refused Set, Get = %q, %v; want the previous value", got, ok)
	}
	key, _ := col.Key("q")
	if n, _ := raw.Do(ctx, raw.B().Strlen().Key(key).Build()).AsInt64(); n > 1024 {
		t.Errorf("stored value is %d bytes", n)
	}
	if err := embeddings(t, c, "m").Set(ctx, "t", make([]float32, 300)); !errors.Is(err, cache.ErrValueTooLarge) {
		t.Errorf("1200-byte embedding: %v, want ErrValueTooLarge", err)
	}
}

// Bytes in Redis that this cache did not write, or that were damaged, give a
// typed error and never a panic.
func TestCorruptBytes(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	search := cache.Search[string, []hit](c)
	emb := embeddings(t, c, "m")
	good, _ := search.Key("good")
	if err := search.Set(ctx, "good", []hit{{ID: "1"}}); err != nil {
		t.Fatal(err)
	}
	valid, _ := raw.Do(ctx, raw.B().Get().Key(good).Build()).AsBytes()
	corrupt := map[string]string{
		"empty":          "",
		"foreign text":   `{"id":"1"}`,
		"truncated":      string(valid[:5]),
		"bad version":    string(append([]byte{valid[0], 99}, valid[2:]...)),
		"unknown flags":  string(append([]byte{valid[0], valid[1], valid[2], 0x80}, valid[4:]...)),
		"wrong codec":    string(append([]byte{valid[0], valid[1], 2}, valid[3:]...)),
		"broken payload": string(valid[:len(valid)-3]),
	}
	for name, bytes := range corrupt {
		key, _ := search.Key(name)
		if err := raw.Do(ctx, raw.B().Set().Key(key).Value(bytes).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		v, ok, err := search.Get(ctx, name)
		if !errors.Is(err, cache.ErrSerialization) || ok || v != nil {
			t.Errorf("%s: Get = %v, %v, %v; want ErrSerialization", name, v, ok, err)
		}
	}
	// A vector whose payload is not a whole number of float32s.
	key, _ := emb.Key("odd")
	if err := emb.Set(ctx, "odd", []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	vecBytes, _ := raw.Do(ctx, raw.B().Get().Key(key).Build()).AsBytes()
	raw.Do(ctx, raw.B().Set().Key(key).Value(string(vecBytes[:len(vecBytes)-1])).Build())
	if _, _, err := emb.Get(ctx, "odd"); !errors.Is(err, cache.ErrSerialization) {
		t.Errorf("odd-length vector: %v, want ErrSerialization", err)
	}
	// A key of another type (a hash) is refused by Redis: an operation error.
	hkey, _ := search.Key("hash")
	raw.Do(ctx, raw.B().Hset().Key(hkey).FieldValue().FieldValue("f", "v").Build())
	if _, _, err := search.Get(ctx, "hash"); !errors.Is(err, cache.ErrOperation) {
		t.Errorf("GET of a hash: %v, want ErrOperation", err)
	}
	var ce *cache.Error
	if _, _, err := search.Get(ctx, "truncated"); !errors.As(err, &ce) || ce.Op != cache.OpGet || ce.Kind != "search" || !strings.Contains(ce.Key, ":search:") {
		t.Errorf("error %v does not name operation, kind and key", err)
	}
}

// Many goroutines on one cache, under -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[int, int](c)
	const goroutines, rounds = 128, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				q := g*rounds + r
				if err := search.Set(ctx, q, q*2); err != nil {
					errs <- err
					return
				}
				v, ok, err := search.Get(ctx, q)
				if err != nil || !ok || v != q*2 {
					errs <- fmt.Errorf("query %d: got %d, %v, %v", q, v, ok, err)
					return
				}
				if _, err := cache.Fetch(ctx, c, fmt.Sprint("shared", r%4), time.Minute, func(context.Context) (int, error) { return r % 4, nil }); err != nil {
					errs <- err
					return
				}
				_ = c.Stats()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := c.Stats().Kinds[cache.KindSearch]
	if st.Sets != goroutines*rounds || st.Hits != goroutines*rounds {
		t.Errorf("search figures %+v, want %d sets and hits", st, goroutines*rounds)
	}
}

// Every key the tests write lives in their namespace; a key with another
// namespace, or none, survives every clear and pattern delete.
func TestClearingTouchesOnlyOwnNamespace(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	ns := c.Namespace()
	foreign := []string{
		"foreign-" + ns,                   // the namespace without its colon
		ns + "x:search:abc",               // a longer namespace
		"other:" + ns + ":search:abc",     // our namespace further in
		"search:" + ns,                    // a kind name at the front
		strings.ToUpper(ns) + ":search:1", // another case
	}
	for _, k := range foreign {
		if err := raw.Do(ctx, raw.B().Set().Key(k).Value("keep").Ex(time.Minute).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, k := range foreign {
			raw.Do(context.Background(), raw.B().Del().Key(k).Build())
		}
	})
	fill := func() {
		t.Helper()
		for i := range 5 {
			cache.Search[int, int](c).Set(ctx, i, i)
			cache.Intents[int](c, "").Set(ctx, fmt.Sprint(i), i)
			embeddings(t, c, "m").Set(ctx, fmt.Sprint(i), []float32{1})
			cache.Set(ctx, c, fmt.Sprintf("user:%d", i), i, time.Minute)
		}
	}
	fill()
	for _, kind := range []string{cache.KindSearch, cache.KindIntent, cache.KindEmbedding} {
		if n, err := c.ClearKind(ctx, kind); err != nil || n != 5 {
			t.Errorf("ClearKind(%s) = %d, %v; want 5", kind, n, err)
		}
	}
	if n, err := c.DeletePattern(ctx, "user:*"); err != nil || n != 5 {
		t.Errorf("DeletePattern(user:*) = %d, %v; want 5", n, err)
	}
	fill()
	if n, err := c.ClearKind(ctx, cache.Search[int, int](c).Name()); err != nil || n != 5 {
		t.Errorf("ClearKind(search) = %d, %v; want 5", n, err)
	}
	if n, err := c.ClearAll(ctx); err != nil || n != 15 {
		t.Errorf("ClearAll = %d, %v; want 15", n, err)
	}
	for _, k := range foreign {
		if v, err := raw.Do(ctx, raw.B().Get().Key(k).Build()).ToString(); err != nil || v != "keep" {
			t.Errorf("foreign key %s: %q, %v; it must survive", k, v, err)
		}
	}
	if _, err := c.ClearKind(ctx, "*"); !errors.Is(err, cache.ErrInvalidArgument) {
		t.Errorf("ClearKind(*): %v, want ErrInvalidArgument", err)
	}
}

// User text with glob characters, escaped, matches only itself.
func TestDeletePatternEscapesUserText(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	for _, k := range []string{"user:*:a", "user:x:a", "user:[ab]:a", "user:a:a", `user:\:a`, "user:?:a"} {
		if err := cache.Set(ctx, c, k, 1, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, text := range []string{"*", "[ab]", `\`, "?"} {
		n, err := c.DeletePattern(ctx, "user:"+cache.EscapePattern(text)+":*")
		if err != nil || n != 1 {
			t.Errorf("DeletePattern of escaped %q removed %d keys (%v); want 1", text, n, err)
		}
	}
	for _, k := range []string{"user:x:a", "user:a:a"} {
		if _, ok, _ := cache.Get[int](ctx, c, k); !ok {
			t.Errorf("%s was deleted by a pattern for other text", k)
		}
	}
}

func TestDeletePattern10000Keys(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	const n = 10000
	// Write through the raw client in one pipeline: the test is about delete.
	cmds := make(rueidis.Commands, 0, n+1)
	for i := range n {
		cmds = append(cmds, raw.B().Set().Key(fmt.Sprintf("%s:bulk:%d", c.Namespace(), i)).Value("v").Ex(time.Minute).Build())
	}
	keep := c.Namespace() + ":bulkkeep"
	cmds = append(cmds, raw.B().Set().Key(keep).Value("v").Ex(time.Minute).Build())
	for _, r := range raw.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := c.DeletePattern(ctx, "bulk:*")
	if err != nil || removed != n {
		t.Fatalf("DeletePattern = %d, %v; want %d", removed, err, n)
	}
	st, err := c.ServerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalKeys != 1 || st.Keys["bulkkeep"] != 1 {
		t.Errorf("after the delete: %d keys in the namespace (%v); want only %s", st.TotalKeys, st.Keys, keep)
	}
	if got := c.Stats().Kinds[cache.KindCustom].Deletes; got != n {
		t.Errorf("Deletes = %d, want %d", got, n)
	}
}

func TestNewKindRejects(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	for _, tc := range []struct {
		name string
		ttl  time.Duration
	}{{"", time.Minute}, {"a*b", time.Minute}, {"two words", time.Minute}, {"search:v2", time.Minute}, {cache.KindSearch, time.Minute}, {cache.KindCache, time.Minute}, {"ok", 0}} {
		if _, err := cache.NewKind[string, int](c, tc.name, tc.ttl); !errors.Is(err, cache.ErrInvalidArgument) || errors.Is(err, cache.ErrInvalidConfig) {
			t.Errorf("NewKind(%q, %v): %v, want ErrInvalidArgument", tc.name, tc.ttl, err)
		}
	}
}

// Large compressible values are stored compressed and read back equal;
// vectors, which do not compress, are stored as they are.
func TestCompression(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	results := make([]hit, 40)
	for i := range results {
		results[i] = hit{ID: fmt.Sprintf("tt%07d", i), Title: "The Empire Strikes Back", Score: float64(i), Tags: []string{"sci-fi"}}
	}
	stored := func(c *cache.RedisCache) (flags byte, size int) {
		col := cache.Search[string, []hit](c)
		if err := col.Set(ctx, "q", results); err != nil {
			t.Fatal(err)
		}
		got, ok, err := col.Get(ctx, "q")
		if err != nil || !ok || fmt.Sprint(got) != fmt.Sprint(results) {
			t.Fatalf("round trip: ok %v, err %v", ok, err)
		}
		key, _ := col.Key("q")
		b, _ := raw.Do(ctx, raw.B().Get().Key(key).Build()).AsBytes()
		return b[3], len(b)
	}
	flags, compressed := stored(newCache(t))
	plainFlags, plain := stored(newCache(t, func(cfg *cache.Config) { cfg.CompressMinBytes = -1 }))
	if flags&1 == 0 || plainFlags != 0 || compressed*2 > plain {
		t.Errorf("compressed: flags %x, %d bytes; disabled: flags %x, %d bytes", flags, compressed, plainFlags, plain)
	}
	// A reader with compression disabled still reads compressed values.
	c := newCache(t)
	reader := newCache(t, func(cfg *cache.Config) { cfg.CompressMinBytes = -1; cfg.Namespace = c.Namespace() })
	cache.Search[string, []hit](c).Set(ctx, "shared", results)
	if got, ok, err := cache.Search[string, []hit](reader).Get(ctx, "shared"); !ok || err != nil || len(got) != 40 {
		t.Errorf("reading a compressed value with compression off: %v, %v", ok, err)
	}

	vec := make([]float32, 1536)
	for i := range vec {
		vec[i] = float32(math.Sin(float64(i)*1.7)) * 0.05
	}
	emb := embeddings(t, c, "m")
	emb.Set(ctx, "t", vec)
	key, _ := emb.Key("t")
	if n, _ := raw.Do(ctx, raw.B().Strlen().Key(key).Build()).AsInt64(); n != 12+4*1536 {
		t.Errorf("a vector was stored in %d bytes, want %d (uncompressed)", n, 12+4*1536)
	}
	// Vectors are not offered to the compressor at all: even one of zeros,
	// which would shrink, is stored as it is.
	emb.Set(ctx, "zeros", make([]float32, 1536))
	key, _ = emb.Key("zeros")
	if b, _ := raw.Do(ctx, raw.B().Get().Key(key).Build()).AsBytes(); len(b) != 12+4*1536 || b[3] != 0 {
		t.Errorf("a vector of zeros was stored in %d bytes with flags %x, want %d bytes, no flag", len(b), b[3], 12+4*1536)
	}
}

// A stored value larger than Config.MaxValueBytes, whatever wrote it, is
// refused before decoding: a miss with ErrValueTooLarge for Get, and a
// value Fetch replaces with its loader's.
func TestOversizedStoredValue(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) { cfg.MaxValueBytes = 64 << 10 })
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	search := cache.Search[string, string](c)
	key, _ := search.Key("big")
	big := append([]byte{0xDC, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}, bytes.Repeat([]byte{'x'}, 1<<20)...)
	if err := raw.Do(ctx, raw.B().Set().Key(key).Value(string(big)).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := search.Get(ctx, "big"); ok || !errors.Is(err, cache.ErrValueTooLarge) {
		t.Errorf("Get of 1 MiB with MaxValueBytes 64 KiB: %v, %v; want a miss with ErrValueTooLarge", ok, err)
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.Misses != 1 || st.Errors != 1 {
		t.Errorf("figures %+v, want one miss and one error", st)
	}
	v, err := search.Fetch(ctx, "big", func(context.Context) (string, error) { return "small", nil })
	if err != nil || v != "small" {
		t.Fatalf("Fetch = %q, %v", v, err)
	}
	if n, _ := raw.Do(ctx, raw.B().Strlen().Key(key).Build()).AsInt64(); n > 1024 {
		t.Errorf("after Fetch the key holds %d bytes; want the loader's small value", n)
	}
}

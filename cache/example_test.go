package cache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
)

func ExampleGenerateKey() {
	key, err := cache.GenerateKey("search", "star wars")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key)
	// Output: search:68e51761ff1e643aa85a3d8220e7fe88a4dbcc6f15accaa6ffa8c2123e711068
}

func ExampleEscapePattern() {
	userText := "sale*[50%]"
	fmt.Println("user:" + cache.EscapePattern(userText) + ":*")
	// Output: user:sale\*\[50%\]:*
}

func ExampleKindStats_HitRate() {
	fmt.Printf("%.2f\n", cache.KindStats{Hits: 3, Misses: 1}.HitRate())
	// Output: 0.75
}

// The status types encode to one stable JSON form (docs/operations.md,
// "JSON output"): snake_case keys, durations in seconds, operations and
// states by name, no zero times.
func ExampleKindStats_json() {
	s := cache.KindStats{Hits: 90, LocalHits: 60, Misses: 10, Loads: 10,
		Latency: map[cache.Op]cache.LatencySummary{cache.OpGet: {Count: 100, P50: 250 * time.Microsecond, P99: 2 * time.Millisecond}}}
	b, err := json.Marshal(s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	b, _ = json.Marshal(cache.BreakerStatus{State: cache.BreakerOpen, Backoff: 500 * time.Millisecond})
	fmt.Println(string(b))
	// Output:
	// {"hits":90,"local_hits":60,"misses":10,"sets":0,"deletes":0,"errors":0,"canceled":0,"loads":10,"load_errors":0,"stale_hits":0,"lease_hits":0,"lease_timeouts":0,"refreshes":0,"extensions":0,"latency":{"get":{"count":100,"p50_seconds":0.00025,"p99_seconds":0.002}}}
	// {"state":"open","failures":0,"opens":0,"backoff_seconds":0.5}
}

func ExampleRoundTrip_ServerAddress() {
	host, port := cache.RoundTrip{Commands: []string{"GET"}, Server: "10.0.0.5:6379"}.ServerAddress()
	fmt.Println(host, port)
	// Output: 10.0.0.5 6379
}

func ExampleCanonicalForm() {
	fmt.Println(cache.CanonicalForm("Tom Hanks comedies from the '90s!"))
	fmt.Println(cache.CanonicalForm("90s comedies with tom hanks"))
	fmt.Println(cache.CanonicalForm("comedies before 1990"))
	// Output:
	// 1990s | comedies | tom hanks
	// 1990s | comedies | tom hanks
	// comedies before 1990
}

// The examples below need a Redis server; they are compiled, not run.

func ExampleNew() {
	ctx := context.Background()
	cfg, err := cache.ConfigFromEnv() // REDIS_URL, CACHE_NAMESPACE, …
	if err != nil {
		log.Fatal(err)
	}
	c, err := cache.New(ctx, cfg)
	if err != nil {
		log.Fatal(err) // ErrInvalidConfig or ErrUnavailable, without the password
	}
	defer c.Close()
}

func ExampleSearch() {
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{URL: "redis://127.0.0.1:6379/0"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	type Hit struct {
		ID    string  `json:"id"`
		Title string  `json:"title"`
		Score float64 `json:"score"`
	}
	searches := cache.Search[string, []Hit](c)
	hits, err := searches.Fetch(ctx, "star wars", func(ctx context.Context) ([]Hit, error) {
		// Runs on a miss, once for concurrent callers; its result is stored for 30 min.
		return []Hit{{ID: "tt0076759", Title: "Star Wars", Score: 0.98}}, nil
	})
	if err != nil {
		log.Fatal(err) // only the loader's own error: Redis failures are absorbed
	}
	fmt.Println(hits[0].Title)
}

func ExampleEmbeddings() {
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	vectors, err := cache.Embeddings(c, "text-embedding-3-small")
	if err != nil {
		log.Fatal(err)
	}
	vec, err := vectors.Fetch(ctx, "a heist thriller set in Paris", func(ctx context.Context) ([]float32, error) {
		return make([]float32, 1536), nil // call the embedding model here
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(vec))
}

func ExampleKind_Get() {
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	type Intent struct {
		Action string `json:"action"`
	}
	intents := cache.Intents[Intent](c, "parser-v3")
	in, ok, err := intents.Get(ctx, "movies like Alien")
	switch {
	case errors.Is(err, cache.ErrUnavailable):
		// Redis is down or slow: parse without the cache.
	case errors.Is(err, cache.ErrSerialization):
		// Something else wrote under this key: treat as a miss.
	case err != nil:
		log.Fatal(err)
	case ok:
		fmt.Println(in.Action)
	}
}

func ExampleNewKind() {
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	type Region struct{ Country, Lang string }
	trending, err := cache.NewKind[Region, []string](c, "trending", 5*time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	if err := trending.Set(ctx, Region{"FR", "fr"}, []string{"Lupin", "Call My Agent!"}); err != nil {
		log.Fatal(err)
	}
}

func ExampleRedisCache_DeletePattern() {
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	userID := "42*" // user text: escape it, or "*" would match every user
	n, err := c.DeletePattern(ctx, "user:"+cache.EscapePattern(userID)+":*")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("removed", n)
}

func ExampleRedisCache_Stats() {
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	st := c.Stats()
	for _, name := range st.Names() {
		k := st.Kinds[name]
		fmt.Printf("%s: %d hits, %d misses (%.0f%%), %d errors\n", name, k.Hits, k.Misses, 100*k.HitRate(), k.Errors)
	}
}

// A readiness probe, and whether reads are answered from the near cache.
func ExampleRedisCache_Health() {
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	h, err := c.Health(ctx)
	if err != nil {
		log.Fatal(err) // not ready: Redis does not answer
	}
	fmt.Println("PING", h.Latency)
	if !h.NearCache.On {
		fmt.Println("near cache off:", h.NearCache.Reason)
	}
	search := c.Stats().Kinds[cache.KindSearch]
	fmt.Printf("search: %d hits, %d of them in process; %d entries, %d bytes held\n",
		search.Hits, search.LocalHits, search.Near.Entries, search.Near.Bytes)
}

func ExampleClass() {
	err := fmt.Errorf("refreshing trending: %w", &cache.Error{Op: cache.OpGet, Kind: "trending", Class: cache.ErrUnavailable})
	var ce *cache.Error
	if errors.As(err, &ce) {
		// Op and Class print as metric labels with String.
		fmt.Println(errors.Is(err, cache.ErrUnavailable), ce.Op, ce.Class.String())
		fmt.Println(ce.Class) // an error prints its message
	}
	// Output:
	// true get unavailable
	// cache: redis unavailable
}

func ExampleRecorderFunc() {
	// Count reads per kind, outcome and tier: the shape of a Prometheus
	// counter vector.
	var mu sync.Mutex
	reads := make(map[[3]string]int)
	rec := cache.RecorderFunc(func(e cache.Event) {
		if e.Op != cache.OpGet {
			return
		}
		mu.Lock()
		reads[[3]string{e.Kind, e.Outcome.String(), e.Tier.String()}]++
		mu.Unlock()
	})
	c, err := cache.New(context.Background(), cache.Config{Recorder: rec})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

func ExampleConfig_clientOption() {
	// A Redis Cluster given by seed addresses, with a client wrapped by the
	// caller (hooks, tracing).
	c, err := cache.New(context.Background(), cache.Config{
		ClientOption: &rueidis.ClientOption{InitAddress: []string{"10.0.0.1:7000", "10.0.0.2:7000"}},
		ClientBuilder: func(opt rueidis.ClientOption) (rueidis.Client, error) {
			client, err := rueidis.NewClient(opt)
			return client, err // wrap it here, e.g. with rueidishook.WithHook
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

func ExampleConfig_legacy() {
	// During a migration from the original (Rust) service: share its live
	// cache, keys and values as it writes them, so that neither fleet
	// starts cold. Once it is gone, LegacyRead keeps reading its values
	// until they expire while this cache writes its own format.
	c, err := cache.New(context.Background(), cache.Config{
		Legacy:               cache.LegacyReadWrite,
		LegacyEmbeddingModel: "text-embedding-3-small", // the model whose vectors it cached
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

func ExampleConfig_cluster() {
	// A Redis Cluster, reached through three of its nodes; embeddings may
	// be read from replicas.
	c, err := cache.New(context.Background(), cache.Config{
		URL:          "rediss://cache-user:secret@/0", // credentials and TLS for every node
		ClusterAddrs: []string{"10.0.1.1:6379", "10.0.1.2:6379", "10.0.1.3:6379"},
		Policies:     map[string]cache.Policy{cache.KindEmbedding: {ReplicaReads: true}},
	})
	if err != nil {
		log.Fatal(err) // ErrInvalidConfig if the servers are not in cluster mode
	}
	defer c.Close()
}

func ExampleConfig_sentinel() {
	// A primary watched by three sentinels, which have a password of
	// their own.
	c, err := cache.New(context.Background(), cache.Config{
		URL: "redis://:data-password@/0", // the data servers' password and database; no host
		Sentinel: cache.SentinelConfig{
			Addrs:     []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
			MasterSet: "discovery",
			Password:  "sentinel-password",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

func ExampleRedisCache_Clear() {
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Count first, then clear, reporting progress.
	n, err := c.Clear(ctx, cache.ClearOptions{Kind: cache.KindSearch, DryRun: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("would remove", n)
	removed, err := c.Clear(ctx, cache.ClearOptions{Kind: cache.KindSearch, Progress: func(done int64) {
		fmt.Printf("\r%d of %d", done, n)
	}})
	fmt.Println("\nremoved", removed, err)
}

func ExampleRedisCache_Inspect() {
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	key, _ := cache.Search[string, []string](c).Key("the last empire")
	in, err := c.Inspect(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	if !in.Exists {
		fmt.Println("not cached")
		return
	}
	fmt.Println(in.Codec, in.Size, "bytes, expires in", in.TTL, "written at", in.WrittenAt, in.Value)
}

// slowOps is a Tracer that logs the operations slower than a bound, with
// the round trips they made: what a tracing adapter does with spans.
type slowOps struct {
	cache.RecorderFunc // Record: metrics would go here
	bound              time.Duration
}

type tripsKey struct{}

// trips are an operation's round trips (a cluster's batch makes them from
// several goroutines).
type trips struct {
	mu   sync.Mutex
	list []string
}

func (s slowOps) Begin(ctx context.Context, op cache.Op, kind string) (context.Context, func(error)) {
	start, t := time.Now(), &trips{}
	return context.WithValue(ctx, tripsKey{}, t), func(err error) {
		if d := time.Since(start); d > s.bound {
			t.mu.Lock()
			defer t.mu.Unlock()
			log.Printf("%s %s took %v (round trips %v), error %v", op, kind, d, t.list, err)
		}
	}
}

func (s slowOps) RoundTrip(ctx context.Context, rt cache.RoundTrip) {
	if t, ok := ctx.Value(tripsKey{}).(*trips); ok {
		t.mu.Lock()
		t.list = append(t.list, fmt.Sprintf("%v in %v", rt.Commands, rt.Latency))
		t.mu.Unlock()
	}
}

func ExampleTracer() {
	rec := slowOps{RecorderFunc: func(cache.Event) {}, bound: 50 * time.Millisecond}
	c, err := cache.New(context.Background(), cache.Config{Recorder: rec})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Every Get that reaches Redis, Fetch that misses, Set… begins in
	// rec.Begin, and its round trips are told to rec.RoundTrip.
	cache.Search[string, string](c).Get(context.Background(), "star wars")
}

func ExampleNearMatchGuard() {
	ok, _ := cache.NearMatchGuard("Tom Hanks comedies from the 90s", "90s comedies starring tom hanks, please")
	fmt.Println(ok)
	ok, reason := cache.NearMatchGuard("Tom Hanks comedies from the 90s", "Tom Hanks comedies from the 80s")
	fmt.Println(ok, reason)
	// Output:
	// true
	// false numbers differ: ["1990s"], ["1980s"]
}

// FetchSimilar serves a paraphrase from its neighbour: the caller has the
// query's vector (the service computes it for its search; Embeddings
// caches it), and the guards refuse any neighbour that differs in a
// number, a negation, a name…, however close its vector.
func ExampleFetchSimilar() {
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{
		URL: "redis://127.0.0.1:6379/0",
		Policies: map[string]cache.Policy{cache.KindSearch: {NearMatch: cache.NearMatch{
			Mode:  cache.NearMatchShadow, // first measure precision on your traffic (Stats), then NearMatchServe
			Model: "all-MiniLM-L6-v2",    // the model of the vectors given: entries of two models are never compared
		}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	searches := cache.Search[string, []string](c)
	embed := func(text string) []float32 { return []float32{0.12, -0.4, 0.33} } // your model
	query := "90s comedies starring Tom Hanks"
	ids, m, err := cache.FetchSimilar(ctx, searches, query, embed(query), func(ctx context.Context) ([]string, error) {
		return []string{"tt0107818", "tt0109830"}, nil // the search, on a miss not served by a neighbour
	})
	if err != nil {
		log.Fatal(err)
	}
	switch m.Kind {
	case cache.MatchNeighbour:
		fmt.Printf("%d results of %q (similarity %.3f)\n", len(ids), m.Text, m.Score)
	default:
		fmt.Printf("%d results (%v)\n", len(ids), m.Kind)
	}
	fmt.Printf("shadow precision so far: %.3f\n", c.Stats().Kinds[cache.KindSearch].NearMatch.Precision)
}

// Command cache_usage walks through every capability of package cache.
//
//	go -C examples run ./cache_usage
//
// With REDIS_URL set it uses that server (only keys under the namespace
// "discovery-example" are touched, and they are removed at the end).
// Without it, it starts an embedded Redis-compatible server in the process
// (miniredis) and says so, so it runs on a machine with no Redis at all.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/media-gateway/discovery/cache"
)

type Hit struct {
	ID    string  `json:"id"`
	Title string  `json:"title"`
	Score float64 `json:"score"`
}

type Intent struct {
	Action   string            `json:"action"`
	Entities map[string]string `json:"entities"`
}

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	// 1. Configuration: from the environment, zero fields meaning defaults.
	cfg, err := cache.ConfigFromEnv()
	if err != nil {
		return err
	}
	if cfg.URL == "" {
		srv, err := miniredis.Run()
		if err != nil {
			return err
		}
		defer srv.Close()
		cfg.URL = "redis://" + srv.Addr()
		fmt.Fprintf(out, "REDIS_URL is not set: using an embedded in-process server at %s (miniredis)\n", srv.Addr())
	} else {
		fmt.Fprintln(out, "using the Redis server in REDIS_URL")
	}
	cfg.Namespace = "discovery-example"
	if os.Getenv("VERBOSE") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// Every operation reaches a Recorder, the seam for your metrics; here it
	// counts them by operation and outcome.
	var recMu sync.Mutex
	recorded := make(map[string]int)
	cfg.Recorder = cache.RecorderFunc(func(e cache.Event) {
		recMu.Lock()
		recorded[e.Op.String()+"/"+e.Outcome.String()]++
		recMu.Unlock()
	})

	// 2. Connect (verified with a PING); one cache per process, shared.
	c, err := cache.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	defer c.ClearAll(ctx) // leave nothing behind in the namespace
	section("connected", "namespace %q", c.Namespace())

	// 3. Keys: deterministic SHA-256 of the input's canonical JSON.
	key, _ := cache.GenerateKey("search", "star wars")
	section("keys", "GenerateKey(search, \"star wars\") = %s", key)

	// 4. Search results: 30 min TTL.
	searches := cache.Search[string, []Hit](c)
	hits := []Hit{{ID: "tt0076759", Title: "Star Wars", Score: 0.98}, {ID: "tt0080684", Title: "The Empire Strikes Back", Score: 0.95}}
	if err := searches.Set(ctx, "star wars", hits); err != nil {
		return err
	}
	got, ok, err := searches.Get(ctx, "star wars")
	if err != nil {
		return err
	}
	rkey, _ := searches.Key("star wars")
	section("search results", "hit=%v, %d results, first %q, stored under %s for %v", ok, len(got), got[0].Title, rkey, searches.TTL())

	// The near cache: with a server that has client tracking (Redis 6 and
	// later), the second read of a key is answered from this process's
	// memory, and Redis tells the process when the key changes. The
	// embedded server has no client tracking: the cache says so and reads
	// from it every time.
	searches.Get(ctx, "star wars")
	if h, _ := c.Health(ctx); h.NearCache.On {
		section("near cache", "on: %d of 2 reads of \"star wars\" answered in process", c.Stats().Kinds[cache.KindSearch].LocalHits)
	} else {
		section("near cache", "off (%s): every read goes to Redis", h.NearCache.Reason)
	}

	// 5. Intents: 10 min TTL; the parser version is part of the key.
	intents := cache.Intents[Intent](c, "parser-v1")
	if err := intents.Set(ctx, "movies like Alien", Intent{Action: "recommend", Entities: map[string]string{"like": "Alien"}}); err != nil {
		return err
	}
	in, ok, _ := intents.Get(ctx, "movies like Alien")
	section("intents", "hit=%v, action %q, TTL %v", ok, in.Action, intents.TTL())

	// 6. Embeddings: 1 h TTL, packed float32, keyed by model and text.
	vectors, err := cache.Embeddings(c, "text-embedding-3-small")
	if err != nil {
		return err
	}
	other, err := cache.Embeddings(c, "another-model")
	if err != nil {
		return err
	}
	vec := make([]float32, 1536)
	for i := range vec {
		vec[i] = float32(i%7) / 7
	}
	if err := vectors.Set(ctx, "a heist thriller set in Paris", vec); err != nil {
		return err
	}
	v, ok, _ := vectors.Get(ctx, "a heist thriller set in Paris")
	_, okOther, _ := other.Get(ctx, "a heist thriller set in Paris")
	section("embeddings", "hit=%v, %d dimensions; same text, other model: hit=%v", ok, len(v), okOther)

	// 7. Cache-aside: 20 concurrent misses of one query, one loader call.
	var calls int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			searches.Fetch(ctx, "alien", func(ctx context.Context) ([]Hit, error) {
				mu.Lock()
				calls++
				mu.Unlock()
				time.Sleep(50 * time.Millisecond) // a slow search backend
				return []Hit{{ID: "tt0078748", Title: "Alien", Score: 0.99}}, nil
			})
		}()
	}
	wg.Wait()
	section("fetch", "20 concurrent callers, loader called %d time(s)", calls)
	// Across processes too: the first to miss takes a short lease under the
	// key, and the others wait for its value (Config.Policy.Lease).

	// Batches: look up many texts in one round trip, embed only the misses
	// in one call, store them in one more.
	texts := []string{"a heist thriller set in Paris", "space opera", "cosy mystery", "space opera", "noir"}
	var embedded []string
	batch, err := vectors.FetchMany(ctx, texts, func(ctx context.Context, missed []string) ([][]float32, error) {
		embedded = missed
		out := make([][]float32, len(missed))
		for i := range out {
			out[i] = vec // a model's batch endpoint
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	section("batch", "%d vectors for %d texts; the embedder was called once, with %q", len(batch), len(texts), embedded)

	// Warming: preload the queries a service will see first, a few loads at
	// a time, with progress and a summary.
	var warmQueries []string
	for i := range 50 {
		warmQueries = append(warmQueries, fmt.Sprint("popular query ", i))
	}
	warmQueries = append(warmQueries, "alien") // already cached
	sum, err := searches.Warm(ctx, warmQueries, func(ctx context.Context, q string) ([]Hit, error) {
		return []Hit{{ID: "tt" + q, Title: q}}, nil
	}, cache.WarmOptions{Concurrency: 4, Progress: func(s cache.WarmSummary) {
		if s.Done == s.Inputs {
			section("warm", "%d/%d done", s.Done, s.Inputs)
		}
	}})
	if err != nil {
		return err
	}
	section("", "%d inputs: %d already cached, %d loaded, %d failed, in %v", sum.Inputs, sum.Cached, sum.Loaded, sum.Failed, sum.Took.Round(time.Millisecond))

	// 8. Generic typed operations with a TTL, for anything else.
	type Profile struct {
		Name   string   `json:"name"`
		Genres []string `json:"genres"`
	}
	for _, id := range []string{"1", "2", "3*"} {
		if err := cache.Set(ctx, c, "user:"+id+":profile", Profile{Name: "user " + id, Genres: []string{"sci-fi"}}, 5*time.Minute); err != nil {
			return err
		}
	}
	p, ok, _ := cache.Get[Profile](ctx, c, "user:1:profile")
	n, _ := c.Delete(ctx, "user:1:profile")
	// User text in a pattern must be escaped: "3*" unescaped would match user 3x, 30, …
	m, _ := c.DeletePattern(ctx, "user:"+cache.EscapePattern("3*")+":*")
	section("generic", "Get user:1 = %q (hit=%v); Delete removed %d; DeletePattern(user:3\\*:*) removed %d", p.Name, ok, n, m)

	// 9. Errors are typed.
	small, _ := cache.New(ctx, cache.Config{URL: cfg.URL, Namespace: cfg.Namespace, MaxValueBytes: 64})
	err = cache.Search[string, []Hit](small).Set(ctx, "too big", hits)
	small.Close()
	_, badErr := cache.New(ctx, cache.Config{URL: "redis://user:secret@127.0.0.1:notaport"})
	section("errors", "errors.Is(err, ErrValueTooLarge) = %v: %v", errors.Is(err, cache.ErrValueTooLarge), err)
	section("", "errors.Is(err, ErrInvalidConfig) = %v: %v", errors.Is(badErr, cache.ErrInvalidConfig), badErr)

	// A Redis that cannot be reached is not an outage: New starts without
	// it, Fetch answers from the loader at once, and the cache connects in
	// the background when Redis comes.
	down, err := cache.New(ctx, cache.Config{URL: "redis://127.0.0.1:1/0", Namespace: "discovery-example"})
	if err != nil {
		return err
	}
	answer, err := cache.Search[string, string](down).Fetch(ctx, "q", func(context.Context) (string, error) { return "from the loader", nil })
	_, _, getErr := cache.Search[string, string](down).Get(ctx, "q")
	dh, _ := down.Health(ctx)
	section("no Redis", "New succeeded; Fetch = %q, %v; Get: errors.Is(err, ErrCircuitOpen) = %v; breaker %v, connected %v",
		answer, err, errors.Is(getErr, cache.ErrCircuitOpen), dh.Breaker.State, dh.Connected)
	down.Close()

	// 10. Health and statistics.
	h, err := c.Health(ctx)
	if err != nil {
		return err
	}
	section("health", "PING round trip %v, near cache on: %v, circuit breaker %v", h.Latency, h.NearCache.On, h.Breaker.State)
	st := c.Stats()
	for i, name := range st.Names() {
		k := st.Kinds[name]
		title := ""
		if i == 0 {
			title = "stats"
		}
		section(title, "%-9s hits %d (%d local), misses %d (hit rate %.0f%%), sets %d, deletes %d, errors %d, loads %d, get p50 %v",
			name, k.Hits, k.LocalHits, k.Misses, 100*k.HitRate(), k.Sets, k.Deletes, k.Errors, k.Loads, k.Latency[cache.OpGet].P50)
	}
	recMu.Lock()
	section("recorder", "get/hit %d, get/miss %d, set/ok %d, load/ok %d",
		recorded["get/hit"], recorded["get/miss"], recorded["set/ok"], recorded["load/ok"])
	recMu.Unlock()
	ss, err := c.ServerStats(ctx)
	if err != nil {
		return err
	}
	section("server", "used memory %d bytes, keys in namespace %d %v", ss.UsedMemory, ss.TotalKeys, ss.Keys)

	// 11. Clearing, per kind and whole namespace, touching nothing else.
	ns, _ := c.ClearKind(ctx, cache.KindSearch)
	all, _ := c.ClearAll(ctx)
	section("clear", "search cleared %d keys; ClearAll cleared %d more", ns, all)
	return nil
}

// out is where the walkthrough writes (its test reads it).
var out io.Writer = os.Stdout

func section(title, format string, args ...any) {
	if title != "" {
		title += ":"
	}
	fmt.Fprintf(out, "%-15s %s\n", title, fmt.Sprintf(format, args...))
}

package cache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// tracer is a cache.Tracer that keeps what it is told: each operation
// begun, with the one it was begun inside, how it ended, and each round
// trip with the operation that made it.
type tracer struct {
	mu     sync.Mutex
	ops    []*traced
	trips  []trip
	events []cache.Event
}

type traced struct {
	op     cache.Op
	kind   string
	parent *traced
	ends   int
	err    error
}

type trip struct {
	rt cache.RoundTrip
	in *traced
}

type tracedKey struct{}

func (t *tracer) Begin(ctx context.Context, op cache.Op, kind string) (context.Context, func(error)) {
	parent, _ := ctx.Value(tracedKey{}).(*traced)
	o := &traced{op: op, kind: kind, parent: parent}
	t.mu.Lock()
	t.ops = append(t.ops, o)
	t.mu.Unlock()
	return context.WithValue(ctx, tracedKey{}, o), func(err error) {
		t.mu.Lock()
		o.ends++
		o.err = err
		t.mu.Unlock()
	}
}

func (t *tracer) RoundTrip(ctx context.Context, rt cache.RoundTrip) {
	in, _ := ctx.Value(tracedKey{}).(*traced)
	t.mu.Lock()
	t.trips = append(t.trips, trip{rt, in})
	t.mu.Unlock()
}

func (t *tracer) Record(e cache.Event) {
	t.mu.Lock()
	t.events = append(t.events, e)
	t.mu.Unlock()
}

// take returns what was traced so far, and forgets it.
func (t *tracer) take() ([]*traced, []trip, []cache.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ops, trips, events := t.ops, t.trips, t.events
	t.ops, t.trips, t.events = nil, nil, nil
	return ops, trips, events
}

// ended fails t unless every operation of ops ended once.
func ended(t *testing.T, what string, ops []*traced) {
	t.Helper()
	for _, o := range ops {
		if o.ends != 1 {
			t.Errorf("%s: %s ended %d times; want once", what, o.path(), o.ends)
		}
	}
}

// path names o and the operations it is inside: "load<fetch".
func (o *traced) path() string {
	var parts []string
	for ; o != nil; o = o.parent {
		parts = append(parts, o.op.String())
	}
	return strings.Join(parts, "<")
}

// With a Tracer as Recorder, an operation is begun before its work and
// ended once; its round trips to Redis and its loader run inside it (the
// loader's context carries the load, itself inside the Fetch); a
// near-cache hit begins nothing; round trips name their commands and the
// server, never a key.
func TestTracer(t *testing.T) {
	t.Parallel()
	tr := &tracer{}
	c := newCache(t, func(cfg *cache.Config) { cfg.Recorder = tr })
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	tr.take() // New's

	var loaderSaw string
	if _, err := search.Fetch(ctx, "secret query", func(ctx context.Context) (string, error) {
		o, _ := ctx.Value(tracedKey{}).(*traced)
		loaderSaw = o.path()
		return "v", nil
	}); err != nil {
		t.Fatal(err)
	}
	ops, trips, events := tr.take()
	if loaderSaw != "load<fetch" {
		t.Errorf("the loader ran in %q; want load<fetch (its spans nest under the load)", loaderSaw)
	}
	var names []string
	for _, o := range ops {
		names = append(names, o.path())
		if o.ends != 1 || o.err != nil || o.kind != "search" {
			t.Errorf("%s: ended %d times, with %v, kind %q; want once, nil, search", o.path(), o.ends, o.err, o.kind)
		}
	}
	if got := strings.Join(names, " "); got != "fetch load<fetch" {
		t.Errorf("operations begun: %s; want fetch, then load inside it", got)
	}
	host, port := "", 0
	for _, tp := range trips {
		if tp.in == nil || tp.in.op != cache.OpFetch {
			t.Errorf("round trip %v made outside the fetch: %v", tp.rt.Commands, tp.in)
		}
		if tp.rt.Latency <= 0 || tp.rt.Start.IsZero() || tp.rt.Err != nil {
			t.Errorf("round trip %+v", tp.rt)
		}
		for _, cmd := range tp.rt.Commands {
			if strings.ContainsAny(cmd, ":abcdefghijklmnopqrstuvwxyz") {
				t.Errorf("round trip command %q: a key or a value, or not a command's name", cmd)
			}
		}
		host, port = tp.rt.ServerAddress()
	}
	stored := slices.ContainsFunc(trips, func(tp trip) bool { return slices.Contains(tp.rt.Commands, "SET") })
	if len(trips) < 2 || !slices.Contains(trips[0].rt.Commands, "GET") || !stored {
		t.Errorf("round trips %v; want a read (GET) first, and a store (SET)", trips)
	}
	if want := strings.TrimSuffix(strings.TrimPrefix(redisURL(t), "redis://"), "/0"); fmt.Sprintf("%s:%d", host, port) != want {
		t.Errorf("round trips' server %s:%d; want %s", host, port, want)
	}
	for _, e := range events {
		if o, _ := e.Context.Value(tracedKey{}).(*traced); o == nil {
			t.Errorf("event %v %v carries no operation in its context", e.Op, e.Outcome)
		}
	}

	// A near-cache hit begins nothing.
	for range 3 {
		search.Get(ctx, "secret query")
	}
	tr.take()
	search.Get(ctx, "secret query")
	if ops, trips, _ := tr.take(); len(ops) != 0 || len(trips) != 0 {
		t.Errorf("a near-cache hit began %d operations and made %d round trips; want none", len(ops), len(trips))
	}

	// A read from Redis, a failing loader, a batch, a health check.
	search.Get(ctx, "never cached")
	ops, trips, _ = tr.take()
	ended(t, "Get", ops)
	if len(ops) != 1 || ops[0].op != cache.OpGet || len(trips) != 1 || trips[0].in != ops[0] || trips[0].rt.Commands[len(trips[0].rt.Commands)-1] == "" {
		t.Errorf("Get from Redis: %v, %v", ops, trips)
	}
	failure := errors.New("backend down")
	search.Fetch(ctx, "failing", func(context.Context) (string, error) { return "", failure })
	ops, _, _ = tr.take()
	ended(t, "Fetch with a failing loader", ops)
	for _, o := range ops {
		if !errors.Is(o.err, failure) {
			t.Errorf("%s ended with %v; want the loader's error", o.path(), o.err)
		}
	}
	search.GetMany(ctx, []string{"a", "b"})
	ops, trips, _ = tr.take()
	ended(t, "GetMany", ops)
	if len(ops) != 1 || ops[0].op != cache.OpGetMany || len(trips) == 0 || !slices.Contains(trips[0].rt.Commands, "MGET") {
		t.Errorf("GetMany: %v, %+v", ops, trips)
	}
	c.Health(ctx)
	ops, trips, _ = tr.take()
	ended(t, "Health", ops)
	if len(ops) != 1 || ops[0].op != cache.OpPing || ops[0].kind != "" || len(trips) != 1 || trips[0].rt.Commands[0] != "PING" {
		t.Errorf("Health: %v, %+v", ops, trips)
	}
	search.Set(ctx, "x", "1")
	search.Delete(ctx, "x")
	search.SetMany(ctx, []string{"y"}, []string{"2"})
	c.ClearKind(ctx, cache.KindSearch)
	c.ServerStats(ctx)
	ops, _, _ = tr.take()
	ended(t, "Set, Delete, SetMany, ClearKind, ServerStats", ops)
	var begun []string
	for _, o := range ops {
		begun = append(begun, o.op.String())
	}
	if got := strings.Join(begun, " "); got != "set delete set_many clear server_stats" {
		t.Errorf("operations begun: %s", got)
	}

	// An error reply is the round trip's error.
	raw := rawClient(t, redisURL(t))
	key, _ := search.Key("a hash")
	if err := raw.Do(ctx, raw.B().Hset().Key(key).FieldValue().FieldValue("f", "v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	search.Get(ctx, "a hash")
	ops, trips, _ = tr.take()
	ended(t, "Get of a hash", ops)
	if len(trips) != 1 || !errors.Is(trips[0].rt.Err, cache.ErrOperation) {
		t.Errorf("Get of a hash: round trips %+v; want one, failed with ErrOperation (WRONGTYPE)", trips)
	}
}

// A caller that leaves during a round trip: the round trip and the
// operation end with the context's error, not as a failure of Redis.
func TestTracerCallerLeaves(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	tr := &tracer{}
	c, err := cache.New(context.Background(), cache.Config{URL: proxy.URL(), Recorder: tr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tr.take()
	proxy.Latency(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	cache.Search[string, string](c).Get(ctx, "q")
	ops, trips, _ := tr.take()
	ended(t, "Get", ops)
	if len(ops) != 1 || !errors.Is(ops[0].err, context.DeadlineExceeded) || errors.Is(ops[0].err, cache.ErrUnavailable) {
		t.Errorf("Get cut short by its caller ended with %v; want context.DeadlineExceeded alone", ops[0].err)
	}
	if len(trips) != 1 || !errors.Is(trips[0].rt.Err, context.DeadlineExceeded) || errors.Is(trips[0].rt.Err, cache.ErrUnavailable) {
		t.Errorf("its round trip: %+v; want context.DeadlineExceeded alone", trips)
	}
}

// A round trip that gets no answer in time is reported with its error.
func TestTracerRoundTripFailure(t *testing.T) {
	t.Parallel()
	tr := &tracer{}
	c := newCache(t, func(cfg *cache.Config) { cfg.Recorder = tr })
	tr.take() // New's
	ctx, cancel := context.WithTimeout(ctxT(t), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	cache.Search[string, string](c).Get(ctx, "x")
	if _, trips, _ := tr.take(); len(trips) != 0 {
		t.Errorf("a Get whose context had ended made round trips %v; want none (nothing is sent)", trips)
	}
}

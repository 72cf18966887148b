package cache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
)

// events is a Recorder that keeps what it receives.
type events struct {
	mu  sync.Mutex
	all []cache.Event
}

func (r *events) Record(e cache.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, e)
}

// take returns the events received so far, and forgets them.
func (r *events) take() []cache.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.all
	r.all = nil
	return out
}

// Each operation reaches the Recorder once, with its kind, outcome, class,
// tier and a latency.
func TestRecorderEvents(t *testing.T) {
	t.Parallel()
	rec := new(events)
	c := newCache(t, func(cfg *cache.Config) { cfg.Recorder = rec })
	ctx := ctxT(t)
	search := cache.Search[string, int](c)
	raw := rawClient(t, redisURL(t))
	badKey, _ := search.Key("corrupt")
	raw.Do(ctx, raw.B().Set().Key(badKey).Value("not an envelope").Build())
	rec.take() // New's ping

	type want struct {
		kind    string
		op      cache.Op
		outcome cache.Outcome
		class   cache.Class
		tier    cache.Tier
	}
	for _, tc := range []struct {
		name string
		do   func()
		want []want
	}{
		{"miss", func() { search.Get(ctx, "q") }, []want{{"search", cache.OpGet, cache.OutcomeMiss, 0, cache.TierRedis}}},
		{"set", func() { search.Set(ctx, "q", 1) }, []want{{"search", cache.OpSet, cache.OutcomeOK, 0, 0}}},
		{"hit", func() { search.Get(ctx, "q") }, []want{{"search", cache.OpGet, cache.OutcomeHit, 0, cache.TierRedis}}},
		{"undecodable", func() { search.Get(ctx, "corrupt") },
			[]want{{"search", cache.OpGet, cache.OutcomeMiss, cache.ErrSerialization, cache.TierRedis}}},
		{"not encodable", func() { cache.Search[string, chan int](c).Set(ctx, "c", make(chan int)) },
			[]want{{"search", cache.OpSet, cache.OutcomeError, cache.ErrSerialization, 0}}},
		{"fetch miss", func() {
			cache.Fetch(ctx, c, "k", time.Minute, func(context.Context) (int, error) { return 1, nil })
		}, []want{
			{"custom", cache.OpGet, cache.OutcomeMiss, 0, cache.TierRedis},
			{"custom", cache.OpLoad, cache.OutcomeOK, 0, 0},
			{"custom", cache.OpSet, cache.OutcomeOK, 0, 0},
			{"custom", cache.OpFetch, cache.OutcomeOK, 0, 0}, // its time from end to end
		}},
		{"loader error", func() {
			search.Fetch(ctx, "e", func(context.Context) (int, error) { return 0, errSearchBackend })
		}, []want{
			{"search", cache.OpGet, cache.OutcomeMiss, 0, cache.TierRedis},
			{"search", cache.OpLoad, cache.OutcomeError, 0, 0},
			{"search", cache.OpFetch, cache.OutcomeError, 0, 0},
		}},
		{"fetch hit in the near cache", func() {
			search.Set(ctx, "near", 1)
			for range 3 { // the first read after this process's write may go to Redis
				search.Get(ctx, "near")
			}
			rec.take()
			search.Fetch(ctx, "near", func(context.Context) (int, error) { return 0, nil })
		}, []want{{"search", cache.OpGet, cache.OutcomeHit, 0, cache.TierLocal}}}, // no fetch event: counted, not timed
		{"delete", func() { search.Delete(ctx, "q") }, []want{{"search", cache.OpDelete, cache.OutcomeOK, 0, 0}}},
		{"clear all", func() { c.ClearAll(ctx) }, []want{{"", cache.OpClear, cache.OutcomeOK, 0, 0}}},
		{"misuse is not recorded", func() { cache.Set(ctx, c, "", 1, time.Minute) }, nil},
	} {
		tc.do()
		got := rec.take()
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d events %+v, want %d", tc.name, len(got), got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			e := got[i]
			if e.Kind != w.kind || e.Op != w.op || e.Outcome != w.outcome || e.Class != w.class || e.Tier != w.tier || e.Latency <= 0 {
				t.Errorf("%s: event %d = %+v, want %+v and a latency", tc.name, i, e, w)
			}
		}
	}
}

// A cancelled caller is counted apart: not a miss, not an error.
func TestCancellationCountedApart(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	search := cache.Search[string, int](c)
	if _, _, err := search.Get(ctx, "q"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context: %v", err)
	}
	st := c.Stats().Kinds[cache.KindSearch]
	if st.Canceled != 1 || st.Misses != 0 || st.Errors != 0 {
		t.Errorf("figures %+v; want 1 cancelled, no miss, no error", st)
	}
}

// A misuse is returned as ErrInvalidArgument and is not an operational
// error: not counted.
func TestMisuseNotCounted(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	for name, err := range map[string]error{
		"Set ttl 0":      cache.Set(ctx, c, "k", 1, 0),
		"Set empty key":  cache.Set(ctx, c, "", 1, time.Minute),
		"Delete empty":   func() error { _, err := c.Delete(ctx, ""); return err }(),
		"ClearKind glob": func() error { _, err := c.ClearKind(ctx, "sea*"); return err }(),
	} {
		if !errors.Is(err, cache.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := cache.Fetch(ctx, c, "k", -time.Second, func(context.Context) (int, error) {
		t.Error("loader called for a misuse")
		return 0, nil
	}); !errors.Is(err, cache.ErrInvalidArgument) {
		t.Errorf("Fetch with a negative ttl: %v", err)
	}
	if st := c.Stats(); st.Total().Errors != 0 || st.Cache.Errors != 0 {
		t.Errorf("misuse counted as errors: %+v", st)
	}
}

// Views of one kind share one TTL: another TTL for the same name is refused.
func TestNewKindOneTTL(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	if _, err := cache.NewKind[string, int](c, "trending", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.NewKind[string, string](c, "trending", time.Minute); err != nil {
		t.Errorf("a second view with the same TTL: %v", err)
	}
	_, err := cache.NewKind[string, int](c, "trending", time.Hour)
	if !errors.Is(err, cache.ErrInvalidArgument) || !strings.Contains(err.Error(), "1m0s") {
		t.Errorf("another TTL for an existing kind: %v, want ErrInvalidArgument naming the TTL it has", err)
	}
}

// A loader's panic keeps the stack of where it panicked.
func TestLoaderPanicKeepsStack(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	_, err := cache.Search[string, int](c).Fetch(ctxT(t), "q", panickingLoader)
	if !errors.Is(err, cache.ErrLoaderPanic) {
		t.Fatalf("Fetch with a panicking loader: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "index out of range") || !strings.Contains(msg, "panickingLoader") {
		t.Errorf("the error lacks the panic value or the loader's frame:\n%s", msg)
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.LoadErrors != 1 || st.Errors != 0 {
		t.Errorf("figures %+v; want 1 load error and no cache error", st)
	}
}

func panickingLoader(context.Context) (int, error) {
	var s []int
	return s[3], nil
}

// A Get that is already past its own check when Close runs fails with
// ErrClosed, not ErrUnavailable. The client is wrapped (Config.ClientBuilder)
// so that the GET waits at the door of the client while Close runs.
func TestRaceWithClose(t *testing.T) {
	t.Parallel()
	entered, gate := make(chan struct{}), make(chan struct{})
	c := newCache(t, func(cfg *cache.Config) {
		opt, err := rueidis.ParseURL(cfg.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.URL, cfg.ClientOption = "", &opt
		cfg.ClientBuilder = func(opt rueidis.ClientOption) (rueidis.Client, error) {
			client, err := rueidis.NewClient(opt)
			// Hold each GET of a search key until gate is closed.
			return watchedClient{Client: client, see: func(cmd rueidis.Completed) {
				if c := cmd.Commands(); c[0] == "GET" && strings.Contains(c[1], ":search:") {
					entered <- struct{}{}
					<-gate
				}
			}}, err
		}
	})
	done := make(chan error)
	go func() {
		_, _, err := cache.Search[string, int](c).Get(ctxT(t), "q")
		done <- err
	}()
	<-entered
	c.Close()
	close(gate)
	if err := <-done; !errors.Is(err, cache.ErrClosed) || errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("a Get racing Close: %v, want ErrClosed", err)
	}
}

// watchedClient calls see with each command sent through it, before
// sending it: to count commands, or to hold them; and trip, if set, once
// per round trip (Do or DoMulti).
type watchedClient struct {
	rueidis.Client
	see  func(rueidis.Completed)
	trip func()
}

func (w watchedClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	if w.trip != nil {
		w.trip()
	}
	w.see(cmd)
	return w.Client.Do(ctx, cmd)
}

func (w watchedClient) DoMulti(ctx context.Context, cmds ...rueidis.Completed) []rueidis.RedisResult {
	if w.trip != nil {
		w.trip()
	}
	for _, cmd := range cmds {
		w.see(cmd)
	}
	return w.Client.DoMulti(ctx, cmds...)
}

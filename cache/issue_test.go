package cache_test

// Regression tests, each named after the bug it guards against. Each
// failed before its fix.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// A value too large to store, loaded under a lease, released its lease
// only when the lease expired: every later Fetch of the key, in every
// process, waited out the lease.
func TestLeaseReleasedWhenValueCannotBeStored(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) { cfg.Policy.Lease = 10 * time.Second; cfg.MaxValueBytes = 1024 })
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	search := cache.Search[string, string](c)
	big := strings.Repeat("x", 4096)
	v, err := search.Fetch(ctx, "q", func(context.Context) (string, error) { return big, nil })
	if v != big || err != nil {
		t.Fatalf("Fetch of a value too large to store = %d bytes, %v; want the loader's value", len(v), err)
	}
	key, _ := search.Key("q")
	n, err := raw.Do(ctx, raw.B().Exists().Key(key).Build()).AsInt64()
	if err != nil || n != 0 {
		t.Fatalf("EXISTS %s after the Fetch = %d, %v; want 0: the lease released", key, n, err)
	}
	// Another process's Fetch of the key does not wait on a lease.
	other := cache.Search[string, string](newCache(t, func(cfg *cache.Config) { cfg.Namespace = c.Namespace() }))
	if v, err := other.Fetch(ctx, "q", func(context.Context) (string, error) { return "small", nil }); v != "small" || err != nil {
		t.Fatalf("Fetch after = %q, %v", v, err)
	}
	if st := c.Stats().Kinds[cache.KindSearch]; st.LeaseTimeouts != 0 || st.LeaseHits != 0 {
		t.Errorf("lease figures = %d timeouts, %d hits; want none", st.LeaseTimeouts, st.LeaseHits)
	}
}

// panicky is a value whose JSON encoding or decoding panics, as a user's
// type with a faulty MarshalJSON or UnmarshalJSON would.
type panicky struct {
	V             string
	panicOnEncode bool
}

var panickyDecode atomic.Bool

func (p panicky) MarshalJSON() ([]byte, error) {
	if p.panicOnEncode {
		panic("MarshalJSON: nil map")
	}
	return json.Marshal(p.V)
}

func (p *panicky) UnmarshalJSON(b []byte) error {
	if panickyDecode.Load() {
		panic("UnmarshalJSON: index out of range")
	}
	return json.Unmarshal(b, &p.V)
}

// A value whose encoder panics, loaded by Fetch, FetchMany or Warm, killed
// the process (the panic was re-raised on singleflight's goroutine); Set
// panicked in its caller. Each now fails its write with ErrSerialization,
// holding the panic, and Fetch returns the loaded value.
func TestEncoderPanicIsAnError(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	kd, err := cache.NewKind[string, panicky](c, "panicky-encode", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bad := panicky{V: "v", panicOnEncode: true}
	err = kd.Set(ctx, "a", bad)
	if !errors.Is(err, cache.ErrSerialization) || !strings.Contains(err.Error(), "MarshalJSON: nil map") {
		t.Errorf("Set of a value whose MarshalJSON panics = %v; want ErrSerialization with the panic", err)
	}
	v, err := kd.Fetch(ctx, "b", func(context.Context) (panicky, error) { return bad, nil })
	if err != nil || v.V != "v" {
		t.Errorf("Fetch = %+v, %v; want the loaded value", v, err)
	}
	vs, err := kd.FetchMany(ctx, []string{"c", "d"}, func(_ context.Context, ins []string) ([]panicky, error) {
		return []panicky{bad, bad}, nil
	})
	if err != nil || len(vs) != 2 || vs[1].V != "v" {
		t.Errorf("FetchMany = %+v, %v; want the loaded values", vs, err)
	}
	sum, err := kd.Warm(ctx, []string{"e", "f"}, func(context.Context, string) (panicky, error) { return bad, nil }, cache.WarmOptions{Force: true})
	if err != nil || sum.Failed != 2 || !errors.Is(sum.FirstError, cache.ErrSerialization) {
		t.Errorf("Warm = %+v, %v; want 2 failed with ErrSerialization", sum, err)
	}
	if st := c.Stats().Kinds["panicky-encode"]; st.Errors == 0 {
		t.Errorf("Stats = %+v; want the failed writes counted as errors", st)
	}
}

// A value whose decoder panics killed a Fetch's process too; Get
// panicked in its caller. Each read now sees the bytes as unusable: Get
// returns ErrSerialization, Fetch and FetchMany load.
func TestDecoderPanicIsAnError(t *testing.T) {
	c := newCache(t, func(cfg *cache.Config) { cfg.NearCacheBytes = -1 })
	ctx := ctxT(t)
	kd, err := cache.NewKind[string, panicky](c, "panicky-decode", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"a", "b", "c"} {
		if err := kd.Set(ctx, in, panicky{V: "stored"}); err != nil {
			t.Fatal(err)
		}
	}
	panickyDecode.Store(true)
	defer panickyDecode.Store(false)
	_, ok, err := kd.Get(ctx, "a")
	if ok || !errors.Is(err, cache.ErrSerialization) || !strings.Contains(err.Error(), "UnmarshalJSON: index out of range") {
		t.Errorf("Get of a value whose UnmarshalJSON panics = %v, %v; want a miss with ErrSerialization holding the panic", ok, err)
	}
	v, err := kd.Fetch(ctx, "b", func(context.Context) (panicky, error) { return panicky{V: "loaded"}, nil })
	if err != nil || v.V != "loaded" {
		t.Errorf("Fetch = %+v, %v; want the loaded value", v, err)
	}
	vs, err := kd.FetchMany(ctx, []string{"c"}, func(_ context.Context, ins []string) ([]panicky, error) {
		return []panicky{{V: "loaded"}}, nil
	})
	if err != nil || len(vs) != 1 || vs[0].V != "loaded" {
		t.Errorf("FetchMany = %+v, %v; want the loaded value", vs, err)
	}
}

// A loader that panicked under Warm with Force killed the process (it was
// called directly, not through the recovering path), and its loads were
// missing from Stats.
func TestWarmForceLoaderPanic(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	intents := cache.Intents[string](c, "parser-1")
	sum, err := intents.Warm(ctx, []string{"a", "b", "c"}, func(context.Context, string) (string, error) {
		panic("model crashed")
	}, cache.WarmOptions{Force: true})
	if err != nil || sum.Failed != 3 || !errors.Is(sum.FirstError, cache.ErrLoaderPanic) || !strings.Contains(sum.FirstError.Error(), "model crashed") {
		t.Errorf("Warm with a panicking loader = %+v, %v; want 3 failed with ErrLoaderPanic", sum, err)
	}
	if st := c.Stats().Kinds[cache.KindIntent]; st.Loads != 3 || st.LoadErrors != 3 {
		t.Errorf("Stats = %d loads, %d failed; want 3 and 3", st.Loads, st.LoadErrors)
	}
}

// A loader that hung (a backend call ignoring its context) pinned its
// key: every later Fetch of it in the process joined the stuck flight and
// failed with its own deadline, although each brought a loader that
// answers at once. A caller that joined a flight now loads for itself
// while its deadline leaves the time of a load.
func TestHungLoaderDoesNotPinKey(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	search := cache.Search[string, string](c)
	// Loads of other keys have been timed: the kind's loads take about
	// nothing, so a flight that has run for most of a caller's time hangs.
	if _, err := search.Fetch(ctx, "other", func(context.Context) (string, error) { return "v", nil }); err != nil {
		t.Fatal(err)
	}
	hung, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	go search.Fetch(ctx, "q", func(context.Context) (string, error) {
		close(hung)
		<-release
		return "late", nil
	})
	<-hung
	var wg sync.WaitGroup
	var got, loads atomic.Int32
	for range 10 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			v, err := search.Fetch(ctx, "q", func(context.Context) (string, error) { loads.Add(1); return "now", nil })
			if err != nil || v != "now" {
				t.Errorf("Fetch behind a hung loader = %q, %v; want its own loader's value", v, err)
				return
			}
			got.Add(1)
		})
	}
	wg.Wait()
	if n := loads.Load(); n < 1 || n > 10 {
		t.Errorf("%d loads by the 10 callers; want each at most once", n)
	}
	t.Logf("%d of 10 Fetches with 2 s deadlines behind a hung loader got a value, with %d loads", got.Load(), loads.Load())
}

// Close turned a Fetch whose own load raced another process's lease into
// context.Canceled: the load ran on a context Close canceled. Such a Fetch
// gets its loader's value.
func TestCloseDuringLeaseRace(t *testing.T) {
	t.Parallel()
	c := newCache(t, func(cfg *cache.Config) { cfg.Policy.Lease = 50 * time.Millisecond })
	ctx := ctxT(t)
	raw := rawClient(t, redisURL(t))
	search := cache.Search[string, string](c)
	key, _ := search.Key("q")
	// Another process's lease, held for the whole test.
	if err := raw.Do(ctx, raw.B().Set().Key(key).Value(leaseBytes).Px(30*time.Second).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	loading := make(chan struct{})
	go func() {
		<-loading
		c.Close()
	}()
	v, err := search.Fetch(ctx, "q", func(ctx context.Context) (string, error) {
		close(loading)
		select {
		case <-time.After(300 * time.Millisecond):
			return "mine", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	if v != "mine" || err != nil {
		t.Errorf("Fetch racing a lease while the cache closed = %q, %v; want the loader's value", v, err)
	}
}

// Warm kept loading after Close (1,856 of 2,000 loads came after it) and
// returned nil. It now stops, and says why.
func TestWarmStopsAtClose(t *testing.T) {
	t.Parallel()
	c := newCache(t)
	ctx := ctxT(t)
	ins := make([]string, 2000)
	for i := range ins {
		ins[i] = fmt.Sprint("input ", i)
	}
	var loads atomic.Int32
	var once sync.Once
	sum, err := cache.Intents[string](c, "parser-1").Warm(ctx, ins, func(context.Context, string) (string, error) {
		if loads.Add(1) == 10 {
			once.Do(func() { c.Close() })
		}
		return "intent", nil
	}, cache.WarmOptions{Concurrency: 1, Force: true})
	if !errors.Is(err, cache.ErrClosed) {
		t.Errorf("Warm across Close = %v; want ErrClosed", err)
	}
	if n := loads.Load(); n != 10 {
		t.Errorf("%d loads; want 10: none started after the 10th closed the cache (one at a time)", n)
	}
	t.Logf("Warm across Close: %+v after %d loads", sum, loads.Load())
}

// A value loaded while another process changed the key (Set, Delete,
// ClearKind, the original service's write) landed after the change and
// lived for the whole TTL. Loaded under a lease, it is now stored only
// while the key still holds the lease; loaded without one (Policy.Lease
// off, the original service's format, FetchMany), only while the key
// holds nothing.
func TestLoadedValueNeverOverwritesNewer(t *testing.T) {
	t.Parallel()
	noLease := func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindSearch: {Lease: -1}}
	}
	legacy := func(cfg *cache.Config) { cfg.Legacy = cache.LegacyReadWrite }
	for _, tc := range []struct {
		mode    string
		edit    func(*cache.Config)
		many    bool // FetchMany, not Fetch
		changes []string
	}{
		{mode: "lease", changes: []string{"Set", "Delete", "ClearKind", "raw write"}},
		{mode: "no lease", edit: noLease, changes: []string{"Set", "raw write"}},
		{mode: "legacy writer", edit: legacy, changes: []string{"Set", "raw write"}},
		{mode: "FetchMany", many: true, changes: []string{"Set", "raw write"}},
	} {
		for _, change := range tc.changes {
			t.Run(tc.mode+"/"+change, func(t *testing.T) {
				t.Parallel()
				ns := uniqueNamespace(t)
				url := redisURL(t)
				if tc.mode == "legacy writer" {
					// The original service's keys have no namespace: a
					// test clearing them on the shared server would clear
					// this one's too.
					url = redistest.Start(t).URL()
				}
				edit := func(cfg *cache.Config) {
					cfg.URL, cfg.Namespace = url, ns
					if tc.edit != nil {
						tc.edit(cfg)
					}
				}
				a := newCache(t, edit)
				b := newCache(t, edit, func(cfg *cache.Config) { cfg.NearCacheBytes = -1 })
				ctx := ctxT(t)
				in := ns // unique: the legacy keys have no namespace
				other := cache.Search[string, string](b)
				key, err := other.Key(in)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { other.Delete(context.Background(), in) })
				loading, changed := make(chan struct{}), make(chan struct{})
				done := make(chan string)
				go func() {
					kd := cache.Search[string, string](a)
					if tc.many {
						vs, _ := kd.FetchMany(ctx, []string{in}, func(context.Context, []string) ([]string, error) {
							close(loading)
							<-changed
							return []string{"older"}, nil
						})
						done <- vs[0]
						return
					}
					v, _ := kd.Fetch(ctx, in, func(context.Context) (string, error) {
						close(loading)
						<-changed
						return "older", nil
					})
					done <- v
				}()
				<-loading
				var want string
				switch change {
				case "Set":
					want = "newer"
					if err := other.Set(ctx, in, want); err != nil {
						t.Fatal(err)
					}
				case "raw write": // another writer, such as the original service: plain JSON
					want = "written by another"
					raw := rawClient(t, url)
					if err := raw.Do(ctx, raw.B().Set().Key(key).Value(`"`+want+`"`).Px(time.Minute).Build()).Error(); err != nil {
						t.Fatal(err)
					}
				case "Delete":
					if _, err := other.Delete(ctx, in); err != nil {
						t.Fatal(err)
					}
				case "ClearKind":
					if _, err := b.ClearKind(ctx, cache.KindSearch); err != nil {
						t.Fatal(err)
					}
				}
				close(changed)
				if v := <-done; v != "older" {
					t.Errorf("Fetch = %q; want its loader's value", v)
				}
				if change == "raw write" {
					raw := rawClient(t, url)
					if got, err := raw.Do(ctx, raw.B().Get().Key(key).Build()).ToString(); got != `"`+want+`"` {
						t.Errorf("after another writer's write during the load, the key holds %q (%v); want that write", got, err)
					}
					return
				}
				got, ok, err := other.Get(ctx, in)
				if err != nil || got != want || ok != (want != "") {
					t.Errorf("after a %s during the load, the key holds %q (%v, %v); want %q", change, got, ok, err, want)
				}
			})
		}
	}
}

// An adaptive kind's extension sent PEXPIREAT whatever the key held by
// then: it extended a lease taken since the read (pinning it for the
// kind's TTL) and shortened a newer value written with a longer life. It
// now moves only the value it read, and only to a later expiry; the
// extension that found another value is recorded as a miss.
func TestExtensionOnlyOfTheValueRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		value  string        // what the key holds once the read is answered
		px     time.Duration // for how long
		lo, hi time.Duration // what its PTTL must be within after
	}{
		{"a lease", leaseBytes, 100 * time.Millisecond, -2 * time.Millisecond, 100 * time.Millisecond}, // -2: expired (PTTL of a missing key)
		{"a newer value", "a value written by another client", time.Hour, 59 * time.Minute, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			extended := make(chan cache.Event, 1)
			c := newCache(t, func(cfg *cache.Config) {
				cfg.Policies = map[string]cache.Policy{"adaptive": {Adaptive: true, ColdTTL: 500 * time.Millisecond, MaxTTL: time.Hour, EarlyRefresh: -1, TTLJitter: -1}}
				cfg.Recorder = cache.RecorderFunc(func(e cache.Event) {
					if e.Op == cache.OpExtend {
						extended <- e
					}
				})
			})
			ctx := ctxT(t)
			raw := rawClient(t, redisURL(t))
			kd, err := cache.NewKind[string, int](c, "adaptive", 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := kd.Set(ctx, "k", 1); err != nil {
				t.Fatal(err)
			}
			key, _ := kd.Key("k")
			cache.SetNearReadHook(c, func(k string) {
				if k == key { // after Redis answered the read, before the hit is handled
					raw.Do(ctx, raw.B().Set().Key(key).Value(tc.value).Px(tc.px).Build())
				}
			})
			if _, ok, err := kd.Get(ctx, "k"); !ok || err != nil {
				t.Fatalf("Get = %v, %v", ok, err)
			}
			if e := <-extended; e.Outcome != cache.OutcomeMiss {
				t.Errorf("the extension's event: %+v; want OutcomeMiss (the key held another value)", e)
			}
			ms, err := raw.Do(ctx, raw.B().Pttl().Key(key).Build()).AsInt64()
			if err != nil || time.Duration(ms)*time.Millisecond > tc.hi || time.Duration(ms)*time.Millisecond < tc.lo {
				t.Errorf("%s under the key: PTTL %d ms after the hit's extension (%v); want within [%v, %v]: left as it was", tc.name, ms, err, tc.lo, tc.hi)
			}
		})
	}
}

// A server that answers but cannot serve (BUSY running a script, LOADING
// its data) counts as a failure for the breaker, as one that does not
// answer does: three such replies in a row open it.
func TestBusyServerOpensBreaker(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--lua-time-limit", "20")
	c, err := cache.New(context.Background(), cache.Config{URL: srv.URL(), BreakerThreshold: 3, NearCacheBytes: -1, BreakerBackoff: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	blocker, killer := rawClient(t, srv.URL()), rawClient(t, srv.URL())
	go blocker.Do(context.Background(), blocker.B().Eval().Script("while true do end").Numkeys(0).Build())
	defer killer.Do(context.Background(), killer.B().ScriptKill().Build())
	search := cache.Search[string, string](c)
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Breaker.State != cache.BreakerOpen && time.Now().Before(deadline) {
		search.Get(ctx, "q") // a miss until the script has run 20 ms, then BUSY
	}
	if st := c.Stats().Breaker; st.State != cache.BreakerOpen || !strings.Contains(st.LastError, "BUSY") {
		t.Errorf("breaker %v, last error %q, with the server BUSY; want open on BUSY", st.State, st.LastError)
	}
}

// Batch reads and single reads are one protocol: a batch's hits extend an
// adaptive kind's values as single hits do (they never did), and with
// LegacyRead a batch reads the original service's keys of its misses (it
// never did).
func TestBatchReadsAsSingleReads(t *testing.T) {
	t.Parallel()
	t.Run("adaptive", func(t *testing.T) {
		t.Parallel()
		for _, near := range []int{0, -1} {
			extended := make(chan cache.Event, 4)
			c := newCache(t, func(cfg *cache.Config) {
				cfg.NearCacheBytes = near
				cfg.Policies = map[string]cache.Policy{"adaptive": {Adaptive: true, ColdTTL: time.Second, MaxTTL: time.Hour, EarlyRefresh: -1, TTLJitter: -1}}
				cfg.Recorder = cache.RecorderFunc(func(e cache.Event) {
					if e.Op == cache.OpExtend {
						extended <- e
					}
				})
			})
			ctx := ctxT(t)
			raw := rawClient(t, redisURL(t))
			kd, err := cache.NewKind[string, int](c, "adaptive", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := kd.Set(ctx, "k", 1); err != nil {
				t.Fatal(err)
			}
			if _, missing, err := kd.GetMany(ctx, []string{"k"}); len(missing) != 0 || err != nil {
				t.Fatalf("GetMany = %v, %v", missing, err)
			}
			select {
			case e := <-extended:
				if e.Outcome != cache.OutcomeOK {
					t.Errorf("near %d: the batch hit's extension: %+v; want ok", near, e)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("near %d: no extension within 10 s of a batch hit", near)
			}
			key, _ := kd.Key("k")
			if ms, err := raw.Do(ctx, raw.B().Pttl().Key(key).Build()).AsInt64(); err != nil || ms < 30_000 {
				t.Errorf("near %d: PTTL %d ms after a batch hit (%v); want extended to about the TTL (60 s), from ColdTTL (1 s)", near, ms, err)
			}
		}
	})
	t.Run("legacy", func(t *testing.T) {
		t.Parallel()
		srv, _ := legacyServer(t)
		c := legacyCache(t, srv.URL(), cache.LegacyRead)
		ctx := ctxT(t)
		search := cache.Search[string, []rustHit](c)
		vals, missing, err := search.GetMany(ctx, []string{"star wars", "nothing"})
		if err != nil || len(missing) != 1 || missing[0] != 1 || len(vals[0]) != 1 || vals[0][0].Title != "Star Wars" {
			t.Errorf("GetMany with LegacyRead = %v, missing %v, %v; want the original service's value", vals, missing, err)
		}
		got, err := search.FetchMany(ctx, []string{"star wars"}, func(context.Context, []string) ([][]rustHit, error) {
			t.Error("loader called although the original service holds the value")
			return [][]rustHit{nil}, nil
		})
		if err != nil || len(got) != 1 || len(got[0]) != 1 {
			t.Errorf("FetchMany with LegacyRead = %v, %v", got, err)
		}
		if st := c.Stats().Kinds[cache.KindSearch]; st.Hits != 2 || st.Misses != 1 {
			t.Errorf("figures %d hits, %d misses; want 2 and 1", st.Hits, st.Misses)
		}
	})
}

// A user whose ACL refuses EVAL still caches: a value loaded under a
// lease is stored with a plain SET when the script that guards the store
// is refused.
func TestLeasedStoreWithoutEval(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := ctxT(t)
	admin := rawClient(t, srv.URL())
	if err := admin.Do(ctx, admin.B().Arbitrary("ACL", "SETUSER", "noeval").Args("on", ">pw", "~*", "+@all", "-eval", "-evalsha").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(ctx, cache.Config{URL: "redis://noeval:pw@" + srv.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	search := cache.Search[string, string](c)
	if v, err := search.Fetch(ctx, "q", func(context.Context) (string, error) { return "loaded", nil }); v != "loaded" || err != nil {
		t.Fatalf("Fetch = %q, %v", v, err)
	}
	if v, ok, err := search.Get(ctx, "q"); v != "loaded" || !ok || err != nil {
		t.Errorf("Get after a Fetch without EVAL = %q, %v, %v; want the loaded value stored", v, ok, err)
	}
}

package cache

// Regression tests of internals, each named after what it guards.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache/internal/breaker"
	"github.com/media-gateway/discovery/cache/internal/envelope"
)

// A read that does not ask the key's PTTL (near cache off, not adaptive)
// tells when the value expires from its written-at time and the TTL it
// was stored with, jitter included: early refresh counts on it.
func TestExpiryEstimateCountsJitter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := privateServer(t, Config{NearCacheBytes: -1, Policy: Policy{TTLJitter: 0.5}})
	search := Search[string, string](c)
	for _, in := range []string{"a", "b", "c", "d"} {
		if err := search.Set(ctx, in, "v"); err != nil {
			t.Fatal(err)
		}
		key, _ := search.Key(in)
		raw, _, err := c.getBytes(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		at, _ := envelope.WrittenAt(raw)
		_, m, ok, err := search.lookup(ctx, key, nil, search.k.ttl)
		want := at.Add(search.k.policy.Jittered(search.k.ttl, key)).UnixNano()
		if !ok || err != nil || m.exp != want {
			t.Errorf("expiry of %q estimated at %v; want written-at + jittered TTL, %v", in, time.Unix(0, m.exp), time.Unix(0, want))
		}
	}
}

// A change of a key reported by the server wakes the Fetches waiting on
// another process's lease of it (they would otherwise poll, up to 100 ms
// apart).
func TestKeyChangedWakesLeaseWaiters(t *testing.T) {
	t.Parallel()
	r, err := Config{}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	c := assemble(r) // near cache on: its reports of changed keys go to keyChanged
	defer c.Close()
	woken, other := c.loads.waits.Add("ns:search:1"), c.loads.waits.Add("ns:search:2")
	c.near.Load().Pushed("ns:search:1") // as OnInvalidations does for a pushed key
	select {
	case <-woken:
	default:
		t.Error("a waiter on the changed key was not woken")
	}
	select {
	case <-other:
		t.Error("a waiter on another key was woken")
	default:
	}
}

// A batch's load does not feed the estimate of one value's load time,
// which sets how long a Fetch waits on others' loads and how early values
// are refreshed: a batch of a hundred takes longer than one.
func TestBatchLoadsDoNotSkewLoadTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := privateServer(t, Config{})
	search := Search[string, string](c)
	_, err := search.FetchMany(ctx, []string{"a", "b"}, func(_ context.Context, ins []string) ([]string, error) {
		return []string{"1", "2"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := search.k.loadTime(); got != defaultLoadTime {
		t.Errorf("load time after one batch load = %v; want the default (%v): batches are not timed", got, defaultLoadTime)
	}
	if _, err := search.Fetch(ctx, "c", func(context.Context) (string, error) { return "3", nil }); err != nil {
		t.Fatal(err)
	}
	if got := search.k.loadTime(); got == defaultLoadTime {
		t.Errorf("load time after one Fetch load = %v; want it timed", got)
	}
}

// The scripts that guard stores, against a real server (memKeys, which
// the protocol tests run on, writes the same rules in Go): what each
// stores over, and what it leaves.
func TestStoreScripts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := privateServer(t, Config{})
	mine, theirs := []byte("\xddlease:mine0123456789"), []byte("\xddlease:theirs01234567")
	written := time.UnixMilli(1_700_000_000_000)
	value := envelope.AppendHeader(nil, envelope.CodecJSON, 0, written)
	value = append(value, `"cached"`...)
	newer := envelope.AppendHeader(nil, envelope.CodecJSON, 0, written.Add(time.Millisecond))
	newer = append(newer, `"newer"`...)
	for i, tc := range []struct {
		name   string
		holds  []byte // nil: nothing
		store  func(key string) (bool, error)
		stored bool
	}{
		{"leased: its lease", mine, func(k string) (bool, error) { return c.setLeased(ctx, k, mine, []byte("v"), time.Minute, false) }, true},
		{"leased: another's lease", theirs, func(k string) (bool, error) { return c.setLeased(ctx, k, mine, []byte("v"), time.Minute, true) }, false},
		{"leased: a value", value, func(k string) (bool, error) { return c.setLeased(ctx, k, mine, []byte("v"), time.Minute, true) }, false},
		{"leased: nothing, lease expired", nil, func(k string) (bool, error) { return c.setLeased(ctx, k, mine, []byte("v"), time.Minute, true) }, true},
		{"leased: nothing, lease alive (deleted)", nil, func(k string) (bool, error) { return c.setLeased(ctx, k, mine, []byte("v"), time.Minute, false) }, false},
		{"over older: nothing", nil, func(k string) (bool, error) {
			return c.setOverOlder(ctx, k, time.Time{}, false, []byte("v"), time.Minute)
		}, true},
		{"over older: a lease", theirs, func(k string) (bool, error) {
			return c.setOverOlder(ctx, k, time.Time{}, false, []byte("v"), time.Minute)
		}, true},
		{"over older: a value", value, func(k string) (bool, error) {
			return c.setOverOlder(ctx, k, time.Time{}, false, []byte("v"), time.Minute)
		}, false},
		{"over older: the value read", value, func(k string) (bool, error) { return c.setOverOlder(ctx, k, written, true, []byte("v"), time.Minute) }, true},
		{"over older: a newer value", newer, func(k string) (bool, error) { return c.setOverOlder(ctx, k, written, true, []byte("v"), time.Minute) }, false},
	} {
		key := fmt.Sprint("scripts:", i)
		if tc.holds != nil {
			if err := c.setBytes(ctx, key, tc.holds, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		stored, err := tc.store(key)
		got, _, _ := c.getBytes(ctx, key)
		want := tc.holds
		if tc.stored {
			want = []byte("v")
		}
		if err != nil || stored != tc.stored || string(got) != string(want) {
			t.Errorf("%s: stored %v (%v), key holds %q; want stored %v, holding %q", tc.name, stored, err, got, tc.stored, want)
		}
	}
}

// A read's decoding error was wrapped in itself: "cache: get search K:
// value could not be encoded or decoded: cache: get search K: …".
func TestErrorNotWrappedInItself(t *testing.T) {
	ks := newMemKeys()
	c := memCache(t, ks)
	defer c.Close()
	search := Search[string, string](c)
	key, _ := search.Key("q")
	ks.Put(key, []byte("not an envelope"), time.Hour)
	_, _, err := search.Get(context.Background(), "q")
	if !errors.Is(err, ErrSerialization) || strings.Count(err.Error(), key) != 1 {
		t.Errorf("Get of bytes not in this cache's format = %v; want ErrSerialization, naming the key once", err)
	}
}

// The near cache answers through the breaker's first probe at most: a
// breaker that opened again before any call succeeded waits longer (its
// backoff doubles), the near cache does not.
func TestNearGraceBounded(t *testing.T) {
	const backoff, timeout = time.Second, 500 * time.Millisecond
	now := time.Now()
	for _, tc := range []struct {
		due    time.Time
		lo, hi time.Duration
	}{
		{now.Add(900 * time.Millisecond), 1800 * time.Millisecond, 1900 * time.Millisecond}, // the first probe's time
		{now.Add(8 * time.Second), 2200 * time.Millisecond, 2200 * time.Millisecond},        // a doubled backoff: capped
		{time.Time{}, time.Second, time.Second},                                             // probing already
	} {
		if g := nearGrace(breaker.Status{Due: tc.due}, backoff, timeout); g < tc.lo || g > tc.hi {
			t.Errorf("grace with the probe due in %v = %v; want within [%v, %v]", time.Until(tc.due).Round(time.Millisecond), g, tc.lo, tc.hi)
		}
	}
}

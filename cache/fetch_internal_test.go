package cache

import (
	"context"
	"testing"
	"time"

	"github.com/media-gateway/discovery/internal/redistest"
)

// privateServer returns a cache of cfg on a redis-server of its own,
// closed when t ends.
func privateServer(t *testing.T, cfg Config) *RedisCache {
	t.Helper()
	cfg.URL = redistest.Start(t).URL()
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Regression test for the interleaving described in fetch: a value stored by
// another caller after this caller's miss but before its flight must be
// found by the re-check, not loaded again.
func TestFetchRechecksInsideFlight(t *testing.T) {
	ctx := context.Background()
	c := privateServer(t, Config{})
	search := Search[string, string](c)
	c.hooks.fetchMissed = func(string) {
		if err := search.Set(ctx, "q", "stored by another caller"); err != nil {
			t.Error(err)
		}
	}
	v, err := search.Fetch(ctx, "q", func(context.Context) (string, error) {
		t.Error("loader called although the value was stored before the flight")
		return "loaded", nil
	})
	if err != nil || v != "stored by another caller" {
		t.Errorf("Fetch = %q, %v", v, err)
	}
	if st := c.Stats().Kinds[KindSearch]; st.Misses != 1 || st.Hits != 0 || st.Loads != 0 {
		t.Errorf("figures %+v; want the one miss counted once and no load", st)
	}
}

// Regression test: two callers reading one key as different types must not
// receive each other's value (nor a silent zero value).
func TestFetchSameKeyOtherType(t *testing.T) {
	ctx := context.Background()
	c := privateServer(t, Config{CompressMinBytes: -1})
	joined := make(chan string, 2)
	c.hooks.fetchJoined = func(key string) { joined <- key }
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		Fetch(ctx, c, "k", time.Minute, func(context.Context) (string, error) {
			close(started)
			<-release
			return "text", nil
		})
	}()
	<-started
	// The string flight for "k" is running; join it as an int reader.
	got := make(chan int)
	go func() {
		v, err := Fetch(ctx, c, "k", time.Minute, func(context.Context) (int, error) { return 42, nil })
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	<-joined // the string reader, which started the flight
	<-joined // the int reader, which joined it
	close(release)
	if v := <-got; v != 42 {
		t.Errorf("int reader got %d, want its own loader's 42", v)
	}
	<-done
}

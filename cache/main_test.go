package cache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// redisURL is the server shared by this package's tests: a private
// redis-server started for the run, or TEST_REDIS_URL.
var redisURL string

func TestMain(m *testing.M) {
	url, release, err := redistest.Shared()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	redisURL = url
	code := m.Run()
	release()
	os.Exit(code)
}

// uniqueNamespace returns a namespace no other test uses, so tests can run
// in parallel against one server and never touch each other's keys.
func uniqueNamespace(tb testing.TB) string {
	var b [6]byte
	rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

// newCache returns a cache on the shared server in a fresh namespace,
// closed and emptied when tb ends. edit may change the config.
func newCache(tb testing.TB, edit ...func(*cache.Config)) *cache.RedisCache {
	tb.Helper()
	cfg := cache.Config{URL: redisURL, Namespace: uniqueNamespace(tb)}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := cache.New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("cache.New: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.ClearAll(ctx)
		c.Close()
	})
	return c
}

// rawClient returns a plain Redis client on url, for looking behind the
// cache's back: TTLs, foreign keys, corrupt bytes.
func rawClient(tb testing.TB, url string) rueidis.Client {
	tb.Helper()
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	opt.DisableCache = true
	client, err := rueidis.NewClient(opt)
	if err != nil {
		tb.Fatalf("raw client: %v", err)
	}
	tb.Cleanup(client.Close)
	return client
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

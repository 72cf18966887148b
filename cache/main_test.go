package cache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// shared is the server shared by this package's integration tests: a
// private redis-server started on first use, or TEST_REDIS_URL. Tests of
// pure logic never ask for it, so they pass with no redis-server at all.
var shared struct {
	once    sync.Once
	url     string
	release func()
	err     error
}

// redisURL returns the shared server's URL, starting it on first use, or
// fails tb with instructions when no server can be had.
func redisURL(tb testing.TB) string {
	tb.Helper()
	shared.once.Do(func() { shared.url, shared.release, shared.err = redistest.Shared() })
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.url
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.release != nil {
		shared.release()
	}
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
	cfg := cache.Config{URL: redisURL(tb), Namespace: uniqueNamespace(tb)}
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

// embeddings returns the embeddings kind of model, failing tb on error.
func embeddings(tb testing.TB, c *cache.RedisCache, model string) *cache.Kind[string, []float32] {
	tb.Helper()
	kd, err := cache.Embeddings(c, model)
	if err != nil {
		tb.Fatal(err)
	}
	return kd
}

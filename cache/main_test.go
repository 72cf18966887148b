package cache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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
	if shared.url != "" && code == 0 {
		if left := leftKeys(shared.url); left != "" {
			fmt.Fprintf(os.Stderr, "FAIL: the tests left keys behind in the shared server: %s\n", left)
			code = 1
		}
	}
	if shared.release != nil {
		shared.release()
	}
	os.Exit(code)
}

// leftKeys returns the keys of the tests' namespaces (test-*) still in the
// server at url, a few of them and their count, or "" when there are none:
// every test empties its namespaces, also when it closed its cache itself.
func leftKeys(url string) string {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		return err.Error()
	}
	opt.DisableCache = true
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return err.Error()
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var keys []string
	var cursor uint64
	for {
		e, err := client.Do(ctx, client.B().Scan().Cursor(cursor).Match("test-*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return err.Error()
		}
		keys = append(keys, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			break
		}
	}
	if len(keys) == 0 {
		return ""
	}
	return fmt.Sprintf("%d keys, such as %q", len(keys), keys[:min(len(keys), 5)])
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
		c.Close() // first: its background writes (a near match's index entry) end before the namespace is emptied
		clearNamespace(tb, c, cfg)
	})
	return c
}

// clearNamespace removes the keys of c's namespace, also when c was closed
// by its test: then through a new cache on cfg.
func clearNamespace(tb testing.TB, c *cache.RedisCache, cfg cache.Config) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.ClearAll(ctx)
	if errors.Is(err, cache.ErrClosed) {
		fresh, nerr := cache.New(ctx, cfg)
		if nerr != nil {
			tb.Errorf("clearing namespace %s: %v", cfg.Namespace, nerr)
			return
		}
		defer fresh.Close()
		_, err = fresh.ClearAll(ctx)
	}
	if err != nil && !errors.Is(err, cache.ErrUnavailable) { // a test that stopped its server
		tb.Errorf("clearing namespace %s: %v", cfg.Namespace, err)
	}
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

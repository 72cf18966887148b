package cache_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// On a Redis Cluster (3 primaries, 3 replicas, seeded through
// Config.ClientOption), values of every kind round-trip, and ServerStats and
// the clears count each key once, after a failover too: scans go to
// primaries only, whose keys the replicas copy.
func TestCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3, 1)
	c, err := cache.New(ctxT(t), cache.Config{ClientOption: &rueidis.ClientOption{InitAddress: cl.Addrs()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	// Not yet coherent on a cluster (a redirected read is not tracked):
	// off, and said so.
	if h, err := c.Health(ctx); err != nil || h.NearCache.On || !strings.Contains(h.NearCache.Reason, "Cluster") {
		t.Errorf("Health on a cluster = %+v, %v; want the near cache off, saying why", h, err)
	}
	search := cache.Search[int, string](c)
	intents := cache.Intents[string](c, "")
	vectors := embeddings(t, c, "m")
	for i := range 200 {
		if err := search.Set(ctx, i, fmt.Sprint("result ", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		if err := intents.Set(ctx, fmt.Sprint("q", i), "play"); err != nil {
			t.Fatal(err)
		}
	}
	if err := vectors.Set(ctx, "text", []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := search.Get(ctx, 7); v != "result 7" || !ok || err != nil {
		t.Errorf("search on a cluster: %q, %v, %v", v, ok, err)
	}
	if v, ok, err := vectors.Get(ctx, "text"); len(v) != 2 || !ok || err != nil {
		t.Errorf("embedding on a cluster: %v, %v, %v", v, ok, err)
	}
	// Batches span slots: one MGET per slot, one loader call for the misses.
	ins := make([]int, 60)
	for i := range ins {
		ins[i] = 170 + i // 170..199 stored above, 200..229 not
	}
	var loads int
	got, err := search.FetchMany(ctx, ins, func(_ context.Context, miss []int) ([]string, error) {
		loads++
		out := make([]string, len(miss))
		for j, i := range miss {
			out[j] = fmt.Sprint("result ", i)
		}
		return out, nil
	})
	if err != nil || loads != 1 || got[0] != "result 170" || got[59] != "result 229" {
		t.Errorf("FetchMany on a cluster = %q…, %v, %d loads; want every result, 1 load", got[:1], err, loads)
	}
	if _, missing, err := search.GetMany(ctx, ins); len(missing) != 0 || err != nil {
		t.Errorf("GetMany on a cluster: missing %v, %v", missing, err)
	}
	if n, err := c.ClearKind(ctx, cache.KindSearch); n != 230 || err != nil {
		t.Fatalf("ClearKind(search) = %d, %v; want 230", n, err)
	}
	for i := range 200 {
		if err := search.Set(ctx, i, fmt.Sprint("result ", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the replicas hold their copies, so that counting them too
	// would show.
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, r := cl.DBSize(t)
		if sum(p) == 301 && sum(r) == 301 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys on primaries %v, on replicas %v; want 301 on each side", p, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A failover turns a primary the client knows into a replica: it must
	// not be scanned any more.
	cl.Failover(t, cl.Replicas[0])
	for i := range 200 { // the writes meet MOVED and teach the client the new primary
		if err := search.Set(ctx, i, fmt.Sprint("result ", i)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.ServerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalKeys != 301 || st.Keys[cache.KindSearch] != 200 || st.Keys[cache.KindIntent] != 100 {
		t.Errorf("ServerStats keys %v (total %d); want search 200, intent 100, total 301", st.Keys, st.TotalKeys)
	}
	if n, err := c.ClearKind(ctx, cache.KindSearch); n != 200 || err != nil {
		t.Errorf("ClearKind(search) = %d, %v; want 200", n, err)
	}
	if _, ok, _ := intents.Get(ctx, "q5"); !ok {
		t.Error("clearing search removed an intent")
	}
	if n, err := c.ClearAll(ctx); n != 101 || err != nil {
		t.Errorf("ClearAll = %d, %v; want 101", n, err)
	}
}

func sum(ns []int) (total int) {
	for _, n := range ns {
		total += n
	}
	return total
}

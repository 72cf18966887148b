package cache_test

import (
	"context"
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

// openCluster returns a cache on cl, seeded with Config.ClusterAddrs, in
// namespace ns; edit may change the config.
func openCluster(t *testing.T, cl *redistest.Cluster, ns string, edit ...func(*cache.Config)) *cache.RedisCache {
	t.Helper()
	cfg := cache.Config{ClusterAddrs: cl.Addrs(), Namespace: ns}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := cache.New(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("New on a cluster: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// On a Redis Cluster (3 primaries, 3 replicas, seeded through
// Config.ClusterAddrs): values of every kind round-trip; the near cache is
// on and coherent, across a failover too; the lease makes one process of
// four load a missing key; batches span slots; ServerStats and the clears
// count each key once, after a failover too (primaries only, whose keys
// the replicas copy).
func TestCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3, 1)
	c := openCluster(t, cl, "cluster-test")
	ctx := ctxT(t)
	if h, err := c.Health(ctx); err != nil || !h.NearCache.On {
		t.Errorf("Health on a cluster = %+v, %v; want the near cache on", h, err)
	}
	roundTripEveryKind(t, c)
	search := cache.Search[int, string](c)
	intents := cache.Intents[string](c, "")

	// Coherent: a value another process changes is read anew at once.
	other := openCluster(t, cl, "cluster-test")
	changed := func(what string, key int, want string) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if v, _, _ := search.Get(ctx, key); v == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still not read 2 s after another process wrote it", what)
			}
		}
	}
	for i := range 20 { // keys on every primary, read into the near cache
		if _, _, err := search.Get(ctx, i); err != nil {
			t.Fatal(err)
		}
		if err := cache.Search[int, string](other).Set(ctx, i, "changed"); err != nil {
			t.Fatal(err)
		}
		changed("a value changed on a cluster", i, "changed")
	}

	// Batches fill the near cache on a cluster too (a transaction per hash
	// slot), and what they keep is invalidated as a single read's is.
	batch := make([]int, 40)
	for i := range batch {
		batch[i] = 1000 + i // keys never read before: no report of this write from the server can cross the read below (keys 0–199 were read by roundTripEveryKind)
		if err := search.Set(ctx, batch[i], "batch"); err != nil {
			t.Fatal(err)
		}
	}
	if _, missing, err := search.GetMany(ctx, batch); err != nil || len(missing) != 0 {
		t.Fatalf("GetMany on a cluster: missing %v, %v", missing, err)
	}
	local := c.Stats().Kinds[cache.KindSearch].LocalHits
	if vals, missing, err := search.GetMany(ctx, batch); err != nil || len(missing) != 0 || vals[39] != "batch" {
		t.Fatalf("GetMany on a cluster again: %q, missing %v, %v", vals, missing, err)
	}
	if got := c.Stats().Kinds[cache.KindSearch].LocalHits - local; got != uint64(len(batch)) {
		t.Errorf("a batch read again on a cluster: %d of %d from the near cache; want all", got, len(batch))
	}
	// With replica reads, a tracked batch's transactions still go to the
	// primaries (a transaction cannot be split), one at a time.
	replicaNear := openCluster(t, cl, "cluster-test", func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindSearch: {ReplicaReads: true}}
	})
	for range 2 {
		if _, missing, err := cache.Search[int, string](replicaNear).GetMany(ctx, batch); err != nil || len(missing) != 0 {
			t.Fatalf("GetMany on a cluster with replica reads: missing %v, %v", missing, err)
		}
	}
	if got := replicaNear.Stats().Kinds[cache.KindSearch].LocalHits; got != uint64(len(batch)) {
		t.Errorf("a batch read twice on a cluster with replica reads: %d of %d from the near cache the second time; want all", got, len(batch))
	}
	for _, i := range batch[:5] {
		if err := cache.Search[int, string](other).Set(ctx, i, "changed"); err != nil {
			t.Fatal(err)
		}
		changed("a value read by a batch, changed on a cluster", i, "changed")
	}

	// Replica reads: a kind that asks for them is read from replicas (once
	// the cluster reports them ready, some seconds after they synced); its
	// lease, a write and a read together, still goes to the primary even
	// while the replicas lag.
	spread := openCluster(t, cl, "cluster-test", func(cfg *cache.Config) {
		cfg.NearCacheBytes = -1
		cfg.Policies = map[string]cache.Policy{cache.KindSearch: {ReplicaReads: true}}
	})
	spreadSearch := cache.Search[int, string](spread)
	for i := range 30 {
		if err := search.Set(ctx, i, "v"); err != nil {
			t.Fatal(err)
		}
	}
	nodes := append(append([]*redistest.Server(nil), cl.Primaries...), cl.Replicas...)
	replicas := func() (out []*redistest.Server) {
		for _, n := range nodes {
			if role, _ := n.CLI("ROLE"); strings.HasPrefix(role, "slave") {
				out = append(out, n)
			}
		}
		return out
	}
	calls := func(servers []*redistest.Server, commands ...string) (n int) {
		for _, s := range servers {
			for _, cmd := range commands {
				n += commandCalls(t, s, cmd)
			}
		}
		return n
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		before := calls(replicas(), "get", "mget")
		for i := range 30 {
			spreadSearch.Get(ctx, i)
		}
		if calls(replicas(), "get", "mget")-before >= 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("search reads with ReplicaReads still not on replicas 20 s after the cluster started")
		}
	}
	lagging := replicas()
	for _, r := range lagging {
		if _, err := r.CLI("CLIENT", "PAUSE", "1000", "WRITE"); err != nil { // holds back replication
			t.Fatal(err)
		}
	}
	if len(lagging) != 3 {
		t.Fatalf("%d replicas found; want 3", len(lagging))
	}
	if err := search.Set(ctx, 999, "stored"); err != nil {
		t.Fatal(err)
	}
	setsBefore := calls(nodes, "set")
	spreadLoads := 0
	if v, err := spreadSearch.Fetch(ctx, 999, func(context.Context) (string, error) { spreadLoads++; return "loaded", nil }); err != nil || v != "stored" || spreadLoads != 0 {
		t.Errorf("Fetch with ReplicaReads while the replicas lag = %q, %v, %d loads; want the stored value, from the primary", v, err, spreadLoads)
	}
	if d := calls(nodes, "set") - setsBefore; d > 2 {
		t.Errorf("one Fetch with lagging replicas sent %d SETs; want its lease tried once", d)
	}
	if _, err := search.Delete(ctx, 999); err != nil {
		t.Fatal(err)
	}

	// The lease: four processes, 50 goroutines each, miss one key: one load.
	instances := []*cache.RedisCache{c, other, openCluster(t, cl, "cluster-test"), openCluster(t, cl, "cluster-test")}
	for trial := range 5 {
		var calls atomic.Int32
		start := make(chan struct{})
		var wg sync.WaitGroup
		var failed atomic.Int32
		for _, inst := range instances {
			s := cache.Search[string, string](inst)
			for range 50 {
				wg.Go(func() {
					<-start
					v, err := s.Fetch(ctx, fmt.Sprint("leased ", trial), func(context.Context) (string, error) {
						calls.Add(1)
						time.Sleep(20 * time.Millisecond)
						return "results", nil
					})
					if err != nil || v != "results" {
						failed.Add(1)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		if n := calls.Load(); n != 1 || failed.Load() != 0 {
			t.Errorf("trial %d: %d loads and %d failures for one key missed by 4 processes on a cluster; want 1 and 0", trial, n, failed.Load())
		}
	}
	for trial := range 5 {
		if _, err := cache.Search[string, string](c).Delete(ctx, fmt.Sprint("leased ", trial)); err != nil {
			t.Fatal(err)
		}
	}

	// Batches span slots: one MGET per slot, one loader call for the misses.
	ins := make([]int, 60)
	for i := range ins {
		ins[i] = 170 + i // 170..199 stored, 200..229 not
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
	// roundTripEveryKind stored 200 search results, 100 intents, one
	// embedding and one key-level value; the batch section 40 more, and
	// FetchMany 30.
	if n, err := c.ClearKind(ctx, cache.KindSearch); n != 270 || err != nil {
		t.Fatalf("ClearKind(search) = %d, %v; want 270", n, err)
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
		if sum(p) == 302 && sum(r) == 302 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys on primaries %v, on replicas %v; want 302 on each side", p, r)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A failover turns a primary into a replica. Values read from it into
	// the near cache are still invalidated when they change (the replica
	// reports the writes it applies), and it is not scanned any more.
	for i := range 200 {
		if _, _, err := search.Get(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	cl.Failover(t, cl.Replicas[0])
	for i := range 200 { // the writes meet MOVED and teach the clients the new primary
		if err := cache.Search[int, string](other).Set(ctx, i, fmt.Sprint("after ", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		changed("a value changed after a failover", i, fmt.Sprint("after ", i))
	}
	st, err := c.ServerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalKeys != 302 || st.Keys[cache.KindSearch] != 200 || st.Keys[cache.KindIntent] != 100 || st.Keys[cache.KindEmbedding] != 1 {
		t.Errorf("ServerStats keys %v (total %d); want search 200, intent 100, embedding 1, total 302", st.Keys, st.TotalKeys)
	}
	if n, err := c.ClearKind(ctx, cache.KindSearch); n != 200 || err != nil {
		t.Errorf("ClearKind(search) = %d, %v; want 200", n, err)
	}
	if _, ok, _ := intents.Get(ctx, "q5"); !ok {
		t.Error("clearing search removed an intent")
	}
	if n, err := c.ClearAll(ctx); n != 102 || err != nil {
		t.Errorf("ClearAll = %d, %v; want 102", n, err)
	}
	if p, _ := cl.DBSize(t); sum(p) != 0 {
		t.Errorf("keys left on the primaries after ClearAll: %v", p)
	}

	// A cluster that announces hostnames: primaries are still found (by
	// id), so the counts stay exact.
	for _, n := range nodes {
		for _, kv := range [][2]string{{"cluster-announce-hostname", "localhost"}, {"cluster-preferred-endpoint-type", "hostname"}} {
			if _, err := n.CLI("CONFIG", "SET", kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(2 * time.Second) // the clients' topology refresh (every second)
	for i := range 31 {
		if err := search.Set(ctx, i, "v"); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := c.ServerStats(ctx); err != nil || st.Keys[cache.KindSearch] != 31 {
		t.Errorf("ServerStats on a cluster announcing hostnames = %v, %v; want 31 search keys", st.Keys, err)
	}
	if n, err := c.ClearAll(ctx); n != 31 || err != nil {
		t.Errorf("ClearAll on a cluster announcing hostnames = %d, %v; want 31", n, err)
	}
}

// A primary of a cluster killed under Fetch load: every Fetch is answered,
// and writes land again within 5 s (once its replica is promoted). A
// clear while it is down clears the other primaries and says which one it
// could not; once the replica is promoted, a clear removes the rest.
func TestClusterPrimaryKilled(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3, 1)
	c := openCluster(t, cl, "killed-test")
	ctx := ctxT(t)
	intents := cache.Intents[string](c, "")
	for i := range 100 {
		if err := intents.Set(ctx, fmt.Sprint("q", i), "play"); err != nil {
			t.Fatal(err)
		}
	}
	victim := cl.Primaries[0]
	heir := cl.ReplicaOf(t, victim)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, r := cl.DBSize(t); sum(r) == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replicas never held the 100 intents")
		}
	}
	var cleared int64
	var partial *cache.PartialError
	var promoted *atomic.Int64
	run := underFailover(t, c, func() {
		victim.Stop()
		promoted = promotedAfter(heir)
		// ServerStats with a primary down counts the keys of the others,
		// which the clear below then removes.
		st, err := c.ServerStats(ctx)
		if !errors.As(err, &partial) || st.Keys[cache.KindIntent] == 0 || st.Keys[cache.KindIntent] >= 100 {
			t.Errorf("ServerStats with a primary down = %v, %v; want the intents of the 2 others and a *PartialError", st.Keys, err)
		}
		defer func() {
			if cleared != st.Keys[cache.KindIntent] {
				t.Errorf("ServerStats counted %d intents on the primaries up, the clear removed %d", st.Keys[cache.KindIntent], cleared)
			}
		}()
		n, err := c.ClearKind(ctx, cache.KindIntent)
		cleared = n
		if !errors.As(err, &partial) || !errors.Is(err, cache.ErrUnavailable) {
			t.Errorf("ClearKind with a primary down = %d, %v; want a *PartialError, ErrUnavailable", n, err)
		} else if partial.Done != 2 || len(partial.Failed) != 1 || partial.Failed[0].Addr != victim.Addr {
			t.Errorf("ClearKind with %s down: %v; want it done on 2 primaries, not on %s", victim.Addr, partial, victim.Addr)
		}
		if n == 0 || n >= 100 {
			t.Errorf("ClearKind with a primary down removed %d intents; want those of the 2 others", n)
		}
	}, time.Second)
	run.check(t, "Cluster: primary killed under 8 goroutines Fetching")
	report(t, "Cluster: the killed primary's replica promoted (cluster-node-timeout 1 s)", fmt.Sprintf("%v after the kill", round(time.Duration(promoted.Load()))))
	cl.WaitPrimary(t, heir)
	var n int64
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if n, err = c.ClearKind(ctx, cache.KindIntent); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClearKind still failing 10 s after the promotion: %v", err)
		}
	}
	if cleared+n != 100 {
		t.Errorf("ClearKind removed %d with the primary down, then %d; want 100 in all", cleared, n)
	}
	st, err := c.ServerStats(ctx)
	if err != nil || st.Keys[cache.KindIntent] != 0 {
		t.Errorf("ServerStats after the failover: %v, %v; want no intent left", st.Keys, err)
	}

	// The whole cluster lost: the breaker opens (one primary down did not
	// open it), and calls then fail at once.
	for _, s := range append(append([]*redistest.Server(nil), cl.Primaries...), cl.Replicas...) {
		s.Stop()
	}
	search := cache.Search[string, string](c)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, _, err := search.Get(ctx, "q"); errors.Is(err, cache.ErrCircuitOpen) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the breaker is not open 5 s after every node was stopped: %+v", c.Stats())
		}
	}
	if _, _, err := search.Get(ctx, "q"); !errors.Is(err, cache.ErrCircuitOpen) {
		t.Errorf("a Get once the breaker opened: %v; want ErrCircuitOpen, without a call", err)
	}
}

func sum(ns []int) (total int) {
	for _, n := range ns {
		total += n
	}
	return total
}

// The cost of a batch's tracking on a cluster (a transaction per hash
// slot, so that what it reads fills the near cache) against the untracked
// batch (an MGET per slot, pipelined): compare the two families' ns/op,
// measured in one run. Every read is a cold one (keys not read before).
func BenchmarkClusterBatch(b *testing.B) {
	cl := redistest.StartCluster(b, 3, 0)
	ctx := context.Background()
	for _, near := range []bool{false, true} {
		b.Run(fmt.Sprintf("near=%v", near), func(b *testing.B) {
			cfg := cache.Config{ClusterAddrs: cl.Addrs(), Namespace: uniqueNamespace(b)}
			if !near {
				cfg.NearCacheBytes = -1
			}
			c, err := cache.New(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			search := cache.Search[int, string](c)
			const size = 100
			n := b.N
			ins := make([]int, n*size)
			vals := make([]string, len(ins))
			for i := range ins {
				ins[i], vals[i] = i, "v"
			}
			for lo := 0; lo < len(ins); lo += 1000 {
				hi := min(lo+1000, len(ins))
				if err := search.SetMany(ctx, ins[lo:hi], vals[lo:hi]); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range n {
				if _, missing, err := search.GetMany(ctx, ins[i*size:(i+1)*size]); err != nil || len(missing) != 0 {
					b.Fatalf("GetMany: missing %d, %v", len(missing), err)
				}
			}
		})
	}
}

// A hash slot moving (resharding) during tracked batches: the client
// resends a redirected command alone, which aborted the batch's
// transaction of that slot and failed the whole batch (every FetchMany
// then loaded every input). The aborted transaction is now sent again on
// its own, which the client resends whole: batches read every key while
// the slot migrates (ASK) and once it has moved (MOVED).
func TestClusterSlotMovesMidBatch(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3, 0)
	ctx := ctxT(t)
	ns := uniqueNamespace(t)
	c := openCluster(t, cl, ns)
	search := cache.Search[int, string](c)
	ins := make([]int, 20)
	for i := range ins {
		ins[i] = i
		if err := search.Set(ctx, i, "v"); err != nil {
			t.Fatal(err)
		}
	}
	key, _ := search.Key(0)
	var from, to *redistest.Server
	for _, s := range cl.Primaries {
		if out, _ := s.CLI("GET", key); strings.Contains(out, "MOVED") {
			to = s
		} else {
			from = s
		}
	}
	id := func(s *redistest.Server) string { out, _ := s.CLI("CLUSTER", "MYID"); return strings.TrimSpace(out) }
	cli := func(s *redistest.Server, args ...string) {
		t.Helper()
		if out, err := s.CLI(args...); err != nil || strings.Contains(out, "ERR") {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	slot, _ := cl.Primaries[0].CLI("CLUSTER", "KEYSLOT", key)
	slot = strings.TrimSpace(slot)
	read := func(phase string) {
		t.Helper()
		for i := range 3 {
			if vals, missing, err := search.GetMany(ctx, ins); err != nil || len(missing) != 0 || vals[0] != "v" {
				t.Fatalf("%s, GetMany %d: missing %v, %v", phase, i, missing, err)
			}
			loads := 0
			if _, err := search.FetchMany(ctx, ins, func(_ context.Context, in []int) ([]string, error) {
				loads = len(in)
				return make([]string, len(in)), nil
			}); err != nil || loads != 0 {
				t.Fatalf("%s, FetchMany %d: %d loads, %v; want none", phase, i, loads, err)
			}
		}
	}
	cli(to, "CLUSTER", "SETSLOT", slot, "IMPORTING", id(from))
	cli(from, "CLUSTER", "SETSLOT", slot, "MIGRATING", id(to))
	host, port, _ := strings.Cut(to.Addr, ":")
	cli(from, "MIGRATE", host, port, "", "0", "5000", "KEYS", key)
	read("slot migrating (ASK)")
	for _, s := range cl.Primaries {
		cli(s, "CLUSTER", "SETSLOT", slot, "NODE", id(to))
	}
	read("slot moved (MOVED)")
	// Still coherent: the moved key's value, changed by another process,
	// is read anew by a batch.
	if err := cache.Search[int, string](openCluster(t, cl, ns)).Set(ctx, 0, "changed"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if vals, _, _ := search.GetMany(ctx, ins); vals[0] == "changed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the moved key, changed by another process, still not read anew 2 s later")
		}
	}
}

// A tracked batch on a cluster with replica reads sends each slot's
// transaction on its own; when one's round trip failed (its primary
// frozen: no answer within OperationTimeout), the batch indexed a result
// that did not exist and the process died. It now fails as a batch does,
// with ErrUnavailable.
func TestClusterTrackedBatchWithAPrimaryGone(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3, 0)
	ctx := ctxT(t)
	c := openCluster(t, cl, uniqueNamespace(t), func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindSearch: {ReplicaReads: true}}
		cfg.OperationTimeout = 300 * time.Millisecond
	})
	search := cache.Search[int, string](c)
	ins := make([]int, 30)
	for i := range ins {
		ins[i] = i
		if err := search.Set(ctx, i, "v"); err != nil {
			t.Fatal(err)
		}
	}
	cl.Primaries[0].Pause(t)
	defer cl.Primaries[0].Resume(t)
	_, missing, err := search.GetMany(ctx, ins)
	if err == nil || !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("GetMany with a primary gone = missing %v, %v; want ErrUnavailable", missing, err)
	}
}

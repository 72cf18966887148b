package cache_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// With Sentinel (a primary, a replica, three sentinels, passwords for the
// data servers and other ones for the sentinels), configured by
// Config.Sentinel or by the URL: values of every kind round-trip, the near
// cache is on and coherent, reads of a kind that asks for it go to the
// replica, misconfigurations are refused at New, and when the primary is
// killed under load every Fetch is answered and writes land again within
// 5 s.
func TestSentinel(t *testing.T) {
	t.Parallel()
	st := redistest.StartSentinel(t, redistest.SentinelOptions{Password: "data-pw", SentinelPassword: "sentinel-pw"})
	sentinel := cache.SentinelConfig{Addrs: st.Addrs(), MasterSet: st.Master, Password: "sentinel-pw"}
	open := func(edit ...func(*cache.Config)) *cache.RedisCache {
		t.Helper()
		cfg := cache.Config{URL: "redis://:data-pw@/0", Sentinel: sentinel, Namespace: "sentinel-test"}
		for _, e := range edit {
			e(&cfg)
		}
		c, err := cache.New(ctxT(t), cfg)
		if err != nil {
			t.Fatalf("New with %+v: %v", cfg.Sentinel, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := open()
	ctx := ctxT(t)
	if h, err := c.Health(ctx); err != nil || !h.NearCache.On {
		t.Fatalf("Health with Sentinel = %+v, %v; want healthy with the near cache on", h, err)
	}
	roundTripEveryKind(t, c)

	// The URL form reaches the same primary.
	byURL := open(func(cfg *cache.Config) {
		cfg.Sentinel = cache.SentinelConfig{}
		cfg.URL = fmt.Sprintf("redis://:data-pw@%s/0?addr=%s&addr=%s&master_set=%s&sentinel_password=sentinel-pw",
			st.Addrs()[0], st.Addrs()[1], st.Addrs()[2], st.Master)
	})
	if v, ok, err := cache.Search[int, string](byURL).Get(ctx, 1); v != "result 1" || !ok || err != nil {
		t.Errorf("Get through the master_set URL = %q, %v, %v", v, ok, err)
	}

	// Coherent: a value another client changes is read anew at once, not
	// after NearCacheMaxAge.
	reader := cache.Search[int, string](c)
	if _, _, err := reader.Get(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := cache.Search[int, string](byURL).Set(ctx, 1, "changed"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if v, _, _ := reader.Get(ctx, 1); v == "changed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a value changed by another client was still read from the near cache 2 s later")
		}
	}

	// Replica reads: the search kind's reads go to the replica, the
	// intents' to the primary.
	primary, replica := st.Servers[0], st.Servers[1]
	spread := open(func(cfg *cache.Config) {
		cfg.NearCacheBytes = -1
		cfg.Policies = map[string]cache.Policy{cache.KindSearch: {ReplicaReads: true}, cache.KindCustom: {ReplicaReads: true}}
	})
	search, intents := cache.Search[int, string](spread), cache.Intents[string](spread, "")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) { // replicated yet?
		if _, ok, _ := search.Get(ctx, 2); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("search value 2 never read from the replica")
		}
	}
	onReplica, onPrimary := commandCalls(t, replica, "get"), commandCalls(t, primary, "get")
	for range 50 {
		if _, ok, err := search.Get(ctx, 2); !ok || err != nil {
			t.Fatalf("search Get from the replica: %v, %v", ok, err)
		}
	}
	if d, p := commandCalls(t, replica, "get")-onReplica, commandCalls(t, primary, "get")-onPrimary; d < 50 || p >= 50 {
		t.Errorf("50 search Gets with ReplicaReads: %d GETs on the replica, %d on the primary; want them on the replica", d, p)
	}
	onPrimary = commandCalls(t, primary, "get")
	for range 50 {
		if _, ok, err := intents.Get(ctx, "q1"); !ok || err != nil {
			t.Fatalf("intent Get: %v, %v", ok, err)
		}
	}
	if p := commandCalls(t, primary, "get") - onPrimary; p < 50 {
		t.Errorf("50 intent Gets without ReplicaReads: %d GETs on the primary; want 50", p)
	}
	onReplica = commandCalls(t, replica, "get")
	for range 50 {
		if _, ok, err := cache.Get[string](ctx, spread, "raw"); !ok || err != nil {
			t.Fatalf("key-level Get from the replica: %v, %v", ok, err)
		}
	}
	if d := commandCalls(t, replica, "get") - onReplica; d < 50 {
		t.Errorf("50 key-level Gets with Policies[KindCustom].ReplicaReads: %d GETs on the replica; want 50", d)
	}
	// With the near cache on, a replica-read kind is tracked on the
	// replica, which reports the changes it applies.
	tracked := open(func(cfg *cache.Config) {
		cfg.Policies = map[string]cache.Policy{cache.KindSearch: {ReplicaReads: true}}
	})
	near := cache.Search[int, string](tracked)
	onReplica = commandCalls(t, replica, "get")
	if v, _, err := near.Get(ctx, 4); err != nil || v != "result 4" {
		t.Fatalf("tracked Get from the replica: %q, %v", v, err)
	}
	if d := commandCalls(t, replica, "get") - onReplica; d != 1 {
		t.Errorf("a tracked read with ReplicaReads: %d GETs on the replica; want 1", d)
	}
	if err := cache.Search[int, string](byURL).Set(ctx, 4, "changed on the primary"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if v, _, _ := near.Get(ctx, 4); v == "changed on the primary" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a value read from the replica into the near cache was not invalidated within 2 s of a write")
		}
	}

	// Misconfigurations are refused at New, saying what to fix.
	data := redistest.Start(t)
	for _, m := range []struct {
		name  string
		cfg   cache.Config
		class cache.Class
		says  string
	}{
		{"an unknown master set", cache.Config{URL: "redis://:data-pw@/0", Sentinel: cache.SentinelConfig{Addrs: st.Addrs(), MasterSet: "nope", Password: "sentinel-pw"}},
			cache.ErrInvalidConfig, `no primary named "nope"`},
		{"a wrong sentinel password", cache.Config{URL: "redis://:data-pw@/0", Sentinel: cache.SentinelConfig{Addrs: st.Addrs(), MasterSet: st.Master, Password: "wrong"}},
			cache.ErrOperation, "Config.Sentinel"},
		{"a data server as a sentinel", cache.Config{Sentinel: cache.SentinelConfig{Addrs: []string{data.Addr}, MasterSet: st.Master}},
			cache.ErrInvalidConfig, "not Redis Sentinels"},
		{"a standalone server as a cluster seed", cache.Config{ClusterAddrs: []string{data.Addr}},
			cache.ErrInvalidConfig, "not in cluster mode"},
		{"standalone servers as cluster seeds", cache.Config{ClusterAddrs: []string{data.Addr, primary.Addr}},
			cache.ErrInvalidConfig, "not in cluster mode"},
		{"standalone servers in one URL", cache.Config{URL: "redis://" + data.Addr + "/0?addr=" + redistest.Start(t).Addr},
			cache.ErrInvalidConfig, "not in cluster mode"},
		{"sentinels as cluster seeds", cache.Config{ClusterAddrs: st.Addrs(), URL: "redis://:sentinel-pw@/0"},
			cache.ErrInvalidConfig, "sentinels"},
	} {
		_, err := cache.New(ctxT(t), m.cfg)
		if !errors.Is(err, m.class) || !strings.Contains(err.Error(), m.says) {
			t.Errorf("New with %s: %v; want %v saying %q", m.name, err, m.class, m.says)
		}
		if err != nil && (strings.Contains(err.Error(), "sentinel-pw") || strings.Contains(err.Error(), "data-pw")) {
			t.Errorf("New with %s: the error shows a password: %v", m.name, err)
		}
	}

	// The primary is killed under load.
	var promoted *atomic.Int64
	run := underFailover(t, c, func() {
		primary.Stop()
		promoted = promotedAfter(replica)
	}, time.Second)
	run.check(t, "Sentinel: primary killed under 8 goroutines Fetching")
	report(t, "Sentinel: the replica promoted (down-after-milliseconds 1000)", fmt.Sprintf("%v after the kill", round(time.Duration(promoted.Load()))))
	if p := st.Primary(t, primary); p != replica {
		t.Errorf("the sentinels promoted %s, want the replica %s", p.Addr, replica.Addr)
	}
	if err := reader.Set(ctx, 3, "after"); err != nil {
		t.Errorf("Set after the failover: %v", err)
	}
	if v, ok, err := cache.Search[int, string](byURL).Get(ctx, 3); v != "after" || !ok || err != nil {
		t.Errorf("Get after the failover through the URL form: %q, %v, %v", v, ok, err)
	}
}

// roundTripEveryKind stores values of every kind through c (search
// results 0..199, intents q0..q99, one embedding, one key-level value) and
// reads each back.
func roundTripEveryKind(t *testing.T, c *cache.RedisCache) {
	t.Helper()
	ctx := ctxT(t)
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
	if err := cache.Set(ctx, c, "raw", "bytes", time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if v, ok, err := search.Get(ctx, i); v != fmt.Sprint("result ", i) || !ok || err != nil {
			t.Fatalf("search %d: %q, %v, %v", i, v, ok, err)
		}
	}
	if v, ok, err := intents.Get(ctx, "q99"); v != "play" || !ok || err != nil {
		t.Errorf("intent: %q, %v, %v", v, ok, err)
	}
	if v, ok, err := vectors.Get(ctx, "text"); len(v) != 2 || v[1] != 2 || !ok || err != nil {
		t.Errorf("embedding: %v, %v, %v", v, ok, err)
	}
	if v, ok, err := cache.Get[string](ctx, c, "raw"); v != "bytes" || !ok || err != nil {
		t.Errorf("key-level value: %q, %v, %v", v, ok, err)
	}
}

// A Sentinel's own address given as a plain server is refused by New, with
// the way to configure Sentinel, instead of a cache whose every command
// fails later.
func TestSentinelAddressRefused(t *testing.T) {
	t.Parallel()
	st := redistest.StartSentinel(t, redistest.SentinelOptions{Sentinels: 1})
	_, err := cache.New(ctxT(t), cache.Config{URL: "redis://" + st.Addrs()[0]})
	if !errors.Is(err, cache.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Sentinel") {
		t.Errorf("New on a Sentinel's address: %v; want ErrInvalidConfig saying how to give sentinels", err)
	}
}

// A cluster node's bus port (its cluster-port) given as a server's address
// closes the connection without a word, as a sidecar whose Redis is down
// does: New starts without Redis (it cannot tell the two apart), and the
// error in Health and the log names the bus port as a possible cause.
func TestClusterBusAddressNamed(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bus := l.Addr().(*net.TCPAddr).Port
	l.Close()
	redistest.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", fmt.Sprint(bus))
	addr := fmt.Sprintf("127.0.0.1:%d", bus)
	c, err := cache.New(ctxT(t), cache.Config{URL: "redis://" + addr})
	if err != nil {
		t.Fatalf("New on a cluster bus port: %v; want a cache started without Redis", err)
	}
	defer c.Close()
	if h, err := c.Health(ctxT(t)); err == nil || !strings.Contains(h.Breaker.LastError, "bus port") {
		t.Errorf("Health on a cluster bus port = %+v, %v; want the last error naming the bus port", h, err)
	}
	if _, err := cache.New(ctxT(t), cache.Config{URL: "redis://" + addr, RequireConnection: true}); !errors.Is(err, cache.ErrUnavailable) || !strings.Contains(err.Error(), "bus port") {
		t.Errorf("New with RequireConnection on a cluster bus port: %v; want ErrUnavailable naming the bus port", err)
	}
}

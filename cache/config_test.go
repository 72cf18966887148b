package cache_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	const pw = "pa55-w0rd"
	tests := []struct {
		name string
		cfg  cache.Config
		want string // a fragment the message must contain
	}{
		{"scheme", cache.Config{URL: "http://u:" + pw + "@127.0.0.1:6379"}, "scheme"},
		{"malformed", cache.Config{URL: "redis://u:" + pw + "@127.0.0.1:port"}, "malformed"},
		{"bad escape", cache.Config{URL: "redis://u%zz:" + pw + "@127.0.0.1"}, "malformed"},
		{"port range", cache.Config{URL: "redis://:" + pw + "@127.0.0.1:70000"}, "port"},
		{"db", cache.Config{URL: "redis://u:" + pw + "@127.0.0.1:6379/abc"}, "database"},
		{"no host", cache.Config{URL: "redis://u:" + pw + "@:6379"}, "no host"},
		{"no socket", cache.Config{URL: "unix://"}, "socket path"},
		{"negative ttl", cache.Config{SearchTTL: -time.Second}, "SearchTTL"},
		{"negative timeout", cache.Config{OperationTimeout: -1}, "OperationTimeout"},
		{"1 ns timeout", cache.Config{OperationTimeout: 1}, "OperationTimeout is 1ns, under 1ms"},
		{"1 ns dial timeout", cache.Config{DialTimeout: 1}, "DialTimeout is 1ns"},
		{"1 ns backoff", cache.Config{BreakerBackoff: 1}, "BreakerBackoff is 1ns"},
		{"negative size", cache.Config{MaxValueBytes: -1}, "MaxValueBytes"},
		{"glob in namespace", cache.Config{Namespace: "disc*"}, "Namespace"},
		{"space in namespace", cache.Config{Namespace: "disc overy"}, "Namespace"},
		{"colon in namespace", cache.Config{Namespace: "discovery:tenant"}, "separator of keys"},
		{"no-break space in namespace", cache.Config{Namespace: "disc\u00a0overy"}, "U+00A0"},
		{"ideographic space in namespace", cache.Config{Namespace: "disc\u3000overy"}, "U+3000"},
		{"C1 control in namespace", cache.Config{Namespace: "disc\u009b31m"}, "U+009B"},
		{"invalid UTF-8 in namespace", cache.Config{Namespace: "disc\xffovery"}, "not valid UTF-8"},
		{"zero-width space in a policy's kind", cache.Config{Policies: map[string]cache.Policy{"re\u200bcs": {}}}, "U+200B"},
		{"jitter over half", cache.Config{Policy: cache.Policy{TTLJitter: 0.6}}, "Policy.TTLJitter"},
		{"jitter of a kind", cache.Config{Policies: map[string]cache.Policy{"recs": {TTLJitter: 2}}}, `Policies["recs"].TTLJitter`},
		{"glob in a policy's kind", cache.Config{Policies: map[string]cache.Policy{"re*": {}}}, "Policies kind name"},
		{"cold over max", cache.Config{Policy: cache.Policy{Adaptive: true, ColdTTL: time.Hour, MaxTTL: time.Minute}}, "ColdTTL"},
		{"negative max", cache.Config{Policies: map[string]cache.Policy{"recs": {MaxTTL: -time.Minute}}}, "MaxTTL"},
		{"negative cold for all", cache.Config{Policy: cache.Policy{Adaptive: true, ColdTTL: -1}}, "Policy.ColdTTL"},
		{"adaptive and off", cache.Config{Policies: map[string]cache.Policy{"recs": {Adaptive: true, ColdTTL: -1}}}, "choose one"},
		{"negative near-cache age", cache.Config{NearCacheMaxAge: -time.Second}, "NearCacheMaxAge"},
		{"cluster and sentinel", cache.Config{ClusterAddrs: []string{"127.0.0.1:7000"}, Sentinel: cache.SentinelConfig{Addrs: []string{"127.0.0.1:26379"}, MasterSet: "m"}}, "both set"},
		{"sentinel without a master set", cache.Config{Sentinel: cache.SentinelConfig{Addrs: []string{"127.0.0.1:26379"}}}, "MasterSet"},
		{"sentinel without addresses", cache.Config{Sentinel: cache.SentinelConfig{MasterSet: "m", Password: pw}}, "Sentinel.Addrs"},
		{"a URL as a cluster seed", cache.Config{ClusterAddrs: []string{"redis://127.0.0.1:7000"}}, "ClusterAddrs[0]"},
		{"a seed without a port", cache.Config{ClusterAddrs: []string{"127.0.0.1:7000", "node2"}}, "ClusterAddrs[1]"},
		{"a sentinel's port", cache.Config{Sentinel: cache.SentinelConfig{Addrs: []string{"127.0.0.1:0"}, MasterSet: "m"}}, "Sentinel.Addrs[0]"},
		{"a host with sentinels", cache.Config{URL: "redis://:" + pw + "@10.0.0.1/0", Sentinel: cache.SentinelConfig{Addrs: []string{"127.0.0.1:26379"}, MasterSet: "m"}}, "without a host"},
		{"a master set with cluster seeds", cache.Config{URL: "redis://:" + pw + "@/0?master_set=a", ClusterAddrs: []string{"127.0.0.1:7000"}}, "a cluster has no sentinels"},
		{"two master sets", cache.Config{URL: "redis://:" + pw + "@/0?master_set=a", Sentinel: cache.SentinelConfig{Addrs: []string{"127.0.0.1:26379"}, MasterSet: "m"}}, "master_set"},
		{"seeds with ClientOption", cache.Config{ClusterAddrs: []string{"127.0.0.1:7000"}, ClientOption: &rueidis.ClientOption{InitAddress: []string{"127.0.0.1:7001"}}}, "ClientOption.InitAddress"},
		{"an unknown URL option", cache.Config{URL: "redis://:" + pw + "@127.0.0.1/0?master_sett=m"}, `unknown option "master_sett"`},
		{"a sentinel password in the URL", cache.Config{URL: "redis://127.0.0.1/0?master_set=m&sentinel_password=" + pw + "&db=x"}, "sentinel_password=xxxxx"},
		{"sentinel credentials without a master set", cache.Config{URL: "redis://127.0.0.1/0?sentinel_password=" + pw}, "without master_set"},
		{"an empty master set", cache.Config{URL: "redis://127.0.0.1/0?master_set="}, "empty master_set"},
		{"a malformed addr", cache.Config{URL: "redis://127.0.0.1/0?addr=10.0.0.2"}, "addr #1"},
		{"replica reads and SendToReplicas", cache.Config{Policy: cache.Policy{ReplicaReads: true}, ClientOption: &rueidis.ClientOption{
			InitAddress: []string{"127.0.0.1:7001"}, SendToReplicas: func(rueidis.Completed) bool { return false }}}, "SendToReplicas"},
		{"tracking options with the near cache", cache.Config{ClientOption: &rueidis.ClientOption{
			InitAddress: []string{"127.0.0.1:6379"}, ClientTrackingOptions: []string{"BCAST"}}}, "ClientTrackingOptions"},
	}
	for _, tt := range tests {
		_, err := cache.New(ctxT(t), tt.cfg)
		if !errors.Is(err, cache.ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", tt.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.want)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("%s: error leaks the password: %q", tt.name, err)
		}
	}
}

// Whatever the shape of a malformed URL, no error shows its password, or
// any part of it; and TLS verification is never switched off by a URL.
func TestURLNeverShowsThePassword(t *testing.T) {
	t.Parallel()
	// An address where nothing listens: a URL the parser accepts starts a
	// cache without Redis, whose log is checked too.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, pw := range []string{"Zq/Xk#Vw", "Zq#Xk/Vw", "Zq?Xk@Vw", "Zq/Xk?Vw", "Zq%zzXk", "Zq Xk", "Zq:Xk"} {
		for _, u := range []string{
			"redis://user:" + pw + "@" + addr + "/0",
			"redis://:" + pw + "@" + addr,
			"rediss://user:" + pw + "@127.0.0.1:70000",
			"redis://user:" + pw + "@" + addr + "/x",
			"http://user:" + pw + "@127.0.0.1",
			"redis://:dpw@" + addr + "/0?master_set=m&sentinel_password=" + url.QueryEscape(pw),
			"redis://:dpw@" + addr + "/0?master_set=m&sentinel_password=" + pw,
			"redis://:dpw@127.0.0.1:bad/0?master_set=m&sentinel_password=" + url.QueryEscape(pw),
			"redis://" + addr + "/0?sentinel_password=" + pw + "&master_set=m",
			"redis:/:" + pw + "@" + addr,
			":" + pw + "@" + addr,
			"redis:" + pw + "@" + addr,
			"redis://" + addr + "/0?password=" + url.QueryEscape(pw),
		} {
			var logs logBuffer
			c, err := cache.New(ctxT(t), cache.Config{URL: u, Logger: logs.logger(), DialTimeout: time.Second})
			shown := ""
			if err != nil {
				shown = err.Error()
			} else {
				h, herr := c.Health(ctxT(t))
				shown = fmt.Sprint(h, herr)
				c.Close()
			}
			shown += logs.String()
			for _, part := range []string{"Zq", "Xk", "Vw"} {
				if strings.Contains(shown, part) && strings.Contains(pw, part) {
					t.Errorf("URL %q: an error, Health or the log shows %q of the password: %s", u, part, shown)
				}
			}
		}
	}
	_, err = cache.New(ctxT(t), cache.Config{URL: "rediss://u:pw@127.0.0.1:6380/0?skip_verify=true"})
	if !errors.Is(err, cache.ErrInvalidConfig) || !strings.Contains(err.Error(), "skip_verify") {
		t.Errorf("skip_verify in the URL: %v, want ErrInvalidConfig naming it", err)
	}
}

func TestURLForms(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := ctxT(t)
	raw := rawClient(t, "redis://"+srv.Addr+"/5")

	// unix:// with a database number.
	c, err := cache.New(ctx, cache.Config{URL: "unix://" + srv.Socket + "?db=5", Namespace: "unix"})
	if err != nil {
		t.Fatalf("unix socket: %v", err)
	}
	defer c.Close()
	if err := cache.Set(ctx, c, "k", "via socket", time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, _ := raw.Do(ctx, raw.B().Exists().Key("unix:k").Build()).AsInt64(); n != 1 {
		t.Error("a key set over the unix socket with ?db=5 is not in database 5")
	}

	// redis://host:port/db selects the database.
	c2, err := cache.New(ctx, cache.Config{URL: "redis://" + srv.Addr + "/5", Namespace: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := cache.Set(ctx, c2, "k", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, _ := raw.Do(ctx, raw.B().Exists().Key("tcp:k").Build()).AsInt64(); n != 1 {
		t.Error("a key set with /5 is not in database 5")
	}

	// rediss:// speaks TLS: a plain server cannot complete the handshake
	// (it waits for more, as a server that does not answer would).
	_, err = cache.New(ctx, cache.Config{URL: "rediss://" + srv.Addr, DialTimeout: time.Second, RequireConnection: true})
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("rediss:// to a plain server: %v, want ErrUnavailable", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://127.0.0.1:6390/2")
	t.Setenv("CACHE_NAMESPACE", "disc")
	t.Setenv("CACHE_SEARCH_TTL", "45m")
	t.Setenv("CACHE_INTENT_TTL", "300")
	t.Setenv("CACHE_EMBEDDING_TTL", "")
	t.Setenv("CACHE_OPERATION_TIMEOUT", "250ms")
	t.Setenv("CACHE_MAX_VALUE_BYTES", "1048576")
	t.Setenv("CACHE_COMPRESS_MIN_BYTES", "-1")
	t.Setenv("CACHE_NEAR_CACHE_BYTES", "-1")
	t.Setenv("CACHE_NEAR_CACHE_MAX_AGE", "30s")
	t.Setenv("CACHE_LEASE", "-1s")
	t.Setenv("CACHE_TTL_JITTER", "0.25")
	t.Setenv("REDIS_SENTINEL_ADDRS", "10.0.0.1:26379, 10.0.0.2:26379,")
	t.Setenv("REDIS_SENTINEL_MASTER", "primary")
	t.Setenv("REDIS_SENTINEL_USERNAME", "watcher")
	t.Setenv("REDIS_SENTINEL_PASSWORD", "s-pw")
	t.Setenv("CACHE_REPLICA_READS", "search, embedding")
	got, err := cache.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := cache.Config{URL: "redis://127.0.0.1:6390/2", Namespace: "disc", SearchTTL: 45 * time.Minute,
		IntentTTL: 5 * time.Minute, OperationTimeout: 250 * time.Millisecond, MaxValueBytes: 1 << 20, CompressMinBytes: -1,
		NearCacheBytes: -1, NearCacheMaxAge: 30 * time.Second, Policy: cache.Policy{Lease: -time.Second, TTLJitter: 0.25},
		Sentinel: cache.SentinelConfig{Addrs: []string{"10.0.0.1:26379", "10.0.0.2:26379"}, MasterSet: "primary", Username: "watcher", Password: "s-pw"},
		Policies: map[string]cache.Policy{"search": {ReplicaReads: true}, "embedding": {ReplicaReads: true}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ConfigFromEnv = %+v\nwant %+v", got, want)
	}
	t.Setenv("REDIS_SENTINEL_ADDRS", "")
	t.Setenv("REDIS_CLUSTER_ADDRS", "10.0.0.1:7000,10.0.0.2:7000")
	t.Setenv("CACHE_REPLICA_READS", "true")
	if got, err := cache.ConfigFromEnv(); err != nil || !slices.Equal(got.ClusterAddrs, []string{"10.0.0.1:7000", "10.0.0.2:7000"}) ||
		!got.Policy.ReplicaReads || got.Policies != nil {
		t.Errorf("ConfigFromEnv with REDIS_CLUSTER_ADDRS and CACHE_REPLICA_READS=true: %+v, %v", got, err)
	}
	for env, val := range map[string]string{
		"CACHE_SEARCH_TTL": "half an hour", "CACHE_DIAL_TIMEOUT": "99999999999999999999", "CACHE_MAX_VALUE_BYTES": "1MB",
		"CACHE_TTL_JITTER": "ten percent", "CACHE_REPLICA_READS": "search,emb*",
	} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, val)
			_, err := cache.ConfigFromEnv()
			if !errors.Is(err, cache.ErrInvalidConfig) || !strings.Contains(err.Error(), env) {
				t.Errorf("%s=%q: %v, want ErrInvalidConfig naming the variable", env, val, err)
			}
		})
	}
}

// rediss:// against a real TLS listener: verified with the configured CA,
// refused without it.
func TestTLS(t *testing.T) {
	t.Parallel()
	srv, clientTLS := redistest.StartTLS(t)
	ctx := ctxT(t)
	url := "rediss://" + srv.TLSAddr + "/0"

	c, err := cache.New(ctx, cache.Config{URL: url, TLSConfig: clientTLS, Namespace: uniqueNamespace(t)})
	if err != nil {
		t.Fatalf("rediss:// with the server's CA: %v", err)
	}
	defer c.Close()
	if err := cache.Search[string, int](c).Set(ctx, "q", 1); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := cache.Search[string, int](c).Get(ctx, "q"); v != 1 || !ok || err != nil {
		t.Fatalf("Get over TLS = %d, %v, %v", v, ok, err)
	}
	if clientTLS.ServerName != "" {
		t.Error("New modified the caller's TLSConfig")
	}

	// Without the CA, the server's certificate is not trusted.
	_, err = cache.New(ctx, cache.Config{URL: url, DialTimeout: 2 * time.Second})
	if !errors.Is(err, cache.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("rediss:// without the CA: %v, want ErrUnavailable naming the certificate", err)
	}
	// Redis' TLS port given without rediss:// closes the connection
	// without a word, as a sidecar whose Redis is down does; but it
	// completes a TLS handshake, which a sidecar does not: refused, saying
	// to use rediss:// (waiting would not mend it).
	_, err = cache.New(ctx, cache.Config{URL: "redis://" + srv.TLSAddr})
	if !errors.Is(err, cache.ErrInvalidConfig) || !strings.Contains(err.Error(), "rediss://") || !strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("a TLS port with redis://: %v, want ErrInvalidConfig saying to use rediss://", err)
	}
	// TLSConfig with a plain URL is refused rather than ignored.
	_, err = cache.New(ctx, cache.Config{URL: "redis://" + srv.Addr, TLSConfig: clientTLS})
	if !errors.Is(err, cache.ErrInvalidConfig) {
		t.Errorf("TLSConfig with redis://: %v, want ErrInvalidConfig", err)
	}
}

// A password in the URL authenticates; a wrong one is refused with a clear
// error that never shows it.
func TestPasswordURL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--requirepass", "c0rrect-horse")
	ctx := ctxT(t)
	c, err := cache.New(ctx, cache.Config{URL: "redis://:c0rrect-horse@" + srv.Addr + "/0", Namespace: uniqueNamespace(t)})
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	defer c.Close()
	if err := cache.Set(ctx, c, "k", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"redis://:wr0ng-battery@" + srv.Addr, "redis://default:wr0ng-battery@" + srv.Addr} {
		_, err := cache.New(ctx, cache.Config{URL: url})
		if !errors.Is(err, cache.ErrOperation) {
			t.Errorf("wrong password: %v, want ErrOperation", err)
		}
		if err != nil && strings.Contains(err.Error(), "wr0ng-battery") {
			t.Errorf("error leaks the password: %v", err)
		}
		if err != nil && !strings.Contains(err.Error(), "password") {
			t.Errorf("error %q does not point at the password", err)
		}
	}
	if _, err := cache.New(ctx, cache.Config{URL: "redis://" + srv.Addr}); !errors.Is(err, cache.ErrOperation) || !strings.Contains(err.Error(), "password") {
		t.Errorf("no password for a server that requires one: %v, want ErrOperation pointing at the password", err)
	}
}

// ClientOption replaces URL and TLSConfig; mixing them is refused.
func TestClientOptionConflicts(t *testing.T) {
	t.Parallel()
	opt := &rueidis.ClientOption{InitAddress: []string{"127.0.0.1:1"}}
	for name, cfg := range map[string]cache.Config{
		"with URL":       {URL: "redis://127.0.0.1:6379", ClientOption: opt},
		"with TLSConfig": {TLSConfig: &tls.Config{}, ClientOption: opt},
		"no address":     {ClientOption: &rueidis.ClientOption{}},
	} {
		_, err := cache.New(context.Background(), cfg)
		if !errors.Is(err, cache.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

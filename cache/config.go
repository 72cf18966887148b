package cache

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache/internal/policy"
)

// Defaults used for zero fields of [Config]; each field's comment says
// which applies.
const (
	defaultURL              = "redis://127.0.0.1:6379/0"
	defaultNamespace        = "discovery"
	defaultSearchTTL        = 30 * time.Minute
	defaultIntentTTL        = 10 * time.Minute
	defaultEmbeddingTTL     = time.Hour
	defaultOperationTimeout = 500 * time.Millisecond
	defaultDialTimeout      = 5 * time.Second
	defaultMaxValueBytes    = 4 << 20 // 4 MiB
	defaultCompressMinBytes = 1024
	defaultNearCacheBytes   = 64 << 20 // 64 MiB for every kind together
	defaultNearCacheMaxAge  = time.Minute
	defaultBreakerThreshold = 5
	defaultBreakerBackoff   = time.Second
	defaultBreakerMax       = 10 * time.Second
)

// Config configures a [RedisCache]. The zero value is valid: every zero
// field means the default documented on it.
type Config struct {
	// URL locates Redis. Accepted forms:
	//
	//	redis://[user:password@]host[:port][/db]
	//	rediss://[user:password@]host[:port][/db]   (TLS, server name checked)
	//	unix://[user:password@]/path/to/redis.sock[?db=N]
	//
	// Query options dial_timeout, write_timeout, client_name and
	// protocol=2 are honoured as by rueidis.ParseURL; so are addr=host:port
	// (repeatable: more cluster seeds, or more sentinels) and
	// master_set=<name> (the URL's hosts are then sentinels, which find the
	// primary of that name), with sentinel_username= and
	// sentinel_password= for the sentinels' own credentials. Any other
	// option is an error. If empty and ClientOption is nil,
	// redis://127.0.0.1:6379/0; with ClusterAddrs or Sentinel.Addrs, it
	// may be empty, or give only the credentials, the database, TLS and
	// options of the data servers: rediss://user:password@/0.
	//
	// A URL naming one node of a Redis Cluster reaches the whole cluster
	// (the client sees cluster mode and learns the other nodes), but needs
	// that node to start: ClusterAddrs lists several.
	URL string

	// ClusterAddrs, if not empty, are seed nodes of a Redis Cluster, as
	// host:port: a few of its nodes (one is enough, three survive a node
	// down at start), from which the client learns the others and follows
	// failovers and reshardings on its own. URL, if set, gives the user,
	// password, TLS and options of every node, and its host, if any, is
	// one more seed. New fails with ErrInvalidConfig when the servers are
	// not in cluster mode. See docs/scaling.md.
	ClusterAddrs []string

	// Sentinel, when its Addrs are set, reaches a primary watched by Redis
	// Sentinel: the sentinels say which server is the primary, and the
	// cache follows it when they fail it over. URL then gives the data
	// servers' user, password, database and TLS, and must name no host.
	Sentinel SentinelConfig

	// Namespace is put in front of every key, followed by a colon
	// ("discovery:search:<sha256>"). Clearing and pattern deletes never
	// reach outside it, so two caches with different namespaces can share
	// one Redis database safely. It may not contain ':', the separator of
	// keys (else "discovery" would reach into "discovery:tenant"), glob
	// characters (* ? [ ] \) or white space. If empty, "discovery".
	Namespace string

	// SearchTTL, IntentTTL and EmbeddingTTL are how long values of each
	// built-in kind live in Redis. Zero means 30 min, 10 min and 1 h;
	// negative is an error.
	SearchTTL    time.Duration
	IntentTTL    time.Duration
	EmbeddingTTL time.Duration

	// OperationTimeout bounds each network call (one GET, one SET, one
	// SCAN page…) in addition to the caller's context, whichever ends
	// first. The bound is hard: the call returns then, whatever the client
	// is doing (redialling, closing a broken connection), and the client
	// finishes on its own. If zero, 500 ms; under 1 ms, New refuses it.
	OperationTimeout time.Duration

	// DialTimeout bounds establishing a connection, including the TLS
	// handshake: how long New waits for Redis before it starts without
	// it, and how long a connection attempt made in the background may
	// take. If zero, 5 s (unless ClientOption sets its own); under 1 ms,
	// New refuses it.
	DialTimeout time.Duration

	// RequireConnection makes New fail with ErrUnavailable when Redis
	// cannot be reached, instead of returning a cache that answers from
	// loaders and connects in the background (the default: a cache is not
	// a dependency the service must wait for).
	RequireConnection bool

	// BreakerThreshold is how many calls in a row must fail for want of an
	// answer within OperationTimeout (a timeout, a refused or broken
	// connection; not an error reply) before the circuit breaker opens. A
	// call whose caller stopped waiting (its deadline, a cancellation) is
	// counted all the same, by whether its answer came in time, so
	// impatient callers neither open it on a healthy Redis nor keep it
	// closed on a dead one. While it is open, calls fail at once with ErrCircuitOpen,
	// Fetch answers from its loaders, and Redis is only probed in the
	// background. If zero, 5; negative, the breaker never opens on
	// failures. On a Redis Cluster, failures open it only once no call at
	// all has succeeded for twice OperationTimeout: a primary that is down fails
	// the calls of its slots (at once when its host refuses them, within
	// OperationTimeout when it does not answer) until the cluster promotes
	// its replica, while the other primaries go on serving.
	BreakerThreshold int

	// BreakerBackoff is how long the breaker stays open before its first
	// probe (a PING); each failed probe doubles it, up to
	// BreakerMaxBackoff, and a call that succeeds resets it. Waits are
	// jittered by up to a fifth. If zero, 1 s and 10 s; a BreakerBackoff
	// under 10 ms is refused.
	BreakerBackoff    time.Duration
	BreakerMaxBackoff time.Duration

	// MaxValueBytes is the largest encoded value (envelope included, before
	// compression) that Set stores; larger values are refused with
	// ErrValueTooLarge before anything is sent. A stored value larger than
	// it, whoever wrote it, is refused the same way before it is decoded (a
	// miss, which Fetch replaces), and compressed values that would expand
	// past it are refused as corrupt. If zero, 4 MiB.
	MaxValueBytes int

	// CompressMinBytes is the payload size from which values are
	// compressed with S2 before they are stored, when that saves at least
	// an eighth of the bytes (JSON search results shrink about 2×;
	// embedding vectors do not, and stay as they are). Reading a
	// compressed value costs a few microseconds. If zero,
	// 1 KiB; negative disables compression.
	// Values written with compression are read whatever this setting.
	CompressMinBytes int

	// NearCacheBytes bounds the near cache, all kinds together: values
	// read recently, held decoded in this process's memory, so that
	// reading them again costs a map lookup instead of a round trip and a
	// decode. The kinds share it: a busy kind takes more of it, and a
	// hundred kinds cost no more memory than one (their entries and bytes
	// are in Stats, per kind).
	// Redis keeps it coherent: it tells this process when a key it read
	// changes (RESP3 client tracking), whoever changed it, and the local
	// copy goes. Entries are weighed by their key and their encoded bytes
	// (decompressed); the decoded values may take up to a few times that.
	// Up to a quarter more holds the keys of recently used inputs. If zero,
	// 64 MiB; negative turns the near cache off. It is off, whatever
	// this says, against a server without client tracking (Redis before 6,
	// RESP2-only proxies, some embedded test servers): [RedisCache.Health]
	// and the log say so. On a Redis Cluster, values read one at a time
	// fill it (each read is tracked by the node that answers it, across
	// redirections and failovers too); batches (GetMany, FetchMany) are
	// answered from it but do not fill it.
	NearCacheBytes int

	// NearCacheMaxAge is the longest a value is served from the near cache
	// before Redis is asked again, whatever its TTL in Redis (which also
	// bounds it): a limit on how long a value could stay stale if an
	// invalidation were lost without the connection failing. If zero,
	// 1 min.
	NearCacheMaxAge time.Duration

	// StaleMaxAge, if positive, lets Fetch answer with the last value it
	// read from Redis or loaded for a key, up to this old, instead of
	// calling the loader, while Redis fails or the circuit breaker is
	// open: an outage then costs neither latency nor loader calls for the
	// keys this process served recently. Such answers are counted as
	// KindStats.StaleHits. Values are kept decoded, every kind's together,
	// bounded like the near cache (NearCacheBytes, or 64 MiB when it is
	// off). A key is
	// forgotten when this process writes or deletes it, and on ClearKind
	// and ClearAll; with the near cache on, also when another client
	// changes it after this process read it from Redis (a value this
	// process loaded and stored itself is not tracked: it is kept until
	// StaleMaxAge). If zero, Fetch never answers with a stale value.
	StaleMaxAge time.Duration

	// Policy tunes how every kind loads its values and lets them expire:
	// the lease that makes one process load a missing key for a fleet, TTL
	// jitter, early refresh and adaptive TTLs. Its zero value means the
	// defaults documented on [Policy]'s fields.
	Policy Policy

	// Policies overrides Policy for the kinds named (KindSearch,
	// KindIntent, KindEmbedding, KindCustom for the key-level functions, or
	// a kind of your own), field by field: a zero field takes Policy's.
	Policies map[string]Policy

	// TLSConfig configures TLS for rediss:// URLs: a private CA in
	// RootCAs (as managed Redis services with in-transit encryption
	// require), a client certificate for mutual TLS, a minimum version. It
	// is cloned, and its ServerName defaults to the URL's host. If nil,
	// rediss:// verifies the server against the system's roots. Setting it
	// with another scheme is an error, so that TLS is never silently off.
	TLSConfig *tls.Config

	// Logger receives warnings for the errors Fetch absorbs to answer from
	// the loader (at most one line per kind and class of error every 10 s,
	// with the number of errors it stands for), and debug records for hits
	// and misses. Errors that are returned are not logged: they are the
	// caller's. If nil, nothing is logged. Records never contain a password.
	Logger *slog.Logger

	// Legacy, if not LegacyOff, lets the built-in kinds read (LegacyRead)
	// or share (LegacyReadWrite) the cache of the original service, keys and
	// values as it writes them; see [Legacy]. It applies to Search, to
	// Intents views without a parser version (the original service had
	// none), and to the Embeddings view of LegacyEmbeddingModel only (its
	// keys hold no model id). Custom kinds and the key-level functions are
	// not affected.
	Legacy Legacy

	// LegacyEmbeddingModel names the model whose vectors the original
	// service cached. If empty, embeddings do not meet its cache.
	LegacyEmbeddingModel string

	// Recorder, if not nil, receives every operation of the cache as an
	// [Event], in addition to the figures kept for [RedisCache.Stats]: the
	// seam for Prometheus, OpenTelemetry or your own metrics.
	Recorder Recorder

	// ClientOption, if not nil, gives the rueidis options to connect with,
	// instead of URL (which must then be empty): a list of cluster seed
	// addresses in InitAddress, Sentinel settings, TLS in TLSConfig (the
	// Config's own TLSConfig must then be nil), credentials, pool sizes. A
	// zero Dialer.Timeout becomes DialTimeout. The cache decides
	// DisableCache itself (client tracking is on when the near cache is)
	// and adds its own OnInvalidations after yours; ClientTrackingOptions
	// must be empty while the near cache is on (it needs OPTIN tracking).
	// Zero refresh intervals get the cache's defaults: the cluster's
	// topology is read every second (ClusterOption.ShardsRefreshInterval)
	// and the sentinels are asked for the primary every 5 s
	// (Sentinel.TopologyRefreshInterval), besides what the client learns
	// from redirections and the sentinels' announcements.
	ClientOption *rueidis.ClientOption

	// ClientBuilder, if not nil, builds the client from the final options
	// instead of rueidis.NewClient: to wrap the client (hooks, tracing) or to
	// hand the cache one of your own. The cache owns the client it gets:
	// Close closes it. Build it from the options given (DisableCache and
	// OnInvalidations included): New checks that invalidations reach the
	// cache, and turns the near cache off, saying why, when they do not.
	ClientBuilder func(rueidis.ClientOption) (rueidis.Client, error)
}

// SentinelConfig locates a primary through Redis Sentinel (see
// Config.Sentinel).
type SentinelConfig struct {
	// Addrs lists sentinels, as host:port ("10.0.0.1:26379"): all of them,
	// or enough that one answers when the cache starts.
	Addrs []string
	// MasterSet is the name the sentinels watch the primary under
	// ("sentinel monitor <name> …"). Required with Addrs.
	MasterSet string
	// Username and Password authenticate to the sentinels themselves
	// (their requirepass or ACL), which need not be the data servers'.
	// TLS, when URL is rediss://, applies to the sentinels too.
	Username, Password string
}

// Policy tunes how a kind loads its values and lets them expire (see
// Config.Policy and Config.Policies). Each zero field means its default.
type Policy struct {
	// Lease makes one process load a missing key for a fleet: a Fetch that
	// misses first writes a short lease under the key (SET NX, for this
	// long), and the Fetches of other processes that then miss wait for the
	// value it stores instead of calling their own loaders (woken by the
	// server's invalidation when the near cache is on, else polling with
	// backoff). They wait at most this long, and never more than half the
	// time their caller's deadline leaves, then load for themselves, so a
	// leaseholder that died stalls no one for longer. The lease is released
	// if its load fails. If zero, 2 s; negative turns leases off.
	Lease time.Duration

	// TTLJitter shortens each write's TTL by a fraction of up to this
	// much, drawn from the key (so every reader can tell when a value
	// expires), so that keys written together do not expire together: 0.1
	// keeps each value for 90% to 100% of its kind's TTL. If zero, 0.1;
	// negative, none; at most 0.5. The key-level functions (KindCustom)
	// store for the TTL they are given unless Policies[KindCustom] sets
	// it.
	TTLJitter float64

	// EarlyRefresh lets a Fetch that hits reload the value in the
	// background shortly before it expires, so that a hot key is never
	// missed: each hit refreshes with a probability that grows as expiry
	// nears, exp(-time left / (EarlyRefresh × the kind's load time)) —
	// XFetch, "optimal probabilistic cache stampede prevention" (Vattani et
	// al., VLDB 2015). Callers keep getting the current value meanwhile;
	// one refresh runs per key in a process. The load time is an average
	// of the kind's loads in this process (100 ms until one is timed).
	// Larger values refresh earlier. If zero, 1; negative turns it off.
	EarlyRefresh float64

	// Adaptive makes a kind's TTL follow its reads (off unless set): a
	// value is first stored for ColdTTL, and a hit (Get, Fetch) of a value
	// with less than half the kind's TTL left extends its life to the TTL
	// from the hit (a PEXPIREAT in the background, at most one at a time
	// per key in a process), but never past MaxTTL after it was written.
	// Keys read again and again stay, their age bounded by MaxTTL (early
	// refresh reloads them before that), and keys never read again leave
	// early, freeing Redis memory. It applies to kinds, not to the
	// key-level functions; batch reads do not extend.
	Adaptive bool
	// ColdTTL is how long an adaptive kind's values live until read: if
	// zero, a quarter of the kind's TTL; at most the TTL. Negative in
	// Policies[name] turns Adaptive off for that kind (when Policy turns
	// it on for all).
	ColdTTL time.Duration
	// MaxTTL is the longest an adaptive kind's value lives after it was
	// written: if zero, four times the kind's TTL; at least the TTL.
	MaxTTL time.Duration

	// ReplicaReads sends a kind's reads to replicas, on a Redis Cluster or
	// with Sentinel, to spread the load of reads over more servers (off
	// unless set; Policy's applies to every kind, and a kind's own cannot
	// turn it off). Only for kinds that tolerate stale reads: a replica
	// lags its primary by the replication delay (usually under a
	// millisecond, more under load or after a reconnection), so a read
	// just after a write may miss the value or see the one before, and a
	// deleted or cleared value may be read once more. With the near cache
	// on, a replica's value is tracked on the replica, which reports the
	// change when it applies it. On a cluster, the reads that fill the
	// near cache still go to primaries (the cluster client sends a read
	// with tracking to the slot's primary); plain reads, batches and the
	// reads of a cache without the near cache go to replicas. With one
	// server, it has no effect. Writes, leases (a write and a read in one
	// transaction) and clears always go to primaries. The key-level
	// functions follow Policies[KindCustom], but for keys whose first
	// segment is a kind's name, which follow that kind.
	ReplicaReads bool
}

// Defaults of the fields of Policy.
const (
	defaultLease        = 2 * time.Second
	defaultTTLJitter    = 0.1
	defaultEarlyRefresh = 1.0
)

// policyOf returns the policy of the kind called name: Policies[name],
// its zero fields taken from Policy, then from the defaults.
func (r *resolved) policyOf(name string) policy.Kind {
	p := r.Policies[name]
	adaptive := (p.Adaptive || r.Policy.Adaptive) && p.ColdTTL >= 0
	setDefault(&p.Lease, r.Policy.Lease)
	setDefault(&p.Lease, defaultLease)
	if name != KindCustom { // the key-level functions store for the TTL they are given, unless asked
		setDefault(&p.TTLJitter, r.Policy.TTLJitter)
		setDefault(&p.TTLJitter, defaultTTLJitter)
	}
	setDefault(&p.EarlyRefresh, r.Policy.EarlyRefresh)
	setDefault(&p.EarlyRefresh, defaultEarlyRefresh)
	setDefault(&p.ColdTTL, r.Policy.ColdTTL)
	setDefault(&p.MaxTTL, r.Policy.MaxTTL)
	return policy.Kind{Lease: max(p.Lease, 0), Jitter: max(p.TTLJitter, 0), Refresh: max(p.EarlyRefresh, 0),
		Adaptive: adaptive, Cold: max(p.ColdTTL, 0), Most: max(p.MaxTTL, 0)}
}

// clusterRefresh is how often a cluster client asks for the cluster's
// topology (CLUSTER SLOTS, one small reply), besides when calls meet a
// redirection or a node that does not answer.
const clusterRefresh = time.Second

// sentinelRefresh is how often the client asks the sentinels which server
// is the primary, besides following their announcements.
const sentinelRefresh = 5 * time.Second

// replicaRoute returns the client's SendToReplicas for Policy.ReplicaReads
// and Policies[name].ReplicaReads, or nil when no kind reads from
// replicas. A read goes to a replica when it reads keys of such a kind
// (GET, MGET, PTTL: the first segment after the namespace names the kind,
// a built-in one or one named in Policies; other keys are the key-level
// functions', which follow Policies[KindCustom]; any key of the namespace
// with Policy.ReplicaReads, but for the near cache's probe, which must
// read its own write); CLIENT CACHING, which
// asks for the next read's tracking, may go too, so that a tracked read
// and its request travel together (with Sentinel; the cluster client
// sends them to the primary).
func (r *resolved) replicaRoute() func(rueidis.Completed) bool {
	all := r.Policy.ReplicaReads
	kinds := make(map[string]bool)
	for name, p := range r.Policies {
		if p.ReplicaReads {
			kinds[name] = true
		}
	}
	if !all && len(kinds) == 0 {
		return nil
	}
	prefix := r.Namespace + ":"
	known := map[string]bool{KindSearch: true, KindIntent: true, KindEmbedding: true}
	for name := range r.Policies {
		known[name] = name != KindCustom
	}
	custom := all || kinds[KindCustom]
	return func(cmd rueidis.Completed) bool {
		args := cmd.Commands()
		if len(args) < 2 {
			return false
		}
		switch args[0] {
		case "GET", "MGET", "PTTL":
		case "CLIENT":
			return args[1] == "CACHING"
		default:
			return false
		}
		rest, ok := strings.CutPrefix(args[1], prefix)
		if !ok {
			return false
		}
		kind, _, _ := strings.Cut(rest, ":")
		switch {
		case kind == nearProbeSegment:
			return false
		case !known[kind]: // a key of the key-level functions
			return custom
		}
		return all || kinds[kind]
	}
}

// check validates a Policy given as field (Policy, or Policies[name]).
func (p Policy) check(field string) error {
	if p.TTLJitter > 0.5 || p.TTLJitter != p.TTLJitter {
		return invalidConfig("%s.TTLJitter is %v; use a fraction up to 0.5, or a negative number for none", field, p.TTLJitter)
	}
	if p.MaxTTL < 0 {
		return invalidConfig("%s.MaxTTL is negative (%v); use zero for the default", field, p.MaxTTL)
	}
	if p.Adaptive && p.ColdTTL < 0 {
		return invalidConfig("%s sets Adaptive and a negative ColdTTL, which turns it off; choose one", field)
	}
	if p.ColdTTL > 0 && p.MaxTTL > 0 && p.ColdTTL > p.MaxTTL {
		return invalidConfig("%s: ColdTTL (%v) is longer than MaxTTL (%v)", field, p.ColdTTL, p.MaxTTL)
	}
	if p.EarlyRefresh != p.EarlyRefresh || p.EarlyRefresh > 100 {
		return invalidConfig("%s.EarlyRefresh is %v; use a factor such as 1 (larger refreshes earlier), or a negative number for none", field, p.EarlyRefresh)
	}
	return nil
}

// resolved is a Config with defaults applied, plus the client options
// derived from its URL.
type resolved struct {
	Config
	redactedURL string
	client      rueidis.ClientOption
}

// resolve validates c, applies defaults, and parses the URL. Every error
// wraps ErrInvalidConfig and names the field.
func (c Config) resolve() (resolved, error) {
	r := resolved{Config: c}
	setDefault(&r.Namespace, defaultNamespace)
	setDefault(&r.SearchTTL, defaultSearchTTL)
	setDefault(&r.IntentTTL, defaultIntentTTL)
	setDefault(&r.EmbeddingTTL, defaultEmbeddingTTL)
	setDefault(&r.OperationTimeout, defaultOperationTimeout)
	setDefault(&r.DialTimeout, defaultDialTimeout)
	setDefault(&r.MaxValueBytes, defaultMaxValueBytes)
	setDefault(&r.CompressMinBytes, defaultCompressMinBytes)
	setDefault(&r.NearCacheBytes, defaultNearCacheBytes)
	setDefault(&r.NearCacheMaxAge, defaultNearCacheMaxAge)
	setDefault(&r.BreakerThreshold, defaultBreakerThreshold)
	setDefault(&r.BreakerBackoff, defaultBreakerBackoff)
	setDefault(&r.BreakerMaxBackoff, max(defaultBreakerMax, r.BreakerBackoff))
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"SearchTTL", r.SearchTTL}, {"IntentTTL", r.IntentTTL}, {"EmbeddingTTL", r.EmbeddingTTL},
		{"OperationTimeout", r.OperationTimeout}, {"DialTimeout", r.DialTimeout},
		{"NearCacheMaxAge", r.NearCacheMaxAge}, {"BreakerBackoff", r.BreakerBackoff}, {"BreakerMaxBackoff", r.BreakerMaxBackoff},
		{"StaleMaxAge", r.StaleMaxAge},
	} {
		if d.v < 0 {
			return r, invalidConfig("%s is negative (%v); use a positive duration, or zero for the default", d.name, d.v)
		}
	}
	// Floors: below them the cache cannot work, or works against itself
	// (a 1 ns timeout never connects; a 1 ns backoff spins on connects to
	// a dead Redis).
	for _, d := range []struct {
		name     string
		v, least time.Duration
		reason   string
	}{
		{"OperationTimeout", r.OperationTimeout, time.Millisecond, "no Redis answers that fast, so every call would fail"},
		{"DialTimeout", r.DialTimeout, time.Millisecond, "no connection is made that fast, so the cache would never connect"},
		{"BreakerBackoff", r.BreakerBackoff, 10 * time.Millisecond, "the probes of a Redis that is down would spin the CPU"},
	} {
		if d.v < d.least {
			return r, invalidConfig("%s is %v, under %v: %s; use at least %v, or zero for the default", d.name, d.v, d.least, d.reason, d.least)
		}
	}
	if r.BreakerMaxBackoff < r.BreakerBackoff {
		return r, invalidConfig("BreakerMaxBackoff (%v) is shorter than BreakerBackoff (%v); the backoff only grows", r.BreakerMaxBackoff, r.BreakerBackoff)
	}
	if r.MaxValueBytes < 0 {
		return r, invalidConfig("MaxValueBytes is negative (%d); use a positive size, or zero for the default", r.MaxValueBytes)
	}
	if r.Legacy >= numLegacy {
		return r, invalidConfig("Legacy is %d; use LegacyOff, LegacyRead or LegacyReadWrite", r.Legacy)
	}
	if r.LegacyEmbeddingModel != "" && r.Legacy == LegacyOff {
		return r, invalidConfig("LegacyEmbeddingModel is set but Legacy is off; set Legacy too, or leave the model empty")
	}
	if err := checkName("Namespace", r.Namespace); err != nil {
		return r, invalidConfig("%v", err)
	}
	if r.Policy.ColdTTL < 0 {
		return r, invalidConfig("Policy.ColdTTL is negative (%v); a negative ColdTTL turns Adaptive off for one kind, in Policies: leave Adaptive false here instead", r.Policy.ColdTTL)
	}
	if err := r.Policy.check("Policy"); err != nil {
		return r, err
	}
	for name, p := range r.Policies {
		if err := checkName("Policies kind name", name); err != nil {
			return r, invalidConfig("%v", err)
		}
		if err := p.check(fmt.Sprintf("Policies[%q]", name)); err != nil {
			return r, err
		}
	}
	if err := r.clientOption(); err != nil {
		return r, err
	}
	if r.client.Dialer.Timeout == 0 {
		r.client.Dialer.Timeout = r.DialTimeout
	}
	if so := &r.client.Sentinel; so.MasterSet != "" {
		// The sentinels are dialled and protected as the data servers are.
		if so.Dialer.Timeout == 0 {
			so.Dialer = r.client.Dialer
		}
		if so.TLSConfig == nil && r.client.TLSConfig != nil {
			so.TLSConfig = r.client.TLSConfig.Clone()
		}
		// Without it, a missed +switch-master message would bind the
		// client to a demoted primary until restarted.
		setDefault(&so.TopologyRefreshInterval, sentinelRefresh)
	}
	// The cluster client learns a failover from the redirections and
	// errors of calls; while the breaker keeps calls back, only this
	// refresh tells it.
	setDefault(&r.client.ClusterOption.ShardsRefreshInterval, clusterRefresh)
	if route := r.replicaRoute(); route != nil {
		if r.client.SendToReplicas != nil {
			return r, invalidConfig("ReplicaReads is set and ClientOption.SendToReplicas too; choose the reads for replicas in one of them")
		}
		r.client.SendToReplicas = route
	}
	if r.NearCacheBytes > 0 && r.client.ClientTrackingOptions != nil {
		return r, invalidConfig("ClientOption.ClientTrackingOptions is set; the near cache needs OPTIN tracking: leave it empty, or turn the near cache off (NearCacheBytes < 0)")
	}
	// The server tracks keys for this client (CLIENT TRACKING ON OPTIN) only
	// for the near cache; New turns it off again for a server without it.
	r.client.DisableCache = r.NearCacheBytes <= 0
	// A failed read is not retried: the cache answers from the loader
	// instead, and a retry would keep an abandoned call (see call) busy
	// until its context ends, which for the client's is never.
	r.client.DisableRetry = true
	return r, nil
}

// clientOption sets r.client and r.redactedURL from ClientOption, or from
// URL, ClusterAddrs, Sentinel and TLSConfig.
func (r *resolved) clientOption() error {
	cluster, sentinel := len(r.ClusterAddrs) > 0, len(r.Sentinel.Addrs) > 0
	switch {
	case cluster && sentinel:
		return invalidConfig("ClusterAddrs and Sentinel.Addrs are both set; a Redis Cluster fails over on its own, without sentinels: set one")
	case !sentinel && (r.Sentinel.MasterSet != "" || r.Sentinel.Username != "" || r.Sentinel.Password != ""):
		return invalidConfig("Sentinel is set without Sentinel.Addrs; list the sentinels' addresses")
	case sentinel && r.Sentinel.MasterSet == "":
		return invalidConfig("Sentinel.Addrs is set without Sentinel.MasterSet; give the name the sentinels watch the primary under (sentinel monitor <name> …)")
	}
	if r.ClientOption != nil {
		switch {
		case r.URL != "":
			return invalidConfig("URL and ClientOption are both set; give the server in one of them")
		case cluster || sentinel:
			return invalidConfig("ClusterAddrs or Sentinel is set with ClientOption; put the addresses in ClientOption.InitAddress (and ClientOption.Sentinel) instead")
		case r.TLSConfig != nil:
			return invalidConfig("TLSConfig and ClientOption are both set; put the TLS settings in ClientOption.TLSConfig")
		case len(r.ClientOption.InitAddress) == 0:
			return invalidConfig("ClientOption.InitAddress is empty; list the address of at least one server")
		}
		r.client = *r.ClientOption
		r.redactedURL = strings.Join(r.client.InitAddress, ",")
		return nil
	}
	field, addrs := "ClusterAddrs", r.ClusterAddrs
	if sentinel {
		field, addrs = "Sentinel.Addrs", r.Sentinel.Addrs
	}
	for i, a := range addrs {
		if err := checkAddr(a); err != nil {
			return invalidConfig("%s[%d] %q: %v", field, i, a, err)
		}
	}
	raw := r.URL
	switch {
	case raw == "" && len(addrs) > 0:
		raw = "redis://"
	case raw == "":
		raw = defaultURL
	}
	var err error
	var hostless bool
	r.redactedURL, r.client, hostless, err = parseURL(raw, len(addrs) > 0)
	if err != nil {
		return err
	}
	if r.TLSConfig != nil {
		if r.client.TLSConfig == nil {
			return invalidConfig("TLSConfig is set but URL %s does not use TLS; use rediss://", r.redactedURL)
		}
		serverName := r.client.TLSConfig.ServerName
		r.client.TLSConfig = r.TLSConfig.Clone()
		if r.client.TLSConfig.ServerName == "" {
			r.client.TLSConfig.ServerName = serverName
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	if hostless {
		r.client.InitAddress = nil
		if r.client.TLSConfig != nil && (r.TLSConfig == nil || r.TLSConfig.ServerName == "") {
			r.client.TLSConfig.ServerName = "" // each node's certificate is checked against its own host
		}
	}
	if !sentinel && r.client.Sentinel.MasterSet != "" {
		return invalidConfig("URL %s sets master_set and ClusterAddrs is set; a cluster has no sentinels: remove one", r.redactedURL)
	}
	if sentinel {
		switch {
		case !hostless:
			return invalidConfig("URL %s names a host and Sentinel.Addrs is set; the sentinels find the primary: give the URL without a host (redis://user:password@/0) for the data servers' credentials", r.redactedURL)
		case r.client.Sentinel.MasterSet != "":
			return invalidConfig("URL %s sets master_set and Sentinel.Addrs is set; give the sentinels in one of them", r.redactedURL)
		}
		r.client.Sentinel.MasterSet = r.Sentinel.MasterSet
		r.client.Sentinel.Username, r.client.Sentinel.Password = r.Sentinel.Username, r.Sentinel.Password
	}
	r.client.InitAddress = append(slices.Clone(addrs), r.client.InitAddress...)
	where := "cluster seeds " + strings.Join(r.client.InitAddress, ",")
	if sentinel {
		where = "sentinels " + strings.Join(r.client.InitAddress, ",") + ", master set " + r.Sentinel.MasterSet
	}
	if r.URL == "" {
		r.redactedURL = where
	} else {
		r.redactedURL += " (" + where + ")"
	}
	return nil
}

// checkAddr checks a host:port address.
func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return errors.New("not host:port (a URL belongs in URL)")
	}
	if host == "" {
		return errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %s; a port is 1 to 65535", port)
	}
	return nil
}

// urlOptions are the query options a URL may carry: rueidis.ParseURL's
// that the cache honours, and the sentinels' credentials.
var urlOptions = []string{"db", "dial_timeout", "write_timeout", "client_name", "protocol", "addr", "master_set",
	"sentinel_username", "sentinel_password"}

// parseURL checks a Redis URL and turns it into client options; with
// hostOptional, the URL may name no host (hostless: its addresses are
// given elsewhere). Errors never contain a password, whatever the input.
func parseURL(raw string, hostOptional bool) (redacted string, opt rueidis.ClientOption, hostless bool, err error) {
	u, perr := url.Parse(raw)
	if perr != nil {
		if strings.Contains(raw, "@") {
			// The reason would quote what the parser took for a port or a
			// host, which may be part of the password.
			return scrubURL(raw), opt, false, invalidConfig("URL %s is malformed; expected redis://[user:password@]host:port[/db], with / # ? @ in the user name or password escaped (%%2F %%23 %%3F %%40)", scrubURL(raw))
		}
		// url.Error repeats the whole input: keep only the reason.
		if ue, ok := perr.(*url.Error); ok {
			perr = ue.Err
		}
		return "", opt, false, invalidConfig("URL is malformed: %v; expected redis://[user:password@]host:port[/db]", perr)
	}
	shown := *u
	shown.RawQuery = sentinelPassword.ReplaceAllString(u.RawQuery, "${1}xxxxx") // never shown
	shown.Fragment, shown.RawFragment = "", ""
	redacted = shown.Redacted()
	if strings.Contains(raw, "#") {
		// Nothing follows a '#' in a Redis URL but the tail of a password.
		return scrubURL(raw), opt, false, invalidConfig("URL %s has a '#'; escape it as %%23 in the user name, the password and sentinel_password", scrubURL(raw))
	}
	if u.User == nil && strings.Contains(raw, "@") {
		// An unescaped / # or ? in the password ends the authority early:
		// what the parser took for a host or a path holds part of the
		// password, so the URL is never repeated as parsed.
		return scrubURL(raw), opt, false, invalidConfig("URL %s has an '@' outside its user information; escape / # ? @ in the user name, the password and sentinel_password (%%2F %%23 %%3F %%40)", scrubURL(raw))
	}
	q, qerr := url.ParseQuery(u.RawQuery)
	if qerr != nil { // url.Query would drop the malformed pair silently
		shown.RawQuery = ""
		return shown.Redacted() + "?…", opt, false, invalidConfig("URL %s has a malformed query (a %% not followed by two hexadecimal digits?); escape %% as %%25 in option values", shown.Redacted()+"?…")
	}
	if q.Has("skip_verify") {
		return redacted, opt, false, invalidConfig("URL %s sets skip_verify; TLS verification is never switched off by a URL: set Config.TLSConfig with InsecureSkipVerify if you must", redacted)
	}
	for name := range q {
		if !slices.Contains(urlOptions, name) {
			return redacted, opt, false, invalidConfig("URL %s has the unknown option %q; the options are %s", redacted, name, strings.Join(urlOptions, ", "))
		}
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return redacted, opt, false, invalidConfig("URL %s has scheme %q; use redis://, rediss:// (TLS) or unix://", redacted, u.Scheme)
	}
	hostless = u.Scheme != "unix" && u.Hostname() == ""
	if hostless && !hostOptional {
		return redacted, opt, false, invalidConfig("URL %s has no host; expected redis://host:port", redacted)
	}
	if p := u.Port(); u.Scheme != "unix" && p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return redacted, opt, false, invalidConfig("URL %s has port %s; a port is 1 to 65535", redacted, p)
		}
	}
	if u.Scheme == "unix" && u.Path == "" {
		return redacted, opt, false, invalidConfig("URL %s has no socket path; expected unix:///path/to/redis.sock", redacted)
	}
	for i, a := range q["addr"] {
		if err := checkAddr(a); err != nil {
			return redacted, opt, false, invalidConfig("URL %s: addr #%d %q: %v", redacted, i+1, a, err)
		}
	}
	if ms := q.Get("master_set"); q.Has("master_set") && ms == "" {
		return redacted, opt, false, invalidConfig("URL %s has an empty master_set; give the name the sentinels watch the primary under", redacted)
	}
	if !q.Has("master_set") && (q.Has("sentinel_username") || q.Has("sentinel_password")) {
		return redacted, opt, false, invalidConfig("URL %s gives sentinel credentials without master_set", redacted)
	}
	opt, perr = rueidis.ParseURL(raw)
	if perr != nil {
		msg := perr.Error()
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return redacted, opt, false, invalidConfig("URL %s: %s", redacted, msg)
	}
	opt.Sentinel.Username, opt.Sentinel.Password = q.Get("sentinel_username"), q.Get("sentinel_password")
	return redacted, opt, hostless, nil
}

// scrubURL hides everything between a URL's scheme and its last '@', where
// a password may be, whatever characters it holds, and the value of a
// sentinel_password option, up to the next '&' or '#'.
func scrubURL(raw string) string {
	i, j := strings.Index(raw, "://"), strings.LastIndex(raw, "@")
	start := i + 3 // where user information would begin
	if i < 0 {     // "redis:/:pw@host", ":pw@host": no authority marker, so anything before the '@'
		start = strings.IndexByte(raw, ':') + 1
		if c := strings.IndexByte(raw, '/'); c >= 0 && c < start {
			start = 0
		}
		for start < len(raw) && raw[start] == '/' {
			start++
		}
	}
	if q := strings.IndexByte(raw, '?'); q >= 0 && q < j {
		return raw[:start] + "xxxxx" // an '@' after a '?': what follows may be a password's
	}
	if j >= start {
		raw = raw[:start] + "xxxxx@" + raw[j+1:]
	}
	raw = sentinelPassword.ReplaceAllString(raw, "${1}xxxxx")
	raw, _, _ = strings.Cut(raw, "#") // what follows a '#' is the tail of a password
	return raw
}

// sentinelPassword matches the value of any query option whose name holds
// "pass" (sentinel_password, and a password= given by mistake).
var sentinelPassword = regexp.MustCompile(`(?i)((?:^|[?&;])[a-z_]*pass[a-z_]*=)[^&#]*`)

// checkName validates a namespace or kind name: something that is placed
// in keys and in SCAN patterns. The caller wraps the error in its class.
func checkName(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", field, s)
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return strings.ContainsRune(`*?[]\`, r) || unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r)
	}); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Errorf("%s %q contains %U; glob characters (* ? [ ] \\), spaces, control and other unprintable characters are not allowed", field, s, r)
	}
	if strings.Contains(s, ":") {
		return fmt.Errorf("%s %q contains ':', the separator of keys: its keys could be taken for another's (\"discovery\" would clear \"discovery:tenant\"); use '-', '_' or '.' instead", field, s)
	}
	return nil
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Environment variables read by [ConfigFromEnv] (listed on it).
const (
	envURL              = "REDIS_URL"
	envNamespace        = "CACHE_NAMESPACE"
	envSearchTTL        = "CACHE_SEARCH_TTL"
	envIntentTTL        = "CACHE_INTENT_TTL"
	envEmbeddingTTL     = "CACHE_EMBEDDING_TTL"
	envOperationTimeout = "CACHE_OPERATION_TIMEOUT"
	envDialTimeout      = "CACHE_DIAL_TIMEOUT"
	envMaxValueBytes    = "CACHE_MAX_VALUE_BYTES"
	envCompressMinBytes = "CACHE_COMPRESS_MIN_BYTES"
	envLegacy           = "CACHE_LEGACY"
	envLegacyModel      = "CACHE_LEGACY_EMBEDDING_MODEL"
	envNearCacheBytes   = "CACHE_NEAR_CACHE_BYTES"
	envNearCacheMaxAge  = "CACHE_NEAR_CACHE_MAX_AGE"
	envRequire          = "CACHE_REQUIRE_CONNECTION"
	envBreakerThreshold = "CACHE_BREAKER_THRESHOLD"
	envBreakerBackoff   = "CACHE_BREAKER_BACKOFF"
	envBreakerMax       = "CACHE_BREAKER_MAX_BACKOFF"
	envStaleMaxAge      = "CACHE_STALE_MAX_AGE"
	envLease            = "CACHE_LEASE"
	envTTLJitter        = "CACHE_TTL_JITTER"
	envEarlyRefresh     = "CACHE_EARLY_REFRESH"
	envReplicaReads     = "CACHE_REPLICA_READS"
	envClusterAddrs     = "REDIS_CLUSTER_ADDRS"
	envSentinelAddrs    = "REDIS_SENTINEL_ADDRS"
	envSentinelMaster   = "REDIS_SENTINEL_MASTER"
	envSentinelUser     = "REDIS_SENTINEL_USERNAME"
	envSentinelPassword = "REDIS_SENTINEL_PASSWORD"
)

// ConfigFromEnv builds a Config from environment variables; unset or empty
// variables leave the field zero (so its default applies):
//
//	REDIS_URL                 Config.URL
//	REDIS_CLUSTER_ADDRS       Config.ClusterAddrs (host:port,host:port,…)
//	REDIS_SENTINEL_ADDRS      Config.Sentinel.Addrs (host:port,host:port,…)
//	REDIS_SENTINEL_MASTER     Config.Sentinel.MasterSet
//	REDIS_SENTINEL_USERNAME   Config.Sentinel.Username
//	REDIS_SENTINEL_PASSWORD   Config.Sentinel.Password
//	CACHE_NAMESPACE           Config.Namespace
//	CACHE_SEARCH_TTL          Config.SearchTTL      ("30m", or whole seconds: "1800")
//	CACHE_INTENT_TTL          Config.IntentTTL
//	CACHE_EMBEDDING_TTL       Config.EmbeddingTTL
//	CACHE_OPERATION_TIMEOUT   Config.OperationTimeout ("250ms", or whole seconds)
//	CACHE_DIAL_TIMEOUT        Config.DialTimeout
//	CACHE_REQUIRE_CONNECTION  Config.RequireConnection (true or false)
//	CACHE_BREAKER_THRESHOLD   Config.BreakerThreshold (failures in a row; -1 never opens)
//	CACHE_BREAKER_BACKOFF     Config.BreakerBackoff
//	CACHE_BREAKER_MAX_BACKOFF Config.BreakerMaxBackoff
//	CACHE_STALE_MAX_AGE       Config.StaleMaxAge
//	CACHE_LEASE               Config.Policy.Lease ("2s"; "-1s" turns leases off)
//	CACHE_TTL_JITTER          Config.Policy.TTLJitter (a fraction: "0.1"; "-1" for none)
//	CACHE_EARLY_REFRESH       Config.Policy.EarlyRefresh (a factor: "1"; "-1" turns it off)
//	CACHE_REPLICA_READS       Policy.ReplicaReads: "true" for every kind, or the kinds' names ("search,embedding")
//	CACHE_MAX_VALUE_BYTES     Config.MaxValueBytes  (bytes)
//	CACHE_COMPRESS_MIN_BYTES  Config.CompressMinBytes (bytes; -1 disables)
//	CACHE_NEAR_CACHE_BYTES    Config.NearCacheBytes (bytes a kind; -1 turns the near cache off)
//	CACHE_NEAR_CACHE_MAX_AGE  Config.NearCacheMaxAge
//	CACHE_LEGACY              Config.Legacy (off, read or read-write)
//	CACHE_LEGACY_EMBEDDING_MODEL  Config.LegacyEmbeddingModel
//
// A malformed value gives an error wrapping ErrInvalidConfig that names the
// variable. The URL is checked by [New], which reports it without its
// password.
func ConfigFromEnv() (Config, error) {
	c := Config{
		URL:                  os.Getenv(envURL),
		Namespace:            os.Getenv(envNamespace),
		LegacyEmbeddingModel: os.Getenv(envLegacyModel),
		ClusterAddrs:         envList(envClusterAddrs),
		Sentinel: SentinelConfig{Addrs: envList(envSentinelAddrs), MasterSet: os.Getenv(envSentinelMaster),
			Username: os.Getenv(envSentinelUser), Password: os.Getenv(envSentinelPassword)},
	}
	if s := strings.TrimSpace(os.Getenv(envReplicaReads)); s != "" {
		if all, err := strconv.ParseBool(s); err == nil {
			c.Policy.ReplicaReads = all
		} else {
			for _, name := range envList(envReplicaReads) {
				if err := checkName(envReplicaReads+" kind", name); err != nil {
					return c, invalidConfig("%v; use true, false, or kinds' names separated by commas (search,embedding)", err)
				}
				if c.Policies == nil {
					c.Policies = make(map[string]Policy)
				}
				p := c.Policies[name]
				p.ReplicaReads = true
				c.Policies[name] = p
			}
		}
	}
	if s := os.Getenv(envLegacy); s != "" {
		l, ok := parseLegacy(s)
		if !ok {
			return c, invalidConfig("%s=%q; use off, read or read-write", envLegacy, s)
		}
		c.Legacy = l
	}
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{
		{envSearchTTL, &c.SearchTTL}, {envIntentTTL, &c.IntentTTL}, {envEmbeddingTTL, &c.EmbeddingTTL},
		{envOperationTimeout, &c.OperationTimeout}, {envDialTimeout, &c.DialTimeout},
		{envNearCacheMaxAge, &c.NearCacheMaxAge}, {envBreakerBackoff, &c.BreakerBackoff}, {envBreakerMax, &c.BreakerMaxBackoff},
		{envStaleMaxAge, &c.StaleMaxAge}, {envLease, &c.Policy.Lease},
	} {
		v, err := envDuration(d.env)
		if err != nil {
			return c, err
		}
		*d.dst = v
	}
	for _, d := range []struct {
		env string
		dst *int
	}{
		{envMaxValueBytes, &c.MaxValueBytes}, {envCompressMinBytes, &c.CompressMinBytes}, {envNearCacheBytes, &c.NearCacheBytes},
		{envBreakerThreshold, &c.BreakerThreshold},
	} {
		if s := os.Getenv(d.env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return c, invalidConfig("%s=%q is not a whole number", d.env, s)
			}
			*d.dst = n
		}
	}
	for _, f := range []struct {
		env, example string
		dst          *float64
	}{{envTTLJitter, "a fraction such as 0.1", &c.Policy.TTLJitter}, {envEarlyRefresh, "a factor such as 1", &c.Policy.EarlyRefresh}} {
		if s := os.Getenv(f.env); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return c, invalidConfig("%s=%q is not a number; write %s, or -1 for none", f.env, s, f.example)
			}
			*f.dst = v
		}
	}
	if s := os.Getenv(envRequire); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return c, invalidConfig("%s=%q; use true or false", envRequire, s)
		}
		c.RequireConnection = b
	}
	return c, nil
}

// envList reads a list separated by commas; empty items are dropped.
func envList(name string) []string {
	var out []string
	for _, item := range strings.Split(os.Getenv(name), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// envDuration reads a duration written the Go way ("90s", "30m") or as a
// whole number of seconds ("1800").
func envDuration(name string) (time.Duration, error) {
	s := os.Getenv(name)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > int64(math.MaxInt64/time.Second) || n < 0 {
			return 0, invalidConfig("%s=%q is out of range", name, s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalidConfig("%s=%q is not a duration; write it as 30m, 90s, 250ms or a whole number of seconds", name, s)
	}
	return d, nil
}

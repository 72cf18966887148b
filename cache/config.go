package cache

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/redis/rueidis"
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
	// and the log say so. On a Redis Cluster, single reads and batches
	// fill it alike (each read is tracked by the node that answers it,
	// across redirections and failovers too).
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

package cache

import (
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/media-gateway/discovery/cache/internal/config"
)

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
				if err := config.CheckName(envReplicaReads+" kind", name); err != nil {
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

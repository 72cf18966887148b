package cache

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache/internal/config"
)

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

// resolved is a Config with defaults applied, plus the client options
// derived from its URL.
type resolved struct {
	Config
	redactedURL string
	client      rueidis.ClientOption
	server      string // the one server's host:port, "" with several or a sentinel's primary (see RoundTrip.Server)
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
	if err := config.CheckName("Namespace", r.Namespace); err != nil {
		return r, invalidConfig("%v", err)
	}
	if r.Policy.ColdTTL < 0 {
		return r, invalidConfig("Policy.ColdTTL is negative (%v); a negative ColdTTL turns Adaptive off for one kind, in Policies: leave Adaptive false here instead", r.Policy.ColdTTL)
	}
	if err := r.Policy.check("Policy"); err != nil {
		return r, err
	}
	if r.Policy.NearMatch.Mode.on() && r.Policy.NearMatch.Model == "" {
		return r, invalidConfig("Policy.NearMatch.Mode is %v without a Model; name the embedding model whose vectors FetchSimilar is given, so that vectors of two models are never compared", r.Policy.NearMatch.Mode)
	}
	for name, p := range r.Policies {
		if err := config.CheckName("Policies kind name", name); err != nil {
			return r, invalidConfig("%v", err)
		}
		if err := p.check(fmt.Sprintf("Policies[%q]", name)); err != nil {
			return r, err
		}
		if p.VectorEncoding != VectorDefault && (name == KindSearch || name == KindIntent || name == KindCustom) {
			return r, invalidConfig("Policies[%q].VectorEncoding is set; it applies to the embeddings and your own kinds of []float32", name)
		}
		if p.NearMatch.Mode.on() {
			switch name {
			case KindEmbedding:
				return r, invalidConfig("Policies[%q].NearMatch is on; an embedding is the vector of its exact text: FetchSimilar is for searches, intents and your own kinds of texts", name)
			case KindCustom:
				return r, invalidConfig("Policies[%q].NearMatch is on; the key-level functions' keys are yours: make a kind (NewKind[string, V]) for texts", name)
			}
		}
		if near := r.policyOf(name).Near; near.Mode != 0 && near.Model == "" {
			return r, invalidConfig("Policies[%q].NearMatch.Mode is %v without a Model; name the embedding model whose vectors FetchSimilar is given, so that vectors of two models are never compared", name, map[uint8]string{modeShadow: "shadow", modeServe: "serve"}[near.Mode])
		}
		if !p.CanonicalKeys {
			continue
		}
		switch {
		case name == KindEmbedding:
			return r, invalidConfig("Policies[%q].CanonicalKeys is set; an embedding is the vector of its exact text, not of its meaning: leave it off", name)
		case name == KindCustom:
			return r, invalidConfig("Policies[%q].CanonicalKeys is set; the key-level functions' keys are yours: make a kind (NewKind[string, V]) for texts", name)
		case r.Legacy == LegacyReadWrite && (name == KindSearch || name == KindIntent):
			return r, invalidConfig("Policies[%q].CanonicalKeys is set with Legacy LegacyReadWrite, which keeps the original service's keys of the exact text: choose one", name)
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
	if len(r.client.InitAddress) == 1 && r.client.Sentinel.MasterSet == "" && len(r.ClusterAddrs) == 0 {
		r.server = r.client.InitAddress[0]
	}
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
		if err := config.CheckAddr(a); err != nil {
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
	r.redactedURL, r.client, hostless, err = config.ParseURL(raw, len(addrs) > 0)
	if err != nil {
		return invalidConfig("%v", err)
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

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

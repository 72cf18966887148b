package cache

import (
	"bufio"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/media-gateway/discovery/cache/internal/config"
)

// ClearKind removes every value of the kind called name ([KindSearch],
// [KindIntent], [KindEmbedding], or a kind of your own: [Kind.Name]) and
// returns how many keys it removed. For embeddings, the vectors of every
// model go. A name with glob characters or white space is refused with
// [ErrInvalidArgument]. Keys are found and removed as by
// [RedisCache.DeletePattern]. With Config.Legacy set, clearing a built-in
// kind also removes the original service's keys of that kind (see
// [Legacy]), so that no cleared value is read back from there.
//
// On a Redis Cluster, every primary that owns slots is cleared. When one
// fails (it is down and not yet replaced), the others are cleared all the
// same: the count is what was removed, and the error wraps a
// [*PartialError] naming the primaries not cleared; call it again once the
// cluster has promoted their replicas.
func (c *RedisCache) ClearKind(ctx context.Context, name string) (int64, error) {
	return c.clearKind(ctx, name, nil)
}

func (c *RedisCache) clearKind(ctx context.Context, name string, progress func(int64)) (int64, error) {
	if err := config.CheckName("kind name", name); err != nil {
		return 0, invalidArgument(OpClear, name, "", "%v", err)
	}
	k := c.lookupKind(name)
	if k == nil { // a kind this process never used: its removals count as the cache's
		k = c.kinds.whole
	}
	c.forgetKindStale(k)
	return c.clear(ctx, k, progress, c.kindPatterns(name)...)
}

// ClearAll removes every key in this cache's namespace, and nothing else
// (with Config.Legacy set, the original service's keys of the built-in
// kinds too), and returns how many it removed. Its removals are counted in
// Stats().Cache, not per kind. On a Redis Cluster, a primary that fails
// is passed over as by [RedisCache.ClearKind].
func (c *RedisCache) ClearAll(ctx context.Context) (int64, error) {
	return c.clearAll(ctx, nil)
}

func (c *RedisCache) clearAll(ctx context.Context, progress func(int64)) (int64, error) {
	c.forgetAllStale()
	return c.clear(ctx, c.kinds.whole, progress, c.allPatterns()...)
}

// ClearOptions shape a [RedisCache.Clear].
type ClearOptions struct {
	// Kind names the kind to clear, as for ClearKind; empty with All.
	Kind string
	// All clears every key of the namespace, as ClearAll does.
	All bool
	// DryRun counts the keys that would be removed, and removes none.
	DryRun bool
	// Progress, if not nil, is called after each batch of keys (about
	// 1000) with the count so far, on the goroutine of Clear: to show
	// progress on a large keyspace.
	Progress func(done int64)
}

// Clear is ClearKind (o.Kind) or ClearAll (o.All), with a dry run and
// progress reports; it returns how many keys it removed, or, with
// DryRun, would remove. A dry run touches nothing, the stale store
// included, and is counted as a ServerStats-like read (OpServerStats).
func (c *RedisCache) Clear(ctx context.Context, o ClearOptions) (int64, error) {
	switch {
	case o.All && o.Kind != "":
		return 0, invalidArgument(OpClear, o.Kind, "", "ClearOptions sets both Kind and All; set one")
	case !o.All && o.Kind == "":
		return 0, invalidArgument(OpClear, "", "", "ClearOptions sets neither Kind nor All; name a kind, or set All")
	case !o.DryRun && o.All:
		return c.clearAll(ctx, o.Progress)
	case !o.DryRun:
		return c.clearKind(ctx, o.Kind, o.Progress)
	}
	var matches []string
	k := c.kinds.whole
	if o.All {
		matches = c.allPatterns()
	} else {
		if err := config.CheckName("kind name", o.Kind); err != nil {
			return 0, invalidArgument(OpClear, o.Kind, "", "%v", err)
		}
		matches = c.kindPatterns(o.Kind)
	}
	start := time.Now()
	var n int64
	var err error
	for _, m := range matches {
		if err = c.scan(ctx, m, func(keys []string) error {
			n += int64(len(keys))
			if o.Progress != nil {
				o.Progress(n)
			}
			return nil
		}); err != nil {
			break
		}
	}
	c.observeResult(ctx, k, Event{Op: OpServerStats, Latency: time.Since(start)}, err)
	return n, failIf(err, OpServerStats, k, "")
}

// kindPatterns are the SCAN patterns of a kind's keys.
func (c *RedisCache) kindPatterns(name string) []string {
	matches := []string{c.namespaced(name + ":*")}
	if c.cfg.Legacy != LegacyOff && slices.Contains(legacyKinds[:], name) {
		matches = append(matches, legacyPattern(name))
	}
	return matches
}

// allPatterns are the SCAN patterns of every key of the namespace.
func (c *RedisCache) allPatterns() []string {
	matches := []string{c.namespaced("*")}
	if c.cfg.Legacy != LegacyOff {
		for _, name := range legacyKinds {
			matches = append(matches, legacyPattern(name))
		}
	}
	return matches
}

// namespaced puts the escaped namespace in front of a pattern.
func (c *RedisCache) namespaced(pattern string) string {
	return EscapePattern(c.cfg.Namespace) + ":" + pattern
}

// clear scans for each match pattern and unlinks what it finds, recording
// one OpClear of k; progress, if not nil, gets the count after each batch.
func (c *RedisCache) clear(ctx context.Context, k *kindState, progress func(int64), matches ...string) (_ int64, err error) {
	ctx, end := c.begin(ctx, OpClear, k)
	defer func() { end(err) }()
	start := time.Now()
	var removed int64
	var partialErr error
	var match, partialMatch string
	for _, match = range matches {
		err = c.scan(ctx, match, func(keys []string) error {
			n, err := c.keyspace.unlink(ctx, keys)
			c.wroteAll(keys)
			removed += n
			if progress != nil {
				progress(removed)
			}
			return err
		})
		var partial *PartialError
		if err == nil {
			continue
		}
		if !errors.As(err, &partial) {
			break
		}
		// A partial clear goes on with the other patterns, on the
		// primaries that answer.
		if partialErr == nil {
			partialErr, partialMatch = err, match
		}
		err = nil
	}
	if err == nil && partialErr != nil {
		err, match = partialErr, partialMatch
	}
	c.observeResult(ctx, k, Event{Op: OpClear, Latency: time.Since(start), Keys: removed}, err)
	return removed, failIf(err, OpClear, k, match)
}

// Health is the answer to a health check.
type Health struct {
	// Latency is the round trip of one PING; zero when it failed or was
	// not sent (latency_seconds in JSON).
	Latency time.Duration `json:"-"`
	// Connected is false until the cache has connected once (see New).
	Connected bool `json:"connected"`
	// Breaker is the circuit breaker in front of Redis: while it is open,
	// no call is sent (Health's PING neither) and Health fails at once.
	Breaker BreakerStatus `json:"breaker"`
	// NearCache says whether the near cache is on, and if not, why.
	NearCache NearCacheStatus `json:"near_cache"`
}

// Health sends a PING, bounded by ctx and Config.OperationTimeout, and
// reports its round trip, the circuit breaker's state and whether the near
// cache is on (and if not, why). A server that does not answer in time
// gives an error wrapping [ErrUnavailable]; so does an open breaker, at
// once (wrapping [ErrCircuitOpen] too); after [RedisCache.Close],
// [ErrClosed]. The Health returned with an error still describes the
// breaker and the near cache: a readiness probe can report why.
func (c *RedisCache) Health(ctx context.Context) (Health, error) {
	start := time.Now()
	ctx, end := c.begin(ctx, OpPing, c.kinds.whole)
	err := c.ping(ctx)
	h := Health{Connected: c.redis.client.Load() != nil, Breaker: c.breakerStatus(), NearCache: c.nearStatus()}
	latency := time.Since(start)
	c.observeResult(ctx, c.kinds.whole, Event{Op: OpPing, Latency: latency}, err)
	end(err)
	if err != nil {
		return h, failIf(err, OpPing, c.kinds.whole, c.cfg.redactedURL)
	}
	h.Latency = latency
	return h, nil
}

// ServerStats are figures read from Redis itself.
type ServerStats struct {
	// UsedMemory is the server's used_memory, in bytes (summed over the
	// primaries of a cluster).
	UsedMemory int64 `json:"used_memory_bytes"`
	// MaxMemory is the server's maxmemory, in bytes (summed over the
	// primaries of a cluster); 0 when unbounded, which a cache should not
	// be.
	MaxMemory int64 `json:"max_memory_bytes"`
	// MaxMemoryPolicy is the eviction policy; a cache wants allkeys-lru or
	// allkeys-lfu.
	MaxMemoryPolicy string `json:"max_memory_policy"`
	// EvictedKeys counts the keys the server evicted for memory since its
	// start (or CONFIG RESETSTAT), of every client: a rising count means
	// the cache is larger than the server's maxmemory.
	EvictedKeys int64 `json:"evicted_keys"`
	// KeyspaceHits and KeyspaceMisses are the server's lookups since its
	// start (or CONFIG RESETSTAT), for every client, not only this cache.
	KeyspaceHits   int64 `json:"keyspace_hits"`
	KeyspaceMisses int64 `json:"keyspace_misses"`
	// Keys maps each kind's name to the number of keys of this cache's
	// namespace under it ("search" for "discovery:search:…"), the near
	// match's streams included (at most 8 a kind, "…:near:…"); keys set
	// with Set directly are counted under their first segment.
	Keys map[string]int64 `json:"keys,omitempty"`
	// TotalKeys is the number of keys in this cache's namespace.
	TotalKeys int64 `json:"total_keys"`
}

// ServerStats reads memory and keyspace figures with INFO, and counts this
// cache's keys per kind with SCAN (never KEYS, so Redis is not blocked; on a
// large keyspace this takes one round trip per 1000 keys). On a cluster,
// both go to the primaries that own slots, so that each key is counted
// once; when one fails, the figures of the others are returned with an
// error wrapping a [*PartialError]. Counts may be off by the keys written
// or expiring while it runs.
func (c *RedisCache) ServerStats(ctx context.Context) (ServerStats, error) {
	start := time.Now()
	ctx, end := c.begin(ctx, OpServerStats, c.kinds.whole)
	st, err := c.serverStats(ctx, true)
	c.observeResult(ctx, c.kinds.whole, Event{Op: OpServerStats, Latency: time.Since(start)}, err)
	end(err)
	return st, failIf(err, OpServerStats, c.kinds.whole, "")
}

// ServerInfo reads the figures of [RedisCache.ServerStats] that INFO gives
// (memory, eviction policy, evictions, keyspace hits and misses), one
// round trip per server, without counting keys (Keys is nil, TotalKeys
// 0): cheap enough to poll, as cacheprom does at scrape. It fails as
// ServerStats does.
func (c *RedisCache) ServerInfo(ctx context.Context) (ServerStats, error) {
	start := time.Now()
	ctx, end := c.begin(ctx, OpServerStats, c.kinds.whole)
	st, err := c.serverStats(ctx, false)
	c.observeResult(ctx, c.kinds.whole, Event{Op: OpServerStats, Latency: time.Since(start)}, err)
	end(err)
	return st, failIf(err, OpServerStats, c.kinds.whole, "")
}

// serverStats reads INFO and, with keys, counts the namespace's keys.
func (c *RedisCache) serverStats(ctx context.Context, keys bool) (ServerStats, error) {
	var st ServerStats
	infos, infoErr := c.info(ctx)
	for _, info := range infos {
		st.addInfo(info)
	}
	var partial *PartialError
	if !keys || infoErr != nil && !errors.As(infoErr, &partial) {
		return st, infoErr
	}
	st.Keys = make(map[string]int64)
	prefix := c.cfg.Namespace + ":"
	err := c.scan(ctx, c.namespaced("*"), func(keys []string) error {
		for _, k := range keys {
			rest := strings.TrimPrefix(k, prefix)
			if i := strings.IndexByte(rest, ':'); i >= 0 {
				rest = rest[:i]
			}
			st.Keys[rest]++
		}
		st.TotalKeys += int64(len(keys))
		return nil
	})
	if err == nil {
		err = infoErr // partial: the figures of the primaries that answered
	}
	return st, err
}

// addInfo adds the figures of one INFO reply.
func (st *ServerStats) addInfo(info string) {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(value, 10, 64)
		switch name {
		case "used_memory":
			st.UsedMemory += n
		case "maxmemory":
			st.MaxMemory += n
		case "evicted_keys":
			st.EvictedKeys += n
		case "keyspace_hits":
			st.KeyspaceHits += n
		case "keyspace_misses":
			st.KeyspaceMisses += n
		case "maxmemory_policy":
			st.MaxMemoryPolicy = value
		}
	}
}

package cache

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"time"
)

// Health is the answer to a health check.
type Health struct {
	// Latency is the round trip of one PING.
	Latency time.Duration
}

// Health sends a PING, bounded by ctx and Config.OperationTimeout, and
// reports its round trip. A server that does not answer in time gives an
// error wrapping [ErrUnavailable]; after [RedisCache.Close], [ErrClosed].
func (c *RedisCache) Health(ctx context.Context) (Health, error) {
	if c.closed.Load() {
		return Health{}, c.fail(ctx, nil, "ping", "", ErrClosed, ErrClosed)
	}
	start := time.Now()
	if err := c.do(ctx, c.client.B().Ping().Build()).Error(); err != nil {
		return Health{}, c.fail(ctx, nil, "ping", c.cfg.redactedURL, nil, err)
	}
	return Health{Latency: time.Since(start)}, nil
}

// ServerStats are figures read from Redis itself.
type ServerStats struct {
	// UsedMemory is the server's used_memory, in bytes (summed over the
	// nodes of a cluster).
	UsedMemory int64
	// MaxMemoryPolicy is the eviction policy; a cache wants allkeys-lru or
	// allkeys-lfu.
	MaxMemoryPolicy string
	// KeyspaceHits and KeyspaceMisses are the server's lookups since its
	// start (or CONFIG RESETSTAT), for every client, not only this cache.
	KeyspaceHits, KeyspaceMisses int64
	// Keys maps each kind's name to the number of keys of this cache's
	// namespace under it ("search" for "discovery:search:…"); keys set with
	// Set directly are counted under their first segment.
	Keys map[string]int64
	// TotalKeys is the number of keys in this cache's namespace.
	TotalKeys int64
}

// ServerStats reads memory and keyspace figures with INFO, and counts this
// cache's keys per kind with SCAN (never KEYS, so Redis is not blocked; on a
// large keyspace this takes one round trip per 1000 keys). Counts may be
// off by the keys written or expiring while it runs.
func (c *RedisCache) ServerStats(ctx context.Context) (ServerStats, error) {
	st := ServerStats{Keys: make(map[string]int64)}
	if c.closed.Load() {
		return st, c.fail(ctx, nil, "server stats", "", ErrClosed, ErrClosed)
	}
	for _, node := range c.scanTargets() {
		info, err := c.doOn(ctx, node, node.B().Info().Build()).ToString()
		if err != nil {
			return st, c.fail(ctx, nil, "info", "", nil, err)
		}
		st.addInfo(info)
	}
	prefix := c.cfg.Namespace + ":"
	err := c.scan(ctx, EscapePattern(c.cfg.Namespace)+":*", func(keys []string) error {
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
	if err != nil {
		return st, c.fail(ctx, nil, "scan", prefix+"*", nil, err)
	}
	return st, nil
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
		case "keyspace_hits":
			st.KeyspaceHits += n
		case "keyspace_misses":
			st.KeyspaceMisses += n
		case "maxmemory_policy":
			st.MaxMemoryPolicy = value
		}
	}
}

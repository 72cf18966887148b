package cache

import (
	"context"

	"github.com/redis/rueidis"
)

// scanCount is the COUNT hint of each SCAN page, and so the size of each
// UNLINK batch: large enough to keep round trips few, small enough that no
// single call holds Redis for long.
const scanCount = 1000

// DeletePattern removes every key of this cache that matches pattern and
// returns how many were removed. pattern is a Redis glob matched against
// keys without the namespace: "search:*" removes every search result,
// "user:42:*" every key under "user:42:". Keys outside the namespace are
// never matched, whatever the pattern.
//
// Place user text in a pattern only through [EscapePattern]. The keys are
// found with SCAN and removed with UNLINK in batches of about 1000, each call
// bounded by Config.OperationTimeout; Redis is never blocked by KEYS. Keys
// written while the deletion runs may survive it. On error the count says how
// many keys were removed before it.
func (c *RedisCache) DeletePattern(ctx context.Context, pattern string) (int64, error) {
	return c.deleteMatching(ctx, c.custom, pattern)
}

// ClearKind removes every value of the kind called name ([KindSearch],
// [KindIntent], [KindEmbedding] or a custom collection's name) and returns
// how many keys it removed.
func (c *RedisCache) ClearKind(ctx context.Context, name string) (int64, error) {
	if err := checkName("kind name", name); err != nil {
		return 0, c.fail(ctx, nil, "clear", name, ErrInvalidArgument, err)
	}
	c.mu.RLock()
	k := c.kinds[name] // nil for a name never used: removals are then not counted
	c.mu.RUnlock()
	return c.deleteMatching(ctx, k, name+":*")
}

// ClearAll removes every key in this cache's namespace, and nothing else,
// and returns how many it removed. Removed keys are not added to the
// per-kind Deletes figures.
func (c *RedisCache) ClearAll(ctx context.Context) (int64, error) {
	return c.deleteMatching(ctx, nil, "*")
}

// deleteMatching scans for namespace:pattern and unlinks what it finds,
// counting removals against k (if any).
func (c *RedisCache) deleteMatching(ctx context.Context, k *kind, pattern string) (int64, error) {
	match := EscapePattern(c.cfg.Namespace) + ":" + pattern
	var removed int64
	err := c.scan(ctx, match, func(keys []string) error {
		n, err := c.unlink(ctx, keys)
		removed += n
		return err
	})
	if k != nil {
		k.st.deletes.Add(uint64(removed))
	}
	if err != nil {
		return removed, c.fail(ctx, k, "delete pattern", match, nil, err)
	}
	return removed, nil
}

// scan calls fn with each page of keys matching match, on every node that
// holds keys (each primary of a cluster). A key may be seen twice if it is
// rewritten during the scan.
func (c *RedisCache) scan(ctx context.Context, match string, fn func(keys []string) error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	for _, node := range c.scanTargets() {
		var cursor uint64
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			cmd := node.B().Scan().Cursor(cursor).Match(match).Count(scanCount).Build()
			e, err := c.doOn(ctx, node, cmd).AsScanEntry()
			if err != nil {
				return err
			}
			if len(e.Elements) > 0 {
				if err := fn(e.Elements); err != nil {
					return err
				}
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	return nil
}

// scanTargets returns the clients to SCAN: the nodes of a cluster, or the
// one server otherwise.
func (c *RedisCache) scanTargets() []rueidis.Client {
	if c.client.Mode() != rueidis.ClientModeCluster {
		return []rueidis.Client{c.client}
	}
	nodes := c.client.Nodes()
	out := make([]rueidis.Client, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n)
	}
	return out
}

// unlink removes keys with one UNLINK per key, pipelined in one round trip
// (per-key commands stay valid on a cluster, where keys of one batch live in
// different slots). It returns how many keys existed.
func (c *RedisCache) unlink(ctx context.Context, keys []string) (int64, error) {
	if c.closed.Load() {
		return 0, ErrClosed
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = c.client.B().Unlink().Key(k).Build()
	}
	ctx, cancel := c.opContext(ctx)
	defer cancel()
	var removed int64
	for _, r := range c.client.DoMulti(ctx, cmds...) {
		n, err := r.AsInt64()
		if err != nil {
			return removed, err
		}
		removed += n
	}
	return removed, nil
}

// doOn runs one command on node within the operation timeout.
func (c *RedisCache) doOn(ctx context.Context, node rueidis.Client, cmd rueidis.Completed) rueidis.RedisResult {
	ctx, cancel := c.opContext(ctx)
	defer cancel()
	return node.Do(ctx, cmd)
}

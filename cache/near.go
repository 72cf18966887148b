package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// The near cache (internal/near) holds decoded values in process memory,
// in front of Redis, for every kind, kept coherent by the server's
// invalidations; the cache owns it (RedisCache.near: nil when off), reads
// through it (read.go: nearValue, openRead, accept) and drops what this
// process writes (wrote). Here: the proof, when the cache connects, that
// invalidations reach it.

// probeNear proves that the server's invalidations reach this cache: it
// writes a key of its own, reads it with tracking (which must report its
// TTL), writes it again and waits for the invalidation of that write. A
// client built by Config.ClientBuilder without the options it was given, a
// proxy that accepts CLIENT TRACKING but forwards no invalidations, or an
// ACL that refuses PTTL, fails it. A failure to reach Redis is tried once
// more before the near cache is given up.
func (c *RedisCache) probeNear(ctx context.Context) error {
	err := c.probeOnce(ctx)
	if err != nil && ctx.Err() == nil && classOf(err) == ErrUnavailable {
		err = c.probeOnce(ctx)
	}
	return err
}

// nearProbeSegment names the keys of probeOnce.
const nearProbeSegment = "near-probe"

func (c *RedisCache) probeOnce(ctx context.Context) error {
	var id [8]byte
	_, _ = rand.Read(id[:]) // never fails
	key := c.cfg.Namespace + ":" + nearProbeSegment + ":" + hex.EncodeToString(id[:])
	n := c.near.Load()
	if n == nil {
		return nil
	}
	seen, stop := n.Watch(key)
	defer stop()
	defer c.unlink(context.WithoutCancel(ctx), []string{key}) //nolint:errcheck // the key expires on its own
	const ttl = 10 * time.Second
	if err := c.setBytes(ctx, key, []byte{0}, ttl); err != nil {
		return err
	}
	_, pttl, found, err := c.getTracked(ctx, key)
	switch {
	case err != nil:
		return err
	case !found || pttl <= 0:
		return fmt.Errorf("a tracked read of a key just written found it %v with TTL %d ms (is PTTL or CLIENT CACHING refused?)", found, pttl)
	}
	if err := c.setBytes(ctx, key, []byte{1}, ttl); err != nil {
		return err
	}
	wait := time.NewTimer(c.cfg.OperationTimeout)
	defer wait.Stop()
	select {
	case <-seen:
		return nil
	case <-wait.C:
		return fmt.Errorf("no invalidation within Config.OperationTimeout (%v) of a write to a key read with tracking", c.cfg.OperationTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

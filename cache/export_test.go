package cache

import (
	"context"
	"time"
)

// SetFetchJoinedHook makes every Fetch of c call hook once it has joined
// (or started) the flight of its key.
func SetFetchJoinedHook(c *RedisCache, hook func(key string)) { c.hooks.fetchJoined = hook }

// SetNearReadHook makes every tracked read of c call hook after Redis has
// answered and before the answer is checked against invalidations and kept
// in the near cache.
func SetNearReadHook(c *RedisCache, hook func(key string)) { c.hooks.nearRead = hook }

// SetInvalidationHook makes c call hook each time its near cache has
// dropped a key (an invalidation from the server, or a write of c).
func SetInvalidationHook(c *RedisCache, hook func(key string)) {
	c.near.Load().SetInvalidatedHook(hook)
}

// NearBudgetOf returns how long a neighbour search may take under ctx (-1:
// no bound of its own), and whether it runs at all.
func NearBudgetOf(ctx context.Context) (time.Duration, bool) {
	c, cancel, ok := nearBudget(ctx)
	defer cancel()
	d, has := c.Deadline()
	if !has {
		return -1, ok
	}
	return time.Until(d), ok
}

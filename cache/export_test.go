package cache

// SetFetchJoinedHook makes every Fetch of c call hook once it has joined
// (or started) the flight of its key.
func SetFetchJoinedHook(c *RedisCache, hook func(key string)) { c.hookFetchJoined = hook }

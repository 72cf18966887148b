package cache

import (
	"context"
	"reflect"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/media-gateway/discovery/cache/internal/near"
)

// The stale store (Config.StaleMaxAge) keeps, for every kind, the values Fetch
// recently read from Redis or loaded, decoded, so that Fetch can answer
// with one of them instead of calling the loader while Redis fails or the
// breaker is open. Unlike the near cache it is never consulted while Redis
// answers, and it is not emptied when a connection closes: that is when it
// serves. It forgets a key when this process writes or deletes it, when the
// server reports that another client changed it (with the near cache on,
// for keys read with tracking), and on ClearKind and ClearAll; an entry
// lives StaleMaxAge from when it was last read or loaded.

// staleStore is the stale store: every kind's values, by Redis key, each
// pointing to its kind (near.Entry.Owner).
type staleStore = otter.Cache[string, near.Entry]

// newStale makes the stale store, bounded by the near cache's bytes (or
// their default when it is off) and StaleMaxAge.
func (c *RedisCache) newStale() *staleStore {
	maxBytes := c.cfg.NearCacheBytes
	if maxBytes <= 0 {
		maxBytes = defaultNearCacheBytes
	}
	return otter.Must(&otter.Options[string, near.Entry]{
		MaximumWeight:    uint64(maxBytes),
		Weigher:          func(_ string, e near.Entry) uint32 { return e.Size },
		ExpiryCalculator: otter.ExpiryWriting[string, near.Entry](c.cfg.StaleMaxAge),
	})
}

// forgetAllStale empties the stale store: before a clear of the whole
// cache, whose keys are not known in advance (and which may be refused,
// or fail half way, while Redis is away).
func (c *RedisCache) forgetAllStale() {
	if c.stale != nil {
		c.stale.InvalidateAll()
	}
}

// forgetKindStale drops k's values from the stale store: before a clear
// of the kind.
func (c *RedisCache) forgetKindStale(k *kindState) {
	if c.stale == nil {
		return
	}
	for key, e := range c.stale.All() {
		if e.Owner == &k.nearFigures {
			c.stale.Invalidate(key)
		}
	}
}

// forgetStale drops key from the stale store.
func (c *RedisCache) forgetStale(key string) {
	if c.stale != nil {
		c.stale.Invalidate(key)
	}
}

// keyChanged is told of each key the server reports changed (see
// near.Cache.OnInvalidations): the stale store forgets what it read under it,
// and a Fetch waiting on another process's lease of it tries again.
func (c *RedisCache) keyChanged(key string) {
	if c.cfg.StaleMaxAge > 0 {
		c.staleChanged(key)
	}
	c.loads.waits.Wake(key)
	c.similarChanged(key)
}

// staleChanged is told of each key the server reports changed: it drops
// the values read from Redis under key. A value this process stored itself
// stays: the report may be the echo of its own write (Redis sends it after
// the write's reply), and such values are not tracked anyway.
func (c *RedisCache) staleChanged(key string) {
	if e, ok := c.stale.GetIfPresent(key); ok && !e.Own {
		c.stale.Invalidate(key)
	}
}

// keepStale keeps v, of size encoded bytes, as key's last known value:
// read from Redis, or stored by this process (own).
func (s store[V]) keepStale(key string, v V, size int, own bool) {
	if st := s.k.stale; st != nil {
		st.Set(key, near.Entry{Owner: &s.k.nearFigures, Value: v, Type: reflect.TypeFor[V](), Size: near.Weight(key, size), Own: own})
	}
}

// staleValue returns key's last known value, if the stale store has one of
// type V, and records the stale hit.
func (s store[V]) staleValue(ctx context.Context, key string, start time.Time) (V, bool) {
	var zero V
	if s.k.stale == nil {
		return zero, false
	}
	e, ok := s.k.stale.GetIfPresent(key)
	if !ok {
		return zero, false
	}
	v, ok := entryValue[V](e)
	if ok {
		s.c.observe(s.k, Event{Op: OpFetch, Outcome: OutcomeStale, Tier: TierLocal, Latency: time.Since(start), Key: key, Context: ctx})
	}
	return v, ok
}

// encodedSize returns the size v would have in Redis, to weigh a loaded
// value kept while Redis is unavailable; 0 if it cannot be encoded.
func (s store[V]) encodedSize(v V) int {
	pooled := encodeBuffers.Get().(*[]byte)
	buf, err := s.encode(v, *pooled)
	if err != nil {
		return 0
	}
	if cap(buf) <= maxPooledEncodeBuffer {
		*pooled = buf[:0]
		encodeBuffers.Put(pooled)
	}
	return len(buf)
}

package cache

import (
	"context"
	"time"
)

// keyspace is what the read and write protocols ask of Redis: commands on
// keys, each bound in time, classified and judged by the breaker. The
// cache's own is itself (commands.go, through the door of transport.go);
// tests of the protocols give one in memory, on a clock of their own
// (keyspace_fake_test.go). What the protocols keep of their own writes
// (the near cache's drop, the stale store, the counts of writes: see
// wrote) is theirs, not the keyspace's.
type keyspace interface {
	// getBytes reads key: (nil, false, nil) when it holds nothing.
	getBytes(ctx context.Context, key string) ([]byte, bool, error)
	// getTracked reads key with its PTTL, tracked for the near cache
	// (pttl 0: not to be kept).
	getTracked(ctx context.Context, key string) (val []byte, pttl int64, found bool, err error)
	// getWithTTL reads key with its PTTL, tracked or not.
	getWithTTL(ctx context.Context, key string, tracked bool) (val []byte, pttl int64, found bool, err error)
	// getMany reads keys in one round trip (see RedisCache.getMany).
	getMany(ctx context.Context, keys []string, track, withTTL bool) (vals [][]byte, found []bool, pttl []int64, tracked bool, err error)
	// setBytes stores val under key for ttl.
	setBytes(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// setLeased stores val under key for ttl only while key holds lease
	// (or, expired, holds nothing), and reports whether it did.
	setLeased(ctx context.Context, key string, lease, val []byte, ttl time.Duration, expired bool) (bool, error)
	// setOverOlder stores val under key for ttl only if key holds nothing,
	// a lease, or (withBorn) the value written at born, and reports
	// whether it did.
	setOverOlder(ctx context.Context, key string, born time.Time, withBorn bool, val []byte, ttl time.Duration) (bool, error)
	// setAbsent stores val under key for ttl only if key holds nothing,
	// and reports whether it did.
	setAbsent(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error)
	// setMany stores vals[i] under keys[i] for ttls[i] in one round trip,
	// only if keys[i] holds nothing where absent[i] (absent nil: none),
	// and reports which it stored (stored may be set with err: a write
	// after the first round trip failed).
	setMany(ctx context.Context, keys []string, vals [][]byte, ttls []time.Duration, absent []bool) (stored []bool, err error)
	// acquire takes a lease on key if it holds nothing (SET NX PX ttl) and
	// reads what it holds, tracked or not.
	acquire(ctx context.Context, key string, lease []byte, ttl time.Duration, tracked bool) (held bool, raw []byte, found bool, err error)
	// release deletes key if it still holds lease.
	release(ctx context.Context, key string, lease []byte) error
	// extend moves key's expiry to at if it still holds the value written
	// at born and the move lengthens its life, and reports whether it did.
	extend(ctx context.Context, key string, born, at time.Time) (bool, error)
	// unlink removes keys and returns how many existed.
	unlink(ctx context.Context, keys []string) (int64, error)
}

var _ keyspace = (*RedisCache)(nil)

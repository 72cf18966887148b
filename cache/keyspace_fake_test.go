package cache

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache/internal/envelope"
	"github.com/media-gateway/discovery/cache/internal/lease"
)

// memKeys is a keyspace in memory, on the clock of its goroutine (a
// synctest bubble's, in the protocol tests), with what the cache's Lua
// scripts do written out in Go: several caches given one memKeys are the
// processes of a fleet sharing one Redis. It does not track reads (run
// its caches with the near cache off).
type memKeys struct {
	mu    sync.Mutex // guards the fields below
	m     map[string]memValue
	gets  int   // reads of keys, batches' included
	fails error // if not nil, every command fails with it
}

type memValue struct {
	b   []byte
	exp time.Time // zero: no expiry
}

func newMemKeys() *memKeys { return &memKeys{m: make(map[string]memValue)} }

var _ keyspace = (*memKeys)(nil)

// value returns what key holds now, forgetting it once expired. Called
// with mu held.
func (s *memKeys) value(key string) ([]byte, bool) {
	v, ok := s.m[key]
	if ok && !v.exp.IsZero() && !time.Now().Before(v.exp) {
		delete(s.m, key)
		return nil, false
	}
	return v.b, ok
}

// pttl is PTTL of key: ms left, -1 without expiry, -2 when missing. Called
// with mu held.
func (s *memKeys) pttl(key string) int64 {
	if _, ok := s.value(key); !ok {
		return -2
	}
	if exp := s.m[key].exp; !exp.IsZero() {
		return time.Until(exp).Milliseconds()
	}
	return -1
}

func (s *memKeys) put(key string, b []byte, ttl time.Duration) {
	s.m[key] = memValue{b: append([]byte(nil), b...), exp: time.Now().Add(max(ttl, time.Millisecond))}
}

// Put stores b under key for ttl, as another client would.
func (s *memKeys) Put(key string, b []byte, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(key, b, ttl)
}

// Get returns what key holds, for the tests' own checks.
func (s *memKeys) Get(key string) ([]byte, int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.value(key)
	return b, s.pttl(key), ok
}

// Gets returns how many keys were read.
func (s *memKeys) Gets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

func (s *memKeys) getBytes(ctx context.Context, key string) ([]byte, bool, error) {
	b, _, ok, err := s.getWithTTL(ctx, key, false)
	return b, ok, err
}

func (s *memKeys) getTracked(ctx context.Context, key string) ([]byte, int64, bool, error) {
	return s.getWithTTL(ctx, key, true)
}

func (s *memKeys) getWithTTL(_ context.Context, key string, _ bool) ([]byte, int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != nil {
		return nil, 0, false, s.fails
	}
	s.gets++
	b, ok := s.value(key)
	return b, s.pttl(key), ok, nil
}

func (s *memKeys) getMany(_ context.Context, keys []string, _, withTTL bool) ([][]byte, []bool, []int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != nil {
		return nil, nil, nil, false, s.fails
	}
	vals, found := make([][]byte, len(keys)), make([]bool, len(keys))
	var pttls []int64
	if withTTL {
		pttls = make([]int64, len(keys))
	}
	for i, k := range keys {
		s.gets++
		vals[i], found[i] = s.value(k)
		if withTTL {
			pttls[i] = s.pttl(k)
		}
	}
	return vals, found, pttls, false, nil
}

func (s *memKeys) setBytes(_ context.Context, key string, val []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != nil {
		return s.fails
	}
	s.put(key, val, ttl)
	return nil
}

func (s *memKeys) setLeased(_ context.Context, key string, lease, val []byte, ttl time.Duration, expired bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != nil {
		return false, s.fails
	}
	cur, ok := s.value(key)
	if ok && string(cur) == string(lease) || !ok && expired {
		s.put(key, val, ttl)
		return true, nil
	}
	return false, nil
}

func (s *memKeys) setOverOlder(_ context.Context, key string, born time.Time, withBorn bool, val []byte, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != nil {
		return false, s.fails
	}
	cur, ok := s.value(key)
	same := withBorn && len(cur) >= envelope.HeaderSize && cur[0] == envelope.Magic &&
		int64(binary.LittleEndian.Uint64(cur[4:12])) == born.UnixMilli()
	if !ok || lease.Is(cur) || same {
		s.put(key, val, ttl)
		return true, nil
	}
	return false, nil
}

func (s *memKeys) setAbsent(_ context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != nil {
		return false, s.fails
	}
	if _, ok := s.value(key); ok {
		return false, nil
	}
	s.put(key, val, ttl)
	return true, nil
}

func (s *memKeys) setMany(ctx context.Context, keys []string, vals [][]byte, ttls []time.Duration, absent []bool) ([]bool, error) {
	stored := make([]bool, len(keys))
	for i, k := range keys {
		var err error
		if absent != nil && absent[i] {
			stored[i], err = s.setAbsent(ctx, k, vals[i], ttls[i])
		} else {
			stored[i], err = true, s.setBytes(ctx, k, vals[i], ttls[i])
		}
		if err != nil {
			return nil, err
		}
	}
	return stored, nil
}

func (s *memKeys) acquire(_ context.Context, key string, lease []byte, ttl time.Duration, _ bool) (bool, []byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != nil {
		return false, nil, false, s.fails
	}
	s.gets++
	held := false
	if _, ok := s.value(key); !ok {
		s.put(key, lease, ttl)
		held = true
	}
	b, ok := s.value(key)
	return held, b, ok, nil
}

func (s *memKeys) release(_ context.Context, key string, lease []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != nil {
		return s.fails
	}
	if cur, ok := s.value(key); ok && string(cur) == string(lease) {
		delete(s.m, key)
	}
	return nil
}

func (s *memKeys) extend(_ context.Context, key string, born, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != nil {
		return false, s.fails
	}
	cur, ok := s.value(key)
	if !ok || len(cur) < envelope.HeaderSize || cur[0] != envelope.Magic ||
		int64(binary.LittleEndian.Uint64(cur[4:12])) != born.UnixMilli() || !s.m[key].exp.Before(at) {
		return false, nil
	}
	s.m[key] = memValue{b: cur, exp: at}
	return true, nil
}

func (s *memKeys) unlink(_ context.Context, keys []string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails != nil {
		return 0, s.fails
	}
	var n int64
	for _, k := range keys {
		if _, ok := s.value(k); ok {
			delete(s.m, k)
			n++
		}
	}
	return n, nil
}

// memCache returns a cache over ks, never connected to Redis: a process
// of the fleet that ks is the Redis of. edit may change its Config, whose
// near cache is off (memKeys tracks no reads). Close it before its test
// ends (inside a synctest bubble: it ends the goroutines the bubble waits
// for).
func memCache(tb testing.TB, ks *memKeys, edit ...func(*Config)) *RedisCache {
	tb.Helper()
	cfg := Config{NearCacheBytes: -1, Namespace: "mem"}
	for _, e := range edit {
		e(&cfg)
	}
	r, err := cfg.resolve()
	if err != nil {
		tb.Fatal(err)
	}
	c := assemble(r)
	c.keyspace = ks
	return c
}

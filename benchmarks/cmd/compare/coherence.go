package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/redistest"
)

// coherenceFigure is how one stack with a local tier behaves when another
// instance writes: the delay from the write's return to the first read of
// the reader that returns the new value, and the reads that are stale
// after the reader's connections were cut and the keys rewritten.
type coherenceFigure struct {
	Stack       string        `json:"stack"`
	Writes      int           `json:"writes"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	Max         time.Duration `json:"max_ns"`
	NotSeen     int           `json:"not_seen_within_limit"`
	Limit       time.Duration `json:"limit_ns"`
	StaleReads  int           `json:"stale_reads_after_reconnect"`
	ReconnectOf int           `json:"reads_after_reconnect"`
	Coherent    bool          `json:"coherent"`
}

// peer is a reader and a writer instance of one stack, on string values.
type peer struct {
	name  string
	read  func(ctx context.Context, key string) (string, error)
	write func(ctx context.Context, key, v string) error
	close func()
	// localHits counts the reader's reads answered locally, when the
	// stack tells; nil otherwise.
	localHits func() uint64
}

const coherenceLimit = time.Second

func measureCoherence(ctx context.Context, srv *redistest.Server, writes int) ([]coherenceFigure, error) {
	var out []coherenceFigure
	builders := []func() (peer, error){
		func() (peer, error) { return ourPeer(ctx, srv.Addr) },
		func() (peer, error) { return rueidisPeer(srv.Addr) },
		func() (peer, error) { return goRedisCachePeer(srv.Addr), nil },
	}
	for _, build := range builders {
		p, err := build()
		if err != nil {
			return nil, err
		}
		f, err := timeWrites(ctx, p, writes)
		if err == nil {
			f.StaleReads, f.ReconnectOf, err = staleAfterReconnect(ctx, srv, p)
		}
		p.close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		f.Coherent = f.NotSeen == 0 && f.StaleReads == 0
		out = append(out, f)
	}
	return out, nil
}

// timeWrites writes a key from the writer, then reads it from the reader
// until it returns the new value, writes times.
func timeWrites(ctx context.Context, p peer, writes int) (coherenceFigure, error) {
	f := coherenceFigure{Stack: p.name, Writes: writes, Limit: coherenceLimit}
	var delays []time.Duration
	for i := range writes {
		key := "coherence-" + strconv.Itoa(i%10)
		old, next := fmt.Sprint("old-", i), fmt.Sprint("new-", i)
		if err := p.write(ctx, key, old); err != nil {
			return f, err
		}
		// Read until the reader answers the old value locally (where the
		// stack tells; otherwise three reads: the first fills it).
		for try := 0; ; try++ {
			before := uint64(0)
			if p.localHits != nil {
				before = p.localHits()
			}
			if _, err := p.read(ctx, key); err != nil {
				return f, err
			}
			if p.localHits == nil && try == 2 || p.localHits != nil && p.localHits() > before {
				break
			}
			if try == 1000 {
				return f, fmt.Errorf("the reader never answered %s locally", key)
			}
		}
		if err := p.write(ctx, key, next); err != nil {
			return f, err
		}
		written := time.Now()
		for {
			v, err := p.read(ctx, key)
			if err != nil {
				return f, err
			}
			if v == next {
				delays = append(delays, time.Since(written))
				break
			}
			if time.Since(written) > coherenceLimit {
				f.NotSeen++
				break
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	if len(delays) > 0 {
		slices.Sort(delays)
		f.P50, f.P99, f.Max = delays[len(delays)/2], delays[len(delays)*99/100], delays[len(delays)-1]
	}
	return f, nil
}

// staleAfterReconnect fills the reader with 100 keys, cuts every client
// connection but its own (CLIENT KILL), rewrites the keys through the
// writer, and counts the reader's reads that return an old value.
func staleAfterReconnect(ctx context.Context, srv *redistest.Server, p peer) (stale, reads int, err error) {
	const keys = 100
	for i := range keys {
		key := "reconnect-" + strconv.Itoa(i)
		if err := p.write(ctx, key, "before"); err != nil {
			return 0, 0, err
		}
		p.read(ctx, key)
		p.read(ctx, key)
	}
	admin, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		return 0, 0, err
	}
	defer admin.Close()
	if err := admin.Do(ctx, admin.B().Arbitrary("CLIENT", "KILL", "TYPE", "normal").Build()).Error(); err != nil {
		return 0, 0, fmt.Errorf("CLIENT KILL: %w", err)
	}
	for i := range keys {
		key := "reconnect-" + strconv.Itoa(i)
		for attempt := 0; ; attempt++ {
			err := p.write(ctx, key, "after")
			if err == nil {
				break
			}
			if attempt == 100 {
				return 0, 0, fmt.Errorf("rewriting after the reconnect: %w", err)
			}
			time.Sleep(10 * time.Millisecond) // the writer reconnecting
		}
	}
	for i := range keys {
		v, err := p.read(ctx, "reconnect-"+strconv.Itoa(i))
		if err != nil || v != "after" {
			stale++
		}
	}
	return stale, keys, nil
}

func ourPeer(ctx context.Context, addr string) (peer, error) {
	var cs [2]*cache.RedisCache
	for i := range cs {
		c, err := cache.New(ctx, cache.Config{URL: "redis://" + addr, Namespace: "coherence"})
		if err != nil {
			return peer{}, err
		}
		cs[i] = c
	}
	reader, writer := cache.Search[string, string](cs[0]), cache.Search[string, string](cs[1])
	return peer{
		name: "cache (near on)",
		read: func(ctx context.Context, key string) (string, error) {
			v, _, err := reader.Get(ctx, key)
			return v, err
		},
		write:     func(ctx context.Context, key, v string) error { return writer.Set(ctx, key, v) },
		close:     func() { cs[0].Close(); cs[1].Close() },
		localHits: func() uint64 { return cs[0].Stats().Kinds[cache.KindSearch].LocalHits },
	}, nil
}

func rueidisPeer(addr string) (peer, error) {
	var cs [2]rueidis.Client
	for i := range cs {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
		if err != nil {
			return peer{}, err
		}
		cs[i] = c
	}
	var local atomic.Uint64
	return peer{
		name: "rueidis client-side cache",
		read: func(ctx context.Context, key string) (string, error) {
			res := cs[0].DoCache(ctx, cs[0].B().Get().Key("rueidis-coherence:"+key).Cache(), time.Minute)
			if res.IsCacheHit() {
				local.Add(1)
			}
			v, err := res.ToString()
			if rueidis.IsRedisNil(err) {
				err = nil
			}
			return v, err
		},
		localHits: local.Load,
		write: func(ctx context.Context, key, v string) error {
			return cs[1].Do(ctx, cs[1].B().Set().Key("rueidis-coherence:"+key).Value(v).Build()).Error()
		},
		close: func() { cs[0].Close(); cs[1].Close() },
	}, nil
}

func goRedisCachePeer(addr string) peer {
	var rdbs [2]*redis.Client
	var gcs [2]*gocache.Cache
	for i := range gcs {
		rdbs[i] = redis.NewClient(&redis.Options{Addr: addr})
		gcs[i] = gocache.New(&gocache.Options{Redis: rdbs[i], LocalCache: gocache.NewTinyLFU(1000, time.Minute)})
	}
	return peer{
		name: "go-redis/cache + TinyLFU",
		read: func(ctx context.Context, key string) (string, error) {
			var v string
			err := gcs[0].Get(ctx, "grc-coherence:"+key, &v)
			if errors.Is(err, gocache.ErrCacheMiss) {
				err = nil
			}
			return v, err
		},
		write: func(ctx context.Context, key, v string) error {
			return gcs[1].Set(&gocache.Item{Ctx: ctx, Key: "grc-coherence:" + key, Value: v, TTL: time.Hour})
		},
		close: func() { rdbs[0].Close(); rdbs[1].Close() },
	}
}

// serverVersion returns the redis_version of the server at addr.
func serverVersion(ctx context.Context, addr string) string {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		return "unknown"
	}
	defer c.Close()
	info, _ := c.Do(ctx, c.B().Info().Section("server").Build()).ToString()
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return "unknown"
}

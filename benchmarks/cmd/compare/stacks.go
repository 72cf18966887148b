package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/fixtures"
)

// A stack is one way a service could cache the values: this cache, or a
// peer library, or a plain client with the value's natural encoding. get
// reads key i (a hit: every key is stored before reads are measured) and
// decodes it; set encodes and stores the value of key i.
type stack struct {
	name  string
	get   func(ctx context.Context, value string, i int) error
	set   func(ctx context.Context, value string, i int) error
	close func()
}

// values are the realistic values of the comparison: 20 search hits, and a
// 1536-dimension embedding.
var (
	searchValue = fixtures.Hits(20)
	vectorValue = fixtures.Vector(1536)
)

const (
	valueSearch    = "search-20"
	valueEmbedding = "embedding-1536"
)

// input is the query or text of key i. They are made once, so that the
// measured loop builds no strings.
func input(value string, i int) string {
	if value == valueSearch {
		return searchInputs[i]
	}
	return textInputs[i]
}

var searchInputs, textInputs []string

// prefixed returns the keys of a peer: its prefix and the input, made once.
func prefixed(prefix string) func(value string, i int) string {
	search, text := make([]string, len(searchInputs)), make([]string, len(textInputs))
	for i := range search {
		search[i], text[i] = prefix+searchInputs[i], prefix+textInputs[i]
	}
	return func(value string, i int) string {
		if value == valueSearch {
			return search[i]
		}
		return text[i]
	}
}

// makeInputs makes the inputs of keys keys.
func makeInputs(keys int) {
	searchInputs, textInputs = make([]string, keys), make([]string, keys)
	for i := range keys {
		searchInputs[i] = valueSearch + "-" + strconv.Itoa(i)
		textInputs[i] = valueEmbedding + "-" + strconv.Itoa(i)
	}
}

// encodeRaw is what a service using a plain client would store: JSON for
// search results, packed little-endian float32 for vectors (its cheapest
// form; JSON would be three times the size and far slower to decode).
func encodeRaw(value string) []byte {
	if value == valueSearch {
		b, _ := json.Marshal(searchValue)
		return b
	}
	b := make([]byte, 4*len(vectorValue))
	for i, f := range vectorValue {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// decodeRaw decodes what encodeRaw wrote.
func decodeRaw(value string, b []byte) error {
	if value == valueSearch {
		var v []fixtures.Hit
		return json.Unmarshal(b, &v)
	}
	if len(b)%4 != 0 {
		return fmt.Errorf("%d bytes is no vector", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return nil
}

// newStacks connects every stack to the server at addr.
func newStacks(ctx context.Context, addr string, keys int) ([]*stack, error) {
	var out []*stack
	for _, near := range []bool{true, false} {
		st, err := ourStack(ctx, addr, near)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	for _, csc := range []bool{false, true} {
		st, err := rueidisStack(addr, csc)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	out = append(out, goRedisStack(addr))
	for _, local := range []bool{false, true} {
		out = append(out, goRedisCacheStack(addr, local, keys))
	}
	return out, nil
}

func ourStack(ctx context.Context, addr string, near bool) (*stack, error) {
	cfg := cache.Config{URL: "redis://" + addr, Namespace: "cmp-far", NearCacheBytes: -1}
	name := "cache (near off)"
	if near {
		cfg.Namespace, cfg.NearCacheBytes, name = "cmp-near", 0, "cache (near on)"
	}
	c, err := cache.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if h, _ := c.Health(ctx); near && !h.NearCache.On {
		return nil, fmt.Errorf("the near cache is off: %s", h.NearCache.Reason)
	}
	search := cache.Search[string, []fixtures.Hit](c)
	emb, err := cache.Embeddings(c, "bench-model")
	if err != nil {
		return nil, err
	}
	if !near {
		ourKeys[valueSearch], _ = search.Key(input(valueSearch, 0))
		ourKeys[valueEmbedding], _ = emb.Key(input(valueEmbedding, 0))
	}
	return &stack{
		name: name,
		get: func(ctx context.Context, value string, i int) error {
			var ok bool
			var err error
			if value == valueSearch {
				_, ok, err = search.Get(ctx, input(value, i))
			} else {
				_, ok, err = emb.Get(ctx, input(value, i))
			}
			if err == nil && !ok {
				err = fmt.Errorf("miss of key %d", i)
			}
			return err
		},
		set: func(ctx context.Context, value string, i int) error {
			if value == valueSearch {
				return search.Set(ctx, input(value, i), searchValue)
			}
			return emb.Set(ctx, input(value, i), vectorValue)
		},
		close: func() { c.Close() },
	}, nil
}

func rueidisStack(addr string, csc bool) (*stack, error) {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: !csc})
	if err != nil {
		return nil, err
	}
	name, prefix := "rueidis", "rueidis:"
	if csc {
		name, prefix = "rueidis client-side cache", "rueidis-csc:"
	}
	keyOf := prefixed(prefix)
	return &stack{
		name: name,
		get: func(ctx context.Context, value string, i int) error {
			key := keyOf(value, i)
			var res rueidis.RedisResult
			if csc {
				res = client.DoCache(ctx, client.B().Get().Key(key).Cache(), time.Minute)
			} else {
				res = client.Do(ctx, client.B().Get().Key(key).Build())
			}
			b, err := res.AsBytes()
			if err != nil {
				return err
			}
			return decodeRaw(value, b)
		},
		set: func(ctx context.Context, value string, i int) error {
			cmd := client.B().Set().Key(keyOf(value, i)).Value(rueidis.BinaryString(encodeRaw(value))).Ex(time.Hour).Build()
			return client.Do(ctx, cmd).Error()
		},
		close: client.Close,
	}, nil
}

// rawSetStack is the baseline of writes: a rueidis SET of bytes encoded
// beforehand (this cache's own envelope), so no encoding at all.
func rawSetStack(ctx context.Context, addr string, values []string) (*stack, error) {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		return nil, err
	}
	stored := map[string][]byte{}
	for _, value := range values {
		b, err := client.Do(ctx, client.B().Get().Key(ourKeys[value]).Build()).AsBytes()
		if err != nil {
			return nil, fmt.Errorf("reading the stored bytes of %s: %w", value, err)
		}
		stored[value] = b
	}
	keyOf := prefixed("rawset:")
	return &stack{
		name: "rueidis SET of encoded bytes",
		get:  func(context.Context, string, int) error { return nil },
		set: func(ctx context.Context, value string, i int) error {
			cmd := client.B().Set().Key(keyOf(value, i)).Value(rueidis.BinaryString(stored[value])).Ex(time.Hour).Build()
			return client.Do(ctx, cmd).Error()
		},
		close: client.Close,
	}, nil
}

// ourKeys are the Redis keys of key 0 of each value in this cache (near
// off), read by rawSetStack.
var ourKeys = map[string]string{}

func goRedisStack(addr string) *stack {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	keyOf := prefixed("goredis:")
	return &stack{
		name: "go-redis",
		get: func(ctx context.Context, value string, i int) error {
			b, err := rdb.Get(ctx, keyOf(value, i)).Bytes()
			if err != nil {
				return err
			}
			return decodeRaw(value, b)
		},
		set: func(ctx context.Context, value string, i int) error {
			return rdb.Set(ctx, keyOf(value, i), encodeRaw(value), time.Hour).Err()
		},
		close: func() { rdb.Close() },
	}
}

func goRedisCacheStack(addr string, local bool, keys int) *stack {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	opt := &gocache.Options{Redis: rdb}
	name, prefix := "go-redis/cache", "grc:"
	if local {
		opt.LocalCache = gocache.NewTinyLFU(2*keys, time.Minute)
		name, prefix = "go-redis/cache + TinyLFU", "grc-lfu:"
	}
	gc := gocache.New(opt)
	keyOf := prefixed(prefix)
	return &stack{
		name: name,
		get: func(ctx context.Context, value string, i int) error {
			key := keyOf(value, i)
			if value == valueSearch {
				var v []fixtures.Hit
				return gc.Get(ctx, key, &v)
			}
			var v []float32
			return gc.Get(ctx, key, &v)
		},
		set: func(ctx context.Context, value string, i int) error {
			item := &gocache.Item{Ctx: ctx, Key: keyOf(value, i), TTL: time.Hour}
			if value == valueSearch {
				item.Value = searchValue
			} else {
				item.Value = vectorValue
			}
			return gc.Set(item)
		},
		close: func() { rdb.Close() },
	}
}

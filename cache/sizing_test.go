package cache_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/fixtures"
	"github.com/media-gateway/discovery/internal/redistest"
)

// parsedIntent is an intent as an NLP parser returns it, for sizing.
type parsedIntent struct {
	Action     string            `json:"action"`
	Subject    string            `json:"subject"`
	Filters    map[string]string `json:"filters"`
	Confidence float64           `json:"confidence"`
}

// BenchmarkStoredBytes measures what each kind's values cost in Redis,
// as stored (key, envelope, compression, expiry): 2,000 values of each on
// a private server, reported per key as the value's length (STRLEN) and
// the growth of used_memory. Run with -benchtime 1x; the figures size a
// Redis (docs/scaling.md).
func BenchmarkStoredBytes(b *testing.B) {
	srv := redistest.Start(b)
	raw := rawClient(b, srv.URL())
	ctx := context.Background()
	c, err := cache.New(ctx, cache.Config{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const n = 2000
	usedMemory := func() int64 {
		info, err := raw.Do(ctx, raw.B().Info().Section("memory").Build()).ToString()
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
				m, _ := strconv.ParseInt(v, 10, 64)
				return m
			}
		}
		b.Fatal("no used_memory in INFO")
		return 0
	}
	hits := fixtures.Hits(20)
	rows := []struct {
		name  string
		kind  string
		store func(i int) error
	}{
		{"search-20-hits", cache.KindSearch, func(i int) error {
			return cache.Search[string, []fixtures.Hit](c).Set(ctx, fmt.Sprint("query ", i), hits)
		}},
		{"intent", cache.KindIntent, func(i int) error {
			return cache.Intents[parsedIntent](c, "").Set(ctx, fmt.Sprint("play the last empire ", i),
				parsedIntent{Action: "play", Subject: "the last empire", Filters: map[string]string{"type": "movie", "year": "2019"}, Confidence: 0.93})
		}},
	}
	for _, enc := range []cache.VectorEncoding{cache.VectorFloat32, cache.VectorFloat16, cache.VectorInt8} {
		ce, err := cache.New(ctx, cache.Config{URL: srv.URL(), Policies: map[string]cache.Policy{cache.KindEmbedding: {VectorEncoding: enc}}})
		if err != nil {
			b.Fatal(err)
		}
		defer ce.Close()
		for _, dims := range []int{384, 768, 1536} {
			vec := fixtures.Vector(dims)
			rows = append(rows, struct {
				name  string
				kind  string
				store func(i int) error
			}{fmt.Sprintf("embedding-%d-%s", dims, enc), cache.KindEmbedding, func(i int) error {
				kd, err := cache.Embeddings(ce, fmt.Sprint("model-", dims))
				if err != nil {
					return err
				}
				return kd.Set(ctx, fmt.Sprint("text ", i), vec)
			}})
		}
	}
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			if _, err := c.ClearAll(ctx); err != nil {
				b.Fatal(err)
			}
			before := usedMemory()
			for i := range n {
				if err := row.store(i); err != nil {
					b.Fatal(err)
				}
			}
			grown := usedMemory() - before
			keys, err := raw.Do(ctx, raw.B().Scan().Cursor(0).Match(c.Namespace()+":"+row.kind+":*").Count(10).Build()).AsScanEntry()
			if err != nil || len(keys.Elements) == 0 {
				b.Fatalf("no key of %s: %v", row.kind, err)
			}
			strlen, err := raw.Do(ctx, raw.B().Strlen().Key(keys.Elements[0]).Build()).AsInt64()
			if err != nil {
				b.Fatal(err)
			}
			usage, err := raw.Do(ctx, raw.B().MemoryUsage().Key(keys.Elements[0]).Samples(0).Build()).AsInt64()
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
			}
			b.ReportMetric(float64(usage), "memory-usage/key")
			b.ReportMetric(float64(strlen), "value-bytes/key")
			b.ReportMetric(float64(grown)/n, "redis-bytes/key")
			b.ReportMetric(float64(len(keys.Elements[0])), "key-bytes")
		})
	}
}

// Keys spread evenly over a cluster's hash slots: they hold no hash tag
// ({…}), and their SHA-256 hex makes their CRC16 uniform. 30,000 search
// keys over three equal slot ranges (as redis-cli --cluster create splits
// them) land within 3% of a third in each.
func TestKeysSpreadOverSlots(t *testing.T) {
	t.Parallel()
	var ranges [3]int
	const n = 30000
	for i := range n {
		key, err := cache.GenerateKey("discovery:"+cache.KindSearch, i)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(key, "{}") {
			t.Fatalf("key %q holds a hash tag", key)
		}
		ranges[int(hashSlot(key))*3/16384]++
	}
	for i, got := range ranges {
		if got < n/3*97/100 || got > n/3*103/100 {
			t.Errorf("slot range %d of 3 holds %d of %d keys; want a third ± 3%%", i, got, n)
		}
	}
	t.Logf("30,000 search keys over 3 slot ranges: %v", ranges)
}

// hashSlot is a key's Redis Cluster slot: CRC16 (XMODEM) of the key, or of
// its hash tag, modulo 16384.
func hashSlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}

package cache

// The near match's entries: their partitions, their streams in Redis,
// and this process's index of them (see similar.go).

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/media-gateway/discovery/cache/internal/canon"
	"github.com/media-gateway/discovery/cache/internal/near"
	"github.com/media-gateway/discovery/cache/internal/similar"
	"github.com/redis/rueidis"
)

// untrackedSync is how often, at most, a process reads a partition's new
// entries when it cannot have the server report their changes (the near
// cache is off, or the server refused to track the stream).
const untrackedSync = 100 * time.Millisecond

// partition is one partition's stream and this process's index of it.
type partition struct {
	stream string // the Redis key of its entries
	idx    *similar.Index
	life   time.Duration // how long an entry lives: the kind's TTL (an adaptive kind's longest)

	fresh     atomic.Bool   // the index has read the stream since the server last reported it changed
	flushes   atomic.Uint64 // the near cache's flushes when the stream was last read
	untracked atomic.Bool   // the server refused to track the stream: read it on a timer
	syncMu    sync.Mutex    // one read of the stream at a time
	last      string        // the ID of the last entry read (guarded by syncMu)
	synced    time.Time     // when the stream was last read (guarded by syncMu)
}

// partitions are the near match's partitions in this process, by stream
// key, for the server's reports of changes.
type partitions struct {
	byStream sync.Map // string → *partition
	any      atomic.Bool
}

// partKey names a partition of a kind: a view and a dimension.
type partKey struct {
	view string
	dims int
}

// partitionOf returns the partition of kd's texts with vectors of vec's
// dimension, made on first use; nil when vec cannot be searched (see
// similar.Unit), is over maxDims, or would open a partition past
// maxPartitions.
func (kd *Kind[K, V]) partitionOf(vec []float32) *partition {
	f := &kd.k.match
	dims := len(vec)
	pk := partKey{kd.view, dims}
	if m := f.byKey.Load(); m != nil {
		if p, ok := (*m)[pk]; ok {
			return p
		}
	}
	if dims > maxDims {
		return nil
	}
	if _, err := similar.Unit(vec); err != nil { // no partition for a vector that cannot be searched
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old := map[partKey]*partition{}
	if m := f.byKey.Load(); m != nil {
		old = *m
	}
	if p, ok := old[pk]; ok {
		return p
	}
	if len(f.parts) >= maxPartitions {
		return nil
	}
	near := kd.k.policy.Near
	h := sha256.New()
	for _, part := range []string{kd.view, near.Model, strconv.Itoa(dims)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	life := kd.k.ttl
	if kd.k.policy.Most > 0 {
		life = kd.k.policy.Most
	}
	p := &partition{
		stream: kd.c.cfg.Namespace + ":" + kd.k.name + ":near:" + hex.EncodeToString(h.Sum(nil)[:8]),
		idx:    similar.New(dims, near.Max), life: life,
	}
	f.parts = append(f.parts, p)
	m := make(map[partKey]*partition, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[pk] = p
	f.byKey.Store(&m)
	kd.c.similar.byStream.Store(p.stream, p)
	kd.c.similar.any.Store(true)
	return p
}

// similarChanged is told of each key the server reports changed: a
// partition's stream is read again before its next search.
func (c *RedisCache) similarChanged(key string) {
	if !c.similar.any.Load() || !strings.Contains(key, ":near:") {
		return
	}
	if p, ok := c.similar.byStream.Load(key); ok {
		p.(*partition).fresh.Store(false)
	}
}

// syncPage is how many entries one read of a stream asks for.
const syncPage = 512

// sync reads the entries of p's stream added since it was last read, when
// the server reported it changed (or, untracked, every untrackedSync): one
// page, on the caller's time; a partition's first read, and the pages
// after the first, in the background (a search meanwhile searches what the
// index holds). A caller that finds another reading it does not wait.
func (kd *Kind[K, V]) sync(ctx context.Context, p *partition) {
	c := kd.c
	t := c.near.Load()
	tracked := t != nil && !p.untracked.Load()
	if tracked && p.fresh.Load() && p.flushes.Load() == t.Flushes() {
		return
	}
	if !p.syncMu.TryLock() {
		return
	}
	if !tracked && time.Since(p.synced) < untrackedSync {
		p.syncMu.Unlock()
		return
	}
	if p.synced.IsZero() || kd.readPages(ctx, p, t, 1) { // the first read, or the pages after one: in the background
		if !c.background(func(bg context.Context) {
			defer p.syncMu.Unlock()
			kd.readPages(bg, p, t, -1)
		}) {
			p.syncMu.Unlock()
		}
		return
	}
	p.syncMu.Unlock()
}

// readPages reads up to pages pages of p's stream (all when negative),
// p.syncMu held, and reports whether more entries may follow.
func (kd *Kind[K, V]) readPages(ctx context.Context, p *partition, t *near.Cache, pages int) bool {
	c := kd.c
	tracked := t != nil && !p.untracked.Load()
	// Marked before the read: a change reported from now on marks it
	// again, and the next search reads what it added.
	p.fresh.Store(true)
	if tracked {
		p.flushes.Store(t.Flushes())
	}
	p.synced = time.Now()
	p.idx.Expire(time.Now().UnixNano())
	for page := 0; pages < 0 || page < pages; page++ {
		rctx, cancel := context.WithTimeout(ctx, c.cfg.OperationTimeout)
		entries, acked, err := c.readStream(rctx, p.stream, p.last, tracked && page == 0)
		cancel()
		if err != nil {
			p.fresh.Store(false)
			kd.k.match.errors.Add(1)
			c.absorb(ctx, kd.k, failIf(err, OpGet, kd.k, p.stream))
			return false
		}
		if tracked && page == 0 && !acked { // the server will not report its changes: read it on a timer
			p.untracked.Store(true)
		}
		for _, e := range entries {
			p.last = e.ID
			kd.admit(p, e)
		}
		if len(entries) < syncPage {
			return false
		}
	}
	p.fresh.Store(false) // the rest is read next
	return true
}

// admit adds a stream entry to p's index, if it is sound: a text, a vector
// of the partition's dimension, a time in its ID no later than an entry's
// life from now. Its key is the text's, as this process derives it.
func (kd *Kind[K, V]) admit(p *partition, e rueidis.XRangeEntry) {
	text, raw := e.FieldValues["t"], e.FieldValues["v"]
	ms, _, ok := strings.Cut(e.ID, "-")
	at, err := strconv.ParseInt(ms, 10, 64)
	now := time.Now()
	if !ok || err != nil || text == "" || len(text) > maxIndexedText || len(raw) != 4*p.idx.Dims() || at > now.Add(p.life).UnixMilli() {
		kd.k.match.corrupt.Add(1)
		return
	}
	exp := time.UnixMilli(min(at, now.UnixMilli())).Add(p.life).UnixNano()
	if exp <= now.UnixNano() {
		return
	}
	vec := make([]float32, p.idx.Dims())
	for i := range vec {
		vec[i] = math.Float32frombits(binary.LittleEndian.Uint32([]byte(raw[4*i:])))
	}
	q, err := similar.Unit(vec)
	if err != nil {
		kd.k.match.corrupt.Add(1)
		return
	}
	in, ok := any(text).(K)
	if !ok {
		return
	}
	key, err := kd.key(in)
	if err != nil {
		return
	}
	p.idx.Add(key, text, canon.Sign(text), q, exp)
}

// stale reports whether the entry of key in p is missing or half through
// its life: a hit then adds it again.
func (kd *Kind[K, V]) stale(p *partition, key string) bool {
	exp, ok := p.idx.Expiry(key)
	return !ok || time.Until(time.Unix(0, exp)) < p.life/2
}

// index adds text (under key, with unit vector q) to p's index here, and
// to its stream, in the background, for every process; not when Redis is
// failing (the value was not stored either) or the cache is closed.
func (kd *Kind[K, V]) index(ctx context.Context, p *partition, key, text string, q []float32) {
	c := kd.c
	if text == "" || len(text) > maxIndexedText || c.closed.Load() || !c.redis.brk.Allow() {
		return
	}
	if !p.idx.Add(key, text, canon.Sign(text), q, time.Now().Add(p.life).UnixNano()) {
		return // indexed already, here: by this process, or read from the stream
	}
	kd.k.match.indexed.Add(1)
	raw := make([]byte, 4*len(q))
	for i, f := range q {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	c.background(func(bg context.Context) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.OperationTimeout)
		defer cancel()
		stop := context.AfterFunc(bg, cancel) // Close cancels the background work
		defer stop()
		if err := c.addEntry(ctx, p, text, raw, kd.k.policy.Near.Max); err != nil {
			kd.k.match.errors.Add(1)
			c.absorb(ctx, kd.k, failIf(err, OpSet, kd.k, p.stream))
		}
	})
}

// addEntryScript appends an entry to a stream (ARGV[2], the text; ARGV[3],
// its unit vector), trims it to about ARGV[1] entries and to those
// written in the last ARGV[4] milliseconds, by the server's clock, and
// keeps it for that long. A stream whose IDs run ahead of the server's
// clock by more than that (an entry added by hand with an ID far in the
// future, after which every ID would follow it) is replaced.
const addEntryScript = `local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local life = tonumber(ARGV[4])
local id = redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[1], "*", "t", ARGV[2], "v", ARGV[3])
local ms = tonumber(string.match(id, "^(%d+)"))
if ms > now + life then
  redis.call("DEL", KEYS[1])
  id = redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[1], "*", "t", ARGV[2], "v", ARGV[3])
  ms = now
end
redis.call("XTRIM", KEYS[1], "MINID", "~", string.format("%.0f", ms - life))
redis.call("PEXPIRE", KEYS[1], life)
return id`

// addEntry appends an entry to p's stream (text and raw, its unit vector
// as little-endian float32), trims the stream to about entries entries and
// to those still alive, and keeps the stream for an entry's life.
func (c *RedisCache) addEntry(ctx context.Context, p *partition, text string, raw []byte, entries int) error {
	client, err := c.door(ctx)
	if err != nil {
		return err
	}
	cmd := client.B().Eval().Script(addEntryScript).Numkeys(1).Key(p.stream).
		Arg(strconv.Itoa(entries), text, rueidis.BinaryString(raw), strconv.FormatInt(max(p.life.Milliseconds(), 1), 10)).Build()
	_, err = c.send(ctx, client, cmd)
	return err
}

// readStream reads the entries of stream after the ID after ("" for all),
// at most syncPage of them; with tracked, the server reports the stream's
// next change if it acked the request.
func (c *RedisCache) readStream(ctx context.Context, stream, after string, tracked bool) (entries []rueidis.XRangeEntry, acked bool, err error) {
	client, err := c.door(ctx)
	if err != nil {
		return nil, false, err
	}
	start := "-"
	if after != "" {
		start = "(" + after
	}
	cmd := client.B().Xrange().Key(stream).Start(start).End("+").Count(syncPage).Build()
	res, acked, err := c.exchangeTracked(ctx, client, tracked, 0, cmd)
	if err != nil {
		return nil, false, err
	}
	entries, err = res[0].AsXRange()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, acked, nil
		}
		return nil, false, c.classify(err)
	}
	return entries, acked, nil
}

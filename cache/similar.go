package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache/internal/canon"
	"github.com/media-gateway/discovery/cache/internal/near"
	"github.com/media-gateway/discovery/cache/internal/similar"
)

// The near match (FetchSimilar): on a miss, a cached neighbour's value is
// served when the caller's vector is close enough and every guard passes.
//
// Entries live in Redis, one stream a partition (namespace, kind, an
// Intents view's parser version, the model, the dimension), under
// "namespace:kind:near:<partition hash>": each entry holds a text and its
// unit vector, and its ID says when it was written. XADD trims the stream
// to Policy.NearMatch.MaxEntries and to the entries still alive, and the
// stream itself expires when no entry was added for the kind's TTL. The
// values stay where Fetch keeps them, under the texts' keys, which each
// process derives from the texts itself: an entry can name no other key.
//
// Each process keeps an index of a partition's entries (internal/similar),
// read from the stream from where it left off: with the near cache on, the
// stream is read with tracking, and read again only once the server
// reports it changed (or after a flush: the same machinery as the near
// cache's); without it, at most every untrackedSync. A neighbour's value
// is read under its key, through the near cache or from Redis: a value
// changed there is served as it is now, and one gone is a miss (the entry
// leaves the index).

// MatchKind says how FetchSimilar found the value it returned.
type MatchKind uint8

// The ways FetchSimilar finds a value.
const (
	MatchLoaded    MatchKind = iota + 1 // nothing usable was cached for the text, nor served from a neighbour: the loader's (this call's, or one shared with other callers), a value another process stored meanwhile, or a stale one while Redis failed
	MatchExact                          // the value cached under the text's own key
	MatchCanonical                      // the value cached under the text's canonical key (Policy.CanonicalKeys): of this text, or of another spelling of it
	MatchNeighbour                      // a neighbour's value (NearMatchServe): Match.Text and Match.Score say which
)

var matchKindNames = [...]string{MatchLoaded: "loaded", MatchExact: "exact", MatchCanonical: "canonical", MatchNeighbour: "neighbour"}

// String returns "loaded", "exact", "canonical" or "neighbour" ("unknown"
// for another value).
func (m MatchKind) String() string {
	if m > 0 && int(m) < len(matchKindNames) {
		return matchKindNames[m]
	}
	return "unknown"
}

// Match is how FetchSimilar found its value.
type Match struct {
	Kind MatchKind
	// Text and Score are the neighbour's text and its vector's cosine
	// similarity to the caller's, when a neighbour's value was served
	// (MatchNeighbour); empty and zero otherwise.
	Text  string
	Score float64
}

// FetchSimilar is [Kind.Fetch] for a text whose vector the caller has (the
// query's embedding, of the model named in the kind's Policy.NearMatch):
// when nothing is cached under the text's key, it looks for a cached
// neighbour, a text whose vector's cosine similarity to vec is at least
// NearMatch.MinSimilarity and which every guard of [NearMatchGuard]
// admits, and with NearMatchServe returns its value instead of loading.
// Otherwise it loads and stores as Fetch does, and adds the text and its
// vector to the kind's entries for the next callers, in every process (a
// text cached again, or hit when its entry is half through its life, is
// added again). Match says how the value was found.
//
// With NearMatchShadow, the loaded value is returned, and compared in the
// background with the value of the neighbour that would have been served
// (reflect.DeepEqual): the figures ([KindStats].NearMatch) count how often
// they agree, the precision the near match would have had on this
// traffic. With NearMatchOff (the default), FetchSimilar is Fetch, and vec
// is not read.
//
// What happens when things fail is as for Fetch: a Redis that fails or a
// vector that cannot be used (empty, over 4,096 dimensions, NaN or
// infinite components, all zeros: counted in InvalidVectors, and logged)
// costs the near match, never the answer. The search for a neighbour takes
// at most a quarter of the time the caller's deadline leaves after the
// read, so that the loader keeps the rest. Entries are partitioned, never
// compared across namespaces, kinds, an Intents view's parser versions,
// models or dimensions (at most 8 partitions a kind: a vector of a ninth
// dimension is not searched); a text of more than 2 KiB is not indexed.
//
// The value may be shared with other callers: treat slices, maps and
// pointers in it as read-only.
func FetchSimilar[V any](ctx context.Context, kd *Kind[string, V], text string, vec []float32, load LoaderFunc[V]) (V, Match, error) {
	found := MatchExact
	if kd.k.policy.Canonical {
		found = MatchCanonical
	}
	key, keyErr := kd.key(text)
	alt := kd.altKey(text)
	near := kd.k.policy.Near
	note := &fetchNote[V]{}
	if near.Mode == 0 || keyErr != nil {
		v, err := kd.fetchNoted(ctx, key, alt, keyErr, kd.k.ttl, load, note)
		return v, note.match(found), err
	}
	f := &kd.k.match
	p := kd.partitionOf(vec)
	if start := time.Now(); !kd.c.closed.Load() {
		if v, mt, ok := kd.local(ctx, key, start); ok { // a near-cache hit, as Fetch's, without the rest's allocations
			kd.hit(ctx, key, kd.k.ttl, mt, start, load)
			kd.renew(ctx, p, key, text, vec)
			return v, Match{Kind: found}, nil
		}
	}
	var (
		q    []float32 // vec, of unit length, once checked
		qErr error
	)
	unit := func() ([]float32, error) {
		if q == nil && qErr == nil {
			q, qErr = kd.unit(ctx, p, key, vec)
		}
		return q, qErr
	}
	var m Match
	serve := near.Mode == modeServe
	if serve {
		note.onMiss = func(ctx context.Context) (V, bool) {
			var zero V
			q, err := unit()
			if err != nil {
				return zero, false
			}
			v, c, ok := kd.neighbour(ctx, p, key, text, q)
			if ok {
				m = Match{Kind: MatchNeighbour, Text: c.Text, Score: c.Score}
				f.served.Add(1)
			}
			return v, ok
		}
	}
	var ran atomic.Bool // this call's loader ran (perhaps beside a flight: see loadBeside)
	own := func(ctx context.Context) (V, error) {
		ran.Store(true)
		return load(ctx)
	}
	v, err := kd.fetchNoted(ctx, key, alt, nil, kd.k.ttl, own, note)
	switch {
	case err != nil:
		return v, note.match(found), err
	case note.hit:
		kd.renew(ctx, p, key, text, vec)
		return v, Match{Kind: found}, nil
	case m.Kind == MatchNeighbour:
		return v, m, nil
	}
	if q, err := unit(); err == nil {
		if ran.Load() {
			kd.index(ctx, p, key, text, q)
		}
		if !serve {
			kd.shadow(ctx, p, key, text, q, v)
		}
	}
	return v, Match{Kind: MatchLoaded}, nil
}

// unit returns vec of unit length, or, counted and logged, why it cannot
// be searched: see similar.Unit; or p is nil (see partitionOf).
func (kd *Kind[K, V]) unit(ctx context.Context, p *partition, key string, vec []float32) ([]float32, error) {
	q, err := similar.Unit(vec)
	if err == nil && p == nil {
		err = errNoPartition(len(vec))
	}
	if err != nil {
		kd.k.match.invalid.Add(1)
		kd.c.absorb(ctx, kd.k, &Error{Op: OpFetch, Kind: kd.k.name, Key: key, Class: ErrInvalidArgument, Cause: err})
	}
	return q, err
}

// renew adds text (under key) to p again after a hit, when its entry is
// gone or half through its life; and counts a vector that cannot be
// searched (p nil).
func (kd *Kind[K, V]) renew(ctx context.Context, p *partition, key, text string, vec []float32) {
	if p != nil && !kd.stale(p, key) {
		return
	}
	if q, err := kd.unit(ctx, p, key, vec); err == nil {
		kd.index(ctx, p, key, text, q)
	}
}

// match is how a Fetch with note found its value: found on a hit.
func (n *fetchNote[V]) match(found MatchKind) Match {
	if n.hit {
		return Match{Kind: found}
	}
	return Match{Kind: MatchLoaded}
}

// The modes of policy.Near.Mode.
const (
	modeShadow = 1
	modeServe  = 2
)

// Bounds of the near match.
const (
	maxIndexedText = 2048 // bytes of a text the near match indexes
	maxDims        = 4096 // dimensions of a vector it searches
	maxPartitions  = 8    // partitions of a kind (views × dimensions)
)

func errNoPartition(dims int) error {
	if dims > maxDims {
		return fmt.Errorf("the vector has %d dimensions; the near match searches vectors of up to %d", dims, maxDims)
	}
	return fmt.Errorf("the kind has %d partitions already (views × dimensions); a vector of %d dimensions opens no other", maxPartitions, dims)
}

// untrackedSync is how often, at most, a process reads a partition's new
// entries when it cannot have the server report their changes (the near
// cache is off, or the server refused to track the stream).
const untrackedSync = 100 * time.Millisecond

// candidatesTried bounds the neighbours a search checks, the closest
// first.
const candidatesTried = 4

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

// nearBudget returns the context of a search for a neighbour: at most a
// quarter of the time ctx's deadline leaves, so that a slow Redis leaves
// the loader the rest; ok is false when that is under a millisecond.
func nearBudget(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	d, has := ctx.Deadline()
	if !has {
		return ctx, noCancel, true
	}
	quarter := time.Until(d) / 4
	if quarter < time.Millisecond {
		return ctx, noCancel, false
	}
	c, cancel := context.WithTimeout(ctx, quarter)
	return c, cancel, true
}

// neighbour looks for a neighbour of text (under key, with unit vector q)
// in p, and reads its value: the closest entries whose similarity reaches
// the kind's floor, in order, until one passes every guard and still has a
// value. The entry of key itself is skipped.
func (kd *Kind[K, V]) neighbour(ctx context.Context, p *partition, key, text string, q []float32) (V, similar.Candidate, bool) {
	var zero V
	ctx, cancel, ok := nearBudget(ctx)
	defer cancel()
	if !ok {
		return zero, similar.Candidate{}, false
	}
	f := &kd.k.match
	f.searches.Add(1)
	kd.sync(ctx, p)
	now := time.Now()
	cands := p.idx.Search(q, kd.k.policy.Near.Min, candidatesTried+1, now.UnixNano())
	var sig canon.Signature
	signed, refused := false, false
	for _, c := range cands {
		if c.Key == key { // its own entry (its value is not there, or it would not be searched)
			continue
		}
		if !signed {
			sig, signed = canon.Sign(text), true
		}
		if !c.Sig.Admits(sig) {
			guard, reason := canon.Refusal(c.Text, text)
			f.refuse(guard)
			f.note(&f.refusals, NearMatchPair{Cached: c.Text, Asked: text, Score: c.Score, Reason: reason, At: now})
			refused = true
			continue
		}
		v, ok, err := kd.peek(ctx, c.Key)
		switch {
		case ok:
			return v, c, true
		case err == nil || unusable(err): // gone, or not to be read as this kind's: it leaves the index
			p.idx.Remove(c.Key)
			f.gone.Add(1)
		default: // Redis fails: no neighbour will be read
			kd.c.absorb(ctx, kd.k, err)
			return zero, c, false
		}
	}
	if refused {
		f.refusedSearches.Add(1)
	} else if len(cands) == 0 || len(cands) == 1 && cands[0].Key == key {
		f.none.Add(1)
	}
	return zero, similar.Candidate{}, false
}

// peek reads a neighbour's value: from the near cache, or from Redis,
// tracked and kept in the near cache as a read is; not counted as a read.
func (kd *Kind[K, V]) peek(ctx context.Context, key string) (V, bool, error) {
	t := kd.c.near.Load()
	if v, _, ok := kd.nearValue(t, key); ok {
		return v, true, nil
	}
	v, _, ok, err := kd.lookup(ctx, key, t, kd.k.ttl)
	return v, ok, err
}

// shadow finds, in the background, the neighbour text (under key, with
// unit vector q) would have been served, and counts whether its value
// equals fresh, the value loaded for text.
func (kd *Kind[K, V]) shadow(ctx context.Context, p *partition, key, text string, q []float32, fresh V) {
	c := kd.c
	c.background(func(bg context.Context) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*c.cfg.OperationTimeout)
		defer cancel()
		stop := context.AfterFunc(bg, cancel) // Close cancels the background work
		defer stop()
		v, cand, ok := kd.neighbour(ctx, p, key, text, q)
		if !ok {
			return
		}
		f := &kd.k.match
		if reflect.DeepEqual(v, fresh) {
			f.agreed.Add(1)
			return
		}
		f.disagreed.Add(1)
		f.note(&f.disagreements, NearMatchPair{Cached: cand.Text, Asked: text, Score: cand.Score, Reason: "values differ", At: time.Now()})
	})
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

// matchFigures are a kind's near-match figures.
type matchFigures struct {
	searches, served, none, refusedSearches, gone, agreed, disagreed, indexed, corrupt, invalid, errors atomic.Uint64
	byGuard                                                                                             sync.Map                               // guard name → *atomic.Uint64
	byKey                                                                                               atomic.Pointer[map[partKey]*partition] // copied on write: read on every call, without a lock

	mu                      sync.Mutex // guards the rest
	parts                   []*partition
	refusals, disagreements []NearMatchPair // the most recent, oldest first
}

// recentPairs is how many pairs the figures keep of each sort.
const recentPairs = 16

func (f *matchFigures) refuse(guard string) {
	n, _ := f.byGuard.LoadOrStore(guard, new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
}

func (f *matchFigures) note(to *[]NearMatchPair, p NearMatchPair) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(*to) == recentPairs {
		*to = append((*to)[:0], (*to)[1:]...)
	}
	*to = append(*to, p)
}

func (f *matchFigures) addPartition(p *partition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parts = append(f.parts, p)
}

// NearMatchStats are a kind's near-match figures ([FetchSimilar]) since
// the cache was made, and its index as it is now.
type NearMatchStats struct {
	Mode string `json:"mode"` // "shadow" or "serve"
	// Searches counts the FetchSimilar calls that missed and looked for
	// a neighbour. Each ended one way: Served (a neighbour's value was
	// served), or in shadow mode Agreed or Disagreed (a neighbour was
	// found, and its value was, or was not, equal to the loaded one), or
	// NoNeighbour (no entry was close enough), or Refused (every entry close
	// enough was refused by a guard), or none of these (the neighbours'
	// values were gone, or Redis failed).
	Searches    uint64 `json:"searches"`
	Served      uint64 `json:"served"`
	Agreed      uint64 `json:"agreed"`
	Disagreed   uint64 `json:"disagreed"`
	NoNeighbour uint64 `json:"no_neighbour"`
	Refused     uint64 `json:"refused"`
	// Precision is Agreed / (Agreed + Disagreed): in shadow mode, how
	// often a neighbour's value equalled the value loaded for the text
	// asked; 0 before any comparison.
	Precision float64 `json:"precision"`
	// Refusals counts the neighbours refused, by guard: every guard's name
	// ("numbers", "negations", "words"…: see NearMatchGuard), from the
	// start.
	Refusals map[string]uint64 `json:"refusals,omitempty"`
	// Gone counts the neighbours whose value was no longer in Redis (or
	// could not be read as the kind's values): they leave this process's
	// index.
	Gone uint64 `json:"gone"`
	// Indexed counts the texts this process added; Corrupt the entries
	// of the streams it could not use (and skipped); InvalidVectors the
	// calls given a vector that could not be searched (empty, NaN or
	// infinite components, all zeros), which were Fetches; Errors the
	// reads and writes of the entries in Redis that failed.
	Indexed        uint64 `json:"indexed"`
	Corrupt        uint64 `json:"corrupt"`
	InvalidVectors uint64 `json:"invalid_vectors"`
	Errors         uint64 `json:"errors"`
	// The index in this process: its partitions, entries, and their
	// bytes (vectors, texts, keys, signatures, bookkeeping; the vectors of
	// entries dropped until the index is compacted), the entries evicted
	// to stay within NearMatch.MaxEntries, and those expired.
	Partitions int    `json:"partitions"`
	Entries    int    `json:"entries"`
	Bytes      int64  `json:"bytes"`
	Evicted    uint64 `json:"evicted"`
	Expired    uint64 `json:"expired"`
	// RecentRefusals are the last pairs a guard refused, and
	// RecentDisagreements the last neighbours whose value differed from
	// the loaded one (shadow mode), oldest first, at most 16 of each: the
	// texts users typed, kept in this process's memory only.
	RecentRefusals      []NearMatchPair `json:"recent_refusals,omitempty"`
	RecentDisagreements []NearMatchPair `json:"recent_disagreements,omitempty"`
}

// NearMatchPair is a neighbour and the text it was compared with.
type NearMatchPair struct {
	Cached string    `json:"cached"` // the neighbour's text
	Asked  string    `json:"asked"`  // the text asked for
	Score  float64   `json:"score"`  // their vectors' cosine similarity
	Reason string    `json:"reason"` // the guard's reason, or "values differ"
	At     time.Time `json:"at"`
}

// snapshot returns the figures now, or zero when the near match is off.
func (f *matchFigures) snapshot(mode uint8) NearMatchStats {
	if mode == 0 {
		return NearMatchStats{}
	}
	s := NearMatchStats{
		Mode: map[uint8]string{modeShadow: "shadow", modeServe: "serve"}[mode], Searches: f.searches.Load(), Served: f.served.Load(), Agreed: f.agreed.Load(),
		Disagreed: f.disagreed.Load(), NoNeighbour: f.none.Load(), Refused: f.refusedSearches.Load(), Gone: f.gone.Load(),
		Indexed: f.indexed.Load(), Corrupt: f.corrupt.Load(), InvalidVectors: f.invalid.Load(), Errors: f.errors.Load(),
	}
	if n := s.Agreed + s.Disagreed; n > 0 {
		s.Precision = float64(s.Agreed) / float64(n)
	}
	s.Refusals = make(map[string]uint64, len(canon.GuardNames))
	for _, g := range canon.GuardNames { // every guard, from the start
		s.Refusals[g] = 0
	}
	f.byGuard.Range(func(k, v any) bool {
		s.Refusals[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	s.Partitions = len(f.parts)
	for _, p := range f.parts {
		x := p.idx.Figures()
		s.Entries += x.Entries
		s.Bytes += x.Bytes
		s.Evicted += x.Evicted
		s.Expired += x.Expired
	}
	s.RecentRefusals = append([]NearMatchPair(nil), f.refusals...)
	s.RecentDisagreements = append([]NearMatchPair(nil), f.disagreements...)
	return s
}

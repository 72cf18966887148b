package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/media-gateway/discovery/cache/internal/canon"
	"github.com/media-gateway/discovery/cache/internal/policy"
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
	MatchLoaded    MatchKind = iota + 1 // no value was cached for the text, nor served from a neighbour: the loader's (this call's, or one shared with other callers), or a stale one while Redis failed
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
	// similarity to the caller's: of the neighbour served (MatchNeighbour),
	// or, in shadow mode, of the neighbour compared with the loaded value
	// (then Shadow is true and Agrees says whether its value was equal).
	// Empty and zero when no neighbour passed.
	Text   string
	Score  float64
	Shadow bool
	Agrees bool
}

// FetchSimilar is [Kind.Fetch] for a text whose vector the caller has (the
// query's embedding, of the model named in the kind's Policy.NearMatch):
// when nothing is cached under the text's key, it looks for a cached
// neighbour, a text whose vector's cosine similarity to vec is at least
// NearMatch.MinSimilarity and which every guard of [NearMatchGuard]
// admits, and with NearMatchServe returns its value instead of loading.
// Otherwise it loads and stores as Fetch does, and adds the text and its
// vector to the kind's entries for the next callers, in every process.
// Match says how the value was found.
//
// With NearMatchShadow, neighbours are found, but the loaded value is
// returned: a neighbour's value is compared with it (reflect.DeepEqual),
// and the figures ([KindStats].NearMatch) count how often they agree, the
// precision the near match would have had on this traffic. With
// NearMatchOff (the default), FetchSimilar is Fetch, and vec is not read.
//
// What happens when things fail is as for Fetch: a Redis that fails or a
// vector that cannot be used (empty, NaN or infinite components, all
// zeros: counted as an error of class ErrInvalidArgument, and logged) costs
// the near match, never the answer. Entries are partitioned, never
// compared across namespaces, kinds, an Intents view's parser versions,
// models or dimensions; a text of more than 2 KiB is not indexed.
//
// The value may be shared with other callers: treat slices, maps and
// pointers in it as read-only.
func FetchSimilar[V any](ctx context.Context, kd *Kind[string, V], text string, vec []float32, load LoaderFunc[V]) (V, Match, error) {
	found := MatchExact
	if kd.k.policy.Canonical {
		found = MatchCanonical
	}
	key, keyErr := kd.key(text)
	near := kd.k.policy.Near
	if near.Mode == 0 || keyErr != nil {
		note := &fetchNote[V]{}
		v, err := kd.fetchNoted(ctx, key, kd.altKey(text), keyErr, kd.k.ttl, load, note)
		if note.hit {
			return v, Match{Kind: found}, err
		}
		return v, Match{Kind: MatchLoaded}, err
	}
	q, err := similar.Unit(vec)
	if err != nil {
		kd.k.match.invalid.Add(1)
		kd.c.absorb(ctx, kd.k, &Error{Op: OpFetch, Kind: kd.k.name, Key: key, Class: ErrInvalidArgument, Cause: err})
		v, err := kd.Fetch(ctx, text, load)
		return v, Match{Kind: MatchLoaded}, err
	}
	p := kd.partition(near, len(q))
	sig := canon.Sign(text)
	var (
		m      Match
		peer   V           // the neighbour's value, in shadow mode
		ran    atomic.Bool // this call's loader ran (perhaps beside a flight: see loadBeside)
		served bool
	)
	note := &fetchNote[V]{onMiss: func(ctx context.Context) (V, bool) {
		v, c, ok := kd.neighbour(ctx, p, key, text, sig, q)
		if !ok {
			return v, false
		}
		m.Text, m.Score = c.Text, c.Score
		if near.Mode == uint8(NearMatchServe) {
			served = true
			return v, true
		}
		peer, m.Shadow = v, true
		return v, false
	}}
	own := func(ctx context.Context) (V, error) {
		ran.Store(true)
		return load(ctx)
	}
	v, err := kd.fetchNoted(ctx, key, kd.altKey(text), nil, kd.k.ttl, own, note)
	f := &kd.k.match
	switch {
	case note.hit:
		return v, Match{Kind: found}, err
	case served:
		f.served.Add(1)
		m.Kind = MatchNeighbour
		return v, m, err
	}
	m.Kind = MatchLoaded
	if err != nil {
		return v, Match{Kind: MatchLoaded}, err
	}
	if m.Shadow {
		m.Agrees = reflect.DeepEqual(peer, v)
		if m.Agrees {
			f.agreed.Add(1)
		} else {
			f.disagreed.Add(1)
			f.note(&f.disagreements, NearMatchPair{Cached: m.Text, Asked: text, Score: m.Score, Reason: "values differ", At: time.Now()})
		}
	}
	if ran.Load() {
		kd.index(ctx, p, key, text, sig, q)
	}
	return v, m, nil
}

// maxIndexedText bounds the texts the near match indexes, in bytes.
const maxIndexedText = 2048

// untrackedSync is how often, at most, a process reads a partition's new
// entries when the near cache is off (without it, no invalidation says
// when they change).
const untrackedSync = 100 * time.Millisecond

// candidatesTried bounds the neighbours a search checks, the closest
// first.
const candidatesTried = 4

// partition is one partition's stream and this process's index of it.
type partition struct {
	stream string // the Redis key of its entries
	idx    *similar.Index
	life   time.Duration // how long an entry lives: the kind's TTL (an adaptive kind's longest)

	fresh   atomic.Bool   // the index has read the stream since the server last reported it changed
	flushes atomic.Uint64 // the near cache's flushes when the stream was last read
	syncMu  sync.Mutex    // one read of the stream at a time
	last    string        // the ID of the last entry read (guarded by syncMu)
	synced  time.Time     // when the stream was last read (guarded by syncMu)
}

// partitions are the near match's partitions in this process, by stream
// key, for the server's reports of changes.
type partitions struct {
	byStream sync.Map // string → *partition
	any      atomic.Bool
}

// partition returns the partition of kd's texts with vectors of dims
// dimensions, made on first use.
func (kd *Kind[K, V]) partition(near policy.Near, dims int) *partition {
	h := sha256.New()
	for _, part := range []string{kd.view, near.Model, strconv.Itoa(dims)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	stream := kd.c.cfg.Namespace + ":" + kd.k.name + ":near:" + hex.EncodeToString(h.Sum(nil)[:8])
	if p, ok := kd.c.similar.byStream.Load(stream); ok {
		return p.(*partition)
	}
	life := kd.k.ttl
	if kd.k.policy.Most > 0 {
		life = kd.k.policy.Most
	}
	p, loaded := kd.c.similar.byStream.LoadOrStore(stream, &partition{stream: stream, idx: similar.New(dims, near.Max), life: life})
	if !loaded {
		kd.k.match.addPartition(p.(*partition))
		kd.c.similar.any.Store(true)
	}
	return p.(*partition)
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

// neighbour looks for a neighbour of text (its key, its signature sig, its
// unit vector q) in p, and reads its value: the closest entries whose
// similarity reaches the kind's floor, in order, until one passes every
// guard and still has a value.
func (kd *Kind[K, V]) neighbour(ctx context.Context, p *partition, key, text string, sig canon.Signature, q []float32) (V, similar.Candidate, bool) {
	var zero V
	f := &kd.k.match
	f.searches.Add(1)
	kd.sync(ctx, p)
	now := time.Now()
	cands := p.idx.Search(q, kd.k.policy.Near.Min, candidatesTried, now.UnixNano())
	refused := false
	for _, c := range cands {
		if c.Key == key { // its own entry: its value is gone, since the read missed
			p.idx.Remove(c.Key)
			f.gone.Add(1)
			continue
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
		case err == nil:
			p.idx.Remove(c.Key)
			f.gone.Add(1)
		case unusable(err):
			f.gone.Add(1)
		default: // Redis fails: no neighbour will be read
			kd.c.absorb(ctx, kd.k, err)
			return zero, c, false
		}
	}
	if refused {
		f.refusedSearches.Add(1)
	} else if len(cands) == 0 {
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
	rctx, cancel := kd.c.readBudget(ctx)
	defer cancel()
	v, _, ok, err := kd.lookup(rctx, key, t, kd.k.ttl)
	return v, ok, err
}

// syncPage is how many entries one read of a stream asks for.
const syncPage = 512

// sync reads the entries of p's stream added since it was last read, when
// the server reported it changed (or, untracked, every untrackedSync). A
// caller that finds another reading it searches what the index holds.
func (kd *Kind[K, V]) sync(ctx context.Context, p *partition) {
	c := kd.c
	t := c.near.Load()
	tracked := t != nil
	if tracked && p.fresh.Load() && p.flushes.Load() == t.Flushes() {
		return
	}
	if !p.syncMu.TryLock() {
		return
	}
	defer p.syncMu.Unlock()
	if !tracked && time.Since(p.synced) < untrackedSync {
		return
	}
	// Marked before the read: a change reported from now on marks it
	// again, and the next search reads what it added.
	p.fresh.Store(true)
	if tracked {
		p.flushes.Store(t.Flushes())
	}
	p.synced = time.Now()
	rctx, cancel := c.readBudget(ctx)
	defer cancel()
	for page := 0; ; page++ {
		entries, err := c.readStream(rctx, p.stream, p.last, tracked && page == 0)
		if err != nil {
			p.fresh.Store(false)
			kd.k.match.errors.Add(1)
			c.absorb(ctx, kd.k, failIf(err, OpGet, kd.k, p.stream))
			return
		}
		for _, e := range entries {
			p.last = e.ID
			kd.admit(p, e)
		}
		if len(entries) < syncPage {
			break
		}
	}
	p.idx.Expire(time.Now().UnixNano())
}

// admit adds a stream entry to p's index, if it is sound: a text, a vector
// of the partition's dimension, a time in its ID. Its key is the text's,
// as this process derives it.
func (kd *Kind[K, V]) admit(p *partition, e rueidis.XRangeEntry) {
	text, raw := e.FieldValues["t"], e.FieldValues["v"]
	ms, _, ok := strings.Cut(e.ID, "-")
	at, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || text == "" || len(text) > maxIndexedText || len(raw) != 4*p.idx.Dims() {
		kd.k.match.corrupt.Add(1)
		return
	}
	exp := time.UnixMilli(at).Add(p.life).UnixNano()
	if exp <= time.Now().UnixNano() {
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

// index adds text (under key, with its signature and unit vector q) to p's
// index here, and to its stream, in the background, for every process.
func (kd *Kind[K, V]) index(ctx context.Context, p *partition, key, text string, sig canon.Signature, q []float32) {
	if len(text) > maxIndexedText {
		return
	}
	if !p.idx.Add(key, text, sig, q, time.Now().Add(p.life).UnixNano()) {
		return // indexed already, here: by this process, or read from the stream
	}
	kd.k.match.indexed.Add(1)
	raw := make([]byte, 4*len(q))
	for i, f := range q {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	c := kd.c
	c.background(func(bg context.Context) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.OperationTimeout)
		defer cancel()
		go func() { // Close cancels the background work
			select {
			case <-bg.Done():
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := c.addEntry(ctx, p, text, raw, kd.k.policy.Near.Max); err != nil {
			kd.k.match.errors.Add(1)
			c.absorb(ctx, kd.k, failIf(err, OpSet, kd.k, p.stream))
		}
	})
}

// addEntry appends an entry to p's stream (text and raw, its unit vector
// as little-endian float32), trims the stream to max entries (about) and
// to those still alive, and keeps the stream for an entry's life.
func (c *RedisCache) addEntry(ctx context.Context, p *partition, text string, raw []byte, max int) error {
	client, err := c.door(ctx)
	if err != nil {
		return err
	}
	b := client.B()
	oldest := strconv.FormatInt(time.Now().Add(-p.life).UnixMilli(), 10)
	res, err := c.exchangeMulti(ctx, client, rueidis.Commands{
		b.Xadd().Key(p.stream).Maxlen().Almost().Threshold(strconv.Itoa(max)).Id("*").
			FieldValue().FieldValue("t", text).FieldValue("v", rueidis.BinaryString(raw)).Build(),
		b.Xtrim().Key(p.stream).Minid().Almost().Threshold(oldest).Build(),
		b.Pexpire().Key(p.stream).Milliseconds(max64(p.life.Milliseconds(), 1)).Build(),
	})
	if err != nil {
		return err
	}
	for _, r := range res {
		if err := r.Error(); err != nil {
			return c.classify(err)
		}
	}
	return nil
}

func max64(a, b int64) int64 { return max(a, b) }

// readStream reads the entries of stream after the ID after ("" for all),
// at most syncPage of them; with tracked, the server reports the stream's
// next change.
func (c *RedisCache) readStream(ctx context.Context, stream, after string, tracked bool) ([]rueidis.XRangeEntry, error) {
	client, err := c.door(ctx)
	if err != nil {
		return nil, err
	}
	start := "-"
	if after != "" {
		start = "(" + after
	}
	cmd := client.B().Xrange().Key(stream).Start(start).End("+").Count(syncPage).Build()
	res, _, err := c.exchangeTracked(ctx, client, tracked, 0, cmd)
	if err != nil {
		return nil, err
	}
	entries, err := res[0].AsXRange()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, nil
		}
		return nil, c.classify(err)
	}
	return entries, nil
}

// matchFigures are a kind's near-match figures.
type matchFigures struct {
	searches, served, none, refusedSearches, gone, agreed, disagreed, indexed, corrupt, invalid, errors atomic.Uint64
	byGuard                                                                                             sync.Map // guard name → *atomic.Uint64

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
	// could not be read as the kind's values): they leave the index.
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
	// bytes (vectors, texts, keys, signatures, bookkeeping), and the
	// entries evicted to stay within NearMatch.MaxEntries.
	Partitions int    `json:"partitions"`
	Entries    int    `json:"entries"`
	Bytes      int64  `json:"bytes"`
	Evicted    uint64 `json:"evicted"`
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
		Mode: NearMatchMode(mode).String(), Searches: f.searches.Load(), Served: f.served.Load(), Agreed: f.agreed.Load(),
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
	}
	s.RecentRefusals = append([]NearMatchPair(nil), f.refusals...)
	s.RecentDisagreements = append([]NearMatchPair(nil), f.disagreements...)
	return s
}

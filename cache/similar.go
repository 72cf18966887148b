package cache

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/media-gateway/discovery/cache/internal/canon"
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

// candidatesTried bounds the neighbours a search checks, the closest
// first.
const candidatesTried = 4

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
			f.other.Add(1)
			return zero, c, false
		}
	}
	switch {
	case refused:
		f.refusedSearches.Add(1)
	case len(cands) == 0 || len(cands) == 1 && cands[0].Key == key:
		f.none.Add(1)
	default: // every neighbour's value was gone
		f.other.Add(1)
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

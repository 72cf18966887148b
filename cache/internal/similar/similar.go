// Package similar is the near match's index in process memory: the texts
// cached in one partition (a kind, a parser version, an embedding model,
// a dimension), each with its vector, its guards' signature, the Redis key
// of its value and when it expires, searched by a flat scan of cosine
// similarities.
//
// A flat scan reads every vector on every search: 10,000 vectors of 384
// dimensions take about a millisecond and a half on one core (see
// BenchmarkSearch), less than the load a near match saves, and exact (an
// approximate index such as HNSW may miss the best neighbour, and costs
// memory and time to keep up to date as entries come and go). The index is
// bounded by a number of entries: the oldest leaves first.
//
// The index holds no values: a neighbour's value is read under its key,
// from the near cache or Redis, so that a value changed or gone there is
// never served from here.
package similar

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/media-gateway/discovery/cache/internal/canon"
)

// Index is one partition's entries. Its methods are safe for concurrent
// use.
type Index struct {
	dims, max int

	mu    sync.RWMutex
	vecs  []float32 // len(ents)*dims: entry i's unit vector at i*dims
	ents  []entry   // in the order they were added: the oldest first
	byKey map[string]int
	head  int // entries before head are all dead
	dead  int // dead entries in ents
	bytes int64

	evicted, expired atomic.Uint64
}

type entry struct {
	key, text string
	sig       canon.Signature
	exp       int64 // Unix nanoseconds
	dead      bool
	size      int64
}

// Candidate is an entry whose vector is close enough to a search's.
type Candidate struct {
	Key, Text string
	Sig       canon.Signature
	Score     float64 // cosine similarity
}

// entryOverhead is an entry's cost beyond its vector and strings: its
// struct, its map slot. An entry dropped keeps its vector until the next
// compaction, and its vector's bytes stay counted till then.
const entryOverhead = 128

// New returns an empty index of vectors of dims dimensions, holding at
// most max entries.
func New(dims, max int) *Index {
	if max < 1 {
		max = 1
	}
	return &Index{dims: dims, max: max, byKey: make(map[string]int)}
}

// Dims returns the dimension of the index's vectors.
func (x *Index) Dims() int { return x.dims }

// ErrVector is the error of a vector that cannot be searched.
var ErrVector = errors.New("vector")

// Unit returns vec scaled to unit length, in a new slice, or an error
// wrapping ErrVector when it is empty, holds a NaN or an infinity, or is
// all zeros.
func Unit(vec []float32) ([]float32, error) {
	if len(vec) == 0 {
		return nil, errorf("the vector is empty")
	}
	var sum float64
	for i, f := range vec {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, errorf("component %d of the vector is %v", i, f)
		}
		sum += float64(f) * float64(f)
	}
	if sum == 0 {
		return nil, errorf("the vector is all zeros: it has no direction")
	}
	norm := 1 / math.Sqrt(sum)
	out := make([]float32, len(vec))
	for i, f := range vec {
		out[i] = float32(float64(f) * norm)
	}
	return out, nil
}

func errorf(msg string, args ...any) error {
	return &vecError{msg: msg, args: args}
}

type vecError struct {
	msg  string
	args []any
}

func (e *vecError) Error() string { return fmt.Sprintf(e.msg, e.args...) }
func (e *vecError) Unwrap() error { return ErrVector }

// Add adds an entry: the text cached under key, its signature, its unit
// vector (of the index's dimension; Add keeps it) and when it expires. An
// entry of a key already held is replaced when it expires before exp (the
// text was cached again: it moves to the newest end), else kept; Add
// reports whether it added. When the index is full, the oldest entry
// leaves.
func (x *Index) Add(key, text string, sig canon.Signature, unit []float32, exp int64) bool {
	if len(unit) != x.dims {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if i, ok := x.byKey[key]; ok {
		if x.ents[i].exp >= exp {
			return false
		}
		x.drop(i)
	}
	for len(x.byKey) >= x.max { // head is the oldest live entry (see drop)
		x.drop(x.head)
		x.evicted.Add(1)
	}
	e := entry{key: key, text: text, sig: sig, exp: exp}
	e.size = int64(len(key)+len(text)+sig.Size()) + entryOverhead
	x.byKey[key] = len(x.ents)
	x.ents = append(x.ents, e)
	x.vecs = append(x.vecs, unit...)
	x.bytes += e.size + int64(4*x.dims)
	x.compact()
	return true
}

// Expiry returns when the entry of key expires, if the index holds one.
func (x *Index) Expiry(key string) (int64, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if i, ok := x.byKey[key]; ok {
		return x.ents[i].exp, true
	}
	return 0, false
}

// Remove drops the entry of key, if the index holds one.
func (x *Index) Remove(key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if i, ok := x.byKey[key]; ok {
		x.drop(i)
		x.compact()
	}
}

// Expire drops the entries expired at now (Unix nanoseconds).
func (x *Index) Expire(now int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := x.head; i < len(x.ents); i++ {
		if e := &x.ents[i]; !e.dead && e.exp <= now {
			x.drop(i)
			x.expired.Add(1)
		}
	}
	x.compact()
}

// drop marks entry i dead; x.mu must be held.
func (x *Index) drop(i int) {
	e := &x.ents[i]
	if e.dead {
		return
	}
	e.dead = true
	delete(x.byKey, e.key)
	x.dead++
	x.bytes -= e.size // its vector's stay counted until compact frees them
	e.key, e.text, e.sig = "", "", canon.Signature{}
	for x.head < len(x.ents) && x.ents[x.head].dead {
		x.head++
	}
}

// compact rewrites the entries without the dead ones once they are half
// of them: each entry is moved at most once for each entry dropped, on
// average. x.mu must be held.
func (x *Index) compact() {
	if x.dead < 64 || x.dead < len(x.ents)/2 {
		return
	}
	ents := make([]entry, 0, len(x.ents)-x.dead)
	vecs := make([]float32, 0, (len(x.ents)-x.dead)*x.dims)
	for i := range x.ents {
		if e := x.ents[i]; !e.dead {
			x.byKey[e.key] = len(ents)
			ents = append(ents, e)
			vecs = append(vecs, x.vecs[i*x.dims:(i+1)*x.dims]...)
		}
	}
	x.bytes -= int64(4 * x.dims * x.dead)
	x.ents, x.vecs, x.head, x.dead = ents, vecs, 0, 0
}

// Search returns the entries, at most k, whose vectors have a cosine
// similarity of at least min with unit (a unit vector of the index's
// dimension), the closest first; entries expired at now are skipped.
func (x *Index) Search(unit []float32, min float64, k int, now int64) []Candidate {
	if len(unit) != x.dims || k <= 0 {
		return nil
	}
	type hit struct {
		i     int
		score float32
	}
	best := make([]hit, 0, k)
	x.mu.RLock()
	defer x.mu.RUnlock()
	floor := float32(min)
	for i := x.head; i < len(x.ents); i++ {
		e := &x.ents[i]
		if e.dead || e.exp <= now {
			continue
		}
		s := dot(unit, x.vecs[i*x.dims:(i+1)*x.dims:(i+1)*x.dims])
		if s < floor {
			continue
		}
		if len(best) == k {
			if s <= best[k-1].score {
				continue
			}
			best = best[:k-1]
		}
		j := len(best)
		best = append(best, hit{})
		for j > 0 && best[j-1].score < s {
			best[j] = best[j-1]
			j--
		}
		best[j] = hit{i, s}
	}
	out := make([]Candidate, len(best))
	for j, h := range best {
		e := &x.ents[h.i]
		out[j] = Candidate{Key: e.key, Text: e.text, Sig: e.sig, Score: math.Min(float64(h.score), 1)}
	}
	return out
}

// dot returns the dot product of a and b, of one length, in four lanes.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Figures are an index's size and what left it.
type Figures struct {
	Entries int
	Bytes   int64
	Evicted uint64 // entries dropped to stay within the index's bound
	Expired uint64 // entries dropped when their value's time was up
}

// Figures returns the index's figures now.
func (x *Index) Figures() Figures {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return Figures{Entries: len(x.byKey), Bytes: x.bytes, Evicted: x.evicted.Load(), Expired: x.expired.Load()}
}

// Has reports whether the index holds an entry of key.
func (x *Index) Has(key string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.byKey[key]
	return ok
}

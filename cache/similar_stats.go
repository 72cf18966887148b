package cache

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/media-gateway/discovery/cache/internal/canon"
)

// matchFigures are a kind's near-match figures.
type matchFigures struct {
	searches, served, none, refusedSearches, other, gone, agreed, disagreed, indexed, corrupt, invalid, errors atomic.Uint64
	byGuard                                                                                                    sync.Map                               // guard name → *atomic.Uint64
	byKey                                                                                                      atomic.Pointer[map[partKey]*partition] // copied on write: read on every call, without a lock

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
	// enough was refused by a guard), or Other (the neighbours' values were
	// gone, or Redis failed). A search still running is in Searches only:
	// each of the others only grows, as counters must.
	Searches    uint64 `json:"searches"`
	Served      uint64 `json:"served"`
	Agreed      uint64 `json:"agreed"`
	Disagreed   uint64 `json:"disagreed"`
	NoNeighbour uint64 `json:"no_neighbour"`
	Refused     uint64 `json:"refused"`
	Other       uint64 `json:"other"`
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
		Disagreed: f.disagreed.Load(), NoNeighbour: f.none.Load(), Refused: f.refusedSearches.Load(), Other: f.other.Load(), Gone: f.gone.Load(),
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

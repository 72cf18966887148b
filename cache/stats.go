package cache

import (
	"sort"
	"sync/atomic"
)

// counters are the live figures of one kind.
type counters struct {
	hits, misses, sets, deletes, errors, loads, loadErrors atomic.Uint64
}

// Counters are the figures of one kind since the cache was created, as
// counted by this process.
type Counters struct {
	Hits       uint64 // reads that found a decodable value
	Misses     uint64 // reads that found nothing, or bytes that could not be decoded
	Sets       uint64 // values stored
	Deletes    uint64 // keys removed by Delete, DeletePattern and Clear
	Errors     uint64 // failed operations of any sort, Fetch's absorbed ones included
	Loads      uint64 // loader calls made by Fetch
	LoadErrors uint64 // loader calls that returned an error or panicked
}

// HitRate returns Hits / (Hits + Misses), or 0 before the first read.
func (c Counters) HitRate() float64 {
	if reads := c.Hits + c.Misses; reads > 0 {
		return float64(c.Hits) / float64(reads)
	}
	return 0
}

func (c *Counters) add(o Counters) {
	c.Hits += o.Hits
	c.Misses += o.Misses
	c.Sets += o.Sets
	c.Deletes += o.Deletes
	c.Errors += o.Errors
	c.Loads += o.Loads
	c.LoadErrors += o.LoadErrors
}

func (c *counters) snapshot() Counters {
	return Counters{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Sets: c.sets.Load(), Deletes: c.deletes.Load(),
		Errors: c.errors.Load(), Loads: c.loads.Load(), LoadErrors: c.loadErrors.Load(),
	}
}

// Stats are the client-side figures of a cache, by kind.
type Stats struct {
	// Kinds maps a kind's name (KindSearch, KindIntent, KindEmbedding,
	// KindCustom, or a custom collection's name) to its figures.
	Kinds map[string]Counters
	// Errors counts failures that belong to no kind (ClearAll, pings,
	// server stats).
	Errors uint64
}

// Total returns the sum of the figures of every kind.
func (s Stats) Total() Counters {
	var t Counters
	for _, c := range s.Kinds {
		t.add(c)
	}
	return t
}

// Names returns the kinds' names in sorted order.
func (s Stats) Names() []string {
	names := make([]string, 0, len(s.Kinds))
	for n := range s.Kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Stats returns the figures counted by this process. It does not touch the
// network; see [RedisCache.ServerStats] for the server's side.
func (c *RedisCache) Stats() Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := Stats{Kinds: make(map[string]Counters, len(c.kinds)), Errors: c.errs.Load()}
	for name, k := range c.kinds {
		s.Kinds[name] = k.st.snapshot()
	}
	return s
}

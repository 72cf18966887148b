// Package counter has a counter for hot paths that goroutines on several
// cores add to at once: the metrics adapters count near-cache hits on it.
package counter

import (
	"math/rand/v2"
	"sync/atomic"
)

// Sharded is a counter spread over cache lines: Add picks one at random, so
// that goroutines on other cores rarely contend for the same line, and Sum
// adds them up. The zero value is ready; it must not be copied once used.
type Sharded [8]struct {
	n atomic.Int64
	_ [56]byte
}

// Add adds v.
func (s *Sharded) Add(v int64) { s[rand.Uint32()%uint32(len(s))].n.Add(v) }

// Sum returns the total added so far.
func (s *Sharded) Sum() (total int64) {
	for i := range s {
		total += s[i].n.Load()
	}
	return total
}

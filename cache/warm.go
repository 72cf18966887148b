package cache

import (
	"context"
	"errors"
	"sync"
	"time"
)

// WarmOptions configures [Kind.Warm]. The zero value is ready to use.
type WarmOptions struct {
	// Concurrency is how many loads run at once. If zero or less, 8.
	Concurrency int
	// Force loads every input, cached or not (to replace values after a
	// change of the loader). If false, inputs whose values are cached are
	// only read, which keeps them in the near cache.
	Force bool
	// Progress, if not nil, is called after each load, after each batch
	// of up to 512 inputs found cached, and after the read back, with the
	// figures so far: for a progress bar or a log line. Calls come one at a
	// time; Progress must not call Warm.
	Progress func(WarmSummary)
}

// WarmSummary is what [Kind.Warm] did.
type WarmSummary struct {
	Inputs int `json:"inputs"` // inputs given (each distinct key once)
	Done   int `json:"done"`   // inputs done so far: Cached + Loaded + Failed
	Cached int `json:"cached"` // already cached: read, not loaded
	Loaded int `json:"loaded"` // loaded and stored
	Failed int `json:"failed"` // whose load failed, or whose value could not be stored
	// FirstError is the first failure, for a message; nil if none
	// (first_error in JSON, its message, absent if none).
	FirstError error         `json:"-"`
	Took       time.Duration `json:"-"` // from the start of Warm (took_seconds in JSON)
}

// Warm preloads the values of ins: the cached ones are read (a round trip
// per 512 inputs, which keeps them in the near cache), the others loaded
// with load, Concurrency at a time, stored — as Fetch does, so the lease
// makes one process of a fleet load each key while the others wait for it
// (those count as loaded too) — and read back in batches, to check they
// were stored and to keep them in the near cache. Reads by Warm extend no
// adaptive TTL (Policy.Adaptive). Warming the cache when a service starts spares its first users
// the misses. Inputs that map to one key are warmed once.
//
// Failures of single inputs (their load, their store) are counted in the
// summary, not returned; Warm returns an error only when ctx ends (with
// the summary so far), when the cache is closed while it works
// ([ErrClosed], with the summary so far: no load starts after Close), or
// when an input cannot be hashed ([ErrKeyGeneration], before any work).
// A loader that panics fails its input with [ErrLoaderPanic]. With Redis unavailable, every
// input is loaded and counted as failed, as none can be stored.
func (kd *Kind[K, V]) Warm(ctx context.Context, ins []K, load func(context.Context, K) (V, error), opt WarmOptions) (_ WarmSummary, err error) {
	start := time.Now()
	ctx, end := kd.c.begin(ctx, OpWarm, kd.k)
	defer func() { end(err) }()
	var uniq []K
	seen := make(map[string]bool, len(ins))
	for _, in := range ins {
		key, err := kd.key(in)
		if err != nil {
			return WarmSummary{}, err
		}
		if !seen[key] {
			seen[key] = true
			uniq = append(uniq, in)
		}
	}
	w := &warming{sum: WarmSummary{Inputs: len(uniq)}, start: start, progress: opt.Progress}
	todo := uniq
	if !opt.Force {
		todo = nil
		for lo := 0; lo < len(uniq); lo += mgetChunk {
			chunk := uniq[lo:min(lo+mgetChunk, len(uniq))]
			_, missing, err := kd.readBatch(ctx, chunk, false)
			if err := ctx.Err(); err != nil {
				return w.summary(), err
			}
			if err != nil { // Redis failing: load them all; their stores tell
				missing = missing[:0]
				for i := range chunk {
					missing = append(missing, i)
				}
			}
			w.add(len(chunk)-len(missing), 0, nil)
			for _, i := range missing {
				todo = append(todo, chunk[i])
			}
		}
	}
	n := opt.Concurrency
	if n <= 0 {
		n = 8
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var stored []K // guarded by mu
	for _, in := range todo {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return w.summary(), ctx.Err()
		}
		if kd.c.closed.Load() { // checked once a slot is free: a load may have closed the cache meanwhile
			wg.Wait()
			return w.summary(), &Error{Op: OpWarm, Kind: kd.k.name, Class: ErrClosed}
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := kd.warmOne(ctx, in, load, opt.Force)
			if err == nil {
				mu.Lock()
				stored = append(stored, in)
				mu.Unlock()
			}
			w.add(0, 1, err)
		})
	}
	wg.Wait()
	// Read back what was loaded, in batches: Fetch stores without saying
	// whether it could, and the reads keep the values in the near cache.
	// These reads extend no adaptive TTL: warming is not use.
	for lo := 0; lo < len(stored) && ctx.Err() == nil; lo += mgetChunk {
		chunk := stored[lo:min(lo+mgetChunk, len(stored))]
		_, missing, err := kd.readBatch(ctx, chunk, false)
		if ctx.Err() != nil {
			break // not known: counted as loaded
		}
		if err != nil {
			w.unstored(len(chunk), err)
			continue
		}
		if len(missing) > 0 {
			w.unstored(len(missing), &Error{Op: OpSet, Kind: kd.k.name, Class: ErrUnavailable, Cause: errNotStored})
		}
	}
	if kd.c.near.Load() != nil {
		// Once more for the near cache: a read that crossed the server's
		// report of this process's own write was not kept; by now the
		// reports have come, and what was kept costs no round trip.
		for lo := 0; lo < len(stored) && ctx.Err() == nil; lo += mgetChunk {
			kd.readBatch(ctx, stored[lo:min(lo+mgetChunk, len(stored))], false) //nolint:errcheck // only to fill the near cache
		}
	}
	return w.summary(), ctx.Err()
}

// warmOne loads and stores in: through Fetch (one load per key across
// processes; Warm reads the values back), or with force, with a Set
// whatever is cached. Its error is the load's, or the Set's.
func (kd *Kind[K, V]) warmOne(ctx context.Context, in K, load func(context.Context, K) (V, error), force bool) error {
	if force { // through runLoader too: its panic is recovered, and the load counted
		v, err := runLoader(ctx, kd.c, kd.k, 1, func(ctx context.Context) (V, error) { return load(ctx, in) })
		if err != nil {
			return err
		}
		return kd.Set(ctx, in, v)
	}
	_, err := kd.Fetch(ctx, in, func(ctx context.Context) (V, error) { return load(ctx, in) })
	return err
}

// errNotStored is the cause of a warmed value that is not in Redis after
// its load.
var errNotStored = errors.New("the value was loaded but is not in Redis: it could not be stored")

// warming is the shared state of one Warm.
type warming struct {
	mu       sync.Mutex // guards sum, and orders calls of progress
	sum      WarmSummary
	start    time.Time
	progress func(WarmSummary)
}

// add counts cached inputs, or one loaded input that failed with err, and
// reports progress.
func (w *warming) add(cached, loaded int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sum.Cached += cached
	switch {
	case err != nil:
		w.sum.Failed += loaded
		if w.sum.FirstError == nil {
			w.sum.FirstError = err
		}
	default:
		w.sum.Loaded += loaded
	}
	w.sum.Done = w.sum.Cached + w.sum.Loaded + w.sum.Failed
	w.sum.Took = time.Since(w.start)
	if w.progress != nil && cached+loaded > 0 {
		w.progress(w.sum)
	}
}

// unstored moves n inputs counted as loaded to the failed, with err: their
// values were not found stored when read back.
func (w *warming) unstored(n int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sum.Loaded -= n
	w.sum.Failed += n
	if w.sum.FirstError == nil {
		w.sum.FirstError = err
	}
	w.sum.Took = time.Since(w.start)
	if w.progress != nil {
		w.progress(w.sum)
	}
}

func (w *warming) summary() WarmSummary {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.sum
	s.Took = time.Since(w.start)
	return s
}

package cache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// LoaderFunc computes a value on a cache miss: runs the search, parses the
// intent, computes the embedding.
//
// What Fetch does when things fail:
//   - Redis unavailable, slow, or answering with errors: the loader's value is
//     returned all the same; the error is counted in [Stats] and logged at
//     warn level, never returned. The cost of an outage is latency (at most
//     Config.OperationTimeout per Redis call), not availability.
//   - Bytes under the key cannot be decoded: counted as a miss and an error,
//     the loader runs and its value replaces the bad bytes.
//   - The loader returns an error: Fetch returns it unchanged and caches
//     nothing.
//   - The loader panics: the panic is recovered, and every caller waiting on
//     it gets an error wrapping [ErrLoaderPanic].
//   - The caller's context ends: Fetch returns ctx.Err() at once (a caller
//     whose context has already ended starts no load). This is not counted
//     as a cache error.
//
// So the errors Fetch returns are the loader's, [ErrLoaderPanic], the
// caller's context error, and [ErrInvalidArgument] for a misuse (an empty
// key or a ttl that is not positive in the key-level [Fetch]).
//
// Concurrent Fetches of one key in one process share a single loader call.
// It runs with the context of the caller that started it, without that
// caller's cancellation, so that one caller giving up does not fail the
// others; each caller stops waiting when its own context ends. A loader
// should therefore bound its own work. Callers that shared a call receive the
// same value: treat slices and maps returned by Fetch as read-only.
type LoaderFunc[V any] func(ctx context.Context) (V, error)

// testHookFetchMissed, when set by a test, runs between a Fetch's miss and
// its flight.
var testHookFetchMissed func(key string)

// fetch is the cache-aside path shared by every kind.
func (s store[V]) fetch(ctx context.Context, key string, ttl time.Duration, load LoaderFunc[V]) (V, error) {
	v, ok, err := s.get(ctx, key)
	if ok {
		return v, nil
	}
	if err := ctx.Err(); err != nil { // the caller is gone: start no load for it
		return v, err
	}
	// When Redis failed, do not ask it again inside the flight: a second
	// and third round trip (re-check, store) would only add timeouts.
	redisOK := err == nil || errors.Is(err, ErrSerialization)
	if testHookFetchMissed != nil {
		testHookFetchMissed(key)
	}
	ch := s.c.flight.DoChan(key, func() (any, error) {
		ctx := context.WithoutCancel(ctx) // see LoaderFunc
		// Re-check inside the flight. Without it, this interleaving calls the
		// loader twice for one key:
		//   G1: get → miss
		//   G2: get → miss; flight starts; load; set; flight ends
		//   G1: flight starts (G2's is over); load again
		// With it, G1 finds G2's value. Not counted: get counted this miss.
		if redisOK {
			if v, ok, err := s.lookup(ctx, key); ok {
				return v, nil
			} else if err != nil && !errors.Is(err, ErrSerialization) {
				redisOK = false
			}
		}
		v, err := s.load(ctx, load)
		if err != nil {
			return v, err
		}
		if redisOK {
			// A failed store is counted and logged by set; the caller still
			// gets its value.
			_ = s.set(ctx, key, v, ttl)
		}
		return v, nil
	})
	select {
	case r := <-ch:
		v, ok := r.Val.(V)
		if !ok && r.Err == nil {
			// The flight was started by a caller reading the same key as
			// another type: do not hand out its value; load for this caller.
			return s.load(ctx, load)
		}
		return v, r.Err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// load calls the loader, counting the call, and turns a panic into an error.
func (s store[V]) load(ctx context.Context, load LoaderFunc[V]) (v V, err error) {
	s.k.st.loads.Add(1)
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Op: "load", Kind: s.k.name, Class: ErrLoaderPanic, Cause: fmt.Errorf("%v", r)}
		}
		if err != nil {
			s.k.st.loadErrors.Add(1)
		}
	}()
	return load(ctx)
}

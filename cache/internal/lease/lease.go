// Package lease holds the parts of the fleet lease (see cache.Policy.Lease)
// that need no Redis: the lease's bytes (a mark no value starts with, and
// a token of the flight that took it), the waits on keys that the
// server's invalidations wake, and the one loop that waits on another
// process's lease, polling with a backoff that doubles, woken early when
// the key changes.
package lease

import (
	"encoding/hex"
	"math/rand/v2"
	"sync"
	"time"
)

// Mark starts every lease: 0xDD is not the envelope's magic (0xDC), nor
// the first byte of any JSON value, so no value is taken for a lease, nor
// a lease for a value.
const Mark = "\xddlease:"

// Is reports whether raw, bytes read under a key, is a lease.
func Is(raw []byte) bool {
	return len(raw) >= len(Mark) && string(raw[:len(Mark)]) == Mark
}

// New returns a lease of a flight's own: the mark and a random token.
func New() []byte {
	var tok [8]byte
	for i := range tok {
		tok[i] = byte(rand.Uint32())
	}
	return hex.AppendEncode([]byte(Mark), tok[:])
}

// Waiters are the waits on keys held by another process's lease: the
// server's report of a change of the key wakes them. The zero value is
// ready to use.
type Waiters struct {
	mu sync.Mutex // guards m
	m  map[string]chan struct{}
}

// Add registers a wait on key and returns the channel closed when key
// changes. Waits on one key share one channel.
func (w *Waiters) Add(key string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[string]chan struct{})
	}
	ch := w.m[key]
	if ch == nil {
		ch = make(chan struct{})
		w.m[key] = ch
	}
	return ch
}

// Drop ends a wait registered by Add (a nil ch: none), unless it was
// woken.
func (w *Waiters) Drop(key string, ch <-chan struct{}) {
	if ch == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if cur, ok := w.m[key]; ok && (<-chan struct{})(cur) == ch {
		delete(w.m, key)
	}
}

// Wake wakes the waits on key.
func (w *Waiters) Wake(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.m[key]; ok {
		close(ch)
		delete(w.m, key)
	}
}

// Step is what one try of a wait found.
type Step uint8

// The steps.
const (
	Done  Step = iota + 1 // the try has its answer: the wait ends
	Again                 // try again at once (the key holds nothing: a lease just released or expired)
	Wait                  // another's lease: try again once the key changes, or after the next poll
)

// Bounds of the polls of a lease held by another process, when no
// change of the key wakes the waiter.
const (
	PollMin = 2 * time.Millisecond
	PollMax = 100 * time.Millisecond
)

// Poll is the one loop that waits on a key held by another process's
// lease. It calls try until it returns Done, and then reports true. After
// a try that returns Wait, it waits for the key to change (when Waiters
// is not nil: the wait is registered before each try, whose read may be
// followed by the change at once) or for the poll interval, which doubles
// from PollMin to PollMax, but never past deadline; after one that
// returns Again, it tries again at once. It reports false once a try has
// ended at or after deadline (a zero deadline: none) or when stop is
// closed (a nil stop never is).
func Poll(key string, w *Waiters, deadline time.Time, stop <-chan struct{}, try func() Step) bool {
	poll := PollMin
	for {
		select {
		case <-stop:
			return false
		default:
		}
		var woken <-chan struct{}
		if w != nil {
			woken = w.Add(key)
		}
		step := try()
		if step == Done {
			w.drop(key, woken)
			return true
		}
		d := poll
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				w.drop(key, woken)
				return false
			}
			d = min(d, left)
		}
		if step == Wait {
			stopped := wait(d, woken, stop)
			poll = min(2*poll, PollMax)
			if stopped {
				w.drop(key, woken)
				return false
			}
		}
		w.drop(key, woken)
	}
}

// drop is Drop on a Waiters that may be nil.
func (w *Waiters) drop(key string, ch <-chan struct{}) {
	if w != nil {
		w.Drop(key, ch)
	}
}

// wait waits for d, for woken to close, or for stop to close, and reports
// whether stop did.
func wait(d time.Duration, woken, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-woken:
	case <-stop:
		return true
	}
	return false
}

package cache

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/media-gateway/discovery/cache/internal/breaker"
	"github.com/media-gateway/discovery/cache/internal/near"
)

// The circuit breaker stands in the door to Redis (see door and settle):
// every call that gets no answer in time counts as a failure, every answer
// as a success, and Config.BreakerThreshold failures in a row open it.
// While it is open, calls fail at once with ErrCircuitOpen, Fetch answers
// from its loader, and nothing is dialled; one goroutine probes Redis after
// a backoff (Config.BreakerBackoff, doubling to Config.BreakerMaxBackoff)
// and closes the breaker when a probe succeeds. A cache that could not
// connect in New starts with the breaker open, and its probes connect.

// BreakerState is the state of the circuit breaker.
type BreakerState uint8

// The states of the circuit breaker.
const (
	// BreakerClosed: calls go to Redis.
	BreakerClosed BreakerState = iota + 1
	// BreakerOpen: calls fail at once with ErrCircuitOpen; a probe is due
	// after the backoff.
	BreakerOpen
	// BreakerHalfOpen: a probe is running; calls still fail at once.
	BreakerHalfOpen
)

// String returns the state's label ("closed", "open", "half_open"), or
// "unknown".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half_open"
	}
	return "unknown"
}

func stateOf(s breaker.State) BreakerState { return BreakerState(s) + 1 }

// BreakerStatus describes the circuit breaker at one instant.
type BreakerStatus struct {
	State     BreakerState  `json:"state"`               // "closed", "open" or "half_open" in JSON
	Since     time.Time     `json:"since,omitzero"`      // when it entered State
	Failures  int64         `json:"failures"`            // consecutive failures counted while closed
	Opens     uint64        `json:"opens"`               // how many times it opened since New
	Backoff   time.Duration `json:"-"`                   // the wait before the next probe, or before the first one if it opens (backoff_seconds in JSON)
	NextProbe time.Time     `json:"next_probe,omitzero"` // when the next probe may start; zero unless open
	// LastError is the last failure to get an answer from Redis, and
	// LastErrorAt when it happened; empty if there was none.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// failure is a failure to get an answer from Redis.
type failure struct {
	err error
	at  time.Time
}

// failed counts a failure to get an answer (see settle).
func (c *RedisCache) failed(start time.Time, err error) {
	c.redis.lastFail.Store(&failure{err: err, at: time.Now()})
	c.redis.brk.Failure(start)
}

// breakerStatus returns the breaker's status now.
func (c *RedisCache) breakerStatus() BreakerStatus {
	st := c.redis.brk.Status()
	s := BreakerStatus{State: stateOf(st.State), Since: st.Since, Failures: st.Failures, Opens: st.Opens,
		Backoff: st.Backoff, NextProbe: st.Due}
	if f := c.redis.lastFail.Load(); f != nil {
		s.LastError, s.LastErrorAt = f.err.Error(), f.at
	}
	return s
}

// breakerChanged is the breaker's OnChange: one log line and one Event per
// change of state, and a probe loop once it opens. It runs once the
// breaker's lock is released (a Recorder may read Stats), and changes
// nothing of the breaker.
func (c *RedisCache) breakerChanged(from, to breaker.State) {
	e := Event{Op: OpBreaker, Outcome: OutcomeOK, Breaker: stateOf(to)}
	level, msg := slog.LevelInfo, "cache: circuit breaker closed; calls go to Redis again"
	attrs := []slog.Attr{slog.String("from", stateOf(from).String()), slog.String("to", stateOf(to).String())}
	switch to {
	case breaker.Open:
		level, msg = slog.LevelWarn, "cache: circuit breaker open; calls skip Redis (Fetch answers from loaders) until a probe succeeds"
		if from == breaker.HalfOpen {
			level, msg = slog.LevelDebug, "cache: circuit breaker probe failed; open again"
		}
		if f := c.redis.lastFail.Load(); f != nil {
			e.Class = classOf(f.err)
			attrs = append(attrs, slog.String("error", f.err.Error()))
		}
		if n := c.near.Load(); n != nil && from == breaker.Closed {
			c.distrustNear(n)
		}
		c.startProbing()
	case breaker.HalfOpen:
		level, msg = slog.LevelDebug, "cache: circuit breaker probing Redis"
	}
	c.report.log.LogAttrs(context.Background(), level, msg, attrs...)
	if c.report.rec != nil {
		c.report.rec.Record(e)
	}
}

// distrustNear empties the near cache n unless the breaker, just opened,
// closes again within the time of its first probe (nearGrace). A server
// that does not answer cannot send invalidations either, so what n holds
// may have changed since; but calls also go unanswered in time when this
// process is starved of CPU (a stall, a throttled container, a long GC
// pause) while Redis and the connection are well, and emptying n then
// would turn a stall into failed Gets for the whole backoff. Until the
// grace is over, n answers what it holds; a probe that closes the breaker
// within it shows that the server answers. A connection that dropped has
// emptied n already (rueidis' nil invalidation); on those that did not,
// the invalidations sent meanwhile come late, in order, as they would
// with no breaker at all.
func (c *RedisCache) distrustNear(n *near.Cache) {
	opened := c.redis.brk.Status()
	grace := nearGrace(opened, c.cfg.BreakerBackoff, c.cfg.OperationTimeout)
	go func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-c.redis.life.Done(): // closed: Close empties n
			return
		case <-t.C:
		}
		if st := c.redis.brk.Status(); st.State != breaker.Closed || st.Opens != opened.Opens {
			n.Flush() // still open, or opened again since: no probe has vouched for n
		}
	}()
}

// nearGrace is how long the near cache keeps answering once the breaker
// has opened (its status then is opened): the time of its first probe,
// its backoff, jittered (never more than backoff, Config.BreakerBackoff,
// and a fifth: a breaker that opens again before any call succeeded
// doubles its wait, which the near cache does not), and twice timeout
// (Config.OperationTimeout) for the probe's PING and the verdict.
func nearGrace(opened breaker.Status, backoff, timeout time.Duration) time.Duration {
	return min(max(time.Until(opened.Due), 0), backoff+backoff/5) + 2*timeout
}

// startProbing starts the probe loop unless it runs.
func (c *RedisCache) startProbing() {
	if c.redis.probing.CompareAndSwap(false, true) {
		go c.probeLoop()
	}
}

// probeLoop probes Redis each time the breaker's backoff has passed, until
// a probe closes it or the cache is closed.
func (c *RedisCache) probeLoop() {
	for {
		for c.redis.brk.State() != breaker.Closed {
			t := time.NewTimer(c.redis.brk.Due())
			select {
			case <-c.redis.life.Done():
				t.Stop()
				return // probing stays set: no loop starts after Close
			case <-t.C:
			}
			if c.redis.brk.Probe() {
				c.redis.brk.Probed(c.probe() == nil)
			}
		}
		// The breaker may open again between the check above and this
		// store, with its own start refused: look again.
		c.redis.probing.Store(false)
		if c.redis.brk.State() == breaker.Closed || !c.redis.probing.CompareAndSwap(false, true) {
			return
		}
	}
}

// probe checks that Redis answers: it connects when the cache never did,
// and sends a PING otherwise. Neither is counted by the breaker. A PING
// that fails at once is sent again, up to three times: the client replaces
// a broken connection only after a call has failed on it.
func (c *RedisCache) probe() error {
	if c.redis.client.Load() == nil {
		err := c.connect(c.redis.life)
		if err != nil {
			err, _ = notRedis(err, c.cfg.client.InitAddress) // the hint of an address that closes silently, kept in Health
			c.redis.lastFail.Store(&failure{err: err, at: time.Now()})
		} else {
			c.report.log.LogAttrs(c.redis.life, slog.LevelInfo, "cache connected", slog.String("url", c.cfg.redactedURL))
		}
		return err
	}
	var err error
	for range 3 {
		if err = c.ping(c.redis.life); err == nil || errors.Is(err, context.DeadlineExceeded) {
			break
		}
	}
	return err
}

package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// This file is the cache's one door to Redis: every command it sends —
// reads, writes, unlinks, scans, INFO, PING — goes through door, which
// refuses calls after Close and while the circuit breaker is open, and then
// through send or sendMulti, which bound the call in time whatever the
// client does inside, translate a nil reply into a miss, classify errors
// and tell the breaker how the server answered.

// errNil is send's answer for a nil reply: a missing key. It never leaves
// the package.
var errNil = errors.New("cache: nil reply")

// link holds the client once the cache is connected.
type link struct{ rueidis.Client }

// probing marks the context of the breaker's probes and of connecting,
// which go through the door while it is closed to every other call.
type probing struct{}

// door returns the client for a call: it fails at once, without touching
// the network, after Close (ErrClosed) and while the circuit breaker is
// open or the cache is not connected yet (ErrUnavailable wrapping
// ErrCircuitOpen).
func (c *RedisCache) door(ctx context.Context) (rueidis.Client, error) {
	if c.closed.Load() {
		return nil, &Error{Class: ErrClosed}
	}
	l := c.redis.client.Load()
	if !c.redis.brk.Allow() && ctx.Value(probing{}) == nil || l == nil {
		cause := ErrCircuitOpen
		if l == nil {
			cause = errNotConnected
		}
		return nil, &Error{Class: ErrUnavailable, Cause: cause}
	}
	return l.Client, nil
}

// errNotConnected is the cause of the calls refused before the first
// connection succeeded.
var errNotConnected = fmt.Errorf("%w: not connected yet; New could not reach Redis and keeps trying in the background (see Health)", ErrCircuitOpen)

// send runs one command on node (the client, or one node of a cluster).
// Its error is errNil for a nil reply, or an *Error with a Class and a
// Cause but no Op, Kind or Key (see fail).
func (c *RedisCache) send(ctx context.Context, node rueidis.Client, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	cl := calls.Get().(*call)
	cl.node, cl.cmd = node, cmd
	var names []string
	if c.report.tracer != nil {
		names = commandNames(cl) // now: the client recycles a command once sent
	}
	err := c.exchange(ctx, cl)
	start := cl.start
	if c.report.tracer != nil {
		c.tripped(ctx, cl, names, err)
	}
	if err != nil {
		return rueidis.RedisMessage{}, c.settle(ctx, start, err)
	}
	msg, err := cl.res.ToMessage()
	cl.release()
	if err != nil && rueidis.IsRedisNil(err) { // before any wrapping: IsRedisNil compares with ==
		c.settle(ctx, start, nil)
		return msg, errNil
	}
	return msg, c.settle(ctx, start, err)
}

// sendMulti runs cmds on node in one round trip (pipelined) and returns
// their replies. Its error is the first failure, classified as by send;
// nil replies are not errors here.
func (c *RedisCache) sendMulti(ctx context.Context, node rueidis.Client, cmds rueidis.Commands) ([]rueidis.RedisMessage, error) {
	results, err := c.exchangeMulti(ctx, node, cmds)
	if err != nil {
		return nil, err
	}
	msgs := make([]rueidis.RedisMessage, len(results))
	for i, r := range results {
		msg, err := r.ToMessage()
		if err != nil && !rueidis.IsRedisNil(err) {
			return msgs[:i], c.classify(err)
		}
		msgs[i] = msg
	}
	return msgs, nil
}

// exchangeMulti runs cmds on node in one round trip and returns the raw
// results; its error is a failure of the exchange itself (no answer in
// time, the caller gone), already classified. The breaker is told how the
// server answered.
func (c *RedisCache) exchangeMulti(ctx context.Context, node rueidis.Client, cmds rueidis.Commands) ([]rueidis.RedisResult, error) {
	cl := calls.Get().(*call)
	cl.node, cl.multi = node, cmds
	var names []string
	if c.report.tracer != nil {
		names = commandNames(cl) // now: the client recycles a command once sent
	}
	err := c.exchange(ctx, cl)
	start := cl.start
	if c.report.tracer != nil {
		c.tripped(ctx, cl, names, err)
	}
	if err != nil {
		return nil, c.settle(ctx, start, err)
	}
	results := cl.ress
	cl.release()
	var failed error // the first failure, if any, for the breaker
	for _, r := range results {
		if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
			failed = err
			break
		}
	}
	c.settle(ctx, start, failed) //nolint:errcheck // the replies carry the errors
	return results, nil
}

// call is one command, or one pipeline, handed to the client on a
// goroutine of its own, so that the caller waits no longer than its bound
// whatever the client does inside: a redial, the close of a broken
// connection (which can wait a second for a PING), a retry. A call whose
// caller stopped waiting is abandoned: it ends when the client gives up
// (within Dialer.Timeout and ConnWriteTimeout, as retries are off), and
// its connection is kept, instead of being dropped by a deadline. The
// breaker still learns from it (see exchange).
type call struct {
	ctx   detached
	c     *RedisCache
	start time.Time
	state atomic.Uint32 // callWaiting, then one of the others (see exchange)
	node  rueidis.Client
	cmd   rueidis.Completed
	multi rueidis.Commands
	res   rueidis.RedisResult
	ress  []rueidis.RedisResult
	done  chan struct{} // receives once, when the client returned to a caller still waiting
}

// The states of a call.
const (
	callWaiting   uint32 = iota // its caller waits for the answer
	callAnswered                // the answer came while its caller waited
	callAbandoned               // its caller left before OperationTimeout: judged on its answer, or at OperationTimeout
	callJudged                  // counted by the breaker, or not to be
)

// calls are reused once their answer has been read; an abandoned call is
// left to the collector.
var calls = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func (cl *call) run() {
	if cl.multi != nil {
		cl.ress = cl.node.DoMulti(&cl.ctx, cl.multi...)
	} else {
		cl.res = cl.node.Do(&cl.ctx, cl.cmd)
	}
	if cl.state.CompareAndSwap(callWaiting, callAnswered) {
		cl.done <- struct{}{}
		return
	}
	if cl.state.CompareAndSwap(callAbandoned, callJudged) { // an answer within OperationTimeout
		cl.c.judge(cl.start, cl.err())
	}
}

// err returns the call's error: the client's, or the first error reply of
// a pipeline (a nil reply is not one).
func (cl *call) err() error {
	if cl.multi == nil {
		if err := cl.res.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
		return nil
	}
	for _, r := range cl.ress {
		if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
	}
	return nil
}

func (cl *call) release() {
	cl.state.Store(callWaiting)
	*cl = call{done: cl.done}
	calls.Put(cl)
}

// exchange starts cl and waits for its answer, the end of ctx, or
// Config.OperationTimeout, whichever comes first; it returns ctx's error,
// or c.redis.timeout, when the answer did not come.
//
// A call whose caller leaves first (its deadline, a cancellation, Fetch's
// read budget) is judged all the same, as if the caller had waited: its
// answer within OperationTimeout tells the breaker Redis answers, and no
// answer by then is a failure. So callers whose deadlines are shorter than
// OperationTimeout open the breaker on a Redis that does not answer, and
// never on one that is only slower than their patience.
func (c *RedisCache) exchange(ctx context.Context, cl *call) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cl.ctx.parent, cl.c, cl.start = ctx, c, time.Now()
	go cl.run()
	t := timers.Get().(*time.Timer)
	t.Reset(c.cfg.OperationTimeout)
	var err error
	select {
	case <-cl.done:
	case <-ctx.Done():
		if !cl.state.CompareAndSwap(callWaiting, callAbandoned) {
			<-cl.done // answered meanwhile: take the answer
			break
		}
		err = ctx.Err()
		time.AfterFunc(c.cfg.OperationTimeout-time.Since(cl.start), func() {
			if cl.state.CompareAndSwap(callAbandoned, callJudged) {
				c.judge(cl.start, c.redis.timeout)
			}
		})
	case <-t.C:
		if !cl.state.CompareAndSwap(callWaiting, callJudged) { // judged by settle, as a failure
			<-cl.done
			break
		}
		err = c.redis.timeout
	}
	t.Stop()
	timers.Put(t)
	return err
}

// timers bound exchanges; a timer is stopped before it goes back (since Go
// 1.23, a stopped timer's channel holds no stale tick).
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// detached is a call's context as the client sees it: the caller's values
// (for a ClientBuilder's tracing hooks), without its deadline or
// cancellation, which exchange enforces instead. A deadline given to
// rueidis would drop the connection when it passes.
type detached struct{ parent context.Context }

func (*detached) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*detached) Done() <-chan struct{}       { return nil }
func (*detached) Err() error                  { return nil }
func (d *detached) Value(key any) any         { return d.parent.Value(key) }

// settle classifies err, an error of the client or of exchange (nil for an
// answer), and tells the breaker (see judge), unless the caller left
// before the answer: then exchange has the call judged when it ends. The
// breaker's own probes are not counted.
func (c *RedisCache) settle(ctx context.Context, start time.Time, err error) error {
	switch {
	case !c.redis.brk.Allow() && ctx.Value(probing{}) != nil:
	case ctx.Err() != nil && err != nil:
	default:
		c.judge(start, err)
	}
	if err == nil {
		return nil
	}
	return c.classify(err)
}

// judge tells the breaker how a call sent at start ended (err nil for an
// answer): an
// answer, even an error reply, is a success; no answer (a timeout, a
// broken connection) or a server that answers it cannot serve (LOADING,
// BUSY, MASTERDOWN, CLUSTERDOWN) is a failure; a call Close ended is
// neither.
func (c *RedisCache) judge(start time.Time, err error) {
	var class Class
	if err != nil {
		class = classOf(err)
	}
	switch {
	case class == ErrClosed || c.closed.Load():
	case class == ErrUnavailable || class == ErrOperation && cannotServe(err):
		c.failed(start, err)
	default:
		c.redis.brk.Success()
	}
}

// cannotServe reports whether err is a reply of a server that is up but
// cannot serve: loading its data, running a long script, without its
// primary, or a cluster that is down.
func cannotServe(err error) bool {
	var re *rueidis.RedisError
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, p := range [...]string{"LOADING", "BUSY ", "MASTERDOWN", "CLUSTERDOWN"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// classify wraps an error of the client in an *Error of its class.
func (c *RedisCache) classify(err error) error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Class: classOf(err), Cause: err}
}

// classOf returns the class of an error: its own for the cache's errors,
// ErrOperation for a Redis error reply, ErrClosed when the client is
// closing, ErrUnavailable for the rest (network errors, timeouts,
// cancellations, a client reconnecting).
func classOf(err error) Class {
	var (
		e     *Error
		class Class
		re    *rueidis.RedisError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.Class
	case errors.As(err, &class):
		return class
	case errors.Is(err, rueidis.ErrClosing):
		return ErrClosed
	case errors.As(err, &re):
		return ErrOperation
	}
	return ErrUnavailable
}

// fail completes an error from send (or any error, classified on the way)
// with the operation, the kind and the key.
func fail(err error, op Op, k *kindState, key string) error {
	e, ok := err.(*Error)
	if ok && e.Op == op && e.Key == key && e.Kind == k.name {
		return e // already says all of it: not wrapped in itself
	}
	if !ok || e.Op != 0 {
		e = &Error{Class: classOf(err), Cause: err}
	}
	e.Op, e.Kind, e.Key = op, k.name, key
	return e
}

package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	l := c.conn.Load()
	if !c.brk.Allow() && ctx.Value(probing{}) == nil || l == nil {
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
	err := c.exchange(ctx, cl)
	start := cl.start
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
	err := c.exchange(ctx, cl)
	start := cl.start
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
// or c.timeout, when the answer did not come.
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
				c.judge(cl.start, c.timeout)
			}
		})
	case <-t.C:
		if !cl.state.CompareAndSwap(callWaiting, callJudged) { // judged by settle, as a failure
			<-cl.done
			break
		}
		err = c.timeout
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
	case !c.brk.Allow() && ctx.Value(probing{}) != nil:
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
		c.brk.Success()
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
	if !ok || e.Op != 0 {
		e = &Error{Class: classOf(err), Cause: err}
	}
	e.Op, e.Kind, e.Key = op, k.name, key
	return e
}

// getBytes reads the bytes under key; a missing key is (nil, false, nil).
// The returned bytes alias the reply and must not be modified.
func (c *RedisCache) getBytes(ctx context.Context, key string) ([]byte, bool, error) {
	client, err := c.door(ctx)
	if err != nil {
		return nil, false, err
	}
	msg, err := c.send(ctx, client, client.B().Get().Key(key).Build())
	if err == errNil {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	s, err := msg.ToString()
	if err != nil {
		return nil, false, &Error{Class: ErrOperation, Cause: err}
	}
	// The reply string is not shared with anyone else; decoders only read it.
	return unsafe.Slice(unsafe.StringData(s), len(s)), true, nil
}

// getTracked is getBytes for the near cache: in the same round trip, it
// asks the server to report the key's next change to this connection
// (CLIENT CACHING YES, which applies to the command after it) and how long
// the key lives. pttl is the PTTL reply: milliseconds left, -1 for a key
// without expiry, and 0 when the key cannot be kept locally (gone since
// the GET, or the server would not track it).
func (c *RedisCache) getTracked(ctx context.Context, key string) (val []byte, pttl int64, found bool, err error) {
	return c.getWithTTL(ctx, key, true)
}

// getWithTTL reads the bytes under key and its PTTL in one round trip,
// tracked (see getTracked) or not; pttl is as for getTracked.
func (c *RedisCache) getWithTTL(ctx context.Context, key string, tracked bool) (val []byte, pttl int64, found bool, err error) {
	client, err := c.door(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	b := client.B()
	res, acked, err := c.exchangeTracked(ctx, client, tracked, 0, b.Get().Key(key).Build(), b.Pttl().Key(key).Build())
	if err != nil {
		return nil, 0, false, err
	}
	s, err := res[0].ToString()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, 0, false, nil
		}
		return nil, 0, false, c.classify(err)
	}
	if !tracked || acked {
		pttl, _ = res[1].AsInt64()
	}
	return unsafe.Slice(unsafe.StringData(s), len(s)), pttl, true, nil
}

// exchangeTracked runs cmds on client in one round trip, as exchangeMulti
// does; with tracked, it asks the server to report the next change of the
// keys that cmds[at] reads (CLIENT CACHING YES just before it, on a
// connection with OPTIN tracking). res holds the replies of cmds, in
// order; acked reports whether the server took the request.
//
// On a cluster, the request and the commands are sent as one transaction
// (MULTI, cmds with the request among them, EXEC): a command redirected
// to another node (MOVED, during a failover or a resharding) is then
// resent with its whole transaction, request included, whereas a request
// sent on its own would stay behind on the old node and leave the read
// untracked. The commands must then use keys of one slot.
func (c *RedisCache) exchangeTracked(ctx context.Context, client rueidis.Client, tracked bool, at int, cmds ...rueidis.Completed) (res []rueidis.RedisResult, acked bool, err error) {
	return c.exchangeFramed(ctx, client, tracked, false, at, cmds)
}

// exchangeTogether is exchangeTracked for commands that must run on one
// node, the slot's primary, one after the other: a write and the read of
// what it left (a lease's SET NX and GET). On a cluster they are one
// transaction even untracked, which the client never splits (nor sends
// to a replica, with Policy.ReplicaReads); elsewhere, a batch with a
// write goes to the primary as it is.
func (c *RedisCache) exchangeTogether(ctx context.Context, client rueidis.Client, tracked bool, at int, cmds ...rueidis.Completed) (res []rueidis.RedisResult, acked bool, err error) {
	return c.exchangeFramed(ctx, client, tracked, true, at, cmds)
}

// exchangeFramed is exchangeTracked and exchangeTogether.
func (c *RedisCache) exchangeFramed(ctx context.Context, client rueidis.Client, tracked, together bool, at int, cmds rueidis.Commands) (res []rueidis.RedisResult, acked bool, err error) {
	cluster := client.Mode() == rueidis.ClientModeCluster
	if !tracked && !(together && cluster) {
		res, err = c.exchangeMulti(ctx, client, cmds)
		return res, false, err
	}
	b := client.B()
	framed := make(rueidis.Commands, 0, len(cmds)+3)
	if cluster {
		framed = append(framed, b.Multi().Build())
	}
	first := len(framed) // where cmds' replies begin
	framed = append(framed, cmds[:at]...)
	if tracked {
		framed = append(framed, b.ClientCaching().Yes().Build())
	}
	framed = append(framed, cmds[at:]...)
	if cluster {
		framed = append(framed, b.Exec().Build())
	}
	raw, err := c.exchangeMulti(ctx, client, framed)
	if err != nil {
		return nil, false, err
	}
	if cluster {
		for _, r := range raw[:len(raw)-1] { // MULTI's OK, QUEUED, or the error that aborted the transaction
			if err := r.Error(); err != nil {
				return nil, false, c.classify(err)
			}
		}
		replies, err := raw[len(raw)-1].ToArray()
		if err != nil {
			return nil, false, c.classify(err)
		}
		if len(replies) != len(framed)-2 {
			return nil, false, &Error{Class: ErrOperation, Cause: fmt.Errorf("EXEC of %d commands answered %d replies", len(framed)-2, len(replies))}
		}
		raw, first = make([]rueidis.RedisResult, len(replies)), 0
		for i, m := range replies {
			raw[i] = rueidis.NewResult(m, nil)
		}
	}
	if !tracked {
		return raw[first : first+len(cmds)], false, nil
	}
	acked = raw[first+at].Error() == nil
	if at == 0 {
		return raw[first+1 : first+1+len(cmds)], acked, nil
	}
	res = append(slices.Clip(raw[first:first+at]), raw[first+at+1:first+1+len(cmds)]...)
	return res, acked, nil
}

// extendScript moves the expiry of a key to ARGV[2] (PEXPIREAT, Unix
// milliseconds) if the key still holds the value that was read (an
// envelope, whose written-at time, bytes 4 to 11, is ARGV[1]) and the move
// makes it live longer (its PTTL is under ARGV[3], what the move would
// leave it, in milliseconds, as the caller counts). A lease, a newer value
// or a longer life written since the read are left as they are.
const extendScript = `local head = redis.call("GETRANGE", KEYS[1], 0, 11)
if #head == 12 and string.byte(head, 1) == 0xDC and string.sub(head, 5, 12) == ARGV[1] and redis.call("PTTL", KEYS[1]) < tonumber(ARGV[3]) then
  return redis.call("PEXPIREAT", KEYS[1], ARGV[2])
end
return 0`

// extend moves the expiry of key to at, if key still holds the value
// written at born and the move lengthens its life (see extendScript), and
// reports whether it did.
func (c *RedisCache) extend(ctx context.Context, key string, born, at time.Time) (bool, error) {
	client, err := c.door(ctx)
	if err != nil {
		return false, err
	}
	var stamp [8]byte
	binary.LittleEndian.PutUint64(stamp[:], uint64(born.UnixMilli()))
	cmd := client.B().Eval().Script(extendScript).Numkeys(1).Key(key).
		Arg(string(stamp[:]), strconv.FormatInt(at.UnixMilli(), 10), strconv.FormatInt(time.Until(at).Milliseconds(), 10)).Build()
	msg, err := c.send(ctx, client, cmd)
	if err != nil {
		return false, err
	}
	n, _ := msg.AsInt64()
	return n == 1, nil
}

// setBytes stores val under key for ttl.
func (c *RedisCache) setBytes(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	// Redis counts PX in whole milliseconds, and refuses 0.
	ttl = max(ttl, time.Millisecond)
	// val is sent without a copy: the caller reuses it only after this call
	// succeeded, when the command has been written in full (store.put). A
	// ClientBuilder wrapper that keeps commands after Do returns must copy
	// them.
	// Even after an error, or a refusal by the breaker: the write may have
	// been applied, and what this process knew of the key is over anyway.
	defer c.wrote(key)
	client, err := c.door(ctx)
	if err != nil {
		return err
	}
	cmd := client.B().Set().Key(key).Value(rueidis.BinaryString(val)).Px(ttl).Build()
	_, err = c.send(ctx, client, cmd)
	return err
}

// unlink removes keys with one UNLINK per key, pipelined in one round trip
// (per-key commands stay valid on a cluster, where the keys of one batch
// live in different slots). It returns how many keys existed.
func (c *RedisCache) unlink(ctx context.Context, keys []string) (int64, error) {
	defer c.wroteAll(keys) // as for setBytes: a deleted value must not be served stale
	client, err := c.door(ctx)
	if err != nil {
		return 0, err
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = client.B().Unlink().Key(k).Build()
	}
	msgs, err := c.sendMulti(ctx, client, cmds)
	var removed int64
	for _, m := range msgs {
		n, _ := m.AsInt64()
		removed += n
	}
	return removed, err
}

// scan calls fn with each page of keys matching match, on every node that
// holds keys: the server, or each primary of a cluster. A key may be seen
// twice if it is rewritten during the scan. On a cluster, a primary that
// fails is passed over and the others are scanned: the error then wraps a
// *PartialError naming it.
func (c *RedisCache) scan(ctx context.Context, match string, fn func(keys []string) error) error {
	return c.eachPrimary(ctx, func(node rueidis.Client) error {
		var cursor uint64
		for {
			if _, err := c.door(ctx); err != nil { // closed, or the breaker opened meanwhile
				return err
			}
			msg, err := c.send(ctx, node, node.B().Scan().Cursor(cursor).Match(match).Count(scanCount).Build())
			if err != nil {
				return err
			}
			e, err := msg.AsScanEntry()
			if err != nil {
				return &Error{Class: ErrOperation, Cause: err}
			}
			if len(e.Elements) > 0 {
				if err := fn(e.Elements); err != nil {
					return err
				}
			}
			if cursor = e.Cursor; cursor == 0 {
				return nil
			}
		}
	})
}

// scanCount is the COUNT hint of each SCAN page, and so the size of each
// UNLINK batch: large enough to keep round trips few, small enough that no
// single call holds Redis for long.
const scanCount = 1000

// info returns the INFO reply of every node that holds keys (of those that
// answered, on a cluster whose error wraps a *PartialError).
func (c *RedisCache) info(ctx context.Context) ([]string, error) {
	var out []string
	err := c.eachPrimary(ctx, func(node rueidis.Client) error {
		msg, err := c.send(ctx, node, node.B().Info().Build())
		if err != nil {
			return err
		}
		s, err := msg.ToString()
		if err != nil {
			return &Error{Class: ErrOperation, Cause: err}
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// PartialError is the cause of the error of an operation over every
// primary of a Redis Cluster (ClearKind, ClearAll, DeletePattern,
// ServerStats) that some primaries failed: it was done on the others, and
// the figures returned with the error count what was done. Find it with
// errors.As; the error also matches the class of the first failure
// (usually ErrUnavailable). Run the operation again once the cluster has
// failed the dead primaries over (within its cluster-node-timeout, a few
// seconds) or they are back.
type PartialError struct {
	Done   int           // primaries the operation completed on
	Failed []NodeFailure // the others
}

// NodeFailure is one primary an operation could not complete on.
type NodeFailure struct {
	Addr string // host:port, as the cluster announces it
	Err  error
}

// Error says how many primaries were done, and which were not, and why.
func (e *PartialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "done on %d of %d cluster primaries; not on", e.Done, e.Done+len(e.Failed))
	for i, f := range e.Failed {
		if i > 0 {
			b.WriteByte(',')
		}
		why := f.Err
		if ce, ok := f.Err.(*Error); ok && ce.Op == 0 && ce.Cause != nil {
			why = fmt.Errorf("%s: %w", ce.Class, ce.Cause) // without the "cache: unknown" of an error with no operation
		}
		fmt.Fprintf(&b, " %s (%v)", f.Addr, why)
	}
	return b.String()
}

// Unwrap returns the failures' errors.
func (e *PartialError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f.Err
	}
	return out
}

// eachPrimary calls fn with every node that holds keys (see primaries).
// On a cluster, a primary whose fn fails (or which the client cannot
// reach) is passed over and the others are done; the error is then an
// *Error whose cause is a *PartialError. A failure that is not the node's
// (Close, the caller's context, the breaker opening) ends it at once.
func (c *RedisCache) eachPrimary(ctx context.Context, fn func(node rueidis.Client) error) error {
	nodes, err := c.primaries(ctx)
	if err != nil {
		return err
	}
	var partial PartialError
	for _, n := range nodes {
		if _, err := c.door(ctx); err != nil {
			return err
		}
		var err error = &Error{Class: ErrUnavailable, Cause: errNotKnown}
		if n.client != nil {
			err = fn(n.client)
		}
		switch {
		case err == nil:
			partial.Done++
			continue
		case len(nodes) == 1 && n.addr == "":
			return err // the one server
		case ctx.Err() != nil || classOf(err) == ErrClosed:
			return err
		}
		partial.Failed = append(partial.Failed, NodeFailure{Addr: n.addr, Err: err})
	}
	if len(partial.Failed) == 0 {
		return nil
	}
	return &Error{Class: classOf(partial.Failed[0].Err), Cause: &partial}
}

// errNotKnown is the failure of a primary the cluster names but the
// client has no connection to yet (it learns new primaries from the
// cluster's redirections and its periodic refresh).
var errNotKnown = errors.New("a primary the client does not know yet")

// primary is one node that holds keys: addr is "" for the one server.
type primary struct {
	addr   string
	client rueidis.Client // nil when the client has no connection to it
}

// primaries returns the nodes that hold keys: the one server, or, on a
// cluster, every node the client knows that answers ROLE as a primary
// (replicas hold copies), and every primary that owns slots in CLUSTER
// NODES, as the first node that answers sees it, that is not among them:
// one that is down but not yet replaced, or new to the client. Those are
// returned without a client, so that operating on them fails; a primary
// that failed and was replaced owns no slots any more, and is left out.
// Nodes are told apart by their ids (CLUSTER MYID), not their addresses,
// which the cluster may announce otherwise than the client knows them
// (hostnames, TLS ports).
func (c *RedisCache) primaries(ctx context.Context) ([]primary, error) {
	client, err := c.door(ctx)
	if err != nil {
		return nil, err
	}
	if client.Mode() != rueidis.ClientModeCluster {
		return []primary{{client: client}}, nil
	}
	var out []primary
	ids := make(map[string]bool)
	var nodes string // CLUSTER NODES, from the first node that answers
	var lastErr error
	idsKnown := true // every primary said its id: the CLUSTER NODES entries can be told apart
	for addr, node := range client.Nodes() {
		b := node.B()
		cmds := rueidis.Commands{b.Role().Build(), b.ClusterMyid().Build()}
		if nodes == "" {
			cmds = append(cmds, b.ClusterNodes().Build())
		}
		res, err := c.exchangeMulti(ctx, node, cmds)
		if err != nil {
			if ctx.Err() != nil || classOf(err) == ErrClosed {
				return nil, err
			}
			lastErr = err
			continue
		}
		if nerr := res[0].NonRedisError(); nerr != nil { // the node did not answer
			if ctx.Err() != nil {
				return nil, c.classify(nerr)
			}
			lastErr = c.classify(nerr)
			continue
		}
		if len(res) == 3 {
			nodes, _ = res[2].ToString()
			nodes = strings.TrimPrefix(nodes, "txt:") // a RESP3 verbatim string's format
		}
		id, idErr := res[1].ToString()
		if idErr != nil {
			idsKnown = false // a Redis-compatible server without CLUSTER MYID
		}
		if rerr := res[0].Error(); rerr != nil {
			if classOf(c.classify(rerr)) == ErrOperation { // a server without ROLE: scanned, as it cannot be told apart
				out = append(out, primary{addr: addr, client: node})
				ids[id] = true
				continue
			}
			lastErr = c.classify(rerr)
			continue
		}
		role, err := res[0].ToArray()
		if err != nil || len(role) == 0 {
			return nil, &Error{Class: ErrOperation, Cause: fmt.Errorf("unexpected ROLE reply from %s: %v", addr, err)}
		}
		if r, _ := role[0].ToString(); strings.EqualFold(r, "master") {
			out = append(out, primary{addr: addr, client: node})
			ids[id] = true
		}
	}
	if nodes == "" && len(out) == 0 {
		if lastErr == nil {
			lastErr = &Error{Class: ErrUnavailable, Cause: errors.New("the client knows no cluster node")}
		}
		return nil, lastErr
	}
	for _, o := range slotOwners(nodes) {
		if idsKnown && !ids[o.id] {
			out = append(out, primary{addr: o.addr})
		}
	}
	return out, nil
}

// slotOwner is a primary that owns slots, in a CLUSTER NODES reply.
type slotOwner struct{ id, addr string }

// slotOwners returns the primaries that own slots in a CLUSTER NODES
// reply, in its order. Each line reads "<id> <host:port@bus[,hostname]>
// <flags> <primary> <ping> <pong> <epoch> <link> <slot or range>…"; slots
// being migrated ("[1-<-id]") are not owned. The address is for messages
// only: the announced hostname, when there is one, with the port.
func slotOwners(text string) []slotOwner {
	var out []slotOwner
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !slices.Contains(strings.Split(f[2], ","), "master") {
			continue
		}
		owns := false
		for _, slot := range f[8:] {
			if !strings.HasPrefix(slot, "[") {
				owns = true
				break
			}
		}
		if !owns {
			continue
		}
		endpoint, hostname, _ := strings.Cut(f[1], ",")
		addr, _, _ := strings.Cut(endpoint, "@")
		if i := strings.LastIndexByte(addr, ':'); hostname != "" && i >= 0 {
			addr = hostname + addr[i:]
		}
		out = append(out, slotOwner{id: f[0], addr: addr})
	}
	return out
}

// ping sends one PING.
func (c *RedisCache) ping(ctx context.Context) error {
	client, err := c.door(ctx)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, client, client.B().Ping().Build())
	return err
}

// mgetChunk is the most keys one MGET asks for: a batch larger than that
// is split into several MGETs, still sent in one round trip, so that no
// single command holds Redis for long.
const mgetChunk = 512

// getMany reads the bytes under keys in one round trip: one MGET per
// chunk of keys on a server, one per hash slot on a cluster (a command may
// not span slots). With tracked (but for a cluster), the server is asked
// to report the next change of each key (CLIENT CACHING YES before each
// MGET) and pttl holds each key's PTTL reply, as for getTracked. vals[i] aliases the reply and
// must not be modified; found[i] is false for a missing key.
func (c *RedisCache) getMany(ctx context.Context, keys []string, tracked bool) (vals [][]byte, found []bool, pttl []int64, err error) {
	client, err := c.door(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	// A cluster takes the commands of one round trip to several nodes, and
	// a request for tracking in it could not tell which read it is for:
	// batches there fill no near cache (their pttl stays 0).
	asked := tracked
	tracked = tracked && client.Mode() != rueidis.ClientModeCluster
	b := client.B()
	groups := groupKeys(client, keys)
	cmds := make(rueidis.Commands, 0, 2*len(groups)+len(keys))
	for _, g := range groups {
		if tracked {
			cmds = append(cmds, b.ClientCaching().Yes().Build())
		}
		ks := make([]string, len(g))
		for j, i := range g {
			ks[j] = keys[i]
		}
		cmds = append(cmds, b.Mget().Key(ks...).Build())
	}
	if tracked {
		for _, k := range keys {
			cmds = append(cmds, b.Pttl().Key(k).Build())
		}
	}
	res, err := c.exchangeMulti(ctx, client, cmds)
	if err != nil {
		return nil, nil, nil, err
	}
	vals, found = make([][]byte, len(keys)), make([]bool, len(keys))
	if asked {
		pttl = make([]int64, len(keys)) // 0 (not kept locally) unless the server tracks the key
	}
	next, pttls := 0, len(cmds)-len(keys) // the first PTTL reply, when tracked
	for _, g := range groups {
		trackedGroup := false
		if tracked {
			trackedGroup = res[next].Error() == nil
			next++
		}
		arr, err := res[next].ToArray()
		next++
		if err != nil {
			return nil, nil, nil, c.classify(err)
		}
		if len(arr) != len(g) {
			return nil, nil, nil, &Error{Class: ErrOperation, Cause: fmt.Errorf("MGET of %d keys answered %d values", len(g), len(arr))}
		}
		for j, i := range g {
			s, err := arr[j].ToString()
			if err != nil { // a nil: no such key (or not a string, which MGET reports as nil too)
				continue
			}
			vals[i], found[i] = unsafe.Slice(unsafe.StringData(s), len(s)), true
			if trackedGroup {
				pttl[i], _ = res[pttls+i].AsInt64()
			}
		}
	}
	return vals, found, pttl, nil
}

// groupKeys splits the positions of keys into the groups one MGET may
// read: chunks of mgetChunk on a server; on a cluster, keys of one hash
// slot.
func groupKeys(client rueidis.Client, keys []string) [][]int {
	var groups [][]int
	if client.Mode() != rueidis.ClientModeCluster {
		for lo := 0; lo < len(keys); lo += mgetChunk {
			g := make([]int, 0, min(mgetChunk, len(keys)-lo))
			for i := lo; i < min(lo+mgetChunk, len(keys)); i++ {
				g = append(g, i)
			}
			groups = append(groups, g)
		}
		return groups
	}
	bySlot := make(map[uint16]int) // slot → its group
	for i, k := range keys {
		cmd := client.B().Get().Key(k).Build()
		slot := cmd.Slot()
		gi, ok := bySlot[slot]
		if !ok || len(groups[gi]) == mgetChunk {
			gi = len(groups)
			bySlot[slot] = gi
			groups = append(groups, nil)
		}
		groups[gi] = append(groups[gi], i)
	}
	return groups
}

// setMany stores vals[i] under keys[i] for ttls[i], pipelined in one round
// trip (one SET per key, valid on a cluster). It returns the first failure;
// the other writes may have been applied. vals are sent without a copy, as
// by setBytes.
func (c *RedisCache) setMany(ctx context.Context, keys []string, vals [][]byte, ttls []time.Duration) error {
	defer c.wroteAll(keys) // as for setBytes
	client, err := c.door(ctx)
	if err != nil {
		return err
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = client.B().Set().Key(k).Value(rueidis.BinaryString(vals[i])).Px(max(ttls[i], time.Millisecond)).Build()
	}
	_, err = c.sendMulti(ctx, client, cmds)
	return err
}

// acquire tries to take the lease on key (see lease.go): SET key lease NX
// PX ttl, then GET key, in one round trip (one key: one connection, in
// this order, on a cluster too). With tracked, the GET asks the server to
// report the key's next change (CLIENT CACHING YES before it). held
// reports whether the SET took the lease; raw and found are what the GET
// read (raw aliases the reply).
func (c *RedisCache) acquire(ctx context.Context, key string, lease []byte, ttl time.Duration, tracked bool) (held bool, raw []byte, found bool, err error) {
	client, err := c.door(ctx)
	if err != nil {
		return false, nil, false, err
	}
	b := client.B()
	set := b.Set().Key(key).Value(rueidis.BinaryString(lease)).Nx().Px(max(ttl, time.Millisecond)).Build()
	res, _, err := c.exchangeTogether(ctx, client, tracked, 1, set, b.Get().Key(key).Build())
	if err != nil {
		return false, nil, false, err
	}
	if err := res[0].Error(); err != nil && !rueidis.IsRedisNil(err) {
		return false, nil, false, c.classify(err)
	}
	held = res[0].Error() == nil // OK; a nil reply when the key exists
	s, err := res[1].ToString()
	switch {
	case rueidis.IsRedisNil(err):
		return held, nil, false, nil
	case err != nil:
		return held, nil, false, c.classify(err)
	}
	return held, unsafe.Slice(unsafe.StringData(s), len(s)), true, nil
}

// releaseScript deletes a lease if it is still the one given: a flight
// whose load failed frees the key for other processes at once, and never
// deletes another's lease, or a value.
const releaseScript = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`

// release removes key if it still holds lease.
func (c *RedisCache) release(ctx context.Context, key string, lease []byte) error {
	client, err := c.door(ctx)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, client, client.B().Eval().Script(releaseScript).Numkeys(1).Key(key).Arg(string(lease)).Build())
	if err == errNil {
		err = nil
	}
	c.wrote(key)
	return err
}

// storeLeasedScript stores a value under a key if the key still holds the
// lease given (ARGV[1]), or, when ARGV[2] is "1" (the lease has outlived
// its life), if the key holds nothing: a lease deleted by a Delete, a
// clear, or replaced by another writer's value while the load ran, means
// the loaded value is older than what the key should hold, and it is
// dropped (the stale set of "Scaling Memcache at Facebook", closed the
// same way). Replies OK when stored, nil when not.
const storeLeasedScript = `local cur = redis.call("GET", KEYS[1])
if cur == ARGV[1] or (not cur and ARGV[2] == "1") then
  return redis.call("SET", KEYS[1], ARGV[3], "PX", ARGV[4])
end
return false`

// setLeased stores val under key for ttl if key still holds lease (see
// storeLeasedScript; expired says the lease has had its life), and reports
// whether it did. val is sent without a copy, as by setBytes.
func (c *RedisCache) setLeased(ctx context.Context, key string, lease, val []byte, ttl time.Duration, expired bool) (bool, error) {
	ttl = max(ttl, time.Millisecond)
	defer c.wrote(key) // as for setBytes
	client, err := c.door(ctx)
	if err != nil {
		return false, err
	}
	flag := "0"
	if expired {
		flag = "1"
	}
	cmd := client.B().Eval().Script(storeLeasedScript).Numkeys(1).Key(key).
		Arg(rueidis.BinaryString(lease), flag, rueidis.BinaryString(val), strconv.FormatInt(ttl.Milliseconds(), 10)).Build()
	_, err = c.send(ctx, client, cmd)
	if err == errNil {
		return false, nil
	}
	return err == nil, err
}

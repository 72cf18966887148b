package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/redis/rueidis"
)

// This file is the cache's one door to Redis: every command it sends —
// reads, writes, unlinks, scans, INFO, PING — leaves through send or
// sendMulti, which refuse to run after Close, bound the call by the
// operation timeout, translate a nil reply into a miss and classify errors.

// errNil is send's answer for a nil reply: a missing key. It never leaves
// the package.
var errNil = errors.New("cache: nil reply")

// send runs one command on node (the client, or one node of a cluster).
// Its error is errNil for a nil reply, or an *Error with a Class and a
// Cause but no Op, Kind or Key (see fail).
func (c *RedisCache) send(ctx context.Context, node rueidis.Client, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	if c.closed.Load() {
		return rueidis.RedisMessage{}, &Error{Class: ErrClosed}
	}
	bctx, cancel := c.bound(ctx)
	msg, err := node.Do(bctx, cmd).ToMessage()
	if cancel != nil {
		cancel()
	}
	if err != nil {
		if rueidis.IsRedisNil(err) { // before any wrapping: IsRedisNil compares with ==
			return msg, errNil
		}
		return msg, c.classify(ctx, err)
	}
	return msg, nil
}

// sendMulti runs cmds on node in one round trip (pipelined) and returns
// their replies. Its error is the first failure, classified as by send;
// nil replies are not errors here.
func (c *RedisCache) sendMulti(ctx context.Context, node rueidis.Client, cmds rueidis.Commands) ([]rueidis.RedisMessage, error) {
	if c.closed.Load() {
		return nil, &Error{Class: ErrClosed}
	}
	bctx, cancel := c.bound(ctx)
	results := node.DoMulti(bctx, cmds...)
	if cancel != nil {
		cancel()
	}
	msgs := make([]rueidis.RedisMessage, len(results))
	for i, r := range results {
		msg, err := r.ToMessage()
		if err != nil && !rueidis.IsRedisNil(err) {
			return msgs[:i], c.classify(ctx, err)
		}
		msgs[i] = msg
	}
	return msgs, nil
}

// bound returns ctx limited to the operation timeout, and the function
// that releases it; when the caller's own deadline comes first, ctx is
// used as it is (no timer, no allocation) and the function is nil.
func (c *RedisCache) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= c.cfg.OperationTimeout {
		return ctx, nil
	}
	return context.WithTimeout(ctx, c.cfg.OperationTimeout)
}

// classify wraps an error of the client in an *Error of its class, adding
// a hint when the operation timeout, not the caller, ended the call.
func (c *RedisCache) classify(ctx context.Context, err error) error {
	class := classOf(err)
	if class == ErrUnavailable && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("%w (no answer within Config.OperationTimeout=%v)", err, c.cfg.OperationTimeout)
	}
	return &Error{Class: class, Cause: err}
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
	msg, err := c.send(ctx, c.client, c.client.B().Get().Key(key).Build())
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
	if c.closed.Load() {
		return nil, 0, false, &Error{Class: ErrClosed}
	}
	b := c.client.B()
	bctx, cancel := c.bound(ctx)
	res := c.client.DoMulti(bctx, b.ClientCaching().Yes().Build(), b.Get().Key(key).Build(), b.Pttl().Key(key).Build())
	if cancel != nil {
		cancel()
	}
	s, err := res[1].ToString()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, 0, false, nil
		}
		return nil, 0, false, c.classify(ctx, err)
	}
	if res[0].Error() == nil {
		pttl, _ = res[2].AsInt64()
	}
	return unsafe.Slice(unsafe.StringData(s), len(s)), pttl, true, nil
}

// setBytes stores val under key for ttl.
func (c *RedisCache) setBytes(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	// Redis counts PX in whole milliseconds, and refuses 0.
	ttl = max(ttl, time.Millisecond)
	// val is sent without a copy: the caller reuses it only after this call
	// succeeded, when the command has been written in full (store.put). A
	// ClientBuilder wrapper that keeps commands after Do returns must copy
	// them.
	cmd := c.client.B().Set().Key(key).Value(rueidis.BinaryString(val)).Px(ttl).Build()
	_, err := c.send(ctx, c.client, cmd)
	c.wrote(key) // even after an error: the write may have been applied
	return err
}

// unlink removes keys with one UNLINK per key, pipelined in one round trip
// (per-key commands stay valid on a cluster, where the keys of one batch
// live in different slots). It returns how many keys existed.
func (c *RedisCache) unlink(ctx context.Context, keys []string) (int64, error) {
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = c.client.B().Unlink().Key(k).Build()
	}
	msgs, err := c.sendMulti(ctx, c.client, cmds)
	for _, k := range keys {
		c.wrote(k)
	}
	var removed int64
	for _, m := range msgs {
		n, _ := m.AsInt64()
		removed += n
	}
	return removed, err
}

// scan calls fn with each page of keys matching match, on every node that
// holds keys: the server, or each primary of a cluster. A key may be seen
// twice if it is rewritten during the scan.
func (c *RedisCache) scan(ctx context.Context, match string, fn func(keys []string) error) error {
	nodes, err := c.primaries(ctx)
	if err != nil {
		return err
	}
	for _, node := range nodes {
		var cursor uint64
		for {
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
				break
			}
		}
	}
	return nil
}

// scanCount is the COUNT hint of each SCAN page, and so the size of each
// UNLINK batch: large enough to keep round trips few, small enough that no
// single call holds Redis for long.
const scanCount = 1000

// info returns the INFO reply of every node that holds keys.
func (c *RedisCache) info(ctx context.Context) ([]string, error) {
	nodes, err := c.primaries(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(nodes))
	for _, node := range nodes {
		msg, err := c.send(ctx, node, node.B().Info().Build())
		if err != nil {
			return out, err
		}
		s, err := msg.ToString()
		if err != nil {
			return out, &Error{Class: ErrOperation, Cause: err}
		}
		out = append(out, s)
	}
	return out, nil
}

// ping sends one PING.
func (c *RedisCache) ping(ctx context.Context) error {
	_, err := c.send(ctx, c.client, c.client.B().Ping().Build())
	return err
}

// primaries returns the clients of the nodes that hold keys: the one
// server, or, on a cluster, each node that answers ROLE as a primary
// (rueidis' Nodes includes replicas, whose keys are copies). A node that
// refuses ROLE (a Redis-compatible server without it) is taken as a
// primary.
func (c *RedisCache) primaries(ctx context.Context) ([]rueidis.Client, error) {
	if c.client.Mode() != rueidis.ClientModeCluster {
		return []rueidis.Client{c.client}, nil
	}
	var out []rueidis.Client
	for _, node := range c.client.Nodes() {
		msg, err := c.send(ctx, node, node.B().Role().Build())
		if classOf(err) == ErrOperation { // a server without ROLE: one that cannot be told apart, so scanned
			out = append(out, node)
			continue
		}
		if err != nil {
			return nil, err
		}
		role, err := msg.ToArray()
		if err != nil || len(role) == 0 {
			return nil, &Error{Class: ErrOperation, Cause: fmt.Errorf("unexpected ROLE reply: %v", err)}
		}
		if r, _ := role[0].ToString(); strings.EqualFold(r, "master") {
			out = append(out, node)
		}
	}
	return out, nil
}

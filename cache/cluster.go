package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/redis/rueidis"
)

// What spans every primary: scans, INFO, and finding a cluster's
// primaries, with the partial failures of a cluster whose primary is down.

// scan calls fn with each page of keys matching match, on every node that
// holds keys: the server, or each primary of a cluster. A key may be seen
// twice if it is rewritten during the scan. On a cluster, a primary that
// fails is passed over and the others are scanned: the error then wraps a
// *PartialError naming it.
func (c *RedisCache) scan(ctx context.Context, match string, fn func(keys []string) error) error {
	return c.eachPrimary(ctx, func(ctx context.Context, node rueidis.Client) error {
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
	err := c.eachPrimary(ctx, func(ctx context.Context, node rueidis.Client) error {
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
func (c *RedisCache) eachPrimary(ctx context.Context, fn func(ctx context.Context, node rueidis.Client) error) error {
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
			nctx := ctx
			if n.addr != "" && c.report.tracer != nil {
				nctx = context.WithValue(ctx, nodeAddr{}, n.addr) // for RoundTrip.Server
			}
			err = fn(nctx, n.client)
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
		nctx := ctx
		if c.report.tracer != nil {
			nctx = context.WithValue(ctx, nodeAddr{}, addr) // for RoundTrip.Server
		}
		res, err := c.exchangeMulti(nctx, node, cmds)
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

// getManyFramed is a tracked getMany on a cluster. A request for tracking
// must reach the node of the read it is for, right before it, so each
// hash slot's keys are read by a transaction of their own: MULTI, CLIENT
// CACHING YES, MGET, their PTTLs, EXEC (see exchangeTracked). The
// transactions go in one round trip, each node's in order on its
// connection: their keyless commands are given their slot. The client
// then resends a redirected command (a slot moving: MOVED, ASK) alone,
// and its transaction aborts; so an aborted transaction is sent again on
// its own, with keyless commands, which the client resends whole, request
// for tracking included. With replica reads, whose routing would send a
// transaction's reads to a replica and the rest to the primary, every
// transaction goes on its own. Its error is the first failure, if any.
func (c *RedisCache) getManyFramed(ctx context.Context, client rueidis.Client, keys []string, groups [][]int) (vals [][]byte, found []bool, pttl []int64, err error) {
	vals, found, pttl = make([][]byte, len(keys)), make([]bool, len(keys)), make([]int64, len(keys))
	alone := groups
	if c.cfg.client.SendToReplicas == nil {
		failed, err := c.readFramed(ctx, client, keys, groups, true, vals, found, pttl)
		if err != nil {
			return nil, nil, nil, err
		}
		alone = nil
		for gi, err := range failed {
			if err != nil {
				alone = append(alone, groups[gi])
			}
		}
	}
	if err := c.readAlone(ctx, client, keys, alone, vals, found, pttl); err != nil {
		return nil, nil, nil, err
	}
	return vals, found, pttl, nil
}

// readAlone reads the keys of each of groups by a transaction sent on its
// own (see getManyFramed), from up to framedReads goroutines at once.
func (c *RedisCache) readAlone(ctx context.Context, client rueidis.Client, keys []string, groups [][]int, vals [][]byte, found []bool, pttl []int64) error {
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	sem := make(chan struct{}, framedReads)
	for gi := range groups {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			failed, err := c.readFramed(ctx, client, keys, groups[gi:gi+1], false, vals, found, pttl)
			if err == nil { // failed is nil after a failed round trip
				err = failed[0]
			}
			errs[gi] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// framedReads bounds the transactions of one tracked batch on a cluster
// sent on their own at once (see getManyFramed).
const framedReads = 32

// readFramed reads the keys of groups, a transaction each (see
// getManyFramed), in one round trip, into vals, found and pttl (at the
// keys' positions); pin gives the keyless commands their group's slot.
// err is a failure of the round trip; failed[i] that of groups[i]'s
// transaction (aborted, or answered amiss), whose keys are left as they
// were.
func (c *RedisCache) readFramed(ctx context.Context, client rueidis.Client, keys []string, groups [][]int, pin bool, vals [][]byte, found []bool, pttl []int64) (failed []error, err error) {
	b := client.B()
	slotted := func(cmd rueidis.Completed, key string) rueidis.Completed {
		if pin {
			return cmd.SetSlot(key)
		}
		return cmd
	}
	cmds := make(rueidis.Commands, 0, 4*len(groups)+2*len(keys))
	for _, g := range groups {
		k0 := keys[g[0]]
		ks := make([]string, len(g))
		for j, i := range g {
			ks[j] = keys[i]
		}
		cmds = append(cmds, slotted(b.Multi().Build(), k0), slotted(b.ClientCaching().Yes().Build(), k0), b.Mget().Key(ks...).Build())
		for _, k := range ks {
			cmds = append(cmds, b.Pttl().Key(k).Build())
		}
		cmds = append(cmds, slotted(b.Exec().Build(), k0))
	}
	res, err := c.exchangeMulti(ctx, client, cmds)
	if err != nil {
		return nil, err
	}
	failed = make([]error, len(groups))
	next := 0
	for gi, g := range groups {
		exec := next + 3 + len(g) // MULTI, CLIENT CACHING, MGET, the PTTLs, then EXEC
		failed[gi] = c.takeFramed(res[next:exec+1], g, vals, found, pttl)
		next = exec + 1
	}
	return failed, nil
}

// takeFramed takes the replies of one transaction of readFramed, res (its
// commands' and EXEC's), for the keys at positions g.
func (c *RedisCache) takeFramed(res []rueidis.RedisResult, g []int, vals [][]byte, found []bool, pttl []int64) error {
	for _, r := range res[:len(res)-1] { // OK, QUEUED, or the error that aborts the transaction
		if err := r.Error(); err != nil {
			return c.classify(err)
		}
	}
	replies, err := res[len(res)-1].ToArray()
	switch {
	case err != nil:
		return c.classify(err)
	case len(replies) != 2+len(g):
		return &Error{Class: ErrOperation, Cause: fmt.Errorf("EXEC of %d commands answered %d replies", 2+len(g), len(replies))}
	}
	acked := replies[0].Error() == nil
	arr, err := replies[1].ToArray()
	switch {
	case err != nil:
		return c.classify(err)
	case len(arr) != len(g):
		return &Error{Class: ErrOperation, Cause: fmt.Errorf("MGET of %d keys answered %d values", len(g), len(arr))}
	}
	for j, i := range g {
		s, err := arr[j].ToString()
		if err != nil { // a nil: no such key, or not a string
			continue
		}
		vals[i], found[i] = unsafe.Slice(unsafe.StringData(s), len(s)), true
		if acked {
			pttl[i], _ = replies[2+j].AsInt64()
		}
	}
	return nil
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

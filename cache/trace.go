package cache

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// Tracer is implemented by a [Recorder] that follows operations while they
// run: the seam for tracing (cacheotel's spans). When Config.Recorder is a
// Tracer, the cache calls Begin as an operation starts, before any work;
// runs the operation with the context Begin returns, so that its round
// trips to Redis and its loader (the caller's backend call) see what Begin
// put there; gives that context as the Event.Context of the operation's
// events; and calls the function Begin returned once, when the operation
// ends, with its error (nil for success, and for a miss).
//
// Begin is called for Get, Fetch, Set, Delete and their batches, the
// loader's call within Fetch (OpLoad), an early refresh, Warm, the clears,
// Health's PING and ServerStats; not for reads the near cache answers (a
// few hundred nanoseconds, less than a span costs), nor for work in the
// background (an adaptive TTL's extension). Every round trip to Redis is
// reported to RoundTrip when it ends, with the context of the operation
// that made it.
//
// Begin is called for GetMany and FetchMany even when the near cache
// answers every key; not for Inspect, nor for a Clear's dry run.
//
// Begin, its function and RoundTrip may run on other goroutines than the
// caller's (a Fetch's load runs on its flight's, a cluster's batch reads
// from several); they must be quick and safe for concurrent use, and must
// not call the cache. An operation the caller's context cut short ends
// with the context's error.
type Tracer interface {
	Recorder
	// Begin is called when an operation starts: op and kind as its
	// Event will have them (kind "" for the whole cache's operations).
	Begin(ctx context.Context, op Op, kind string) (context.Context, func(error))
	// RoundTrip is called when one round trip to Redis ends.
	RoundTrip(ctx context.Context, rt RoundTrip)
}

// RoundTrip is one exchange with Redis: a command, or a pipeline of them
// sent together (a batch, a transaction).
type RoundTrip struct {
	// Commands names each command sent, in order, in capitals: ["GET"], or
	// a tracked batch's ["MULTI", "CLIENT CACHING", "MGET", "PTTL", "EXEC"].
	// Never a key or a value.
	Commands []string
	// Server is the server's address, host:port, when the cache knows it:
	// a single server's, or the node's of a command sent to one node of a
	// cluster; "" when the client routes it (a cluster, a sentinel's
	// primary).
	Server string
	// DB is the database index (SELECT), 0 on a cluster.
	DB int
	// Start is when the exchange began; Latency how long it took until
	// the answer, or until the caller stopped waiting.
	Start   time.Time
	Latency time.Duration
	// Err is why the exchange failed (no answer in time, the connection
	// lost), or the first error reply among its commands (a nil reply is
	// none): an *Error with a Class; or the caller's context's error
	// (context.Canceled, context.DeadlineExceeded) when the caller left
	// first. Nil when Redis answered.
	Err error
}

// ServerAddress splits Server into host and port, for the conventions of
// tracing (server.address, server.port); port is 0 when unknown.
func (rt RoundTrip) ServerAddress() (host string, port int) {
	h, p, err := net.SplitHostPort(rt.Server)
	if err != nil {
		return rt.Server, 0
	}
	port, _ = strconv.Atoi(p)
	return h, port
}

// begin starts op of k for the user's Tracer, if Config.Recorder is one.
// An operation cut short because the caller's context ended is ended with
// the context's error (context.Canceled, context.DeadlineExceeded), not
// with the cache's class for it: the caller left, Redis did not fail.
func (c *RedisCache) begin(ctx context.Context, op Op, k *kindState) (context.Context, func(error)) {
	t := c.report.tracer
	if t == nil {
		return ctx, endNothing
	}
	ctx, end := t.Begin(ctx, op, k.name)
	return ctx, func(err error) {
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				err = cerr
			}
		}
		end(err)
	}
}

func endNothing(error) {}

// nodeAddr marks the context of a command sent to one node of a cluster,
// with its address, for RoundTrip.Server.
type nodeAddr struct{}

// tripped reports cl, whose exchange ended with err (nil: answered), to
// the user's Tracer.
func (c *RedisCache) tripped(ctx context.Context, cl *call, names []string, err error) {
	if cl.start.IsZero() { // the caller was gone before: nothing was sent
		return
	}
	rt := RoundTrip{Start: cl.start, Latency: time.Since(cl.start), DB: c.cfg.client.SelectDB}
	if a, ok := ctx.Value(nodeAddr{}).(string); ok { // one node of a cluster (every command sent to one is marked)
		rt.Server, rt.DB = a, 0
	} else if cl.node.Mode() == rueidis.ClientModeCluster {
		rt.DB = 0 // routed by the client, to a node it picks: no address
	} else {
		rt.Server = c.cfg.server // the one server; "" with a sentinel's primary
	}
	rt.Commands = names
	switch {
	case err == nil:
		err = cl.err()
	case ctx.Err() != nil:
		err = ctx.Err() // the caller left: Redis did not fail
	}
	if err != nil && ctx.Err() == nil {
		err = c.classify(err)
	}
	rt.Err = err
	c.report.tracer.RoundTrip(ctx, rt)
}

// commandNames returns the names of cl's commands, before it is sent.
func commandNames(cl *call) []string {
	if cl.multi == nil {
		return []string{commandName(cl.cmd)}
	}
	names := make([]string, len(cl.multi))
	for i, cmd := range cl.multi {
		names[i] = commandName(cmd)
	}
	return names
}

// commandName returns the name of cmd: its first word, and the second
// for the commands that are families of subcommands (CLIENT CACHING).
func commandName(cmd rueidis.Completed) string {
	words := cmd.Commands()
	if len(words) == 0 {
		return ""
	}
	switch words[0] {
	case "CLIENT", "CLUSTER", "CONFIG", "OBJECT", "MEMORY", "SCRIPT", "FUNCTION", "COMMAND", "ACL":
		if len(words) > 1 {
			return words[0] + " " + words[1]
		}
	}
	return words[0]
}

package cacheotel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/media-gateway/discovery/cache"
)

// The spans: an operation's, begun before its work, and a round trip's;
// and db.client.operation.duration, recorded with the round trip's.

// opSpan is the span of one cache operation, in its context.
type opSpan struct {
	span trace.Span
	op   cache.Op
	name string
}

type opSpanKey struct{}

// end ends the span of an operation that ended with err.
func (s *opSpan) end(err error) {
	if err != nil {
		failed(s.span, errorType(s.op, err), s.name)
	}
	s.span.End()
}

// beginKey and beginning: the span name and start options of an
// operation of a kind, made once.
type beginKey struct {
	op   cache.Op
	kind string
}

type beginning struct {
	name string
	opts []trace.SpanStartOption
}

func noEnd(error) {}

// Begin starts the span of a cache operation (see [cache.Tracer]).
func (r *Recorder) Begin(ctx context.Context, op cache.Op, kind string) (context.Context, func(error)) {
	if r.o.NoSpans {
		return ctx, noEnd
	}
	k := beginKey{op, kind}
	v, ok := r.begins.Load(k)
	if !ok {
		name := op.String()
		if kind != "" {
			name += " " + kind
		}
		v, _ = r.begins.LoadOrStore(k, &beginning{name: name, opts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(KeyKind.String(kindName(kind)), KeyOperation.String(op.String()))}})
	}
	b := v.(*beginning)
	ctx, span := r.tracer.Start(ctx, b.name, b.opts...)
	s := &opSpan{span: span, op: op, name: b.name}
	return context.WithValue(ctx, opSpanKey{}, s), s.end
}

// errorType is the error.type of an operation that failed with err.
func errorType(op cache.Op, err error) string {
	var ce *cache.Error
	switch {
	case errors.As(err, &ce) && ce.Class != 0:
		return ce.Class.String()
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case op == cache.OpLoad || op == cache.OpFetch || op == cache.OpRefresh || op == cache.OpWarm:
		return "loader" // the loader's own error: the cache has no class for it
	}
	return "_OTHER"
}

// failed marks span as failed with errType: an error status and an
// exception event naming the type (an error's text may quote a key or a
// value).
func failed(span trace.Span, errType, name string) {
	span.SetAttributes(KeyErrorType.String(errType))
	span.RecordError(fmt.Errorf("cache %s: %s", name, errType))
	span.SetStatus(codes.Error, errType)
}

// RoundTrip records one round trip to Redis: a client span and
// db.client.operation.duration (see [cache.Tracer]).
func (r *Recorder) RoundTrip(ctx context.Context, rt cache.RoundTrip) {
	opName, summary, size := r.operationName(rt.Commands)
	errType := ""
	if rt.Err != nil {
		errType = errorType(0, rt.Err)
	}
	r.dbTrips.Record(context.Background(), rt.Latency.Seconds(), r.tripAttributes(tripKey{op: opName, server: rt.Server, errType: errType, db: rt.DB}, rt))
	if r.o.NoSpans {
		return
	}
	// A span only inside an operation's recorded span: not for the round
	// trips of connecting and probing, and not below a span the sampler
	// left out.
	if s, _ := ctx.Value(opSpanKey{}).(*opSpan); s == nil || !s.span.IsRecording() {
		return
	}
	host, port := rt.ServerAddress()
	attrs := []attribute.KeyValue{
		attribute.String("db.system.name", "redis"),
		attribute.String("db.operation.name", opName),
		attribute.String("db.query.summary", summary),
		attribute.String("db.namespace", strconv.Itoa(rt.DB)),
	}
	if size > 1 {
		attrs = append(attrs, attribute.Int("db.operation.batch.size", size))
	}
	if host != "" {
		attrs = append(attrs, attribute.String("server.address", host))
		if port != 0 {
			attrs = append(attrs, attribute.Int("server.port", port))
		}
	}
	_, span := r.tracer.Start(ctx, summary, trace.WithTimestamp(rt.Start), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	if errType != "" {
		failed(span, errType, summary)
	}
	span.End(trace.WithTimestamp(rt.Start.Add(rt.Latency)))
}

// maxNamed is the number of commands of the round trips whose names are
// made once (operationName); longer ones are named each time.
const maxNamed = 8

// operationName is the package's operationName, made once per list of
// commands.
func (r *Recorder) operationName(cmds []string) (op, summary string, size int) {
	if len(cmds) == 1 {
		return cmds[0], cmds[0], 1
	}
	if len(cmds) > maxNamed {
		return operationName(cmds)
	}
	var k [maxNamed]string
	copy(k[:], cmds)
	r.names.RLock()
	v, ok := r.names.m[k]
	r.names.RUnlock()
	if ok {
		return v.op, v.summary, v.size
	}
	op, summary, size = operationName(cmds)
	r.names.Lock()
	if r.names.m == nil {
		r.names.m = make(map[[maxNamed]string]named)
	}
	if len(r.names.m) < 1024 { // bounded, whatever the commands
		r.names.m[k] = named{op, summary, size}
	}
	r.names.Unlock()
	return op, summary, size
}

type named struct {
	op, summary string
	size        int
}

// helper reports whether cmd only accompanies the command a round trip is
// for: the near cache's tracking (CLIENT CACHING), the life read with a
// value (PTTL), a transaction's frame (MULTI, EXEC).
func helper(cmd string) bool {
	switch cmd {
	case "CLIENT CACHING", "PTTL", "MULTI", "EXEC":
		return true
	}
	return false
}

// maxSummary bounds db.query.summary, as the conventions do.
const maxSummary = 255

// operationName returns db.operation.name, db.query.summary and
// db.operation.batch.size of a round trip's commands, named by the
// commands it is for, without their helpers (see helper): a tracked read
// (CLIENT CACHING, GET, PTTL) is a GET. Several of them are a batch:
// "BATCH MGET" when all are one command, "BATCH" otherwise; the summary
// names each command once, in order ("SET GET"), within 255 bytes.
func operationName(cmds []string) (op, summary string, size int) {
	var main []string
	for _, c := range cmds {
		if !helper(c) {
			main = append(main, c)
		}
	}
	if len(main) == 0 { // helpers only: name them
		main = cmds
	}
	var b strings.Builder
	var seen []string
	for _, c := range main {
		if slices.Contains(seen, c) {
			continue
		}
		seen = append(seen, c)
		if b.Len()+1+len(c) > maxSummary {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(c)
	}
	switch {
	case len(main) == 1:
		return main[0], main[0], 1
	case len(seen) == 1:
		return "BATCH " + main[0], b.String(), len(main)
	}
	return "BATCH", b.String(), len(main)
}

// tripAttributes returns the measurement option of
// db.client.operation.duration's attributes, made once per set.
func (r *Recorder) tripAttributes(k tripKey, rt cache.RoundTrip) metric.MeasurementOption {
	if v, ok := r.trips.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	host, port := rt.ServerAddress()
	kv := []attribute.KeyValue{attribute.String("db.system.name", "redis"), attribute.String("db.operation.name", k.op),
		attribute.String("db.namespace", strconv.Itoa(k.db))}
	if host != "" {
		kv = append(kv, attribute.String("server.address", host))
		if port != 0 {
			kv = append(kv, attribute.Int("server.port", port))
		}
	}
	if k.errType != "" {
		kv = append(kv, KeyErrorType.String(k.errType))
	}
	opt := metric.WithAttributeSet(attribute.NewSet(kv...))
	r.trips.Store(k, opt)
	return opt
}

// annotate tells the span of e's operation what e learned: the outcome
// and tier of a read (of the Fetch's, for its read), the key's hash, a
// batch's keys per outcome, a lease wait.
func (r *Recorder) annotate(e cache.Event) {
	if e.Context == nil {
		return
	}
	s, _ := e.Context.Value(opSpanKey{}).(*opSpan)
	if s == nil || !s.span.IsRecording() {
		return
	}
	switch {
	case e.Op == s.op && (e.Op == cache.OpGetMany || e.Op == cache.OpSetMany):
		s.span.SetAttributes(attribute.Int64("cache.keys."+e.Outcome.String(), e.Keys))
	case e.Op == cache.OpLease:
		s.span.AddEvent("lease wait", trace.WithAttributes(KeyOutcome.String(e.Outcome.String())))
	case e.Op == s.op && e.Op != cache.OpFetch, s.op == cache.OpFetch && (e.Op == cache.OpGet || e.Outcome == cache.OutcomeStale):
		attrs := []attribute.KeyValue{KeyOutcome.String(e.Outcome.String())}
		if e.Tier != 0 {
			attrs = append(attrs, KeyTier.String(e.Tier.String()))
		}
		if h := keyHash(e.Key); h != "" && e.Kind != cache.KindCustom {
			attrs = append(attrs, KeyKeyHash.String(h))
		}
		if e.Keys > 1 {
			attrs = append(attrs, attribute.Int64("cache.keys", e.Keys))
		}
		s.span.SetAttributes(attrs...)
	}
}

// localSpan records a near-cache hit as a span that ended now (with
// Options.SpanLocalHits).
func (r *Recorder) localSpan(e cache.Event) {
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	end := time.Now()
	attrs := []attribute.KeyValue{KeyKind.String(kindName(e.Kind)), KeyOperation.String(e.Op.String()),
		KeyOutcome.String(e.Outcome.String()), KeyTier.String(e.Tier.String())}
	if h := keyHash(e.Key); h != "" && e.Kind != cache.KindCustom {
		attrs = append(attrs, KeyKeyHash.String(h))
	}
	_, span := r.tracer.Start(ctx, e.Op.String()+" "+e.Kind, trace.WithTimestamp(end.Add(-e.Latency)),
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	span.End(trace.WithTimestamp(end))
}

// keyHash returns the hash part of a key made by the cache (its last
// segment, 64 hex characters), or "" for another key: a key-level key may
// hold text of the caller's, which a span must not carry.
func keyHash(key string) string {
	i := strings.LastIndexByte(key, ':')
	h := key[i+1:]
	if len(h) != 64 {
		return ""
	}
	for j := 0; j < len(h); j++ {
		if c := h[j]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	return h
}

package cache

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// logInterval is how often, at most, one kind logs a warning for one class
// of absorbed errors: during an outage, one line per kind and class every
// 10 s, with the number of the errors it stood for.
const logInterval = 10 * time.Second

// logLimit lets one line through per logInterval and counts the rest.
type logLimit struct {
	next       atomic.Int64  // Unix nanoseconds from which the next line may be written
	suppressed atomic.Uint64 // errors not logged since the last line
}

// allow reports whether a line may be written at now, and if so how many
// errors were suppressed since the last one.
func (l *logLimit) allow(now time.Time) (ok bool, suppressed uint64) {
	next := l.next.Load()
	if now.UnixNano() < next || !l.next.CompareAndSwap(next, now.Add(logInterval).UnixNano()) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}

// absorb logs an error that Fetch swallows to answer from the loader: the
// only errors the cache logs, since the others are returned to a caller who
// can log them. It writes at most one warning per kind and class per
// logInterval. Errors after the caller's context ended are not logged.
func (c *RedisCache) absorb(ctx context.Context, k *kindState, err error) {
	class := classOf(err)
	if ctx.Err() != nil || class == 0 || !c.report.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	ok, suppressed := k.logs[class].allow(c.report.now())
	if !ok {
		return
	}
	c.report.log.LogAttrs(ctx, slog.LevelWarn, "cache error absorbed; answering from the loader",
		slog.String("kind", k.name), slog.String("class", class.String()), slog.String("error", err.Error()),
		slog.Uint64("suppressed", suppressed))
}

// logHitMiss logs a hit or a miss at debug level, at no cost when debug
// records are not wanted.
func (c *RedisCache) logHitMiss(ctx context.Context, k *kindState, key string, hit bool) {
	if !c.report.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	msg := "cache miss"
	if hit {
		msg = "cache hit"
	}
	c.report.log.LogAttrs(ctx, slog.LevelDebug, msg, slog.String("kind", k.name), slog.String("key", key))
}

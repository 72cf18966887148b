package cache

import (
	"testing"
	"time"
)

// BenchmarkObserve measures recording one operation (counters and latency
// histogram of its kind), with no Recorder and with a no-op one, from
// concurrent goroutines as on the hit path.
func BenchmarkObserve(b *testing.B) {
	for _, tc := range []struct {
		name string
		rec  Recorder
	}{{"builtin", nil}, {"with-recorder", RecorderFunc(func(Event) {})}} {
		b.Run(tc.name, func(b *testing.B) {
			c := &RedisCache{report: reporting{rec: tc.rec}}
			k := &kindState{name: KindSearch}
			b.RunParallel(func(pb *testing.PB) {
				e := Event{Op: OpGet, Outcome: OutcomeHit, Tier: TierRedis, Latency: 30 * time.Microsecond}
				for pb.Next() {
					c.observe(k, e)
					e.Latency += 7
				}
			})
		})
	}
}

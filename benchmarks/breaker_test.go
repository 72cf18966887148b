package benchmarks

import (
	"testing"

	"github.com/sony/gobreaker/v2"
)

// BenchmarkGobreakerClosed is the cost of sony/gobreaker's two-step
// breaker on the path every call takes while Redis is healthy (Allow, then
// done), with 32 goroutines per core as a busy service has. The cache's
// own breaker does the same with two atomic loads:
// go test ./cache/internal/breaker -run '^$' -bench Closed (see
// docs/reliability.md, "Why its own breaker").
func BenchmarkGobreakerClosed(b *testing.B) {
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{})
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			done, err := cb.Allow()
			if err != nil {
				b.Fatal(err)
			}
			done(nil)
		}
	})
}

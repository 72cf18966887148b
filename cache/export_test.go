package cache

// Realistic test values shared with the external test package's benchmarks.
type BenchHit = benchHit

var (
	BenchHits   = benchHits
	BenchVector = benchVector
)

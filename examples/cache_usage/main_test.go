package main

import (
	"context"
	"testing"
)

// The walkthrough runs start to end on the embedded server, as
// `go -C examples run ./cache_usage` does on a machine with no Redis.
func TestWalkthrough(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

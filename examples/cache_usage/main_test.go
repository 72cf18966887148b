package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/media-gateway/discovery/internal/redistest"
)

// The walkthrough runs start to end on the embedded server, as
// `go -C examples run ./cache_usage` does on a machine with no Redis, and
// says that the near cache is off there (the embedded server has no client
// tracking).
func TestWalkthrough(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	var buf bytes.Buffer
	out = &buf
	defer func() { out = os.Stdout }()
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"using an embedded in-process server",
		"near cache:     off (the server does not offer client tracking",
		"loader called 1 time(s)",
		`5 vectors for 5 texts; the embedder was called once, with ["space opera" "cosy mystery" "noir"]`,
		"51 inputs: 1 already cached, 50 loaded, 0 failed",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

// With a Redis server in REDIS_URL (a private one here), the walkthrough
// uses it and the near cache is on.
func TestWalkthroughWithRedis(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", srv.URL())
	var buf bytes.Buffer
	out = &buf
	defer func() { out = os.Stdout }()
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"using the Redis server in REDIS_URL", "near cache:     on:", "near cache on: true"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

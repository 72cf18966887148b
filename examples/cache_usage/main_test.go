package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
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
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

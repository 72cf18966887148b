// Command cachectl looks into and operates the discovery cache in Redis:
// health, server and client figures, what is stored under a query, clearing
// a kind, warming it from a file, and a quick latency check.
//
//	cachectl health
//	cachectl stats [--service http://host:8080/status.json]
//	cachectl inspect search "the last empire"
//	cachectl inspect embedding --model text-embedding-3-small "a text"
//	cachectl clear search --dry-run
//	cachectl warm search --input queries.jsonl --loader-url http://search/api
//	cachectl bench
//	cachectl version
//
// Every command connects as the library does: REDIS_URL and the other
// variables of cache.ConfigFromEnv, which the flags override. Output is a
// table for people, or JSON with --json. A failure exits with status 1 and
// a message saying what to do; a misused command, with status 2. No output
// shows a password.
package main

import (
	"fmt"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exitError is a failure with the status to exit with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usage is a misuse of the command line: status 2.
func usage(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

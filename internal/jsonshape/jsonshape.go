// Package jsonshape checks that a JSON document follows the project's
// stable form (docs/operations.md, "JSON output"): lower_snake_case keys,
// durations as seconds under keys ending in _seconds, no zero times. Tests
// of every surface that prints or serves JSON use it on real outputs.
package jsonshape

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// snakeKey is the form of every key.
var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Check decodes raw, one JSON object, and fails tb for any key that is not
// lower_snake_case, any zero time ("0001-01-01…"), and any number under a
// key ending in _seconds outside [-1, maxSeconds] (a nanosecond count
// would be far above). Keys under a key named "value" (a cached value's
// own) and under the names given in free (maps keyed by the user's names)
// are not checked for their form. It returns the object decoded, numbers
// as float64.
func Check(tb testing.TB, what string, raw []byte, maxSeconds float64, free ...string) map[string]any {
	tb.Helper()
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&v); err != nil || dec.More() {
		tb.Fatalf("%s: not one JSON object (%v):\n%s", what, err, raw)
	}
	var walk func(path, key string, x any)
	walk = func(path, key string, x any) {
		switch x := x.(type) {
		case map[string]any:
			if key == "value" {
				return
			}
			for k, e := range x {
				if !snakeKey.MatchString(k) && !contains(free, key) {
					tb.Errorf("%s: key %q at %s is not lower_snake_case", what, k, path)
				}
				if f, ok := e.(float64); ok && strings.HasSuffix(k, "_seconds") && (f < -1 || f > maxSeconds) {
					tb.Errorf("%s: %s.%s = %v is not a duration in seconds", what, path, k, f)
				}
				walk(path+"."+k, k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", key, e)
			}
		case string:
			if strings.HasPrefix(x, "0001-01-01") {
				tb.Errorf("%s: a zero time at %s", what, path)
			}
		}
	}
	walk("", "", v)
	return v
}

// At returns the value at the dotted path in v, or nil.
func At(v map[string]any, path string) any {
	var x any = v
	for _, k := range strings.Split(path, ".") {
		m, ok := x.(map[string]any)
		if !ok {
			return nil
		}
		x = m[k]
	}
	return x
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

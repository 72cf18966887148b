package jsonshape

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps the failures.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatalf(f string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(f, a...))
	panic(r)
}

func check(raw string, maxSeconds float64, free ...string) (errs []string) {
	r := &recorder{}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		errs = r.errs
	}()
	Check(r, "x", []byte(raw), maxSeconds, free...)
	return r.errs
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		free []string
		want string // a failure's words, "" for none
	}{
		{`{"ok":true,"a_b":{"c1":[{"d":1}]},"ttl_seconds":-1,"took_seconds":2.5}`, nil, ""},
		{`{"okay":{"Hits":1}}`, nil, `key "Hits"`},
		{`{"x":[{"P50":1}]}`, nil, `key "P50"`},
		{`{"value":{"Anything Goes":1}}`, nil, ""},
		{`{"kinds":{"My Kind":{"hits":1}}}`, []string{"kinds"}, ""},
		{`{"kinds":{"My Kind":{"Hits":1}}}`, []string{"kinds"}, `key "Hits"`},
		{`{"backoff_seconds":1000000000}`, nil, "not a duration in seconds"},
		{`{"since":"0001-01-01T00:00:00Z"}`, nil, "zero time"},
		{`{"a":1} {"b":2}`, nil, "not one JSON object"},
		{`[1]`, nil, "not one JSON object"},
	} {
		errs := strings.Join(check(tc.raw, 60, tc.free...), "; ")
		if tc.want == "" && errs != "" || tc.want != "" && !strings.Contains(errs, tc.want) {
			t.Errorf("Check(%s) = %q, want %q", tc.raw, errs, tc.want)
		}
	}
	v := map[string]any{"a": map[string]any{"b": 1.0}}
	if At(v, "a.b") != 1.0 || At(v, "a.c") != nil || At(v, "a.b.c") != nil {
		t.Error("At")
	}
}

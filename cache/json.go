package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// The status types (Stats, KindStats, Health, BreakerStatus, ServerStats,
// Inspection, WarmSummary…) encode to one stable JSON form, documented in
// docs/operations.md: lower_snake_case keys, durations as seconds in a key
// ending in _seconds, sizes in a key ending in _bytes, states and
// operations by name, times in RFC 3339 and absent when zero. Each decodes
// what it encodes, so that a tool can read a service's figures; a state or
// an operation it does not know (a newer writer's) decodes to the zero
// value, not an error.
//
// Health, BreakerStatus, Inspection, WarmSummary and LatencySummary have
// their own MarshalJSON: embedded in a struct of yours, it would encode
// that struct as theirs alone (Go promotes the method). Give them a field
// of their own instead.

// fromSeconds returns the duration of s seconds, rounded to the
// nanosecond; it refuses what a Duration cannot hold.
func fromSeconds(s float64, key string) (time.Duration, error) {
	ns := math.Round(s * 1e9)
	if math.IsNaN(ns) || ns >= math.MaxInt64 || ns < math.MinInt64 { // float64(MaxInt64) is 2^63, one past it
		return 0, fmt.Errorf("cache: %s: %v seconds is not a duration", key, s)
	}
	return time.Duration(ns), nil
}

// MarshalText returns the operation's name ("get", "load"…), so that it
// names JSON keys and values.
func (o Op) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText sets o to the operation named text, as String gives it;
// a name it does not know ("unknown", or a newer version's operation) sets
// it to 0.
func (o *Op) UnmarshalText(text []byte) error {
	*o = 0
	for op, name := range opNames {
		if op != 0 && name == string(text) {
			*o = Op(op)
		}
	}
	return nil
}

// MarshalText returns the state's name: "closed", "open" or "half_open".
func (s BreakerState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText sets s to the state named text, as String gives it; a
// name it does not know ("unknown") sets it to 0.
func (s *BreakerState) UnmarshalText(text []byte) error {
	*s = 0
	for _, st := range []BreakerState{BreakerClosed, BreakerOpen, BreakerHalfOpen} {
		if st.String() == string(text) {
			*s = st
		}
	}
	return nil
}

// MarshalJSON encodes the summary with its quantiles in seconds:
// {"count":…, "p50_seconds":…, "p99_seconds":…}.
func (l LatencySummary) MarshalJSON() ([]byte, error) {
	return json.Marshal(latencyJSON{Count: l.Count, P50: l.P50.Seconds(), P99: l.P99.Seconds()})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (l *LatencySummary) UnmarshalJSON(b []byte) error {
	var v latencyJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p50, err1 := fromSeconds(v.P50, "p50_seconds")
	p99, err2 := fromSeconds(v.P99, "p99_seconds")
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	*l = LatencySummary{Count: v.Count, P50: p50, P99: p99}
	return nil
}

type latencyJSON struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_seconds"`
	P99   float64 `json:"p99_seconds"`
}

// MarshalJSON encodes the status with its backoff in seconds
// (backoff_seconds).
func (s BreakerStatus) MarshalJSON() ([]byte, error) {
	type plain BreakerStatus
	return json.Marshal(struct {
		plain
		Backoff float64 `json:"backoff_seconds"`
	}{plain(s), s.Backoff.Seconds()})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (s *BreakerStatus) UnmarshalJSON(b []byte) error {
	type plain BreakerStatus
	v := struct {
		*plain
		Backoff float64 `json:"backoff_seconds"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d, err := fromSeconds(v.Backoff, "backoff_seconds")
	s.Backoff = d
	return err
}

// MarshalJSON encodes the health with its round trip in seconds
// (latency_seconds).
func (h Health) MarshalJSON() ([]byte, error) {
	type plain Health
	return json.Marshal(struct {
		Latency float64 `json:"latency_seconds"`
		plain
	}{h.Latency.Seconds(), plain(h)})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (h *Health) UnmarshalJSON(b []byte) error {
	type plain Health
	v := struct {
		Latency float64 `json:"latency_seconds"`
		*plain
	}{plain: (*plain)(h)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d, err := fromSeconds(v.Latency, "latency_seconds")
	h.Latency = d
	return err
}

// MarshalJSON encodes the inspection with its TTL in seconds (ttl_seconds:
// -1 for a key without expiry, absent when nothing exists).
func (in Inspection) MarshalJSON() ([]byte, error) {
	type plain Inspection
	v := struct {
		plain
		TTL *float64 `json:"ttl_seconds,omitempty"`
	}{plain: plain(in)}
	if in.Exists {
		ttl := -1.0
		if in.TTL >= 0 {
			ttl = in.TTL.Seconds()
		}
		v.TTL = &ttl
	}
	b, err := json.Marshal(v)
	var unsupported *json.UnsupportedValueError
	if errors.As(err, &unsupported) && in.Value != nil {
		// A float NaN or infinity, which CBOR and float32 values may hold
		// and JSON cannot: said, not failed.
		v.Value = nil
		v.DecodeError = "the value holds a number JSON cannot write (" + unsupported.Str + ")"
		return json.Marshal(v)
	}
	return b, err
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (in *Inspection) UnmarshalJSON(b []byte) error {
	type plain Inspection
	v := struct {
		*plain
		TTL   *float64        `json:"ttl_seconds"`
		Value json.RawMessage `json:"value"` // decoded below, its numbers exact
	}{plain: (*plain)(in)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	in.Value = nil
	if len(v.Value) > 0 {
		dec := json.NewDecoder(bytes.NewReader(v.Value))
		dec.UseNumber() // as Inspect gives JSON values: a 64-bit id stays exact
		if err := dec.Decode(&in.Value); err != nil {
			return err
		}
	}
	switch {
	case v.TTL == nil:
		in.TTL = 0
	case *v.TTL < 0:
		in.TTL = -1
	default:
		d, err := fromSeconds(*v.TTL, "ttl_seconds")
		in.TTL = d
		return err
	}
	return nil
}

// MarshalJSON encodes the summary with its time in seconds (took_seconds)
// and its first error's message (first_error, absent if none).
func (s WarmSummary) MarshalJSON() ([]byte, error) {
	type plain WarmSummary
	v := struct {
		plain
		FirstError string  `json:"first_error,omitempty"`
		Took       float64 `json:"took_seconds"`
	}{plain: plain(s), Took: s.Took.Seconds()}
	if s.FirstError != nil {
		v.FirstError = s.FirstError.Error()
	}
	return json.Marshal(v)
}

// UnmarshalJSON decodes what MarshalJSON encodes; the first error comes
// back as an error holding its message only (errors.Is finds no sentinel
// in it).
func (s *WarmSummary) UnmarshalJSON(b []byte) error {
	type plain WarmSummary
	v := struct {
		*plain
		FirstError string  `json:"first_error"`
		Took       float64 `json:"took_seconds"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.FirstError = nil
	if v.FirstError != "" {
		s.FirstError = errors.New(v.FirstError)
	}
	d, err := fromSeconds(v.Took, "took_seconds")
	s.Took = d
	return err
}

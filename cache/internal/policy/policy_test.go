package policy

import (
	"fmt"
	"hash/fnv"
	"testing"
	"time"
)

func TestOwnLoadAfter(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	for _, tc := range []struct {
		left, load, want time.Duration
	}{
		{300 * ms, 0, 150 * ms},        // an instant load: half the time left
		{300 * ms, 100 * ms, 150 * ms}, // 300 - 150 = 150: just fits
		{300 * ms, 140 * ms, 90 * ms},  // 300 - 210
		{300 * ms, 200 * ms, 75 * ms},  // too slow to fit: a quarter
		{0, 100 * ms, 0},               // no time left
		{-5 * ms, 100 * ms, 0},         // past the deadline
		{2 * time.Second, 10 * ms, time.Second},
	} {
		if got := OwnLoadAfter(tc.left, tc.load); got != tc.want {
			t.Errorf("OwnLoadAfter(%v, %v) = %v; want %v", tc.left, tc.load, got, tc.want)
		}
	}
}

func TestLoadBesideAfter(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	for _, tc := range []struct {
		left, load, want time.Duration
		ok               bool
	}{
		{2000 * ms, 0, 1500 * ms, true},        // an instant load: at three quarters of the time
		{2000 * ms, 100 * ms, 1500 * ms, true}, // 150 ms < 500 ms
		{2000 * ms, 1000 * ms, 500 * ms, true}, // 2000 - 1500
		{1000 * ms, 800 * ms, 0, false},        // a slow load that could not end in time: never
		{1000 * ms, 700 * ms, -50 * ms, false}, // just not
		{0, 0, 0, false},                       // no time left
	} {
		wait, ok := LoadBesideAfter(tc.left, tc.load)
		if ok != tc.ok || ok && wait != tc.want {
			t.Errorf("LoadBesideAfter(%v, %v) = %v, %v; want %v, %v", tc.left, tc.load, wait, ok, tc.want, tc.ok)
		}
	}
}

func TestForKind(t *testing.T) {
	t.Parallel()
	h := time.Hour
	for _, tc := range []struct {
		in         Kind
		ttl        time.Duration
		cold, most time.Duration
	}{
		{Kind{}, h, 0, 0},                                         // not adaptive
		{Kind{Adaptive: true}, h, h / 4, 4 * h},                   // defaults
		{Kind{Adaptive: true, Cold: 2 * h, Most: h / 2}, h, h, h}, // bounded by the TTL
		{Kind{Adaptive: true}, 0, 0, 0},                           // the key-level functions
	} {
		got := tc.in.ForKind(tc.ttl)
		if got.Cold != tc.cold || got.Most != tc.most {
			t.Errorf("%+v.ForKind(%v) = cold %v, most %v; want %v, %v", tc.in, tc.ttl, got.Cold, got.Most, tc.cold, tc.most)
		}
	}
}

func TestJittered(t *testing.T) {
	t.Parallel()
	p := Kind{Jitter: 0.1}
	const ttl = time.Hour
	lo, hi := ttl, time.Duration(0)
	fractions := map[time.Duration]bool{}
	for i := range 10000 {
		key := fmt.Sprint("user:", i)
		got := p.Jittered(ttl, key)
		if got > ttl || got <= ttl-ttl/10 {
			t.Fatalf("Jittered(%v, %q) = %v; want in (54m, 1h]", ttl, key, got)
		}
		if again := p.Jittered(ttl, key); again != got {
			t.Fatalf("Jittered(%q) = %v, then %v; want the same for the same key", key, got, again)
		}
		lo, hi = min(lo, got), max(hi, got)
		fractions[got/time.Second] = true
	}
	// Keys that differ only at their end spread over the whole range.
	if hi-lo < 5*time.Minute || len(fractions) < 350 {
		t.Errorf("10,000 keys user:N jittered within [%v, %v], %d distinct seconds; want them spread over the 360 s of the 6 min", lo, hi, len(fractions))
	}
	if got := (Kind{}).Jittered(ttl, "k"); got != ttl {
		t.Errorf("no jitter: Jittered = %v; want %v", got, ttl)
	}
	cold := Kind{Jitter: 0.1, Cold: time.Minute}
	if got := cold.StoreTTL(ttl, "k"); got > time.Minute || got < 54*time.Second {
		t.Errorf("StoreTTL of an adaptive kind = %v; want its ColdTTL (1m), jittered", got)
	}
}

// KeyFraction is FNV-1a, mixed: the draws of the values written before
// it was written out by hand stay where they were.
func TestKeyFractionIsFNV(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "a", "discovery:search:0123", "user:1", "ü€"} {
		h := fnv.New64a()
		h.Write([]byte(key))
		x := h.Sum64()
		x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
		x = (x ^ x>>27) * 0x94d049bb133111eb
		x ^= x >> 31
		if want := float64(x>>11) / (1 << 53); KeyFraction(key) != want {
			t.Errorf("KeyFraction(%q) = %v; want %v", key, KeyFraction(key), want)
		}
	}
}

func TestRefreshNow(t *testing.T) {
	t.Parallel()
	p := Kind{Refresh: 1}
	const load = 100 * time.Millisecond
	draws := 0
	draw := func(v float64) func() float64 { return func() float64 { draws++; return v } }
	for _, tc := range []struct {
		gap  time.Duration
		draw float64
		want bool
	}{
		{time.Minute, 100, false},          // 600 × the load: not even drawn
		{50 * time.Millisecond, 1, true},   // 50 ms ≤ 100 ms × 1
		{150 * time.Millisecond, 1, false}, // 150 ms > 100 ms × 1
		{150 * time.Millisecond, 2, true},
		{-time.Second, 0, true}, // expired already
	} {
		if got := p.RefreshNow(tc.gap, load, draw(tc.draw)); got != tc.want {
			t.Errorf("RefreshNow(gap %v, load %v, draw %v) = %v; want %v", tc.gap, load, tc.draw, got, tc.want)
		}
	}
	if draws != 4 {
		t.Errorf("%d draws; want 4 (none far from expiry)", draws)
	}
	if (Kind{}).RefreshNow(-time.Second, load, draw(1)) {
		t.Error("RefreshNow without early refresh = true")
	}
}

func TestExtension(t *testing.T) {
	t.Parallel()
	const ttl = int64(time.Hour)
	p := Kind{Adaptive: true}.ForKind(time.Hour) // MaxTTL 4 h
	born := int64(1_000_000 * time.Hour)
	for _, tc := range []struct {
		name      string
		born, exp int64
		now       int64
		at        int64
		ok        bool
	}{
		{"more than half left", born, born + ttl, born + ttl/4, 0, false},
		{"less than half left", born, born + ttl, born + 3*ttl/4, born + 7*ttl/4, true},
		{"capped at MaxTTL", born, born + 3*ttl + ttl/2, born + 3*ttl + ttl/4, born + 4*ttl, true},
		{"too little to gain before MaxTTL", born, born + 4*ttl - ttl/16, born + 4*ttl - ttl/8, 0, false},
		{"unknown expiry", born, 0, born, 0, false},
		{"unknown birth", 0, born + ttl, born + 3*ttl/4, 0, false},
	} {
		at, ok := p.Extension(time.Hour, tc.born, tc.exp, tc.now)
		if ok != tc.ok || at != tc.at {
			t.Errorf("%s: Extension = %v, %v; want %v, %v", tc.name, at, ok, tc.at, tc.ok)
		}
	}
	if _, ok := (Kind{}).Extension(time.Hour, born, born+ttl, born+3*ttl/4); ok {
		t.Error("Extension of a kind that is not adaptive: ok")
	}
}

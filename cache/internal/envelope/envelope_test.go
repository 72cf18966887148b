package envelope

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1764115200123)
	b := AppendHeader(nil, CodecJSON, 0, at)
	b = append(b, `{"a":1}`...)
	h, payload, err := Parse(b, CodecJSON)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != Version || h.Codec != CodecJSON || h.Flags != 0 || !h.WrittenAt.Equal(at) {
		t.Errorf("header %+v", h)
	}
	if string(payload) != `{"a":1}` {
		t.Errorf("payload %q", payload)
	}
	// The layout is part of the stored format.
	want := []byte{0xDC, 1, 1, 0, 0x7b, 0xb8, 0x75, 0xbd, 0x9a, 0x01, 0, 0} // 1764115200123 LE
	if !bytes.Equal(b[:HeaderSize], want) {
		t.Errorf("header bytes % x, want % x", b[:HeaderSize], want)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	good := AppendHeader(nil, CodecFloat32LE, 0, time.Now())
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"short", good[:11], ErrTruncated},
		{"foreign", []byte(`{"json":"from elsewhere"}`), ErrForeign},
		{"version", append([]byte{Magic, 2}, good[2:]...), ErrVersion},
		{"flags", append([]byte{Magic, Version, byte(CodecFloat32LE), 0x80}, good[4:]...), ErrFlags},
		{"codec", good, ErrCodec}, // parsed as JSON below
	}
	for _, tt := range tests {
		if _, _, err := Parse(tt.b, CodecJSON); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if Codec(9).String() != "unknown(9)" || CodecFloat32LE.String() != "float32le" {
		t.Error("Codec.String")
	}
}

func TestSealAndOpen(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1764115200123)
	text := bytes.Repeat([]byte(`{"id":"tt0076759","title":"Star Wars","score":0.98},`), 40)
	buf := append(AppendHeader(nil, CodecJSON, 0, at), text...)
	sealed := Seal(bytes.Clone(buf), 1024)
	if Flags(sealed[3])&FlagS2 == 0 || len(sealed) >= len(buf)/2 {
		t.Fatalf("a %d-byte repetitive payload was stored in %d bytes, flags %x", len(text), len(sealed), sealed[3])
	}
	h, plain, err := Open(sealed, CodecJSON, len(text))
	if err != nil || !bytes.Equal(plain, text) || !h.WrittenAt.Equal(at) {
		t.Fatalf("Open: %v, equal %v", err, bytes.Equal(plain, text))
	}
	if _, _, err := Open(sealed, CodecJSON, len(text)-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("expansion past the maximum: %v, want ErrTooLarge", err)
	}
	broken := bytes.Clone(sealed)
	broken[len(broken)-5] ^= 0xff
	broken = broken[:len(broken)-3]
	if _, _, err := Open(broken, CodecJSON, 1<<20); !errors.Is(err, ErrCompressed) {
		t.Errorf("corrupt compressed payload: %v, want ErrCompressed", err)
	}
	// Below the threshold, disabled, or not worth it: returned as it is.
	for name, tc := range map[string]struct {
		payload []byte
		min     int
	}{
		"below threshold": {text[:500], 1024},
		"disabled":        {text, -1},
		"incompressible":  {randomBytes(4096), 1024},
	} {
		in := append(AppendHeader(nil, CodecJSON, 0, at), tc.payload...)
		if out := Seal(bytes.Clone(in), tc.min); !bytes.Equal(out, in) {
			t.Errorf("%s: Seal changed the value (%d → %d bytes)", name, len(in), len(out))
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func FuzzParse(f *testing.F) {
	f.Add(AppendHeader(nil, CodecJSON, 0, time.Now()))
	f.Add(append(AppendHeader(nil, CodecFloat32LE, 0, time.Now()), 0, 0, 0x80, 0x3f))
	f.Add([]byte("plain"))
	f.Add(Seal(append(AppendHeader(nil, CodecJSON, 0, time.Now()), bytes.Repeat([]byte("abc"), 100)...), 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range []Codec{CodecJSON, CodecFloat32LE} {
			Open(b, c, 1<<20) // must not panic or allocate without bound
			h, payload, err := Parse(b, c)
			if err != nil {
				continue
			}
			if h.Codec != c || len(payload) != len(b)-HeaderSize {
				t.Fatalf("accepted %x as %+v with %d payload bytes", b, h, len(payload))
			}
			if again := append(AppendHeader(nil, c, h.Flags, h.WrittenAt), payload...); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs: %x vs %x", again, b)
			}
		}
	})
}

// A short value that claims a large decompressed length is refused without
// allocating that length; a payload that compresses beyond MaxRatio is
// stored as it is, so that every value Seal writes, Open reads.
func TestOpenBoundedByBytesReceived(t *testing.T) {
	// 7 bytes of S2 block: a length prefix of 4,000,000 (varint), then junk.
	claim := AppendHeader(nil, CodecJSON, FlagS2, time.Now())
	claim = append(claim, 0x80, 0x92, 0xf4, 0x01, 0x00, 0x00, 0x00)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, _, err := Open(claim, CodecJSON, 8<<20); !errors.Is(err, ErrCompressed) {
			t.Fatalf("Open = %v, want ErrCompressed", err)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("ten refusals allocated %d bytes", grew)
	}

	zeros := AppendHeader(nil, CodecJSON, 0, time.Now())
	zeros = append(zeros, make([]byte, 1<<20)...)
	sealed := Seal(zeros, 1024)
	if len(sealed) != len(zeros) || sealed[3] != 0 {
		t.Errorf("1 MiB of zeros sealed into %d bytes, flags %x; want it kept as it is", len(sealed), sealed[3])
	}
	if _, p, err := Open(sealed, CodecJSON, 8<<20); err != nil || len(p) != 1<<20 {
		t.Errorf("Open of what Seal wrote: %d bytes, %v", len(p), err)
	}
}

func TestWrittenAt(t *testing.T) {
	at := time.UnixMilli(1_700_000_123_456)
	b := AppendHeader(nil, CodecJSON, 0, at)
	if got, ok := WrittenAt(append(b, '1')); !ok || !got.Equal(at) {
		t.Errorf("WrittenAt = %v, %v; want %v", got, ok, at)
	}
	for _, b := range [][]byte{nil, []byte(`{"plain":"json"}`), b[:HeaderSize-1]} {
		if _, ok := WrittenAt(b); ok {
			t.Errorf("WrittenAt(%q) found a time in bytes that are not an envelope", b)
		}
	}
}

// A decompressed payload is a buffer of its own: it shares no memory with
// the stored bytes nor with another read's payload.
func TestOpenDecompressesIntoANewBuffer(t *testing.T) {
	payload := bytes.Repeat([]byte("twenty search hits "), 30)
	raw := Seal(append(AppendHeader(nil, CodecCBOR, 0, time.Now()), payload...), 64)
	if Flags(raw[3])&FlagS2 == 0 {
		t.Fatal("not compressed")
	}
	_, a, err := Open(raw, CodecCBOR, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	_, b, _ := Open(raw, CodecCBOR, 1<<20)
	a[0] = 'X'
	if b[0] == 'X' || raw[HeaderSize] == 'X' || !bytes.Equal(b, payload) {
		t.Error("a decompressed payload shares memory with the stored bytes or another payload")
	}
}

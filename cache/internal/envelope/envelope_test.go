package envelope

import (
	"bytes"
	"errors"
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
		{"flags", append([]byte{Magic, Version, byte(CodecFloat32LE), 0x01}, good[4:]...), ErrFlags},
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

func FuzzParse(f *testing.F) {
	f.Add(AppendHeader(nil, CodecJSON, 0, time.Now()))
	f.Add(append(AppendHeader(nil, CodecFloat32LE, 0, time.Now()), 0, 0, 0x80, 0x3f))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range []Codec{CodecJSON, CodecFloat32LE} {
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

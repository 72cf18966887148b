// Package envelope frames every value the cache stores in Redis.
//
// A stored value is a 12-byte header followed by the codec's payload:
//
//	offset size field
//	0      1    magic (0xDC): tells this cache's values from foreign bytes
//	1      1    format version (1)
//	2      1    codec of the payload (see Codec)
//	3      1    flags (none defined yet; a reader refuses flags it does not know)
//	4      8    written-at time, Unix milliseconds, little-endian int64
//	12     n    payload
//
// The header lets the format evolve (a new version or flag is refused by old
// readers instead of being misread) and lets later features such as early
// refresh or serve-stale read a value's age without a migration.
package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Header layout constants.
const (
	Magic      byte = 0xDC
	Version    byte = 1
	HeaderSize      = 12
)

// Codec names the encoding of the payload.
type Codec byte

// The codecs a value can be stored with. Numbers are part of the stored
// format: never renumber them.
const (
	CodecJSON      Codec = 1 // encoding/json
	CodecFloat32LE Codec = 2 // packed little-endian IEEE-754 float32
)

// String returns the codec's name, or "unknown(N)".
func (c Codec) String() string {
	switch c {
	case CodecJSON:
		return "json"
	case CodecFloat32LE:
		return "float32le"
	default:
		return fmt.Sprintf("unknown(%d)", byte(c))
	}
}

// Flags are per-value bits. None are defined in version 1.
type Flags byte

// knownFlags is the set of flags this reader understands.
const knownFlags Flags = 0

// Header is the decoded envelope header.
type Header struct {
	Version   byte
	Codec     Codec
	Flags     Flags
	WrittenAt time.Time
}

// Errors returned by Parse. They describe why bytes are not a value this
// cache can read.
var (
	ErrTruncated   = errors.New("envelope: value shorter than its 12-byte header")
	ErrForeign     = errors.New("envelope: not written by this cache (bad magic byte)")
	ErrVersion     = errors.New("envelope: unsupported format version")
	ErrFlags       = errors.New("envelope: unsupported flags")
	ErrCodec       = errors.New("envelope: stored codec differs from the expected one")
	ErrPayloadSize = errors.New("envelope: payload size is not valid for its codec")
)

// AppendHeader appends a header for a value encoded with c, written at t.
func AppendHeader(dst []byte, c Codec, f Flags, t time.Time) []byte {
	dst = append(dst, Magic, Version, byte(c), byte(f))
	return binary.LittleEndian.AppendUint64(dst, uint64(t.UnixMilli()))
}

// Parse splits b into its header and payload. It checks the magic byte,
// the version and the flags, and that the codec is want. The returned
// payload aliases b.
func Parse(b []byte, want Codec) (Header, []byte, error) {
	if len(b) < HeaderSize {
		return Header{}, nil, fmt.Errorf("%w (%d bytes)", ErrTruncated, len(b))
	}
	if b[0] != Magic {
		return Header{}, nil, fmt.Errorf("%w (0x%02x)", ErrForeign, b[0])
	}
	h := Header{
		Version:   b[1],
		Codec:     Codec(b[2]),
		Flags:     Flags(b[3]),
		WrittenAt: time.UnixMilli(int64(binary.LittleEndian.Uint64(b[4:HeaderSize]))),
	}
	if h.Version != Version {
		return h, nil, fmt.Errorf("%w %d (this reader knows %d)", ErrVersion, h.Version, Version)
	}
	if h.Flags&^knownFlags != 0 {
		return h, nil, fmt.Errorf("%w 0x%02x", ErrFlags, byte(h.Flags))
	}
	if h.Codec != want {
		return h, nil, fmt.Errorf("%w: stored %s, expected %s", ErrCodec, h.Codec, want)
	}
	return h, b[HeaderSize:], nil
}

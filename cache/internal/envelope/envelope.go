// Package envelope frames every value the cache stores in Redis.
//
// A stored value is a 12-byte header followed by the codec's payload:
//
//	offset size field
//	0      1    magic (0xDC): tells this cache's values from foreign bytes
//	1      1    format version (1)
//	2      1    codec of the payload (see Codec)
//	3      1    flags: bit 0 = payload is S2-compressed; a reader refuses flags it does not know
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
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
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
	CodecCBOR      Codec = 3 // CBOR (RFC 8949) of plain data, following json tags
	CodecFloat16LE Codec = 4 // packed little-endian IEEE-754 float16 (binary16)
	CodecInt8      Codec = 5 // a float32 scale, then one signed byte a component
)

// String returns the codec's name, or "unknown(N)".
func (c Codec) String() string {
	switch c {
	case CodecJSON:
		return "json"
	case CodecFloat32LE:
		return "float32le"
	case CodecCBOR:
		return "cbor"
	case CodecFloat16LE:
		return "float16le"
	case CodecInt8:
		return "int8"
	default:
		return fmt.Sprintf("unknown(%d)", byte(c))
	}
}

// Flags are per-value bits.
type Flags byte

// The flags of format version 1. Numbers are part of the stored format.
const (
	// FlagS2 marks a payload compressed with S2 (block format,
	// github.com/klauspost/compress/s2).
	FlagS2 Flags = 1 << 0
)

// knownFlags is the set of flags this reader understands.
const knownFlags = FlagS2

// Header is the decoded envelope header.
type Header struct {
	Version   byte
	Codec     Codec
	Flags     Flags
	WrittenAt time.Time
}

// Errors returned by Parse (the first six) and Open (all). They describe
// why bytes are not a value this cache can read.
var (
	ErrTruncated   = errors.New("envelope: value shorter than its 12-byte header")
	ErrForeign     = errors.New("envelope: not written by this cache (bad magic byte)")
	ErrVersion     = errors.New("envelope: unsupported format version")
	ErrFlags       = errors.New("envelope: unsupported flags")
	ErrCodec       = errors.New("envelope: stored codec differs from the expected one")
	ErrPayloadSize = errors.New("envelope: payload size is not valid for its codec")
	ErrCompressed  = errors.New("envelope: compressed payload is corrupt")
	ErrTooLarge    = errors.New("envelope: payload larger than the configured maximum")
)

// AppendHeader appends a header for a value encoded with c, written at t.
func AppendHeader(dst []byte, c Codec, f Flags, t time.Time) []byte {
	dst = append(dst, Magic, Version, byte(c), byte(f))
	return binary.LittleEndian.AppendUint64(dst, uint64(t.UnixMilli()))
}

// Seal turns a buffer made of AppendHeader followed by the payload into a
// stored value: if the payload is at least compressMin bytes (and
// compressMin > 0) and S2 shrinks it by at least an eighth, the result holds
// the compressed payload and FlagS2; otherwise buf is returned as it is.
func Seal(buf []byte, compressMin int) []byte {
	payload := buf[HeaderSize:]
	if compressMin <= 0 || len(payload) < compressMin {
		return buf
	}
	// Compress into reusable scratch space, and allocate only for a result
	// worth keeping: vectors, which never shrink, then cost no allocation.
	scratch := scratchBuffers.Get().(*[]byte)
	defer scratchBuffers.Put(scratch)
	if n := s2.MaxEncodedLen(len(payload)); cap(*scratch) < n {
		*scratch = make([]byte, n)
	}
	compressed := s2.Encode((*scratch)[:cap(*scratch)], payload)
	if len(compressed) > len(payload)-len(payload)/8 {
		return buf // not worth a decompression on every read
	}
	if len(compressed)*MaxRatio < len(payload) {
		return buf // a reader refuses more expansion than MaxRatio (see Open)
	}
	out := make([]byte, HeaderSize+len(compressed))
	copy(out, buf[:HeaderSize])
	copy(out[HeaderSize:], compressed)
	out[3] |= byte(FlagS2)
	return out
}

// scratchBuffers hold Seal's compression output until it is copied.
var scratchBuffers = sync.Pool{New: func() any { return new([]byte) }}

// MaxRatio is the most a stored payload may expand when decompressed. Seal
// keeps payloads that compress more as they are, and Open refuses to
// allocate more than MaxRatio times the bytes received, whatever length a
// corrupt header claims.
const MaxRatio = 64

// Open is Parse followed by decompression: it returns the header and the
// plain payload, refusing a compressed payload that would expand past
// maxPayload bytes, or past MaxRatio times its own size (so corrupt bytes
// cannot make it allocate beyond what they could hold). The payload
// aliases b when it was not compressed; decompressed, it is a new buffer
// that nothing else holds, which the caller may keep (the codecs' Owner
// relies on it: never decompress into a pooled buffer).
func Open(b []byte, want Codec, maxPayload int) (Header, []byte, error) {
	h, payload, err := Parse(b, want)
	if err != nil || h.Flags&FlagS2 == 0 {
		return h, payload, err
	}
	n, err := s2.DecodedLen(payload)
	if err != nil {
		return h, nil, fmt.Errorf("%w: %v", ErrCompressed, err)
	}
	if n > maxPayload {
		return h, nil, fmt.Errorf("%w: %d bytes once decompressed, the maximum is %d", ErrTooLarge, n, maxPayload)
	}
	if n > MaxRatio*len(payload) {
		return h, nil, fmt.Errorf("%w: %d bytes claim to expand to %d, more than %d times", ErrCompressed, len(payload), n, MaxRatio)
	}
	plain, err := s2.Decode(make([]byte, n), payload)
	if err != nil {
		return h, nil, fmt.Errorf("%w: %v", ErrCompressed, err)
	}
	return h, plain, nil
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

// WrittenAt returns the written-at time of b, a stored value, without
// checking more than its magic byte and length; false when b is not an
// envelope (plain JSON of the original service, foreign bytes).
func WrittenAt(b []byte) (time.Time, bool) {
	if len(b) < HeaderSize || b[0] != Magic {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.LittleEndian.Uint64(b[4:12]))), true
}

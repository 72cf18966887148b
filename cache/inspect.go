package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/media-gateway/discovery/cache/internal/codec"
	"github.com/media-gateway/discovery/cache/internal/envelope"
	"github.com/media-gateway/discovery/cache/internal/lease"
)

// Inspection describes what is stored under one key, for operators (see
// [RedisCache.Inspect] and cachectl inspect).
type Inspection struct {
	Key    string        `json:"key"`        // the Redis key
	Kind   string        `json:"kind"`       // the kind its first segment after the namespace names ("search"…), "" outside the namespace
	Exists bool          `json:"exists"`     // false: nothing under the key (the other fields are zero)
	TTL    time.Duration `json:"-"`          // time left to live; -1 for a key without expiry (ttl_seconds in JSON, -1 without expiry, absent when nothing exists)
	Size   int           `json:"size_bytes"` // bytes stored, as Redis holds them

	// Lease is true when the key holds a lease (another process is
	// loading its value; see Policy.Lease) or an early refresh's claim,
	// not a value.
	Lease bool `json:"lease"`
	// Codec is the payload's encoding ("cbor", "json", "float32le", "float16le", "int8"), ""
	// when the bytes are not a value of this cache (written by something
	// else, or by the original service: see Legacy).
	Codec string `json:"codec,omitempty"`
	// Plain is true for plain JSON without this cache's envelope, as the
	// original service writes it (Config.Legacy reads such values): Value
	// holds it decoded.
	Plain      bool      `json:"plain"`
	Compressed bool      `json:"compressed"`          // the payload is S2-compressed
	WrittenAt  time.Time `json:"written_at,omitzero"` // when the value was written; zero for foreign bytes
	Payload    int       `json:"payload_bytes"`       // the payload's size, decompressed

	// Value is the value decoded without its type: maps, slices, strings,
	// numbers, exactly as stored (json.Number from JSON, int64 or uint64
	// from CBOR's integers, float64 from its floats), or []float32 for an
	// embedding. Nil when it could not be decoded; DecodeError then says
	// why.
	Value       any    `json:"value,omitempty"`
	DecodeError string `json:"decode_error,omitempty"`
}

// Inspect reads what is stored under key, a Redis key (a [Kind.Key], or
// a key-level function's key with the namespace in front), and describes
// it: TTL, size, codec, compression, when it was written, and the value
// decoded without its type. It changes nothing: no TTL is extended, no
// near cache filled, no value repaired. A key that does not exist gives
// Exists false and no error; bytes that are not a value of this cache give
// DecodeError, not an error. It fails as Get does when Redis does.
func (c *RedisCache) Inspect(ctx context.Context, key string) (Inspection, error) {
	in := Inspection{Key: key}
	if key == "" {
		return in, errEmptyKey(OpGet)
	}
	if rest, ok := strings.CutPrefix(key, c.cfg.Namespace+":"); ok {
		in.Kind, _, _ = strings.Cut(rest, ":")
	}
	raw, pttl, found, err := c.getWithTTL(ctx, key, false)
	if err != nil {
		return in, fail(err, OpGet, c.kinds.whole, key)
	}
	if !found {
		return in, nil
	}
	in.Exists, in.Size = true, len(raw)
	in.TTL = time.Duration(pttl) * time.Millisecond
	if pttl < 0 {
		in.TTL = -1
	}
	if lease.Is(raw) || strings.HasSuffix(key, refreshSuffix) {
		in.Lease = true
		return in, nil
	}
	if len(raw) < envelope.HeaderSize || raw[0] != envelope.Magic {
		if json.Valid(raw) {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if dec.Decode(&in.Value) == nil {
				in.Plain = true // the original service's format (see Legacy), or another writer's JSON
				return in, nil
			}
		}
		in.DecodeError = "not a value of this cache (no envelope, not JSON): written by another client"
		return in, nil
	}
	stored := envelope.Codec(raw[2])
	h, payload, err := envelope.Open(raw, stored, c.cfg.MaxValueBytes)
	in.Codec, in.Compressed, in.WrittenAt = stored.String(), h.Flags&envelope.FlagS2 != 0, h.WrittenAt
	if err != nil {
		in.DecodeError = err.Error()
		return in, nil
	}
	in.Payload = len(payload)
	if in.Value, err = codec.Any(stored, payload); err != nil {
		in.Value, in.DecodeError = nil, errors.Join(errors.New("the payload does not decode"), err).Error()
	}
	return in, nil
}

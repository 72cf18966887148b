package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/media-gateway/discovery/cache/internal/canon"

	"github.com/maypok86/otter/v2"

	"github.com/media-gateway/discovery/cache/internal/near"
)

// GenerateKey derives a deterministic key for data:
//
//	prefix + ":" + hex(sha256(canonical JSON of data))
//
// Canonical JSON is what encoding/json writes with HTML escaping turned off
// and without a trailing newline: map keys sorted, struct fields in
// declaration order. Equal inputs give equal keys in every process and
// across releases; any change of the input (even one of letter case or
// white space) gives another key, except that encoding/json replaces invalid
// UTF-8 bytes in strings with U+FFFD before hashing. The cache puts its namespace in front of
// the result when it talks to Redis.
//
// GenerateKey fails with an error wrapping [ErrKeyGeneration] when data
// cannot be encoded as JSON (channels, functions, NaN, cyclic values…).
func GenerateKey(prefix string, data any) (string, error) {
	key, err := appendKey(make([]byte, 0, len(prefix)+1+sha256.Size*2), prefix, data)
	if err != nil {
		return "", &Error{Op: OpGenerateKey, Kind: prefix, Class: ErrKeyGeneration, Cause: err}
	}
	return key, nil
}

// maxPooledKeyBuffer keeps one huge key input from pinning its buffer in
// the pool.
const maxPooledKeyBuffer = 64 << 10

// keyEncoder is a reusable JSON encoder writing into its own buffer.
type keyEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var keyEncoders = sync.Pool{New: func() any {
	e := new(keyEncoder)
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// appendKey appends prefix, ':' and the hex SHA-256 of data's canonical
// JSON to dst and returns it as a string. Its error is the bare cause.
func appendKey(dst []byte, prefix string, data any) (string, error) {
	e := keyEncoders.Get().(*keyEncoder)
	defer func() {
		if e.buf.Cap() <= maxPooledKeyBuffer {
			keyEncoders.Put(e)
		}
	}()
	e.buf.Reset()
	if err := e.enc.Encode(data); err != nil {
		return "", fmt.Errorf("input is not JSON-serialisable: %w", err)
	}
	sum := sha256.Sum256(bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'}))
	dst = append(dst, prefix...)
	dst = append(dst, ':')
	dst = hex.AppendEncode(dst, sum[:])
	return string(dst), nil
}

// EscapePattern escapes the glob characters of s (* ? [ ] \) so that s
// matches only itself when placed in a pattern given to
// [RedisCache.DeletePattern]:
//
//	c.DeletePattern(ctx, "user:"+cache.EscapePattern(userText)+":*")
func EscapePattern(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// keyMemo remembers the Redis keys of recently used string inputs of
// every kind, so that reading the same input again does not hash it again
// (SHA-256 of its JSON is most of the cost of a near-cache hit, and three
// allocations of any operation).
type keyMemo = otter.Cache[memoKey, string]

// memoKey is an input of a view of a kind: view tells apart the views whose
// keys differ for one input (the model of Embeddings, the parser version
// of Intents).
type memoKey struct {
	kind     *kindState
	view, in string
}

// maxMemoInput is the largest input whose key is remembered.
const maxMemoInput = 1 << 10

// newKeyMemo returns a memo of at most maxBytes, counting each input, its
// key and a fixed overhead.
func newKeyMemo(maxBytes int) *keyMemo {
	return otter.Must(&otter.Options[memoKey, string]{
		MaximumWeight: uint64(max(maxBytes, 1)),
		Weigher: func(k memoKey, key string) uint32 {
			return uint32(len(k.view) + len(k.in) + len(key) + near.EntryOverhead)
		},
		Clock: stoppedClock{},
	})
}

// stoppedClock is the clock of caches whose entries never expire: reading
// the time on every lookup would cost a fifth of a near-cache hit for
// nothing. A nil Tick channel means no periodic clean-up.
type stoppedClock struct{}

func (stoppedClock) NowNano() int64                      { return 0 }
func (stoppedClock) Tick(time.Duration) <-chan time.Time { return nil }

// CanonicalForm returns the canonical form of a query's text, by which a
// kind with Policy.CanonicalKeys keys it: its words folded and normalised
// (case, accents, punctuation, filler phrases, decades, plurals of
// category words…) and, where their order cannot change the meaning, its
// parts sorted, separated by " | ". Texts with one form share one key;
// texts that differ in a number, a year, a negation, a comparison, a name
// or a genre never do. docs/meaning.md lists the rules, version
// [CanonicalVersion].
func CanonicalForm(text string) string { return canon.Form(text) }

// CanonicalVersion is the version of CanonicalForm's rules. It is hashed
// into every canonical key: a change of the rules changes the keys, so a
// value is never served under another version's form.
const CanonicalVersion = canon.Version

// NearMatchGuard reports whether a value cached for the text cached may
// be served for the text asked, however close their vectors are: whether
// every guard of the near match passes. The two texts must agree on their
// numbers (years and decades; counts, sequel numbers and ordinals with
// what they count), negations and exclusions and what they apply to,
// comparisons, ranks and relations and what they apply to, each name's
// role (who made it, who is in it), the kinds of thing asked for, where
// it is and in what language, a title's leading "the", every word that is
// not a common word of media queries (names, titles, topics), and their
// quoted titles; spellings that say one thing whatever the query are one
// ("rocky ii", "rocky 2"; "netflix documentaries", "documentaries on
// netflix"). reason names the guard that refused, with both sides; "" when
// ok. docs/meaning.md lists the guards and the spellings.
func NearMatchGuard(cached, asked string) (ok bool, reason string) { return canon.Guard(cached, asked) }

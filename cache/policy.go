package cache

import (
	"strings"
	"time"

	"github.com/media-gateway/discovery/cache/internal/policy"
)

// Policy tunes how a kind loads its values and lets them expire (see
// Config.Policy and Config.Policies). Each zero field means its default.
type Policy struct {
	// Lease makes one process load a missing key for a fleet: a Fetch that
	// misses first writes a short lease under the key (SET NX, for this
	// long), and the Fetches of other processes that then miss wait for the
	// value it stores instead of calling their own loaders (woken by the
	// server's invalidation when the near cache is on, else polling with
	// backoff). They wait at most this long, and never more than half the
	// time their caller's deadline leaves, then load for themselves, so a
	// leaseholder that died stalls no one for longer. The lease is released
	// if its load fails or its value cannot be stored. The value loaded
	// under a lease is stored only while the key still holds the lease (or,
	// once the lease has lived its life, holds nothing): a Set, Delete or
	// clear of the key during the load, in any process, wins over the older
	// value. Without a lease, a loaded value is stored only if the key
	// still holds nothing: a Set during the load wins, a Delete does not.
	// If zero, 2 s; negative turns leases off.
	Lease time.Duration

	// TTLJitter shortens each write's TTL by a fraction of up to this
	// much, drawn from the key (so every reader can tell when a value
	// expires), so that keys written together do not expire together: 0.1
	// keeps each value for 90% to 100% of its kind's TTL. If zero, 0.1;
	// negative, none; at most 0.5. The key-level functions (KindCustom)
	// store for the TTL they are given unless Policies[KindCustom] sets
	// it.
	TTLJitter float64

	// EarlyRefresh lets a Fetch that hits reload the value in the
	// background shortly before it expires, so that a hot key is never
	// missed: each hit refreshes with a probability that grows as expiry
	// nears, exp(-time left / (EarlyRefresh × the kind's load time)) —
	// XFetch, "optimal probabilistic cache stampede prevention" (Vattani et
	// al., VLDB 2015). Callers keep getting the current value meanwhile;
	// one refresh runs per key in a process. The load time is an average
	// of the kind's loads in this process (100 ms until one is timed).
	// Larger values refresh earlier. If zero, 1; negative turns it off.
	EarlyRefresh float64

	// Adaptive makes a kind's TTL follow its reads (off unless set): a
	// value is first stored for ColdTTL, and a hit (Get, Fetch) of a value
	// with less than half the kind's TTL left extends its life to the TTL
	// from the hit (a PEXPIREAT in the background, at most one at a time
	// per key in a process), but never past MaxTTL after it was written.
	// Keys read again and again stay, their age bounded by MaxTTL (early
	// refresh reloads them before that), and keys never read again leave
	// early, freeing Redis memory. It applies to kinds, not to the
	// key-level functions; batch reads do not extend.
	Adaptive bool
	// ColdTTL is how long an adaptive kind's values live until read: if
	// zero, a quarter of the kind's TTL; at most the TTL. Negative in
	// Policies[name] turns Adaptive off for that kind (when Policy turns
	// it on for all).
	ColdTTL time.Duration
	// MaxTTL is the longest an adaptive kind's value lives after it was
	// written: if zero, four times the kind's TTL; at least the TTL.
	MaxTTL time.Duration

	// ReplicaReads sends a kind's reads to replicas, on a Redis Cluster or
	// with Sentinel, to spread the load of reads over more servers (off
	// unless set; Policy's applies to every kind, and a kind's own cannot
	// turn it off). Only for kinds that tolerate stale reads: a replica
	// lags its primary by the replication delay (usually under a
	// millisecond, more under load or after a reconnection), so a read
	// just after a write may miss the value or see the one before, and a
	// deleted or cleared value may be read once more. With the near cache
	// on, a replica's value is tracked on the replica, which reports the
	// change when it applies it. On a cluster, the reads that fill the
	// near cache still go to primaries (the cluster client sends a read
	// with tracking to the slot's primary); plain reads, batches and the
	// reads of a cache without the near cache go to replicas. With one
	// server, it has no effect. Writes, leases (a write and a read in one
	// transaction) and clears always go to primaries. The key-level
	// functions follow Policies[KindCustom], but for keys whose first
	// segment is a kind's name, which follow that kind.
	ReplicaReads bool

	// CanonicalKeys keys a kind's string inputs by their canonical form
	// (see [CanonicalForm]) instead of their exact text, so that spellings
	// that cannot differ in meaning share one key and one value: "Tom
	// Hanks comedies from the '90s!" and "90s comedies with tom hanks"
	// are one search, one intent; "comedies before 1990" and "comedies
	// after 1990" never are (docs/meaning.md lists the rules). Off unless
	// set. It applies to the kinds whose input is a string (Search with
	// string queries, Intents, NewKind[string, V]); Policy's applies to
	// all of them but the embeddings, whose vectors are of their exact
	// text (Policies[KindEmbedding] may not set it), and the key-level
	// functions, whose keys are yours. The rules' version is hashed into
	// the key, so a change of the rules never serves a value under another
	// version's form; turning it on or off changes the kind's keys (its
	// values are then loaded again). With Config.Legacy LegacyReadWrite the
	// built-in kinds keep the original service's keys, so it may not be
	// set for them.
	CanonicalKeys bool

	// NearMatch turns on and tunes the near match of [FetchSimilar] for a
	// kind whose input is a text: a cached neighbour's value served (or,
	// in shadow mode, compared with the loaded one) when the caller's
	// vector is close enough and every guard passes. Off unless Mode is
	// set. Policy's applies to the kinds whose input is a string but the
	// embeddings and the key-level functions, which Policies may not set
	// it for. Each zero field takes Policy's, then its default.
	NearMatch NearMatch

	// VectorEncoding is how a kind of vectors (the embeddings, or a
	// NewKind[K, []float32]) stores them in Redis: VectorFloat32 (exact,
	// 4 bytes a dimension: the default), VectorFloat16 (2 bytes a
	// dimension, a relative error under 5e-4 a component: cosine to the
	// original above 0.99999) or VectorInt8 (1 byte a dimension and a
	// scale: cosine above 0.9999). A value written in one encoding is read
	// by every view whatever its own (the stored value says which); the
	// original service's format (Legacy) stays float32 JSON. Turn it on
	// once every process runs a release that reads these encodings (older
	// ones take them for unusable bytes, and reload and overwrite them).
	// docs/vectors.md says when each is safe. Policies may set it for the
	// embeddings and your own kinds of []float32 (NewKind refuses it for
	// another value type, a named one included); Policy's applies to the
	// embeddings only.
	VectorEncoding VectorEncoding
}

// VectorEncoding is how a kind stores its vectors (see
// Policy.VectorEncoding).
type VectorEncoding uint8

// The encodings of vectors.
const (
	VectorDefault VectorEncoding = iota // Policy's, or VectorFloat32: the zero value
	VectorFloat32                       // packed float32: exact
	VectorFloat16                       // packed IEEE-754 half precision: half the bytes
	VectorInt8                          // one byte a component and a scale: about a quarter
)

var vectorEncodingNames = [...]string{VectorDefault: "", VectorFloat32: "float32", VectorFloat16: "float16", VectorInt8: "int8"}

// String returns "float32", "float16", "int8", "" for VectorDefault, or
// "unknown".
func (e VectorEncoding) String() string {
	if int(e) < len(vectorEncodingNames) {
		return vectorEncodingNames[e]
	}
	return "unknown"
}

// NearMatch configures a kind's near match (see [FetchSimilar] and
// docs/meaning.md).
type NearMatch struct {
	// Mode is NearMatchOff (the default: FetchSimilar is Fetch),
	// NearMatchShadow (neighbours are found and compared with the loaded
	// value, which is served: the near match's precision on your own
	// traffic, in Stats) or NearMatchServe. NearMatchDefault, the zero
	// value, takes Policy's.
	Mode NearMatchMode
	// Model names the embedding model whose vectors FetchSimilar is given;
	// required when Mode is on. Entries are partitioned by it, by kind, by
	// an Intents view's parser version and by the vectors' dimension: a
	// vector is never compared with one of another partition. Changing the
	// model starts an empty partition.
	Model string
	// MinSimilarity is the least cosine similarity between the caller's
	// vector and a neighbour's for the neighbour to be considered (its
	// guards must pass too): if zero, 0.95; at most 1. Choose it for
	// precision, with the shadow mode's figures (docs/meaning.md).
	MinSimilarity float64
	// MaxEntries bounds the entries of each partition, in each process's
	// index and in Redis: the oldest leave first. If zero, 10,000; at most
	// 100,000 (the index is scanned whole on each search: about 1.6 ms for
	// 10,000 vectors of 384 dimensions).
	MaxEntries int
}

// NearMatchMode is how a kind's near match runs.
type NearMatchMode uint8

// The modes of the near match.
const (
	NearMatchDefault NearMatchMode = iota // Policy's mode, or NearMatchOff: the zero value
	NearMatchOff                          // FetchSimilar is Fetch (for one kind in Policies, when Policy turns it on for all)
	NearMatchShadow                       // neighbours are found and compared, never served
	NearMatchServe                        // a neighbour's value is served when every guard passes
)

var nearMatchModeNames = [...]string{NearMatchDefault: "default", NearMatchOff: "off", NearMatchShadow: "shadow", NearMatchServe: "serve"}

// String returns "default", "off", "shadow" or "serve" ("unknown" for
// another value).
func (m NearMatchMode) String() string {
	if int(m) < len(nearMatchModeNames) {
		return nearMatchModeNames[m]
	}
	return "unknown"
}

// on reports whether m turns the near match on.
func (m NearMatchMode) on() bool { return m == NearMatchShadow || m == NearMatchServe }

// Defaults and bounds of NearMatch.
const (
	defaultMinSimilarity = 0.95
	defaultNearEntries   = 10_000
	maxNearEntries       = 100_000
)

// Defaults of the fields of Policy.
const (
	defaultLease        = 2 * time.Second
	defaultTTLJitter    = 0.1
	defaultEarlyRefresh = 1.0
)

// policyOf returns the policy of the kind called name: Policies[name],
// its zero fields taken from Policy, then from the defaults.
func (r *resolved) policyOf(name string) policy.Kind {
	p := r.Policies[name]
	adaptive := (p.Adaptive || r.Policy.Adaptive) && p.ColdTTL >= 0
	setDefault(&p.Lease, r.Policy.Lease)
	setDefault(&p.Lease, defaultLease)
	if name != KindCustom { // the key-level functions store for the TTL they are given, unless asked
		setDefault(&p.TTLJitter, r.Policy.TTLJitter)
		setDefault(&p.TTLJitter, defaultTTLJitter)
	}
	setDefault(&p.EarlyRefresh, r.Policy.EarlyRefresh)
	setDefault(&p.EarlyRefresh, defaultEarlyRefresh)
	setDefault(&p.ColdTTL, r.Policy.ColdTTL)
	setDefault(&p.MaxTTL, r.Policy.MaxTTL)
	mode := p.NearMatch.Mode
	near := policy.Near{Model: p.NearMatch.Model, Min: p.NearMatch.MinSimilarity, Max: p.NearMatch.MaxEntries}
	if name != KindEmbedding && name != KindCustom {
		whole := r.Policy.NearMatch
		if mode == NearMatchDefault {
			mode = whole.Mode
		}
		if near.Model == "" {
			near.Model = whole.Model
		}
		setDefault(&near.Min, whole.MinSimilarity)
		setDefault(&near.Max, whole.MaxEntries)
	}
	switch mode {
	case NearMatchShadow:
		near.Mode = modeShadow
	case NearMatchServe:
		near.Mode = modeServe
	}
	setDefault(&near.Min, defaultMinSimilarity)
	setDefault(&near.Max, defaultNearEntries)
	vector := p.VectorEncoding
	if vector == VectorDefault && name == KindEmbedding { // your own kinds change only through Policies[name]
		vector = r.Policy.VectorEncoding
	}
	canonical := p.CanonicalKeys || r.Policy.CanonicalKeys && name != KindEmbedding && name != KindCustom &&
		!(r.Legacy == LegacyReadWrite && (name == KindSearch || name == KindIntent))
	return policy.Kind{Lease: max(p.Lease, 0), Jitter: max(p.TTLJitter, 0), Refresh: max(p.EarlyRefresh, 0),
		Adaptive: adaptive, Cold: max(p.ColdTTL, 0), Most: max(p.MaxTTL, 0), Canonical: canonical, Near: near, Vector: vector.String()}
}

// check validates a Policy given as field (Policy, or Policies[name]).
func (p Policy) check(field string) error {
	if p.TTLJitter > 0.5 || p.TTLJitter != p.TTLJitter {
		return invalidConfig("%s.TTLJitter is %v; use a fraction up to 0.5, or a negative number for none", field, p.TTLJitter)
	}
	if p.MaxTTL < 0 {
		return invalidConfig("%s.MaxTTL is negative (%v); use zero for the default", field, p.MaxTTL)
	}
	if p.Adaptive && p.ColdTTL < 0 {
		return invalidConfig("%s sets Adaptive and a negative ColdTTL, which turns it off; choose one", field)
	}
	if p.ColdTTL > 0 && p.MaxTTL > 0 && p.ColdTTL > p.MaxTTL {
		return invalidConfig("%s: ColdTTL (%v) is longer than MaxTTL (%v)", field, p.ColdTTL, p.MaxTTL)
	}
	if p.EarlyRefresh != p.EarlyRefresh || p.EarlyRefresh > 100 {
		return invalidConfig("%s.EarlyRefresh is %v; use a factor such as 1 (larger refreshes earlier), or a negative number for none", field, p.EarlyRefresh)
	}
	if p.VectorEncoding > VectorInt8 {
		return invalidConfig("%s.VectorEncoding is %d; use VectorFloat32, VectorFloat16 or VectorInt8", field, p.VectorEncoding)
	}
	m := p.NearMatch
	switch {
	case m.Mode > NearMatchServe:
		return invalidConfig("%s.NearMatch.Mode is %d; use NearMatchOff, NearMatchShadow or NearMatchServe", field, m.Mode)
	case !(m.MinSimilarity >= 0 && m.MinSimilarity <= 1): // NaN too
		return invalidConfig("%s.NearMatch.MinSimilarity is %v; use a cosine similarity in (0, 1], such as 0.95, or zero for the default", field, m.MinSimilarity)
	case m.MaxEntries < 0 || m.MaxEntries > maxNearEntries:
		return invalidConfig("%s.NearMatch.MaxEntries is %d; use up to %d (the index is scanned whole), or zero for the default", field, m.MaxEntries, maxNearEntries)
	case strings.ContainsRune(m.Model, 0):
		return invalidConfig("%s.NearMatch.Model holds a NUL byte", field)
	}
	return nil
}

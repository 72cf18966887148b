package cache

import (
	"cmp"
	"context"
	"time"
)

// BatchLoaderFunc computes the values of several inputs in one call (an
// embedding model's batch endpoint, a multi-get on a database): it returns
// one value per input, in the order of ins.
type BatchLoaderFunc[K, V any] func(ctx context.Context, ins []K) ([]V, error)

// GetMany returns the values stored for ins, in their order, and the
// positions in ins of the inputs that have no usable value (their entries in
// vals are zero). The near cache answers what it holds; the rest is read in
// one round trip (MGET, one per hash slot on a cluster).
//
// A value that cannot be decoded, or is over Config.MaxValueBytes, is a miss
// (counted as an error in [RedisCache.Stats]), not a failure of the batch.
// A Redis failure returns an error wrapping [ErrUnavailable], [ErrOperation]
// or [ErrClosed], with the near cache's answers in vals and every other
// position in missing; an input that cannot be hashed returns an error
// wrapping [ErrKeyGeneration] and nothing else. Hits extend the life of an
// adaptive kind's values, as [Kind.Get]'s do. With Config.Legacy set to
// LegacyRead, the original service's keys of the inputs that missed are
// read too, in a second round trip.
//
// Values may be shared with other callers: treat slices, maps and pointers
// in them as read-only.
func (kd *Kind[K, V]) GetMany(ctx context.Context, ins []K) (vals []V, missing []int, err error) {
	ctx, end := kd.c.begin(ctx, OpGetMany, kd.k)
	defer func() { end(err) }()
	return kd.readBatch(ctx, ins, true)
}

// readBatch is GetMany; extend says whether hits extend an adaptive kind's
// values (Warm's reads do not).
func (kd *Kind[K, V]) readBatch(ctx context.Context, ins []K, extend bool) (vals []V, missing []int, err error) {
	keys, err := kd.keys(ins)
	if err != nil {
		return nil, nil, err
	}
	vals, hit, _, err := kd.getMany(ctx, keys, kd.altKeys(ins), extend)
	for i, ok := range hit {
		if !ok {
			missing = append(missing, i)
		}
	}
	return vals, missing, err
}

// SetMany stores vals[i] for ins[i], each for the kind's TTL, in one round
// trip. Nothing is sent when ins and vals differ in length
// ([ErrInvalidArgument]), when an input cannot be hashed
// ([ErrKeyGeneration]), or when a value cannot be encoded
// ([ErrSerialization]) or is over Config.MaxValueBytes ([ErrValueTooLarge]).
// After a Redis failure, some of the values may have been stored. The cache
// does not keep vals: the caller may change them afterwards.
func (kd *Kind[K, V]) SetMany(ctx context.Context, ins []K, vals []V) (err error) {
	ctx, end := kd.c.begin(ctx, OpSetMany, kd.k)
	defer func() { end(err) }()
	if len(ins) != len(vals) {
		return invalidArgument(OpSetMany, kd.k.name, "", "%d inputs and %d values; give one value per input", len(ins), len(vals))
	}
	keys, err := kd.keys(ins)
	if err != nil {
		return err
	}
	return kd.setMany(ctx, keys, vals, nil, false)
}

// FetchMany returns a value for each of ins, in their order: what the cache
// holds (near cache first, the rest in one round trip, as by
// [Kind.GetMany]), and for the inputs that missed, what load returns for
// them. load is called at most once, with just the inputs that missed, each
// once however often it appears in ins, in the order of their first
// appearance; its values are stored in one round trip and returned. A
// loaded value is stored only if its key still holds nothing (or bytes
// that could not be used): a value written during the load, by a Set or
// another process, stays.
//
// FetchMany fails as [Kind.Fetch] does: Redis failing costs latency, not
// answers (every input is then loaded, or answered from the stale store
// with Config.StaleMaxAge, and nothing is stored); an input that cannot be
// hashed is loaded and not stored; a value that cannot be stored is
// returned all the same. The errors it returns are the loader's (then no
// value is returned or stored), [ErrLoaderPanic], [ErrInvalidArgument] when
// load returns a number of values other than the number of inputs it was
// given, and the caller's context error.
//
// Unlike Fetch, concurrent FetchMany calls do not share their loads: two
// batches that miss the same input both load it. The loader runs with the
// caller's context. Values may be shared with other callers: treat slices,
// maps and pointers in them as read-only.
func (kd *Kind[K, V]) FetchMany(ctx context.Context, ins []K, load BatchLoaderFunc[K, V]) (vals []V, err error) {
	ctx, end := kd.c.begin(ctx, OpFetch, kd.k)
	defer func() { end(err) }()
	return kd.fetchMany(ctx, ins, load)
}

// fetchMany is FetchMany, within its span.
func (kd *Kind[K, V]) fetchMany(ctx context.Context, ins []K, load BatchLoaderFunc[K, V]) ([]V, error) {
	s := kd.store
	s.stale = s.k.stale != nil
	keys := make([]string, len(ins))
	var read []int            // positions whose key is read: the first of each key
	first := map[string]int{} // key → position of its first appearance
	same := make([]int, len(ins))
	for i, in := range ins {
		same[i] = i
		key, err := kd.key(in)
		if err != nil { // loaded, not stored
			s.c.absorb(ctx, s.k, err)
			continue
		}
		if j, ok := first[key]; ok {
			same[i] = j
			continue
		}
		first[key], keys[i] = i, key
		read = append(read, i)
	}
	readKeys, readIns := make([]string, len(read)), make([]K, len(read))
	readAt := make([]int, len(ins)) // position in read of a position read
	for j, i := range read {
		readKeys[j], readIns[j], readAt[i] = keys[i], ins[i], j
	}
	start := time.Now()
	rctx, cancel := s.c.readBudget(ctx)
	got, hit, bad, err := s.getMany(rctx, readKeys, kd.altKeys(readIns), true)
	cancel()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	redisOK := err == nil
	if err != nil {
		s.c.absorb(ctx, s.k, err)
	}
	out := make([]V, len(ins))
	answered := make([]bool, len(ins))
	for j, i := range read {
		if hit[j] {
			out[i], answered[i] = got[j], true
		} else if !redisOK {
			out[i], answered[i] = s.staleValue(ctx, keys[i], start)
		}
	}
	var missed []int // positions to load: the first of each input
	for i := range ins {
		if same[i] == i && !answered[i] {
			missed = append(missed, i)
		}
	}
	if len(missed) > 0 {
		missIns := make([]K, len(missed))
		for j, i := range missed {
			missIns[j] = ins[i]
		}
		loaded, err := loadMany(ctx, s, load, missIns)
		if err != nil {
			return nil, err
		}
		var storeKeys []string
		var storeVals []V
		var absent []bool // as for a Fetch without a lease: over nothing, unless replacing bytes that could not be used
		for j, i := range missed {
			out[i] = loaded[j]
			if keys[i] != "" {
				storeKeys, storeVals = append(storeKeys, keys[i]), append(storeVals, loaded[j])
				absent = append(absent, redisOK && !bad[readAt[i]])
			}
		}
		if redisOK && len(storeKeys) > 0 {
			if err := s.setMany(ctx, storeKeys, storeVals, absent, true); err != nil { // what can be stored is
				s.c.absorb(ctx, s.k, err)
			}
		} else if s.stale {
			for j, key := range storeKeys {
				s.keepStale(key, storeVals[j], s.encodedSize(storeVals[j]), true)
			}
		}
	}
	for i, j := range same {
		out[i] = out[j]
	}
	return out, nil
}

// altKeys returns the original service's keys of ins, read after a miss
// with LegacyRead (see altKey), or nil.
func (kd *Kind[K, V]) altKeys(ins []K) []string {
	if kd.legacyInput == nil || kd.c.cfg.Legacy != LegacyRead {
		return nil
	}
	alts := make([]string, len(ins))
	for i, in := range ins {
		alts[i] = kd.altKey(in)
	}
	return alts
}

// keys returns the keys of ins.
func (kd *Kind[K, V]) keys(ins []K) ([]string, error) {
	keys := make([]string, len(ins))
	for i, in := range ins {
		key, err := kd.key(in)
		if err != nil {
			return nil, err
		}
		keys[i] = key
	}
	return keys, nil
}

// loadMany calls a batch loader with ins, recorded as one load; a loader
// that returns another number of values than it was given inputs is an
// ErrInvalidArgument error.
func loadMany[K, V any](ctx context.Context, s store[V], load BatchLoaderFunc[K, V], ins []K) ([]V, error) {
	vals, err := runLoader(ctx, s.c, s.k, len(ins), func(ctx context.Context) ([]V, error) { return load(ctx, ins) })
	if err == nil && len(vals) != len(ins) {
		return nil, invalidArgument(OpLoad, s.k.name, "", "the batch loader returned %d values for %d inputs; return one value per input, in their order", len(vals), len(ins))
	}
	return vals, err
}

// setMany encodes vals and stores them under keys, pipelined, recording
// one OpSetMany; absent and partial are as for putMany.
func (s store[V]) setMany(ctx context.Context, keys []string, vals []V, absent []bool, partial bool) error {
	start := time.Now()
	n, err := s.putMany(ctx, keys, vals, absent, partial)
	if n > 0 { // stored: with partial, beside values refused
		s.c.observe(s.k, Event{Op: OpSetMany, Outcome: OutcomeOK, Latency: time.Since(start), Keys: int64(n), Context: ctx})
	}
	if err != nil {
		s.c.observeResult(ctx, s.k, Event{Op: OpSetMany, Latency: time.Since(start)}, err)
	}
	return err
}

// putMany is setMany without recording; it returns how many values it
// stored. Where absent[i] (absent nil: nowhere), vals[i] is stored only if
// keys[i] holds nothing (a value loaded after a miss; see unleasedLoad).
// With partial, a value that cannot be encoded or is too large is left
// out, the others are stored, and the first such error is returned after
// them; without, nothing is sent.
func (s store[V]) putMany(ctx context.Context, keys []string, vals []V, absent []bool, partial bool) (int, error) {
	stored := make([][]byte, 0, len(keys))
	sizes := make([]int, 0, len(keys))
	ttls := make([]time.Duration, 0, len(keys))
	sent := make([]int, 0, len(keys)) // positions of the values sent
	var refused error
	for i, v := range vals {
		buf, st, err := s.seal(keys[i], v, nil)
		if err != nil && !partial {
			return 0, err
		}
		if err != nil {
			refused = cmp.Or(refused, err)
			continue
		}
		stored, sizes, sent = append(stored, st), append(sizes, len(buf)), append(sent, i)
		ttls = append(ttls, s.k.policy.StoreTTL(s.k.ttl, keys[i]))
	}
	if len(sent) == 0 {
		return 0, refused
	}
	sentKeys := make([]string, len(sent))
	var sentAbsent []bool
	if absent != nil {
		sentAbsent = make([]bool, len(sent))
	}
	for j, i := range sent {
		sentKeys[j] = keys[i]
		if absent != nil {
			sentAbsent[j] = absent[i]
		}
	}
	landed, err := s.c.keyspace.setMany(ctx, sentKeys, stored, ttls, sentAbsent)
	s.c.wroteAll(sentKeys) // as after put's write
	if err != nil && landed == nil {
		return 0, failIf(err, OpSetMany, s.k, sentKeys[0])
	}
	n := 0
	for j, i := range sent {
		if !landed[j] {
			continue // the key was written during the load (its value stays), or a replacement failed
		}
		n++
		if s.stale {
			s.keepStale(keys[i], vals[i], sizes[j], true)
		}
	}
	return n, cmp.Or(failIf(err, OpSetMany, s.k, sentKeys[0]), refused)
}

package cache

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/media-gateway/discovery/cache/internal/lease"
	"github.com/redis/rueidis"
)

// The commands the cache sends, each through the door of transport.go:
// reads (one key, tracked or not, and batches), writes, leases, scripts.

// getBytes reads the bytes under key; a missing key is (nil, false, nil).
// The returned bytes alias the reply and must not be modified.
func (c *RedisCache) getBytes(ctx context.Context, key string) ([]byte, bool, error) {
	client, err := c.door(ctx)
	if err != nil {
		return nil, false, err
	}
	msg, err := c.send(ctx, client, client.B().Get().Key(key).Build())
	if err == errNil {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	s, err := msg.ToString()
	if err != nil {
		return nil, false, &Error{Class: ErrOperation, Cause: err}
	}
	// The reply string is not shared with anyone else; decoders only read it.
	return unsafe.Slice(unsafe.StringData(s), len(s)), true, nil
}

// getTracked is getBytes for the near cache: in the same round trip, it
// asks the server to report the key's next change to this connection
// (CLIENT CACHING YES, which applies to the command after it) and how long
// the key lives. pttl is the PTTL reply: milliseconds left, -1 for a key
// without expiry, and 0 when the key cannot be kept locally (gone since
// the GET, or the server would not track it).
func (c *RedisCache) getTracked(ctx context.Context, key string) (val []byte, pttl int64, found bool, err error) {
	return c.getWithTTL(ctx, key, true)
}

// getWithTTL reads the bytes under key and its PTTL in one round trip,
// tracked (see getTracked) or not; pttl is as for getTracked.
func (c *RedisCache) getWithTTL(ctx context.Context, key string, tracked bool) (val []byte, pttl int64, found bool, err error) {
	client, err := c.door(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	b := client.B()
	res, acked, err := c.exchangeTracked(ctx, client, tracked, 0, b.Get().Key(key).Build(), b.Pttl().Key(key).Build())
	if err != nil {
		return nil, 0, false, err
	}
	s, err := res[0].ToString()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, 0, false, nil
		}
		return nil, 0, false, c.classify(err)
	}
	if !tracked || acked {
		pttl, _ = res[1].AsInt64()
	}
	return unsafe.Slice(unsafe.StringData(s), len(s)), pttl, true, nil
}

// exchangeTracked runs cmds on client in one round trip, as exchangeMulti
// does; with tracked, it asks the server to report the next change of the
// keys that cmds[at] reads (CLIENT CACHING YES just before it, on a
// connection with OPTIN tracking). res holds the replies of cmds, in
// order; acked reports whether the server took the request.
//
// On a cluster, the request and the commands are sent as one transaction
// (MULTI, cmds with the request among them, EXEC): a command redirected
// to another node (MOVED, during a failover or a resharding) is then
// resent with its whole transaction, request included, whereas a request
// sent on its own would stay behind on the old node and leave the read
// untracked. The commands must then use keys of one slot.
func (c *RedisCache) exchangeTracked(ctx context.Context, client rueidis.Client, tracked bool, at int, cmds ...rueidis.Completed) (res []rueidis.RedisResult, acked bool, err error) {
	return c.exchangeFramed(ctx, client, tracked, false, at, cmds)
}

// exchangeTogether is exchangeTracked for commands that must run on one
// node, the slot's primary, one after the other: a write and the read of
// what it left (a lease's SET NX and GET). On a cluster they are one
// transaction even untracked, which the client never splits (nor sends
// to a replica, with Policy.ReplicaReads); elsewhere, a batch with a
// write goes to the primary as it is.
func (c *RedisCache) exchangeTogether(ctx context.Context, client rueidis.Client, tracked bool, at int, cmds ...rueidis.Completed) (res []rueidis.RedisResult, acked bool, err error) {
	return c.exchangeFramed(ctx, client, tracked, true, at, cmds)
}

// exchangeFramed is exchangeTracked and exchangeTogether.
func (c *RedisCache) exchangeFramed(ctx context.Context, client rueidis.Client, tracked, together bool, at int, cmds rueidis.Commands) (res []rueidis.RedisResult, acked bool, err error) {
	cluster := client.Mode() == rueidis.ClientModeCluster
	if !tracked && !(together && cluster) {
		res, err = c.exchangeMulti(ctx, client, cmds)
		return res, false, err
	}
	b := client.B()
	framed := make(rueidis.Commands, 0, len(cmds)+3)
	if cluster {
		framed = append(framed, b.Multi().Build())
	}
	first := len(framed) // where cmds' replies begin
	framed = append(framed, cmds[:at]...)
	if tracked {
		framed = append(framed, b.ClientCaching().Yes().Build())
	}
	framed = append(framed, cmds[at:]...)
	if cluster {
		framed = append(framed, b.Exec().Build())
	}
	raw, err := c.exchangeMulti(ctx, client, framed)
	if err != nil {
		return nil, false, err
	}
	if cluster {
		for _, r := range raw[:len(raw)-1] { // MULTI's OK, QUEUED, or the error that aborted the transaction
			if err := r.Error(); err != nil {
				return nil, false, c.classify(err)
			}
		}
		replies, err := raw[len(raw)-1].ToArray()
		if err != nil {
			return nil, false, c.classify(err)
		}
		if len(replies) != len(framed)-2 {
			return nil, false, &Error{Class: ErrOperation, Cause: fmt.Errorf("EXEC of %d commands answered %d replies", len(framed)-2, len(replies))}
		}
		raw, first = make([]rueidis.RedisResult, len(replies)), 0
		for i, m := range replies {
			raw[i] = rueidis.NewResult(m, nil)
		}
	}
	if !tracked {
		return raw[first : first+len(cmds)], false, nil
	}
	acked = raw[first+at].Error() == nil
	if at == 0 {
		return raw[first+1 : first+1+len(cmds)], acked, nil
	}
	res = append(slices.Clip(raw[first:first+at]), raw[first+at+1:first+1+len(cmds)]...)
	return res, acked, nil
}

// extendScript moves the expiry of a key to ARGV[2] (PEXPIREAT, Unix
// milliseconds) if the key still holds the value that was read (an
// envelope, whose written-at time, bytes 4 to 11, is ARGV[1]) and the move
// makes it live longer (its PTTL is under ARGV[3], what the move would
// leave it, in milliseconds, as the caller counts). A lease, a newer value
// or a longer life written since the read are left as they are.
const extendScript = `local head = redis.call("GETRANGE", KEYS[1], 0, 11)
if #head == 12 and string.byte(head, 1) == 0xDC and string.sub(head, 5, 12) == ARGV[1] and redis.call("PTTL", KEYS[1]) < tonumber(ARGV[3]) then
  return redis.call("PEXPIREAT", KEYS[1], ARGV[2])
end
return 0`

// extend moves the expiry of key to at, if key still holds the value
// written at born and the move lengthens its life (see extendScript), and
// reports whether it did.
func (c *RedisCache) extend(ctx context.Context, key string, born, at time.Time) (bool, error) {
	client, err := c.door(ctx)
	if err != nil {
		return false, err
	}
	var stamp [8]byte
	binary.LittleEndian.PutUint64(stamp[:], uint64(born.UnixMilli()))
	cmd := client.B().Eval().Script(extendScript).Numkeys(1).Key(key).
		Arg(string(stamp[:]), strconv.FormatInt(at.UnixMilli(), 10), strconv.FormatInt(time.Until(at).Milliseconds(), 10)).Build()
	msg, err := c.send(ctx, client, cmd)
	if err != nil {
		return false, err
	}
	n, _ := msg.AsInt64()
	return n == 1, nil
}

// setBytes stores val under key for ttl.
func (c *RedisCache) setBytes(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	// Redis counts PX in whole milliseconds, and refuses 0.
	ttl = max(ttl, time.Millisecond)
	// val is sent without a copy: the caller reuses it only after this call
	// succeeded, when the command has been written in full (store.put). A
	// ClientBuilder wrapper that keeps commands after Do returns must copy
	// them.
	client, err := c.door(ctx)
	if err != nil {
		return err
	}
	cmd := client.B().Set().Key(key).Value(rueidis.BinaryString(val)).Px(ttl).Build()
	_, err = c.send(ctx, client, cmd)
	return err
}

// unlink removes keys with one UNLINK per key, pipelined in one round trip
// (per-key commands stay valid on a cluster, where the keys of one batch
// live in different slots). It returns how many keys existed.
func (c *RedisCache) unlink(ctx context.Context, keys []string) (int64, error) {
	client, err := c.door(ctx)
	if err != nil {
		return 0, err
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = client.B().Unlink().Key(k).Build()
	}
	msgs, err := c.sendMulti(ctx, client, cmds)
	var removed int64
	for _, m := range msgs {
		n, _ := m.AsInt64()
		removed += n
	}
	return removed, err
}

// ping sends one PING.
func (c *RedisCache) ping(ctx context.Context) error {
	client, err := c.door(ctx)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, client, client.B().Ping().Build())
	return err
}

// mgetChunk is the most keys one MGET asks for: a batch larger than that
// is split into several MGETs, still sent in one round trip, so that no
// single command holds Redis for long.
const mgetChunk = 512

// getMany reads the bytes under keys in one round trip: one MGET per
// chunk of keys on a server, one per hash slot on a cluster (a command may
// not span slots). With track, the server is asked to report the next
// change of each key (CLIENT CACHING YES before each MGET; on a cluster,
// a transaction per slot: see getManyFramed), and tracked says whether it
// was; with track or withTTL, pttl
// holds each key's PTTL reply (0 for a key of a group the server would
// not track). vals[i] aliases the reply and must not be modified;
// found[i] is false for a missing key.
func (c *RedisCache) getMany(ctx context.Context, keys []string, track, withTTL bool) (vals [][]byte, found []bool, pttl []int64, tracked bool, err error) {
	client, err := c.door(ctx)
	if err != nil {
		return nil, nil, nil, false, err
	}
	tracked = track
	withTTL = withTTL || tracked
	b := client.B()
	groups := groupKeys(client, keys)
	if tracked && client.Mode() == rueidis.ClientModeCluster {
		vals, found, pttl, err = c.getManyFramed(ctx, client, keys, groups)
		return vals, found, pttl, err == nil, err
	}
	cmds := make(rueidis.Commands, 0, 2*len(groups)+len(keys))
	for _, g := range groups {
		if tracked {
			cmds = append(cmds, b.ClientCaching().Yes().Build())
		}
		ks := make([]string, len(g))
		for j, i := range g {
			ks[j] = keys[i]
		}
		cmds = append(cmds, b.Mget().Key(ks...).Build())
	}
	if withTTL {
		for _, k := range keys {
			cmds = append(cmds, b.Pttl().Key(k).Build())
		}
	}
	res, err := c.exchangeMulti(ctx, client, cmds)
	if err != nil {
		return nil, nil, nil, false, err
	}
	vals, found = make([][]byte, len(keys)), make([]bool, len(keys))
	if withTTL {
		pttl = make([]int64, len(keys))
	}
	next, pttls := 0, len(cmds)-len(keys) // the first PTTL reply, withTTL
	for _, g := range groups {
		acked := true
		if tracked {
			acked = res[next].Error() == nil
			next++
		}
		arr, err := res[next].ToArray()
		next++
		if err != nil {
			return nil, nil, nil, false, c.classify(err)
		}
		if len(arr) != len(g) {
			return nil, nil, nil, false, &Error{Class: ErrOperation, Cause: fmt.Errorf("MGET of %d keys answered %d values", len(g), len(arr))}
		}
		for j, i := range g {
			s, err := arr[j].ToString()
			if err != nil { // a nil: no such key (or not a string, which MGET reports as nil too)
				continue
			}
			vals[i], found[i] = unsafe.Slice(unsafe.StringData(s), len(s)), true
			if withTTL && acked {
				pttl[i], _ = res[pttls+i].AsInt64()
			}
		}
	}
	return vals, found, pttl, tracked, nil
}

// setMany stores vals[i] under keys[i] for ttls[i], pipelined in one round
// trip (one SET per key, valid on a cluster). It returns the first failure;
// the other writes may have been applied. vals are sent without a copy, as
// by setBytes.
func (c *RedisCache) setMany(ctx context.Context, keys []string, vals [][]byte, ttls []time.Duration, absent []bool) ([]bool, error) {
	client, err := c.door(ctx)
	if err != nil {
		return nil, err
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		set := client.B().Set().Key(k).Value(rueidis.BinaryString(vals[i]))
		if absent != nil && absent[i] {
			cmds[i] = set.Nx().Px(max(ttls[i], time.Millisecond)).Build()
		} else {
			cmds[i] = set.Px(max(ttls[i], time.Millisecond)).Build()
		}
	}
	msgs, err := c.sendMulti(ctx, client, cmds)
	if err != nil {
		return nil, err
	}
	stored := make([]bool, len(keys))
	var refused []int // SET NX replies nil when the key holds something
	for i, m := range msgs {
		stored[i] = !m.IsNil()
		if !stored[i] {
			refused = append(refused, i)
		}
	}
	if len(refused) > 0 {
		err = c.replaceOtherTypes(ctx, client, keys, vals, ttls, refused, stored)
	}
	return stored, err // stored holds what SET NX stored even when a replacement failed
}

// replaceOtherTypes stores vals[i] under keys[i] for ttls[i], i in at,
// where the key holds another Redis type than a string (a hash…), which a
// batch's MGET reads as nothing: a Fetch replaces such a key (its GET
// fails with WRONGTYPE), so a batch does too. A string found there was
// written since the batch's read, and stays. stored is updated.
func (c *RedisCache) replaceOtherTypes(ctx context.Context, client rueidis.Client, keys []string, vals [][]byte, ttls []time.Duration, at []int, stored []bool) error {
	cmds := make(rueidis.Commands, len(at))
	for j, i := range at {
		cmds[j] = client.B().Type().Key(keys[i]).Build()
	}
	types, err := c.sendMulti(ctx, client, cmds)
	if err != nil {
		return err
	}
	cmds, at2 := cmds[:0], at[:0:0]
	for j, i := range at {
		if t, _ := types[j].ToString(); t != "string" && t != "none" {
			cmds = append(cmds, client.B().Set().Key(keys[i]).Value(rueidis.BinaryString(vals[i])).Px(max(ttls[i], time.Millisecond)).Build())
			at2 = append(at2, i)
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	if _, err := c.sendMulti(ctx, client, cmds); err != nil {
		return err
	}
	for _, i := range at2 {
		stored[i] = true
	}
	return nil
}

// setAbsent stores val under key for ttl only if key holds nothing (SET
// NX), and reports whether it did. val is sent without a copy, as by
// setBytes.
func (c *RedisCache) setAbsent(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error) {
	client, err := c.door(ctx)
	if err != nil {
		return false, err
	}
	cmd := client.B().Set().Key(key).Value(rueidis.BinaryString(val)).Nx().Px(max(ttl, time.Millisecond)).Build()
	_, err = c.send(ctx, client, cmd)
	if err == errNil {
		return false, nil
	}
	return err == nil, err
}

// acquire tries to take the lease on key (see lease.go): SET key lease NX
// PX ttl, then GET key, in one round trip (one key: one connection, in
// this order, on a cluster too). With tracked, the GET asks the server to
// report the key's next change (CLIENT CACHING YES before it). held
// reports whether the SET took the lease; raw and found are what the GET
// read (raw aliases the reply).
func (c *RedisCache) acquire(ctx context.Context, key string, lease []byte, ttl time.Duration, tracked bool) (held bool, raw []byte, found bool, err error) {
	client, err := c.door(ctx)
	if err != nil {
		return false, nil, false, err
	}
	b := client.B()
	set := b.Set().Key(key).Value(rueidis.BinaryString(lease)).Nx().Px(max(ttl, time.Millisecond)).Build()
	res, _, err := c.exchangeTogether(ctx, client, tracked, 1, set, b.Get().Key(key).Build())
	if err != nil {
		return false, nil, false, err
	}
	if err := res[0].Error(); err != nil && !rueidis.IsRedisNil(err) {
		return false, nil, false, c.classify(err)
	}
	held = res[0].Error() == nil // OK; a nil reply when the key exists
	s, err := res[1].ToString()
	switch {
	case rueidis.IsRedisNil(err):
		return held, nil, false, nil
	case err != nil:
		return held, nil, false, c.classify(err)
	}
	return held, unsafe.Slice(unsafe.StringData(s), len(s)), true, nil
}

// releaseScript deletes a lease if it is still the one given: a flight
// whose load failed frees the key for other processes at once, and never
// deletes another's lease, or a value.
const releaseScript = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`

// release removes key if it still holds lease.
func (c *RedisCache) release(ctx context.Context, key string, lease []byte) error {
	client, err := c.door(ctx)
	if err != nil {
		return err
	}
	_, err = c.send(ctx, client, client.B().Eval().Script(releaseScript).Numkeys(1).Key(key).Arg(string(lease)).Build())
	if err == errNil {
		err = nil
	}
	return err
}

// storeLeasedScript stores a value under a key if the key still holds the
// lease given (ARGV[1]), or, when ARGV[2] is "1" (the lease has outlived
// its life), if the key holds nothing: a lease deleted by a Delete, a
// clear, or replaced by another writer's value while the load ran, means
// the loaded value is older than what the key should hold, and it is
// dropped (the stale set of "Scaling Memcache at Facebook", closed the
// same way). Replies OK when stored, nil when not.
const storeLeasedScript = `local cur = redis.call("GET", KEYS[1])
if cur == ARGV[1] or (not cur and ARGV[2] == "1") then
  return redis.call("SET", KEYS[1], ARGV[3], "PX", ARGV[4])
end
return false`

// setLeased stores val under key for ttl if key still holds lease (see
// storeLeasedScript; expired says the lease has had its life), and reports
// whether it did. val is sent without a copy, as by setBytes.
func (c *RedisCache) setLeased(ctx context.Context, key string, lease, val []byte, ttl time.Duration, expired bool) (bool, error) {
	ttl = max(ttl, time.Millisecond)
	client, err := c.door(ctx)
	if err != nil {
		return false, err
	}
	flag := "0"
	if expired {
		flag = "1"
	}
	cmd := client.B().Eval().Script(storeLeasedScript).Numkeys(1).Key(key).
		Arg(rueidis.BinaryString(lease), flag, rueidis.BinaryString(val), strconv.FormatInt(ttl.Milliseconds(), 10)).Build()
	_, err = c.send(ctx, client, cmd)
	if err == errNil {
		return false, nil
	}
	return err == nil, err
}

// storeOverOlderScript stores a value under a key (ARGV[3], for ARGV[4]
// ms) only if the key holds nothing, a lease (ARGV[1], the mark), or,
// when ARGV[2] is not empty, the value written at that time (an
// envelope whose bytes 4 to 11, its written-at time, are ARGV[2]): a
// value loaded beside a flight, in a lease race or by an early refresh
// never lands over a value written while it loaded. Replies OK when
// stored, nil when not.
const storeOverOlderScript = `local cur = redis.call("GET", KEYS[1])
if not cur or string.sub(cur, 1, #ARGV[1]) == ARGV[1] or (ARGV[2] ~= "" and #cur >= 12 and string.byte(cur, 1) == 0xDC and string.sub(cur, 5, 12) == ARGV[2]) then
  return redis.call("SET", KEYS[1], ARGV[3], "PX", ARGV[4])
end
return false`

// setOverOlder stores val under key for ttl if key holds nothing, a
// lease, or (withBorn) the value written at born (see
// storeOverOlderScript), and reports whether it did. val is sent without
// a copy, as by setBytes.
func (c *RedisCache) setOverOlder(ctx context.Context, key string, born time.Time, withBorn bool, val []byte, ttl time.Duration) (bool, error) {
	ttl = max(ttl, time.Millisecond)
	client, err := c.door(ctx)
	if err != nil {
		return false, err
	}
	stamp := ""
	if withBorn {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(born.UnixMilli()))
		stamp = string(b[:])
	}
	cmd := client.B().Eval().Script(storeOverOlderScript).Numkeys(1).Key(key).
		Arg(lease.Mark, stamp, rueidis.BinaryString(val), strconv.FormatInt(ttl.Milliseconds(), 10)).Build()
	_, err = c.send(ctx, client, cmd)
	if err == errNil {
		return false, nil
	}
	return err == nil, err
}

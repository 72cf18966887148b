// Package cache caches the expensive results of a discovery service in
// Redis: search results, intents parsed from queries, and text embeddings,
// each under deterministic SHA-256 keys with its own TTL, behind a typed,
// generic, concurrency-safe API.
//
// # Quick start
//
//	c, err := cache.New(ctx, cache.Config{URL: "redis://127.0.0.1:6379/0"})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//
//	searches := cache.Search[string, []Hit](c)
//	hits, err := searches.Fetch(ctx, "star wars", func(ctx context.Context) ([]Hit, error) {
//		return engine.Search(ctx, "star wars") // runs only on a miss
//	})
//
// # Kinds
//
// A kind is a family of values with a name, a TTL and a codec. The built-in
// kinds are [Search] (30 min), [Intents] (10 min) and [Embeddings] (1 h);
// [NewKind] makes more. Each returns a [Kind], a typed view with Get, Set,
// Delete and Fetch; [RedisCache.ClearKind] removes every value of a kind.
// Every kind goes through the same code path; only its configuration
// differs.
//
// Values returned by Get and Fetch may be shared with other callers: treat
// the slices, maps and pointers in them as read-only.
//
// [Get], [Set], [Fetch], [RedisCache.Delete] and [RedisCache.DeletePattern]
// work on keys you choose, for values that fit no kind.
//
// # Keys
//
// The key of an input is [GenerateKey](kind, input) behind the namespace:
//
//	discovery:search:68e51761ff1e643aa85a3d8220e7fe88a4dbcc6f15accaa6ffa8c2123e711068
//
// that is, the namespace ([Config].Namespace, "discovery" by default), the
// kind, and the hex SHA-256 of the input's canonical JSON. Embedding keys
// hash the model id with the text, so vectors of different models never
// mix. Clearing and pattern deletes only ever match keys in the namespace,
// using SCAN and UNLINK, never KEYS or FLUSHDB.
//
// # Values
//
// A stored value is a 12-byte envelope (magic byte, format version, codec,
// flags, written-at time) followed by the payload: for kinds, CBOR for
// values of plain data types and JSON for others (see [Kind]), packed
// little-endian float32 for embeddings; JSON for the key-level functions. Bytes that are not a value
// of this cache, or not of the expected codec, are reported as
// [ErrSerialization] by Get, and are a miss for Fetch, which overwrites
// them. Values over [Config].MaxValueBytes are refused before they are sent.
//
// # The near cache
//
// The cache also keeps the values this process read recently, decoded, in
// memory ([Config].NearCacheBytes, 64 MiB for all kinds together by
// default): a repeated
// hit costs a map lookup instead of a round trip and a decode. Redis keeps
// it coherent (RESP3 client tracking): when any client changes a key this
// process holds, the server tells it and the copy goes; when a connection
// drops, every copy goes; no copy outlives its key's TTL in Redis or
// [Config].NearCacheMaxAge. It is off with a server that has no client
// tracking, and when the check New makes of the invalidations fails;
// [RedisCache.Health] says so, and why.
//
// # Cluster and Sentinel
//
// [Config].ClusterAddrs points the cache at a Redis Cluster through a few
// seed nodes, and [Config].Sentinel at a primary watched by Redis Sentinel
// (with the sentinels' own credentials); both follow failovers on their
// own, and [Policy].ReplicaReads sends the reads of the kinds that
// tolerate it to replicas. docs/scaling.md tells when to move to either,
// how to configure them, and what a failover costs, measured.
//
// # Failures
//
// Every command leaves through one door that bounds it by the caller's
// context and [Config].OperationTimeout, whichever ends first, whatever the
// client does inside. Get, Set and the other explicit operations return an
// [*Error] whose [Class] (ErrUnavailable, ErrOperation, ErrSerialization, …)
// matches with [errors.Is]. Fetch is the cache-aside path: when Redis is
// slow or down it still answers from the loader (or, with
// [Config].StaleMaxAge, from the value it served last), counting and
// logging the error instead of returning it, and it calls the loader once
// for concurrent misses of one key (see [Kind.Fetch]).
//
// A circuit breaker stands in the door: after [Config].BreakerThreshold
// calls in a row get no answer, calls fail at once with [ErrCircuitOpen]
// and nothing is dialled, while one goroutine probes Redis with a doubling
// backoff and closes the breaker when it answers. [New] returns a working
// cache even when Redis cannot be reached, and connects in the background.
//
// # Fewer loads
//
// [Kind.GetMany] and [Kind.FetchMany] read a batch of inputs in one round
// trip and load only the misses, in one call of a [BatchLoaderFunc].
// Across processes, a Fetch that misses takes a short lease under the key
// ([Policy].Lease), so that a fleet loads a missing key once. TTLs are
// jittered per key, so keys written together expire apart; a Fetch that
// hits a value about to expire reloads it in the background
// ([Policy].EarlyRefresh, XFetch), so hot keys are never missed; adaptive
// TTLs ([Policy].Adaptive) keep the keys that keep being read and let the
// others go early. [Kind.Warm] preloads a list of inputs. [Config].Policy
// tunes all of it for every kind, [Config].Policies per kind.
//
// # Observability
//
// [RedisCache.Stats] returns per-kind hits, misses, sets, deletes, errors,
// cancellations, loader calls and latency quantiles per operation, counted
// by this process, hits of the near cache apart ([KindStats].LocalHits);
// [Config].Recorder receives every operation as an [Event] (kind, [Op],
// [Outcome], [Class], [Tier], latency) for your metrics.
// [RedisCache.ServerStats] reads the server's memory and keyspace figures
// and counts this cache's keys per kind; [RedisCache.Health] pings and says
// whether the cache is connected, the breaker's state and whether the near
// cache is on.
// Logs go to [Config].Logger (log/slog): only the errors Fetch absorbs, at
// warn level and at most one line per kind and class every 10 s; hits and
// misses at debug level; never a password.
package cache

// Package checkpoint is the bbolt checkpoint of a microbatch query: the
// write-ahead log of planned batches, the commit records, the positions
// where each partition resumes, the aggregate state and the sinks' buckets.
// Every batch commits its state, its output's bookkeeping and its offsets in
// one bbolt transaction, so a crash at any instant never loses or
// double-counts a record. The pure offset types and the planner are in
// package offsets.
//
// # The batch protocol
//
// Every batch N:
//
//  1. WriteAhead(plan N): the exact ranges, durable before any work.
//  2. Run the batch, write sinks (idempotent by N for external sinks).
//  3. Commit(record N, fn): one bbolt transaction writes fn's state
//     changes and bbolt-sink rows, commits[N], and the plan's ends as the
//     new positions.
//
// After a crash, Pending returns the plan written ahead but not committed;
// the engine re-runs it with the same ranges and id, and the same Meta
// (watermark, rate limit, processing time), so the final state and the
// output are the same as without the crash. WriteAhead refuses a different plan for a
// pending batch (ErrPlanConflict).
//
// # Checkpoint layout
//
// A checkpointLocation is a directory holding checkpoint.db (bbolt),
// checkpoint.pid (the writer's pid, advisory), and snapshot.gate and
// snapshot.lock (empty files flocked to coordinate read-only snapshots with
// the writer). Buckets of checkpoint.db, format 3:
//
//	meta       "version"        -> "3" (format version; see "Formats 1 and 2")
//	           "fingerprint"    -> JSON Fingerprint: form, stateful, group keys, aggregates (compared), schema,
//	                               query, source, format, outputMode (source and outputMode compared when
//	                               stateful); form 0, texts only, was written by earlier releases
//	           "initialOffsets" -> JSON list of {topic, partition, offset}
//	           "stateBaseKeys"  -> 8-byte big-endian number of keys in the base
//	           "stateLogKeys"   -> 8-byte big-endian number of changes in statelog
//	offsets    batch id (8-byte big-endian) -> JSON BatchPlan (the WAL), with its meta block
//	commits    batch id (8-byte big-endian) -> JSON CommitRecord, with its meta block
//	positions  topic, 0x00, partition (4-byte big-endian) -> until (8-byte big-endian)
//	statebase  first stored key of the chunk -> ~64 KiB chunk of the base: stored state keys and
//	           their values (opaque, engine-encoded), in ascending stored-key order, each as
//	           uvarint key length, stored key, uvarint value length, value
//	statelog   batch id (8-byte big-endian) + chunk number (4-byte big-endian) -> ~256 KiB chunk of the
//	           batch's changes since the last compaction, in stored-key order; each change is
//	           uvarint key length, stored key, then 'D', or 'P', uvarint value length, value
//	state      empty (format 1's base; kept so that a format 1 build finds its buckets and
//	           refuses the version)
//	sinks      one nested bucket per bbolt sink (CommitTx.Bucket)
//
// A stored state key is its namespace, then the key: the operator id
// (2 bytes, big-endian), the key group (2 bytes, big-endian), then the
// operator's key (1 to 32760 bytes). The state thus sorts by operator, key
// group, key: a key group's keys are one contiguous range of the base, so
// a later owner of a subset of key groups can restore just those. An
// operator is a stateful part of a query (the query's aggregation is
// AggregationOperator, 1); a key's group is KeyGroupOf(key), FNV-1a of the
// key modulo NumKeyGroups (128), fixed by the format.
//
// offsets and commits keep the last Options.Retain committed batches (and
// the pending one); positions has one entry per partition, so resuming
// costs O(partitions) whatever the number of batches. Every JSON record
// carries "v", its version: 2 for plans and commit records, 1 for the
// fingerprint and the initial offsets. A plan's or commit record's "meta"
// block is the engine's facts of the batch (Meta): {"v": 1, "watermark",
// "rateLimit", "processingTime", "emittedRows", "extra": {name: JSON}},
// empty facts omitted. It has its own version, and keeps "extra" names it
// does not know, so that a later build can add a fact without a new
// format. A plan may have no ranges (a no-data batch, run when the
// watermark moves without input): its commit records its ends as
// positions, like any other.
//
// # Formats 1 and 2
//
// Format 2 (the release before format 3) had the same buckets, with state
// keys without a namespace, and plans and commit records of version 1:
// without a meta block, a commit record's "emittedRows" at its top level.
// Format 1 differed from format 2 in where the base was: one bbolt key per
// state key, in "state".
//
// The writer's Open of a format 1 or 2 checkpoint upgrades it in place, in
// one bbolt transaction (a crash or an error leaves it as it was): every
// state key of the base (statebase, or format 1's "state") merged with the
// log is written in the namespace of AggregationOperator and its key group
// (the only state these formats had was the query's aggregation) into a
// new base, in stored-key order; the log and "state" are emptied, the
// counters set, and the version set to 3. A damaged record fails the
// upgrade with a *CorruptError naming it. Plans and commit records stay in
// version 1, which this build reads (a commit record's top-level
// emittedRows as Meta.EmittedRows). The upgrade costs a read and a write
// of the whole state, once; Checkpoint.Upgraded reports it. A read-only
// Open upgrades its snapshot the same way, never the file.
//
// A checkpoint of a later format than 3 is refused (ErrVersion) with its
// version and the ones this build reads, on writer and read-only Opens,
// and left as it is. A build of format 2 refuses a format 3 checkpoint
// the same way; one of format 1 checked the version only in its writer's
// Open.
//
// # A damaged file
//
// Open refuses a checkpoint.db that bbolt cannot read with an error
// wrapping ErrDamaged, naming the file, and wrapping bbolt's error: a file
// that is not bbolt's, or whose meta pages are invalid; a file shorter
// than its last transaction needs (truncated: bbolt would map the missing
// pages and fault on the first read of one), with both sizes. A page
// damaged in the middle of the file makes bbolt panic when a transaction
// reads it: every transaction turns such a panic (and a fault on the
// mapped file) into an error wrapping ErrDamaged, the transaction rolled
// back; a panic in the caller's code run by a transaction (a Commit's fn,
// ForEachState's) goes on as the caller's.

// # State storage and commit cost
//
// A commit writes only the keys the batch changed. Writing them in place
// would still rewrite a whole 4 KiB B+tree page per changed key when the
// keys are spread over a large state (10k changed keys of a 1M-key state
// touch ~10k pages), so a batch's changes are appended to statelog under
// its batch id instead, packed into a few large values: the commit costs
// about a memory copy of the bytes it changed plus one fsync.
//
// The base is kept as chunks of about 64 KiB: runs of (stored key, value)
// pairs in key order, each stored under its first key. When the log holds twice as
// many changes as the base has keys (and at least 4096), the commit that
// crosses the line compacts it: the newest change of each logged key is
// merged into the chunk its key falls in, every such chunk is written
// again (a memory copy per pair) and the others are left as they are, and
// the log is emptied; a batch that alone is that large goes to the base
// directly. Amortised over the log, a change costs a copy into the log
// plus at most half a chunk pair's copy. (Format 1 applied a compaction as
// a B+tree insert per logged key, about 0.7 µs each. In bench's state
// scenario its slowest compacting commits took 3.9 s while loading 10M keys
// and 1.0 s for 1M changes of a 1M-key state; with chunks, about 0.8 s and
// 0.5 s.)
// Checkpoint.Compact compacts on demand, for engines with idle time;
// Checkpoint.StateLog says how full the log is (the engine compacts
// between processingTime batches once it is half way). ForEachState merges
// base and log (ascending stored keys).
//
// A delete is a change like a put, without a value: logged as the key and
// 'D', and applied by a compaction as a pair its chunk no longer holds, so
// it costs what a put costs. (bench's state scenario, 10M keys, fsync,
// three runs on a shared 2-core machine: a commit of 100k random deletes
// took 17, 30 and 19 ms, of 100k puts 45, 17 and 26 ms, medians of 3;
// BenchmarkCommitDeletes compacts 100k deletes or puts into a 1M-key base
// in 0.2-0.3 s either way.)
//
// Every commit is fsynced (bbolt's default) unless Options.NoSync, which is
// for tests and benchmarks only.
//
// # Locking
//
// One writer per checkpoint: bbolt takes an exclusive flock on
// checkpoint.db. A second Open, in this process or another, fails after
// Options.LockTimeout with a *LockedError naming the file and the holder's
// pid; it does not wait for the holder.
//
// # Reading a running job's checkpoint
//
// The CLI's state and offsets commands read the checkpoint of a running job,
// whose writer holds the exclusive flock. Open with Options.ReadOnly copies
// checkpoint.db to a temporary file and opens the copy read-only. The copy is
// consistent because bbolt never overwrites the pages of the newest
// committed transaction: if the newest meta page's txid is the same before
// and after the copy, the copy holds that transaction intact (snapshot.go
// gives the argument in full); otherwise the copy is retried. So that a
// writer committing faster than the file copies cannot starve the reader,
// the reader briefly holds back the writer's next transaction through a
// flock on snapshot.gate (the writer waits at most 5s, then goes on, and the
// txid check still guards the copy). A snapshot never touches the writer's
// bbolt lock.
package checkpoint

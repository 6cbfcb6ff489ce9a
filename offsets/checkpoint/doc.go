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
// the engine re-runs it with the same ranges and id, so the final state is
// the same as without the crash. WriteAhead refuses a different plan for a
// pending batch (ErrPlanConflict).
//
// # Checkpoint layout
//
// A checkpointLocation is a directory holding checkpoint.db (bbolt),
// checkpoint.pid (the writer's pid, advisory), and snapshot.gate and
// snapshot.lock (empty files flocked to coordinate read-only snapshots with
// the writer). Buckets of checkpoint.db:
//
//	meta       "version"        -> "2" (format version; Open of a writer upgrades "1", see below)
//	           "fingerprint"    -> JSON Fingerprint: form, stateful, group keys, aggregates (compared), schema,
//	                               query, source, format, outputMode (source and outputMode compared when
//	                               stateful); form 0, texts only, was written by earlier releases
//	           "initialOffsets" -> JSON list of {topic, partition, offset}
//	           "stateBaseKeys"  -> 8-byte big-endian number of keys in the base (estimated in format 1)
//	           "stateLogKeys"   -> 8-byte big-endian number of changes in statelog
//	offsets    batch id (8-byte big-endian) -> JSON BatchPlan (the WAL)
//	commits    batch id (8-byte big-endian) -> JSON CommitRecord
//	positions  topic, 0x00, partition (4-byte big-endian) -> until (8-byte big-endian)
//	statebase  first key of the chunk -> ~64 KiB chunk of the base: engine-encoded group keys and
//	           aggregate values (opaque), in ascending key order, each as uvarint key length, key,
//	           uvarint value length, value
//	state      empty; format 1's base: engine-encoded group key -> aggregate value, one entry per key
//	statelog   batch id (8-byte big-endian) + chunk number (4-byte big-endian) -> ~256 KiB chunk of the
//	           batch's changes since the last compaction, in key order; each change is
//	           uvarint key length, key, then 'D', or 'P', uvarint value length, value
//	sinks      one nested bucket per bbolt sink (CommitTx.Bucket)
//
// offsets and commits keep the last Options.Retain committed batches (and
// the pending one); positions has one entry per partition, so resuming
// costs O(partitions) whatever the number of batches. Every JSON record
// carries "v": the record version, 1.
//
// Format 1 differed only in where the base was: one bbolt key per state
// key, in "state". Such a checkpoint is read as it is (read-only too); its
// writer's Open sets the version to 2, and the first compaction moves the
// base into statebase and empties "state" in one transaction. A writer of
// a format 1 build refuses a checkpoint of format 2 (ErrVersion), but its
// read-only Open did not check the version: such a build's state command
// shows a format 2 checkpoint's state as empty. This build checks the
// version on read-only Opens too.
//
// # State storage and commit cost
//
// A commit writes only the keys the batch changed. Writing them in place
// would still rewrite a whole 4 KiB B+tree page per changed key when the
// keys are spread over a large state (10k changed keys of a 1M-key state
// touch ~10k pages), so a batch's changes are appended to statelog under
// its batch id instead, packed into a few large values: the commit costs
// about a memory copy of the bytes it changed plus one fsync.
//
// The base is kept as chunks of about 64 KiB: runs of (key, value) pairs in
// key order, each stored under its first key. When the log holds twice as
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
// base and log (ascending keys).
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

// Package engine runs a streaming query the way Spark Streaming's Direct
// Kafka integration does: the driver owns the offsets.
//
// # The batch lifecycle
//
// Every trigger the driver lists the partitions of the subscription and
// their earliest and latest offsets (the latest at the configured isolation
// level), plans one [from, until) range per partition capped by
// maxRatePerPartition x interval, writes the plan to the bbolt checkpoint
// (the write-ahead log) with the batch's engine facts (checkpoint.Meta: its
// processing time, the rate cap, the rows emitted before it), runs the
// ranges on the executor pool (fetch, decode to Arrow, filter, partial
// aggregates), merges the partial aggregates into the running state, hands
// the result to the sink, and then commits the changed state, the commit
// record and the new offsets in one bbolt transaction. The state's changes
// are copied out while the result is built and the sink writes, so the
// transaction, which begins only once the sink has returned, is short; a
// TxSink writes inside it.
//
// # Recovery
//
// A planned batch without a commit is re-run on restart with exactly the
// recorded ranges, the same batch id and the recorded engine facts (not
// the clock's or the configuration's), so a crash at any instant leaves
// the state as if there had been no crash, and the re-run batch's output
// is byte-identical to the first run's.
//
// # Sinks and crashes
//
// A sink sees, per Run: Open(lastCommitted), then for each batch N
// AddBatch(N) (a TxSink: AddBatchTx inside N's commit), N's bbolt commit,
// Committed(N); and Close at the end (see Sink). What a restart does after
// a crash of batch N at each point, by kind of sink:
//
//	crash point              restart (Open gets)   console        idempotent sink (marker)   TxSink
//	after plan               N-1; N planned anew   -              -                          -
//	after WAL, mid-fetch     N-1; N re-run         -              -                          -
//	after sink               N-1; N re-run         N printed      N found in target: skip    nothing written yet:
//	                                               twice          (or overwritten, same      N written once
//	                                                              rows)
//	inside the commit,       N-1; N re-run         N printed      as after sink              N's writes rolled
//	before it is durable                           twice                                     back, written once
//	after the commit,        N; N+1 re-run if      -              Committed(N) lost: Open    -
//	before Committed         read ahead                           finishes N's work
//	after Committed          N                     -              -                          -
//
// "Re-run" means the same id, ranges and facts, hence the same rows; a
// sink is never given a batch again once it was told the batch committed.
// Mid-fetch is "after plan" or "after WAL", as the plan's write, which
// runs alongside the fetch, is durable or not. With fetch-ahead (see
// loop), batch N is planned and read while N-1 is still being output and
// committed: a crash then finds N-1 at one of the later points.
// The console sink is at-least-once: it prints a re-run batch again. A
// sink for an external system (ForEachBatch, Kafka, a database, files) is
// exactly-once when it commits batch N's output together with an "N
// applied" marker in the target, inside AddBatch, and skips a batch whose
// marker it finds; fencing of old writers (a deterministic transactional
// id, an epoch row) and the clean-up of what a crashed writer left belong
// in Open. Work the sink defers until N is durable (publishing staged
// files, say) goes in Committed, and Open(lastCommitted) finishes it for
// batches up to lastCommitted after a crash before Committed, and discards
// it for later ones, which are delivered again. A TxSink is exactly-once
// by construction: its writes commit with the batch or not at all.
//
// The crash tests kill a child process with SIGKILL at each of these
// points (failpoint.go) and check the sink's record of calls, the TxSink's
// bucket and the state against a run without a crash.
//
// # Lifecycle
//
// Run blocks until the query ends. Cancelling Run's context (or calling
// Stop) is a graceful stop: the batch in flight is finished and committed,
// then Run returns nil. If the in-flight batch does not finish within
// Config.StopTimeout after the stop request, its work is cancelled and Run
// returns the cancellation error; the batch is re-run on the next start.
package engine

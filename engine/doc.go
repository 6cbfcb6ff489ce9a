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
// A sink is opened with the last committed batch, gets each batch before
// its commit and is told once it is durable; after a crash it gets the
// uncommitted batch again, with the same id and rows. Sink documents what
// a restart does at every crash point, per kind of sink.
//
// # Lifecycle
//
// Run blocks until the query ends. Cancelling Run's context (or calling
// Stop) is a graceful stop: the batch in flight is finished and committed,
// then Run returns nil. If the in-flight batch does not finish within
// Config.StopTimeout after the stop request, its work is cancelled and Run
// returns the cancellation error; the batch is re-run on the next start.
package engine

// Package engine runs a streaming query the way Spark Streaming's Direct
// Kafka integration does: the driver owns the offsets.
//
// # The batch lifecycle
//
// Every trigger the driver lists the partitions of the subscription and
// their earliest and latest offsets (the latest at the configured isolation
// level), plans one [from, until) range per partition capped by
// maxRatePerPartition x interval, writes the plan to the bbolt checkpoint
// (the write-ahead log), runs the ranges on the executor pool (fetch, decode
// to Arrow, filter, partial aggregates), merges the partial aggregates into
// the running state, hands the result to the sink, and commits the changed
// state, the commit record and the new offsets in one bbolt transaction.
// The transaction starts once the state is merged and writes the changed
// state while the result is built and the sink writes; it becomes durable
// only after the sink has the result.
//
// # Recovery
//
// A planned batch without a commit is re-run on restart with exactly the
// recorded ranges and the same batch id, so a crash at any instant leaves
// the state as if there had been no crash. Sinks receive a re-run batch with
// the same id; see Sink for what that means per sink.
//
// # Lifecycle
//
// Run blocks until the query ends. Cancelling Run's context (or calling
// Stop) is a graceful stop: the batch in flight is finished and committed,
// then Run returns nil. If the in-flight batch does not finish within
// Config.StopTimeout after the stop request, its work is cancelled and Run
// returns the cancellation error; the batch is re-run on the next start.
package engine

// Package engine runs a streaming query the way Spark Streaming's Direct
// Kafka integration does: the driver owns the offsets. Every trigger it
// plans one offset range per partition (capped by maxRatePerPartition x
// interval), writes the plan and the batch's engine facts (processing time,
// rate cap, rows emitted before it: checkpoint.Meta) ahead to the bbolt
// checkpoint, reads and aggregates the ranges on the executors, hands the
// result to the sink, then commits state, commit record and offsets in one
// bbolt transaction that begins only once the sink has returned.
//
// A planned batch without a commit is re-run on restart with the recorded
// ranges, id and facts, so its output is byte-identical and the state ends as
// without the crash. Sink documents what a restart does at each crash point,
// per kind of sink. Cancelling Run's context (or Stop) is a graceful stop;
// Config.StopTimeout bounds it.
package engine

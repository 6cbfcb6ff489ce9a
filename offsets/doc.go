// Package offsets owns where a microbatch query is in its Kafka topics: the
// offset ranges of each batch, starting-offset specs, rate caps and the
// batch planner. It holds pure types and functions only; the bbolt
// checkpoint that makes batches exactly-once is package
// offsets/checkpoint.
//
// It follows Spark Streaming's Direct Kafka approach: the driver, not a
// consumer group, owns the offsets.
//
// # Starting offsets
//
// ParseStartingOffsets reads Spark's startingOffsets option: "earliest",
// "latest" or JSON such as {"topicA":{"0":23,"1":-2}} (-2 earliest, -1
// latest). StartingOffsets.Resolve turns it into offsets once, at the query's
// first start; the engine records them with checkpoint.Checkpoint.SetInitialOffsets so
// that "latest" means the latest offsets of the first start, also after a
// restart. A JSON spec must name every partition of the subscription.
//
// # Planning a batch
//
// Plan computes one [from, until) range per partition from where each
// partition resumes (checkpoint.Checkpoint.Positions, or the initial offsets) and the
// partitions' log start and end offsets listed just now. RateLimit caps
// each range at maxRatePerPartition x interval. Plan handles the failure
// cases Spark's integration learnt the hard way: offsets deleted by
// retention, offsets that went backwards (topic recreated), partitions
// added or deleted while running; with failOnDataLoss they stop the query
// with a *DataLossError, otherwise they are skipped and listed.
package offsets

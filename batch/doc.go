// Package batch runs the executor side of a micro-batch: it reads the
// planned offset ranges of a batch from Kafka with cached consumers and
// decodes them into Arrow records for the query.
//
// It is the engine's executor and exports only what package engine uses:
// programs that run queries use engine, not this package.
//
// # Tasks and slots
//
// A Job's ranges become tasks: one per non-empty range, or several when a
// range is longer than Config.MaxOffsetsPerTask. An Executor has
// Config.Workers slots; each slot owns one Kafka consumer for the life of
// the Executor and reads all its tasks at once (one range per partition;
// a partition with several tasks in the slot is read in waves), because
// its consumer delivers the partitions in runs of a producer batch each,
// not in the order the ranges would be read one after the other.
// Partitions are sticky: a partition is given to the slot with the fewest
// partitions when it is first seen, and its tasks go to that slot batch
// after batch, so the slot's consumer
// continues where the previous batch ended without a seek and reuses what
// it prefetched. The pieces of a split range are spread over consecutive
// slots with the last piece on the partition's own slot, so its consumer
// still ends the batch at the range's Until.
//
// # Records
//
// Every record is appended to the task's dataframe.Decoder; every 8192
// rows the decoder is flushed and the Arrow record is
// handed to the task's TaskSink, then released.
//
// A malformed record (PERMISSIVE, DROPMALFORMED) that the decoder reports
// to the onMalformed callback Job.NewDecoder receives is copied, key,
// value and reason, into Result.Malformed, in (topic, partition, offset)
// order, up to MaxMalformedBytes a batch; those past it are counted in
// Result.MalformedOverflow.
//
// # Pipeline
//
// A slot reads and decodes on two goroutines, so that polling the consumer
// (a cgo call per record) overlaps decoding and the sinks: the slot's
// goroutine copies the records of its tasks as they arrive (each task's in
// offset order, the tasks interleaved) into chunks (a few thousand records,
// keys and values in one byte slice, each record with its task) and hands
// them over to its pipeline goroutine, which creates each task's decoder
// and sink on its first record, decodes and consumes, and ends a task when
// a chunk says its read ended. A slot has four chunks, reused batch after batch:
// the reader waits when it is that far ahead, which bounds a slot's memory.
// The pipeline goroutine lives for one Run; its first error (a decoder,
// sink, panic) cancels the slot's read, and a read error lets it finish the
// records read before, so that Run reports the error at the lowest offset,
// as a sequential read would.
package batch

package batch

import (
	"time"

	"github.com/microbatch/microbatch/offsets"
)

// taskStats describes one finished task.
type taskStats struct {
	Index int                 // the task's index in the batch
	Slot  int                 // the worker slot (consumer) that ran it
	Range offsets.OffsetRange // the offsets it read
	// Records is the number of Kafka records read; Rows the rows the decoder
	// produced (Records minus DROPMALFORMED drops).
	Records, Rows int64
	Bytes         int64 // key and value bytes read
	Corrupt       int64 // PERMISSIVE: malformed records kept with null fields
	Dropped       int64 // DROPMALFORMED: malformed records dropped
	// Malformed are the malformed records captured, in offset order;
	// MalformedOverflow counts those past MaxMalformedBytes.
	Malformed         []MalformedRecord
	MalformedOverflow int64
	// SkippedOffsets are offsets lost to retention and skipped
	// (failOnDataLoss=false).
	SkippedOffsets int64
	// Seeked is true when the slot's consumer had to be positioned at
	// Range.From; false when it continued where it was (prefetch reused).
	Seeked bool
	// Wall runs from the moment the slot started reading the task to the
	// moment its last record was decoded and consumed. Sink is the time
	// spent in TaskSink.Consume, FetchDecode the rest of Wall: reading,
	// decoding, setup (decoder, sink, assignment) and waiting for the
	// other side of the slot's pipeline. The read of a task overlaps the
	// decoding of the previous one, so the Walls of a slot's tasks may
	// overlap.
	FetchDecode, Sink, Wall time.Duration
}

// Result is what Run returns for a successful batch: totals over its
// tasks.
type Result struct {
	// Records is the number of Kafka records read and Bytes their key and
	// value bytes. Corrupt counts malformed records kept with null fields
	// (PERMISSIVE), Dropped those dropped (DROPMALFORMED), SkippedOffsets
	// the offsets lost to retention and skipped (failOnDataLoss=false).
	Records, Bytes, Corrupt, Dropped, SkippedOffsets int64
	// Malformed are the malformed records of the batch (PERMISSIVE and
	// DROPMALFORMED; FAILFAST fails the batch instead), in (topic,
	// partition, offset) order: copies of their key and value, with the
	// decoder's reason. Their keys and values hold at most
	// MaxMalformedBytes; MalformedOverflow counts the malformed records
	// past that bound, which are not captured.
	Malformed         []MalformedRecord
	MalformedOverflow int64

	rows  int64       // rows the decoders produced: Records minus Dropped
	tasks []taskStats // in task index order
}

func (r *Result) add(t taskStats) {
	r.Records += t.Records
	r.rows += t.Rows
	r.Bytes += t.Bytes
	r.Corrupt += t.Corrupt
	r.Dropped += t.Dropped
	r.SkippedOffsets += t.SkippedOffsets
	r.Malformed = append(r.Malformed, t.Malformed...)
	r.MalformedOverflow += t.MalformedOverflow
}

// PartitionRecords is the number of records read from each partition.
func (r *Result) PartitionRecords() map[offsets.TopicPartition]int64 {
	m := make(map[offsets.TopicPartition]int64)
	for _, t := range r.tasks {
		m[t.Range.TopicPartition()] += t.Records
	}
	return m
}

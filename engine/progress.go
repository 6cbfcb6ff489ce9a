package engine

import (
	"log/slog"
	"sort"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// Durations break a batch's wall time down by phase. In JSON they are
// Spark's durationMs (in whole milliseconds, under Spark's phase names)
// and, to the microsecond, microbatch.phaseDurationMs (see Progress).
type Durations struct {
	// Plan: listing partitions and offsets, planning ranges.
	Plan time.Duration
	// WAL: writing the plan to the checkpoint. It runs while the executors
	// fetch (FetchDecode); WALWait is how long the batch then still waited
	// for it. Both are 0 for a batch read ahead, whose plan was written in
	// the previous batch's commit.
	WAL     time.Duration
	WALWait time.Duration
	// FetchDecode: executors reading ranges, decoding to Arrow and
	// computing partial aggregates (wall time of the executor pool).
	FetchDecode time.Duration
	// FetchWait: how long the driver waited for the read, from taking the
	// batch up: FetchDecode, unless the batch was read ahead while the
	// previous one finished, then only what was left of its read.
	FetchWait time.Duration
	// Aggregate: merging partials into the state and building the result.
	Aggregate time.Duration
	// Sink: the sink's AddBatch (a TxSink writes in the commit instead).
	Sink time.Duration
	// Commit: from the sink's return until the commit is durable: the
	// bbolt transaction (state changes, a TxSink's writes, commit record,
	// offsets), which begins after the sink. A stateful query copies its
	// state's changes while the result is built and the sink writes; what
	// is left of that copy is waited for here too.
	Commit time.Duration
	// Total: from trigger to commit. The trigger of a batch read ahead
	// falls while the previous batch finishes, so such batches' Totals
	// overlap.
	Total time.Duration
}

// DriverOverhead is the time the driver adds to a batch's critical path:
// planning, waiting for the write-ahead log (which overlaps the fetch) and
// the commit.
func (d Durations) DriverOverhead() time.Duration { return d.Plan + d.WALWait + d.Commit }

// PartitionProgress is one partition's position after a batch.
type PartitionProgress struct {
	Topic     string
	Partition int32
	// StartOffset and EndOffset bound what the batch read: [start, end).
	StartOffset int64
	EndOffset   int64
	// LatestOffset is the partition's end when the batch was planned.
	LatestOffset int64
	// Lag is LatestOffset - EndOffset.
	Lag int64
	// NumInputRows is the number of records the batch read from the
	// partition (fewer than EndOffset - StartOffset across transaction
	// markers, compaction and aborted records).
	NumInputRows int64
}

// Progress describes one committed batch: Spark's StreamingQueryProgress.
// Its JSON (MarshalJSON) has Spark's field names; what Spark has no field
// for is under "microbatch" (see progressJSON).
type Progress struct {
	// ID identifies the query across restarts: it is kept in the file
	// "metadata" of the checkpoint directory, as Spark does. RunID is new
	// with every Run.
	ID    string
	RunID string
	Name  string
	// BatchID is the batch's id; Timestamp its trigger time.
	BatchID   int64
	Timestamp time.Time
	// Recovered is true when the batch was planned by an earlier run that
	// crashed before committing it, and re-run now.
	Recovered    bool
	NumInputRows int64
	// InputRowsPerSecond is input rows over the time since the previous
	// batch started; ProcessedRowsPerSecond is over this batch's duration.
	InputRowsPerSecond     float64
	ProcessedRowsPerSecond float64
	InputBytes             int64
	Durations              Durations
	// SchedulingDelay is how late the batch was triggered after its
	// scheduled time (the previous batch overran the interval; Spark
	// DStream's scheduling delay). 0 without a processingTime interval.
	SchedulingDelay time.Duration
	// TriggerInterval is the processingTime interval (0: back to back or
	// availableNow).
	TriggerInterval time.Duration
	// RateLimitPerPartition is the cap in force, in records per second of
	// trigger interval per partition (maxRatePerPartition); 0: none.
	RateLimitPerPartition int64
	// CorruptRecords (PERMISSIVE) and DroppedRecords (DROPMALFORMED) count
	// malformed records; SkippedOffsets counts offsets lost to retention
	// with failOnDataLoss=false. DeadLetters is the malformed records sent
	// to the dead-letter topic (0 without one).
	CorruptRecords int64
	DroppedRecords int64
	SkippedOffsets int64
	DeadLetters    int64
	// OutputRows is how many rows the sink received.
	OutputRows int64
	// StateRows is the number of groups in the state after the batch;
	// StateRowsUpdated the number this batch changed (and committed);
	// StateRowsRemoved the number it removed from the state (windows
	// closed by the watermark). Stateful is false for a query without
	// state, which has no state operator in JSON.
	Stateful         bool
	StateRows        int64
	StateRowsUpdated int64
	StateRowsRemoved int64
	// Source describes the source as Spark does ("KafkaV2[Subscribe[t]]");
	// Sink describes the sink (its Description method, else its type).
	Source  string
	Sink    string
	Sources []PartitionProgress
	// EventTime summarises the batch's event times and its watermark
	// (nil without a watermark); NumRowsDroppedByWatermark counts the
	// input rows every window of which had ended by the watermark.
	EventTime                 *EventTimeProgress
	NumRowsDroppedByWatermark int64
	// BackpressureRate is the rate, in records per second over all
	// partitions, backpressure planned the batch with; 0 when off or
	// before the first estimate without an initialRate.
	BackpressureRate float64
	// StaticTables are the static tables the query joins with, their
	// size in memory and content (nil without a join).
	StaticTables []StaticTableProgress
}

// TotalLag is the sum of every partition's lag.
func (p *Progress) TotalLag() int64 {
	var n int64
	for _, s := range p.Sources {
		n += s.Lag
	}
	return n
}

// SinkDescriber is a sink that describes itself in progress records
// (Progress.Sink, Spark's sink.description).
type SinkDescriber interface {
	Description() string
}

// log writes the batch's one line, at debug (Config.Logger's doc).
func (p *Progress) log(l *slog.Logger) {
	l.Debug("batch committed",
		"query", p.Name,
		"batch", p.BatchID,
		"rows", p.NumInputRows,
		"output_rows", p.OutputRows,
		"took", p.Durations.Total.Round(time.Microsecond),
		"lag", p.TotalLag(),
		"rows_per_sec", int64(p.ProcessedRowsPerSecond),
		"fetch_decode", p.Durations.FetchDecode.Round(time.Microsecond),
		"commit", p.Durations.Commit.Round(time.Microsecond),
		"state_rows", p.StateRows,
		"late_rows", p.NumRowsDroppedByWatermark,
		"recovered", p.Recovered,
	)
}

// sources is the progress of a batch's partitions: where each started and
// ended, its latest offset when the batch was planned (latest; nil for a
// recovered batch: the ends) and the records read from it (records).
func sources(plan checkpoint.BatchPlan, latest, records map[offsets.TopicPartition]int64) []PartitionProgress {
	before := make(map[offsets.TopicPartition]int64, len(plan.Ranges))
	for _, r := range plan.Ranges {
		before[r.TopicPartition()] = r.From
	}
	out := make([]PartitionProgress, 0, len(plan.Ends))
	for tp, end := range plan.Ends {
		startOff, ok := before[tp]
		if !ok {
			startOff = end
		}
		l := end
		if v, ok := latest[tp]; ok {
			l = v
		}
		out = append(out, PartitionProgress{Topic: tp.Topic, Partition: tp.Partition,
			StartOffset: startOff, EndOffset: end, LatestOffset: l, Lag: max(l-end, 0), NumInputRows: records[tp]})
	}
	sortPartitions(out)
	return out
}

func sortPartitions(ps []PartitionProgress) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		return offsets.TopicPartition{Topic: a.Topic, Partition: a.Partition}.Less(offsets.TopicPartition{Topic: b.Topic, Partition: b.Partition})
	})
}

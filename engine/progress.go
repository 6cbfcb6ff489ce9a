package engine

import (
	"log/slog"
	"sort"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// Durations break a batch's wall time down by phase (Spark's durationMs).
type Durations struct {
	// Plan: listing partitions and offsets, planning ranges.
	Plan time.Duration `json:"plan"`
	// WAL: writing the plan to the checkpoint. It runs while the executors
	// fetch (FetchDecode); WALWait is how long the batch then still waited
	// for it. Both are 0 for a batch read ahead, whose plan was written in
	// the previous batch's commit.
	WAL     time.Duration `json:"wal"`
	WALWait time.Duration `json:"walWait"`
	// FetchDecode: executors reading ranges, decoding to Arrow and
	// computing partial aggregates (wall time of the executor pool).
	FetchDecode time.Duration `json:"fetchDecode"`
	// FetchWait: how long the driver waited for the read, from taking the
	// batch up: FetchDecode, unless the batch was read ahead while the
	// previous one finished, then only what was left of its read.
	FetchWait time.Duration `json:"fetchWait"`
	// Aggregate: merging partials into the state and building the result.
	Aggregate time.Duration `json:"aggregate"`
	// Sink: the sink's AddBatch (a TxSink writes in the commit instead).
	Sink time.Duration `json:"sink"`
	// Commit: from the sink's return until the commit is durable: the
	// bbolt transaction (state changes, a TxSink's writes, commit record,
	// offsets), which begins after the sink. A stateful query copies its
	// state's changes while the result is built and the sink writes; what
	// is left of that copy is waited for here too.
	Commit time.Duration `json:"commit"`
	// Total: from trigger to commit. The trigger of a batch read ahead
	// falls while the previous batch finishes, so such batches' Totals
	// overlap.
	Total time.Duration `json:"total"`
}

// DriverOverhead is the time the driver adds to a batch's critical path:
// planning, waiting for the write-ahead log (which overlaps the fetch) and
// the commit.
func (d Durations) DriverOverhead() time.Duration { return d.Plan + d.WALWait + d.Commit }

// PartitionProgress is one partition's position after a batch.
type PartitionProgress struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// StartOffset and EndOffset bound what the batch read: [start, end).
	StartOffset int64 `json:"startOffset"`
	EndOffset   int64 `json:"endOffset"`
	// LatestOffset is the partition's end when the batch was planned.
	LatestOffset int64 `json:"latestOffset"`
	// Lag is LatestOffset - EndOffset.
	Lag int64 `json:"lag"`
}

// Progress describes one committed batch, in the spirit of Spark's
// StreamingQueryProgress.
type Progress struct {
	Name      string    `json:"name"`
	BatchID   int64     `json:"batchId"`
	Timestamp time.Time `json:"timestamp"`
	// Recovered is true when the batch was planned by an earlier run that
	// crashed before committing it, and re-run now.
	Recovered    bool  `json:"recovered"`
	NumInputRows int64 `json:"numInputRows"`
	// InputRowsPerSecond is input rows over the time since the previous
	// batch started; ProcessedRowsPerSecond is over this batch's duration.
	InputRowsPerSecond     float64   `json:"inputRowsPerSecond"`
	ProcessedRowsPerSecond float64   `json:"processedRowsPerSecond"`
	InputBytes             int64     `json:"inputBytes"`
	Durations              Durations `json:"durations"`
	// CorruptRecords (PERMISSIVE) and DroppedRecords (DROPMALFORMED) count
	// malformed records; SkippedOffsets counts offsets lost to retention
	// with failOnDataLoss=false.
	CorruptRecords int64 `json:"corruptRecords"`
	DroppedRecords int64 `json:"droppedRecords"`
	SkippedOffsets int64 `json:"skippedOffsets"`
	// OutputRows is how many rows the sink received.
	OutputRows int64 `json:"outputRows"`
	// StateRows is the number of groups in the state after the batch;
	// StateRowsUpdated the number this batch changed (and committed).
	StateRows        int64 `json:"stateRows"`
	StateRowsUpdated int64 `json:"stateRowsUpdated"`
	// StateRowsRemoved is the groups the batch evicted (closed windows).
	StateRowsRemoved int64 `json:"stateRowsRemoved"`
	// EventTime summarises the batch's event times and its watermark
	// (nil without a watermark); NumRowsDroppedByWatermark counts the
	// input rows every window of which had ended by the watermark.
	EventTime                 *EventTimeProgress  `json:"eventTime,omitempty"`
	NumRowsDroppedByWatermark int64               `json:"numRowsDroppedByWatermark"`
	Sources                   []PartitionProgress `json:"sources"`
	// SchedulingDelay is how late the batch started after its trigger was
	// due (Spark's scheduling delay); 0 when batches run back to back.
	SchedulingDelay time.Duration `json:"schedulingDelay"`
	// BackpressureRate is the rate, in records per second over all
	// partitions, backpressure planned the batch with; 0 when off or
	// before the first estimate without an initialRate.
	BackpressureRate float64 `json:"backpressureRate,omitempty"`
}

// TotalLag is the sum of every partition's lag.
func (p *Progress) TotalLag() int64 {
	var n int64
	for _, s := range p.Sources {
		n += s.Lag
	}
	return n
}

func (p *Progress) log(l *slog.Logger) {
	l.Info("batch committed",
		"query", p.Name,
		"batch", p.BatchID,
		"rows", p.NumInputRows,
		"rows_per_sec", int64(p.ProcessedRowsPerSecond),
		"duration", p.Durations.Total.Round(time.Microsecond),
		"fetch_decode", p.Durations.FetchDecode.Round(time.Microsecond),
		"commit", p.Durations.Commit.Round(time.Microsecond),
		"state_rows", p.StateRows,
		"late_rows", p.NumRowsDroppedByWatermark,
		"lag", p.TotalLag(),
		"recovered", p.Recovered,
	)
}

// sources is the progress of a batch's partitions: where each started and
// ended, and its latest offset when the batch was planned (latest; nil for
// a recovered batch: the ends).
func sources(plan checkpoint.BatchPlan, latest map[offsets.TopicPartition]int64) []PartitionProgress {
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
			StartOffset: startOff, EndOffset: end, LatestOffset: l, Lag: max(l-end, 0)})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return offsets.TopicPartition{Topic: a.Topic, Partition: a.Partition}.Less(offsets.TopicPartition{Topic: b.Topic, Partition: b.Partition})
	})
	return out
}

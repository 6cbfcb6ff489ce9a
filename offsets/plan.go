package offsets

import (
	"fmt"
	"time"
)

// PlanInput is what the driver knows when it plans a batch.
type PlanInput struct {
	// Partitions are the current partitions of the subscription.
	Partitions []TopicPartition
	// Start is where each known partition resumes: the until of the last
	// committed batch (Checkpoint.Positions), or the resolved initial
	// offsets for partitions never committed.
	Start map[TopicPartition]int64
	// Earliest and Latest are the log start and end offsets of every
	// partition in Partitions, listed just now (end = last stable offset
	// under read_committed).
	Earliest, Latest map[TopicPartition]int64
	// Limit and Interval cap each range (RateLimit.MaxOffsets).
	Limit    RateLimit
	Interval time.Duration
	// Rate, when > 0, is backpressure's estimate in records per second
	// over all partitions: split across the partitions in proportion to
	// their lag, each share capped by Limit's rate for the partition, and
	// x Interval (Spark Streaming's maxMessagesPerPartition).
	Rate float64
	// MinRatePerPartition is the fewest offsets a rate cap (Limit's or
	// Rate's) lets a batch read from a partition with a lag. As in Spark
	// (spark.streaming.kafka.minRatePerPartition) it is compared with the
	// batch's offsets, not scaled by Interval; 0 is treated as 1.
	MinRatePerPartition int64
	// MaxOffsetsPerTrigger, when > 0, caps the batch's total offsets,
	// split across the partitions in proportion to their lag (Structured
	// Streaming's maxOffsetsPerTrigger).
	MaxOffsetsPerTrigger int64
	// FailOnDataLoss makes Plan return the first *DataLossError instead of
	// skipping the lost offsets.
	FailOnDataLoss bool
}

// PlanOutput is a planned batch.
type PlanOutput struct {
	// Ranges are the non-empty ranges to read, sorted by partition.
	Ranges []OffsetRange
	// Ends is the until of every partition in PlanInput.Partitions (equal to
	// its start when it has nothing to read): the positions the batch's
	// commit records.
	Ends map[TopicPartition]int64
	// DataLoss lists the offsets skipped (only when FailOnDataLoss is
	// false), sorted by partition.
	DataLoss []DataLossError
	// Gone are partitions of Start no longer in Partitions (topic or
	// partition deleted), sorted. Their loss is in DataLoss; committing
	// the batch forgets their positions (BatchPlan.Gone).
	Gone []TopicPartition
}

// Reasons recorded in DataLossError.Reason by Plan.
const (
	reasonBelowLogStart = "offsets are below the partition's log start offset (deleted by retention?)"
	reasonBackwards     = "the partition's end offset went below the resume offset (topic deleted and recreated?); skipping reads it again from its log start"
	reasonGone          = "the partition is no longer in the subscription (topic or partition deleted?); unread records may be lost"
)

// Plan computes the next batch's ranges, following Spark's Direct Kafka
// rules:
//
//   - A partition absent from Start (added while running, or a new topic
//     matching the subscription) starts at its earliest offset.
//   - from < earliest (deleted by retention): data loss of [from, earliest);
//     when skipping, from = earliest.
//   - from > latest (offsets went backwards: topic recreated): data loss
//     reported as [latest, from). Spark reports "offset was changed from
//     from to latest" and resumes at the new latest, silently skipping what
//     the recreated partition already holds; Plan instead resumes at the new
//     earliest, treating the recreated partition like a new one, so nothing
//     the query can still read is skipped.
//   - A partition of Start missing from Partitions: data loss (Spark's "are
//     gone"), From = Until = its start since the lost count is unknown.
//   - until = min(latest, from + the smallest cap): Limit.MaxOffsets(tp,
//     Interval), backpressure's share of Rate, maxOffsetsPerTrigger's share
//     (see PlanInput); never past latest. The first batch after a long
//     stop is capped like any other.
//
// With FailOnDataLoss the first loss (in partition order) is returned as a
// *DataLossError and no plan.
func Plan(in PlanInput) (PlanOutput, error) {
	parts := make([]TopicPartition, len(in.Partitions))
	copy(parts, in.Partitions)
	SortPartitions(parts)
	out := PlanOutput{Ends: make(map[TopicPartition]int64, len(parts))}
	var losses []DataLossError
	// The lag of every partition first: the caps that split a total
	// across partitions (backpressure, maxOffsetsPerTrigger) need all.
	type span struct {
		tp           TopicPartition
		from, latest int64
	}
	spans := make([]span, 0, len(parts))
	for i, tp := range parts {
		if i > 0 && parts[i-1] == tp {
			continue
		}
		earliest, okE := in.Earliest[tp]
		latest, okL := in.Latest[tp]
		if !okE || !okL {
			return PlanOutput{}, fmt.Errorf("%w: no earliest or latest offset listed for %s", ErrPlanInput, tp)
		}
		if earliest < 0 || earliest > latest {
			return PlanOutput{}, fmt.Errorf("%w: %s has log start %d and end %d", ErrPlanInput, tp, earliest, latest)
		}
		from, known := in.Start[tp]
		switch {
		case !known:
			from = earliest
		case from < 0:
			return PlanOutput{}, fmt.Errorf("%w: %s resumes at negative offset %d", ErrPlanInput, tp, from)
		case from > latest:
			losses = append(losses, DataLossError{Topic: tp.Topic, Partition: tp.Partition, From: latest, Until: from, Reason: reasonBackwards})
			from = earliest
		case from < earliest:
			losses = append(losses, DataLossError{Topic: tp.Topic, Partition: tp.Partition, From: from, Until: earliest, Reason: reasonBelowLogStart})
			from = earliest
		}
		spans = append(spans, span{tp, from, latest})
	}
	var totalLag int64
	for _, s := range spans {
		totalLag = satAdd(totalLag, s.latest-s.from)
	}
	for _, s := range spans {
		until := s.latest
		if n := in.maxOffsets(s.tp, s.latest-s.from, totalLag); n > 0 && n < s.latest-s.from {
			until = s.from + n
		}
		out.Ends[s.tp] = until
		if until > s.from {
			out.Ranges = append(out.Ranges, OffsetRange{Topic: s.tp.Topic, Partition: s.tp.Partition, From: s.from, Until: until})
		}
	}
	for _, tp := range sortedKeys(in.Start) {
		if _, ok := out.Ends[tp]; ok {
			continue
		}
		out.Gone = append(out.Gone, tp)
		s := in.Start[tp]
		losses = append(losses, DataLossError{Topic: tp.Topic, Partition: tp.Partition, From: s, Until: s, Reason: reasonGone})
	}
	if len(losses) > 0 {
		sortLosses(losses)
		if in.FailOnDataLoss {
			e := losses[0]
			return PlanOutput{}, &e
		}
		out.DataLoss = losses
	}
	return out, nil
}

func sortLosses(ls []DataLossError) {
	// Insertion sort: a handful of entries, and it keeps equal keys stable.
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && lossLess(ls[j], ls[j-1]); j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

func lossLess(a, b DataLossError) bool {
	ta := TopicPartition{Topic: a.Topic, Partition: a.Partition}
	tb := TopicPartition{Topic: b.Topic, Partition: b.Partition}
	return ta.Less(tb)
}

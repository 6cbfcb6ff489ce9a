package offsets

import (
	"math"
	"math/bits"
	"time"
)

// RateLimit caps how many offsets a batch reads per partition: Spark
// Streaming's spark.streaming.kafka.maxRatePerPartition.
type RateLimit struct {
	// MaxRatePerPartition is in records (offsets) per second per partition;
	// 0 means no cap.
	MaxRatePerPartition int64
	// PerPartition overrides MaxRatePerPartition for some partitions; an
	// override of 0 means no cap for that partition.
	PerPartition map[TopicPartition]int64
}

// Rate returns the rate that applies to tp, 0 when uncapped.
func (r RateLimit) Rate(tp TopicPartition) int64 {
	if v, ok := r.PerPartition[tp]; ok {
		return max(v, 0)
	}
	return max(r.MaxRatePerPartition, 0)
}

// MaxOffsets returns the most offsets one batch may read from tp:
// rate x interval, with a fractional interval in seconds (rounded down), at
// least 1 when a rate is set so a capped query always advances, and
// saturating at math.MaxInt64. It returns 0, meaning unlimited, when no rate
// applies to tp. A non-positive interval with a rate gives 1.
func (r RateLimit) MaxOffsets(tp TopicPartition, interval time.Duration) int64 {
	rate := r.Rate(tp)
	if rate == 0 {
		return 0
	}
	if interval <= 0 {
		return 1
	}
	// rate * nanoseconds / 1e9 in 128 bits: exact, no float rounding.
	hi, lo := bits.Mul64(uint64(rate), uint64(interval))
	const nsPerSec = uint64(time.Second)
	if hi >= nsPerSec {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, nsPerSec)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return max(int64(q), 1)
}

// maxOffsets is the most offsets the batch may read from tp, whose lag is
// lag of the partitions' total: the smallest of the caps in force (see
// PlanInput), 0 when none is.
func (in PlanInput) maxOffsets(tp TopicPartition, lag, totalLag int64) int64 {
	n := in.Limit.MaxOffsets(tp, in.Interval)
	if n > 0 && n < in.MinRatePerPartition {
		n = in.MinRatePerPartition
	}
	if in.Rate > 0 {
		n = in.backpressureOffsets(tp, lag, totalLag) // at most the rate limit's
	}
	if in.MaxOffsetsPerTrigger > 0 && totalLag > 0 {
		// Structured Streaming's split: a share below one offset rounds up,
		// so that every partition with a lag advances.
		share := float64(in.MaxOffsetsPerTrigger) * (float64(lag) / float64(totalLag))
		if share < 1 {
			n = minCap(n, int64(math.Ceil(share)))
		} else {
			n = minCap(n, floatOffsets(share))
		}
	}
	return n
}

// backpressureOffsets is tp's share of Rate, in proportion to its lag and
// at most its own rate limit, over Interval, and at least
// MinRatePerPartition offsets (Spark's maxMessagesPerPartition, which
// compares the minimum rate with the offsets of the batch, whatever its
// interval). With no lag anywhere there is nothing to read.
func (in PlanInput) backpressureOffsets(tp TopicPartition, lag, totalLag int64) int64 {
	var rate float64
	if totalLag > 0 {
		rate = in.Rate * (float64(lag) / float64(totalLag))
	}
	if limit := in.Limit.Rate(tp); limit > 0 {
		rate = min(rate, float64(limit))
	}
	return max(floatOffsets(rate*in.Interval.Seconds()), in.MinRatePerPartition, 1)
}

// floatOffsets converts a count of offsets to int64, rounding down and
// saturating.
func floatOffsets(f float64) int64 {
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(f)
}

// minCap is the smaller of two caps, where 0 means none.
func minCap(a, b int64) int64 {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// satAdd adds two non-negative counts, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

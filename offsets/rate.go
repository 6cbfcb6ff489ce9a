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

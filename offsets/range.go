package offsets

import (
	"fmt"
	"sort"
)

// Special offsets used in starting-offset specs, as in Spark's Kafka source.
const (
	// Earliest means the log start offset of a partition.
	Earliest int64 = -2
	// Latest means the end offset of a partition (high watermark, or last
	// stable offset under read_committed).
	Latest int64 = -1
)

// TopicPartition names one Kafka partition.
type TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// Less orders partitions by topic, then partition number.
func (tp TopicPartition) Less(o TopicPartition) bool {
	if tp.Topic != o.Topic {
		return tp.Topic < o.Topic
	}
	return tp.Partition < o.Partition
}

// SortPartitions sorts tps in place by topic, then partition.
func SortPartitions(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool { return tps[i].Less(tps[j]) })
}

// OffsetRange is the half-open offset interval [From, Until) of one
// partition: the unit of work of a batch, as in Spark's OffsetRange.
type OffsetRange struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	From      int64  `json:"from"`
	Until     int64  `json:"until"`
}

// TopicPartition returns the partition the range reads.
func (r OffsetRange) TopicPartition() TopicPartition {
	return TopicPartition{Topic: r.Topic, Partition: r.Partition}
}

// Count is the number of offsets in the range (not necessarily records:
// compaction and transaction markers leave gaps).
func (r OffsetRange) Count() int64 {
	if r.Until <= r.From {
		return 0
	}
	return r.Until - r.From
}

func (r OffsetRange) String() string {
	return fmt.Sprintf("%s-%d[%d,%d)", r.Topic, r.Partition, r.From, r.Until)
}

// SortRanges sorts ranges by topic, partition, then From.
func SortRanges(rs []OffsetRange) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.From < b.From
	})
}

package offsets

import (
	"errors"
	"fmt"
	"strings"
)

// ErrDataLoss is matched (errors.Is) by every *DataLossError.
var ErrDataLoss = errors.New("data loss")

// DataLossError reports offsets that can no longer be read: deleted by
// retention (or DeleteRecords) before the query read them, or a partition
// whose offsets went backwards (topic recreated). With failOnDataLoss=true
// the query stops with this error; with false the offsets are skipped and
// counted.
type DataLossError struct {
	Topic     string
	Partition int32
	// From and Until bound the offsets that were lost: [From, Until).
	From, Until int64
	Reason      string
}

func (e *DataLossError) Error() string {
	r := e.Reason
	if r == "" {
		r = "offsets are below the partition's log start offset (deleted by retention?)"
	}
	return fmt.Sprintf("data loss on %s-%d: offsets [%d, %d) are no longer available: %s; set failOnDataLoss: false to skip them",
		e.Topic, e.Partition, e.From, e.Until, r)
}

// Is makes errors.Is(err, ErrDataLoss) true.
func (e *DataLossError) Is(target error) bool { return target == ErrDataLoss }

// Lost is the number of offsets lost.
func (e *DataLossError) Lost() int64 { return e.Until - e.From }

// Sentinel errors of the package. Every error returned by this package
// matches one of them (or ErrDataLoss) with errors.Is; the typed errors below
// carry the details.
var (
	// ErrStartingOffsets is matched by errors from ParseStartingOffsets and
	// StartingOffsets.Resolve (*SpecError, *PartitionMismatchError).
	ErrStartingOffsets = errors.New("invalid startingOffsets")

	// ErrPlanInput is returned (wrapped) by Plan when its input is
	// inconsistent: a partition without listed offsets, a log start above
	// the log end, a negative resume offset.
	ErrPlanInput = errors.New("invalid plan input")
)

// SpecError reports what is wrong in a startingOffsets spec, and where.
type SpecError struct {
	// Topic and Partition locate the problem; empty when it is not inside
	// one topic or partition key.
	Topic, Partition string
	Msg              string
}

func (e *SpecError) Error() string {
	where := ""
	switch {
	case e.Topic != "" && e.Partition != "":
		where = fmt.Sprintf(" at topic %q, partition %q", e.Topic, e.Partition)
	case e.Topic != "":
		where = fmt.Sprintf(" at topic %q", e.Topic)
	}
	return fmt.Sprintf("invalid startingOffsets%s: %s", where, e.Msg)
}

// Is makes errors.Is(err, ErrStartingOffsets) true.
func (e *SpecError) Is(target error) bool { return target == ErrStartingOffsets }

// PartitionMismatchError reports a specific startingOffsets spec that does
// not name exactly the partitions of the subscription (Spark's rule: "If
// startingOffsets contains specific offsets, you must specify all
// TopicPartitions").
type PartitionMismatchError struct {
	// Missing are partitions of the subscription the spec does not name;
	// Extra are partitions the spec names that the subscription lacks.
	// Both sorted.
	Missing, Extra []TopicPartition
}

func (e *PartitionMismatchError) Error() string {
	var b strings.Builder
	b.WriteString("invalid startingOffsets: specific offsets must name every partition of the subscription (use -2 for earliest, -1 for latest)")
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "; missing: %s", joinPartitions(e.Missing))
	}
	if len(e.Extra) > 0 {
		fmt.Fprintf(&b, "; not in the subscription: %s", joinPartitions(e.Extra))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrStartingOffsets) true.
func (e *PartitionMismatchError) Is(target error) bool { return target == ErrStartingOffsets }

func joinPartitions(tps []TopicPartition) string {
	s := make([]string, len(tps))
	for i, tp := range tps {
		s[i] = tp.String()
	}
	return strings.Join(s, ", ")
}

package offsets

import (
	"errors"
	"fmt"
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

package batch

import (
	"fmt"
	"sync/atomic"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
)

// MaxMalformedBytes bounds the malformed records a Run captures: their
// keys, values and headers together, over the whole batch. A malformed record past
// the bound is counted in Result.MalformedOverflow and not captured, so a
// batch of garbage holds at most this much in memory besides its chunks.
const MaxMalformedBytes = 64 << 20

// MalformedRecord is a record the decoder could not decode in PERMISSIVE or
// DROPMALFORMED mode, as it was in Kafka, with why: what a dead-letter
// writer sends.
type MalformedRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64    // milliseconds since the Unix epoch; -1 when the record has none
	Key       []byte   // a copy; nil when the record has none
	Value     []byte   // a copy; nil when the record has none
	Headers   []Header // the record's headers, copies; nil when none
	Column    string   // the column being decoded, when known
	Reason    string   // the decoder's error
}

// Error describes the record and the reason, naming the column, as
// dataframe.MalformedRecordError does.
func (m *MalformedRecord) Error() string {
	col := ""
	if m.Column != "" {
		col = fmt.Sprintf(" column %q:", m.Column)
	}
	return fmt.Sprintf("malformed record at %s-%d offset %d:%s %s", m.Topic, m.Partition, m.Offset, col, m.Reason)
}

// capture records run's current record as malformed (run.bad says why),
// within the batch's budget.
func capture(run *taskRun, budget *atomic.Int64, timestamp int64, key, value, headers []byte) {
	bad := run.bad
	run.bad = nil
	if budget.Add(-int64(len(key)+len(value)+len(headers))) < 0 {
		run.st.MalformedOverflow++
		return
	}
	m := MalformedRecord{
		Topic: bad.Topic, Partition: bad.Partition, Offset: bad.Offset, Timestamp: timestamp,
		Key: clone(key), Value: clone(value), Column: bad.Column, Reason: bad.Reason,
	}
	if len(headers) > 0 {
		hs, err := kafka.DecodeHeaders(headers)
		if err != nil { // the reader encoded them: a bug, not bad input
			m.Reason += "; its headers are lost: " + err.Error()
		}
		for _, h := range hs {
			m.Headers = append(m.Headers, Header(h))
		}
	}
	run.st.Malformed = append(run.st.Malformed, m)
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte // nil for a null value
}

// clone copies b, keeping nil and empty apart.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// onMalformed returns the DecoderOptions.OnMalformed of run's decoder.
func (run *taskRun) onMalformed() func(*dataframe.MalformedRecordError) {
	return func(e *dataframe.MalformedRecordError) { run.bad = e }
}

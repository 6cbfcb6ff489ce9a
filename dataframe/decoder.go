package dataframe

import (
	"cmp"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// RecordMeta is the Kafka metadata of one record, exposed to queries as the
// columns _topic, _partition, _offset, _timestamp and _key.
type RecordMeta struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64 // milliseconds since the Unix epoch
	Key       []byte
}

// DecodeStats counts what a Decoder saw since it was created.
type DecodeStats struct {
	Rows    int64 // rows appended to the output (including PERMISSIVE rows with nulls)
	Corrupt int64 // PERMISSIVE: malformed records kept with null fields
	Dropped int64 // DROPMALFORMED: malformed records dropped
}

// Decoder turns record values (JSON or CSV bytes) into Arrow record batches
// of a fixed schema. A Decoder is used by one goroutine.
type Decoder interface {
	// Append decodes one record. In FAILFAST mode a malformed record returns
	// a *MalformedRecordError; in the other modes it is counted, reported to
	// DecoderOptions.OnMalformed and Append returns nil. value is not
	// retained after Append returns.
	Append(meta *RecordMeta, value []byte) error
	// Len is the number of rows appended since the last Flush.
	Len() int
	// Flush returns the rows appended since the last Flush as one record
	// (nil when there are none). The caller releases it.
	Flush() arrow.Record
	// Stats returns cumulative counts.
	Stats() DecodeStats
	// Release frees the decoder's builders.
	Release()
}

// MalformedRecordError names the record that could not be decoded and why.
type MalformedRecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	Column    string // the column being decoded, when known
	Reason    string
	// Mode is the decoder's mode: FAILFAST for an error of Append, PERMISSIVE
	// or DROPMALFORMED for a report to DecoderOptions.OnMalformed. 0 reads
	// as FAILFAST.
	Mode Mode
}

func (e *MalformedRecordError) Error() string {
	col := ""
	if e.Column != "" {
		col = fmt.Sprintf(" column %q:", e.Column)
	}
	return fmt.Sprintf("malformed record at %s-%d offset %d:%s %s (mode %s)", e.Topic, e.Partition, e.Offset, col, e.Reason, cmp.Or(e.Mode, FailFast))
}

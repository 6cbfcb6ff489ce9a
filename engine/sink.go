package engine

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// Output is the result of one batch as a sink sees it.
type Output struct {
	// BatchID is the batch's id. A batch re-run after a crash has the same
	// id and the same input ranges, hence the same output.
	BatchID int64
	// Ranges are the offset ranges the batch read.
	Ranges []offsets.OffsetRange
	// Mode is the query's output mode: complete (the whole result table),
	// update (rows changed by this batch) or append (new rows).
	Mode dataframe.OutputMode
	// Schema is the schema of every record.
	Schema *arrow.Schema
	// Records hold the rows. They are valid until AddBatch returns; call
	// Retain on a record to keep it longer (and Release it later).
	Records []arrow.Record
}

// NumRows is the total row count of o.Records.
func (o *Output) NumRows() int64 {
	var n int64
	for _, r := range o.Records {
		n += r.NumRows()
	}
	return n
}

// Sink receives the output of every committed batch.
//
// Delivery is at-least-once at the sink boundary: AddBatch is called before
// the batch commits, so after a crash between the two the same batch id is
// delivered again with the same rows. A sink that remembers the last batch
// id it applied (or writes keyed by batch id) is exactly-once; the console
// sink simply prints the batch again. TxSink sinks write inside the commit
// transaction and are exactly-once by construction.
type Sink interface {
	// AddBatch writes out. ctx bounds the write; it is cancelled only when
	// a stop times out.
	AddBatch(ctx context.Context, out *Output) error
}

// TxSink is a sink whose writes join the batch's bbolt commit transaction:
// its rows and the batch's offsets commit together or not at all. The
// engine calls only AddBatchTx for a TxSink, never its AddBatch.
type TxSink interface {
	Sink
	// AddBatchTx writes out through tx. It runs inside the commit and must
	// not block on anything but the transaction.
	AddBatchTx(tx *checkpoint.CommitTx, out *Output) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, out *Output) error

// AddBatch calls f.
func (f SinkFunc) AddBatch(ctx context.Context, out *Output) error { return f(ctx, out) }

// ForEachBatch returns a sink that calls fn with every batch, like Spark's
// foreachBatch: fn sees the batch id and should make its writes idempotent
// by it to be exactly-once.
func ForEachBatch(fn func(ctx context.Context, out *Output) error) Sink { return SinkFunc(fn) }

package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"go.etcd.io/bbolt"

	"github.com/microbatch/microbatch/batch"
	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// Output is the result of one batch as a sink sees it.
type Output struct {
	// BatchID is the batch's id. A batch re-run after a crash has the same
	// id, the same input ranges and the same engine facts (processing
	// time, rows emitted before it), hence byte-identical rows.
	BatchID int64
	// Ranges are the offset ranges the batch read.
	Ranges []offsets.OffsetRange
	// Mode is the query's output mode: complete (the whole result table),
	// update (rows changed by this batch) or append (new rows).
	Mode dataframe.OutputMode
	// Schema is the schema of every record of Records.
	Schema *arrow.Schema
	// Records hold the rows. They are valid until AddBatch (AddBatchTx)
	// returns; call Retain on a record to keep it longer (and Release it
	// later).
	Records []arrow.Record
	// KeySchema is the query's key columns, the schema of Deleted: the
	// output columns that are plain GROUP BY columns, then any GROUP BY
	// expression the output lacks. It is set for a query that aggregates
	// (update and complete mode), nil otherwise; a sink that keys its
	// records (Kafka) keys them by these columns.
	KeySchema *arrow.Schema
	// Deleted holds the keys of the groups this batch removed from the
	// result table (update mode), which the sink should delete; nil when
	// none. Valid as Records are.
	Deleted arrow.Record
	// Malformed are the batch's malformed records (PERMISSIVE and
	// DROPMALFORMED mode), in (topic, partition, offset) order, with their
	// original key, value, timestamp and headers and the decoder's reason naming the
	// column: what a dead-letter writer sends to
	// KafkaSource.DeadLetter.Topic. A re-run batch has the same ones. Their
	// keys and values hold at most batch.MaxMalformedBytes;
	// MalformedOverflow counts those past it, not captured (a batch with
	// a dead-letter topic fails instead). The sink must not modify them.
	Malformed         []MalformedRecord
	MalformedOverflow int64
}

// MalformedRecord is a record that could not be decoded, as it was in
// Kafka (key, value, timestamp, headers), with why.
type MalformedRecord = batch.MalformedRecord

// NumRows is the total row count of o.Records.
func (o *Output) NumRows() int64 {
	var n int64
	for _, r := range o.Records {
		n += r.NumRows()
	}
	return n
}

// Sink receives the output of every batch, before the batch commits.
//
// A sink may also implement SinkOpener, SinkCommitter and io.Closer. In one
// Run the engine calls, on Run's goroutine, one at a time:
//
//	Open(ctx, lastCommitted)      once, before the first batch
//	AddBatch(ctx, out)            batch N's output; then N commits in bbolt
//	Committed(ctx, N)             once N's commit is durable
//	... AddBatch N+1, Committed N+1, ...
//	Close()                       once, when Run ends, also on failure
//
// A Run that fails before it reaches Open (the checkpoint is locked, of
// another query or corrupt; the cluster is unreachable at the first start)
// calls none of them. A Query run again calls Open again.
//
// AddBatch returns before the batch's bbolt transaction begins, so a slow
// sink delays the batch but holds no lock on the checkpoint; a batch whose
// AddBatch failed is never committed. The same batch id is never passed to
// AddBatch after its Committed. After a crash, the batch that was planned
// but not committed is delivered again: AddBatch with the same id and
// byte-identical rows, as the batch re-runs its recorded plan with its
// recorded engine facts (checkpoint.Meta). Committed calls lost in the
// crash are not repeated: Open's lastCommitted says which batches are
// durable. What a restart does after a crash of batch N, by crash point
// and kind of sink:
//
//	crash point              restart (Open gets)   console        idempotent sink (marker)   TxSink
//	after plan               N-1; N planned anew   -              -                          -
//	after WAL                N-1; N re-run         -              -                          -
//	after sink               N-1; N re-run         N printed      N found in target: skip    nothing written yet:
//	                                               twice          (or overwritten, same      N written once
//	                                                              rows)
//	inside the commit,       N-1; N re-run         N printed      as after sink              N's writes rolled
//	before it is durable                           twice                                     back, written once
//	after the commit,        N; N+1 re-run if      -              Committed(N) lost: Open    -
//	before Committed         read ahead                           finishes N's work
//	after Committed          N                     -              -                          -
//
// A crash while the batch is being read is "after plan" or "after WAL",
// as the plan's write, which runs alongside the read, is durable or not.
// With fetch-ahead, batch N is planned and read while N-1 is still being
// output and committed: a crash then finds N-1 at one of the later points.
//
// The console sink is at-least-once: it prints a re-run batch again. A
// sink for an external system (ForEachBatch, Kafka, a database, files) is
// exactly-once when it commits batch N's output together with an "N
// applied" marker in the target, inside AddBatch, and skips a batch whose
// marker it finds; fencing older writers (a deterministic transactional
// id, an epoch row) and cleaning up what a crashed writer left belong in
// Open. Work the sink defers until N is durable (publishing staged files,
// say) goes in Committed; after a crash before Committed, Open finishes it
// for batches up to lastCommitted and discards it for later ones, which
// are delivered again. A TxSink is exactly-once by construction: its
// writes commit with the batch or not at all.
type Sink interface {
	// AddBatch writes out. ctx bounds the write; it is cancelled only when
	// a stop times out. An error fails the batch (it is not committed) and
	// ends Run with it.
	AddBatch(ctx context.Context, out *Output) error
}

// SinkOpener is a Sink with a recovery step.
type SinkOpener interface {
	// Open runs once per Run, after the checkpoint is recovered and before
	// the first batch (a re-run one included). lastCommitted is the id of
	// the last batch whose commit is durable, -1 if none: every batch up
	// to it is done, the next AddBatch is for lastCommitted+1. Open is the
	// place to fence older writers (deterministic identities) and to
	// finish or discard what a crashed run left: work for batches up to
	// lastCommitted is committed (a lost Committed call), work for later
	// batches is not and will be delivered again. ctx is cancelled by a
	// stop request. An error ends Run with it; Close still runs.
	Open(ctx context.Context, lastCommitted int64) error
}

// SinkCommitter is a Sink told when a batch's commit is durable.
type SinkCommitter interface {
	// Committed runs after the bbolt commit of batchID is durable (and
	// before the next batch's AddBatch), at most once per batch id: a
	// crash between the commit and the call loses it, and Open's
	// lastCommitted tells the next run. ctx is the batch's. An error ends
	// Run with it; the batch stays committed.
	Committed(ctx context.Context, batchID int64) error
}

// TxSink is a sink whose writes join the batch's bbolt commit transaction:
// its rows, the state and the batch's offsets commit together or not at
// all, so it is exactly-once by construction. It writes only to a bucket
// of its own, named by Name, in the checkpoint's sinks bucket; Query.ReadSink
// reads it. The engine calls AddBatchTx for a TxSink, never its AddBatch
// (which exists so that a TxSink can be a Config.Sink). Open, Committed and
// Close apply as for any Sink.
type TxSink interface {
	Sink
	// Name names the sink's bucket: non-empty and the same across runs of
	// the query.
	Name() string
	// AddBatchTx writes out to b inside the commit transaction, after the
	// output is built. It must be quick and must not block on anything but
	// b: the checkpoint's write lock is held. An error rolls the batch's
	// commit back and ends Run with it.
	AddBatchTx(b *SinkBucket, out *Output) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, out *Output) error

// AddBatch calls f.
func (f SinkFunc) AddBatch(ctx context.Context, out *Output) error { return f(ctx, out) }

// ForEachBatch returns a sink that calls fn with every batch, like Spark's
// foreachBatch: fn sees the batch id and should make its writes idempotent
// by it to be exactly-once (see Sink).
func ForEachBatch(fn func(ctx context.Context, out *Output) error) Sink { return SinkFunc(fn) }

// ErrSinkBucketDone is returned by a SinkBucket used after the call that
// handed it out returned.
var ErrSinkBucketDone = errors.New("engine: SinkBucket used after its transaction ended")

// SinkBucket is a TxSink's bbolt bucket, valid only during the AddBatchTx
// (or ReadSink) call that hands it out. Keys and values it returns are
// valid only during that call too: copy what you keep. Its methods are
// bbolt's Bucket methods of the same names.
type SinkBucket struct {
	b    *bbolt.Bucket
	done *bool // shared by the bucket, its nested buckets and cursors
}

func (s *SinkBucket) dead() bool { return s == nil || s.b == nil || *s.done }

// Get returns key's value, nil if the key is absent (or names a nested
// bucket).
func (s *SinkBucket) Get(key []byte) []byte {
	if s.dead() {
		return nil
	}
	return s.b.Get(key)
}

// Put sets key to value.
func (s *SinkBucket) Put(key, value []byte) error {
	if s.dead() {
		return ErrSinkBucketDone
	}
	return s.b.Put(key, value)
}

// Delete removes key; a missing key is no error.
func (s *SinkBucket) Delete(key []byte) error {
	if s.dead() {
		return ErrSinkBucketDone
	}
	return s.b.Delete(key)
}

// ForEach calls fn for every key in order; v is nil for a nested bucket.
// fn must not change the bucket.
func (s *SinkBucket) ForEach(fn func(k, v []byte) error) error {
	if s.dead() {
		return ErrSinkBucketDone
	}
	return s.b.ForEach(fn)
}

// NextSequence returns an autoincrementing integer for the bucket.
func (s *SinkBucket) NextSequence() (uint64, error) {
	if s.dead() {
		return 0, ErrSinkBucketDone
	}
	return s.b.NextSequence()
}

// Bucket returns the nested bucket name, nil if it does not exist.
func (s *SinkBucket) Bucket(name []byte) *SinkBucket {
	if s.dead() {
		return nil
	}
	if b := s.b.Bucket(name); b != nil {
		return &SinkBucket{b: b, done: s.done}
	}
	return nil
}

// CreateBucketIfNotExists returns the nested bucket name, creating it.
func (s *SinkBucket) CreateBucketIfNotExists(name []byte) (*SinkBucket, error) {
	if s.dead() {
		return nil, ErrSinkBucketDone
	}
	b, err := s.b.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	return &SinkBucket{b: b, done: s.done}, nil
}

// DeleteBucket removes the nested bucket name and everything in it.
func (s *SinkBucket) DeleteBucket(name []byte) error {
	if s.dead() {
		return ErrSinkBucketDone
	}
	return s.b.DeleteBucket(name)
}

// Cursor returns a cursor over the bucket's keys in order.
func (s *SinkBucket) Cursor() *SinkCursor {
	if s.dead() {
		return &SinkCursor{done: new(bool)}
	}
	return &SinkCursor{c: s.b.Cursor(), done: s.done}
}

// SinkCursor iterates over a SinkBucket; its methods are bbolt's Cursor
// methods of the same names (a nil key: no more keys). It is valid as its
// bucket is.
type SinkCursor struct {
	c    *bbolt.Cursor
	done *bool
}

func (c *SinkCursor) dead() bool { return c.c == nil || *c.done }

// First moves to the first key.
func (c *SinkCursor) First() (key, value []byte) {
	if c.dead() {
		return nil, nil
	}
	return c.c.First()
}

// Last moves to the last key.
func (c *SinkCursor) Last() (key, value []byte) {
	if c.dead() {
		return nil, nil
	}
	return c.c.Last()
}

// Next moves to the next key.
func (c *SinkCursor) Next() (key, value []byte) {
	if c.dead() {
		return nil, nil
	}
	return c.c.Next()
}

// Prev moves to the previous key.
func (c *SinkCursor) Prev() (key, value []byte) {
	if c.dead() {
		return nil, nil
	}
	return c.c.Prev()
}

// Seek moves to key, or the next key after it.
func (c *SinkCursor) Seek(key []byte) (k, value []byte) {
	if c.dead() {
		return nil, nil
	}
	return c.c.Seek(key)
}

// Delete removes the key the cursor is at.
func (c *SinkCursor) Delete() error {
	if c.dead() {
		return ErrSinkBucketDone
	}
	return c.c.Delete()
}

// withSinkBucket calls fn with b wrapped, and ends the wrapper's life when
// fn returns.
func withSinkBucket(b *bbolt.Bucket, fn func(*SinkBucket) error) error {
	done := false
	defer func() { done = true }()
	var sb *SinkBucket
	if b != nil {
		sb = &SinkBucket{b: b, done: &done}
	}
	return fn(sb)
}

// ReadSink calls fn with the bucket of the TxSink named name as of the last
// committed batch, nil if no commit has written it, read from the
// checkpoint without running the query (like State: it works while the
// query runs in another process). Writes to the bucket fail.
func (q *Query) ReadSink(name string, fn func(b *SinkBucket) error) error {
	ckpt, err := checkpoint.Open(q.cfg.CheckpointLocation, checkpoint.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer ckpt.Close()
	return ckpt.ViewSink(name, func(b *bbolt.Bucket) error { return withSinkBucket(b, fn) })
}

// openSink runs the sink's Open, if it has one (see SinkOpener).
func (d *driver) openSink(ctx context.Context) error {
	o, ok := d.q.cfg.Sink.(SinkOpener)
	if !ok {
		return nil
	}
	if err := o.Open(ctx, d.nextID-1); err != nil {
		return fmt.Errorf("sink: open: %w", err)
	}
	return nil
}

// sinkCommitted runs the sink's Committed, if it has one.
func (d *driver) sinkCommitted(ctx context.Context, id int64) error {
	c, ok := d.q.cfg.Sink.(SinkCommitter)
	if !ok {
		return nil
	}
	if err := c.Committed(ctx, id); err != nil {
		return fmt.Errorf("batch %d: sink: committed: %w", id, err)
	}
	return nil
}

// closeSink runs the sink's Close, if it has one.
func (d *driver) closeSink() error {
	c, ok := d.q.cfg.Sink.(interface{ Close() error })
	if !ok {
		return nil
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("sink: close: %w", err)
	}
	return nil
}

// retracted returns, in update mode, the keys of the rows this batch took
// out of the result (Output.Deleted: groups whose HAVING stopped holding,
// groups removed from the state; nil if none) and their schema. The caller
// releases the record.
func (d *driver) retracted() (*arrow.Schema, arrow.Record, error) {
	rec, err := d.state.Retracted()
	if err != nil {
		return nil, nil, err
	}
	if rec != nil && rec.NumRows() == 0 {
		rec.Release()
		rec = nil
	}
	return d.state.KeySchema(), rec, nil
}

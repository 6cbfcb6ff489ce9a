package batch

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
)

const (
	// pipelineChunks is the number of chunks of a slot: the one the slot's
	// goroutine fills, the one the pipeline's goroutine decodes and two
	// spares that let either side run ahead. With chunkRecords and
	// chunkBytes it bounds the records a slot holds outside the consumer.
	pipelineChunks = 4
	// chunkRecords and chunkBytes bound a chunk: it is handed over when
	// either is reached. A record larger than chunkBytes grows the chunk;
	// a chunk grown beyond maxChunkBytes is reallocated when reused.
	chunkRecords  = 2048
	chunkBytes    = 256 << 10
	maxChunkBytes = 4 * chunkBytes
)

// chunk is a run of consecutive records of one task, copied out of the
// consumer's messages: keys and values back to back in data.
type chunk struct {
	run  *taskRun
	recs []chunkRecord
	data []byte
	// last marks the task's last chunk: its read ended without error and
	// run.read is set.
	last bool
}

// chunkRecord is a record of a chunk; its key and value follow the previous
// record's in chunk.data.
type chunkRecord struct {
	offset, timestamp int64
	keyLen, valueLen  int32 // -1: null
}

func newChunk() *chunk {
	return &chunk{recs: make([]chunkRecord, 0, chunkRecords), data: make([]byte, 0, chunkBytes)}
}

func (c *chunk) reset(run *taskRun) {
	c.run, c.last = run, false
	c.recs = c.recs[:0]
	if cap(c.data) > maxChunkBytes {
		c.data = make([]byte, 0, chunkBytes)
	}
	c.data = c.data[:0]
}

// add copies r into c.
func (c *chunk) add(r *kafka.Record) {
	c.recs = append(c.recs, chunkRecord{offset: r.Offset, timestamp: r.Timestamp, keyLen: nullLen(r.Key), valueLen: nullLen(r.Value)})
	c.data = append(c.data, r.Key...)
	c.data = append(c.data, r.Value...)
}

func (c *chunk) full() bool { return len(c.recs) >= chunkRecords || len(c.data) >= chunkBytes }

func nullLen(b []byte) int32 {
	if b == nil {
		return -1
	}
	return int32(len(b))
}

// cut splits the first n bytes (nil for -1) off data.
func cut(data []byte, n int32) ([]byte, []byte) {
	if n < 0 {
		return nil, data
	}
	return data[:n:n], data[n:]
}

// rangeReader is what a pipeline reads from: a *kafka.RangeReader.
type rangeReader interface {
	ReadIdle(ctx context.Context, r offsets.OffsetRange, fn func(*kafka.Record) error, onIdle func() error) (kafka.ReadStats, error)
}

// taskRun is one task on its way through a slot's pipeline.
type taskRun struct {
	task
	start time.Time       // the slot's goroutine started the task
	read  kafka.ReadStats // set before the last chunk is sent
}

// pipeline overlaps a slot's Kafka reads with decoding: the slot's
// goroutine polls the consumer and copies records into chunks
// (readTask); the pipeline's goroutine, started by newPipeline and ended by
// close, decodes them and hands the Arrow records to the tasks' sinks
// (loop). Chunks go round between the two through free and full: there are
// pipelineChunks of them, so the slot's goroutine waits when it is that far
// ahead.
//
// The pipeline's first error (a decoder, sink or panic) cancels ctx, which
// stops the slot's read; chunks sent after it are not decoded.
type pipeline struct {
	e     *Executor
	job   Job
	slot  int
	stats []TaskStats // TaskStats of each task, written by loop

	ctx    context.Context // the Run's, cancelled with errPipelineFailed by loop's first error
	cancel context.CancelCauseFunc
	free   chan *chunk // empty chunks
	full   chan *chunk // filled chunks, in read order; closed by close
	done   chan struct{}
	closed bool

	// Owned by the slot's goroutine.
	cur *chunk // the chunk being filled, nil between chunks

	// Owned by loop until done is closed.
	err  error    // loop's first error
	run  *taskRun // the task being decoded, nil between tasks
	dec  dataframe.Decoder
	sink TaskSink
	st   TaskStats
}

// newPipeline starts s's pipeline goroutine for a Run. It uses s's chunks.
func (e *Executor) newPipeline(ctx context.Context, s *slot, job Job, stats []TaskStats) *pipeline {
	if s.chunks == nil {
		for range pipelineChunks {
			s.chunks = append(s.chunks, newChunk())
		}
	}
	p := &pipeline{e: e, job: job, slot: s.index, stats: stats,
		free: make(chan *chunk, len(s.chunks)), full: make(chan *chunk, len(s.chunks)), done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancelCause(ctx)
	for _, c := range s.chunks {
		p.free <- c
	}
	go p.loop()
	return p
}

// readTask reads t's range into chunks for the pipeline goroutine. A chunk
// is sent when it is full, when the read waits for records and when the
// read ends. After an error the records read so far are still sent, so that
// an error of the pipeline at an earlier offset is the one reported.
func (p *pipeline) readTask(rr rangeReader, t task) error {
	run := &taskRun{task: t, start: time.Now()}
	if err := p.ctx.Err(); err != nil {
		return err
	}
	rs, err := rr.ReadIdle(p.ctx, t.r, func(r *kafka.Record) error {
		if p.cur == nil {
			if err := p.next(run); err != nil {
				return err
			}
		}
		p.cur.add(r)
		if p.cur.full() {
			p.send(false)
		}
		return nil
	}, func() error {
		if p.cur != nil {
			p.send(false)
		}
		return nil
	})
	run.read = rs
	if err == nil && p.cur == nil {
		err = p.next(run) // a task without records still ends in a chunk
	}
	if p.cur != nil {
		p.send(err == nil)
	}
	return err
}

// next waits for an empty chunk for run.
func (p *pipeline) next(run *taskRun) error {
	select {
	case c := <-p.free:
		c.reset(run)
		p.cur = c
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// send hands the chunk being filled to the pipeline goroutine. It does not
// block: full has room for every chunk.
func (p *pipeline) send(last bool) {
	p.cur.last = last
	p.full <- p.cur
	p.cur = nil
}

// close ends the pipeline goroutine once it has handled every chunk sent,
// and returns its error. It is idempotent.
func (p *pipeline) close() error {
	if !p.closed {
		p.closed = true
		close(p.full)
		<-p.done
		p.cancel(nil)
	}
	return p.err
}

// loop decodes the chunks sent until full is closed. After an error it only
// returns chunks to free, which keeps the slot's goroutine from waiting
// forever.
func (p *pipeline) loop() {
	defer close(p.done)
	for c := range p.full {
		if p.err == nil {
			if err := p.decode(c); err != nil {
				p.err = err
				p.cancel(errPipelineFailed)
			}
		}
		p.free <- c
	}
	if p.run != nil {
		if err := p.protect(p.run, p.endTask); err != nil && p.err == nil {
			p.err = err
		}
	}
}

// decode appends c's records to the task's decoder, flushing it to the
// task's sink every Config.RowsPerRecord rows; the first chunk of a task
// starts it, the last ends it.
func (p *pipeline) decode(c *chunk) error {
	return p.protect(c.run, func() error {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		if p.run != c.run {
			if err := p.startTask(c.run); err != nil {
				return err
			}
		}
		meta := dataframe.RecordMeta{Topic: c.run.r.Topic, Partition: c.run.r.Partition}
		data := c.data
		rows := p.e.cfg.RowsPerRecord
		for _, r := range c.recs {
			var value []byte
			meta.Offset, meta.Timestamp = r.offset, r.timestamp
			meta.Key, data = cut(data, r.keyLen)
			value, data = cut(data, r.valueLen)
			if err := p.dec.Append(&meta, value); err != nil {
				return err
			}
			if p.dec.Len() >= rows {
				if err := p.flush(); err != nil {
					return err
				}
			}
		}
		if !c.last {
			return nil
		}
		if err := p.flush(); err != nil {
			return err
		}
		p.st.Records, p.st.Bytes, p.st.SkippedOffsets, p.st.Seeked = c.run.read.Records, c.run.read.Bytes, c.run.read.SkippedOffsets, c.run.read.Seeked
		ds := p.dec.Stats()
		p.st.Corrupt, p.st.Dropped = ds.Corrupt, ds.Dropped
		p.st.Wall = time.Since(c.run.start)
		p.st.FetchDecode = p.st.Wall - p.st.Sink
		p.stats[c.run.index] = p.st
		return p.endTask()
	})
}

// protect runs fn, turning a panic into an error, and names run's task in
// the error.
func (p *pipeline) protect(run *taskRun, fn func() error) (err error) {
	defer func() {
		// A panicking decoder or sink fails the batch, not the process.
		if r := recover(); r != nil {
			p.e.log.Error("batch: task panicked", "batch", p.job.BatchID, "slot", p.slot, "task", run.index, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
		if err != nil {
			err = taskError(p.job, run.task, err)
		}
	}()
	return fn()
}

func (p *pipeline) startTask(run *taskRun) error {
	p.run = run
	p.st = TaskStats{Index: run.index, Slot: p.slot, Range: run.r}
	dec, err := p.job.NewDecoder()
	if err != nil {
		return fmt.Errorf("new decoder: %w", err)
	}
	p.dec = dec
	sink, err := p.job.NewSink(TaskInfo{Index: run.index, Range: run.r})
	if err != nil {
		return fmt.Errorf("new sink: %w", err)
	}
	p.sink = sink
	return nil
}

// endTask releases the task's decoder.
func (p *pipeline) endTask() error {
	dec := p.dec
	p.run, p.dec, p.sink = nil, nil, nil
	if dec != nil {
		dec.Release()
	}
	return nil
}

// flush hands the rows decoded since the last flush to the sink.
func (p *pipeline) flush() error {
	rec := p.dec.Flush()
	if rec == nil {
		return nil
	}
	defer rec.Release()
	p.st.Rows += rec.NumRows()
	t0 := time.Now()
	err := p.sink.Consume(rec)
	p.st.Sink += time.Since(t0)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}

// taskError names t in err.
func taskError(job Job, t task, err error) error {
	return fmt.Errorf("batch %d: task %d %s: %w", job.BatchID, t.index, t.r, err)
}

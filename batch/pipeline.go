package batch

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync/atomic"
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

// chunk is a run of records copied out of the consumer's messages, of the
// tasks of one wave (see readWave) in the order they were polled: keys and
// values back to back in data.
type chunk struct {
	runs []*taskRun // the wave's; chunkRecord.run indexes it
	recs []chunkRecord
	data []byte
	// ends are the runs whose read ended, without error, after their last
	// record in this chunk or an earlier one; their read stats are set.
	ends []int32
}

// chunkRecord is a record of a chunk; its key and value follow the previous
// record's in chunk.data.
type chunkRecord struct {
	offset, timestamp int64
	keyLen, valueLen  int32 // -1: null
	headersLen        int32 // encoded headers (kafka.DecodeHeaders) after the value; 0: none
	run               int32
}

func newChunk() *chunk {
	return &chunk{recs: make([]chunkRecord, 0, chunkRecords), data: make([]byte, 0, chunkBytes)}
}

func (c *chunk) reset(runs []*taskRun) {
	c.runs = runs
	c.recs, c.ends = c.recs[:0], c.ends[:0]
	if cap(c.data) > maxChunkBytes {
		c.data = make([]byte, 0, chunkBytes)
	}
	c.data = c.data[:0]
}

// add copies r, a record of the wave's run i, into c.
func (c *chunk) add(i int, r *kafka.Record) {
	c.recs = append(c.recs, chunkRecord{offset: r.Offset, timestamp: r.Timestamp, keyLen: nullLen(r.Key), valueLen: nullLen(r.Value), headersLen: int32(len(r.Headers)), run: int32(i)})
	c.data = append(c.data, r.Key...)
	c.data = append(c.data, r.Value...)
	c.data = append(c.data, r.Headers...)
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
	ReadRanges(ctx context.Context, rs []offsets.OffsetRange, h kafka.RangeHandler) (int, error)
}

// taskRun is one task on its way through a slot's pipeline.
type taskRun struct {
	task
	// Set by the slot's goroutine before the chunk that ends the run is
	// sent.
	start time.Time       // the slot's goroutine started the task's wave
	read  kafka.ReadStats // the read's stats

	// Owned by the pipeline's goroutine.
	started bool
	dec     dataframe.Decoder // nil before the run starts and after it ends
	sink    TaskSink
	st      taskStats
	bad     *dataframe.MalformedRecordError // set by dec during Append when the record is malformed
}

// pipeline overlaps a slot's Kafka reads with decoding: the slot's
// goroutine polls the consumer and copies records into chunks
// (readWave); the pipeline's goroutine, started by newPipeline and ended by
// close, decodes them with a decoder per task and hands the Arrow records
// to the tasks' sinks (loop). Chunks go round between the two through free
// and full: there are pipelineChunks of them, so the slot's goroutine waits
// when it is that far ahead.
//
// The pipeline's first error (a decoder, sink or panic) cancels ctx, which
// stops the slot's read; chunks sent after it are not decoded.
type pipeline struct {
	e     *Executor
	job   Job
	slot  int
	stats []taskStats // the stats of each task, written by loop
	// budget is the bytes of malformed records the batch may still capture
	// (see MaxMalformedBytes), shared by the batch's pipelines.
	budget *atomic.Int64

	ctx    context.Context // the Run's, cancelled with errPipelineFailed by loop's first error
	cancel context.CancelCauseFunc
	free   chan *chunk // empty chunks
	full   chan *chunk // filled chunks, in read order; closed by close
	done   chan struct{}
	closed bool

	// Owned by the slot's goroutine.
	cur *chunk // the chunk being filled, nil between chunks

	// Owned by loop until done is closed.
	err     error      // loop's first error
	run     *taskRun   // the run being decoded, named by a panic's error
	started []*taskRun // runs started, to release their decoders at the end
}

// newPipeline starts s's pipeline goroutine for a Run. It uses s's chunks.
func (e *Executor) newPipeline(ctx context.Context, s *slot, job Job, stats []taskStats, budget *atomic.Int64) *pipeline {
	if s.chunks == nil {
		for range pipelineChunks {
			s.chunks = append(s.chunks, newChunk())
		}
	}
	p := &pipeline{e: e, job: job, slot: s.index, stats: stats, budget: budget,
		free: make(chan *chunk, len(s.chunks)), full: make(chan *chunk, len(s.chunks)), done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancelCause(ctx)
	for _, c := range s.chunks {
		p.free <- c
	}
	go p.loop()
	return p
}

// readWave reads the ranges of ts, one per partition, at once into chunks
// for the pipeline goroutine. A chunk is sent when it is full, when the
// read waits for records and when the read ends. After an error the
// records read so far are still sent, so that an error of the pipeline at
// an earlier offset is the one reported; the error is returned with the
// index in ts of the task it concerns.
func (p *pipeline) readWave(rr rangeReader, ts []task) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	start := time.Now()
	runs := make([]*taskRun, len(ts))
	rs := make([]offsets.OffsetRange, len(ts))
	for i, t := range ts {
		runs[i] = &taskRun{task: t, start: start}
		rs[i] = t.r
	}
	failed, err := rr.ReadRanges(p.ctx, rs, kafka.RangeHandler{
		Record: func(i int, r *kafka.Record) error {
			if p.cur == nil {
				if err := p.next(runs); err != nil {
					return err
				}
			}
			p.cur.add(i, r)
			if p.cur.full() {
				p.send()
			}
			return nil
		},
		Done: func(i int, rs kafka.ReadStats) error {
			runs[i].read = rs
			if p.cur == nil {
				if err := p.next(runs); err != nil {
					return err
				}
			}
			p.cur.ends = append(p.cur.ends, int32(i))
			return nil
		},
		Idle: func() error {
			if p.cur != nil {
				p.send()
			}
			return nil
		},
	})
	if p.cur != nil {
		p.send()
	}
	return failed, err
}

// next waits for an empty chunk for the wave of runs.
func (p *pipeline) next(runs []*taskRun) error {
	select {
	case c := <-p.free:
		c.reset(runs)
		p.cur = c
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// send hands the chunk being filled to the pipeline goroutine. It does not
// block: full has room for every chunk.
func (p *pipeline) send() {
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
// forever. At the end it releases the decoders of runs not ended.
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
	for _, run := range p.started {
		p.endTask(run)
	}
}

// decode appends c's records to their tasks' decoders, flushing a decoder
// to its task's sink every Config.rowsPerRecord rows; a task's first record
// starts it, its end flushes and ends it.
func (p *pipeline) decode(c *chunk) (err error) {
	p.run = c.runs[0]
	defer func() {
		// A panicking decoder or sink fails the batch, not the process.
		if r := recover(); r != nil {
			p.e.log.Error("batch: task panicked", "batch", p.job.BatchID, "slot", p.slot, "task", p.run.index, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
		if err != nil {
			err = taskError(p.job, p.run.task, err)
		}
	}()
	if err := p.ctx.Err(); err != nil {
		return err
	}
	data := c.data
	rows := p.e.cfg.rowsPerRecord
	cur := int32(-1)
	run := p.run
	var meta dataframe.RecordMeta
	for _, r := range c.recs {
		if r.run != cur {
			cur, run = r.run, c.runs[r.run]
			p.run = run
			if err := p.startTask(run); err != nil {
				return err
			}
			meta = dataframe.RecordMeta{Topic: run.r.Topic, Partition: run.r.Partition}
		}
		var value, headers []byte
		meta.Offset, meta.Timestamp = r.offset, r.timestamp
		meta.Key, data = cut(data, r.keyLen)
		value, data = cut(data, r.valueLen)
		headers, data = data[:r.headersLen], data[r.headersLen:]
		if err := run.dec.Append(&meta, value); err != nil {
			return err
		}
		if run.bad != nil {
			capture(run, p.budget, r.timestamp, meta.Key, value, headers)
		}
		if run.dec.Len() >= rows {
			if err := p.flush(run); err != nil {
				return err
			}
		}
	}
	for _, i := range c.ends {
		run := c.runs[i]
		p.run = run
		if err := p.startTask(run); err != nil { // a task without records
			return err
		}
		if err := p.flush(run); err != nil {
			return err
		}
		st := &run.st
		st.Records, st.Bytes, st.SkippedOffsets, st.Seeked = run.read.Records, run.read.Bytes, run.read.SkippedOffsets, run.read.Seeked
		ds := run.dec.Stats()
		st.Corrupt, st.Dropped = ds.Corrupt, ds.Dropped
		st.Wall = time.Since(run.start)
		st.FetchDecode = st.Wall - st.Sink
		p.stats[run.index] = *st
		p.endTask(run)
	}
	return nil
}

// startTask creates run's decoder and sink, once.
func (p *pipeline) startTask(run *taskRun) error {
	if run.started {
		return nil
	}
	run.started = true
	p.started = append(p.started, run)
	run.st = taskStats{Index: run.index, Slot: p.slot, Range: run.r}
	dec, err := p.job.NewDecoder(run.onMalformed())
	if err != nil {
		return fmt.Errorf("new decoder: %w", err)
	}
	run.dec = dec
	sink, err := p.job.NewSink(TaskInfo{Index: run.index, rng: run.r})
	if err != nil {
		return fmt.Errorf("new sink: %w", err)
	}
	run.sink = sink
	return nil
}

// endTask releases run's decoder, once.
func (p *pipeline) endTask(run *taskRun) {
	dec := run.dec
	run.dec, run.sink = nil, nil
	if dec != nil {
		dec.Release()
	}
}

// flush hands the rows run decoded since its last flush to its sink.
func (p *pipeline) flush(run *taskRun) error {
	rec := run.dec.Flush()
	if rec == nil {
		return nil
	}
	defer rec.Release()
	run.st.Rows += rec.NumRows()
	t0 := time.Now()
	err := run.sink.Consume(rec)
	run.st.Sink += time.Since(t0)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}

// taskError names t in err.
func taskError(job Job, t task, err error) error {
	return fmt.Errorf("batch %d: task %d %s: %w", job.BatchID, t.index, t.r, err)
}

package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/microbatch/microbatch/batch"
	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// taskSink feeds a task's decoded records into its dataframe task.
type taskSink struct {
	t    *dataframe.Task
	hook func() // failpoint hook, tests only
}

func (s taskSink) Consume(rec arrow.Record) error {
	if s.hook != nil {
		s.hook()
	}
	return s.t.Consume(rec)
}

type indexedTask struct {
	index int
	tp    offsets.TopicPartition // the partition it read
	task  *dataframe.Task
}

// batchContext is what the driver knows about a batch besides its plan.
type batchContext struct {
	latest    map[offsets.TopicPartition]int64 // nil for a recovered batch
	triggerAt time.Time
	// scheduledAt is when the trigger was due (zero: unknown); the
	// trigger's lateness is the batch's scheduling delay.
	scheduledAt time.Time
	planDur     time.Duration
	// wal is the write-ahead of the plan, in flight; nil for a recovered
	// batch (its plan is the one in the log).
	wal       *walWrite
	recovered bool // planned by an earlier run that did not commit it
	// ahead is the batch's read, started while the previous batch was
	// finishing (nil: runBatch reads it).
	ahead *aheadRead
	// readAhead, if set, is called once the batch is read, to start reading
	// the next one (loop).
	readAhead func()
	// nextPlan, if set, returns the plan of the batch read ahead, which the
	// commit writes ahead in its transaction (nil: none); emitted is the
	// rows output up to this batch, the next one's Meta.EmittedRows.
	nextPlan func(emitted int64) *checkpoint.BatchPlan
}

// runBatch executes a planned (and write-ahead logged) batch and commits it.
func (d *driver) runBatch(ctx context.Context, plan checkpoint.BatchPlan, bc batchContext) error {
	q := d.q
	cfg := &q.cfg
	prog := q.prog
	triggerAt, latest := bc.triggerAt, bc.latest
	p := Progress{ID: d.run.queryID, RunID: d.run.runID, Name: cfg.Name, BatchID: plan.ID, Timestamp: triggerAt.UTC(), Recovered: bc.recovered,
		Source: d.run.source, Sink: d.run.sink, TriggerInterval: cfg.Trigger.ProcessingTime, Stateful: d.state != nil,
		RateLimitPerPartition: max(cfg.Source.MaxRatePerPartition, 0)}
	if !bc.scheduledAt.IsZero() && cfg.Trigger.ProcessingTime > 0 {
		p.SchedulingDelay = max(triggerAt.Sub(bc.scheduledAt), 0)
	}
	// In flight until recorded; a failure leaves it for Run to count.
	d.q.setInFlight(plan.ID)
	p.Durations.Plan = bc.planDur
	if bc.wal != nil {
		// However runBatch returns, the write has ended by then.
		defer func() { _, _ = bc.wal.wait() }()
	}

	var f *fetched
	var err error
	waitStart := time.Now()
	if bc.ahead != nil {
		f, err = bc.ahead.wait()
	} else {
		f, err = d.fetch(ctx, plan)
	}
	if err != nil {
		return err
	}
	defer f.release()
	res, tasks := f.res, f.tasks
	if err := checkMalformed(&cfg.Source.DeadLetter, plan.ID, res); err != nil {
		return err
	}
	p.Durations.FetchDecode = f.dur
	p.Durations.FetchWait = time.Since(waitStart)
	var et dataframe.EventTimeStats
	var dropped int64
	if d.wm.on {
		et, dropped = batchEventTimes(tasks)
	}
	if bc.readAhead != nil {
		if d.wm.on {
			// The batch read ahead uses the watermark after this one,
			// which this batch's event times (read now) decide; under
			// perPartition also each partition's backlog when this
			// batch was planned and its processing time, known too.
			// The commit computes the same from the same inputs.
			wm := dataframe.NextWatermark(plan.Meta.Watermark, et, d.wm.delay)
			if d.wm.perPartition {
				wm = d.wm.partitionWatermark(plan.Meta.Watermark, d.wm.observe(plan, latest, tasks), plan.Meta.ProcessingTime)
			}
			d.wm.ahead = &wm
		}
		bc.readAhead()
		d.wm.ahead = nil
	}
	if bc.wal != nil {
		// Nothing leaves the batch before its plan is durable.
		if p.Durations.WALWait, err = bc.wal.wait(); err != nil {
			return err
		}
		p.Durations.WAL = bc.wal.dur
	}

	if plan.Meta.ProcessingTime.IsZero() {
		// A plan written by a build before the Meta block: its first run's
		// facts are lost; take those of the checkpoint and this run.
		plan.Meta = d.planMeta(triggerAt)
	}

	aggStart := time.Now()
	var recs []arrow.Record
	var deleted arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
		if deleted != nil {
			deleted.Release()
		}
	}()
	var changed int
	var changes *stateChanges
	cr := checkpoint.CommitRecord{ID: plan.ID, InputRows: res.Records, Meta: plan.Meta}
	nextWM := d.wm.next
	var parts map[string]partitionEventTime
	if d.wm.on {
		p.EventTime = eventTimeProgress(et, plan.Meta.Watermark)
		p.NumRowsDroppedByWatermark = dropped
		cr.Meta = withMaxEventTime(cr.Meta, et)
		nextWM = dataframe.NextWatermark(plan.Meta.Watermark, et, d.wm.delay)
		if d.wm.perPartition {
			parts = d.wm.observe(plan, latest, tasks)
			nextWM = d.wm.partitionWatermark(plan.Meta.Watermark, parts, plan.Meta.ProcessingTime)
			cr.Meta = withPartitions(cr.Meta, parts)
		}
	}
	if d.state != nil {
		for _, t := range tasks {
			if err := d.state.Merge(t.task); err != nil {
				return fmt.Errorf("batch %d: merging state: %w", plan.ID, err)
			}
		}
		if d.wm.on && prog.Windowed() && q.mode != dataframe.Complete {
			// Close the windows that ended by the batch's watermark:
			// append emits them; both evict them in this commit.
			rec, n, err := d.state.CloseWindows(plan.Meta.Watermark, q.mode == dataframe.Append)
			if err != nil {
				return fmt.Errorf("batch %d: closing windows: %w", plan.ID, err)
			}
			if rec != nil {
				recs = append(recs, rec)
			}
			p.StateRowsRemoved = int64(n)
		}
		changed = d.state.Changed()
		cr.StateRows = int64(d.state.Len())
		// The changes are copied while the result is built and the sink
		// writes; the commit transaction begins after the sink.
		changes = d.prepareChanges(changed)
		defer func() { _ = changes.wait() }()
	}
	var keySchema *arrow.Schema
	if d.state != nil && d.wm.on && prog.Windowed() && q.mode == dataframe.Append {
		keySchema = d.state.KeySchema() // append: the closed windows are the output
	} else if d.state != nil {
		rec, err := d.state.Result(q.mode == dataframe.Update)
		if err != nil {
			return fmt.Errorf("batch %d: result: %w", plan.ID, err)
		}
		recs = append(recs, rec)
		if q.mode == dataframe.Update {
			if keySchema, deleted, err = d.retracted(); err != nil {
				return fmt.Errorf("batch %d: deleted groups: %w", plan.ID, err)
			}
		} else {
			keySchema = d.state.KeySchema()
		}
	} else {
		for _, t := range tasks {
			recs = append(recs, t.task.Output()...)
		}
		limit := prog.Limit()
		if limit >= 0 {
			// What the stream's LIMIT has left: the rows emitted before
			// this batch are the plan's, so a re-run batch cuts the same.
			limit = max(limit-plan.Meta.EmittedRows, 0)
		}
		recs = limitRows(recs, limit)
	}
	p.Durations.Aggregate = time.Since(aggStart)

	// out.Malformed go to KafkaSource.DeadLetter.Topic through the sink
	// (sinks.WithDeadLetters wraps it).
	out := &Output{BatchID: plan.ID, Ranges: plan.Ranges, Mode: q.mode, Schema: prog.OutputSchema(), Records: recs,
		KeySchema: keySchema, Deleted: deleted, Malformed: res.Malformed, MalformedOverflow: res.MalformedOverflow}
	sinkStart := time.Now()
	txSink, _ := cfg.Sink.(TxSink)
	if txSink == nil { // a TxSink writes in the commit transaction instead
		if err := cfg.Sink.AddBatch(ctx, out); err != nil {
			return fmt.Errorf("batch %d: sink: %w", plan.ID, err)
		}
	}
	p.Durations.Sink = time.Since(sinkStart)
	d.failpoint(fpAfterSink, plan.ID)

	p.NumInputRows = res.Records
	p.InputBytes = res.Bytes
	p.CorruptRecords = res.Corrupt
	p.DroppedRecords = res.Dropped
	p.SkippedOffsets = res.SkippedOffsets
	if cfg.Source.DeadLetter.Topic != "" {
		p.DeadLetters = int64(len(res.Malformed))
	}
	for _, dl := range plan.DataLoss {
		p.SkippedOffsets += dl.Until - dl.From
	}
	p.OutputRows = out.NumRows()
	emitted := plan.Meta.EmittedRows + p.OutputRows

	commitStart := time.Now()
	if changes != nil {
		if err := changes.wait(); err != nil {
			return fmt.Errorf("batch %d: state changes: %w", plan.ID, err)
		}
	}
	var next *checkpoint.BatchPlan
	if bc.nextPlan != nil {
		next = bc.nextPlan(emitted)
	}
	cr.CommittedAt = time.Now().UTC()
	if err := d.commit(cr, changes, txSink, out, next); err != nil {
		return fmt.Errorf("batch %d: commit: %w", plan.ID, err)
	}
	p.Durations.Commit = time.Since(commitStart)
	d.failpoint(fpAfterCommit, plan.ID)
	if next != nil {
		d.failpoint(fpAfterWAL, next.ID)
	}
	if err := d.sinkCommitted(ctx, plan.ID); err != nil {
		return err
	}
	if d.state != nil {
		d.state.ResetChanged()
		p.StateRows = cr.StateRows
		// Changed counts the groups the commit wrote or deleted; the
		// windows closed are counted as removed, not updated (Spark's
		// numRowsUpdated and numRowsRemoved).
		p.StateRowsUpdated = max(int64(changed)-p.StateRowsRemoved, 0)
	}

	// Advance the driver's positions only after the commit is durable.
	if len(plan.Ends) == 0 && len(plan.Ranges) == 0 {
		// A batch without input reads nothing: like Spark's, its
		// progress repeats where every partition stands.
		p.Sources = sources(checkpoint.BatchPlan{Ends: d.start}, latest, nil)
	} else {
		p.Sources = sources(plan, latest, res.PartitionRecords())
	}
	advance(d.start, plan)
	if d.group != nil {
		d.group.offer(d.start)
	}
	d.nextID = plan.ID + 1
	d.emitted = emitted
	if d.wm.on {
		d.wm.used, d.wm.next = plan.Meta.Watermark, nextWM
		if d.wm.perPartition {
			d.wm.parts = parts
		}
	}

	p.Durations.Total = time.Since(triggerAt)
	if secs := p.Durations.Total.Seconds(); secs > 0 {
		p.ProcessedRowsPerSecond = float64(p.NumInputRows) / secs
	}
	if !d.lastTrigger.IsZero() {
		if secs := triggerAt.Sub(d.lastTrigger).Seconds(); secs > 0 {
			p.InputRowsPerSecond = float64(p.NumInputRows) / secs
		}
	}
	d.lastTrigger = triggerAt
	p.BackpressureRate = backpressureRate(plan.Meta)
	p.StaticTables = d.tableProgress()
	d.updateRate(&p, time.Now())
	q.record(p)
	return nil
}

// fetched is a batch the executors have read: its tasks, in task order,
// hold its partial aggregates (or a stateless query's output) until
// release.
type fetched struct {
	res   *batch.Result
	tasks []indexedTask
	dur   time.Duration
	pin   *dataframe.TablePin // the static tables the tasks join with
}

func (f *fetched) release() {
	for _, t := range f.tasks {
		t.task.Release()
	}
	f.pin.Release()
}

// fetch reads plan's ranges on the executors into one task each.
func (d *driver) fetch(ctx context.Context, plan checkpoint.BatchPlan) (*fetched, error) {
	q := d.q
	cfg := &q.cfg
	var tasksMu sync.Mutex // guards f.tasks: NewSink runs on executor goroutines
	pin, err := d.pinTables(plan)
	if err != nil {
		return nil, err
	}
	f := &fetched{pin: pin}
	start := time.Now()
	res, err := d.exec.Run(ctx, batch.Job{
		BatchID: plan.ID,
		Ranges:  plan.Ranges,
		NewDecoder: func(onMalformed func(*dataframe.MalformedRecordError)) (dataframe.Decoder, error) {
			opts := q.decOpts
			opts.OnMalformed = onMalformed
			return dataframe.NewDecoder(q.mem, cfg.Schema, opts)
		},
		NewSink: func(ti batch.TaskInfo) (batch.TaskSink, error) {
			t := q.prog.NewTaskPinned(q.mem, pin)
			// current_timestamp(): the plan's, so a re-run computes the same
			// (a plan of a build before the Meta block has none: the Task's).
			if !plan.Meta.ProcessingTime.IsZero() {
				t.SetProcessingTime(plan.Meta.ProcessingTime)
			}
			if d.wm.on {
				t.SetWatermark(plan.Meta.Watermark)
			}
			tasksMu.Lock()
			f.tasks = append(f.tasks, indexedTask{ti.Index, ti.Range().TopicPartition(), t})
			tasksMu.Unlock()
			ts := taskSink{t: t}
			if cfg.failpoint != nil {
				ts.hook = func() { d.failpoint(fpMidFetch, plan.ID) }
			}
			return ts, nil
		},
	})
	f.dur = time.Since(start)
	if err != nil {
		f.release()
		if err == batch.ErrClosed { // the executor's other errors name the batch
			err = fmt.Errorf("batch %d: %w", plan.ID, err)
		}
		return nil, err
	}
	sort.Slice(f.tasks, func(i, j int) bool { return f.tasks[i].index < f.tasks[j].index })
	f.res = res
	return f, nil
}

// limitRows keeps the first limit rows of recs (limit < 0: all), releasing
// what it drops. Tasks apply a stateless query's LIMIT each to their own
// rows; this applies what is left of it to the batch.
func limitRows(recs []arrow.Record, limit int64) []arrow.Record {
	if limit < 0 {
		return recs
	}
	var n int64
	out := recs[:0]
	for _, r := range recs {
		switch left := limit - n; {
		case left <= 0:
			r.Release()
		case r.NumRows() <= left:
			out = append(out, r)
			n += r.NumRows()
		default:
			out = append(out, r.NewSlice(0, left))
			r.Release()
			n = limit
		}
	}
	return out
}

// checkMalformed fails batch id when more than dl.MaxRatio of its records
// are malformed, or when it has a dead-letter topic and malformed records
// past the capture bound.
func checkMalformed(dl *DeadLetter, id int64, res *batch.Result) error {
	bad := res.Corrupt + res.Dropped
	if bad > 0 && float64(bad) > dl.MaxRatio*float64(res.Records) {
		return fmt.Errorf("batch %d: %w: %d of %d records (%.4g) are malformed, more than maxRatio %.4g (nothing of the batch is committed: fix the data's producer, or raise maxRatio and restart, which runs the batch again)", id, ErrTooManyMalformed, bad, res.Records, float64(bad)/float64(res.Records), dl.MaxRatio)
	}
	if dl.Topic != "" && res.MalformedOverflow > 0 {
		return fmt.Errorf("batch %d: %w: %d malformed records past the %d bytes a batch captures cannot go to dead-letter topic %q (lower the batch size)", id, ErrTooManyMalformed, res.MalformedOverflow, batch.MaxMalformedBytes, dl.Topic)
	}
	return nil
}

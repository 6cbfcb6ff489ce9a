package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/microbatch/microbatch/batch"
	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/internal/textdist"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// driver is one Run of a query: the checkpoint, the Kafka admin client, the
// executor pool and the in-memory mirror of the aggregate state. It lives
// on Run's goroutine only.
type driver struct {
	q     *Query
	sub   kafka.Subscription
	props kafka.Props
	ckpt  *checkpoint.Checkpoint
	admin *kafka.Admin
	exec  *batch.Executor
	state *dataframe.State // nil for stateless queries

	// start is where each known partition resumes: the until of its last
	// committed batch, or its initial offset if never committed.
	start  map[offsets.TopicPartition]int64
	nextID int64
	// emitted is the rows output by every committed batch (a stateless
	// query's LIMIT holds over the whole stream, as in Spark).
	emitted int64
	// lastTrigger is when the previous batch started (input rate).
	lastTrigger time.Time
	// view is the subscription as last discovered (nil: not yet).
	view *partitionView
	// warned holds the subscribed topics (or the pattern) already logged
	// as missing (see warnMissing).
	warned map[string]bool
}

// partitionView is the driver's cached view of the subscription: its
// partitions and their log start offsets when it was listed. Planning a
// batch re-lists them only every KafkaSource.PartitionDiscoveryInterval
// (metadata and the earliest offsets are two of the three requests of a
// plan); the latest offsets are listed for every batch.
type partitionView struct {
	tps      []offsets.TopicPartition
	earliest map[offsets.TopicPartition]int64
	at       time.Time
}

func (q *Query) newDriver(ctx context.Context) (_ *driver, err error) {
	d := &driver{q: q, props: q.cfg.Source.props()}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.sub, err = q.cfg.Source.subscription(); err != nil {
		return nil, err
	}
	if d.ckpt, err = checkpoint.Open(q.cfg.CheckpointLocation, checkpoint.Options{NoSync: q.cfg.NoSync}); err != nil {
		return nil, err
	}
	if err = d.ckpt.CheckFingerprint(q.fp); err != nil {
		return nil, err
	}
	if d.admin, err = kafka.NewAdmin(d.props); err != nil {
		return nil, err
	}
	d.exec, err = batch.NewExecutor(batch.Config{
		Props:             d.props,
		Workers:           q.cfg.Executors,
		MaxOffsetsPerTask: q.cfg.MaxOffsetsPerTask,
		FailOnDataLoss:    q.cfg.Source.OnDataLoss == FailOnDataLoss,
		Logger:            q.logger,
	})
	if err != nil {
		return nil, err
	}
	if q.prog.Stateful() {
		d.state = q.prog.NewState(q.mem)
		if err = d.ckpt.ForEachState(d.state.Restore); err != nil {
			return nil, fmt.Errorf("restoring state from %s: %w", q.cfg.CheckpointLocation, err)
		}
	}
	if err = d.loadStart(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// loadStart sets d.start and d.nextID from the checkpoint, resolving and
// recording the starting offsets the first time the checkpoint is used.
func (d *driver) loadStart(ctx context.Context) error {
	last, err := d.ckpt.LastCommit()
	if err != nil {
		return err
	}
	if last != nil {
		d.nextID, d.emitted = last.ID+1, last.EmittedRows
	}
	initial, ok, err := d.ckpt.InitialOffsets()
	if err != nil {
		return err
	}
	if !ok {
		latest, err := d.discoverLatest(ctx)
		if err != nil {
			return err
		}
		if initial, err = d.q.starting.Resolve(d.view.tps, d.view.earliest, latest); err != nil {
			return fmt.Errorf("startingOffsets: %w", err)
		}
		if err := d.pastEnd(ctx, initial, latest); err != nil {
			return err
		}
		if err := d.ckpt.SetInitialOffsets(initial); err != nil {
			return err
		}
	}
	pos, err := d.ckpt.Positions()
	if err != nil {
		return err
	}
	d.start = make(map[offsets.TopicPartition]int64, len(initial)+len(pos))
	for tp, o := range initial {
		d.start[tp] = o
	}
	for tp, o := range pos {
		d.start[tp] = o
	}
	return nil
}

// pastEnd handles starting offsets beyond their partition's end, which
// Spark reports as data loss ("startingOffsets for tp was N but consumer
// reset to M"): with failOnDataLoss it is an error; otherwise the
// partition starts at its end, with a warning. (Left as it is, the first
// plan would take the partition for a recreated one and read it from its
// log start, before the offset asked for.) Under read_committed, latest is
// the last stable offset: an offset past it but within the log sits behind
// an open transaction, and is refused with that said.
func (d *driver) pastEnd(ctx context.Context, initial, latest map[offsets.TopicPartition]int64) error {
	var past []offsets.TopicPartition
	for tp, off := range initial {
		if off > latest[tp] {
			past = append(past, tp)
		}
	}
	if len(past) == 0 {
		return nil
	}
	offsets.SortPartitions(past)
	logEnd := latest
	if d.props.ReadCommitted() {
		var err error
		if logEnd, err = d.admin.ListOffsets(ctx, past, offsets.Latest, false); err != nil {
			return err
		}
	}
	for _, tp := range past {
		off, end := initial[tp], latest[tp]
		if off <= logEnd[tp] {
			return fmt.Errorf("startingOffsets gives %s offset %d, past its last stable offset %d: the offsets between are in an open transaction; start at or below %d, or once the transaction ends", tp, off, end, end)
		}
		if d.q.cfg.Source.OnDataLoss == FailOnDataLoss {
			return fmt.Errorf("%w: startingOffsets gives %s offset %d, past its end offset %d; set failOnDataLoss: false to start it at its end", offsets.ErrDataLoss, tp, off, end)
		}
		d.q.logger.Warn("startingOffsets past the partition's end: starting at its end", "query", d.q.cfg.Name, "partition", tp.String(), "offset", off, "end", end)
		initial[tp] = end
	}
	return nil
}

func (d *driver) close() error {
	var errs []error
	if d.exec != nil {
		errs = append(errs, d.exec.Close())
	}
	if d.admin != nil {
		d.admin.Close()
	}
	if d.ckpt != nil {
		errs = append(errs, d.ckpt.Close())
	}
	return errors.Join(errs...)
}

// idleBackoff is how long a back-to-back trigger (processingTime 0) waits
// after an empty batch before listing offsets again.
const idleBackoff = 100 * time.Millisecond

// loop is the driver loop. stopCtx is the graceful stop signal, checked
// between batches; workCtx bounds the work of a batch.
//
// Fetch-ahead: once the executors have read batch N and its next trigger
// is already due (availableNow, a back-to-back trigger, or a processingTime
// batch that overran), the driver plans batch N+1 and starts reading it
// while it merges, outputs and commits batch N, so the executors do not
// wait for the driver. Batch N+1's plan is written ahead in batch N's
// commit transaction (the checkpoint never holds two uncommitted plans),
// and nothing of it reaches the state or the sink before that. A failure
// of batch N, or a stop requested before N's commit started, cancels the
// read ahead, which left no trace: the next run plans that batch again. A
// stop requested later finishes batch N+1 too, whose plan is durable.
func (d *driver) loop(stopCtx, workCtx context.Context) error {
	cfg := &d.q.cfg
	pending, err := d.ckpt.Pending()
	if err != nil {
		return err
	}
	if pending != nil {
		d.q.logger.Info("recovering uncommitted batch", "query", cfg.Name, "batch", pending.ID, "ranges", len(pending.Ranges))
		// Reach the cluster first, with planning's retries: with the
		// brokers down, the read would fail only after StallTimeout.
		if err := d.withRetry(stopCtx, "recovery", func() error {
			_, err := d.admin.Topics(stopCtx)
			return err
		}); err != nil {
			if stopCtx.Err() != nil {
				return nil
			}
			return fmt.Errorf("recovering batch %d: %w", pending.ID, err)
		}
		// The latest offsets, for the progress's lag; without them (a
		// partition gone since) the lag reads 0, as before.
		tps := slices.Collect(maps.Keys(pending.Ends))
		offsets.SortPartitions(tps)
		latest, _ := d.admin.ListOffsets(stopCtx, tps, offsets.Latest, d.props.ReadCommitted())
		if err := d.runBatch(workCtx, *pending, batchContext{triggerAt: time.Now(), recovered: true, latest: latest}); err != nil {
			return err
		}
	}

	var target map[offsets.TopicPartition]int64
	if cfg.Trigger.AvailableNow {
		var err error
		if target, err = d.discoverLatest(stopCtx); err != nil {
			if stopCtx.Err() != nil {
				return nil
			}
			return err
		}
	}

	interval := cfg.Trigger.ProcessingTime
	if cfg.Trigger.AvailableNow {
		interval = 0
	}
	finished := false
	if target != nil {
		// A stop before the end leaves offsets unread: say how many, as
		// the run still exits without an error.
		defer func() {
			var left int64
			for tp, end := range target {
				left += max(end-d.start[tp], 0)
			}
			if !finished && stopCtx.Err() != nil && left > 0 {
				d.q.logger.Warn("stopped before the data available at start was processed", "query", cfg.Name, "offsets_left", left, "next_batch", d.nextID)
			}
		}()
	}
	next := time.Now()
	var ahead *aheadRead
	defer func() {
		if ahead != nil {
			ahead.drop()
		}
	}()
	for {
		// A stop ends the loop here, after a committed batch; a batch read
		// ahead whose plan that commit wrote is in flight, so it is
		// finished first (the loop comes back here with ahead nil).
		if stopCtx.Err() != nil && (ahead == nil || !ahead.logged) {
			return nil
		}
		var plan checkpoint.BatchPlan
		var bc batchContext
		if ahead != nil {
			// The batch read ahead: its trigger was taken when it was
			// planned, and its plan is durable with the previous commit
			// (nextPlan declines it only on a stop, which returned above).
			plan, bc = ahead.plan, ahead.bc
			bc.ahead, ahead = ahead, nil
		} else {
			if wait := time.Until(next); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-stopCtx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
			triggerAt := time.Now()
			next = nextTrigger(next, triggerAt, interval)
			// Planning only lists metadata and offsets: a stop request
			// cancels it (nothing is in flight yet).
			var latest map[offsets.TopicPartition]int64
			plan, latest, err = d.planWithRetry(stopCtx, target, d.start, d.nextID)
			if err != nil {
				if stopCtx.Err() != nil {
					return nil
				}
				return err
			}
			planDur := time.Since(triggerAt)
			if len(plan.Ranges) == 0 {
				forget(d.start, plan.Gone)
				if cfg.Trigger.AvailableNow {
					finished = true
					d.q.logger.Info("available data processed", "query", cfg.Name, "batches", d.nextID)
					return nil
				}
				if interval == 0 {
					next = time.Now().Add(idleBackoff)
				}
				continue
			}
			if stopCtx.Err() != nil {
				return nil
			}
			d.failpoint(fpAfterPlan, plan.ID)
			bc = batchContext{latest: latest, triggerAt: triggerAt, planDur: planDur, wal: d.writeAhead(plan)}
		}
		bc.readAhead = func() {
			if time.Now().Before(next) {
				return // the next trigger is not due
			}
			ahead = d.readAhead(stopCtx, workCtx, target, plan)
			if ahead != nil {
				next = nextTrigger(next, ahead.bc.triggerAt, interval)
			}
		}
		bc.nextPlan = func() *checkpoint.BatchPlan {
			if ahead == nil || stopCtx.Err() != nil {
				return nil // a stop drops the read ahead, which leaves no trace
			}
			ahead.logged = true // if the commit fails, the loop ends
			return &ahead.plan
		}
		if err := d.runBatch(workCtx, plan, bc); err != nil {
			return err
		}
		if interval > 0 && ahead == nil {
			if err := d.compactIfIdle(next); err != nil {
				return err
			}
		}
	}
}

// nextTrigger returns the trigger after one taken at triggerAt. With a
// processingTime interval, Spark's rule: batches start on interval
// boundaries; a batch that overran starts the next one at once, and the
// one after it an interval later.
func nextTrigger(next, triggerAt time.Time, interval time.Duration) time.Time {
	if interval <= 0 {
		return next
	}
	next = next.Add(interval)
	if next.Before(triggerAt) {
		next = triggerAt.Add(interval)
	}
	return next
}

// aheadRead is a batch planned and being read while the driver finishes
// the one before it (see loop). Its goroutine is owned by the loop, which
// either takes the read (runBatch waits for it) or drops it.
type aheadRead struct {
	plan checkpoint.BatchPlan
	bc   batchContext
	// logged: the plan is written ahead in the previous batch's commit.
	logged bool
	cancel context.CancelFunc
	done   chan struct{}
	f      *fetched // set when done, nil on error
	err    error
}

// readAhead plans the batch after cur from cur's ends and starts reading
// it. It returns nil, and leaves the batch to the loop, when a stop was
// requested, planning fails (the loop retries it) or nothing is left to
// read.
func (d *driver) readAhead(stopCtx, workCtx context.Context, target map[offsets.TopicPartition]int64, cur checkpoint.BatchPlan) *aheadRead {
	if stopCtx.Err() != nil {
		return nil
	}
	triggerAt := time.Now()
	start := maps.Clone(d.start)
	advance(start, cur)
	plan, latest, err := d.plan(stopCtx, target, start, cur.ID+1)
	if err != nil || len(plan.Ranges) == 0 || stopCtx.Err() != nil {
		return nil
	}
	d.failpoint(fpAfterPlan, plan.ID)
	ctx, cancel := context.WithCancel(workCtx)
	a := &aheadRead{plan: plan, cancel: cancel, done: make(chan struct{}),
		bc: batchContext{latest: latest, triggerAt: triggerAt, planDur: time.Since(triggerAt)}}
	go func() {
		defer close(a.done)
		defer cancel() // the context ends with the read, taken or dropped
		a.f, a.err = d.fetch(ctx, plan)
	}()
	return a
}

// wait returns the read once it has ended.
func (a *aheadRead) wait() (*fetched, error) {
	<-a.done
	return a.f, a.err
}

// drop cancels the read, waits for it and releases what it read.
func (a *aheadRead) drop() {
	a.cancel()
	if f, _ := a.wait(); f != nil {
		f.release()
	}
}

// compactIfIdle compacts the state log between batches when it is at least
// half way to the size at which a commit would compact it and the next
// trigger is not due yet: the compaction then runs off the batches' path,
// on half as many changes. One that outlasts the idle time delays the next
// batch as it would have delayed a commit.
func (d *driver) compactIfIdle(next time.Time) error {
	if d.state == nil || time.Until(next) <= 0 {
		return nil
	}
	logged, threshold, err := d.ckpt.StateLog()
	if err != nil {
		return err
	}
	if 2*logged < threshold {
		return nil
	}
	start := time.Now()
	if err := d.ckpt.Compact(); err != nil {
		return fmt.Errorf("compacting the state log: %w", err)
	}
	d.q.logger.Info("state log compacted between batches", "query", d.q.cfg.Name, "changes", logged, "took", time.Since(start))
	return nil
}

// discover lists the subscription's partitions (limited to an
// AvailableNow target's) and their earliest offsets into d.view.
func (d *driver) discover(ctx context.Context, target map[offsets.TopicPartition]int64) error {
	at := time.Now()
	tps, err := d.admin.Partitions(ctx, d.sub)
	if err != nil {
		return err
	}
	d.warnMissing(ctx, tps)
	if target != nil {
		kept := tps[:0]
		for _, tp := range tps {
			if _, ok := target[tp]; ok {
				kept = append(kept, tp)
			}
		}
		tps = kept
	}
	earliest, err := d.admin.ListOffsets(ctx, tps, offsets.Earliest, d.props.ReadCommitted())
	if err != nil {
		return err
	}
	d.view = &partitionView{tps: tps, earliest: earliest, at: at}
	return nil
}

// warnMissing logs, once per run, each subscribed topic that does not
// exist (or a pattern that matches none), with the closest existing topic:
// the query reads such a topic once it is created, so a misspelled one
// would otherwise read nothing without a word.
func (d *driver) warnMissing(ctx context.Context, tps []offsets.TopicPartition) {
	if len(d.sub.Assign) > 0 {
		return
	}
	var missing []string
	if d.sub.Pattern != nil {
		if len(tps) == 0 {
			missing = append(missing, d.sub.Pattern.String())
		}
	} else {
		have := map[string]bool{}
		for _, tp := range tps {
			have[tp.Topic] = true
		}
		for _, t := range d.sub.Topics {
			if !have[t] {
				missing = append(missing, t)
			}
		}
	}
	var topics []string
	listed := false
	for _, m := range missing {
		if d.warned[m] {
			continue
		}
		if d.warned == nil {
			d.warned = map[string]bool{}
		}
		d.warned[m] = true
		if d.sub.Pattern != nil {
			d.q.logger.Warn("subscribePattern matches no topic: the query reads the topics it matches once they are created", "query", d.q.cfg.Name, "pattern", m)
			continue
		}
		if !listed {
			// On an error the warning goes without a suggestion.
			all, _ := d.admin.Topics(ctx)
			topics, listed = slices.Sorted(maps.Keys(all)), true
		}
		attrs := []any{"query", d.q.cfg.Name, "topic", m}
		if s, ok := textdist.Closest(m, topics); ok {
			attrs = append(attrs, "did_you_mean", s)
		}
		d.q.logger.Warn("subscribed topic does not exist: the query reads it once it is created", attrs...)
	}
}

// discoverLatest discovers the subscription (see discover; the first plan
// reuses it) and lists its latest offsets, with planning's retries.
func (d *driver) discoverLatest(ctx context.Context) (latest map[offsets.TopicPartition]int64, err error) {
	err = d.withRetry(ctx, "listing offsets", func() error {
		if err := d.discover(ctx, nil); err != nil {
			return err
		}
		latest, err = d.admin.ListOffsets(ctx, d.view.tps, offsets.Latest, d.props.ReadCommitted())
		return err
	})
	return latest, err
}

// wentBack reports whether a partition's latest offset is below its cached
// log start or below where the driver resumes it (start): the partition's
// log was replaced since the view was listed.
func (d *driver) wentBack(latest, start map[offsets.TopicPartition]int64) bool {
	for tp, l := range latest {
		if e, ok := d.view.earliest[tp]; ok && l < e {
			return true
		}
		if s, ok := start[tp]; ok && l < s {
			return true
		}
	}
	return false
}

// walWrite is the write-ahead of a batch's plan, which runs while the
// executors fetch the batch: reading Kafka has no effect a crash must undo,
// so the plan only has to be durable before the batch's output and commit.
// A crash before it is durable leaves no trace of the batch; the next run
// plans it again.
type walWrite struct {
	done chan struct{}
	err  error
	dur  time.Duration // how long the write took
}

// writeAhead starts writing plan to the checkpoint's write-ahead log on a
// goroutine that ends when the write does; runBatch waits for it.
func (d *driver) writeAhead(plan checkpoint.BatchPlan) *walWrite {
	w := &walWrite{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		start := time.Now()
		w.err = d.ckpt.WriteAhead(plan)
		w.dur = time.Since(start)
		if w.err == nil {
			d.failpoint(fpAfterWAL, plan.ID)
		}
	}()
	return w
}

// wait blocks until the write ended and returns how long it blocked.
func (w *walWrite) wait() (time.Duration, error) {
	start := time.Now()
	<-w.done
	return time.Since(start), w.err
}

// plan lists offsets and plans batch id, whose partitions resume at start:
// the latest offsets of the partitions in d.view, which is refreshed first
// when it is older than the discovery interval, and refreshed and listed
// again when listing fails (a deleted topic). With an AvailableNow target,
// partitions are limited to the target's and the latest offsets to the
// target's.
func (d *driver) plan(ctx context.Context, target map[offsets.TopicPartition]int64, start map[offsets.TopicPartition]int64, id int64) (checkpoint.BatchPlan, map[offsets.TopicPartition]int64, error) {
	cfg := &d.q.cfg
	fresh := d.view == nil || time.Since(d.view.at) >= cfg.Source.discoveryInterval()
	if fresh {
		if err := d.discover(ctx, target); err != nil {
			return checkpoint.BatchPlan{}, nil, err
		}
	}
	latest, err := d.admin.ListOffsets(ctx, d.view.tps, offsets.Latest, d.props.ReadCommitted())
	if !fresh && ctx.Err() == nil && (err != nil || d.wentBack(latest, start)) {
		// A deleted topic, or a partition that went backwards (topic
		// recreated, log truncated): the cached view is stale too.
		if err = d.discover(ctx, target); err == nil {
			latest, err = d.admin.ListOffsets(ctx, d.view.tps, offsets.Latest, d.props.ReadCommitted())
		}
	}
	if err != nil {
		return checkpoint.BatchPlan{}, nil, err
	}
	tps, earliest := d.view.tps, d.view.earliest
	if target != nil {
		for tp, end := range target {
			if l, ok := latest[tp]; ok && end < l {
				latest[tp] = end
			}
		}
	}
	out, err := offsets.Plan(offsets.PlanInput{
		Partitions:     tps,
		Start:          start,
		Earliest:       earliest,
		Latest:         latest,
		Limit:          offsets.RateLimit{MaxRatePerPartition: cfg.Source.MaxRatePerPartition, PerPartition: cfg.Source.MaxRateOverrides},
		Interval:       cfg.rateInterval(),
		FailOnDataLoss: cfg.Source.OnDataLoss == FailOnDataLoss,
	})
	if err != nil {
		return checkpoint.BatchPlan{}, nil, err
	}
	for _, dl := range out.DataLoss {
		d.q.logger.Warn("skipping lost offsets (failOnDataLoss=false)", "query", cfg.Name,
			"topic", dl.Topic, "partition", dl.Partition, "from", dl.From, "until", dl.Until)
	}
	return checkpoint.NewBatchPlan(id, out, time.Now().UTC()), latest, nil
}

// DefaultFetchOffsetNumRetries is KafkaSource.FetchOffsetNumRetries's
// default.
const DefaultFetchOffsetNumRetries = 3

func (d *driver) planWithRetry(ctx context.Context, target, start map[offsets.TopicPartition]int64, id int64) (plan checkpoint.BatchPlan, latest map[offsets.TopicPartition]int64, err error) {
	err = d.withRetry(ctx, "planning", func() error {
		plan, latest, err = d.plan(ctx, target, start, id)
		return err
	})
	return plan, latest, err
}

// withRetry runs fn, and again after KafkaSource.FetchOffsetRetryInterval
// up to FetchOffsetNumRetries more times while it fails (a broker
// restarting, a leader election), logging what failed. A data loss, or a
// done ctx, ends it at once.
func (d *driver) withRetry(ctx context.Context, what string, fn func() error) error {
	src := &d.q.cfg.Source
	retries := cmp.Or(src.FetchOffsetNumRetries, DefaultFetchOffsetNumRetries)
	wait := cmp.Or(src.FetchOffsetRetryInterval, time.Second)
	for attempt := 1; ; attempt++ {
		err := fn()
		switch {
		case err == nil, errors.Is(err, offsets.ErrDataLoss), ctx.Err() != nil:
			return err
		case attempt == 1 && retries <= 0:
			return err
		case attempt > retries:
			return fmt.Errorf("%s failed %d times (fetchOffset.numRetries %d): %w", what, attempt, retries, err)
		}
		d.q.logger.Warn(what+" failed; retrying", "query", d.q.cfg.Name, "attempt", attempt, "in", max(wait, 0), "err", err)
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// forget drops partitions that left the subscription (topic or partition
// deleted) from the positions in start, so a recreated partition starts at
// earliest instead of at a stale offset. A committed batch also removes
// them from the checkpoint (BatchPlan.Gone).
func forget(start map[offsets.TopicPartition]int64, gone []offsets.TopicPartition) {
	for _, tp := range gone {
		delete(start, tp)
	}
}

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
	task  *dataframe.Task
}

// batchContext is what the driver knows about a batch besides its plan.
type batchContext struct {
	latest    map[offsets.TopicPartition]int64 // nil for a recovered batch
	triggerAt time.Time
	planDur   time.Duration
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
	// commit writes ahead in its transaction (nil: none).
	nextPlan func() *checkpoint.BatchPlan
}

// runBatch executes a planned (and write-ahead logged) batch and commits it.
func (d *driver) runBatch(ctx context.Context, plan checkpoint.BatchPlan, bc batchContext) error {
	q := d.q
	cfg := &q.cfg
	prog := q.prog
	triggerAt, latest := bc.triggerAt, bc.latest
	p := Progress{Name: cfg.Name, BatchID: plan.ID, Timestamp: triggerAt.UTC(), Recovered: bc.recovered}
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
	p.Durations.FetchDecode = f.dur
	p.Durations.FetchWait = time.Since(waitStart)
	if bc.readAhead != nil {
		bc.readAhead()
	}
	if bc.wal != nil {
		// Nothing leaves the batch before its plan is durable.
		if p.Durations.WALWait, err = bc.wal.wait(); err != nil {
			return err
		}
		p.Durations.WAL = bc.wal.dur
	}

	aggStart := time.Now()
	var recs []arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var changed int
	cr := checkpoint.CommitRecord{ID: plan.ID, InputRows: res.Records}
	if d.state != nil {
		for _, t := range tasks {
			if err := d.state.Merge(t.task); err != nil {
				return fmt.Errorf("batch %d: merging state: %w", plan.ID, err)
			}
		}
		changed = d.state.Changed()
		cr.StateRows = int64(d.state.Len())
	}
	cr.CommittedAt = time.Now().UTC()
	// The commit writes the state's changes while the result is built and
	// the sink writes; it becomes durable after the sink (batchCommit).
	txSink, _ := cfg.Sink.(TxSink)
	var next *checkpoint.BatchPlan
	if bc.nextPlan != nil {
		next = bc.nextPlan()
	}
	commit := d.startCommit(cr, changed, txSink, next, d.emitted)
	defer commit.abandon()
	if d.state != nil {
		rec, err := d.state.Result(q.mode == dataframe.Update)
		if err != nil {
			return fmt.Errorf("batch %d: result: %w", plan.ID, err)
		}
		recs = append(recs, rec)
	} else {
		for _, t := range tasks {
			recs = append(recs, t.task.Output()...)
		}
		limit := prog.Limit()
		if limit >= 0 {
			limit = max(limit-d.emitted, 0) // what the stream's LIMIT has left
		}
		recs = limitRows(recs, limit)
	}
	p.Durations.Aggregate = time.Since(aggStart)

	out := &Output{BatchID: plan.ID, Ranges: plan.Ranges, Mode: q.mode, Schema: prog.OutputSchema(), Records: recs}
	sinkStart := time.Now()
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
	for _, dl := range plan.DataLoss {
		p.SkippedOffsets += dl.Until - dl.From
	}
	p.OutputRows = out.NumRows()

	commitStart := time.Now()
	if err := commit.finish(out); err != nil {
		return fmt.Errorf("batch %d: commit: %w", plan.ID, err)
	}
	p.Durations.Commit = time.Since(commitStart)
	d.failpoint(fpAfterCommit, plan.ID)
	if next != nil {
		d.failpoint(fpAfterWAL, next.ID)
	}
	if d.state != nil {
		d.state.ResetChanged()
		p.StateRows = cr.StateRows
		p.StateRowsUpdated = int64(changed)
	}

	// Advance the driver's positions only after the commit is durable.
	p.Sources = sources(plan, latest)
	advance(d.start, plan)
	d.nextID = plan.ID + 1
	d.emitted += p.OutputRows

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
	q.record(p)
	q.logger.Debug("batch committed", "query", cfg.Name, "batch", p.BatchID, "rows", p.NumInputRows,
		"output_rows", p.OutputRows, "took", p.Durations.Total, "lag", p.TotalLag())
	return nil
}

// sources is the progress of a batch's partitions: where each started and
// ended, and its latest offset when the batch was planned (latest; nil for
// a recovered batch: the ends).
func sources(plan checkpoint.BatchPlan, latest map[offsets.TopicPartition]int64) []PartitionProgress {
	before := make(map[offsets.TopicPartition]int64, len(plan.Ranges))
	for _, r := range plan.Ranges {
		before[r.TopicPartition()] = r.From
	}
	out := make([]PartitionProgress, 0, len(plan.Ends))
	for tp, end := range plan.Ends {
		startOff, ok := before[tp]
		if !ok {
			startOff = end
		}
		l := end
		if v, ok := latest[tp]; ok {
			l = v
		}
		out = append(out, PartitionProgress{Topic: tp.Topic, Partition: tp.Partition,
			StartOffset: startOff, EndOffset: end, LatestOffset: l, Lag: max(l-end, 0)})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return offsets.TopicPartition{Topic: a.Topic, Partition: a.Partition}.Less(offsets.TopicPartition{Topic: b.Topic, Partition: b.Partition})
	})
	return out
}

// advance moves the positions in start past plan: each partition to its
// end, and partitions that left the subscription forgotten.
func advance(start map[offsets.TopicPartition]int64, plan checkpoint.BatchPlan) {
	for tp, end := range plan.Ends {
		start[tp] = end
	}
	forget(start, plan.Gone)
}

// fetched is a batch the executors have read: its tasks, in task order,
// hold its partial aggregates (or a stateless query's output) until
// release.
type fetched struct {
	res   *batch.Result
	tasks []indexedTask
	dur   time.Duration
}

func (f *fetched) release() {
	for _, t := range f.tasks {
		t.task.Release()
	}
}

// fetch reads plan's ranges on the executors into one task each.
func (d *driver) fetch(ctx context.Context, plan checkpoint.BatchPlan) (*fetched, error) {
	q := d.q
	cfg := &q.cfg
	var tasksMu sync.Mutex // guards f.tasks: NewSink runs on executor goroutines
	f := &fetched{}
	start := time.Now()
	res, err := d.exec.Run(ctx, batch.Job{
		BatchID: plan.ID,
		Ranges:  plan.Ranges,
		NewDecoder: func() (dataframe.Decoder, error) {
			return dataframe.NewDecoder(q.mem, cfg.Schema, q.decOpts)
		},
		NewSink: func(ti batch.TaskInfo) (batch.TaskSink, error) {
			t := q.prog.NewTask(q.mem)
			tasksMu.Lock()
			f.tasks = append(f.tasks, indexedTask{ti.Index, t})
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

package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

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
// of batch N, or a stop requested before N's commit began (after its
// sink), cancels the read ahead, which left no trace: the next run plans
// that batch again. A stop requested later finishes batch N+1 too, whose
// plan is durable.
//
// The sink is opened before the first batch, the pending one included,
// and closed with the driver once the loop ended, whatever ended it (see
// Sink and driver.close).
func (d *driver) loop(stopCtx, workCtx context.Context) (err error) {
	d.sinkOpened = true
	if err := d.openSink(stopCtx); err != nil {
		if stopCtx.Err() != nil && errors.Is(err, stopCtx.Err()) {
			return nil // stopped while opening: nothing was in flight
		}
		return err
	}
	return d.batches(stopCtx, workCtx)
}

// batches runs the batches: the pending one, then new ones (see loop).
func (d *driver) batches(stopCtx, workCtx context.Context) error {
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
			triggerAt, scheduledAt := time.Now(), next
			next = nextTrigger(next, triggerAt, interval)
			// Planning only lists metadata and offsets: a stop request
			// cancels it (nothing is in flight yet).
			var latest map[offsets.TopicPartition]int64
			plan, latest, err = d.planWithRetry(stopCtx, target, d.start, d.nextID, triggerAt)
			if err != nil {
				if stopCtx.Err() != nil {
					return nil
				}
				return err
			}
			planDur := time.Since(triggerAt)
			if len(plan.Ranges) == 0 {
				// perPartition: with no backlog anywhere, partitions that
				// went idle since the last batch release the watermark.
				if wm, ok := d.idleWatermark(plan.Meta.ProcessingTime); ok {
					d.wm.next, plan.Meta.Watermark = wm, wm
				}
			}
			if len(plan.Ranges) == 0 && cfg.Trigger.AvailableNow && !d.noDataBatchDue() {
				if wm, ok := d.flushWatermark(); ok {
					// flushOnExit: a last batch closes every open window.
					d.wm.next, plan.Meta.Watermark = wm, wm
				}
			}
			if len(plan.Ranges) == 0 && d.noDataBatchDue() {
				// The watermark moved past the last batch's: a batch
				// without input closes the windows it ends (Spark's
				// noDataMicroBatches), availableNow's last batches too.
				plan.Ends, plan.Gone = nil, nil
			} else if len(plan.Ranges) == 0 {
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
			bc = batchContext{latest: latest, triggerAt: triggerAt, scheduledAt: scheduledAt, planDur: planDur, wal: d.writeAhead(plan)}
		}
		bc.readAhead = func() {
			// A batch read ahead drops late rows against the watermark
			// after this batch's, which runBatch computed from this
			// batch's event times (wm.ahead).
			if time.Now().Before(next) {
				return // the next trigger is not due
			}
			ahead = d.readAhead(stopCtx, workCtx, target, plan)
			if ahead != nil {
				ahead.bc.scheduledAt = next
				next = nextTrigger(next, ahead.bc.triggerAt, interval)
			}
		}
		bc.nextPlan = func(emitted int64) *checkpoint.BatchPlan {
			if ahead == nil || stopCtx.Err() != nil {
				return nil // a stop drops the read ahead, which leaves no trace
			}
			ahead.logged = true // if the commit fails, the loop ends
			// Planned before this batch's output was known.
			ahead.plan.Meta.EmittedRows = emitted
			next := ahead.plan
			return &next
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
	plan, latest, err := d.plan(stopCtx, target, start, cur.ID+1, triggerAt)
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

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/microbatch/microbatch/internal/textdist"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

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
// target's. at is the batch's trigger, its processing time (Meta).
func (d *driver) plan(ctx context.Context, target map[offsets.TopicPartition]int64, start map[offsets.TopicPartition]int64, id int64, at time.Time) (checkpoint.BatchPlan, map[offsets.TopicPartition]int64, error) {
	cfg := &d.q.cfg
	fresh := d.view == nil || time.Since(d.view.at) >= cfg.Source.PartitionDiscoveryInterval
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
		Partitions:           tps,
		Start:                start,
		Earliest:             earliest,
		Latest:               latest,
		Limit:                offsets.RateLimit{MaxRatePerPartition: cfg.Source.MaxRatePerPartition, PerPartition: cfg.Source.MaxRateOverrides},
		Interval:             cfg.rateInterval(),
		Rate:                 d.planRate(),
		MinRatePerPartition:  cfg.Source.MinRatePerPartition,
		MaxOffsetsPerTrigger: cfg.Source.MaxOffsetsPerTrigger,
		FailOnDataLoss:       cfg.Source.OnDataLoss == FailOnDataLoss,
	})
	if err != nil {
		return checkpoint.BatchPlan{}, nil, err
	}
	for _, dl := range out.DataLoss {
		d.q.logger.Warn("skipping lost offsets (failOnDataLoss=false)", "query", cfg.Name,
			"topic", dl.Topic, "partition", dl.Partition, "from", dl.From, "until", dl.Until)
	}
	plan := checkpoint.NewBatchPlan(id, out, time.Now().UTC())
	d.reloadTables() // between batches: the batch before this one has pinned its tables
	plan.Meta = d.planMeta(at)
	return plan, latest, nil
}

// planMeta returns the engine's facts for a batch triggered at at, as this
// run knows them: they go into its plan, and a re-run of the batch takes
// them from there instead. EmittedRows is the rows output up to the last
// committed batch; a batch planned ahead, before the batch before it
// commits, gets its own in that commit (loop).
func (d *driver) planMeta(at time.Time) checkpoint.Meta {
	m := checkpoint.Meta{
		ProcessingTime: at.UTC(),
		RateLimit:      d.q.cfg.Source.MaxRatePerPartition,
		EmittedRows:    d.emitted,
	}
	if r := d.planRate(); r > 0 {
		raw, _ := json.Marshal(r) // a finite float64 always marshals
		m.Extra = map[string]json.RawMessage{rateExtra: raw}
	}
	if d.wm.on {
		m.Watermark = d.wm.next
		if d.wm.ahead != nil {
			m.Watermark = *d.wm.ahead
		}
	}
	return d.withTableHashes(m)
}

func (d *driver) planWithRetry(ctx context.Context, target, start map[offsets.TopicPartition]int64, id int64, at time.Time) (plan checkpoint.BatchPlan, latest map[offsets.TopicPartition]int64, err error) {
	err = d.withRetry(ctx, "planning", func() error {
		plan, latest, err = d.plan(ctx, target, start, id, at)
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
	retries, wait := src.FetchOffsetNumRetries, src.FetchOffsetRetryInterval // resolved: 0 is none
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
		d.q.logger.Warn(what+" failed; retrying", "query", d.q.cfg.Name, "attempt", attempt, "in", wait, "err", err)
		t := time.NewTimer(wait)
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

// advance moves the positions in start past plan: each partition to its
// end, and partitions that left the subscription forgotten.
func advance(start map[offsets.TopicPartition]int64, plan checkpoint.BatchPlan) {
	for tp, end := range plan.Ends {
		start[tp] = end
	}
	forget(start, plan.Gone)
}

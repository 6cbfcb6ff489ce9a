package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/microbatch/microbatch/batch"
	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
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
	// sinkOpened: the loop called the sink's Open (or would have, for a
	// sink without one), so close closes the sink.
	sinkOpened bool

	// start is where each known partition resumes: the until of its last
	// committed batch, or its initial offset if never committed.
	start  map[offsets.TopicPartition]int64
	nextID int64
	// emitted is the rows output by every committed batch (a stateless
	// query's LIMIT holds over the whole stream, as in Spark).
	emitted int64
	// lastTrigger is when the previous batch started (input rate).
	lastTrigger time.Time
	// pid estimates the rate under backpressure (nil when off); rate is
	// its latest estimate, or the one the last committed batch was
	// planned with after a restart (0: none yet).
	pid  *pidEstimator
	rate float64
	// view is the subscription as last discovered (nil: not yet).
	view *partitionView
	// wm is the event-time watermark (watermark.go).
	wm wmState
	// warned holds the subscribed topics (or the pattern) already logged
	// as missing (see warnMissing).
	warned map[string]bool
	// run identifies the query and this run in progress records.
	run runInfo
	// group commits positions to KafkaSource.CommitOffsetsToGroup (nil:
	// not set).
	group *groupCommitter
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
	if d.ckpt, err = checkpoint.Open(q.cfg.CheckpointLocation, checkpoint.Options{
		NoSync: q.cfg.NoSync,
		// A query the old checkpoint refuses leaves it in its format.
		BeforeUpgrade: func(c *checkpoint.Checkpoint) error {
			_, err := c.CompareFingerprint(q.fp, q.upgradeFingerprint)
			return err
		},
	}); err != nil {
		return nil, err
	}
	if up := d.ckpt.Upgraded(); up != nil {
		q.logger.Warn("checkpoint upgraded to this build's format: earlier releases can no longer open it", "query", q.cfg.Name, "from_format", up.From,
			"state_keys", up.StateKeys, "took", up.Took)
	}
	if d.run, err = q.newRunInfo(); err != nil {
		return nil, err
	}
	queryChanged, err := q.checkFingerprint(d.ckpt)
	if err != nil {
		return nil, err
	}
	if d.admin, err = kafka.NewAdmin(d.props, q.logger); err != nil {
		return nil, err
	}
	if g := q.cfg.Source.CommitOffsetsToGroup; g != "" {
		d.group = newGroupCommitter(d.admin, g, q.cfg.Name, q.logger)
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
		if queryChanged {
			// The sink's rows were chosen by the old query's HAVING.
			d.state.RestoreAsEmitted()
		}
		if err = restoreState(d.ckpt, d.state); err != nil {
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
		d.nextID, d.emitted = last.ID+1, last.Meta.EmittedRows
		d.rate = backpressureRate(last.Meta)
	}
	if bp := d.q.cfg.Backpressure; bp.Enabled {
		d.pid = newPIDEstimator(bp, d.q.cfg.rateInterval())
	}
	d.wm = newWMState(d.q.prog, last, d.q.cfg.Watermark)
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

// close closes the sink once the loop opened it, the executors'
// consumers and the admin client at once, as each can take up to 100 ms
// (confluent-kafka-go's poller wakes every 100 ms), then the checkpoint.
// A panic in one of them (a sink's Close) is raised again on the caller's
// goroutine once the checkpoint is closed, as if they had run there.
func (d *driver) close() error {
	var sinkErr, execErr error
	var wg sync.WaitGroup
	var mu sync.Mutex
	var panicked any // the first panic of a close
	parallel := func(f func()) {
		wg.Add(1)
		go func() { // owned by close, which waits for it
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					if panicked == nil {
						panicked = p
					}
					mu.Unlock()
				}
			}()
			f()
		}()
	}
	if d.sinkOpened {
		parallel(func() { sinkErr = d.closeSink() })
	}
	if d.exec != nil {
		parallel(func() { execErr = d.exec.Close() })
	}
	parallel(func() {
		if d.group != nil {
			d.group.close() // before the admin client it uses
		}
		if d.admin != nil {
			d.admin.Close()
		}
	})
	wg.Wait()
	errs := []error{sinkErr, execErr}
	if d.ckpt != nil {
		errs = append(errs, d.ckpt.Close())
	}
	if panicked != nil {
		panic(panicked) // the checkpoint's lock is released
	}
	return errors.Join(errs...)
}

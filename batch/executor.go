package batch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
)

// defaultRowsPerRecord is Config.rowsPerRecord's default.
const defaultRowsPerRecord = 8192

// Config configures an Executor. Zero values take the documented defaults.
// The unexported fields are tuning knobs for this package's tests.
type Config struct {
	// Props are librdkafka properties: bootstrap.servers (required),
	// isolation.level (default read_committed) and any user override. They
	// are applied over kafka.ConsumerDefaults.
	Props kafka.Props
	// Workers is the number of slots: consumers and goroutines reading in
	// parallel. Default runtime.GOMAXPROCS(0).
	Workers int
	// MaxOffsetsPerTask splits ranges longer than this into several tasks
	// (Spark's minPartitions, the other way round). 0 never splits.
	MaxOffsetsPerTask int64
	// rowsPerRecord is the number of rows per Arrow record handed to a
	// TaskSink (the last record of a task may be shorter). Default
	// defaultRowsPerRecord.
	rowsPerRecord int
	// maxMalformedBytes overrides MaxMalformedBytes when > 0.
	maxMalformedBytes int64
	// FailOnDataLoss makes Run fail with an *offsets.DataLossError when
	// offsets of a range were deleted; otherwise they are skipped, logged and
	// counted in SkippedOffsets. Spark's failOnDataLoss.
	FailOnDataLoss bool
	// stallTimeout fails a task whose read makes no progress for this long.
	// Default kafka.DefaultStallTimeout.
	stallTimeout time.Duration
	// Logger receives data-loss skips and client warnings. Default
	// slog.Default().
	Logger *slog.Logger
}

// Job is one batch's work.
type Job struct {
	BatchID int64
	// Ranges are the planned offset ranges; empty ranges are ignored. Ranges
	// of one partition must not overlap.
	Ranges []offsets.OffsetRange
	// NewDecoder returns a fresh decoder for each task. The executor
	// releases it when the task ends. The decoder must report malformed
	// records to onMalformed (its DecoderOptions.OnMalformed) for them to
	// be captured in Result.Malformed.
	NewDecoder func(onMalformed func(*dataframe.MalformedRecordError)) (dataframe.Decoder, error)
	// NewSink returns the sink of one task. It is called on the goroutine
	// that then calls the sink's Consume, before the task's first record is
	// decoded (the slot may already be reading the task).
	NewSink func(t TaskInfo) (TaskSink, error)
}

// TaskInfo identifies a task to its sink.
type TaskInfo struct {
	Index int // 0-based, stable for a given Job and Config

	rng offsets.OffsetRange // the task's offsets
}

// Range returns the offsets the task reads.
func (t TaskInfo) Range() offsets.OffsetRange { return t.rng }

// TaskSink receives the Arrow records of one task, in offset order, on one
// goroutine: the slot's decoding goroutine. The executor releases rec after
// Consume returns: a sink that keeps it must Retain it. An error fails the
// task.
type TaskSink interface {
	Consume(rec arrow.Record) error
}

// Executor runs jobs on a fixed set of slots, each with a Kafka consumer
// cached for the life of the Executor. Run and Close may be called from any
// goroutine; Runs are serialised.
type Executor struct {
	cfg   Config
	log   *slog.Logger
	slots []*slot

	// runMu is held by Run for its whole duration and by Close while it
	// closes the consumers: it guards every slot's reader and homes.
	runMu sync.Mutex
	homes *homes // the slot of every partition seen

	// closeCtx is cancelled by Close; it cancels the Run in progress.
	closeCtx    context.Context
	closeCancel context.CancelFunc
}

// slot is one worker: a consumer, and during a Run the goroutine reading
// with it and its pipeline's decoding goroutine.
type slot struct {
	index  int
	reader *kafka.RangeReader // created on first use; guarded by Executor.runMu
	chunks []*chunk           // the pipeline's, created on first use; guarded by Executor.runMu
}

// NewExecutor validates cfg and returns an Executor. Consumers are created
// lazily, on a slot's first task.
func NewExecutor(cfg Config) (*Executor, error) {
	if cfg.Props["bootstrap.servers"] == "" {
		return nil, errors.New("batch: Config.Props: bootstrap.servers is not set")
	}
	if cfg.Workers < 0 || cfg.MaxOffsetsPerTask < 0 || cfg.rowsPerRecord < 0 || cfg.stallTimeout < 0 {
		return nil, fmt.Errorf("batch: Config: negative Workers (%d), MaxOffsetsPerTask (%d), rowsPerRecord (%d) or stallTimeout (%s)",
			cfg.Workers, cfg.MaxOffsetsPerTask, cfg.rowsPerRecord, cfg.stallTimeout)
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.rowsPerRecord == 0 {
		cfg.rowsPerRecord = defaultRowsPerRecord
	}
	if cfg.stallTimeout == 0 {
		cfg.stallTimeout = kafka.DefaultStallTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Props = cfg.Props.Clone()
	e := &Executor{cfg: cfg, log: cfg.Logger, homes: newHomes(cfg.Workers)}
	e.closeCtx, e.closeCancel = context.WithCancel(context.Background())
	for i := range cfg.Workers {
		e.slots = append(e.slots, &slot{index: i})
	}
	return e, nil
}

// Run reads every range of job on the executor's slots and returns when all
// tasks have ended: every task goroutine has returned and every decoder,
// sink record and Arrow record of the job has been released. The first task
// error cancels the other tasks; Run returns it wrapped with the batch id
// and the task's range (errors.As finds *offsets.DataLossError,
// *dataframe.MalformedRecordError and sink errors). Every error of Run but
// ErrClosed itself starts with "batch <id>: ".
//
// ctx bounds the whole batch, including consumer creation and every read;
// when it is cancelled Run returns promptly with an error matching
// ctx.Err(). Close cancels a Run in progress (the error then matches
// ErrClosed via context.Cause). Runs are serialised: a second Run waits for
// the first.
func (e *Executor) Run(ctx context.Context, job Job) (*Result, error) {
	if job.NewDecoder == nil || job.NewSink == nil {
		return nil, fmt.Errorf("batch %d: Job.NewDecoder and Job.NewSink are required", job.BatchID)
	}
	for _, r := range job.Ranges {
		if r.From < 0 || r.Until < r.From {
			return nil, fmt.Errorf("batch %d: invalid range %s", job.BatchID, r)
		}
	}
	e.runMu.Lock()
	defer e.runMu.Unlock()
	if e.closeCtx.Err() != nil {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(e.closeCtx, func() { cancel(ErrClosed) })
	defer stop()

	tasks := planTasks(job.Ranges, e.cfg.MaxOffsetsPerTask, e.homes)
	res := &Result{tasks: make([]taskStats, len(tasks))}
	var budget atomic.Int64
	budget.Store(cmp.Or(e.cfg.maxMalformedBytes, MaxMalformedBytes))
	bySlot := make([][]task, len(e.slots))
	for _, t := range tasks {
		bySlot[t.slot] = append(bySlot[t.slot], t)
	}

	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex // guards firstErr
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel(err)
		}
		errMu.Unlock()
	}
	for i, ts := range bySlot {
		if len(ts) == 0 && (e.slots[i].reader == nil || len(e.slots[i].reader.Assigned()) == 0) {
			continue
		}
		wg.Add(1)
		go func(s *slot, ts []task) {
			defer wg.Done()
			if err := e.runSlot(ctx, s, job, ts, res.tasks, &budget); err != nil {
				fail(err)
			}
		}(e.slots[i], ts)
	}
	wg.Wait()

	if firstErr != nil {
		if errors.Is(firstErr, context.Canceled) || errors.Is(firstErr, context.DeadlineExceeded) {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(firstErr, cause) {
				return nil, fmt.Errorf("%w (%w)", firstErr, cause)
			}
		}
		return nil, firstErr
	}
	for _, t := range res.tasks {
		res.add(t)
	}
	return res, nil
}

// Close cancels a Run in progress, waits for it to return and closes every
// cached consumer. Run after Close returns ErrClosed. Close is idempotent;
// it returns the errors of closing the consumers.
func (e *Executor) Close() error {
	e.closeCancel()
	e.runMu.Lock()
	defer e.runMu.Unlock()
	var errs []error
	for _, s := range e.slots {
		if s.reader != nil {
			if err := s.reader.Close(); err != nil {
				errs = append(errs, fmt.Errorf("batch: slot %d: %w", s.index, err))
			}
			s.reader = nil
		}
		s.chunks = nil
	}
	return errors.Join(errs...)
}

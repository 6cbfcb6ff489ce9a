package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// Query is a streaming query ready to run. Create it with New.
type Query struct {
	cfg      Config
	prog     *dataframe.Program
	mode     dataframe.OutputMode
	starting offsets.StartingOffsets
	decOpts  dataframe.DecoderOptions
	fp       checkpoint.Fingerprint
	logger   *slog.Logger
	mem      memory.Allocator

	mu   sync.Mutex    // guards stop, stopCancel, running and recent
	stop chan struct{} // closed by Stop; replaced by each Run
	// stopCancel cancels the running Run's stop context (Stop).
	stopCancel context.CancelFunc
	running    bool
	recent     []Progress // the last maxRecent progress records, oldest first
	status     Status     // see Status (status.go)
}

const maxRecent = 100

// New validates cfg, applies its defaults (see Config), compiles its query
// and returns a Query. It touches neither Kafka nor the checkpoint: Run
// does. A bad Config gets every problem at once: an errors.Join of
// *ConfigError, each matching ErrInvalidConfig.
func New(cfg Config) (*Query, error) {
	var errs []error
	bad := func(field string, err error, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...), Err: err})
	}
	src := &cfg.Source
	if src.BootstrapServers == "" {
		bad("Source.BootstrapServers", nil, "not set")
	}
	if _, err := src.subscription(); err != nil {
		errs = append(errs, err)
	}
	starting, err := offsets.ParseStartingOffsets(cmp.Or(src.StartingOffsets, DefaultConfig().Source.StartingOffsets))
	if err != nil {
		bad("Source.StartingOffsets", err, "%v", err)
	}
	switch cfg.Format {
	case 0:
		bad("Format", nil, "not set")
	case dataframe.FormatJSON, dataframe.FormatCSV:
	default:
		bad("Format", nil, "%d is neither dataframe.FormatJSON nor dataframe.FormatCSV", cfg.Format)
	}
	switch cfg.Mode {
	case 0, dataframe.Permissive, dataframe.DropMalformed, dataframe.FailFast:
	default:
		bad("Mode", nil, "%d is not dataframe.Permissive, DropMalformed or FailFast", cfg.Mode)
	}
	if dl := src.DeadLetter; dl.MaxRatio > 1 || math.IsNaN(dl.MaxRatio) {
		bad("Source.DeadLetter.MaxRatio", nil, "%v is not a share of the records: want (0, 1], or Off to fail on any malformed record", dl.MaxRatio)
	}
	if src.DeadLetter.Topic != "" && cfg.Mode == dataframe.FailFast {
		bad("Source.DeadLetter.Topic", nil, "mode FAILFAST stops at the first malformed record: dead letters need PERMISSIVE or DROPMALFORMED")
	}
	compilable := cfg.Query != nil
	if cfg.Schema == nil {
		bad("Schema", nil, "not set")
		compilable = false
	}
	if cfg.Query == nil {
		bad("Query", nil, "not set")
	} else if qs := cfg.Query.SourceSchema(); cfg.Schema != nil && qs != nil && qs.String() != cfg.Schema.String() {
		bad("Schema", nil, "[%s] is not the schema the query reads [%s] (build the query over dataframe.Source(table, Config.Schema))", cfg.Schema, qs)
		compilable = false
	}
	if cfg.Executors < 0 {
		bad("Executors", nil, "must be >= 0 (0: GOMAXPROCS), got %d", cfg.Executors)
	}
	if cfg.Sink == nil {
		bad("Sink", nil, "not set")
	}
	if cfg.CheckpointLocation == "" {
		bad("CheckpointLocation", nil, "not set")
	}
	if err := cfg.Backpressure.check(src); err != nil {
		errs = append(errs, err)
	}
	if cfg.Trigger.AvailableNow && cfg.Trigger.ProcessingTime > 0 {
		bad("Trigger", nil, "set ProcessingTime or AvailableNow, not both")
	}
	q := &Query{cfg: cfg.resolved(), starting: starting, status: Status{BatchInFlight: -1}}
	q.logger, q.mem = q.cfg.Logger, q.cfg.Allocator
	// The query compiles whatever else is wrong, so every problem shows.
	if compilable {
		q.prog, q.mode, err = compile(cfg.Query, cfg.OutputMode)
		if err != nil {
			field := "Query"
			if cfg.OutputMode != 0 && cfg.Query.Err() == nil && compilesInAnotherMode(cfg.Query, cfg.OutputMode) {
				field = "OutputMode" // the query is refused in the mode asked for
			}
			bad(field, err, "%v", err)
		} else if q.cfg.Mode != dataframe.Permissive && slices.Contains(q.prog.InputColumns(), dataframe.ColCorruptRecord) {
			bad("Mode", nil, "the query reads %s, which exists only in PERMISSIVE mode, not in %s", dataframe.ColCorruptRecord, q.cfg.Mode)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	q.decOpts = dataframe.DecoderOptions{
		Format:    cfg.Format,
		Mode:      q.cfg.Mode,
		Columns:   q.prog.InputColumns(),
		CSVHeader: cfg.CSVHeader,
		TimeZone:  q.prog.SessionTimeZone(),
	}
	if et, _, ok := q.prog.Watermark(); ok && !slices.ContainsFunc(dataframe.MetadataFields(), func(f dataframe.Field) bool { return f.Name == et }) {
		q.decOpts.EventTime = et // a NULL event time is malformed
	}
	q.fp = q.fingerprint()
	return q, nil
}

// compile compiles df in mode; mode 0 picks complete for aggregations and
// append otherwise, as Spark users expect from a console query.
func compile(df *dataframe.DataFrame, mode dataframe.OutputMode) (*dataframe.Program, dataframe.OutputMode, error) {
	if err := df.Err(); err != nil {
		return nil, 0, err
	}
	if mode == 0 {
		mode = dataframe.Append
		if df.Aggregates() {
			mode = dataframe.Complete
		}
	}
	p, err := dataframe.Compile(df, mode)
	return p, mode, err
}

// compilesInAnotherMode reports whether df compiles in an output mode
// other than mode: then mode is what its refusal is about, not the query
// (a window over another column than the watermark's fails in every
// mode).
func compilesInAnotherMode(df *dataframe.DataFrame, mode dataframe.OutputMode) bool {
	for _, m := range []dataframe.OutputMode{dataframe.Append, dataframe.Complete, dataframe.Update} {
		if m != mode {
			if _, err := dataframe.Compile(df, m); err == nil {
				return true
			}
		}
	}
	return false
}

// OutputMode is the mode the query runs in (resolved when Config left it 0).
func (q *Query) OutputMode() dataframe.OutputMode { return q.mode }

// Program is the compiled query.
func (q *Query) Program() *dataframe.Program { return q.prog }

// Stop asks a running query to stop gracefully: the batch in flight is
// finished and committed (with the batch read ahead, if its plan was
// already written in that commit), then Run returns. Stop does not wait; it is a
// no-op when the query is not running.
func (q *Query) Stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running && q.stop != nil {
		select {
		case <-q.stop:
		default:
			close(q.stop)
			// At once, not through the watcher: the driver checks it
			// between batches, and a Stop from a sink ends the run
			// after that sink's batch.
			q.stopCancel()
		}
	}
}

// RecentProgress returns the progress of the last (up to 100) batches,
// oldest first.
func (q *Query) RecentProgress() []Progress {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Progress(nil), q.recent...)
}

// LastProgress returns the progress of the last committed batch.
func (q *Query) LastProgress() (Progress, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.recent) == 0 {
		return Progress{}, false
	}
	return q.recent[len(q.recent)-1], true
}

func (q *Query) record(p Progress) {
	q.mu.Lock()
	q.status.BatchInFlight = -1
	q.recent = append(q.recent, p)
	if len(q.recent) > maxRecent {
		q.recent = append(q.recent[:0:0], q.recent[len(q.recent)-maxRecent:]...)
	}
	q.mu.Unlock()
	p.log(q.logger)
	if q.cfg.OnProgress != nil {
		q.cfg.OnProgress(p)
	}
}

// Run runs the query until ctx is cancelled, Stop is called, the trigger is
// AvailableNow and everything available at start has been processed, or a
// batch fails. A graceful end returns nil.
//
// ctx is the stop signal: when it is done, the batch in flight (if any) is
// finished and committed, then Run returns nil. The in-flight batch's own
// work runs under a context that keeps ctx's values but is cancelled only
// when Config.StopTimeout has passed after the stop request; Run then
// returns that cancellation and the batch is re-run at the next start.
//
// Run opens the checkpoint (failing at once with checkpoint.ErrLocked if
// another process holds it), recovers an uncommitted batch, and on return
// has closed every consumer, client and goroutine it started.
func (q *Query) Run(ctx context.Context) (err error) {
	q.mu.Lock()
	if q.running {
		q.mu.Unlock()
		return ErrRunning
	}
	q.running = true
	q.status = Status{Running: true, BatchInFlight: -1, FailedBatches: q.status.FailedBatches}
	stop := make(chan struct{})
	q.stop = stop
	stopCtx, stopCancel := context.WithCancel(ctx)
	defer stopCancel()
	q.stopCancel = stopCancel
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.running = false
		if err != nil {
			q.status.LastError = err.Error()
			if q.status.BatchInFlight >= 0 {
				q.status.FailedBatches++
			}
		}
		q.status.Running, q.status.BatchInFlight = false, -1
		q.mu.Unlock()
	}()

	workCtx, workCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer workCancel()

	// The stop watcher: owned by Run, ends when Run returns (stopCancel and
	// runDone below). It turns Stop into stopCtx cancellation and enforces
	// StopTimeout on the work context.
	runDone := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		select {
		case <-stop:
			stopCancel()
		case <-stopCtx.Done():
		case <-runDone:
			return
		}
		t := time.NewTimer(q.cfg.StopTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			q.logger.Warn("stop timeout: cancelling the batch in flight", "query", q.cfg.Name, "timeout", q.cfg.StopTimeout)
			workCancel()
		case <-runDone:
		}
	}()
	defer watcher.Wait()
	defer close(runDone)

	d, err := q.newDriver(stopCtx)
	if err != nil {
		if stopCtx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return nil // stopped while starting: nothing was in flight
		}
		return err
	}
	// Deferred, so a panic in a sink or OnProgress still releases the
	// checkpoint lock and the consumers.
	defer func() {
		if cerr := d.close(); err == nil {
			err = cerr
		}
		if err == nil {
			q.logger.Info("query stopped", "query", q.cfg.Name, "next_batch", d.nextID)
		}
	}()
	q.logger.Info("query started", "query", q.cfg.Name, "next_batch", d.nextID, "partitions", len(d.start), "checkpoint", q.cfg.CheckpointLocation)
	for _, t := range q.prog.Tables() {
		q.warnMalformed(t.Info())
	}
	return d.loop(stopCtx, workCtx)
}

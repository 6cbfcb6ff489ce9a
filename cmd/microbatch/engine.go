package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/broker"
	"github.com/microbatch/microbatch/internal/gen"
	"github.com/microbatch/microbatch/internal/jobfile"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/sql"
)

// buildQuery turns a validated job into an engine query writing to sink.
// Problems are reported as jobfile errors (file:line, exit 2).
func buildQuery(job *jobfile.Job, sink engine.Sink, logger *slog.Logger, onProgress func(engine.Progress)) (*engine.Query, error) {
	schema, err := dataframe.ParseSchema(job.Source.Schema)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), dataframe.ErrSchema.Error()+": ")
		return nil, jobfile.Errors{job.Errorf("source.schema", "%s", msg)}
	}
	df, err := sql.Compile(job.Query, job.Source.Table, schema)
	if err != nil {
		var se *sql.Error
		if errors.As(err, &se) {
			return nil, jobfile.Errors{job.QueryErrorf(se.Line, se.Column, "%s", se.Msg)}
		}
		return nil, jobfile.Errors{job.Errorf("query", "%v", err)}
	}
	format, err := dataframe.ParseFormat(job.Source.Format)
	if err != nil {
		return nil, jobfile.Errors{job.Errorf("source.format", "%v", err)}
	}
	mode, err := dataframe.ParseMode(job.Source.Mode)
	if err != nil {
		return nil, jobfile.Errors{job.Errorf("source.mode", "%v", err)}
	}
	var outMode dataframe.OutputMode
	if job.OutputMode != "" {
		if outMode, err = dataframe.ParseOutputMode(job.OutputMode); err != nil {
			return nil, jobfile.Errors{job.Errorf("outputMode", "%v", err)}
		}
	}
	k := job.Source.Kafka
	onDataLoss := engine.FailOnDataLoss
	if !k.FailOnDataLoss {
		onDataLoss = engine.SkipDataLoss
	}
	q, err := engine.New(engine.Config{
		Name: job.Name,
		Source: engine.KafkaSource{
			BootstrapServers:    k.BootstrapServers,
			Subscribe:           k.Subscribe,
			SubscribePattern:    k.SubscribePattern,
			Assign:              k.Assign,
			StartingOffsets:     k.StartingOffsets,
			MaxRatePerPartition: k.MaxRatePerPartition,
			OnDataLoss:          onDataLoss,
			Properties:          k.Properties,
			// The job file's 0 is every batch (no retry, no wait); the
			// engine's is its default.
			PartitionDiscoveryInterval: cmp.Or(k.PartitionDiscoveryInterval, -1),
			FetchOffsetNumRetries:      int(cmp.Or(k.FetchOffsetNumRetries, -1)),
			FetchOffsetRetryInterval:   cmp.Or(k.FetchOffsetRetryInterval, -1),
		},
		Format:             format,
		Schema:             schema,
		Mode:               mode,
		CSVHeader:          job.Source.Header,
		Query:              df,
		OutputMode:         outMode,
		Trigger:            engine.Trigger{ProcessingTime: job.Trigger.ProcessingTime, AvailableNow: job.Trigger.AvailableNow},
		Sink:               sink,
		CheckpointLocation: job.CheckpointLocation,
		Logger:             logger,
		OnProgress:         onProgress,
	})
	if err != nil {
		return nil, configErrors(job, err)
	}
	return q, nil
}

// configErrors turns the errors of engine.New (an errors.Join of
// "invalid query config: PART: message") into job-file errors. Query
// errors point at outputMode when the job sets one: the mode is what the
// query was refused in.
func configErrors(job *jobfile.Job, err error) jobfile.Errors {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out jobfile.Errors
	for _, e := range errs {
		msg := strings.TrimPrefix(e.Error(), engine.ErrInvalidConfig.Error()+": ")
		key := "query"
		if part, rest, ok := strings.Cut(msg, ": "); ok {
			switch part {
			case "query":
				msg = rest
				if job.OutputMode != "" {
					key = "outputMode"
				}
			case "source":
				key, msg = "source.kafka", rest
			case "trigger":
				key, msg = "trigger", rest
			}
		}
		out = append(out, job.Errorf(key, "%s", msg))
	}
	return out
}

// checkEngine compiles the job the way run would (the output mode against
// the query included) without touching Kafka or the checkpoint.
func checkEngine(job *jobfile.Job) error {
	if job.Source.Kafka.Embedded && job.Source.Kafka.BootstrapServers == "" {
		j := *job
		j.Source.Kafka.BootstrapServers = "embedded"
		job = &j
	}
	_, err := buildQuery(job, engine.SinkFunc(func(context.Context, *engine.Output) error { return nil }), slog.Default(), nil)
	return err
}

// quietLogger logs warnings and errors (data loss skipped, stop timeouts)
// to w; the per-batch line is printed by progressLine.
func quietLogger(w io.Writer) *slog.Logger { return levelLogger(w, slog.LevelWarn) }

// levelLogger logs to w from level on: run's --log-level (info adds start,
// stop, recovery and compaction lines).
func levelLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// progressLine prints one line per committed batch on w.
func progressLine(w io.Writer) func(engine.Progress) {
	return func(p engine.Progress) {
		rec := ""
		if p.Recovered {
			rec = " (recovered)"
		}
		extra := ""
		if p.CorruptRecords+p.DroppedRecords+p.SkippedOffsets > 0 {
			extra = fmt.Sprintf(", corrupt %d, dropped %d, skipped offsets %d", p.CorruptRecords, p.DroppedRecords, p.SkippedOffsets)
		}
		fmt.Fprintf(w, "batch %d%s: %d rows, %.0f rows/s, %s, lag %d%s\n",
			p.BatchID, rec, p.NumInputRows, p.ProcessedRowsPerSecond, p.Durations.Total.Round(time.Millisecond), p.TotalLag(), extra)
	}
}

// runJobEngine runs job until ctx is done or, with availableNow, until
// the data present at start is processed.
func runJobEngine(ctx context.Context, job *jobfile.Job, stdout, stderr io.Writer, level slog.Level) error {
	c := job.Sink.Console
	if c == nil {
		c = &jobfile.ConsoleSink{NumRows: 20, Truncate: true}
	}
	sink := engine.NewConsoleSink(engine.ConsoleOptions{NumRows: c.NumRows, Truncate: c.Truncate, Writer: stdout})
	q, err := buildQuery(job, sink, levelLogger(stderr, level), progressLine(stderr))
	if err != nil {
		return err
	}
	return q.Run(ctx)
}

// startEmbedded starts the in-process broker of bootstrap.servers:
// embedded, creates its topics and starts the job's generator. The
// returned stop function stops the generator, then the broker; it returns
// the first error either saw.
func startEmbedded(ctx context.Context, job *jobfile.Job, stderr io.Writer) (addr string, stop func() error, err error) {
	e := job.Source.Embedded
	if e == nil {
		e = &jobfile.Embedded{}
	}
	cfg := broker.Config{DataDir: e.DataDir}
	specs := e.Topics
	if len(specs) == 0 {
		for _, t := range job.Source.Kafka.Subscribe {
			specs = append(specs, t+":1")
		}
	}
	for _, s := range specs {
		t, err := broker.ParseTopic(s)
		if err != nil {
			return "", nil, err
		}
		cfg.Topics = append(cfg.Topics, t)
	}
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		return "", nil, err
	}
	where := "records are kept in memory"
	if e.DataDir != "" {
		where = "data in " + e.DataDir
	}
	fmt.Fprintf(stderr, "embedded broker listening on %s (%s)\n", b.Addr(), where)
	if e.Generator == "" || len(job.Source.Kafka.Subscribe) == 0 {
		return b.Addr(), b.Close, nil
	}
	g, err := gen.New(e.Generator, e.Seed)
	if err != nil {
		b.Close()
		return "", nil, err
	}
	p, err := kafka.NewProducer(kafka.Props{"bootstrap.servers": b.Addr()})
	if err != nil {
		b.Close()
		return "", nil, err
	}
	topic := job.Source.Kafka.Subscribe[0]
	fmt.Fprintf(stderr, "generator %s writing %d records/s to %s\n", e.Generator, e.Rate, topic)
	// The feeder goroutine is owned by the returned stop function: it
	// cancels genCtx, waits for the goroutine, closes the producer, then
	// the broker.
	genCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var genErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, genErr = produceLoop(genCtx, p, genSource{g}, produceOpts{topic: topic, rate: float64(e.Rate)}, nil)
	}()
	stop = func() error {
		cancel()
		wg.Wait()
		fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer fcancel()
		perr := p.Close(fctx)
		return errors.Join(genErr, perr, b.Close())
	}
	return b.Addr(), stop, nil
}

// stateQuery builds the job's query for reading its checkpoint.
func stateQuery(job *jobfile.Job) (*engine.Query, error) {
	if job.Source.Kafka.BootstrapServers == "" {
		job.Source.Kafka.BootstrapServers = "embedded" // not contacted
	}
	return buildQuery(job, engine.SinkFunc(func(context.Context, *engine.Output) error { return nil }), quietLogger(os.Stderr), nil)
}

// showStateEngine prints the latest committed result table.
func showStateEngine(ctx context.Context, job *jobfile.Job, format string, stdout io.Writer) error {
	q, err := stateQuery(job)
	if err != nil {
		return err
	}
	rec, err := q.State()
	if err != nil {
		return checkpointErr(job, err)
	}
	defer rec.Release()
	return writeRecord(interruptible{ctx, stdout}, format, rec)
}

// interruptible fails every write once ctx is done (SIGINT), so a long
// print stops at its next write instead of running to the end.
type interruptible struct {
	ctx context.Context
	w   io.Writer
}

func (i interruptible) Write(p []byte) (int, error) {
	if err := i.ctx.Err(); err != nil {
		return 0, fmt.Errorf("interrupted: %w", err)
	}
	return i.w.Write(p)
}

// showOffsetsEngine prints the batches recorded in the checkpoint.
func showOffsetsEngine(ctx context.Context, job *jobfile.Job, format string, stdout io.Writer) error {
	q, err := stateQuery(job)
	if err != nil {
		return err
	}
	infos, err := q.Batches()
	if err != nil {
		return checkpointErr(job, err)
	}
	return writeBatches(interruptible{ctx, stdout}, format, infos)
}

func checkpointErr(job *jobfile.Job, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no checkpoint at %s (has the job run yet?)", job.CheckpointLocation)
	}
	return err
}

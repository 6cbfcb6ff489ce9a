package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/broker"
	"github.com/microbatch/microbatch/internal/gen"
	"github.com/microbatch/microbatch/internal/jobfile"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/sinks"
	"github.com/microbatch/microbatch/sql"
	"github.com/microbatch/microbatch/ui"
)

// buildQuery turns a job into an engine query writing to sink. Problems
// are reported as jobfile errors (file:line, exit 2).
//
// A job Load returned with errors is checked as far as its valid keys
// allow (jobfile.Job.Valid): the schema DDL when source.schema is valid,
// the SQL when the schema, source.table and query are, the output mode
// against the query when outputMode is valid too. Problems the engine
// finds at keys Load already reported are left out.
func buildQuery(job *jobfile.Job, sink engine.Sink, logger *slog.Logger, onProgress func(engine.Progress)) (*engine.Query, error) {
	cfg := engine.Config{
		Name:               job.Name,
		Source:             job.Source.Kafka.Engine(),
		CSVHeader:          job.Source.Header,
		Trigger:            job.Trigger.Engine(),
		Backpressure:       job.Backpressure.Engine(),
		Watermark:          job.Watermark.Engine(),
		Sink:               sink,
		CheckpointLocation: job.CheckpointLocation,
		Logger:             logger,
		OnProgress:         onProgress,
	}
	cfg.Source.DeadLetter = job.Source.DeadLetter.Engine()
	var errs jobfile.Errors
	// unbuilt holds the engine fields left unset because their keys are
	// wrong; the engine's "not set" for them says nothing new.
	unbuilt := map[string]bool{}
	var err error
	if !job.Valid("source.schema") {
		unbuilt["Schema"] = true
	} else if cfg.Schema, err = dataframe.ParseSchema(job.Source.Schema); err != nil {
		var se *dataframe.SchemaError
		if !errors.As(err, &se) {
			return nil, err
		}
		errs = append(errs, job.Errorf("source.schema", "%v", se.Err))
		unbuilt["Schema"] = true
	}
	tables, terrs, tablesOK := loadTables(job)
	errs = append(errs, terrs...)
	if unbuilt["Schema"] || !tablesOK || !job.Valid("source.table", "query") {
		unbuilt["Query"] = true
	} else if cfg.Query, err = sql.CompileWith(job.Query, cfg.Schema, sql.Options{Table: job.Source.Table, Tables: tables, SessionTimeZone: job.SessionTimeZone}); err != nil {
		var se *sql.Error
		if errors.As(err, &se) {
			errs = append(errs, job.QueryErrorf(se.Line, se.Column, "%s", se.Msg))
		} else {
			errs = append(errs, job.Errorf("query", "%v", err))
		}
		unbuilt["Query"] = true
	}
	if w := job.Watermark; w != nil && !unbuilt["Query"] && job.Valid("watermark") {
		if cfg.Query = cfg.Query.WithWatermark(w.EventTime, w.DelayThreshold); cfg.Query.Err() != nil {
			errs = append(errs, job.Errorf("watermark.eventTime", "%v", cfg.Query.Err()))
			unbuilt["Query"] = true
		}
	}
	if job.Valid("source.format") {
		if cfg.Format, err = dataframe.ParseFormat(job.Source.Format); err != nil {
			errs = append(errs, job.Errorf("source.format", "%v", err))
		}
	}
	if job.Valid("source.mode") {
		if cfg.Mode, err = dataframe.ParseMode(job.Source.Mode); err != nil {
			errs = append(errs, job.Errorf("source.mode", "%v", err))
		}
	}
	switch {
	case !job.Valid("outputMode"):
		// The mode asked for was not read: compiling in another mode
		// could refuse the query for the wrong reason.
		unbuilt["Query"], cfg.Query = true, nil
	case job.OutputMode != "":
		if cfg.OutputMode, err = dataframe.ParseOutputMode(job.OutputMode); err != nil {
			errs = append(errs, job.Errorf("outputMode", "%v", err))
		}
	}
	q, err := engine.New(cfg)
	if err != nil {
		cerrs, err := configErrors(job, err, unbuilt)
		if err != nil {
			return nil, err
		}
		errs = append(errs, cerrs...)
	} else if job.Sink.Files != nil {
		errs = append(errs, checkFilesSink(job, q)...)
	} else if job.Sink.Kafka != nil {
		errs = append(errs, checkKafkaSink(job, q)...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return q, nil
}

// configErrors turns the errors of engine.New (an errors.Join of
// *engine.ConfigError) into job-file errors at the keys their fields map
// onto, leaving out fields in unbuilt and keys Load found wrong. An error
// that is not a *engine.ConfigError is returned as is.
func configErrors(job *jobfile.Job, err error, unbuilt map[string]bool) (jobfile.Errors, error) {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out jobfile.Errors
	for _, e := range errs {
		var ce *engine.ConfigError
		if !errors.As(e, &ce) {
			return nil, err
		}
		if unbuilt[ce.Field] {
			continue
		}
		key, ok := jobfile.KeyOf(ce.Field)
		if !ok {
			return nil, err // a field the job file does not set
		}
		if !job.Valid(key) {
			continue
		}
		out = append(out, job.Errorf(key, "%s", ce.Reason))
	}
	return out, nil
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

// runLogger is run's logger: --log-level, and --log-format json for JSON
// records instead of slog's text.
func runLogger(o runOpts, level slog.Level) *slog.Logger {
	if o.logJSON {
		return slog.New(slog.NewJSONHandler(o.stderr, &slog.HandlerOptions{Level: level}))
	}
	return levelLogger(o.stderr, level)
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
		if et := p.EventTime; et != nil {
			extra += fmt.Sprintf(", watermark %s, late %d", et.Watermark.Format(time.RFC3339), p.NumRowsDroppedByWatermark)
		}
		fmt.Fprintf(w, "batch %d%s: %d rows, %.0f rows/s, %s, lag %d%s\n",
			p.BatchID, rec, p.NumInputRows, p.ProcessedRowsPerSecond, p.Durations.Total.Round(time.Millisecond), p.TotalLag(), extra)
	}
}

// runJobEngine runs job until ctx is done or, with availableNow, until
// the data present at start is processed; with --progress it appends the
// progress records, and with --ui (on by default) it serves the web UI.
func runJobEngine(ctx context.Context, job *jobfile.Job, o runOpts, level slog.Level) (err error) {
	logger := runLogger(o, level)
	var sink engine.Sink
	if job.Sink.Kafka != nil {
		k, err := kafkaSink(job, logger)
		if err != nil {
			return err
		}
		sink = k
	} else if job.Sink.Postgres != nil {
		p, err := postgresSink(job)
		if err != nil {
			return err
		}
		sink = p
	} else if job.Sink.Files != nil {
		f, err := filesSink(job)
		if err != nil {
			return err
		}
		sink = f
	} else {
		co := job.Sink.Console.Engine(o.stdout)
		co.TimeZone = job.SessionTimeZone
		sink = engine.NewConsoleSink(co)
	}
	if job.Source.DeadLetter != nil {
		var err error
		if sink, err = deadLetters(job, sink, logger); err != nil {
			return err
		}
	}
	observers := []func(engine.Progress){progressLine(o.say)}
	if o.progress != "" {
		pw, err := openProgress(o.progress, o.stdout)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, pw.close()) }()
		observers = append(observers, pw.write)
	}
	var srv *ui.Server
	q, err := buildQuery(job, sink, logger, func(p engine.Progress) {
		for _, f := range observers {
			f(p)
		}
		if srv != nil {
			srv.Observe(p)
		}
	})
	if err != nil {
		return err
	}
	if srv, err = startUI(o, job, q.Status); err != nil {
		return err
	}
	if srv != nil {
		defer func() { err = errors.Join(err, srv.Close()) }()
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

// checkKafkaSink refuses a sink topic the source reads (on the same
// bootstrap.servers) and checks sink.kafka.key against the query's
// output and group-by columns.
func checkKafkaSink(job *jobfile.Job, q *engine.Query) jobfile.Errors {
	if !job.Valid("sink.kafka") {
		return nil
	}
	var out jobfile.Errors
	k, src := job.Sink.Kafka, job.Source.Kafka
	if k.BootstrapServers == "" || k.BootstrapServers == src.BootstrapServers {
		if slices.Contains(src.Subscribe, k.Topic) || slices.ContainsFunc(src.Assign, func(tp offsets.TopicPartition) bool { return tp.Topic == k.Topic }) {
			out = append(out, job.Errorf("sink.kafka.topic", "%q is a topic the source reads: the job would read its own output", k.Topic))
		}
	}
	if q.Program() == nil || len(k.Key) == 0 {
		return out
	}
	s, err := kafkaSink(job, slog.Default())
	if err == nil {
		p := q.Program()
		err = s.CheckSchema(p.OutputSchema(), p.KeySchema(), q.OutputMode())
	}
	if err != nil {
		out = append(out, job.Errorf("sink.kafka.key", "%v", err))
	}
	return out
}

// kafkaSink builds the sink of sink.kafka; bootstrap.servers defaults to
// the source's (the embedded broker's address once it runs). librdkafka's
// log lines go to log.
func kafkaSink(job *jobfile.Job, log *slog.Logger) (*sinks.Kafka, error) {
	k := job.Sink.Kafka
	props := map[string]string{}
	for n, v := range k.Properties {
		props[n] = v
	}
	props["bootstrap.servers"] = cmp.Or(k.BootstrapServers, job.Source.Kafka.BootstrapServers)
	opts := sinks.KafkaOptions{
		Props: props, Topic: k.Topic, Key: k.Key, Format: k.Format, DeliveryGuarantee: k.DeliveryGuarantee,
		Job: job.Name, TransactionalIDPrefix: k.TransactionalIDPrefix, ProgressTopic: k.ProgressTopic, Logger: log,
		OmitBatchHeaders: !k.BatchHeaders,
	}
	if c := k.CreateTopic; c != nil {
		opts.CreateTopic = &sinks.CreateTopic{Partitions: int32(c.Partitions), ReplicationFactor: int(c.ReplicationFactor)}
	}
	s, err := sinks.NewKafka(opts)
	if err != nil {
		return nil, fmt.Errorf("sink.kafka: %w", err)
	}
	return s, nil
}

// deadLetters wraps sink with the writer of source.deadLetter;
// bootstrap.servers defaults to the source's, and so do the connection's
// security properties (security.*, ssl.*, sasl.*) then. librdkafka's log
// lines go to log.
func deadLetters(job *jobfile.Job, sink engine.Sink, log *slog.Logger) (engine.Sink, error) {
	d := job.Source.DeadLetter
	props := map[string]string{}
	if d.BootstrapServers == "" {
		for n, v := range job.Source.Kafka.Properties {
			if strings.HasPrefix(n, "security.") || strings.HasPrefix(n, "ssl.") || strings.HasPrefix(n, "sasl.") {
				props[n] = v
			}
		}
	}
	props["bootstrap.servers"] = cmp.Or(d.BootstrapServers, job.Source.Kafka.BootstrapServers)
	opts := sinks.DeadLetterOptions{Props: props, Topic: d.Topic, Job: job.Name, TransactionalIDPrefix: d.TransactionalIDPrefix, ProgressTopic: d.ProgressTopic, Logger: log}
	if c := d.CreateTopic; c != nil {
		opts.CreateTopic = &sinks.CreateTopic{Partitions: int32(c.Partitions), ReplicationFactor: int(c.ReplicationFactor)}
	}
	s, err := sinks.WithDeadLetters(sink, opts)
	if err != nil {
		return nil, fmt.Errorf("source.deadLetter: %w", err)
	}
	return s, nil
}

package jobfile

import (
	"io"
	"strings"
	"time"

	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/offsets"
)

// Job is a validated job file. Defaults are filled in; see Keys for the
// table of keys, defaults and the Spark options they mirror. In the job
// file, 0 means none (no cap, no retry, no wait, every batch); the Engine
// methods map the sections onto the engine's settings.
type Job struct {
	// File is the job file's path as given to Load; Dir is the absolute
	// directory relative paths in it are resolved against.
	File, Dir string

	// Name identifies the job in logs and progress (key name; default: the
	// job file's base name without extension; Spark: queryName).
	Name string
	// Source says where records come from and how to decode them.
	Source Source
	// Tables are the static tables the query may join with (key tables).
	Tables []Table
	// Trigger says when batches run.
	Trigger Trigger
	// Query is the SQL text (key query, required; Spark: spark.sql over a
	// temporary view named Source.Table).
	Query string
	// OutputMode is "complete", "update", "append" or "" when the file does
	// not set it (key outputMode; the engine then picks complete for
	// aggregating queries and append otherwise; Spark: outputMode).
	OutputMode string
	// SessionTimeZone is the zone of the query's date and time functions,
	// CASTs and timestamp literals without an offset (key sessionTimeZone,
	// default UTC; Spark: spark.sql.session.timeZone); nil is UTC.
	SessionTimeZone *time.Location
	// Backpressure is the backpressure section (key backpressure; Spark:
	// spark.streaming.backpressure.*); nil when absent.
	Backpressure *Backpressure
	// Watermark is the event-time watermark (key watermark; Spark:
	// withWatermark); nil when the section is absent.
	Watermark *Watermark
	// Sink is where each batch's result goes (key sink; default console).
	Sink Sink
	// CheckpointLocation is the absolute checkpoint directory (key
	// checkpointLocation, required; relative paths are resolved against
	// Dir; Spark: checkpointLocation).
	CheckpointLocation string

	// Positions maps key paths ("query", "source.kafka.subscribe", ...)
	// to the position of their value in File. Keys not in the file are
	// absent.
	Positions map[string]Position
	// queryBlock describes how the query text sits in the file.
	queryBlock queryBlock
	// invalid holds the key paths Load reported a problem at (or proposed
	// in a did-you-mean) when it returned the Job with errors.
	invalid map[string]bool
}

// Valid says whether every one of keys was read without a problem: none
// was reported at the key, at a section holding it, or at a key under it,
// and none is a key a misspelling was taken for. A valid key absent from
// the file holds its default. A Job Load returned without error has every
// key valid.
func (j *Job) Valid(keys ...string) bool {
	for _, key := range keys {
		for bad := range j.invalid {
			if bad == key || bad != "" && (strings.HasPrefix(key, bad+".") || strings.HasPrefix(bad, key+".")) {
				return false
			}
		}
	}
	return true
}

// Source is the source section.
type Source struct {
	Kafka Kafka
	// Format is "json" or "csv" (key source.format, required; Spark: the
	// from_json / from_csv decoding of the value column).
	Format string
	// Schema is the DDL schema of record values, e.g. "user STRING, n
	// BIGINT" (key source.schema, required; Spark: the schema argument of
	// from_json / from_csv).
	Schema string
	// Mode is PERMISSIVE, DROPMALFORMED or FAILFAST (key source.mode,
	// Spark: mode).
	Mode string
	// Header says CSV values start with a header line to skip (key
	// source.header; Spark: header).
	Header bool
	// Embedded configures the in-process broker of bootstrap.servers:
	// embedded (key source.embedded); nil when the section is absent.
	Embedded *Embedded
	// Table is the name the query reads from (key source.table, default
	// "events"; Spark: createOrReplaceTempView).
	Table string
	// DeadLetter is what becomes of malformed records (key
	// source.deadLetter); nil when the section is absent.
	DeadLetter *DeadLetter
}

// DeadLetter is the source.deadLetter section.
type DeadLetter struct {
	// Topic is the dead-letter topic (key source.deadLetter.topic,
	// required in the section; Kafka Connect:
	// errors.deadletterqueue.topic.name), written by
	// sinks.WithDeadLetters.
	Topic string
	// BootstrapServers (key source.deadLetter.bootstrap.servers) is ""
	// for the source's.
	BootstrapServers string
	// TransactionalIDPrefix (key source.deadLetter.transactionalIdPrefix)
	// is "" for the job name.
	TransactionalIDPrefix string
	// ProgressTopic (key source.deadLetter.progressTopic) is "" for
	// "<Topic>.microbatch-progress".
	ProgressTopic string
	// CreateTopic, when set, creates a missing topic (key
	// source.deadLetter.createTopic).
	CreateTopic *CreateTopic
	// MaxRatio fails a batch when more than this share of its records is
	// malformed (key source.deadLetter.maxRatio, in [0, 1], default 1 =
	// never; 0 fails on any malformed record).
	MaxRatio float64
}

// Engine returns d as the engine's setting (the zero DeadLetter for nil).
func (d *DeadLetter) Engine() engine.DeadLetter {
	if d == nil {
		return engine.DeadLetter{}
	}
	r := d.MaxRatio
	if r == 0 {
		r = engine.Off // the engine's zero is its default, 1
	}
	return engine.DeadLetter{Topic: d.Topic, MaxRatio: r}
}

// Embedded is the source.embedded section: storage and feeding of the
// in-process broker (no Spark equivalent).
type Embedded struct {
	// DataDir persists the broker's log (absolute; "" = in memory).
	DataDir string
	// Topics are "name:partitions" specs created at start when missing.
	Topics []string
	// Generator names a built-in generator writing to the first subscribed
	// topic while the job runs ("" = none), at Rate records/s with Seed.
	Generator string
	Rate      int64
	Seed      int64
}

// Kafka is the source.kafka section.
type Kafka struct {
	// BootstrapServers is librdkafka's bootstrap.servers (key
	// source.kafka.bootstrap.servers, required; Spark:
	// kafka.bootstrap.servers). The value "embedded" sets Embedded instead.
	BootstrapServers string
	// Embedded asks for an in-process broker (bootstrap.servers: embedded).
	Embedded bool
	// Subscribe is a list of topics (key source.kafka.subscribe, a
	// comma-separated string or a YAML list; Spark: subscribe).
	Subscribe []string
	// SubscribePattern is a regular expression (Go RE2 syntax) over topic
	// names (key source.kafka.subscribePattern; Spark: subscribePattern).
	SubscribePattern string
	// Assign is an explicit partition list, from JSON like
	// {"topic":[0,1]} (key source.kafka.assign; Spark: assign).
	// Exactly one of Subscribe, SubscribePattern and Assign is set.
	Assign []offsets.TopicPartition
	// StartingOffsets is "earliest", "latest" or Spark's JSON form (key
	// source.kafka.startingOffsets; Spark:
	// startingOffsets). Only used when the checkpoint is new.
	StartingOffsets string
	// MaxRatePerPartition caps records per second of trigger interval per
	// partition; 0 = no cap (key source.kafka.maxRatePerPartition; Spark
	// Streaming: spark.streaming.kafka.maxRatePerPartition).
	MaxRatePerPartition int64
	// MinRatePerPartition is the fewest offsets a rate cap lets a batch
	// read from a partition (key source.kafka.minRatePerPartition; Spark:
	// spark.streaming.kafka.minRatePerPartition); 0 = the default, 1.
	MinRatePerPartition int64
	// MaxOffsetsPerTrigger caps each batch's offsets over all partitions
	// (key source.kafka.maxOffsetsPerTrigger; Spark: maxOffsetsPerTrigger);
	// 0 = none.
	MaxOffsetsPerTrigger int64
	// CommitOffsetsToGroup is a consumer group the committed positions are
	// also committed to, for Kafka's lag tools (key
	// source.kafka.commitOffsetsToGroup); "" = none.
	CommitOffsetsToGroup string
	// FailOnDataLoss stops the query when offsets it needs were deleted
	// (key source.kafka.failOnDataLoss; Spark:
	// failOnDataLoss).
	FailOnDataLoss bool
	// FetchOffsetNumRetries is how many times a failed metadata or offsets
	// request is retried before the job fails; 0 = none (key
	// source.kafka.fetchOffset.numRetries; Spark: fetchOffset.numRetries).
	FetchOffsetNumRetries int64
	// FetchOffsetRetryInterval is the wait between those attempts; 0 =
	// none (key source.kafka.fetchOffset.retryIntervalMs).
	FetchOffsetRetryInterval time.Duration
	// PartitionDiscoveryInterval is how often partitions and log start
	// offsets are re-listed (key source.kafka.partitionDiscoveryInterval,
	// 0 = every batch).
	PartitionDiscoveryInterval time.Duration
	// Properties are every other source.kafka key, passed to librdkafka
	// unchanged (Spark: kafka.* options).
	Properties map[string]string
}

// Trigger is the trigger section.
type Trigger struct {
	// ProcessingTime is the batch interval (key trigger.processingTime,
	// 0: the next batch starts as soon as the previous one ends, like
	// Spark's default trigger; Spark: Trigger.ProcessingTime).
	ProcessingTime time.Duration
	// AvailableNow processes the data present at start, then exits (key
	// trigger.availableNow; Spark: Trigger.AvailableNow).
	AvailableNow bool
}

// Sink is the sink section: exactly one field is set.
type Sink struct {
	// Console prints each batch's result to stdout (key sink.console;
	// Spark: format("console")). The default sink.
	Console *ConsoleSink
	// Kafka writes each batch's rows to a Kafka topic (key sink.kafka;
	// Spark: format("kafka")).
	Kafka *KafkaSink
	// Files writes each batch's rows to files (key sink.files; Spark:
	// format("parquet"), format("json"), format("csv")).
	Files *FilesSink
	// Postgres writes each batch's rows to a PostgreSQL table (key
	// sink.postgres; sinks.PostgresOptions).
	Postgres *PostgresSink
}

// PostgresSink configures the PostgreSQL sink (sinks.PostgresOptions).
type PostgresSink struct {
	// URL is the connection URL, ${VAR} expanded (key sink.postgres.url).
	URL string
	// Table receives the rows (key sink.postgres.table).
	Table string
	// CreateTable creates a missing table (key sink.postgres.createTable,
	// default true).
	CreateTable bool
}

// KafkaSink configures the Kafka sink (sinks.KafkaOptions).
type KafkaSink struct {
	// BootstrapServers (key sink.kafka.bootstrap.servers) is "" for the
	// source's.
	BootstrapServers string
	// Topic receives the rows (key sink.kafka.topic).
	Topic string
	// Key are the key columns (key sink.kafka.key); nil: the group-by
	// columns in update mode.
	Key []string
	// Format is json or csv (key sink.kafka.format).
	Format string
	// DeliveryGuarantee is exactly-once or at-least-once (key
	// sink.kafka.deliveryGuarantee).
	DeliveryGuarantee string
	// TransactionalIDPrefix (key sink.kafka.transactionalIdPrefix) is ""
	// for the job name.
	TransactionalIDPrefix string
	// ProgressTopic (key sink.kafka.progressTopic) is "" for
	// "<Topic>.microbatch-progress".
	ProgressTopic string
	// BatchHeaders puts the microbatch.job and microbatch.batch headers on
	// every row's record (key sink.kafka.batchHeaders, default true).
	BatchHeaders bool
	// CreateTopic, when set, creates a missing topic (key
	// sink.kafka.createTopic).
	CreateTopic *CreateTopic
	// Properties are the other keys, for librdkafka.
	Properties map[string]string
}

// CreateTopic is sink.kafka.createTopic and source.deadLetter.createTopic.
type CreateTopic struct {
	Partitions        int64
	ReplicationFactor int64
}

// ConsoleSink configures the console sink.
type ConsoleSink struct {
	// NumRows is the number of rows printed per batch (key
	// sink.console.numRows; Spark: numRows).
	NumRows int
	// Truncate shortens long cells (key
	// sink.console.truncate; Spark: truncate).
	Truncate bool
}

// Position is a place in a job file, 1-based.
type Position struct {
	Line, Column int
}

// queryBlock records how the query value is laid out in the file.
type queryBlock struct {
	pos    Position // where the text's first character is
	indent int      // literal block: column of each content line (1-based)
	exact  bool     // lines of the text are lines of the file (literal block or single line)
}

// queryPosition maps line and col (1-based) of a place in Job.Query to the
// place in the file. It is exact for a literal block (query: |) and for a
// single-line query; for folded or multi-line flow scalars, whose lines
// YAML joins, it returns the position of the query's value.
func (j *Job) queryPosition(line, col int) Position {
	q := j.queryBlock
	switch {
	case !q.exact:
		return q.pos
	case q.indent > 0: // literal block: line 1 is the line after "query: |"
		return Position{Line: q.pos.Line + line - 1, Column: q.indent + col - 1}
	case line == 1:
		return Position{Line: q.pos.Line, Column: q.pos.Column + col - 1}
	default:
		return q.pos
	}
}

// topicList splits a comma-separated subscribe value.
func topicList(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(t))
	}
	return out
}

// offIfZero maps a job-file 0 ("none": no retry, no wait, no cap, every
// batch) onto engine.Off; the engine's 0 is its default.
func offIfZero[T int | int64 | time.Duration](v T) T {
	if v == 0 {
		return engine.Off
	}
	return v
}

// Engine returns the section as the engine's source.
func (k *Kafka) Engine() engine.KafkaSource {
	onDataLoss := engine.FailOnDataLoss
	if !k.FailOnDataLoss {
		onDataLoss = engine.SkipDataLoss
	}
	return engine.KafkaSource{
		BootstrapServers:           k.BootstrapServers,
		Subscribe:                  k.Subscribe,
		SubscribePattern:           k.SubscribePattern,
		Assign:                     k.Assign,
		StartingOffsets:            k.StartingOffsets,
		MaxRatePerPartition:        offIfZero(k.MaxRatePerPartition),
		MinRatePerPartition:        k.MinRatePerPartition,
		MaxOffsetsPerTrigger:       offIfZero(k.MaxOffsetsPerTrigger),
		CommitOffsetsToGroup:       k.CommitOffsetsToGroup,
		OnDataLoss:                 onDataLoss,
		FetchOffsetNumRetries:      offIfZero(int(k.FetchOffsetNumRetries)),
		FetchOffsetRetryInterval:   offIfZero(k.FetchOffsetRetryInterval),
		PartitionDiscoveryInterval: offIfZero(k.PartitionDiscoveryInterval),
		Properties:                 k.Properties,
	}
}

// Engine returns the section as the engine's trigger.
func (t Trigger) Engine() engine.Trigger {
	return engine.Trigger{ProcessingTime: offIfZero(t.ProcessingTime), AvailableNow: t.AvailableNow}
}

// Engine returns the console sink's options, writing to w; a nil c gives
// the defaults.
func (c *ConsoleSink) Engine(w io.Writer) engine.ConsoleOptions {
	if c == nil {
		return engine.ConsoleOptions{Writer: w}
	}
	o := engine.ConsoleOptions{NumRows: c.NumRows, Writer: w}
	if !c.Truncate {
		o.Truncate = engine.Off
	}
	return o
}

// Backpressure is the backpressure section (engine.Backpressure). Its
// gains keep Spark's defaults when absent.
type Backpressure struct {
	Enabled     bool    // key backpressure.enabled
	InitialRate int64   // key backpressure.initialRate, records/s; 0 = none
	PID         PIDGain // key backpressure.pid
}

// PIDGain is backpressure.pid: nil fields take Spark's defaults.
type PIDGain struct {
	Proportional, Integral, Derived, MinRate *float64
}

// Engine returns the section as the engine's; a nil b is off.
func (b *Backpressure) Engine() engine.Backpressure {
	if b == nil {
		return engine.Backpressure{}
	}
	gain := func(v *float64) float64 {
		switch {
		case v == nil:
			return 0 // the engine's default
		case *v == 0:
			return engine.Off
		}
		return *v
	}
	out := engine.Backpressure{Enabled: b.Enabled, InitialRate: b.InitialRate,
		Proportional: gain(b.PID.Proportional), Integral: gain(b.PID.Integral), Derived: gain(b.PID.Derived)}
	if b.PID.MinRate != nil {
		out.MinRate = *b.PID.MinRate
	}
	return out
}

// Watermark is the watermark section.
type Watermark struct {
	// EventTime is the TIMESTAMP source column (or _timestamp) event time
	// is read from (key watermark.eventTime, required; Spark: the
	// eventTime argument of withWatermark).
	EventTime string
	// DelayThreshold is how late a row may arrive (key
	// watermark.delayThreshold, default 0; Spark: delayThreshold).
	DelayThreshold time.Duration
	// Policy is "global", the greatest event time over all partitions
	// (key watermark.policy, default global; Spark's only policy), or
	// "perPartition".
	Policy string
	// IdleTimeout is when a partition without a backlog stops holding a
	// perPartition watermark (key watermark.idleTimeout, default 1m; 0: as
	// soon as it has no backlog).
	IdleTimeout time.Duration
	// FlushOnExit closes the open windows before availableNow exits (key
	// watermark.flushOnExit, default false).
	FlushOnExit bool
}

// Engine returns the engine's watermark options (the zero value for nil).
func (w *Watermark) Engine() engine.Watermark {
	if w == nil {
		return engine.Watermark{}
	}
	p, _ := engine.ParseWatermarkPolicy(w.Policy) // Load checked it
	return engine.Watermark{Policy: p, IdleTimeout: offIfZero(w.IdleTimeout), FlushOnExit: w.FlushOnExit}
}

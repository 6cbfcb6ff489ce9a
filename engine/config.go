package engine

import (
	"cmp"
	"log/slog"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
)

// DataLossPolicy says what a query does when offsets it planned to read
// were deleted (retention) or went backwards. It mirrors Spark's
// failOnDataLoss; the zero value is Spark's default, fail.
type DataLossPolicy uint8

const (
	// FailOnDataLoss stops the query with an *offsets.DataLossError.
	FailOnDataLoss DataLossPolicy = iota
	// SkipDataLoss skips the lost offsets, logs them and counts them in
	// Progress.SkippedOffsets (Spark's failOnDataLoss=false).
	SkipDataLoss
)

// Off switches off a numeric setting whose doc says it can be: no
// retries, no wait, no cap. Any negative value means the same.
const Off = -1

// KafkaSource selects the data a query reads. Exactly one of Subscribe,
// SubscribePattern and Assign is set, as in Spark's Kafka source. Zero
// fields take their defaults (see Config).
type KafkaSource struct {
	// BootstrapServers is librdkafka's bootstrap.servers. Required.
	BootstrapServers string
	// Subscribe is a list of topics (Spark: subscribe).
	Subscribe []string
	// SubscribePattern is a regular expression over topic names (Spark:
	// subscribePattern). Topics created while the query runs are picked up.
	SubscribePattern string
	// Assign is an explicit list of partitions (Spark: assign).
	Assign []offsets.TopicPartition
	// StartingOffsets is "earliest", "latest" or Spark's per-partition JSON.
	// It only applies to a new checkpoint: a restart resumes where the
	// checkpoint says. Default "latest", like Spark.
	StartingOffsets string
	// MaxRatePerPartition caps each batch at this many records per second
	// of trigger interval per partition. Default no cap; Off: no cap.
	MaxRatePerPartition int64
	// MaxRateOverrides caps individual partitions differently: a rate, or
	// Off for no cap on that partition. 0 is the default, MaxRatePerPartition.
	MaxRateOverrides map[offsets.TopicPartition]int64
	// MinRatePerPartition is the fewest offsets a rate cap
	// (MaxRatePerPartition, backpressure) lets a batch read from a
	// partition that has some (Spark:
	// spark.streaming.kafka.minRatePerPartition, compared with a batch's
	// offsets as Spark does). Default 1.
	MinRatePerPartition int64
	// MaxOffsetsPerTrigger caps each batch's offsets over all partitions,
	// split across them in proportion to their lag (Structured Streaming:
	// maxOffsetsPerTrigger). It applies with every other cap: the smallest
	// wins. Default (and Off): none.
	MaxOffsetsPerTrigger int64
	// OnDataLoss: see DataLossPolicy. Default fail.
	OnDataLoss DataLossPolicy
	// FetchOffsetNumRetries is how many times a failed metadata or offsets
	// request (planning a batch, reaching the cluster before recovering
	// one) is retried before the query fails (Spark:
	// fetchOffset.numRetries). Each attempt times out after 10 s. Default
	// 3; Off: no retry.
	FetchOffsetNumRetries int
	// FetchOffsetRetryInterval is the wait between those attempts (Spark:
	// fetchOffset.retryIntervalMs). Default 1s; Off: no wait.
	FetchOffsetRetryInterval time.Duration
	// PartitionDiscoveryInterval is how often the driver re-reads the
	// subscription's partitions (new and deleted partitions, new topics
	// matching SubscribePattern) and their log start offsets. In between,
	// planning a batch costs one ListOffsets request (latest offsets);
	// offsets lost to retention meanwhile are found when the executors fetch
	// them (failOnDataLoss applies the same way). A failed listing re-reads
	// the partitions at once. Default 1s; Off: every batch.
	PartitionDiscoveryInterval time.Duration
	// Properties are passed to librdkafka unchanged (security.protocol,
	// sasl.*, isolation.level, fetch tuning...). isolation.level defaults
	// to read_committed.
	Properties map[string]string
	// DeadLetter is what becomes of malformed records besides Mode.
	DeadLetter DeadLetter
	// CommitOffsetsToGroup, when set, is a consumer group id: after each
	// batch's commit to the checkpoint, the positions it committed are also
	// committed to that group, asynchronously, so that Kafka's lag tools
	// (kafka-consumer-groups --describe, Burrow, kafka-lag-exporter) see
	// the query. It is informational, as the DStream's commitAsync was:
	// never read back (the checkpoint holds the positions), and a failed
	// commit is logged, never fails a batch. Default none.
	CommitOffsetsToGroup string
}

// DeadLetter configures the dead letters of a query: its malformed records
// (PERMISSIVE and DROPMALFORMED; see Output.Malformed).
type DeadLetter struct {
	// Topic is the dead-letter topic that a dead-letter writer sends each
	// malformed record to (Kafka Connect: errors.deadletterqueue.topic.name).
	// sinks.WithDeadLetters writes it; when it is set, a batch with more
	// malformed records than it can capture (batch.MaxMalformedBytes)
	// fails, as they could not all be sent. Requires Mode PERMISSIVE or
	// DROPMALFORMED. Default none.
	Topic string
	// MaxRatio fails a batch in which more than this share of the records
	// read is malformed, in (0, 1]. Default 1 (never); Off: fail on any
	// malformed record.
	MaxRatio float64
}

// Trigger says when batches run.
type Trigger struct {
	// ProcessingTime is the batch interval. A batch that overruns it is
	// followed at once by the next one (Spark's ProcessingTime trigger).
	// Default (and Off): the next batch runs as soon as the previous one
	// finishes, like Spark's default trigger.
	ProcessingTime time.Duration
	// AvailableNow snapshots the latest offsets when the query starts,
	// processes everything up to them in capped batches, then returns.
	AvailableNow bool
}

// Config is a streaming query. New validates it.
//
// # Defaults
//
// The zero value of every field is its default, so a Config literal sets
// only what differs; DefaultConfig returns the defaults filled in. A zero
// never means "off": a numeric setting that can be switched off says so
// in its doc and is switched off with Off (any negative value). Where the
// default is itself "none" (MaxRatePerPartition, MaxOffsetsPerTask), zero
// and Off mean the same. Booleans are named so that false is the default.
// A required field (Source.BootstrapServers, a subscription, Format,
// Schema, Query, Sink, CheckpointLocation) has no default: New refuses
// its zero value.
type Config struct {
	// Name identifies the query in logs and progress (Spark: queryName).
	Name   string
	Source KafkaSource
	// Format is how record values are encoded. Required.
	Format dataframe.Format
	// Schema describes record values. Required.
	Schema *dataframe.Schema
	// Mode is what happens to malformed records. Default PERMISSIVE.
	Mode dataframe.Mode
	// CSVHeader says CSV values start with a header line to skip.
	CSVHeader bool
	// Query is the logical plan, built over dataframe.Source(table, Schema).
	// Required.
	Query *dataframe.DataFrame
	// OutputMode is which result rows each batch writes. Default complete
	// for aggregations, append otherwise.
	OutputMode dataframe.OutputMode
	Trigger    Trigger
	// Watermark tunes the watermark of a query that has one
	// (DataFrame.WithWatermark); ignored otherwise.
	Watermark Watermark
	// Backpressure adapts the batch size to the processing rate (Spark
	// Streaming's spark.streaming.backpressure.*). Default off.
	Backpressure Backpressure
	// Sink receives each batch's result. Required.
	Sink Sink
	// CheckpointLocation is a directory; it holds the WAL, commits and
	// state. Required.
	CheckpointLocation string

	// Executors is the number of executor goroutines. Default GOMAXPROCS.
	Executors int
	// MaxOffsetsPerTask splits larger ranges into several tasks. Default
	// (and Off): never.
	MaxOffsetsPerTask int64
	// StopTimeout bounds how long a graceful stop waits for the in-flight
	// batch before cancelling it. Default 30s; Off: cancel at once.
	StopTimeout time.Duration
	// Allocator allocates every Arrow buffer of the query. Default Go heap.
	Allocator memory.Allocator
	// Logger receives warnings (data loss skipped, missing topics,
	// retries), lifecycle events at info (start, stop, recovery, the end of
	// availableNow, compaction between batches) and one line per
	// committed batch at debug. Default slog.Default().
	Logger *slog.Logger
	// OnProgress is called after every committed batch, on the driver
	// goroutine; keep it short.
	OnProgress func(Progress)
	// NoSync skips fsync on checkpoint commits: benchmarks and tests only.
	NoSync bool

	// failpoint, when set by this package's tests, is called at each named
	// instant of a batch (see failpoint.go).
	failpoint func(name string, batchID int64)
}

// DefaultConfig returns every default of Config filled in. Its required
// fields are zero.
func DefaultConfig() Config {
	return Config{
		Source: KafkaSource{
			StartingOffsets:            "latest",
			MinRatePerPartition:        1,
			FetchOffsetNumRetries:      3,
			FetchOffsetRetryInterval:   time.Second,
			PartitionDiscoveryInterval: time.Second,
			DeadLetter:                 DeadLetter{MaxRatio: 1},
		},
		Mode:        dataframe.Permissive,
		Executors:   runtime.GOMAXPROCS(0),
		StopTimeout: 30 * time.Second,
		Allocator:   memory.DefaultAllocator,
		Logger:      slog.Default(),
		Watermark:   Watermark{Policy: GlobalWatermark, IdleTimeout: time.Minute},
	}
}

// setting resolves a numeric setting: zero is def, Off (negative) is 0.
func setting[T int | int64 | float64 | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// resolved returns c with its defaults applied: in the result, a zero
// numeric setting means zero (no retry, no wait, no cap). The engine reads
// only resolved Configs.
func (c Config) resolved() Config {
	d := DefaultConfig()
	s := &c.Source
	s.StartingOffsets = cmp.Or(s.StartingOffsets, d.Source.StartingOffsets)
	s.MaxRatePerPartition = setting(s.MaxRatePerPartition, d.Source.MaxRatePerPartition)
	s.MinRatePerPartition = setting(s.MinRatePerPartition, d.Source.MinRatePerPartition)
	s.MaxOffsetsPerTrigger = setting(s.MaxOffsetsPerTrigger, d.Source.MaxOffsetsPerTrigger)
	c.Backpressure = c.Backpressure.resolved()
	c.Watermark.IdleTimeout = setting(c.Watermark.IdleTimeout, d.Watermark.IdleTimeout)
	if s.MaxRateOverrides != nil {
		over := make(map[offsets.TopicPartition]int64, len(s.MaxRateOverrides))
		for tp, r := range s.MaxRateOverrides {
			if r != 0 {
				over[tp] = max(r, 0)
			}
		}
		s.MaxRateOverrides = over
	}
	s.FetchOffsetNumRetries = setting(s.FetchOffsetNumRetries, d.Source.FetchOffsetNumRetries)
	s.FetchOffsetRetryInterval = setting(s.FetchOffsetRetryInterval, d.Source.FetchOffsetRetryInterval)
	s.PartitionDiscoveryInterval = setting(s.PartitionDiscoveryInterval, d.Source.PartitionDiscoveryInterval)
	switch {
	case s.DeadLetter.MaxRatio == 0:
		s.DeadLetter.MaxRatio = d.Source.DeadLetter.MaxRatio
	case s.DeadLetter.MaxRatio < 0:
		s.DeadLetter.MaxRatio = 0
	}
	c.Trigger.ProcessingTime = setting(c.Trigger.ProcessingTime, d.Trigger.ProcessingTime)
	c.Mode = cmp.Or(c.Mode, d.Mode)
	c.Executors = setting(c.Executors, d.Executors)
	c.MaxOffsetsPerTask = setting(c.MaxOffsetsPerTask, d.MaxOffsetsPerTask)
	c.StopTimeout = setting(c.StopTimeout, d.StopTimeout)
	if c.Allocator == nil {
		c.Allocator = d.Allocator
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return c
}

// rateInterval is the interval rates are multiplied by: the trigger's, or
// one second when batches run back to back.
func (c *Config) rateInterval() time.Duration {
	if c.Trigger.ProcessingTime > 0 && !c.Trigger.AvailableNow {
		return c.Trigger.ProcessingTime
	}
	return time.Second
}

// subscription turns the source into the Kafka package's form. Its errors
// are *ConfigError.
func (s *KafkaSource) subscription() (kafka.Subscription, error) {
	var sub kafka.Subscription
	var set []string
	if len(s.Subscribe) > 0 {
		set = append(set, "Subscribe")
		sub.Topics = append([]string(nil), s.Subscribe...)
	}
	if s.SubscribePattern != "" {
		set = append(set, "SubscribePattern")
		re, err := regexp.Compile(s.SubscribePattern)
		if err != nil {
			return sub, &ConfigError{Field: "Source.SubscribePattern", Reason: err.Error(), Err: err}
		}
		sub.Pattern = re
	}
	if len(s.Assign) > 0 {
		set = append(set, "Assign")
		sub.Assign = append([]offsets.TopicPartition(nil), s.Assign...)
	}
	switch len(set) {
	case 0:
		return sub, &ConfigError{Field: "Source", Reason: "none of Subscribe, SubscribePattern and Assign is set; set exactly one"}
	case 1:
	default:
		return sub, &ConfigError{Field: "Source", Reason: strings.Join(set, " and ") + " are all set; set exactly one"}
	}
	return sub, nil
}

// describe is the subscription as it enters the checkpoint fingerprint.
func (s *KafkaSource) describe() string {
	switch {
	case len(s.Subscribe) > 0:
		topics := append([]string(nil), s.Subscribe...)
		sort.Strings(topics)
		return "subscribe=" + strings.Join(topics, ",")
	case s.SubscribePattern != "":
		return "subscribePattern=" + s.SubscribePattern
	default:
		tps := append([]offsets.TopicPartition(nil), s.Assign...)
		offsets.SortPartitions(tps)
		parts := make([]string, len(tps))
		for i, tp := range tps {
			parts[i] = tp.String()
		}
		return "assign=" + strings.Join(parts, ",")
	}
}

// props are the librdkafka properties of every client of the query.
func (s *KafkaSource) props() kafka.Props {
	p := kafka.Props{}
	for k, v := range s.Properties {
		p[k] = v
	}
	p["bootstrap.servers"] = s.BootstrapServers
	if _, ok := p["isolation.level"]; !ok {
		p["isolation.level"] = "read_committed"
	}
	return p
}

// Setting documents one setting for tools that present the configuration
// in their own terms, such as the job file's key reference. Defaults are
// DefaultConfig's and DefaultConsoleOptions' values.
type Setting struct {
	// Field is the setting's path in Config ("Source.FetchOffsetNumRetries")
	// or in ConsoleOptions ("ConsoleOptions.NumRows").
	Field string
	// Spark is the Spark option the setting mirrors, if any.
	Spark string
	// Doc says what the setting does, without its default or how to
	// switch it off (those depend on how a tool spells values).
	Doc string
}

// Settings documents every exported field of Config and ConsoleOptions.
func Settings() []Setting {
	return []Setting{
		{"Name", "queryName", "Identifies the query in logs and progress."},
		{"Source.BootstrapServers", "kafka.bootstrap.servers", "Brokers, host:port[,host:port...]."},
		{"Source.Subscribe", "subscribe", "Topics to read. Exactly one of subscribe, subscribePattern, assign. A topic that does not exist yet is read once it is created; until then the run logs one warning for it, with the closest existing topic (`did_you_mean`)."},
		{"Source.SubscribePattern", "subscribePattern", "Read every topic matching this regular expression (Go RE2 syntax); new topics are picked up. A pattern that matches no topic is logged once."},
		{"Source.Assign", "assign", "Read exactly these partitions."},
		{"Source.StartingOffsets", "startingOffsets", `Where a new query starts: earliest, latest or {"topic":{"0":42,"1":-2}} (-2 earliest, -1 latest). A restart resumes from the checkpoint.`},
		{"Source.MaxRatePerPartition", "spark.streaming.kafka.maxRatePerPartition", "Records per second of trigger interval per partition per batch (x 1 s when batches run back to back: availableNow or processingTime 0)."},
		{"Source.MaxRateOverrides", "", "Rates of individual partitions, overriding maxRatePerPartition."},
		{"Source.MinRatePerPartition", "spark.streaming.kafka.minRatePerPartition", "The fewest offsets a rate cap (maxRatePerPartition, backpressure) lets a batch read from a partition that has some; as in Spark it is compared with the batch's offsets, not multiplied by the interval."},
		{"Source.MaxOffsetsPerTrigger", "maxOffsetsPerTrigger", "Caps each batch's offsets over all partitions, split across them in proportion to their lag; the smallest of every cap in force wins."},
		{"Source.OnDataLoss", "failOnDataLoss", "Stop when offsets to read were deleted (retention), or skip and count them."},
		{"Source.FetchOffsetNumRetries", "fetchOffset.numRetries", "How many times a failed metadata or offsets request (planning a batch, reaching the cluster before recovering one) is retried before the query fails. Each attempt times out after 10 s: with the defaults a query rides out about 40 s without a broker."},
		{"Source.FetchOffsetRetryInterval", "fetchOffset.retryIntervalMs", "The wait between those attempts (Spark's default is 10 ms)."},
		{"Source.PartitionDiscoveryInterval", "", "How often the driver re-reads the subscription's partitions (new partitions, new topics of subscribePattern, deleted ones) and their log start offsets; between, planning a batch is one ListOffsets request."},
		{"Source.DeadLetter.Topic", "errors.deadletterqueue.topic.name (Kafka Connect)", "Dead-letter topic for malformed records (PERMISSIVE and DROPMALFORMED), with their original key, value, timestamp and headers, written by sinks.WithDeadLetters (the job file's run wraps its sink with it); sinks also receive the records in Output.Malformed."},
		{"Source.DeadLetter.MaxRatio", "", "Fail a batch when more than this share of its records is malformed."},
		{"Source.CommitOffsetsToGroup", "commitAsync (DStream)", "After each batch's checkpoint commit, also commit its positions to this consumer group, asynchronously, so that kafka-consumer-groups, Burrow and kafka-lag-exporter show the job's lag. Informational: never read back; a failure is logged and never fails a batch. The group must have no active members."},
		{"Source.Properties", "kafka.<property>", "librdkafka properties (isolation.level, security.protocol, ...), passed unchanged; isolation.level defaults to read_committed."},
		{"Format", "from_json / from_csv", "Format of record values."},
		{"Schema", "schema", "Columns of record values; dotted names address nested JSON fields."},
		{"Mode", "mode", "What to do with malformed records: keep with nulls (PERMISSIVE), drop (DROPMALFORMED), or stop (FAILFAST)."},
		{"CSVHeader", "header", "CSV values start with a header line to skip."},
		{"Query", "spark.sql", "The query over the source table."},
		{"OutputMode", "outputMode", "Which result rows each batch writes."},
		{"Trigger.ProcessingTime", "Trigger.ProcessingTime", "Batch interval; a batch that overruns it is followed at once by the next."},
		{"Trigger.AvailableNow", "Trigger.AvailableNow", "Process what is in the topics at start, in capped batches, then stop."},
		{"Watermark.Policy", "", "global: the greatest event time over all partitions, as Spark. perPartition: the least, over the partitions that hold it, of each one's greatest event time, so a partition that lags (has a backlog, under a rate cap) does not see its rows dropped; a partition without a backlog and without records for idleTimeout does not hold it, nor one that never had data (when none holds it, the greatest over all partitions)."},
		{"Watermark.IdleTimeout", "", "perPartition: how long a partition without a backlog may go without records before it stops holding the watermark back; 0: a partition holds it only while it has a backlog."},
		{"Watermark.FlushOnExit", "", "availableNow: before exiting, run one more batch that emits (append) and evicts every window still open, moving the watermark to the last one's end; for bounded backfills (Spark lacks it)."},
		{"Backpressure.Enabled", "spark.streaming.backpressure.enabled", "Adapt each batch's size to the rate the query processes records at (a PID controller, Spark's PIDRateEstimator): the rate is split across partitions in proportion to their lag, at most maxRatePerPartition each. Needs initialRate or maxRatePerPartition, which bound the first batch."},
		{"Backpressure.InitialRate", "spark.streaming.backpressure.initialRate", "Records per second over all partitions of the batches before the estimator has a rate."},
		{"Backpressure.Proportional", "spark.streaming.backpressure.pid.proportional", "Weight of the difference between the last rate and the rate the last batch processed at."},
		{"Backpressure.Integral", "spark.streaming.backpressure.pid.integral", "Weight of the backlog the last batch's scheduling delay stands for."},
		{"Backpressure.Derived", "spark.streaming.backpressure.pid.derived", "Weight of the change of the error."},
		{"Backpressure.MinRate", "spark.streaming.backpressure.pid.minRate", "The lowest rate the estimator sets, in records per second."},
		{"Sink", "format(...)", "Where results go."},
		{"CheckpointLocation", "checkpointLocation", "Checkpoint directory (offsets WAL, commits, state)."},
		{"Executors", "", "Number of executor goroutines."},
		{"MaxOffsetsPerTask", "", "Ranges with more offsets are split into several tasks."},
		{"StopTimeout", "", "How long a graceful stop waits for the batch in flight before cancelling it."},
		{"Allocator", "", "Allocates every Arrow buffer of the query."},
		{"Logger", "", "Receives warnings, lifecycle events at info and one line per committed batch at debug."},
		{"OnProgress", "", "Called after every committed batch, on the driver goroutine."},
		{"NoSync", "", "Skip fsync on checkpoint commits: benchmarks and tests only."},
		{"ConsoleOptions.NumRows", "numRows", "Rows printed per batch."},
		{"ConsoleOptions.Truncate", "truncate", "Shorten long cells (and right-align every cell, as Spark does)."},
		{"ConsoleOptions.Writer", "", "Where the tables are written."},
		{"ConsoleOptions.TimeZone", "spark.sql.session.timeZone", "The wall clock TIMESTAMPs are shown on, as Spark's show() uses the session time zone; the job file's run sets it from sessionTimeZone."},
	}
}

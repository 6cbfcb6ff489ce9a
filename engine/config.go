package engine

import (
	"fmt"
	"log/slog"
	"regexp"
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

// KafkaSource selects the data a query reads. Exactly one of Subscribe,
// SubscribePattern and Assign is set, as in Spark's Kafka source.
type KafkaSource struct {
	// BootstrapServers is librdkafka's bootstrap.servers.
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
	// of trigger interval per partition; 0 = no cap.
	MaxRatePerPartition int64
	// MaxRateOverrides caps individual partitions differently.
	MaxRateOverrides map[offsets.TopicPartition]int64
	// OnDataLoss: see DataLossPolicy. Default fail.
	OnDataLoss DataLossPolicy
	// FetchOffsetNumRetries is how many times a failed metadata or offsets
	// request (planning a batch, reaching the cluster before recovering
	// one) is retried before the query fails (Spark:
	// fetchOffset.numRetries). Each attempt times out after 10 s. Default
	// 3; negative: none.
	FetchOffsetNumRetries int
	// FetchOffsetRetryInterval is the wait between those attempts (Spark:
	// fetchOffset.retryIntervalMs). Default 1s; negative: none.
	FetchOffsetRetryInterval time.Duration
	// PartitionDiscoveryInterval is how often the driver re-reads the
	// subscription's partitions (new and deleted partitions, new topics
	// matching SubscribePattern) and their log start offsets. In between,
	// planning a batch costs one ListOffsets request (latest offsets);
	// offsets lost to retention meanwhile are found when the executors fetch
	// them (failOnDataLoss applies the same way). A failed listing re-reads
	// the partitions at once. Default 1s; negative: every batch.
	PartitionDiscoveryInterval time.Duration
	// Properties are passed to librdkafka unchanged (security.protocol,
	// sasl.*, isolation.level, fetch tuning...). isolation.level defaults
	// to read_committed.
	Properties map[string]string
}

// Trigger says when batches run.
type Trigger struct {
	// ProcessingTime is the batch interval. A batch that overruns it is
	// followed at once by the next one (Spark's ProcessingTime trigger).
	// 0 runs the next batch as soon as the previous one finishes.
	ProcessingTime time.Duration
	// AvailableNow snapshots the latest offsets when the query starts,
	// processes everything up to them in capped batches, then returns.
	AvailableNow bool
}

// Config is a streaming query. New validates it.
type Config struct {
	// Name identifies the query in logs and progress.
	Name   string
	Source KafkaSource
	// Format, Schema, Mode and CSVHeader describe record values.
	Format    dataframe.Format
	Schema    *dataframe.Schema
	Mode      dataframe.Mode // default PERMISSIVE
	CSVHeader bool
	// Query is the logical plan, built over dataframe.Source(table, Schema).
	Query      *dataframe.DataFrame
	OutputMode dataframe.OutputMode // default: complete for aggregations, append otherwise
	Trigger    Trigger
	Sink       Sink // required
	// CheckpointLocation is a directory; it holds the WAL, commits and state.
	CheckpointLocation string

	// Executors is the number of executor goroutines (default GOMAXPROCS).
	Executors int
	// MaxOffsetsPerTask splits larger ranges into several tasks; 0 = never.
	MaxOffsetsPerTask int64
	// StopTimeout bounds how long a graceful stop waits for the in-flight
	// batch before cancelling it. Default 30s.
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

// rateInterval is the interval rates are multiplied by: the trigger's, or
// one second when batches run back to back.
func (c *Config) rateInterval() time.Duration {
	if c.Trigger.ProcessingTime > 0 && !c.Trigger.AvailableNow {
		return c.Trigger.ProcessingTime
	}
	return time.Second
}

// DefaultPartitionDiscoveryInterval is KafkaSource.PartitionDiscoveryInterval's
// default.
const DefaultPartitionDiscoveryInterval = time.Second

func (s *KafkaSource) discoveryInterval() time.Duration {
	switch {
	case s.PartitionDiscoveryInterval < 0:
		return 0
	case s.PartitionDiscoveryInterval == 0:
		return DefaultPartitionDiscoveryInterval
	}
	return s.PartitionDiscoveryInterval
}

// subscription turns the source into the Kafka package's form.
func (s *KafkaSource) subscription() (kafka.Subscription, error) {
	n := 0
	var sub kafka.Subscription
	if len(s.Subscribe) > 0 {
		n++
		sub.Topics = append([]string(nil), s.Subscribe...)
	}
	if s.SubscribePattern != "" {
		n++
		re, err := regexp.Compile(s.SubscribePattern)
		if err != nil {
			return sub, fmt.Errorf("subscribePattern: %w", err)
		}
		sub.Pattern = re
	}
	if len(s.Assign) > 0 {
		n++
		sub.Assign = append([]offsets.TopicPartition(nil), s.Assign...)
	}
	if n != 1 {
		return sub, fmt.Errorf("exactly one of subscribe, subscribePattern and assign must be set (got %d)", n)
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

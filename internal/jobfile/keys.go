package jobfile

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/microbatch/microbatch/engine"
)

// Key documents one job-file key.
type Key struct {
	// Path is the dotted key path; "source.kafka.<librdkafka property>"
	// stands for every pass-through property.
	Path     string
	Type     string
	Required bool
	// Default is the value used when the key is absent ("" for required
	// keys and sections).
	Default string
	// Spark is the Spark (Structured Streaming or Spark Streaming) option
	// the key mirrors.
	Spark string
	Doc   string
	// Field is the engine setting (engine.Setting.Field) the key maps
	// onto; "" for keys of the job file alone (source.table,
	// source.embedded...).
	Field string
}

// Keys returns the documentation of every job-file key, in file order.
// It is the same table validation uses to recognise keys. A key that maps
// onto an engine setting takes its default from engine.DefaultConfig (or
// engine.DefaultConsoleOptions), and its Spark option and the start of its
// doc from engine.Settings; the rest of the doc is how the job file spells
// it.
func Keys() []Key {
	d, dc := engine.DefaultConfig(), engine.DefaultConsoleOptions()
	keys := []Key{
		{Path: "name", Field: "Name", Type: "string", Default: "job file name without extension"},
		{Path: "source", Type: "mapping", Required: true, Doc: "Where records come from and how to decode them."},
		{Path: "source.kafka", Field: "Source", Type: "mapping", Required: true, Spark: `format("kafka")`, Doc: "The Kafka source."},
		{Path: "source.kafka.bootstrap.servers", Field: "Source.BootstrapServers", Type: "string", Required: true, Doc: `"embedded" starts an in-process broker.`},
		{Path: "source.kafka.subscribe", Field: "Source.Subscribe", Type: "string or list", Doc: "A comma-separated string or a YAML list."},
		{Path: "source.kafka.subscribePattern", Field: "Source.SubscribePattern", Type: "regexp"},
		{Path: "source.kafka.assign", Field: "Source.Assign", Type: "JSON", Doc: `As JSON: {"topic":[0,1]}.`},
		{Path: "source.kafka.startingOffsets", Field: "Source.StartingOffsets", Type: "earliest | latest | JSON", Default: d.Source.StartingOffsets},
		{Path: "source.kafka.maxRatePerPartition", Field: "Source.MaxRatePerPartition", Type: "integer >= 0", Default: strconv.FormatInt(d.Source.MaxRatePerPartition, 10), Doc: "0 = no cap."},
		{Path: "source.kafka.minRatePerPartition", Field: "Source.MinRatePerPartition", Type: "integer >= 1", Default: strconv.FormatInt(d.Source.MinRatePerPartition, 10)},
		{Path: "source.kafka.maxOffsetsPerTrigger", Field: "Source.MaxOffsetsPerTrigger", Type: "integer >= 0", Default: "0", Doc: "0 = no cap."},
		{Path: "source.kafka.commitOffsetsToGroup", Field: "Source.CommitOffsetsToGroup", Type: "string", Default: "none", Doc: "A consumer group id."},
		{Path: "source.kafka.failOnDataLoss", Field: "Source.OnDataLoss", Type: "boolean", Default: strconv.FormatBool(d.Source.OnDataLoss == engine.FailOnDataLoss), Doc: "true stops, false skips."},
		{Path: "source.kafka.fetchOffset.numRetries", Field: "Source.FetchOffsetNumRetries", Type: "integer >= 0", Default: strconv.Itoa(d.Source.FetchOffsetNumRetries), Doc: "0 = none."},
		{Path: "source.kafka.fetchOffset.retryIntervalMs", Field: "Source.FetchOffsetRetryInterval", Type: "integer >= 0", Default: strconv.FormatInt(d.Source.FetchOffsetRetryInterval.Milliseconds(), 10), Doc: "In milliseconds; 0 = no wait."},
		{Path: "source.kafka.partitionDiscoveryInterval", Field: "Source.PartitionDiscoveryInterval", Type: "duration", Default: d.Source.PartitionDiscoveryInterval.String(), Doc: "0 = every batch."},
		{Path: "source.kafka.<librdkafka property>", Field: "Source.Properties", Type: "string", Doc: "Every key not listed here is one."},
		{Path: "source.format", Field: "Format", Type: "json | csv", Required: true},
		{Path: "source.schema", Field: "Schema", Type: "DDL string", Required: true, Doc: `A DDL string, e.g. "user STRING, n BIGINT, day DATE" (types STRING, INT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP, DATE).`},
		{Path: "source.mode", Field: "Mode", Type: "PERMISSIVE | DROPMALFORMED | FAILFAST", Default: d.Mode.String()},
		{Path: "source.header", Field: "CSVHeader", Type: "boolean", Default: strconv.FormatBool(d.CSVHeader)},
		{Path: "source.deadLetter", Field: "Source.DeadLetter", Type: "mapping", Default: "none", Doc: "Malformed records (PERMISSIVE and DROPMALFORMED mode): where they go and how many a batch tolerates."},
		{Path: "source.deadLetter.topic", Field: "Source.DeadLetter.Topic", Type: "string", Required: true, Spark: "errors.deadletterqueue.topic.name (Kafka Connect)", Doc: "Required in source.deadLetter. Each record has Kafka Connect's context headers (__connect.errors.topic, .partition, .offset, .exception.class.name MalformedRecord, .exception.message naming the column) plus microbatch.job and microbatch.batch; exactly once, in sink.kafka's transaction when it is exactly-once on the same cluster, in a transaction and marker of their own otherwise. A missing topic is an error unless createTopic is set."},
		{Path: "source.deadLetter.maxRatio", Field: "Source.DeadLetter.MaxRatio", Type: "number in [0, 1]", Default: strconv.FormatFloat(d.Source.DeadLetter.MaxRatio, 'g', -1, 64), Doc: "The error names the batch, the count and the ratio; 1 = never, 0 = on any malformed record."},
		{Path: "source.deadLetter.bootstrap.servers", Type: "string", Default: "the source's", Doc: "The cluster of the dead-letter topic."},
		{Path: "source.deadLetter.createTopic", Type: "mapping", Default: "none", Doc: "Create the dead-letter topic when it is missing (a missing one is an error otherwise)."},
		{Path: "source.deadLetter.createTopic.partitions", Type: "integer >= 1", Default: "1", Doc: "The topic's partition count."},
		{Path: "source.deadLetter.createTopic.replicationFactor", Type: "integer >= 1", Default: "1", Doc: "Also the dead letters' progress topic's."},
		{Path: "source.deadLetter.transactionalIdPrefix", Type: "string", Default: "the job name", Doc: "When the dead letters have transactions of their own (the sink is not sink.kafka exactly-once on the same cluster): transactional.id is <prefix>-deadletter, its markers in progressTopic."},
		{Path: "source.deadLetter.progressTopic", Type: "string", Default: "<topic>.microbatch-progress", Doc: "When the dead letters have transactions of their own: holds their markers (key: the transactional.id, value: the last batch id committed); created with one partition, compacted, when missing. As sink.kafka.progressTopic."},
		{Path: "source.table", Type: "identifier", Default: "events", Spark: "createOrReplaceTempView", Doc: "The table name the query reads from."},
		{Path: "source.embedded", Type: "mapping", Doc: `Only with bootstrap.servers: embedded: the in-process broker's storage and an optional built-in generator feeding it while the job runs (demos, local work).`},
		{Path: "source.embedded.dataDir", Type: "path", Default: "none: records in memory", Doc: "Directory the embedded broker persists topics to, so a rerun resumes against the same log; relative to the job file's directory."},
		{Path: "source.embedded.topics", Type: "list of NAME:PARTITIONS", Default: "the subscribed topics with 1 partition", Doc: "Topics created at start when missing."},
		{Path: "source.embedded.generator", Type: "clickstream | ecommerce | iot", Default: "none", Doc: "Feed the first subscribed topic with this generator (see microbatch produce)."},
		{Path: "source.embedded.rate", Type: "integer >= 1", Default: "1000", Doc: "Records per second the generator writes."},
		{Path: "source.embedded.seed", Type: "integer", Default: "1", Doc: "Generator seed; the same seed writes the same records."},
		{Path: "trigger", Field: "Trigger", Type: "mapping", Default: "processingTime: " + durationString(d.Trigger.ProcessingTime), Spark: "trigger", Doc: "When batches run; processingTime and availableNow exclude each other."},
		{Path: "trigger.processingTime", Field: "Trigger.ProcessingTime", Type: "duration", Default: durationString(d.Trigger.ProcessingTime), Doc: `500ms, 10s, 1m or "10 seconds"; 0 starts each batch as soon as the previous one ends (Spark's default trigger).`},
		{Path: "trigger.availableNow", Field: "Trigger.AvailableNow", Type: "boolean", Default: strconv.FormatBool(d.Trigger.AvailableNow), Doc: "The job then exits 0."},
		{Path: "query", Field: "Query", Type: "SQL", Required: true},
		{Path: "outputMode", Field: "OutputMode", Type: "complete | update | append", Default: "complete if the query aggregates, else append"},
		{Path: "sessionTimeZone", Type: "time zone", Default: "UTC", Spark: "spark.sql.session.timeZone", Doc: "The wall clock of the query's date and time functions (hour, date_trunc, date_format, to_timestamp, ...), its CASTs between TIMESTAMP and STRING or DATE, and its timestamp literals without an offset: an IANA name (America/New_York, daylight saving time included, resolved as Spark does: a skipped local time moves later by the gap, a repeated one takes the earlier offset), one of Spark's short IDs (PST) or an offset (+05:30). Also the zone of the source's timestamps that give no offset (as Spark's JSON and CSV timeZone option, which defaults to it). TIMESTAMPs stay instants: windows stay aligned on the epoch, as in Spark, and sinks write instants; the console shows them on the zone's wall clock, as Spark's show() does. A change is a query change."},
		{Path: "backpressure", Type: "mapping", Default: "none (off)", Spark: "spark.streaming.backpressure.*", Doc: "Adapt each batch's size to the rate the query processes records at (see \"Backpressure\")."},
		{Path: "backpressure.enabled", Field: "Backpressure.Enabled", Type: "boolean", Default: "false"},
		{Path: "backpressure.initialRate", Field: "Backpressure.InitialRate", Type: "integer >= 0", Default: "0", Doc: "0 = none: the first batches are capped by source.kafka.maxRatePerPartition alone (one of the two is required)."},
		{Path: "backpressure.pid", Type: "mapping", Doc: "The PID controller's gains."},
		{Path: "backpressure.pid.proportional", Field: "Backpressure.Proportional", Type: "number >= 0", Default: "1.0"},
		{Path: "backpressure.pid.integral", Field: "Backpressure.Integral", Type: "number >= 0", Default: "0.2"},
		{Path: "backpressure.pid.derived", Field: "Backpressure.Derived", Type: "number >= 0", Default: "0"},
		{Path: "backpressure.pid.minRate", Field: "Backpressure.MinRate", Type: "number > 0", Default: "100"},
		{Path: "watermark", Type: "mapping", Default: "none", Spark: "withWatermark", Doc: "The event-time watermark: after each batch, max(watermark, greatest event time - delayThreshold), used by the next batch. Windowed aggregations drop rows whose window ended by it and, in append mode, emit each window once it has."},
		{Path: "watermark.eventTime", Type: "column", Required: true, Spark: "eventTime", Doc: "A TIMESTAMP column of source.schema, or _timestamp (Kafka's); the window's column. A record whose event time is NULL or absent is malformed, handled per `mode` (PERMISSIVE keeps it, in no window, and counts it corrupt; DROPMALFORMED drops and counts it; FAILFAST fails naming topic, partition, offset and the column)."},
		{Path: "watermark.delayThreshold", Type: "duration", Default: "0", Spark: "delayThreshold", Doc: `How late a row may arrive: 30s, "10 minutes".`},
		{Path: "watermark.policy", Field: "Watermark.Policy", Type: "global | perPartition", Default: "global"},
		{Path: "watermark.idleTimeout", Field: "Watermark.IdleTimeout", Type: "duration", Default: "1m"},
		{Path: "watermark.flushOnExit", Field: "Watermark.FlushOnExit", Type: "boolean", Default: "false"},
		{Path: "sink", Field: "Sink", Type: "mapping with one sink", Default: "console: {}", Doc: "Exactly one sink key."},
		{Path: "sink.console", Type: "mapping", Spark: `format("console")`, Doc: "Print each batch's result as a table on stdout."},
		{Path: "sink.console.numRows", Field: "ConsoleOptions.NumRows", Type: "integer >= 1", Default: strconv.Itoa(dc.NumRows)},
		{Path: "sink.console.truncate", Field: "ConsoleOptions.Truncate", Type: "boolean", Default: strconv.FormatBool(dc.Truncate > 0), Doc: fmt.Sprintf("true cuts cells longer than %d characters.", dc.Truncate)},
		{Path: "sink.kafka", Type: "mapping", Spark: `format("kafka")`, Doc: "Write each batch's rows to a Kafka topic, exactly once by default: each batch is one Kafka transaction holding its rows and a marker record (batch id) in a compacted progress topic, committed before the checkpoint; a batch re-run after a crash whose marker is committed is not written again."},
		{Path: "sink.kafka.bootstrap.servers", Type: "string", Default: "the source's", Spark: "kafka.bootstrap.servers", Doc: "The cluster written to."},
		{Path: "sink.kafka.topic", Type: "string", Required: true, Spark: "topic", Doc: "A missing topic is an error unless createTopic is set. A topic the source reads, on the same bootstrap.servers, is refused (the job would read its own output)."},
		{Path: "sink.kafka.key", Type: "string or list", Default: "the group-by columns in update mode, none otherwise", Doc: "Output columns forming each record's key, encoded as the value is (a JSON object or a CSV line; a CSV key of one NULL column is the empty key, never Kafka's null key). Validate checks them against the query's output and, in update mode over an aggregation, against its group-by columns (a tombstone has only those). Name them all: with fewer, several groups share a key, and an upsert reader or a compacted topic keeps one of them, which a tombstone deletes."},
		{Path: "sink.kafka.format", Type: "json | csv", Default: "json", Doc: "Value encoding: a JSON object per row keyed by column name, as `microbatch state --format jsonl`, or a CSV line without header. In update mode a group removed from the result (HAVING) is a tombstone: its key with a null value."},
		{Path: "sink.kafka.deliveryGuarantee", Type: "exactly-once | at-least-once", Default: "exactly-once", Doc: "As Flink's sink.delivery-guarantee. at-least-once: no transactions; a batch re-run after a crash is written again."},
		{Path: "sink.kafka.transactionalIdPrefix", Type: "string", Default: "the job name", Doc: "As Flink's sink.transactional-id-prefix: transactional.id is <prefix>-kafka: a second instance with the same one fences the first, which stops with \"another instance took over\". Unique per job: two jobs with the same prefix, whatever their topics, fence each other (a copied job file keeps the job name, so the default prefix, unless renamed)."},
		{Path: "sink.kafka.progressTopic", Type: "string", Default: "<topic>.microbatch-progress", Doc: "Holds the markers (key: the transactional.id, value: the last batch id committed); created with one partition, compacted, when missing."},
		{Path: "sink.kafka.batchHeaders", Type: "boolean", Default: "true", Doc: "Each record carries the headers microbatch.job (the job name) and microbatch.batch (the batch id). false leaves them off the rows (the markers keep them): through librdkafka they cost about half of the producer's CPU per record."},
		{Path: "sink.kafka.createTopic", Type: "mapping", Default: "none", Doc: "Create the topic when it is missing."},
		{Path: "sink.kafka.createTopic.partitions", Type: "integer >= 1", Default: "1", Doc: "The topic's partition count."},
		{Path: "sink.kafka.createTopic.replicationFactor", Type: "integer >= 1", Default: "1", Doc: "Also the progress topic's."},
		{Path: "sink.kafka.<librdkafka property>", Type: "string", Doc: "Every other key goes to the producer (compression.type, linger.ms, security.protocol, ...); validate asks librdkafka about each. transactional.id and enable.idempotence are refused: the sink sets them (transactionalIdPrefix; always idempotent)."},
		{Path: "sink.postgres", Type: "mapping", Spark: `foreachBatch + JDBC`, Doc: "Write each batch's rows to a PostgreSQL table, exactly once: each batch is one Postgres transaction that writes the rows and moves the job's row in microbatch_progress(job, sink, batch_id, epoch), committed before the checkpoint; a batch re-run after a crash that the row already holds is not written again. append: COPY the new rows; update: upsert the changed rows (INSERT ... ON CONFLICT (group-by columns) DO UPDATE) and delete the groups that left the result (HAVING); complete: replace the table's rows. Connection errors and server restarts are retried with source.kafka.fetchOffset.numRetries and retryIntervalMs."},
		{Path: "sink.postgres.url", Type: "string", Required: true, Doc: "A postgres:// URL or libpq key=value string; ${PGURL} works as everywhere. A bad URL or an unknown sslmode is a validate error; errors never print the password."},
		{Path: "sink.postgres.table", Type: "name or schema.name", Required: true, Doc: "Taken as written (quoted). Its columns are named as the query's output columns: STRING text, INT integer, BIGINT bigint, DOUBLE double precision, BOOLEAN boolean, TIMESTAMP timestamptz, DATE date. An existing table whose columns do not fit is refused before the first batch. microbatch_progress is created in the same schema."},
		{Path: "sink.postgres.createTable", Type: "boolean", Default: "true", Doc: "Create a missing table at the first batch, its primary key the group-by columns (in update mode with fillfactor 50, so that upserts are HOT updates; for a table of your own, `ALTER TABLE ... SET (fillfactor = 50)`); false: a missing table is an error."},
		{Path: "sink.files", Type: "mapping", Spark: `format("parquet")`, Doc: "Write each batch's rows to files, exactly once for readers that skip names beginning with `_` or `.` (Spark, Hive, Trino): files are staged under `_microbatch/`, committed in a commit log there, then renamed into place, before the checkpoint commits; a re-run batch the log holds is not written again. `outputMode: append` only (validate refuses the others). See \"The file sink\"."},
		{Path: "sink.files.path", Type: "path", Required: true, Spark: "path", Doc: "The output directory, relative to the job file's directory; created when missing. Files are named `part-<batch>-<n>.<ext>`."},
		{Path: "sink.files.format", Type: "parquet | json | csv", Default: "parquet", Doc: "Parquet from the Arrow records (INT as INT32, BIGINT INT64, DOUBLE, BOOLEAN, STRING, TIMESTAMP as a UTC microsecond timestamp); JSON lines and CSV (with a header) as `microbatch state --format jsonl` and `csv`."},
		{Path: "sink.files.partitionBy", Type: "string or list", Default: "none", Spark: "partitionBy", Doc: "Output columns to partition by: Hive-style directories `col=value/` (values escaped as Hive does, NULL and \"\" as `__HIVE_DEFAULT_PARTITION__`); the columns are left out of the files."},
		{Path: "sink.files.compression", Type: "snappy | zstd | gzip | none", Default: "snappy for parquet, none for json and csv", Spark: "compression", Doc: "json and csv take gzip or none."},
		{Path: "sink.files.maxRecordsPerFile", Type: "integer >= 0", Default: "0", Spark: "maxRecordsPerFile", Doc: "Rows per file at most; 0 = no cap."},
		{Path: "checkpointLocation", Field: "CheckpointLocation", Type: "path", Required: true, Doc: "Relative to the job file's directory."},
	}
	at := slices.IndexFunc(keys, func(k Key) bool { return k.Path == "trigger" })
	keys = slices.Insert(keys, at, tableKeyRows()...)
	docs := map[string]engine.Setting{}
	for _, s := range engine.Settings() {
		docs[s.Field] = s
	}
	for i := range keys {
		k := &keys[i]
		s, ok := docs[k.Field]
		if !ok {
			continue
		}
		k.Spark = cmp.Or(k.Spark, s.Spark)
		k.Doc = strings.TrimSpace(s.Doc + " " + k.Doc)
	}
	return keys
}

// durationString formats d the way the job file accepts it ("0", "1s").
func durationString(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}

// KeyOf returns the job-file key that engine setting field (an
// engine.ConfigError's Field) maps onto: the key of the field itself, or
// of the closest struct holding it ("Source.X" without a key of its own is
// source.kafka).
func KeyOf(field string) (string, bool) {
	keys := Keys()
	for f := field; f != ""; {
		for _, k := range keys {
			if k.Field == f {
				return k.Path, true
			}
		}
		i := strings.LastIndexByte(f, '.')
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return "", false
}

// childKeys returns the names of the keys directly under parent ("" for the
// top level), from Keys.
func childKeys(parent string) []string {
	var out []string
	prefix := parent + "."
	if parent == "" {
		prefix = ""
	}
	for _, k := range Keys() {
		if !strings.HasPrefix(k.Path, prefix) {
			continue
		}
		rest := k.Path[len(prefix):]
		if strings.HasPrefix(rest, "<") {
			continue
		}
		// Kafka property names contain dots; microbatch's own keys at
		// other levels do not.
		if strings.Contains(rest, ".") && parent != "source.kafka" && !((parent == "sink.kafka" || parent == "source.deadLetter") && rest == "bootstrap.servers") {
			continue
		}
		out = append(out, rest)
	}
	return out
}

package jobfile

import (
	"fmt"
	"strings"
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
}

// Keys returns the documentation of every job-file key, in file order.
// It is the same table validation uses to recognise keys.
func Keys() []Key {
	return []Key{
		{Path: "name", Type: "string", Default: "job file name without extension", Spark: "queryName", Doc: "Identifies the job in logs and progress."},
		{Path: "source", Type: "mapping", Required: true, Doc: "Where records come from and how to decode them."},
		{Path: "source.kafka", Type: "mapping", Required: true, Spark: `format("kafka")`, Doc: "The Kafka source."},
		{Path: "source.kafka.bootstrap.servers", Type: "string", Required: true, Spark: "kafka.bootstrap.servers", Doc: `Brokers, host:port[,host:port...]; "embedded" starts an in-process broker.`},
		{Path: "source.kafka.subscribe", Type: "string or list", Spark: "subscribe", Doc: "Topics to read, comma-separated. Exactly one of subscribe, subscribePattern, assign. A topic that does not exist yet is read once it is created; until then the run logs one warning for it, with the closest existing topic (`did_you_mean`)."},
		{Path: "source.kafka.subscribePattern", Type: "regexp", Spark: "subscribePattern", Doc: "Read every topic matching this regular expression (Go RE2 syntax); new topics are picked up. A pattern that matches no topic is logged once."},
		{Path: "source.kafka.assign", Type: "JSON", Spark: "assign", Doc: `Read exactly these partitions: {"topic":[0,1]}.`},
		{Path: "source.kafka.startingOffsets", Type: "earliest | latest | JSON", Default: "latest", Spark: "startingOffsets", Doc: `Where a new query starts: earliest, latest or {"topic":{"0":42,"1":-2}} (-2 earliest, -1 latest). A restart resumes from the checkpoint.`},
		{Path: "source.kafka.maxRatePerPartition", Type: "integer >= 0", Default: "0", Spark: "spark.streaming.kafka.maxRatePerPartition", Doc: "Records per second of trigger interval per partition per batch (x 1 s when batches run back to back: availableNow or processingTime 0); 0 = no cap."},
		{Path: "source.kafka.failOnDataLoss", Type: "boolean", Default: "true", Spark: "failOnDataLoss", Doc: "Stop when offsets to read were deleted (retention); false skips and counts them."},
		{Path: "source.kafka.fetchOffset.numRetries", Type: "integer >= 0", Default: "3", Spark: "fetchOffset.numRetries", Doc: "How many times a failed metadata or offsets request (planning a batch, reaching the cluster before recovering one) is retried before the job fails. Each attempt times out after 10 s: with the defaults the job rides out about 40 s without a broker."},
		{Path: "source.kafka.fetchOffset.retryIntervalMs", Type: "integer >= 0", Default: "1000", Spark: "fetchOffset.retryIntervalMs", Doc: "Milliseconds between those attempts (Spark's default is 10)."},
		{Path: "source.kafka.partitionDiscoveryInterval", Type: "duration", Default: "1s", Doc: "How often the driver re-reads the subscription's partitions (new partitions, new topics of subscribePattern, deleted ones) and their log start offsets; between, planning a batch is one ListOffsets request. 0 = every batch."},
		{Path: "source.kafka.<librdkafka property>", Type: "string", Spark: "kafka.<property>", Doc: "Any other key (isolation.level, security.protocol, ...) is passed to librdkafka unchanged."},
		{Path: "source.format", Type: "json | csv", Required: true, Spark: "from_json / from_csv", Doc: "Format of record values."},
		{Path: "source.schema", Type: "DDL string", Required: true, Spark: "schema", Doc: `Columns of record values, e.g. "user STRING, n BIGINT"; dotted names address nested JSON fields.`},
		{Path: "source.mode", Type: "PERMISSIVE | DROPMALFORMED | FAILFAST", Default: "PERMISSIVE", Spark: "mode", Doc: "What to do with malformed records: keep with nulls, drop, or stop."},
		{Path: "source.header", Type: "boolean", Default: "false", Spark: "header", Doc: "CSV values start with a header line to skip."},
		{Path: "source.table", Type: "identifier", Default: "events", Spark: "createOrReplaceTempView", Doc: "The table name the query reads from."},
		{Path: "source.embedded", Type: "mapping", Doc: `Only with bootstrap.servers: embedded: the in-process broker's storage and an optional built-in generator feeding it while the job runs (demos, local work).`},
		{Path: "source.embedded.dataDir", Type: "path", Default: "none: records in memory", Doc: "Directory the embedded broker persists topics to, so a rerun resumes against the same log; relative to the job file's directory."},
		{Path: "source.embedded.topics", Type: "list of NAME:PARTITIONS", Default: "the subscribed topics with 1 partition", Doc: "Topics created at start when missing."},
		{Path: "source.embedded.generator", Type: "clickstream | ecommerce | iot", Default: "none", Doc: "Feed the first subscribed topic with this generator (see microbatch produce)."},
		{Path: "source.embedded.rate", Type: "integer >= 1", Default: "1000", Doc: "Records per second the generator writes."},
		{Path: "source.embedded.seed", Type: "integer", Default: "1", Doc: "Generator seed; the same seed writes the same records."},
		{Path: "trigger", Type: "mapping", Default: "processingTime: 0", Spark: "trigger", Doc: "When batches run; processingTime and availableNow exclude each other."},
		{Path: "trigger.processingTime", Type: "duration", Default: "0", Spark: "Trigger.ProcessingTime", Doc: `Batch interval: 500ms, 10s, 1m or "10 seconds"; 0 starts each batch as soon as the previous one ends (Spark's default trigger).`},
		{Path: "trigger.availableNow", Type: "boolean", Default: "false", Spark: "Trigger.AvailableNow", Doc: "Process what is in the topics at start, in capped batches, then exit 0."},
		{Path: "query", Type: "SQL", Required: true, Spark: "spark.sql", Doc: "The query over the source table."},
		{Path: "outputMode", Type: "complete | update | append", Default: "complete if the query aggregates, else append", Spark: "outputMode", Doc: "Which result rows each batch writes."},
		{Path: "sink", Type: "mapping with one sink", Default: "console: {}", Spark: "format(...)", Doc: "Where results go; exactly one sink key."},
		{Path: "sink.console", Type: "mapping", Spark: `format("console")`, Doc: "Print each batch's result as a table on stdout."},
		{Path: "sink.console.numRows", Type: "integer >= 1", Default: "20", Spark: "numRows", Doc: "Rows printed per batch."},
		{Path: "sink.console.truncate", Type: "boolean", Default: "true", Spark: "truncate", Doc: "Shorten cells longer than 20 characters."},
		{Path: "checkpointLocation", Type: "path", Required: true, Spark: "checkpointLocation", Doc: "Checkpoint directory (offsets WAL, commits, state); relative to the job file's directory."},
	}
}

// Markdown renders Keys as a Markdown table for the README.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| key | type | default | Spark | description |\n| --- | --- | --- | --- | --- |\n")
	for _, k := range Keys() {
		def := k.Default
		if k.Required {
			def = "required"
		}
		esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", k.Path, esc(k.Type), esc(def), esc(k.Spark), esc(k.Doc))
	}
	return b.String()
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
		if parent != "source.kafka" && strings.Contains(rest, ".") {
			continue
		}
		out = append(out, rest)
	}
	return out
}

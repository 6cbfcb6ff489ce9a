package jobfile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/internal/jobfile"
	"github.com/microbatch/microbatch/offsets"
)

var env = map[string]string{"BROKERS": "10.0.0.1:9092", "RATE": "250"}

func parse(t *testing.T, src string) (*jobfile.Job, error) {
	t.Helper()
	return jobfile.Parse("job.yaml", []byte(src), jobfile.Options{
		Dir: "/jobs",
		Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
}

const full = `name: brand-funnel
source:
  kafka:
    bootstrap.servers: ${BROKERS}
    subscribe: ecommerce, returns
    startingOffsets: '{"ecommerce":{"0":42,"1":-2}}'
    maxRatePerPartition: ${RATE}
    failOnDataLoss: false
    fetchOffset.numRetries: 10
    isolation.level: read_committed
    debug: broker
  format: CSV
  schema: "event_time TIMESTAMP, brand STRING"
  mode: failfast
  header: true
  table: ecom
trigger:
  processingTime: 10 seconds
query: |
  SELECT brand, count(*) AS n
  FROM ecom
  GROUP BY brand
outputMode: update
sink:
  console: {numRows: 5, truncate: false}
checkpointLocation: ./checkpoints/brand-funnel
`

func TestFullJob(t *testing.T) {
	j, err := parse(t, full)
	if err != nil {
		t.Fatal(err)
	}
	want := jobfile.Job{
		File: "job.yaml", Dir: "/jobs", Name: "brand-funnel",
		Source: jobfile.Source{
			Kafka: jobfile.Kafka{
				BootstrapServers:    "10.0.0.1:9092",
				Subscribe:           []string{"ecommerce", "returns"},
				StartingOffsets:     `{"ecommerce":{"0":42,"1":-2}}`,
				MaxRatePerPartition: 250,
				FailOnDataLoss:      false,
				Properties:          map[string]string{"isolation.level": "read_committed", "debug": "broker"},
				// Spark's option name, not a librdkafka property.
				FetchOffsetNumRetries: 10,
				// Not in the file: the defaults.
				FetchOffsetRetryInterval:   time.Second,
				PartitionDiscoveryInterval: time.Second,
			},
			Format: "csv", Schema: "event_time TIMESTAMP, brand STRING", Mode: "FAILFAST", Header: true, Table: "ecom",
		},
		Trigger:            jobfile.Trigger{ProcessingTime: 10 * time.Second},
		Query:              "SELECT brand, count(*) AS n\nFROM ecom\nGROUP BY brand\n",
		OutputMode:         "update",
		Sink:               jobfile.Sink{Console: &jobfile.ConsoleSink{NumRows: 5, Truncate: false}},
		CheckpointLocation: "/jobs/checkpoints/brand-funnel",
	}
	if !reflect.DeepEqual(j.Source, want.Source) || *j.Sink.Console != *want.Sink.Console ||
		j.File != want.File || j.Dir != want.Dir || j.Name != want.Name || j.Trigger != want.Trigger ||
		j.Query != want.Query || j.OutputMode != want.OutputMode || j.CheckpointLocation != want.CheckpointLocation {
		t.Fatalf("job =\n%+v\nwant\n%+v", *j, want)
	}
	if p := j.Positions["source.kafka.maxRatePerPartition"]; p != (jobfile.Position{Line: 7, Column: 26}) {
		t.Errorf("maxRatePerPartition position = %+v", p)
	}
	// "GROUP BY" is line 3, column 1 of the query: file line 22, column 3.
	if got := j.QueryErrorf(3, 1, "x").Error(); got != "job.yaml:22:3: query: x" {
		t.Errorf("QueryErrorf(3, 1) = %s, want 22:3", got)
	}
	if got := j.QueryErrorf(2, 6, "unknown table %q", "ecom").Error(); got != `job.yaml:21:8: query: unknown table "ecom"` {
		t.Errorf("QueryErrorf = %s", got)
	}
	if got := j.Errorf("source.schema", "bad").Error(); got != `job.yaml:13: source.schema: bad` {
		t.Errorf("Errorf = %s", got)
	}
	if k := j.Source.Kafka; k.BootstrapServers != "10.0.0.1:9092" || !reflect.DeepEqual(k.Properties, map[string]string{"isolation.level": "read_committed", "debug": "broker"}) {
		t.Errorf("bootstrap.servers %q, properties %v", k.BootstrapServers, k.Properties)
	}
}

const minimal = `source:
  kafka:
    bootstrap.servers: embedded
    assign: '{"b":[1,0],"a":[2]}'
  format: json
  schema: "userid STRING"
query: SELECT userid FROM events
checkpointLocation: /var/lib/mb/cp
`

func TestEmbeddedSection(t *testing.T) {
	j, err := parse(t, replace(t, minimal, "  format: json", "  embedded:\n    dataDir: data/broker\n    topics: [\"a:3\"]\n    generator: clickstream\n    rate: 250\n  format: json"))
	if err != nil {
		t.Fatal(err)
	}
	e := j.Source.Embedded
	if e == nil || !strings.HasSuffix(e.DataDir, "/data/broker") || !filepath.IsAbs(e.DataDir) || fmt.Sprint(e.Topics) != "[a:3]" ||
		e.Generator != "clickstream" || e.Rate != 250 || e.Seed != 1 {
		t.Fatalf("embedded = %+v", e)
	}
}

func TestDefaults(t *testing.T) {
	j, err := parse(t, minimal)
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != "job" || !j.Source.Kafka.Embedded || j.Source.Kafka.BootstrapServers != "" ||
		j.Source.Kafka.StartingOffsets != "latest" || !j.Source.Kafka.FailOnDataLoss || j.Source.Kafka.MaxRatePerPartition != 0 ||
		j.Source.Mode != "PERMISSIVE" || j.Source.Table != "events" || j.Source.Header ||
		j.Trigger != (jobfile.Trigger{}) || j.OutputMode != "" ||
		*j.Sink.Console != (jobfile.ConsoleSink{NumRows: 20, Truncate: true}) ||
		j.CheckpointLocation != "/var/lib/mb/cp" {
		t.Fatalf("defaults wrong: %+v %+v", j, j.Sink.Console)
	}
	wantAssign := []offsets.TopicPartition{{Topic: "a", Partition: 2}, {Topic: "b", Partition: 0}, {Topic: "b", Partition: 1}}
	if !reflect.DeepEqual(j.Source.Kafka.Assign, wantAssign) {
		t.Fatalf("assign = %v", j.Source.Kafka.Assign)
	}
	if got := j.QueryErrorf(1, 8, "x").Error(); got != "job.yaml:7:15: query: x" {
		t.Errorf("QueryErrorf(1, 8) = %s, want 7:15", got)
	}
}

// replace returns minimal with old replaced by new (old must occur).
func replace(t *testing.T, src, old, new string) string {
	t.Helper()
	if !strings.Contains(src, old) {
		t.Fatalf("%q not in source", old)
	}
	return strings.Replace(src, old, new, 1)
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{"embedded section errors", "  format: json", "  embedded:\n    topics: [clicks, \"b:2\"]\n    generator: weblog\n    rate: 0\n  format: json",
			[]string{
				`job.yaml:6: source.embedded.topics: "clicks" is not NAME:PARTITIONS`,
				`job.yaml:7: source.embedded.generator: invalid value "weblog" (want clickstream, ecommerce or iot)`,
				`job.yaml:8: source.embedded.rate: must be at least 1, got 0`,
			}},
		{"embedded section without embedded broker", "    bootstrap.servers: embedded\n    assign: '{\"b\":[1,0],\"a\":[2]}'\n", "    bootstrap.servers: 127.0.0.1:9092\n    assign: '{\"b\":[1,0],\"a\":[2]}'\n  embedded: {generator: iot}\n",
			[]string{`job.yaml:5: source.embedded: only applies with bootstrap.servers: embedded`}},
		{"not an integer", "    assign:", "    maxRatePerPartition: fast\n    assign:",
			[]string{`job.yaml:4: source.kafka.maxRatePerPartition: expected an integer, got "fast"`}},
		{"negative integer", "    assign:", "    maxRatePerPartition: -5\n    assign:",
			[]string{`job.yaml:4: source.kafka.maxRatePerPartition: must be at least 0, got -5`}},
		{"spark typo did you mean", "    assign:", "    startingOffset: earliest\n    assign:",
			[]string{`job.yaml:4: source.kafka.startingOffset: unknown key, did you mean startingOffsets?`}},
		{"bootstrap typo", "    bootstrap.servers: embedded", "    bootstrap.server: embedded",
			[]string{`job.yaml:3: source.kafka.bootstrap.server: unknown key, did you mean bootstrap.servers?`}},
		{"required key typo", "query:", "querry:",
			[]string{`job.yaml:7: querry: unknown key, did you mean query?`}},
		{"empty name", "source:\n", "name: ''\nsource:\n",
			[]string{`job.yaml:1: name: must not be empty`}},
		{"subscribe list", "    assign: '{\"b\":[1,0],\"a\":[2]}'", "    subscribe:\n      - ok\n      - {x: 1}\n      - 'b c'",
			[]string{`job.yaml:6: source.kafka.subscribe: expected a value, got a mapping`, `job.yaml:7: source.kafka.subscribe: invalid character ' ' in topic name "b c" (allowed: letters, digits, '.', '_', '-')`}},
		{"kafka prefix", "    assign:", "    kafka.isolation.level: read_committed\n    assign:",
			[]string{`job.yaml:4: source.kafka.kafka.isolation.level: librdkafka properties are written without Spark's kafka. prefix: isolation.level`}},
		{"unsupported spark option", "    assign:", "    minOffsetsPerTrigger: 1000\n    assign:",
			[]string{`job.yaml:4: source.kafka.minOffsetsPerTrigger: Spark option not supported by microbatch: batches run on the trigger interval`}},
		{"backpressure gain not a number", "query:", "backpressure:\n  enabled: true\n  initialRate: 100\n  pid:\n    integral: lots\n    minRate: 0\nquery:",
			[]string{`job.yaml:11: backpressure.pid.integral: expected a number, got "lots"`, `job.yaml:12: backpressure.pid.minRate: must be above 0 (records per second)`}},
		{"unknown top-level key", "query:", "querry: x\nquery:",
			[]string{`job.yaml:7: querry: unknown key, did you mean query?`}},
		{"unknown key no suggestion", "  format: json", "  compression: gzip\n  format: json",
			[]string{`job.yaml:5: source.compression: unknown key (known keys: kafka, format, schema, mode, header, deadLetter, table, embedded)`}},
		{"missing required keys", "  format: json\n  schema: \"userid STRING\"\n", "",
			[]string{`job.yaml:1: source.format: required key is missing`, `job.yaml:1: source.schema: required key is missing`}},
		{"missing top-level", "query: SELECT userid FROM events\ncheckpointLocation: /var/lib/mb/cp\n", "",
			[]string{`job.yaml:1: query: required key is missing`, `job.yaml:1: checkpointLocation: required key is missing`}},
		{"missing bootstrap", "    bootstrap.servers: embedded\n", "",
			[]string{`job.yaml:2: source.kafka.bootstrap.servers: required key is missing`}},
		{"no subscription", "    assign: '{\"b\":[1,0],\"a\":[2]}'\n", "",
			[]string{`job.yaml:2: source.kafka: missing subscribe, subscribePattern or assign (exactly one is required)`}},
		{"two subscriptions", "    assign:", "    subscribePattern: 'eco.*'\n    assign:",
			[]string{`job.yaml:2: source.kafka: subscribePattern and assign are both set; use exactly one`}},
		{"bad duration", "query:", "trigger:\n  processingTime: 1x\nquery:",
			[]string{`job.yaml:8: trigger.processingTime: invalid duration "1x" (want e.g. 500ms, 10s, 1m or "10 seconds")`}},
		{"negative duration", "query:", "trigger:\n  processingTime: -1s\nquery:",
			[]string{`job.yaml:8: trigger.processingTime: must not be negative, got -1s`}},
		{"both triggers", "query:", "trigger:\n  processingTime: 1s\n  availableNow: true\nquery:",
			[]string{`job.yaml:9: trigger: processingTime and availableNow exclude each other; set one`}},
		{"bad bool", "query:", "trigger:\n  availableNow: yes\nquery:",
			[]string{`job.yaml:8: trigger.availableNow: expected true or false, got "yes"`}},
		{"watermark without eventTime", "query:", "watermark:\n  delayThreshold: 10s\n  policy: perTopic\nquery:",
			[]string{`job.yaml:7: watermark.eventTime: required key is missing`, `job.yaml:9: watermark.policy: invalid value "perTopic" (want global or perPartition)`}},
		{"bad outputMode", "query:", "outputMode: upsert\nquery:",
			[]string{`job.yaml:7: outputMode: invalid value "upsert" (want complete, update or append)`}},
		{"bad mode", "  format: json", "  format: json\n  mode: LENIENT",
			[]string{`job.yaml:6: source.mode: invalid value "LENIENT" (want PERMISSIVE, DROPMALFORMED or FAILFAST)`}},
		{"bad format", "  format: json", "  format: avro",
			[]string{`job.yaml:5: source.format: invalid value "avro" (want json or csv)`}},
		{"bad startingOffsets", "    assign:", "    startingOffsets: '{\"t\":{\"0\":x}}'\n    assign:",
			[]string{`job.yaml:4: source.kafka.startingOffsets: topic "t", partition "0": malformed JSON: invalid character 'x' looking for beginning of value`}},
		{"startingOffsets vs assign", "    assign:", "    startingOffsets: '{\"a\":{\"2\":5,\"3\":-2},\"b\":{\"0\":1}}'\n    assign:",
			[]string{
				`job.yaml:4: source.kafka.startingOffsets: assigned partition b-1 has no starting offset (with per-partition offsets, every assigned partition needs one, as in Spark)`,
				`job.yaml:4: source.kafka.startingOffsets: partition a-3 is not in assign`,
			}},
		{"startingOffsets vs subscribe", "    assign: '{\"b\":[1,0],\"a\":[2]}'", "    subscribe: a,b\n    startingOffsets: '{\"a\":{\"0\":5},\"c\":{\"0\":1},\"d\":{\"0\":1}}'",
			[]string{
				`job.yaml:5: source.kafka.startingOffsets: topic "c" is not in subscribe (a, b)`,
				`job.yaml:5: source.kafka.startingOffsets: topic "d" is not in subscribe (a, b)`,
			}},
		{"startingOffsets vs pattern", "    assign: '{\"b\":[1,0],\"a\":[2]}'", "    subscribePattern: '^eco'\n    startingOffsets: '{\"eco1\":{\"0\":5},\"web\":{\"0\":1}}'",
			[]string{`job.yaml:5: source.kafka.startingOffsets: topic "web" does not match subscribePattern "^eco"`}},
		{"three subscriptions", "    assign:", "    subscribe: x\n    subscribePattern: y\n    assign:",
			[]string{`job.yaml:2: source.kafka: subscribe, subscribePattern and assign are all set; use exactly one`}},
		{"startingOffsets word", "    assign:", "    startingOffsets: first\n    assign:",
			[]string{`job.yaml:4: source.kafka.startingOffsets: "first" is not "earliest", "latest" or a JSON object like {"topic":{"0":23,"1":-2}}`}},
		{"bad assign JSON", `'{"b":[1,0],"a":[2]}'`, `'{"b":[1,0}'`,
			[]string{`job.yaml:4: source.kafka.assign: invalid JSON at offset 10: invalid character '}' after array element (want JSON like {"topic":[0,1]})`}},
		{"bad assign partition", `'{"b":[1,0],"a":[2]}'`, `'{"b":[1,-1]}'`,
			[]string{`job.yaml:4: source.kafka.assign: topic "b": partition -1 is not an integer >= 0`}},
		{"bad topic", "    assign: '{\"b\":[1,0],\"a\":[2]}'", "    subscribe: 'a, b/c,'",
			[]string{
				`job.yaml:4: source.kafka.subscribe: invalid character '/' in topic name "b/c" (allowed: letters, digits, '.', '_', '-')`,
				`job.yaml:4: source.kafka.subscribe: empty topic name in the list`,
			}},
		{"bad regexp", "    assign: '{\"b\":[1,0],\"a\":[2]}'", "    subscribePattern: 'eco[.*'",
			[]string{"job.yaml:4: source.kafka.subscribePattern: invalid regular expression: missing closing ]: `[.*`"}},
		{"unset env", "embedded", "${NOPE}",
			[]string{`job.yaml:3: source.kafka.bootstrap.servers: environment variable NOPE is not set (write ${NOPE:default} to give a default)`}},
		{"env default typed", "    assign:", "    maxRatePerPartition: ${NOPE:many}\n    assign:",
			[]string{`job.yaml:4: source.kafka.maxRatePerPartition: expected an integer, got "many"`}},
		{"unterminated env", "embedded", "${BROKERS",
			[]string{`job.yaml:3: source.kafka.bootstrap.servers: unterminated ${ in "${BROKERS" (write $${ for a literal ${)`}},
		{"wrong type mapping", "  format: json", "  format: {a: 1}",
			[]string{`job.yaml:5: source.format: expected a value, got a mapping`}},
		{"section is a scalar", "source:\n", "source: kafka\nx:\n",
			[]string{`job.yaml:1: source: expected a mapping, got "kafka"`, `job.yaml:2: x: unknown key (known keys: name, source, tables, trigger, query, outputMode, sessionTimeZone, backpressure, watermark, sink, checkpointLocation)`}},
		{"duplicate key", "  format: json", "  format: json\n  format: csv",
			[]string{`job.yaml:6: source.format: duplicate key (first set on line 5)`}},
		{"two sinks", "query:", "sink:\n  console: {}\n  kafka: {topic: out}\nquery:",
			[]string{`job.yaml:8: sink: has 2 sinks (console, kafka); want exactly one`}},
		{"kafka sink", "query:", "sink:\n  kafka:\n    format: avro\n    deliveryGuarantee: twice\n    linger.ms: 5\n    createTopic: {partitions: 0}\nquery:",
			[]string{
				`job.yaml:8: sink.kafka.topic: required key is missing`,
				`job.yaml:9: sink.kafka.format: invalid value "avro" (want json or csv)`,
				`job.yaml:10: sink.kafka.deliveryGuarantee: invalid value "twice" (want exactly-once or at-least-once)`,
				`job.yaml:12: sink.kafka.createTopic.partitions: must be at least 1, got 0`,
			}},
		{"createTopic true", "query:", "sink:\n  kafka:\n    topic: out\n    createTopic: true\nquery:",
			[]string{`job.yaml:10: sink.kafka.createTopic: expected a mapping, got "true": {} creates the topic with 1 partition and replication factor 1, {partitions: N, replicationFactor: R} sets them`}},
		{"header with json", "  format: json", "  format: json\n  header: true",
			[]string{`job.yaml:6: source.header: only applies with format: csv (a JSON record has no header line)`}},
		{"sink typo", "query:", "sink:\n  consle: {}\nquery:",
			[]string{`job.yaml:8: sink.consle: unknown key, did you mean console?`}},
		{"empty sink", "query:", "sink: {}\nquery:",
			[]string{`job.yaml:7: sink: names no sink; want exactly one of: console, kafka, postgres, files`}},
		{"console options", "query:", "sink:\n  console:\n    numRows: 0\n    truncate: maybe\nquery:",
			[]string{`job.yaml:9: sink.console.numRows: must be at least 1, got 0`, `job.yaml:10: sink.console.truncate: expected true or false, got "maybe"`}},
		{"empty query", "query: SELECT userid FROM events", "query: ''",
			[]string{`job.yaml:7: query: must not be empty`}},
		{"bad table", "  format: json", "  format: json\n  table: 2fast",
			[]string{`job.yaml:6: source.table: "2fast" is not a table name (letters, digits and _, not starting with a digit)`}},
		{"yaml syntax", "query:", "query: [unclosed\nx:",
			[]string{`job.yaml:7: invalid YAML: did not find expected ',' or ']'`}},
		{"yaml scanner error", "query: SELECT userid FROM events", "query: SELECT\n  bad: x",
			[]string{`job.yaml:8: invalid YAML: mapping values are not allowed in this context`}},
		{"two documents", "checkpointLocation: /var/lib/mb/cp\n", "checkpointLocation: /var/lib/mb/cp\n---\nname: other\n",
			[]string{`job.yaml:9: a job file holds one YAML document; remove the second one (after ---)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, replace(t, minimal, tc.old, tc.new))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestEveryProblemAtOnce checks that one file with many problems reports
// all of them, sorted by line.
func TestEveryProblemAtOnce(t *testing.T) {
	src := `name: x
source:
  kafka:
    bootstrap.servers: localhost:9092
    subscribe: t
    maxRatePerPartition: fast
    startingOffset: earliest
  format: xml
trigger:
  processingTime: 1x
outputMode: all
checkpointLocation: cp
`
	_, err := parse(t, src)
	want := `job.yaml:1: query: required key is missing
job.yaml:2: source.schema: required key is missing
job.yaml:6: source.kafka.maxRatePerPartition: expected an integer, got "fast"
job.yaml:7: source.kafka.startingOffset: unknown key, did you mean startingOffsets?
job.yaml:8: source.format: invalid value "xml" (want json or csv)
job.yaml:10: trigger.processingTime: invalid duration "1x" (want e.g. 500ms, 10s, 1m or "10 seconds")
job.yaml:11: outputMode: invalid value "all" (want complete, update or append)`
	if err == nil || err.Error() != want {
		t.Fatalf("errors:\n%v\nwant:\n%s", err, want)
	}
	var es jobfile.Errors
	if !errors.As(err, &es) || len(es) != 7 || es[2].Line != 6 || es[2].Key != "source.kafka.maxRatePerPartition" {
		t.Fatalf("Errors = %#v", es)
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"", "job.yaml:1: job file is empty"},
		{"# only a comment\n", "job.yaml:1: job file is empty"},
		{"- a\n- b\n", "job.yaml:1: expected a mapping of keys (name, source, query, ...), got a list"},
	} {
		p := filepath.Join(dir, "job.yaml")
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := jobfile.Load(p)
		if err == nil || err.Error() != filepath.Join(dir, tc.want) {
			t.Errorf("Load(%q) = %v, want %s", tc.content, err, filepath.Join(dir, tc.want))
		}
	}
	_, err := jobfile.Load(filepath.Join(dir, "missing.yaml"))
	if want := filepath.Join(dir, "missing.yaml") + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("Load(missing) = %v, want %s", err, want)
	}
}

func TestLoadResolvesCheckpointAgainstFileDir(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "clicks.yaml")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(replace(t, minimal, "/var/lib/mb/cp", "../cp/clicks")), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := jobfile.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != "clicks" || j.CheckpointLocation != filepath.Join(dir, "cp", "clicks") || j.Dir != filepath.Join(dir, "sub") {
		t.Fatalf("name %q, checkpoint %q, dir %q", j.Name, j.CheckpointLocation, j.Dir)
	}
}

func TestSubscribeList(t *testing.T) {
	j, err := parse(t, replace(t, minimal, "    assign: '{\"b\":[1,0],\"a\":[2]}'", "    subscribe: [clicks, orders]"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(j.Source.Kafka.Subscribe, []string{"clicks", "orders"}) || j.Source.Kafka.Assign != nil {
		t.Fatalf("subscribe = %q, assign = %v", j.Source.Kafka.Subscribe, j.Source.Kafka.Assign)
	}
}

func TestEnvEscapeAndAlias(t *testing.T) {
	src := replace(t, minimal, "query: SELECT userid FROM events", "query: SELECT '$${x}' AS s FROM events")
	src = replace(t, src, "  format: json", "  format: &f json\n  table: *f")
	j, err := parse(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if j.Query != "SELECT '${x}' AS s FROM events" || j.Source.Table != "json" {
		t.Fatalf("query %q, table %q", j.Query, j.Source.Table)
	}
}

func TestKafkaSink(t *testing.T) {
	j, err := parse(t, replace(t, minimal, "query:", `sink:
  kafka:
    topic: page-counts
    key: [page, day]
    format: csv
    deliveryGuarantee: at-least-once
    transactionalIdPrefix: pv
    batchHeaders: false
    createTopic: {partitions: 3, replicationFactor: 2}
    compression.type: zstd
    linger.ms: 20
query:`))
	if err != nil {
		t.Fatal(err)
	}
	want := jobfile.KafkaSink{Topic: "page-counts", Key: []string{"page", "day"}, Format: "csv", DeliveryGuarantee: "at-least-once",
		TransactionalIDPrefix: "pv", CreateTopic: &jobfile.CreateTopic{Partitions: 3, ReplicationFactor: 2},
		Properties: map[string]string{"compression.type": "zstd", "linger.ms": "20"}}
	if j.Sink.Console != nil || !reflect.DeepEqual(*j.Sink.Kafka, want) {
		t.Fatalf("sink = %+v, want %+v", j.Sink.Kafka, want)
	}
	j, err = parse(t, replace(t, minimal, "query:", "sink:\n  kafka:\n    topic: out\n    key: a, b\nquery:"))
	if err != nil {
		t.Fatal(err)
	}
	want = jobfile.KafkaSink{Topic: "out", Key: []string{"a", "b"}, Format: "json", DeliveryGuarantee: "exactly-once", BatchHeaders: true, Properties: map[string]string{}}
	if !reflect.DeepEqual(*j.Sink.Kafka, want) {
		t.Fatalf("sink = %+v, want %+v", j.Sink.Kafka, want)
	}
}

func TestKeysTable(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range jobfile.Keys() {
		if seen[k.Path] {
			t.Errorf("key %s listed twice", k.Path)
		}
		seen[k.Path] = true
		if k.Doc == "" || k.Type == "" {
			t.Errorf("key %s lacks doc or type", k.Path)
		}
		if !k.Required && k.Default == "" && !strings.Contains(k.Path, "<") && k.Type != "mapping" &&
			k.Path != "source.kafka.subscribe" && k.Path != "source.kafka.subscribePattern" && k.Path != "source.kafka.assign" {
			t.Errorf("optional key %s has no default", k.Path)
		}
	}
	md := markdown()
	if !strings.HasPrefix(md, "| key | type | default | Spark | description |\n") ||
		!strings.Contains(md, "| `source.kafka.startingOffsets` | earliest \\| latest \\| JSON | latest | startingOffsets |") {
		t.Errorf("markdown() =\n%s", md)
	}
}

func TestPartitionDiscoveryInterval(t *testing.T) {
	for _, c := range []struct {
		value string
		want  time.Duration
		err   string
	}{
		{"250ms", 250 * time.Millisecond, ""},
		{"0", 0, ""},
		{"10 seconds", 10 * time.Second, ""},
		{"-1s", 0, "job.yaml:12: source.kafka.partitionDiscoveryInterval: must not be negative, got -1s"},
	} {
		src := strings.Replace(full, "    debug: broker\n", "    debug: broker\n    partitionDiscoveryInterval: "+c.value+"\n", 1)
		j, err := parse(t, src)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: err = %v, want %q", c.value, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.value, err)
		}
		if got := j.Source.Kafka.PartitionDiscoveryInterval; got != c.want {
			t.Errorf("%s: PartitionDiscoveryInterval = %v, want %v", c.value, got, c.want)
		}
	}
}

func TestFetchOffsetRetries(t *testing.T) {
	src := strings.Replace(full, "    debug: broker\n", "    debug: broker\n    fetchOffset.retryIntervalMs: 250\n", 1)
	j, err := parse(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if k := j.Source.Kafka; k.FetchOffsetRetryInterval != 250*time.Millisecond || k.FetchOffsetNumRetries != 10 || k.Properties["fetchOffset.retryIntervalMs"] != "" {
		t.Errorf("retries %d, interval %s, properties %v", k.FetchOffsetNumRetries, k.FetchOffsetRetryInterval, k.Properties)
	}
	src = strings.Replace(full, "fetchOffset.numRetries: 10", "fetchOffset.numRetries: -1", 1)
	if _, err := parse(t, src); err == nil || err.Error() != "job.yaml:9: source.kafka.fetchOffset.numRetries: must be at least 0, got -1" {
		t.Errorf("numRetries -1: %v", err)
	}
}

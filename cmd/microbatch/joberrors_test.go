package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJobErrors checks the errors found beyond the job file's own keys (the
// query against the schema, the output mode against the query, librdkafka
// properties): `validate` and `run` print the same lines, exit 2, and run
// reports them before it touches Kafka (bootstrap.servers points at a port
// nothing listens on), the embedded broker's data directory or the
// checkpoint.
func TestJobErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*jobSpec)
		want string // F stands for the job file's path
	}{{
		name: "unknown column",
		edit: func(j *jobSpec) { j.query = strings.Replace(j.query, "GROUP BY page", "GROUP BY pag", 1) },
		want: "F:16:12: query: unknown column pag (did you mean page?); columns: timestamp, userid, page, action, _topic, _partition, _offset, _timestamp, _key, _corrupt_record\n",
	}, {
		name: "aggregate in append mode",
		edit: func(j *jobSpec) { j.outputMode = "append" },
		want: "F:18: outputMode: dataframe: unsupported streaming query: append output mode is not supported with an aggregation without a watermark: group by a window of the event time and set a watermark (the job file's watermark section, DataFrame.WithWatermark in Go), or use complete or update\n",
	}, {
		name: "syntax error",
		edit: func(j *jobSpec) { j.query = strings.Replace(j.query, "GROUP BY page", "GROUP page", 1) },
		want: "F:16:9: query: syntax error at or near \"page\"\n",
	}, {
		name: "type error",
		edit: func(j *jobSpec) { j.query = strings.Replace(j.query, "count(*) AS views", "sum(page) AS views", 1) },
		want: "F:13:16: query: sum needs a number, got page of type STRING\n",
	}, {
		name: "order by without aggregation",
		edit: func(j *jobSpec) {
			j.query = "SELECT page, action FROM events\nORDER BY page"
			j.outputMode = "append"
		},
		// refused in every mode: the query is at fault, not the mode
		want: "F:12: query: dataframe: unsupported streaming query: OrderBy is only supported after an aggregation in complete output mode\n",
	}, {
		name: "order by without aggregation, default output mode",
		edit: func(j *jobSpec) { j.query = "SELECT page, action FROM events\nORDER BY page" },
		want: "F:12: query: dataframe: unsupported streaming query: OrderBy is only supported after an aggregation in complete output mode\n",
	}, {
		name: "every problem at once",
		edit: func(j *jobSpec) {
			j.extra = "    fetch.wait.max.ms: soon\n"
			j.query = strings.Replace(j.query, "WHERE action", "WHERE acton", 1)
		},
		want: "F:8: source.kafka.fetch.wait.max.ms: rejected by librdkafka: Invalid value for configuration property \"fetch.wait.max.ms\"\n" +
			"F:16:9: query: unknown column acton (did you mean action?); columns: timestamp, userid, page, action, _topic, _partition, _offset, _timestamp, _key, _corrupt_record\n",
	}, {
		name: "kafka sink key not an output column",
		edit: func(j *jobSpec) { j.sink = "  kafka:\n    topic: out\n    key: nosuchcol\n" },
		want: "F:21: sink.kafka.key: key column \"nosuchcol\" is not an output column (output: page, views)\n",
	}, {
		name: "kafka sink key not a group-by column in update mode",
		edit: func(j *jobSpec) {
			j.query = "SELECT page, count(*) AS views FROM events\nGROUP BY page HAVING count(*) > 1"
			j.outputMode = "update"
			j.sink = "  kafka:\n    topic: out\n    key: [page, views]\n"
		},
		want: "F:19: sink.kafka.key: key column \"views\" is not a group-by column: in update mode a group that leaves the result (HAVING) is a tombstone keyed by its group-by columns, and a reader keeps one value per key (group by: page)\n",
	}, {
		name: "kafka sink into the source topic",
		edit: func(j *jobSpec) { j.sink = "  kafka:\n    topic: clicks\n    key: nosuchcol\n" },
		want: "F:20: sink.kafka.topic: \"clicks\" is a topic the source reads: the job would read its own output\n" +
			"F:21: sink.kafka.key: key column \"nosuchcol\" is not an output column (output: page, views)\n",
	}, {
		name: "kafka sink properties",
		edit: func(j *jobSpec) {
			j.sink = "  kafka:\n    topic: out\n    linger.ms: abc\n    bogus.prop: 1\n    transactional.id: mine\n    enable.idempotence: false\n"
		},
		want: "F:21: sink.kafka.linger.ms: rejected by librdkafka: Invalid value for configuration property \"queue.buffering.max.ms\"\n" +
			"F:22: sink.kafka.bogus.prop: rejected by librdkafka: No such configuration property: \"bogus.prop\"\n" +
			"F:23: sink.kafka.transactional.id: the sink sets it to <transactionalIdPrefix>-kafka (fencing and the markers depend on it): set transactionalIdPrefix instead\n" +
			"F:24: sink.kafka.enable.idempotence: the sink's producer is always idempotent (its transactions, and at-least-once without duplicates from retries, depend on it): remove the key\n",
	}, {
		name: "embedded broker",
		edit: func(j *jobSpec) {
			j.brokers = "embedded"
			j.extra = "  embedded:\n    dataDir: " + filepath.Join(filepath.Dir(j.checkpoint), "broker") + "\n    generator: clickstream\n"
			j.outputMode = "append"
		},
		want: "F:21: outputMode: dataframe: unsupported streaming query: append output mode is not supported with an aggregation without a watermark: group by a window of the event time and set a watermark (the job file's watermark section, DataFrame.WithWatermark in Go), or use complete or update\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			spec := jobSpec{
				brokers: "127.0.0.1:1", topic: "clicks",
				format: "json", schema: clickSchema,
				trigger: "availableNow: true", query: pageViewsSQL,
				checkpoint: filepath.Join(dir, "checkpoint"),
			}
			tc.edit(&spec)
			path := spec.write(t, dir)
			want := strings.ReplaceAll(tc.want, "F:", path+":")
			for _, cmd := range []string{"validate", "run"} {
				r := cli(t, cmd, path)
				if r.code != 2 || r.stdout != "" || r.stderr != want {
					t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and:\n%s", cmd, r.code, r.stdout, r.stderr, want)
				}
			}
			for _, sub := range []string{"checkpoint", "broker"} {
				if _, err := os.Stat(filepath.Join(dir, sub)); !os.IsNotExist(err) {
					t.Errorf("run created %s (stat: %v) although the job is invalid", sub, err)
				}
			}
		})
	}
}

// TestStateBeforeRun: state and offsets of a job that never ran fail with
// exit 1 and say why, without creating the checkpoint.
func TestStateBeforeRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cp := filepath.Join(dir, "checkpoint")
	path := jobSpec{
		brokers: "127.0.0.1:1", topic: "clicks", format: "json", schema: clickSchema,
		trigger: "availableNow: true", query: pageViewsSQL, checkpoint: cp,
	}.write(t, dir)
	for _, cmd := range []string{"state", "offsets"} {
		r := cli(t, cmd, path, "--format", "jsonl")
		want := "microbatch " + cmd + ": no checkpoint at " + cp + " (has the job run yet?)\n"
		if r.code != 1 || r.stdout != "" || r.stderr != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 and %q", cmd, r.code, r.stdout, r.stderr, want)
		}
	}
	if _, err := os.Stat(cp); !os.IsNotExist(err) {
		t.Errorf("state or offsets created the checkpoint (stat: %v)", err)
	}
}

// TestValidateReportsEverything: key errors do not hide the SQL and schema
// checks when the keys those need (source.schema, source.table, query) are
// right. One run reports a misspelled key, a bad duration and an unknown
// column, each at its line, and exits 2; run reports the same.
func TestValidateReportsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "job.yaml")
	src := `source:
  kafka:
    bootstrap.servers: 127.0.0.1:1
    subscrbe: clicks
  format: json
  schema: "page STRING, action STRING"
trigger:
  processingTime: 5 parsecs
query: |
  SELECT page, count(*) AS n
  FROM events
  WHERE acton = 'view'
  GROUP BY page
checkpointLocation: ./checkpoint
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	want := path + ":4: source.kafka.subscrbe: unknown key, did you mean subscribe?\n" +
		path + `:8: trigger.processingTime: invalid duration "5 parsecs" (want e.g. 500ms, 10s, 1m or "10 seconds")` + "\n" +
		path + ":12:9: query: unknown column acton (did you mean action?); columns: page, action, _topic, _partition, _offset, _timestamp, _key, _corrupt_record\n"
	for _, cmd := range []string{"validate", "run"} {
		r := cli(t, cmd, path)
		if r.code != 2 || r.stdout != "" || r.stderr != want {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and:\n%s", cmd, r.code, r.stdout, r.stderr, want)
		}
	}
	// A schema error shows with key errors too; the query, which needs
	// the schema, is then not checked.
	bad := strings.Replace(src, "action STRING", "action STRNG", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	want = path + ":4: source.kafka.subscrbe: unknown key, did you mean subscribe?\n" +
		path + `:6: source.schema: field 2 ("action"): unknown type "STRNG" (want STRING, INT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP or DATE)` + "\n" +
		path + `:8: trigger.processingTime: invalid duration "5 parsecs" (want e.g. 500ms, 10s, 1m or "10 seconds")` + "\n"
	if r := cli(t, "validate", path); r.code != 2 || r.stderr != want {
		t.Errorf("validate: exit %d, stderr:\n%s\nwant exit 2 and:\n%s", r.code, r.stderr, want)
	}
}

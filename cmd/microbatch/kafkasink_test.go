package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/internal/kafkatest"
)

// run with sink.kafka: a missing topic is an error naming it; with
// createTopic the update query's rows land keyed by page, with the job and
// batch headers, read back by a read_committed franz-go consumer.
func TestRunKafkaSink(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1})
	b.Produce(t, "clicks", []kafkatest.Record{
		{Value: []byte(`{"page":"a"}`)}, {Value: []byte(`{"page":"b"}`)}, {Value: []byte(`{"page":"a"}`)},
	})
	dir := t.TempDir()
	write := func(createTopic string) string {
		job := fmt.Sprintf(`name: pv
source:
  kafka:
    bootstrap.servers: %s
    subscribe: clicks
    startingOffsets: earliest
  format: json
  schema: "page STRING"
trigger:
  availableNow: true
query: SELECT page, count(*) AS views FROM events GROUP BY page
outputMode: update
sink:
  kafka:
    topic: page-counts
    linger.ms: 1
%scheckpointLocation: %s
`, b.Addr, createTopic, filepath.Join(dir, "ckpt"))
		path := filepath.Join(dir, "job.yaml")
		if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	r := cli(t, "run", write(""))
	if r.code == 0 || !strings.Contains(r.stderr, `topic "page-counts" does not exist (set createTopic to create it)`) {
		t.Fatalf("missing topic: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = cli(t, "run", write("    createTopic: {partitions: 2}\n"))
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("run: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumeTopics("page-counts"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(got) < 2 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(rec *kgo.Record) {
			var hs []string
			for _, h := range rec.Headers {
				hs = append(hs, h.Key+"="+string(h.Value))
			}
			got = append(got, fmt.Sprintf("%s %s %s", rec.Key, rec.Value, strings.Join(hs, ",")))
		})
	}
	sort.Strings(got)
	want := []string{
		`{"page":"a"} {"page":"a","views":2} microbatch.job=pv,microbatch.batch=0`,
		`{"page":"b"} {"page":"b","views":1} microbatch.job=pv,microbatch.batch=0`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("page-counts =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A second run of the job (another checkpoint, the same
// transactionalIdPrefix) fences the first: the first stops with "another
// instance took over" on its next batch, and librdkafka's own log lines
// (its fatal "%0|...|FATAL|..." on fencing) reach stderr only through the
// product's logger, never raw.
func TestRunKafkaSinkFenced(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1, "out": 1})
	b.Produce(t, "clicks", []kafkatest.Record{{Value: []byte(`{"page":"a"}`)}})
	dir := t.TempDir()
	write := func(name, trigger string) string {
		job := fmt.Sprintf(`name: pv
source:
  kafka:
    bootstrap.servers: %s
    subscribe: clicks
    startingOffsets: earliest
  format: json
  schema: "page STRING"
trigger:
  %s
query: SELECT page FROM events
sink:
  kafka:
    topic: out
    linger.ms: 1
checkpointLocation: %s
`, b.Addr, trigger, filepath.Join(dir, name))
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	first := startProc(t, "run", write("first", "processingTime: 100ms"), "--log-level", "info")
	first.waitFor(true, regexp.MustCompile(`batch 0\b`))
	if r := cli(t, "run", write("second", "availableNow: true")); r.code != 0 {
		t.Fatalf("second: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	b.Produce(t, "clicks", []kafkatest.Record{{Value: []byte(`{"page":"b"}`)}})
	select {
	case <-first.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the fenced run did not stop; stderr:\n%s", first.stderr.String())
	}
	stderr := first.stderr.String()
	if first.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(stderr, "another instance took over") {
		t.Fatalf("fenced run: exit %d, stderr:\n%s", first.cmd.ProcessState.ExitCode(), stderr)
	}
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "%") {
			t.Errorf("raw librdkafka line on stderr: %s", line)
		}
	}
	// librdkafka's errors on the way to "another instance took over" go
	// through the product's logger, at info: the run's error says it.
	if !regexp.MustCompile(`level=INFO msg="librdkafka: .*fenced.*" client=rdkafka#producer-\d+ tag=FATAL\n`).MatchString(stderr) {
		t.Errorf("librdkafka's fatal error was not logged by the product's logger at info; stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, `level=ERROR msg="librdkafka:`) {
		t.Errorf("librdkafka's fencing errors logged as errors; stderr:\n%s", stderr)
	}
}

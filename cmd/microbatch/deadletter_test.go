package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/internal/kafkatest"
)

// run with source.deadLetter: a missing dead-letter topic is an error
// naming it; with createTopic each malformed record lands there once, with
// Kafka Connect's context headers, read back by a read_committed franz-go
// consumer, both with the console sink (the dead letters' own
// transaction, its markers in source.deadLetter.progressTopic) and with
// sink.kafka (its transaction, its markers).
func TestRunDeadLetters(t *testing.T) {
	for _, sink := range []string{"console: {}", "kafka: {topic: out, createTopic: {partitions: 1}}"} {
		t.Run(strings.Fields(sink)[0], func(t *testing.T) {
			b := kafkatest.Start(t, map[string]int32{"clicks": 1})
			b.Produce(t, "clicks", []kafkatest.Record{
				{Value: []byte(`{"page":"a","n":1}`)}, {Key: []byte("k"), Value: []byte(`{"page":"b","n":true}`)},
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
  schema: "page STRING, n BIGINT"
  deadLetter:
    topic: clicks-dlq
    progressTopic: dlq-marks
%strigger:
  availableNow: true
query: SELECT page FROM events WHERE n IS NOT NULL
sink:
  %s
checkpointLocation: %s
`, b.Addr, createTopic, sink, filepath.Join(dir, "ckpt"))
				path := filepath.Join(dir, "job.yaml")
				if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
					t.Fatal(err)
				}
				return path
			}
			r := cli(t, "run", write(""))
			if r.code == 0 || !strings.Contains(r.stderr, `topic "clicks-dlq" does not exist (set createTopic to create it)`) {
				t.Fatalf("missing topic: exit %d, stderr:\n%s", r.code, r.stderr)
			}
			r = cli(t, "run", write("    createTopic: {partitions: 1}\n"))
			if r.code != 0 {
				t.Fatalf("run: exit %d, stderr:\n%s", r.code, r.stderr)
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumeTopics("clicks-dlq"),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			var got []string
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			for ctx.Err() == nil { // until the timeout: any extra record shows
				cl.PollFetches(ctx).EachRecord(func(rec *kgo.Record) {
					var hs []string
					for _, h := range rec.Headers {
						hs = append(hs, h.Key+"="+string(h.Value))
					}
					got = append(got, fmt.Sprintf("%s %s %s", rec.Key, rec.Value, strings.Join(hs, ",")))
				})
			}
			want := []string{`k {"page":"b","n":true} __connect.errors.topic=clicks,__connect.errors.partition=0,__connect.errors.offset=1,` +
				`__connect.errors.exception.class.name=MalformedRecord,__connect.errors.exception.message=column "n": expected an integer for BIGINT, got a boolean,` +
				`microbatch.job=pv,microbatch.batch=0`}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("clicks-dlq =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			markers, wantMarkers := readAll(t, b.Addr, "dlq-marks"), "[pv-deadletter=0]"
			if strings.HasPrefix(sink, "kafka") {
				markers, wantMarkers = readAll(t, b.Addr, "out.microbatch-progress"), "[pv-kafka=0]"
			}
			if fmt.Sprint(markers) != wantMarkers {
				t.Fatalf("markers = %v, want %s", markers, wantMarkers)
			}
		})
	}
}

// readAll returns topic's records read_committed as "key=value", until
// none came for a second.
func readAll(t *testing.T, addr, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := len(out)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Key)+"="+string(r.Value)) })
		if len(out) == n {
			return out
		}
	}
}

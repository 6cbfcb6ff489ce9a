package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/sinks"
	"github.com/microbatch/microbatch/sql"
)

// deadLetterChild runs the crash test's query with dead letters to "dlq":
// with a ForEachBatch sink (envKind deadletter-own: the dead letters'
// own transaction) or the Kafka sink to "out" (deadletter-shared: its
// transaction), killing itself at envKillAt of batch envKillBatch:
//   - in-sink (own): in the ForEachBatch sink, before the dead letters'
//     transaction began;
//   - before-kafka-commit: the transaction holding the dead letters (and
//     the marker) is produced, not committed;
//   - after-kafka-commit, after-bbolt-commit: as in crashChild.
func deadLetterChild() error {
	schema, err := dataframe.ParseSchema("n BIGINT")
	if err != nil {
		return err
	}
	plan, err := sql.Compile("SELECT n, n * 10 AS m FROM events WHERE n % 3 <> 1", "events", schema)
	if err != nil {
		return err
	}
	addr, at := os.Getenv(envAddr), os.Getenv(envKillAt)
	batch, _ := strconv.ParseInt(os.Getenv(envKillBatch), 10, 64)
	props := map[string]string{"bootstrap.servers": addr}
	var sink engine.Sink = engine.ForEachBatch(func(_ context.Context, out *engine.Output) error {
		if at == "in-sink" && out.BatchID == batch {
			killSelf(0)
		}
		return nil
	})
	shared := os.Getenv(envKind) == "deadletter-shared"
	if shared {
		k, err := sinks.NewKafka(sinks.KafkaOptions{Props: props, Topic: "out", Job: "crash"})
		if err != nil {
			return err
		}
		if at == "before-kafka-commit" {
			killBeforeCommit(k, batch)
		}
		sink = k
	}
	dl, err := sinks.WithDeadLetters(sink, sinks.DeadLetterOptions{Props: props, Topic: "dlq", Job: "crash"})
	if err != nil {
		return err
	}
	if !shared && at == "before-kafka-commit" {
		sinks.SetDeadLetterBeforeCommit(dl, func(id int64) {
			if id == batch {
				killSelf(100 * time.Millisecond)
			}
		})
	}
	return runChildQuery(engine.Config{
		Source: engine.KafkaSource{BootstrapServers: addr, Subscribe: []string{"in"}, StartingOffsets: "earliest", MaxRatePerPartition: 10,
			DeadLetter: engine.DeadLetter{Topic: "dlq"}},
		Format: dataframe.FormatJSON, Schema: schema, Query: plan, OutputMode: dataframe.Append,
		Sink: killAround{dl, at, batch},
	})
}

// deadLetterInput is 60 records, every fifth malformed (in 3 shapes: a
// wrong type, no JSON, a value over lines), with keys (some null),
// timestamps and headers (repeated keys, binary values, empty ones), and
// the dead letters expected of them in batches of 10 records
// (MaxRatePerPartition 10), rendered by dlqRecord; and the rows.
func deadLetterInput() (in []*kgo.Record, dlq, rows []string) {
	for i := 0; i < 60; i++ {
		r := &kgo.Record{Value: []byte(fmt.Sprintf(`{"n":%d}`, i)), Timestamp: time.UnixMilli(1700000000000 + int64(i)*7)}
		if i%2 == 0 {
			r.Key = []byte(fmt.Sprint("k", i))
		}
		if i%3 == 0 {
			r.Headers = []kgo.RecordHeader{{Key: "trace", Value: []byte(fmt.Sprint("t-", i))}, {Key: "bin", Value: []byte{0, byte(i), 0xff}}, {Key: "trace"}}
		}
		if i%5 != 2 {
			in = append(in, r)
			if i%3 != 1 {
				rows = append(rows, fmt.Sprintf(`{"n":%d,"m":%d}`, i, i*10))
			}
			continue
		}
		var msg string
		switch i % 3 {
		case 0:
			r.Value, msg = []byte(fmt.Sprintf(`{"n":"%d"}`, i)), `column "n": expected an integer for BIGINT, got a string`
		case 1:
			r.Value, msg = []byte(fmt.Sprintf("not json %d", i)), "not a JSON object"
		case 2:
			r.Value, msg = []byte(fmt.Sprintf("{\"n\":\n%d,\n", i)), "invalid JSON: unexpected end where an object key was expected"
		}
		in = append(in, r)
		want := *r
		want.Headers = append(append([]kgo.RecordHeader(nil), r.Headers...), []kgo.RecordHeader{
			{Key: sinks.HeaderErrTopic, Value: []byte("in")},
			{Key: sinks.HeaderErrPartition, Value: []byte("0")},
			{Key: sinks.HeaderErrOffset, Value: []byte(strconv.Itoa(i))},
			{Key: sinks.HeaderErrClass, Value: []byte(sinks.MalformedRecordClass)},
			{Key: sinks.HeaderErrMessage, Value: []byte(msg)},
			{Key: "microbatch.job", Value: []byte("crash")},
			{Key: "microbatch.batch", Value: []byte(strconv.Itoa(i / 10))},
		}...)
		dlq = append(dlq, dlqRecord(&want))
	}
	return in, dlq, rows
}

// dlqRecord renders every byte of r a reader sees: key (null or not),
// value, timestamp, headers in order.
func dlqRecord(r *kgo.Record) string {
	var b strings.Builder
	if r.Key == nil {
		b.WriteString("key=null")
	} else {
		fmt.Fprintf(&b, "key=%q", r.Key)
	}
	fmt.Fprintf(&b, " value=%q ts=%d headers=[", r.Value, r.Timestamp.UnixMilli())
	for i, h := range r.Headers {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%q=%q", h.Key, h.Value)
	}
	b.WriteString("]")
	return b.String()
}

// readRecords returns the records of topic a read_committed franz-go
// consumer sees, rendered by dlqRecord, waiting until want arrived and
// then briefly for any extra one.
func readRecords(t *testing.T, addr, topic string, want int) []string {
	t.Helper()
	return pollTopic(t, addr, topic, want, kgo.ReadCommitted(), dlqRecord)
}

// A process killed with SIGKILL at each point of batch 2's dead-letter
// write, and restarted: the dead-letter topic holds exactly the malformed
// records, byte for byte (key, value, timestamp, original headers, then
// the context headers), once each and in order; with the Kafka sink its
// output holds every row once.
func TestDeadLettersCrashExactlyOnce(t *testing.T) {
	for _, tc := range []struct{ kind, at string }{
		{"deadletter-own", "in-sink"},
		{"deadletter-own", "before-kafka-commit"},
		{"deadletter-own", "after-kafka-commit"},
		{"deadletter-own", "after-bbolt-commit"},
		{"deadletter-shared", "before-kafka-commit"},
		{"deadletter-shared", "after-kafka-commit"},
		{"deadletter-shared", "after-bbolt-commit"},
	} {
		t.Run(tc.kind+"/"+tc.at, func(t *testing.T) {
			b := kafkatest.Start(t, map[string]int32{"in": 1, "out": 1, "dlq": 1})
			in, wantDLQ, wantRows := deadLetterInput()
			produceAt(t, b.Addr, "in", in...)
			dir := filepath.Join(t.TempDir(), "ckpt")
			if err := runChildKind(t, tc.kind, b.Addr, dir, tc.at, 2); !errors.Is(err, errKilled) {
				t.Fatalf("first run: %v, want killed", err)
			}
			if err := runChildKind(t, tc.kind, b.Addr, dir, "", -1); err != nil {
				t.Fatalf("restart: %v", err)
			}
			if tc.at == "before-kafka-commit" {
				// The killed transaction's dead letters are in the log, aborted.
				if n := len(readTopicAt(t, b.Addr, "dlq", len(wantDLQ)+1, kgo.ReadUncommitted())); n <= len(wantDLQ) {
					t.Fatalf("read_uncommitted sees %d dead letters, want more than the %d committed", n, len(wantDLQ))
				}
			}
			if got := readRecords(t, b.Addr, "dlq", len(wantDLQ)); fmt.Sprint(got) != fmt.Sprint(wantDLQ) {
				t.Fatalf("dlq (%d records) =\n%s\nwant (%d)\n%s", len(got), strings.Join(got, "\n"), len(wantDLQ), strings.Join(wantDLQ, "\n"))
			}
			if tc.kind == "deadletter-shared" {
				var got []string
				for _, r := range readTopic(t, b.Addr, "out", len(wantRows)) {
					got = append(got, strings.Split(r, "|")[1])
				}
				if fmt.Sprint(got) != fmt.Sprint(wantRows) {
					t.Fatalf("out (%d records) =\n%s\nwant (%d)\n%s", len(got), strings.Join(got, "\n"), len(wantRows), strings.Join(wantRows, "\n"))
				}
			}
		})
	}
}

package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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

// readDeadLetters returns the records of topic a read_committed franz-go
// consumer sees, as "key|value|timestamp ms|headers", waiting until want
// arrived and then briefly for any extra one.
func readDeadLetters(t *testing.T, addr, topic string, want int) []string {
	t.Helper()
	return pollTopic(t, addr, topic, want, kgo.ReadCommitted(), func(r *kgo.Record) string {
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, h.Key+"="+string(h.Value))
		}
		return fmt.Sprintf("%s|%s|%d|%s", r.Key, r.Value, r.Timestamp.UnixMilli(), strings.Join(hs, ","))
	})
}

// produceAt writes records with keys and timestamps with franz-go.
func produceAt(t *testing.T, addr, topic string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// A JSON source with malformed records, run by the engine: the
// dead-letter topic holds each malformed record once, with its key, value
// and timestamp and Kafka Connect's context headers, both when the dead
// letters join the Kafka sink's transaction and when a ForEachBatch sink
// leaves them a transaction of their own.
func TestDeadLettersInEngine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kafka bool
	}{{"kafka sink", true}, {"foreachbatch sink", false}} {
		t.Run(tc.name, func(t *testing.T) {
			b := kafkatest.Start(t, map[string]int32{"clicks": 1, "pv": 1, "dlq": 1})
			schema, err := dataframe.ParseSchema("page STRING, n BIGINT")
			if err != nil {
				t.Fatal(err)
			}
			plan, err := sql.Compile("SELECT page, n FROM events WHERE n IS NOT NULL", "events", schema)
			if err != nil {
				t.Fatal(err)
			}
			ckpt := filepath.Join(t.TempDir(), "ckpt")
			var rows []string
			run := func() {
				t.Helper()
				var sink engine.Sink = engine.ForEachBatch(func(_ context.Context, out *engine.Output) error {
					rows = append(rows, fmt.Sprintf("batch %d: %d rows", out.BatchID, out.NumRows()))
					return nil
				})
				if tc.kafka {
					k, err := sinks.NewKafka(sinks.KafkaOptions{Props: b.Props(), Topic: "pv", Job: "pv"})
					if err != nil {
						t.Fatal(err)
					}
					sink = k
				}
				sink, err := sinks.WithDeadLetters(sink, sinks.DeadLetterOptions{Props: b.Props(), Topic: "dlq", Job: "pv"})
				if err != nil {
					t.Fatal(err)
				}
				q, err := engine.New(engine.Config{
					Name:   "pv",
					Source: engine.KafkaSource{BootstrapServers: b.Addr, Subscribe: []string{"clicks"}, StartingOffsets: "earliest"},
					Format: dataframe.FormatJSON, Schema: schema, Query: plan, OutputMode: dataframe.Append,
					Trigger: engine.Trigger{AvailableNow: true}, Sink: sink, CheckpointLocation: ckpt,
				})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				if err := q.Run(ctx); err != nil {
					t.Fatal(err)
				}
			}
			ts := func(ms int64) time.Time { return time.UnixMilli(ms) }
			produceAt(t, b.Addr, "clicks",
				&kgo.Record{Key: []byte("k0"), Value: []byte(`{"page":"a","n":1}`), Timestamp: ts(1700000000000)},
				&kgo.Record{Key: []byte("k1"), Value: []byte(`{"page":"b","n":"two"}`), Timestamp: ts(1700000000001),
					Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t-1")}, {Key: "empty"}, {Key: "trace", Value: []byte{0, 0xff}}}},
				&kgo.Record{Value: []byte(`not json`), Timestamp: ts(1700000000002)},
			)
			run()
			produceAt(t, b.Addr, "clicks",
				&kgo.Record{Key: []byte("k3"), Value: []byte(`{"page":"c","n":3}`), Timestamp: ts(1700000000003)},
				&kgo.Record{Key: []byte("k4"), Value: []byte(`{"page":"d","n":4.5}`), Timestamp: ts(1700000000004)},
			)
			run()
			run() // nothing new: no batch, no dead letter again
			got := readDeadLetters(t, b.Addr, "dlq", 3)
			ctx := func(off int, msg string, batch int) string {
				return fmt.Sprintf("__connect.errors.topic=clicks,__connect.errors.partition=0,__connect.errors.offset=%d,"+
					"__connect.errors.exception.class.name=MalformedRecord,__connect.errors.exception.message=%s,"+
					"microbatch.job=pv,microbatch.batch=%d", off, msg, batch)
			}
			want := []string{
				`k1|{"page":"b","n":"two"}|1700000000001|trace=t-1,empty=,trace=` + "\x00\xff," + ctx(1, `column "n": expected an integer for BIGINT, got a string`, 0),
				`|not json|1700000000002|` + ctx(2, `not a JSON object`, 0),
				`k4|{"page":"d","n":4.5}|1700000000004|` + ctx(4, `column "n": expected an integer for BIGINT, got "4.5"`, 1),
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("dlq =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if tc.kafka {
				pv := readTopic(t, b.Addr, "pv", 2)
				wantPV := []string{`|{"page":"a","n":1}|microbatch.job=pv,microbatch.batch=0`, `|{"page":"c","n":3}|microbatch.job=pv,microbatch.batch=1`}
				if fmt.Sprint(pv) != fmt.Sprint(wantPV) {
					t.Fatalf("pv = %q, want %q", pv, wantPV)
				}
			} else if fmt.Sprint(rows) != "[batch 0: 1 rows batch 1: 1 rows]" {
				t.Fatalf("sink saw %q", rows)
			}
		})
	}
}

// A batch re-run after a crash between the Kafka commit and the bbolt
// commit (Open gets lastCommitted -1 again) writes no dead letter again,
// in both modes; in the Kafka sink's mode the dead letters are in its
// open transaction before the commit, with no marker of their own.
func TestDeadLettersRerunBatch(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			b := kafkatest.Start(t, map[string]int32{"pv": 1, "dlq": 2})
			bad := func(id int64) *engine.Output {
				return &engine.Output{BatchID: id, Schema: pageSchema, Malformed: []engine.MalformedRecord{{
					Topic: "clicks", Partition: 3, Offset: 10 + id, Timestamp: 1700000000000 + id,
					Key: []byte(fmt.Sprint("k", id)), Value: []byte{'{', 0xff}, Reason: "not a JSON object",
				}}}
			}
			var inTxn []string
			newSink := func() engine.Sink {
				var sink engine.Sink = engine.ForEachBatch(func(context.Context, *engine.Output) error { return nil })
				if shared {
					k, err := sinks.NewKafka(sinks.KafkaOptions{Props: b.Props(), Topic: "pv", Job: "pv"})
					if err != nil {
						t.Fatal(err)
					}
					sinks.SetBeforeCommit(k, func(int64) {
						inTxn = []string{fmt.Sprint(len(readTopicAt(t, b.Addr, "dlq", 1, kgo.ReadUncommitted()))),
							fmt.Sprint(len(readTopicAt(t, b.Addr, "dlq", 0, kgo.ReadCommitted())))}
					})
					sink = k
				}
				s, err := sinks.WithDeadLetters(sink, sinks.DeadLetterOptions{Props: b.Props(), Topic: "dlq", Job: "pv"})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := s.(engine.SinkOpener).Open(ctx, -1); err != nil {
					t.Fatal(err)
				}
				return s
			}
			addBatch := func(s engine.Sink, out *engine.Output) {
				t.Helper()
				if err := s.AddBatch(context.Background(), out); err != nil {
					t.Fatal(err)
				}
			}
			s := newSink()
			addBatch(s, bad(0))
			if shared && fmt.Sprint(inTxn) != "[1 0]" {
				t.Fatalf("before the commit: %v dead letters read uncommitted and committed, want [1 0]", inTxn)
			}
			s.(interface{ Close() error }).Close()
			s = newSink() // the crash: bbolt never committed batch 0
			addBatch(s, bad(0))
			addBatch(s, bad(1))
			over := bad(2)
			over.MalformedOverflow = 1
			if err := s.AddBatch(context.Background(), over); err == nil || !strings.Contains(err.Error(), `batch 2: 1 malformed records past the bytes a batch captures cannot go to dead-letter topic "dlq"`) {
				t.Fatalf("overflow: %v", err)
			}
			s.(interface{ Close() error }).Close()
			got := readDeadLetters(t, b.Addr, "dlq", 2)
			slices.Sort(got)
			h := "__connect.errors.topic=clicks,__connect.errors.partition=3,__connect.errors.offset=%d,__connect.errors.exception.class.name=MalformedRecord,__connect.errors.exception.message=not a JSON object,microbatch.job=pv,microbatch.batch=%d"
			want := []string{
				"k0|{\xff|1700000000000|" + fmt.Sprintf(h, 10, 0),
				"k1|{\xff|1700000000001|" + fmt.Sprintf(h, 11, 1),
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("dlq =\n%q\nwant\n%q", got, want)
			}
			markers := readTopicAt(t, b.Addr, "dlq.microbatch-progress", 0, kgo.ReadCommitted())
			if shared && len(markers) != 0 || !shared && fmt.Sprint(markers) != "[pv-deadletter|0|microbatch.job=pv,microbatch.batch=0 pv-deadletter|1|microbatch.job=pv,microbatch.batch=1]" {
				t.Fatalf("dead-letter markers: %q", markers)
			}
		})
	}
}

// A missing dead-letter topic is an error naming it, unless CreateTopic.
func TestDeadLettersMissingTopic(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"pv": 1})
	for _, shared := range []bool{true, false} {
		var sink engine.Sink = engine.ForEachBatch(func(context.Context, *engine.Output) error { return nil })
		if shared {
			k, err := sinks.NewKafka(sinks.KafkaOptions{Props: b.Props(), Topic: "pv", Job: "pv"})
			if err != nil {
				t.Fatal(err)
			}
			sink = k
		}
		for _, create := range []*sinks.CreateTopic{nil, {Partitions: 2, ReplicationFactor: 1}} {
			topic := fmt.Sprintf("dlq-%v-%v", shared, create != nil)
			s, err := sinks.WithDeadLetters(sink, sinks.DeadLetterOptions{Props: b.Props(), Topic: topic, Job: "pv", CreateTopic: create})
			if err != nil {
				t.Fatal(err)
			}
			err = s.(engine.SinkOpener).Open(context.Background(), -1)
			s.(interface{ Close() error }).Close()
			want := fmt.Sprintf(`topic %q does not exist (set createTopic to create it)`, topic)
			if create == nil && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Fatalf("shared=%v: Open = %v, want an error containing %s", shared, err, want)
			}
			if create != nil && err != nil {
				t.Fatalf("shared=%v createTopic: Open = %v", shared, err)
			}
		}
	}
}

// A second dead-letter writer with the same transactional.id
// ("<prefix>-deadletter", transactions of its own) fences the first: the
// first's next batch fails with ErrFenced, saying another instance took
// over, and writes nothing; the second writes on.
func TestDeadLettersFenced(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"dlq": 1})
	bad := func(id int64) *engine.Output {
		return &engine.Output{BatchID: id, Schema: pageSchema, Malformed: []engine.MalformedRecord{{
			Topic: "clicks", Offset: id, Timestamp: 1700000000000 + id, Value: []byte(fmt.Sprint("bad ", id)), Reason: "not a JSON object",
		}}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	newSink := func() engine.Sink {
		s, err := sinks.WithDeadLetters(engine.ForEachBatch(func(context.Context, *engine.Output) error { return nil }),
			sinks.DeadLetterOptions{Props: b.Props(), Topic: "dlq", Job: "pv", TransactionalIDPrefix: "clicks"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.(interface{ Close() error }).Close() })
		if err := s.(engine.SinkOpener).Open(ctx, -1); err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := newSink()
	if err := first.AddBatch(ctx, bad(0)); err != nil {
		t.Fatal(err)
	}
	second := newSink() // its checkpoint is at batch 0 too: the marker (0) is not ahead
	err := first.AddBatch(ctx, bad(1))
	if !errors.Is(err, sinks.ErrFenced) || !strings.Contains(err.Error(), "another instance took over") || !strings.Contains(err.Error(), "clicks-deadletter") {
		t.Fatalf("fenced writer's batch 1: %v, want ErrFenced naming clicks-deadletter", err)
	}
	if err := second.AddBatch(ctx, bad(1)); err != nil {
		t.Fatal(err)
	}
	got := readDeadLetters(t, b.Addr, "dlq", 2)
	var vals []string
	for _, r := range got {
		vals = append(vals, strings.Split(r, "|")[1])
	}
	if fmt.Sprint(vals) != "[bad 0 bad 1]" {
		t.Fatalf("dlq = %q, want bad 0 then bad 1 once each", got)
	}
}

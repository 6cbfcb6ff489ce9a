package sinks_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/sinks"
)

// readTopic returns the records of topic a read_committed franz-go
// consumer sees, as "key|value|headers" (value <nil> for a tombstone),
// waiting until want arrived and then briefly for any extra one.
func readTopic(t *testing.T, addr, topic string, want int) []string {
	t.Helper()
	return readTopicAt(t, addr, topic, want, kgo.ReadCommitted())
}

func readTopicAt(t *testing.T, addr, topic string, want int, level kgo.IsolationLevel) []string {
	t.Helper()
	return pollTopic(t, addr, topic, want, level, func(r *kgo.Record) string {
		v := "<nil>"
		if r.Value != nil {
			v = string(r.Value)
		}
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, h.Key+"="+string(h.Value))
		}
		return string(r.Key) + "|" + v + "|" + strings.Join(hs, ",")
	})
}

// pollTopic returns the records of topic a franz-go consumer at level
// sees, rendered by render, waiting until want arrived (10 s at most) and
// then briefly for any extra one.
func pollTopic(t *testing.T, addr, topic string, want int, level kgo.IsolationLevel, render func(*kgo.Record) string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(level), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		wait := time.Until(deadline)
		if len(out) >= want {
			wait = 300 * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		fs := cl.PollFetches(ctx)
		cancel()
		n := len(out)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, render(r)) })
		if len(out) == n && (len(out) >= want || time.Now().After(deadline)) {
			return out
		}
	}
}

var (
	pageSchema = arrow.NewSchema([]arrow.Field{
		{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "views", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ratio", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	keySchema = arrow.NewSchema([]arrow.Field{{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
)

func pageRec(mem memory.Allocator, pages []string, views []int64, ratios []float64) arrow.Record {
	b := array.NewRecordBuilder(mem, pageSchema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(pages, nil)
	b.Field(1).(*array.Int64Builder).AppendValues(views, nil)
	b.Field(2).(*array.Float64Builder).AppendValues(ratios, nil)
	return b.NewRecord()
}

func keyRec(mem memory.Allocator, pages ...string) arrow.Record {
	b := array.NewRecordBuilder(mem, keySchema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(pages, nil)
	return b.NewRecord()
}

func open(t *testing.T, opts sinks.KafkaOptions, lastCommitted int64) *sinks.Kafka {
	t.Helper()
	k, err := sinks.NewKafka(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.Open(ctx, lastCommitted); err != nil {
		t.Fatal(err)
	}
	return k
}

func add(t *testing.T, k *sinks.Kafka, out *engine.Output) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.AddBatch(ctx, out); err != nil {
		t.Fatalf("batch %d: %v", out.BatchID, err)
	}
}

func TestKafkaSinkAppendExactlyOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"out": 1})
	opts := sinks.KafkaOptions{Props: b.Props(), Topic: "out", Job: "pv"}
	k := open(t, opts, -1)
	if got := k.TransactionalID(); got != "pv-kafka" {
		t.Fatalf("transactional.id = %q", got)
	}
	r0 := pageRec(mem, []string{"a", "b,c"}, []int64{1, 2}, []float64{0.5, 1e20})
	defer r0.Release()
	r1 := pageRec(mem, []string{"d"}, []int64{3}, []float64{0})
	defer r1.Release()
	add(t, k, &engine.Output{BatchID: 0, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{r0}})
	add(t, k, &engine.Output{BatchID: 1, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{r1}})
	want := []string{
		`|{"page":"a","views":1,"ratio":0.5}|microbatch.job=pv,microbatch.batch=0`,
		`|{"page":"b,c","views":2,"ratio":1e+20}|microbatch.job=pv,microbatch.batch=0`,
		`|{"page":"d","views":3,"ratio":0}|microbatch.job=pv,microbatch.batch=1`,
	}
	if got := readTopic(t, b.Addr, "out", 3); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("out =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := readTopic(t, b.Addr, "out.microbatch-progress", 2); fmt.Sprint(got) !=
		"[pv-kafka|0|microbatch.job=pv,microbatch.batch=0 pv-kafka|1|microbatch.job=pv,microbatch.batch=1]" {
		t.Fatalf("progress = %v", got)
	}

	// A restart after a crash between batch 1's Kafka commit and its bbolt
	// commit: Open gets 0, the marker says 1, batch 1 is skipped and
	// batch 2 written once. The new instance fences the old one.
	k2 := open(t, opts, 0)
	add(t, k2, &engine.Output{BatchID: 1, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{r1}})
	add(t, k2, &engine.Output{BatchID: 2, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{r1}})
	want = append(want, `|{"page":"d","views":3,"ratio":0}|microbatch.job=pv,microbatch.batch=2`)
	if got := readTopic(t, b.Addr, "out", 4); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("out after restart =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := k.AddBatch(ctx, &engine.Output{BatchID: 2, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{r1}})
	if !errors.Is(err, sinks.ErrFenced) || !strings.Contains(err.Error(), "another instance took over") {
		t.Fatalf("fenced sink's AddBatch: %v, want ErrFenced", err)
	}
	if got := readTopic(t, b.Addr, "out", 4); len(got) != 4 {
		t.Fatalf("the fenced sink wrote: %v", got)
	}

	// A checkpoint that is behind the marker by more than one batch is
	// another query's: refused.
	k3, err := sinks.NewKafka(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer k3.Close()
	if err := k3.Open(ctx, -1); err == nil || !strings.Contains(err.Error(), "marker of pv-kafka in out.microbatch-progress is at batch 2") {
		t.Fatalf("Open behind the marker: %v", err)
	}
	// ... before it fences anyone: the running instance goes on.
	add(t, k2, &engine.Output{BatchID: 3, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{r1}})
	want = append(want, `|{"page":"d","views":3,"ratio":0}|microbatch.job=pv,microbatch.batch=3`)
	if got := readTopic(t, b.Addr, "out", 5); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("out after the refused Open =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestKafkaSinkUpdateTombstones(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"counts": 2})
	for _, format := range []string{"json", "csv"} {
		topic := "counts"
		if format == "csv" {
			topic = "counts-csv"
		}
		opts := sinks.KafkaOptions{Props: b.Props(), Topic: topic, Job: "pv", Format: format, Name: format,
			CreateTopic: &sinks.CreateTopic{Partitions: 1, ReplicationFactor: 1}}
		k := open(t, opts, -1)
		r0 := pageRec(mem, []string{"a", "b"}, []int64{1, 2}, []float64{1, 2})
		r1 := pageRec(mem, []string{"a"}, []int64{5}, []float64{3})
		del := keyRec(mem, "b")
		add(t, k, &engine.Output{BatchID: 0, Mode: dataframe.Update, Schema: pageSchema, Records: []arrow.Record{r0}, KeySchema: keySchema})
		add(t, k, &engine.Output{BatchID: 1, Mode: dataframe.Update, Schema: pageSchema, Records: []arrow.Record{r1}, KeySchema: keySchema, Deleted: del})
		r0.Release()
		r1.Release()
		del.Release()
		got := readTopic(t, b.Addr, topic, 4)
		var want []string
		if format == "json" {
			// Two partitions: the order is per key.
			want = []string{
				`{"page":"a"}|{"page":"a","views":1,"ratio":1.0}|microbatch.job=pv,microbatch.batch=0`,
				`{"page":"a"}|{"page":"a","views":5,"ratio":3.0}|microbatch.job=pv,microbatch.batch=1`,
				`{"page":"b"}|{"page":"b","views":2,"ratio":2.0}|microbatch.job=pv,microbatch.batch=0`,
				`{"page":"b"}|<nil>|microbatch.job=pv,microbatch.batch=1`,
			}
			got = byKey(got)
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], ".0}", "}")
			}
		} else {
			want = []string{
				`a|a,1,1.0|microbatch.job=pv,microbatch.batch=0`,
				`b|b,2,2.0|microbatch.job=pv,microbatch.batch=0`,
				`a|a,5,3.0|microbatch.job=pv,microbatch.batch=1`,
				`b|<nil>|microbatch.job=pv,microbatch.batch=1`,
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: out =\n%s\nwant\n%s", format, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// byKey orders records by key, stably (a partition keeps its order).
func byKey(recs []string) []string {
	out := append([]string(nil), recs...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && strings.SplitN(out[j], "|", 2)[0] < strings.SplitN(out[j-1], "|", 2)[0]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func TestKafkaSinkMissingTopicAndAtLeastOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"out": 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, err := sinks.NewKafka(sinks.KafkaOptions{Props: b.Props(), Topic: "nope", Job: "pv"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Open(ctx, -1); err == nil || !strings.Contains(err.Error(), `topic "nope" does not exist`) {
		t.Fatalf("missing topic: %v", err)
	}
	k.Close()
	if _, err := sinks.NewKafka(sinks.KafkaOptions{Props: b.Props(), Topic: "out", Format: "avro", DeliveryGuarantee: "maybe"}); err == nil ||
		!strings.Contains(err.Error(), `format "avro"`) || !strings.Contains(err.Error(), `deliveryGuarantee "maybe"`) {
		t.Fatalf("bad options: %v", err)
	}

	opts := sinks.KafkaOptions{Props: b.Props(), Topic: "out", Job: "pv", DeliveryGuarantee: sinks.AtLeastOnce, Key: []string{"views", "page"}}
	r := pageRec(mem, []string{"a"}, []int64{1}, []float64{1})
	defer r.Release()
	out := &engine.Output{BatchID: 0, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{r}}
	add(t, open(t, opts, -1), out)
	add(t, open(t, opts, -1), out) // a re-run batch is written again
	rec := `{"views":1,"page":"a"}|{"page":"a","views":1,"ratio":1}|microbatch.job=pv,microbatch.batch=0`
	if got := readTopic(t, b.Addr, "out", 2); fmt.Sprint(got) != fmt.Sprint([]string{rec, rec}) {
		t.Fatalf("at-least-once out = %v", got)
	}
	if got := readTopic(t, b.Addr, "out.microbatch-progress", 0); len(got) != 0 {
		t.Fatalf("at-least-once wrote markers: %v", got)
	}
}

// transaction.timeout.ms above the broker's transaction.max.timeout.ms is
// refused by Open, before the first batch.
func TestKafkaSinkTransactionTimeoutRefused(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"out": 1}, kfake.BrokerConfigs(map[string]string{"transaction.max.timeout.ms": "5000"}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	props := b.Props()
	props["transaction.timeout.ms"] = "10000"
	k, err := sinks.NewKafka(sinks.KafkaOptions{Props: props, Topic: "out", Job: "pv"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.Open(ctx, -1); err == nil || !strings.Contains(err.Error(), "transaction.timeout.ms 10000 is more than the broker allows") {
		t.Fatalf("Open: %v", err)
	}
	props["transaction.timeout.ms"] = "5000"
	open(t, sinks.KafkaOptions{Props: props, Topic: "out", Job: "pv"}, -1)
}

// With OmitBatchHeaders the rows and tombstones carry no header; the
// markers keep theirs.
func TestKafkaSinkOmitBatchHeaders(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"counts": 1})
	k := open(t, sinks.KafkaOptions{Props: b.Props(), Topic: "counts", Job: "pv", OmitBatchHeaders: true}, -1)
	r0 := pageRec(mem, []string{"a", "b"}, []int64{1, 2}, []float64{1, 2})
	defer r0.Release()
	del := keyRec(mem, "b")
	defer del.Release()
	add(t, k, &engine.Output{BatchID: 0, Mode: dataframe.Update, Schema: pageSchema, Records: []arrow.Record{r0}, KeySchema: keySchema, Deleted: del})
	want := []string{
		`{"page":"a"}|{"page":"a","views":1,"ratio":1}|`,
		`{"page":"b"}|{"page":"b","views":2,"ratio":2}|`,
		`{"page":"b"}|<nil>|`,
	}
	if got := readTopic(t, b.Addr, "counts", 3); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("out =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := readTopic(t, b.Addr, "counts.microbatch-progress", 1); fmt.Sprint(got) != "[pv-kafka|0|microbatch.job=pv,microbatch.batch=0]" {
		t.Fatalf("progress = %v", got)
	}
}

// A CSV key of one NULL column is the empty key on every row, never
// Kafka's null key (which a compacted topic refuses) on the first.
func TestKafkaSinkCSVNullKey(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"out": 1})
	k := open(t, sinks.KafkaOptions{Props: b.Props(), Topic: "out", Job: "pv", Format: "csv", Key: []string{"page"}}, -1)
	bld := array.NewRecordBuilder(mem, pageSchema)
	bld.Field(0).(*array.StringBuilder).AppendValues([]string{"", "", "a", ""}, []bool{false, false, true, true})
	bld.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 2, 3, 4}, nil)
	bld.Field(2).(*array.Float64Builder).AppendValues([]float64{1, 2, 3, 4}, nil)
	rec := bld.NewRecord()
	bld.Release()
	defer rec.Release()
	add(t, k, &engine.Output{BatchID: 0, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{rec}})
	got := pollTopic(t, b.Addr, "out", 4, kgo.ReadCommitted(), func(r *kgo.Record) string {
		if r.Key == nil {
			return "<nil>|" + string(r.Value)
		}
		return fmt.Sprintf("%q|%s", r.Key, r.Value)
	})
	// NULL renders as nothing, the empty string as "", as in the values.
	want := []string{`""|,1,1.0`, `""|,2,2.0`, `"a"|a,3,3.0`, `"\"\""|"",4,4.0`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("out = %q, want %q", got, want)
	}
}

// The marker is read by a consumer made of the connection properties
// only: a producer property of the sink's (linger.ms) draws no warning
// from librdkafka about a producer property on a consumer, and what the
// clients log goes to the sink's Logger.
func TestKafkaSinkMarkerReaderProps(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"out": 1})
	var logs syncBuffer
	props := b.Props()
	props["linger.ms"] = "20"
	props["compression.type"] = "lz4"
	opts := sinks.KafkaOptions{Props: props, Topic: "out", Job: "pv", Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	k := open(t, opts, -1)
	r := pageRec(mem, []string{"a"}, []int64{1}, []float64{1})
	defer r.Release()
	add(t, k, &engine.Output{BatchID: 0, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{r}})
	k.Close()
	k2 := open(t, opts, 0)                                                                                         // reads the marker (batch 0) with the consumer
	add(t, k2, &engine.Output{BatchID: 0, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{r}}) // skipped
	k2.Close()
	if got := readTopic(t, b.Addr, "out", 1); len(got) != 1 {
		t.Fatalf("out = %v, want batch 0's row once", got)
	}
	if s := logs.String(); strings.Contains(s, "producer property") || strings.Contains(s, "ignored") {
		t.Fatalf("librdkafka warned:\n%s", s)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

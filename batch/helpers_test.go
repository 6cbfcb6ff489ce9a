package batch

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
)

// testSchema is what testDecoder produces: the record's coordinates and its
// value as a string.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "_partition", Type: arrow.PrimitiveTypes.Int32},
	{Name: "_offset", Type: arrow.PrimitiveTypes.Int64},
	{Name: "value", Type: arrow.BinaryTypes.String},
}, nil)

// testDecoder is a minimal dataframe.Decoder: values "bad" are malformed
// (FAILFAST error when failFast, else dropped).
type testDecoder struct {
	b        *array.RecordBuilder
	failFast bool
	stats    dataframe.DecodeStats
}

func newTestDecoder(mem memory.Allocator, failFast bool) *testDecoder {
	return &testDecoder{b: array.NewRecordBuilder(mem, testSchema), failFast: failFast}
}

func (d *testDecoder) Append(m *dataframe.RecordMeta, value []byte) error {
	if string(value) == "bad" {
		if d.failFast {
			return &dataframe.MalformedRecordError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Reason: "bad value"}
		}
		d.stats.Dropped++
		return nil
	}
	d.b.Field(0).(*array.Int32Builder).Append(m.Partition)
	d.b.Field(1).(*array.Int64Builder).Append(m.Offset)
	d.b.Field(2).(*array.StringBuilder).BinaryBuilder.Append(value)
	d.stats.Rows++
	return nil
}

func (d *testDecoder) Len() int { return d.b.Field(0).Len() }

func (d *testDecoder) Flush() arrow.Record {
	if d.Len() == 0 {
		return nil
	}
	return d.b.NewRecord()
}

func (d *testDecoder) Stats() dataframe.DecodeStats { return d.stats }
func (d *testDecoder) Release()                     { d.b.Release() }

// collector is a job's sinks: it records every (partition, offset) row and
// checks each value against the producer's naming.
type collector struct {
	mu       sync.Mutex                               // guards the fields below
	rows     map[offsets.TopicPartition][]int64       // offsets per partition, in sink order
	records  int                                      // Arrow records consumed
	maxRows  int64                                    // largest Arrow record
	tasks    map[int]offsets.OffsetRange              // sinks created
	consumed func(TaskInfo, arrow.Record) error       // optional hook
	checkVal func(p int32, off int64, v string) error // optional value check
}

func newCollector() *collector {
	return &collector{rows: map[offsets.TopicPartition][]int64{}, tasks: map[int]offsets.OffsetRange{}}
}

type collectorSink struct {
	c    *collector
	info TaskInfo
}

func (c *collector) newSink(t TaskInfo) (TaskSink, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.tasks[t.Index]; dup {
		return nil, fmt.Errorf("task %d: second sink", t.Index)
	}
	c.tasks[t.Index] = t.rng
	return &collectorSink{c: c, info: t}, nil
}

func (s *collectorSink) Consume(rec arrow.Record) error {
	if s.c.consumed != nil {
		if err := s.c.consumed(s.info, rec); err != nil {
			return err
		}
	}
	parts := rec.Column(0).(*array.Int32)
	offs := rec.Column(1).(*array.Int64)
	vals := rec.Column(2).(*array.String)
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.c.records++
	s.c.maxRows = max(s.c.maxRows, rec.NumRows())
	for i := range int(rec.NumRows()) {
		p, off := parts.Value(i), offs.Value(i)
		r := s.info.rng
		if p != r.Partition || off < r.From || off >= r.Until {
			return fmt.Errorf("task %d %s got %d@%d", s.info.Index, r, p, off)
		}
		if s.c.checkVal != nil {
			if err := s.c.checkVal(p, off, vals.Value(i)); err != nil {
				return err
			}
		} else if want := fmt.Sprintf("p%d-%d", p, off); vals.Value(i) != want {
			return fmt.Errorf("%d@%d: value %q, want %q", p, off, vals.Value(i), want)
		}
		tp := offsets.TopicPartition{Topic: r.Topic, Partition: p}
		s.c.rows[tp] = append(s.c.rows[tp], off)
	}
	return nil
}

// job returns a job over ranges decoding with testDecoder into c. Rows
// accumulate over jobs; tasks are those of the last job.
func (c *collector) job(id int64, mem memory.Allocator, failFast bool, ranges ...offsets.OffsetRange) Job {
	c.mu.Lock()
	c.tasks = map[int]offsets.OffsetRange{}
	c.mu.Unlock()
	return Job{
		BatchID: id,
		Ranges:  ranges,
		NewDecoder: func(func(*dataframe.MalformedRecordError)) (dataframe.Decoder, error) {
			return newTestDecoder(mem, failFast), nil
		},
		NewSink: c.newSink,
	}
}

// produceN appends n records to every partition of topic, which must hold
// base records each, so that offset o of partition p holds value p<p>-<o>.
func produceN(t testing.TB, b *kafkatest.Broker, topic string, partitions int32, base, n int) {
	t.Helper()
	var recs []kafkatest.Record
	for p := range partitions {
		for i := base; i < base+n; i++ {
			recs = append(recs, kafkatest.Record{Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, i)})
		}
	}
	b.Produce(t, topic, recs)
}

func seq(from, until int64) []int64 {
	var out []int64
	for o := from; o < until; o++ {
		out = append(out, o)
	}
	return out
}

func newExecutor(t testing.TB, cfg Config) *Executor {
	t.Helper()
	e, err := NewExecutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func run(t testing.TB, e *Executor, job Job) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return e.Run(ctx, job)
}

func rng(topic string, p int32, from, until int64) offsets.OffsetRange {
	return offsets.OffsetRange{Topic: topic, Partition: p, From: from, Until: until}
}

// readers returns the slots' consumers (nil for unused slots).
func (e *Executor) readers() []*kafka.RangeReader {
	var out []*kafka.RangeReader
	for _, s := range e.slots {
		out = append(out, s.reader)
	}
	return out
}

// wantRows checks c holds exactly the offsets of want per partition, in
// order within each task.
func wantRows(t *testing.T, c *collector, want map[offsets.TopicPartition][]int64) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for tp, offs := range c.rows {
		if len(want[tp]) == 0 && len(offs) > 0 {
			t.Fatalf("%s: unexpected %d rows", tp, len(offs))
		}
	}
	for tp, w := range want {
		got := slices.Clone(c.rows[tp])
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Fatalf("%s: got %d rows (first %v), want %d (first %v)", tp, len(got), got[:min(5, len(got))], len(w), w[:min(5, len(w))])
		}
	}
}

// waitGoroutines waits for the goroutine count to fall to base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

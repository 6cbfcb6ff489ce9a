package batch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
)

func TestExecutorExactRangesAcrossBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"a": 3, "b": 2})
	produceN(t, b, "a", 3, 0, 1000)
	produceN(t, b, "b", 2, 0, 1000)
	e := newExecutor(t, Config{Props: b.Props(), Workers: 2, rowsPerRecord: 100})

	// Each batch's ranges per partition; a missing partition has no range in
	// that batch. Batches continue where the previous ended (mid-log, so the
	// consumers hold prefetched records beyond Until), except where noted.
	type plan map[offsets.TopicPartition][2]int64
	tp := func(topic string, p int32) offsets.TopicPartition {
		return offsets.TopicPartition{Topic: topic, Partition: p}
	}
	batches := []plan{
		{tp("a", 0): {0, 100}, tp("a", 1): {0, 1}, tp("a", 2): {0, 999}, tp("b", 0): {0, 500}, tp("b", 1): {0, 0}},
		{tp("a", 0): {100, 101}, tp("a", 1): {1, 400}, tp("a", 2): {999, 1000}, tp("b", 0): {500, 1000}},
		{tp("a", 0): {101, 700}, tp("b", 1): {0, 1000}},                         // a-1, a-2 and b-0 idle
		{tp("a", 0): {700, 1000}, tp("a", 1): {400, 1000}, tp("b", 0): {0, 10}}, // b-0 re-read from 0
		{tp("a", 0): {1000, 1500}, tp("a", 2): {1000, 1200}, tp("b", 0): {10, 1100}},
	}
	var first []any
	for i, bp := range batches {
		if i == 4 {
			produceN(t, b, "a", 3, 1000, 500)
			produceN(t, b, "b", 2, 1000, 500)
		}
		c := newCollector()
		var ranges []offsets.OffsetRange
		want := map[offsets.TopicPartition][]int64{}
		var records int64
		for p, r := range bp {
			ranges = append(ranges, rng(p.Topic, p.Partition, r[0], r[1]))
			want[p] = seq(r[0], r[1])
			records += r[1] - r[0]
		}
		res, err := run(t, e, c.job(int64(i), mem, false, ranges...))
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		wantRows(t, c, want)
		if res.Records != records || res.rows != records || res.Bytes == 0 || res.SkippedOffsets != 0 || res.Dropped != 0 {
			t.Fatalf("batch %d: result %+v, want %d records", i, res, records)
		}
		nonEmpty := 0
		for _, r := range ranges {
			if r.Count() > 0 {
				nonEmpty++
			}
		}
		if len(res.tasks) != nonEmpty || len(c.tasks) != nonEmpty {
			t.Fatalf("batch %d: %d tasks, %d sinks, want %d", i, len(res.tasks), len(c.tasks), nonEmpty)
		}
		for j, ts := range res.tasks {
			if ts.Index != j || ts.Records != ts.Range.Count() || c.tasks[j] != ts.Range {
				t.Fatalf("batch %d: task %d stats %+v", i, j, ts)
			}
			// Only first reads and the re-read of b-0 position the
			// consumer; every other task continues its stream.
			wantSeek := ts.Range.From == 0 || (i == 3 && ts.Range.Topic == "b")
			if ts.Seeked != wantSeek {
				t.Fatalf("batch %d: task %d %s: seeked %v, want %v", i, j, ts.Range, ts.Seeked, wantSeek)
			}
		}
		if c.maxRows > 100 {
			t.Fatalf("batch %d: an Arrow record of %d rows, rowsPerRecord is 100", i, c.maxRows)
		}
		// The same consumer objects serve every batch.
		var rs []any
		for _, r := range e.readers() {
			rs = append(rs, r)
		}
		if first == nil {
			first = rs
		} else if fmt.Sprint(rs) != fmt.Sprint(first) {
			t.Fatalf("batch %d: consumers %v, first batch had %v", i, rs, first)
		}
	}
}

func TestExecutorStickyPartitions(t *testing.T) {
	h := newHomes(3)
	ranges := []offsets.OffsetRange{rng("b", 0, 0, 10), rng("a", 1, 0, 10), rng("a", 0, 0, 10), rng("a", 0, 10, 10)}
	tasks := planTasks(ranges, 0, h)
	want := []task{{0, rng("a", 0, 0, 10), 0, true}, {1, rng("a", 1, 0, 10), 1, true}, {2, rng("b", 0, 0, 10), 2, true}}
	if !slices.Equal(tasks, want) {
		t.Fatalf("tasks %v, want %v", tasks, want)
	}
	// Later batches: same slots; a new partition goes to the emptiest slot.
	tasks = planTasks([]offsets.OffsetRange{rng("c", 0, 0, 1), rng("b", 0, 10, 20)}, 0, h)
	want = []task{{0, rng("b", 0, 10, 20), 2, true}, {1, rng("c", 0, 0, 1), 0, true}}
	if !slices.Equal(tasks, want) {
		t.Fatalf("tasks %v, want %v", tasks, want)
	}
	// Split: 25 offsets in pieces of 10 -> 3 pieces on consecutive slots,
	// the last on the home slot (b-0: 2).
	tasks = planTasks([]offsets.OffsetRange{rng("b", 0, 5, 30)}, 10, h)
	want = []task{{0, rng("b", 0, 5, 15), 0, false}, {1, rng("b", 0, 15, 25), 1, false}, {2, rng("b", 0, 25, 30), 2, true}}
	if !slices.Equal(tasks, want) {
		t.Fatalf("split %v, want %v", tasks, want)
	}
}

func TestExecutorSplitSameRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"s": 2})
	produceN(t, b, "s", 2, 0, 1000)
	e := newExecutor(t, Config{Props: b.Props(), Workers: 3, MaxOffsetsPerTask: 37, rowsPerRecord: 16})
	want := map[offsets.TopicPartition][]int64{
		{Topic: "s", Partition: 0}: seq(0, 500), {Topic: "s", Partition: 1}: seq(3, 1000),
	}
	for i, ranges := range [][]offsets.OffsetRange{
		{rng("s", 0, 0, 100), rng("s", 1, 3, 300)},
		{rng("s", 0, 100, 500), rng("s", 1, 300, 1000)},
	} {
		c := newCollector()
		res, err := run(t, e, c.job(int64(i), mem, false, ranges...))
		if err != nil {
			t.Fatal(err)
		}
		wantTasks := 0
		for _, r := range ranges {
			wantTasks += int((r.Count() + 36) / 37)
		}
		if len(res.tasks) != wantTasks {
			t.Fatalf("batch %d: %d tasks, want %d", i, len(res.tasks), wantTasks)
		}
		for j, ts := range res.tasks {
			if ts.Range.Count() > 37 || ts.Records != ts.Range.Count() || ts.Rows != ts.Records {
				t.Fatalf("task %d: %+v", j, ts)
			}
		}
		for tp, offs := range c.rows {
			for _, o := range offs {
				want[tp] = slices.DeleteFunc(want[tp], func(x int64) bool { return x == o })
			}
		}
	}
	for tp, rest := range want {
		if len(rest) > 0 {
			t.Fatalf("%s: %d offsets never read, first %d", tp, len(rest), rest[0])
		}
	}
}

// committedOf is the data offsets of txnLayout visible under
// read_committed, allOf those under read_uncommitted.
var (
	committedOf = []int64{0, 1, 2, 3, 4, 10, 11}
	allOf       = []int64{0, 1, 2, 3, 4, 6, 7, 8, 10, 11, 13, 14}
)

func TestExecutorTransactions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"tx": 1})
	txnProduce(t, b.Addr, "tx", txnLayout...)
	for _, c := range []struct {
		iso    string
		ranges [][2]int64 // consecutive batches
		want   []int64
	}{
		{"read_committed", [][2]int64{{0, 16}}, committedOf},
		{"read_committed", [][2]int64{{0, 13}, {13, 16}}, committedOf},
		{"read_committed", [][2]int64{{0, 6}, {6, 10}, {10, 16}}, committedOf},
		{"read_uncommitted", [][2]int64{{0, 16}}, allOf},
		{"read_uncommitted", [][2]int64{{0, 10}, {10, 13}, {13, 16}}, allOf},
	} {
		t.Run(fmt.Sprintf("%s%v", c.iso, c.ranges), func(t *testing.T) {
			p := b.Props()
			p["isolation.level"] = c.iso
			e := newExecutor(t, Config{Props: p, Workers: 1, stallTimeout: 10 * time.Second})
			col := newCollector()
			col.checkVal = func(int32, int64, string) error { return nil }
			var records int64
			for i, r := range c.ranges {
				start := time.Now()
				res, err := run(t, e, col.job(int64(i), mem, false, rng("tx", 0, r[0], r[1])))
				if err != nil {
					t.Fatal(err)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Fatalf("batch %v took %s", r, d)
				}
				records += res.Records
			}
			wantRows(t, col, map[offsets.TopicPartition][]int64{{Topic: "tx", Partition: 0}: c.want})
			if records != int64(len(c.want)) {
				t.Fatalf("records %d, want %d", records, len(c.want))
			}
		})
	}
}

func TestExecutorDataLoss(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"d": 2})
	produceN(t, b, "d", 2, 0, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Admin(t).DeleteRecords(ctx, offsets.TopicPartition{Topic: "d", Partition: 1}, 60); err != nil {
		t.Fatal(err)
	}

	fail := newExecutor(t, Config{Props: b.Props(), Workers: 2, FailOnDataLoss: true})
	_, err := run(t, fail, newCollector().job(7, mem, false, rng("d", 0, 0, 100), rng("d", 1, 25, 80)))
	var dl *offsets.DataLossError
	if !errors.As(err, &dl) || dl.Topic != "d" || dl.Partition != 1 || dl.From != 25 || dl.Until != 60 {
		t.Fatalf("failOnDataLoss: %v", err)
	}
	if !errors.Is(err, offsets.ErrDataLoss) {
		t.Fatalf("not ErrDataLoss: %v", err)
	}
	t.Logf("error: %v", err)

	skip := newExecutor(t, Config{Props: b.Props(), Workers: 2})
	c := newCollector()
	res, err := run(t, skip, c.job(8, mem, false, rng("d", 0, 0, 100), rng("d", 1, 25, 80)))
	if err != nil {
		t.Fatal(err)
	}
	if res.SkippedOffsets != 35 || res.Records != 100+20 || res.rows != 120 {
		t.Fatalf("skip: %+v", res)
	}
	if res.tasks[1].SkippedOffsets != 35 || res.tasks[1].Records != 20 {
		t.Fatalf("skip task: %+v", res.tasks[1])
	}
	wantRows(t, c, map[offsets.TopicPartition][]int64{{Topic: "d", Partition: 0}: seq(0, 100), {Topic: "d", Partition: 1}: seq(60, 80)})
	// A range entirely below the log start.
	c = newCollector()
	res, err = run(t, skip, c.job(9, mem, false, rng("d", 1, 0, 50)))
	if err != nil || res.SkippedOffsets != 50 || res.Records != 0 {
		t.Fatalf("all lost: %+v %v", res, err)
	}
}

func TestExecutorFailFast(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"f": 2})
	produceN(t, b, "f", 2, 0, 50)
	b.Produce(t, "f", []kafkatest.Record{{Partition: 1, Value: []byte("bad")}}) // offset 50
	produceN(t, b, "f", 2, 51, 50)                                              // p1: 51..100
	e := newExecutor(t, Config{Props: b.Props(), Workers: 2, rowsPerRecord: 10})

	c := newCollector()
	_, err := run(t, e, c.job(3, mem, true, rng("f", 0, 0, 50), rng("f", 1, 0, 101)))
	var me *dataframe.MalformedRecordError
	if !errors.As(err, &me) || me.Topic != "f" || me.Partition != 1 || me.Offset != 50 {
		t.Fatalf("FAILFAST: %v", err)
	}
	want := "batch 3: task 1 f-1[0,101): malformed record at f-1 offset 50"
	if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("error %q, want prefix %q", got, want)
	}

	// DROPMALFORMED-like: dropped, counted, and the batch after continues.
	c = newCollector()
	res, err := run(t, e, c.job(4, mem, false, rng("f", 1, 0, 101)))
	if err != nil || res.Records != 101 || res.rows != 100 || res.Dropped != 1 {
		t.Fatalf("drop: %+v %v", res, err)
	}

	// A sink error fails the batch, wrapped.
	boom := errors.New("boom")
	c = newCollector()
	c.consumed = func(ti TaskInfo, _ arrow.Record) error {
		if ti.rng.Partition == 0 {
			return boom
		}
		return nil
	}
	if _, err := run(t, e, c.job(5, mem, false, rng("f", 0, 0, 50), rng("f", 1, 0, 101))); !errors.Is(err, boom) {
		t.Fatalf("sink error: %v", err)
	}

	// A panicking sink fails the batch, not the process; the consumer that
	// was mid-range is re-positioned by the next batch.
	c = newCollector()
	c.consumed = func(TaskInfo, arrow.Record) error { panic("sink bug") }
	if _, err := run(t, e, c.job(6, mem, false, rng("f", 0, 0, 50))); err == nil || !strings.Contains(err.Error(), "panic: sink bug") {
		t.Fatalf("sink panic: %v", err)
	}
	c = newCollector()
	res, err = run(t, e, c.job(7, mem, false, rng("f", 0, 0, 50)))
	if err != nil || res.Records != 50 || !res.tasks[0].Seeked {
		t.Fatalf("after panic: %+v %v", res, err)
	}
	wantRows(t, c, map[offsets.TopicPartition][]int64{{Topic: "f", Partition: 0}: seq(0, 50)})
}

func TestExecutorCancelAndClose(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"c": 2})
	produceN(t, b, "c", 2, 0, 100)
	base := runtime.NumGoroutine()

	e, err := NewExecutor(Config{Props: b.Props(), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, e, newCollector().job(1, mem, false, rng("c", 0, 0, 100), rng("c", 1, 0, 100))); err != nil {
		t.Fatal(err)
	}

	// A range beyond the end of the log never completes: ctx ends it.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err = e.Run(ctx, newCollector().job(2, mem, false, rng("c", 0, 100, 200), rng("c", 1, 0, 100)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Fatalf("cancel took %s", d)
	}

	// Close interrupts a Run in progress.
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(context.Background(), newCollector().job(3, mem, false, rng("c", 0, 100, 200)))
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Run during Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if _, err := e.Run(context.Background(), newCollector().job(4, mem, false, rng("c", 0, 0, 1))); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, r := range e.readers() {
		if r != nil {
			t.Fatal("a consumer survived Close")
		}
	}
	waitGoroutines(t, base)
}

func TestNewExecutorValidates(t *testing.T) {
	if _, err := NewExecutor(Config{}); err == nil {
		t.Fatal("no bootstrap.servers accepted")
	}
	if _, err := NewExecutor(Config{Props: map[string]string{"bootstrap.servers": "x"}, MaxOffsetsPerTask: -1}); err == nil {
		t.Fatal("negative MaxOffsetsPerTask accepted")
	}
	e, err := NewExecutor(Config{Props: map[string]string{"bootstrap.servers": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if len(e.slots) != runtime.GOMAXPROCS(0) || e.cfg.rowsPerRecord != defaultRowsPerRecord {
		t.Fatalf("defaults: %d slots, %d rows", len(e.slots), e.cfg.rowsPerRecord)
	}
	if _, err := e.Run(context.Background(), Job{Ranges: []offsets.OffsetRange{rng("x", 0, 0, 1)}}); err == nil {
		t.Fatal("job without decoder accepted")
	}
}

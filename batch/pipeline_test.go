package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
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

// fakeReader hands out recs for any range, then ends with err, or when
// block waits for ctx, idle. Like kafka.RangeReader it reuses the Record and the bytes
// of its key and value, which it overwrites after fn returns.
type fakeReader struct {
	recs    []kafka.Record
	stats   kafka.ReadStats
	err     error
	block   bool
	endless bool // hand out copies of recs[0] (with increasing offsets) until fn fails
	sent    atomic.Int64
}

// ReadRanges hands out recs as records of rs[0] (the other ranges get
// none), then ends every range with stats.
func (f *fakeReader) ReadRanges(ctx context.Context, rs []offsets.OffsetRange, h kafka.RangeHandler) (int, error) {
	var rec kafka.Record
	var buf []byte
	deliver := func(r kafka.Record) error {
		rec = r
		buf = append(buf[:0], r.Key...)
		buf = append(buf, r.Value...)
		if r.Key != nil {
			rec.Key = buf[:len(r.Key):len(r.Key)]
		}
		if r.Value != nil {
			rec.Value = buf[len(r.Key):]
		}
		err := h.Record(0, &rec)
		for i := range buf {
			buf[i] = 'X'
		}
		f.sent.Add(1)
		return err
	}
	for i := 0; f.endless || i < len(f.recs); i++ {
		r := f.recs[min(i, len(f.recs)-1)]
		r.Offset += int64(max(0, i-len(f.recs)+1))
		if err := deliver(r); err != nil {
			return 0, err
		}
	}
	for f.block {
		if err := h.Idle(); err != nil {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	if f.err != nil {
		return 0, f.err
	}
	for i := range rs {
		if err := h.Done(i, f.stats); err != nil {
			return i, err
		}
	}
	return 0, nil
}

// readTask reads a wave of one task.
func (p *pipeline) readTask(rr rangeReader, t task) error {
	_, err := p.readWave(rr, []task{t})
	return err
}

// appended is one Append call seen by a recDecoder.
type appended struct {
	meta  dataframe.RecordMeta
	value []byte
}

// recDecoder records what it is given and returns records of the offsets.
// hook, when set, runs before each Append and may fail it.
type recDecoder struct {
	b    *array.Int64Builder
	got  *[]appended
	hook func(m *dataframe.RecordMeta) error
}

func (d *recDecoder) Append(m *dataframe.RecordMeta, value []byte) error {
	if d.hook != nil {
		if err := d.hook(m); err != nil {
			return err
		}
	}
	a := appended{meta: *m, value: bytes.Clone(value)}
	a.meta.Key = bytes.Clone(m.Key)
	*d.got = append(*d.got, a)
	d.b.Append(m.Offset)
	return nil
}

func (d *recDecoder) Len() int { return d.b.Len() }

func (d *recDecoder) Flush() arrow.Record {
	if d.b.Len() == 0 {
		return nil
	}
	arr := d.b.NewArray()
	defer arr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "_offset", Type: arrow.PrimitiveTypes.Int64}}, nil)
	return array.NewRecord(schema, []arrow.Array{arr}, int64(arr.Len()))
}

func (d *recDecoder) Stats() dataframe.DecodeStats {
	return dataframe.DecodeStats{Rows: int64(len(*d.got)), Corrupt: 1}
}
func (d *recDecoder) Release() { d.b.Release() }

// pipeTest is a pipeline of slot 0 of an executor that never connects, with
// recDecoders recording per task index.
type pipeTest struct {
	mem   *memory.CheckedAllocator
	e     *Executor
	got   map[int]*[]appended
	sinks map[int]int // task index: records consumed
	rows  int64       // largest record consumed
	stats []taskStats // by task index
	hook  func(*dataframe.RecordMeta) error
	sink  func(TaskInfo) error // optional, before each Consume
}

func newPipeTest(t *testing.T, tasks int) *pipeTest {
	pt := &pipeTest{
		mem:   memory.NewCheckedAllocator(memory.NewGoAllocator()),
		e:     newExecutor(t, Config{Props: kafka.Props{"bootstrap.servers": "127.0.0.1:1"}, rowsPerRecord: 7}),
		got:   map[int]*[]appended{},
		sinks: map[int]int{},
		stats: make([]taskStats, tasks),
	}
	t.Cleanup(func() { pt.mem.AssertSize(t, 0) })
	return pt
}

type pipeSink struct {
	pt   *pipeTest
	info TaskInfo
}

func (s pipeSink) Consume(rec arrow.Record) error {
	if s.pt.sink != nil {
		if err := s.pt.sink(s.info); err != nil {
			return err
		}
	}
	s.pt.sinks[s.info.Index]++
	s.pt.rows = max(s.pt.rows, rec.NumRows())
	return nil
}

// start starts a pipeline for job 1. The maps and stats are written by its
// goroutine: read them after close.
func (pt *pipeTest) start(ctx context.Context) *pipeline {
	var got *[]appended // the last decoder's, for its task (NewDecoder comes first)
	job := Job{
		BatchID: 1,
		NewDecoder: func(func(*dataframe.MalformedRecordError)) (dataframe.Decoder, error) {
			got = new([]appended)
			return &recDecoder{b: array.NewInt64Builder(pt.mem), got: got, hook: pt.hook}, nil
		},
		NewSink: func(ti TaskInfo) (TaskSink, error) {
			pt.got[ti.Index] = got
			pt.sinks[ti.Index] = 0
			return pipeSink{pt, ti}, nil
		},
	}
	return pt.e.newPipeline(ctx, &slot{index: 0}, job, pt.stats, new(atomic.Int64))
}

func TestPipelineRecords(t *testing.T) {
	pt := newPipeTest(t, 3)
	// Task 0: more than two chunks of records, null, empty and set keys
	// and values, and a value larger than a chunk.
	var recs []kafka.Record
	var bytesRead int64
	for i := range 2*chunkRecords + 5 {
		r := kafka.Record{Topic: "a", Partition: 3, Offset: 100 + int64(i), Timestamp: 1700000000000 + int64(i), Value: fmt.Appendf(nil, "v%d", i)}
		switch i % 5 {
		case 1:
			r.Key = []byte{}
		case 2:
			r.Key = fmt.Appendf(nil, "k%d", i)
		case 3:
			r.Value = nil
		case 4:
			r.Value = []byte{}
			r.Timestamp = -1
		}
		if i == 3000 {
			r.Value = bytes.Repeat([]byte("x"), chunkBytes+10)
		}
		bytesRead += int64(len(r.Key) + len(r.Value))
		recs = append(recs, r)
	}
	tasks := []struct {
		t  task
		rr *fakeReader
	}{
		{task{index: 0, r: rng("a", 3, 100, 100+int64(len(recs)))},
			&fakeReader{recs: recs, stats: kafka.ReadStats{Records: int64(len(recs)), Bytes: bytesRead, Seeked: true}}},
		{task{index: 1, r: rng("b", 0, 0, 5)}, &fakeReader{stats: kafka.ReadStats{SkippedOffsets: 5}}},
		{task{index: 2, r: rng("b", 1, 7, 9)}, &fakeReader{recs: recs[:2], stats: kafka.ReadStats{Records: 2}}},
	}
	p := pt.start(context.Background())
	for _, tt := range tasks {
		if err := p.readTask(tt.rr, tt.t); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tasks {
		got := *pt.got[tt.t.index]
		if len(got) != len(tt.rr.recs) {
			t.Fatalf("task %d: %d records, want %d", tt.t.index, len(got), len(tt.rr.recs))
		}
		for i, r := range tt.rr.recs {
			want := appended{meta: dataframe.RecordMeta{Topic: tt.t.r.Topic, Partition: tt.t.r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key}, value: r.Value}
			g := got[i]
			if g.meta.Topic != want.meta.Topic || g.meta.Partition != want.meta.Partition || g.meta.Offset != want.meta.Offset ||
				g.meta.Timestamp != want.meta.Timestamp || !bytes.Equal(g.meta.Key, want.meta.Key) || (g.meta.Key == nil) != (want.meta.Key == nil) ||
				!bytes.Equal(g.value, want.value) || (g.value == nil) != (want.value == nil) {
				t.Fatalf("task %d record %d: got %+v (value %d bytes), want %+v (value %d bytes)", tt.t.index, i, g.meta, len(g.value), want.meta, len(want.value))
			}
		}
		st := pt.stats[tt.t.index]
		wantRecords := (len(tt.rr.recs) + 6) / 7
		if st.Index != tt.t.index || st.Range != tt.t.r || st.Records != tt.rr.stats.Records || st.Bytes != tt.rr.stats.Bytes ||
			st.SkippedOffsets != tt.rr.stats.SkippedOffsets || st.Seeked != tt.rr.stats.Seeked || st.Rows != int64(len(got)) ||
			st.Corrupt != 1 || pt.sinks[tt.t.index] != wantRecords || st.Wall < st.Sink || st.Wall != st.FetchDecode+st.Sink {
			t.Fatalf("task %d: stats %+v, %d records consumed", tt.t.index, st, pt.sinks[tt.t.index])
		}
	}
	if pt.rows != 7 {
		t.Fatalf("largest record %d rows, rowsPerRecord is 7", pt.rows)
	}
}

// A reader ahead of its decoder stops when every chunk is full; a decoder
// error then stops it at once.
func TestPipelineBounded(t *testing.T) {
	base := runtime.NumGoroutine()
	pt := newPipeTest(t, 1)
	release := make(chan struct{})
	bad := errors.New("bad record")
	pt.hook = func(*dataframe.RecordMeta) error {
		<-release
		return bad
	}
	p := pt.start(context.Background())
	rr := &fakeReader{recs: []kafka.Record{{Value: []byte("v")}}, endless: true}
	done := make(chan error, 1)
	go func() { done <- p.readTask(rr, task{index: 0, r: rng("a", 0, 0, 1<<40)}) }()
	// The decoder holds the first chunk; the reader fills the others and
	// waits.
	for last := int64(-1); rr.sent.Load() != last; {
		last = rr.sent.Load()
		time.Sleep(100 * time.Millisecond)
	}
	if n := rr.sent.Load(); n != pipelineChunks*chunkRecords {
		t.Fatalf("reader handed out %d records ahead of a stuck decoder, want %d chunks of %d", n, pipelineChunks, chunkRecords)
	}
	start := time.Now()
	close(release)
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not stop after the decoder failed")
	}
	t.Logf("read stopped %s after the decoder failed", time.Since(start))
	if err := p.close(); !errors.Is(err, bad) || !strings.HasPrefix(err.Error(), "batch 1: task 0 a-0[0,1099511627776): bad record") {
		t.Fatalf("pipeline: %v", err)
	}
	waitGoroutines(t, base)
}

func TestPipelineErrors(t *testing.T) {
	recs := make([]kafka.Record, 10)
	for i := range recs {
		recs[i] = kafka.Record{Offset: int64(i), Value: []byte("v")}
	}
	readErr := errors.New("read failed")
	failAt := func(off int64, err error) func(*dataframe.RecordMeta) error {
		return func(m *dataframe.RecordMeta) error {
			if m.Offset == off {
				return err
			}
			return nil
		}
	}
	malformed := &dataframe.MalformedRecordError{Topic: "a", Partition: 0, Offset: 5, Reason: "bad"}
	sinkErr := errors.New("sink failed")
	for _, tc := range []struct {
		name     string
		rr       *fakeReader
		hook     func(*dataframe.RecordMeta) error
		sink     func(TaskInfo) error
		cancel   bool   // cancel the Run's ctx while the read waits
		readErr  error  // matched with errors.Is; nil: no error
		pipeErr  error  // matched with errors.Is
		pipeText string // substring of the pipeline's error
	}{
		{name: "decoder error stops a waiting read", rr: &fakeReader{recs: recs, block: true}, hook: failAt(5, malformed),
			readErr: context.Canceled, pipeErr: malformed, pipeText: "batch 1: task 0 a-0[0,100): malformed record at a-0 offset 5"},
		{name: "decoder error before the read error", rr: &fakeReader{recs: recs, err: readErr}, hook: failAt(3, malformed),
			readErr: readErr, pipeErr: malformed},
		{name: "read error", rr: &fakeReader{recs: recs, err: readErr}, readErr: readErr},
		{name: "read error at a chunk boundary", rr: &fakeReader{recs: slices.Repeat(recs[:1], chunkRecords), err: readErr}, readErr: readErr},
		{name: "cancel", rr: &fakeReader{recs: recs, block: true}, cancel: true, readErr: context.Canceled},
		{name: "decoder panic", rr: &fakeReader{recs: recs, block: true}, hook: func(*dataframe.RecordMeta) error { panic("decoder bug") },
			readErr: context.Canceled, pipeText: "batch 1: task 0 a-0[0,100): panic: decoder bug"},
		{name: "sink error", rr: &fakeReader{recs: recs, block: true}, sink: func(TaskInfo) error { return sinkErr },
			readErr: context.Canceled, pipeErr: sinkErr, pipeText: "task 0 a-0[0,100): sink: sink failed"},
		{name: "sink panic", rr: &fakeReader{recs: recs, block: true}, sink: func(TaskInfo) error { panic("sink bug") },
			readErr: context.Canceled, pipeText: "task 0 a-0[0,100): panic: sink bug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			pt := newPipeTest(t, 1)
			pt.hook, pt.sink = tc.hook, tc.sink
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			p := pt.start(ctx)
			start := time.Now()
			err := p.readTask(tc.rr, task{index: 0, r: rng("a", 0, 0, 100)})
			if !errors.Is(err, tc.readErr) {
				t.Fatalf("read: %v, want %v", err, tc.readErr)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("read took %s", d)
			}
			perr := p.close()
			if tc.pipeErr == nil && tc.pipeText == "" {
				if perr != nil {
					t.Fatalf("pipeline: %v", perr)
				}
			} else if perr == nil || tc.pipeErr != nil && !errors.Is(perr, tc.pipeErr) || !strings.Contains(perr.Error(), tc.pipeText) {
				t.Fatalf("pipeline: %v, want %v (%q)", perr, tc.pipeErr, tc.pipeText)
			}
			if tc.pipeErr == nil && tc.pipeText == "" {
				// The records read before the error were decoded.
				if got := len(*pt.got[0]); got != len(tc.rr.recs) {
					t.Fatalf("%d records decoded, %d read", got, len(tc.rr.recs))
				}
			}
			waitGoroutines(t, base)
		})
	}
}

// Keys and values reach the decoder exactly through Kafka and the chunks,
// and a decoder error ends a read that would otherwise wait for records
// that never come.
func TestExecutorPipeline(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := kafkatest.Start(t, map[string]int32{"p": 1})
	const n = 3*chunkRecords + 100
	var recs []kafkatest.Record
	for i := range n {
		r := kafkatest.Record{Value: fmt.Appendf(nil, "p0-%d", i)}
		if i%3 == 0 {
			r.Key = fmt.Appendf(nil, "k%d", i)
		}
		if i == 50 {
			r.Value = bytes.Repeat([]byte("y"), chunkBytes+1)
		}
		recs = append(recs, r)
	}
	b.Produce(t, "p", recs)
	base := runtime.NumGoroutine()
	e, err := NewExecutor(Config{Props: b.Props(), Workers: 1, rowsPerRecord: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	var keys, values int
	checked := func(fail bool) Job {
		return Job{
			BatchID: 1,
			Ranges:  []offsets.OffsetRange{rng("p", 0, 0, n+10)}, // beyond the end of the log
			NewDecoder: func(func(*dataframe.MalformedRecordError)) (dataframe.Decoder, error) {
				got := new([]appended)
				return &recDecoder{b: array.NewInt64Builder(mem), got: got, hook: func(m *dataframe.RecordMeta) error {
					want := recs[m.Offset]
					if !bytes.Equal(m.Key, want.Key) || (m.Key == nil) != (want.Key == nil) {
						return fmt.Errorf("offset %d: key %q, want %q", m.Offset, m.Key, want.Key)
					}
					keys++
					if fail && m.Offset == n-1 {
						return &dataframe.MalformedRecordError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Reason: "bad"}
					}
					return nil
				}}, nil
			},
			NewSink: func(TaskInfo) (TaskSink, error) { return nopSink{}, nil },
		}
	}
	// Values are checked by the decoder's slice: compare after the run.
	job := checked(true)
	newDec := job.NewDecoder
	var decs []*recDecoder
	job.NewDecoder = func(onMalformed func(*dataframe.MalformedRecordError)) (dataframe.Decoder, error) {
		d, err := newDec(onMalformed)
		decs = append(decs, d.(*recDecoder))
		return d, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err = e.Run(ctx, job)
	var me *dataframe.MalformedRecordError
	if !errors.As(err, &me) || me.Offset != n-1 {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the decoder's error took %s", d)
	}
	if keys != n {
		t.Fatalf("%d keys checked, want %d", keys, n)
	}
	for _, d := range decs {
		for _, a := range *d.got {
			values++
			if !bytes.Equal(a.value, recs[a.meta.Offset].Value) {
				t.Fatalf("offset %d: value of %d bytes, want %d", a.meta.Offset, len(a.value), len(recs[a.meta.Offset].Value))
			}
		}
	}
	if values != n-1 {
		t.Fatalf("%d values, want %d", values, n-1)
	}

	// The next batch re-reads the range; it then succeeds.
	keys = 0
	job = checked(false)
	job.Ranges = []offsets.OffsetRange{rng("p", 0, 0, n)}
	res, err := e.Run(ctx, job)
	if err != nil || res.Records != n || res.rows != n || !res.tasks[0].Seeked || keys != n {
		t.Fatalf("second run: %+v %v (%d keys)", res, err, keys)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, base)
}

// waveReader hands out recs[i] as the records of range i, interleaved in
// runs of run records, range by range in turn, and ends each range (Done
// with its record count) right after its last record.
type waveReader struct {
	recs [][]kafka.Record
	run  int
}

func (w *waveReader) ReadRanges(_ context.Context, rs []offsets.OffsetRange, h kafka.RangeHandler) (int, error) {
	next := make([]int, len(rs))
	for left := len(rs); left > 0; {
		for i := range rs {
			if next[i] < 0 {
				continue
			}
			for k := 0; k < w.run && next[i] < len(w.recs[i]); k++ {
				rec := w.recs[i][next[i]]
				next[i]++
				if err := h.Record(i, &rec); err != nil {
					return i, err
				}
			}
			if next[i] == len(w.recs[i]) {
				next[i] = -1
				left--
				if err := h.Done(i, kafka.ReadStats{Records: int64(len(w.recs[i]))}); err != nil {
					return i, err
				}
			}
		}
	}
	return 0, nil
}

// The tasks of a wave are read at once: their records interleave in the
// chunks, and each task's decoder and sink still get exactly its records,
// in order, and its stats when it ends.
func TestPipelineWave(t *testing.T) {
	pt := newPipeTest(t, 4)
	ranges := []offsets.OffsetRange{rng("a", 0, 0, 5000), rng("a", 1, 10, 10), rng("a", 2, 100, 103), rng("b", 0, 7, 3007)}
	w := &waveReader{run: 333}
	var ts []task
	for i, r := range ranges {
		var recs []kafka.Record
		for o := r.From; o < r.Until; o++ {
			recs = append(recs, kafka.Record{Topic: r.Topic, Partition: r.Partition, Offset: o, Timestamp: o, Value: fmt.Appendf(nil, "%s-%d-%d", r.Topic, r.Partition, o)})
		}
		w.recs = append(w.recs, recs)
		ts = append(ts, task{index: 3 - i, r: r})
	}
	p := pt.start(context.Background())
	if failed, err := p.readWave(w, ts); err != nil {
		t.Fatalf("task %d: %v", failed, err)
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	for i, tk := range ts {
		got := *pt.got[tk.index]
		if len(got) != len(w.recs[i]) {
			t.Fatalf("task %d: %d records, want %d", tk.index, len(got), len(w.recs[i]))
		}
		for j, g := range got {
			want := w.recs[i][j]
			if g.meta.Topic != want.Topic || g.meta.Partition != want.Partition || g.meta.Offset != want.Offset || !bytes.Equal(g.value, want.Value) {
				t.Fatalf("task %d record %d: %+v %q, want %+v", tk.index, j, g.meta, g.value, want)
			}
		}
		st := pt.stats[tk.index]
		if st.Index != tk.index || st.Range != tk.r || st.Records != int64(len(w.recs[i])) || st.Rows != int64(len(got)) ||
			pt.sinks[tk.index] != (len(got)+6)/7 {
			t.Fatalf("task %d: stats %+v, %d records consumed", tk.index, st, pt.sinks[tk.index])
		}
	}
}

func TestWaves(t *testing.T) {
	ts := []task{{index: 0, r: rng("a", 0, 0, 5)}, {index: 1, r: rng("a", 0, 10, 15)}, {index: 2, r: rng("a", 0, 20, 25)},
		{index: 3, r: rng("a", 1, 0, 5)}, {index: 4, r: rng("b", 0, 0, 5)}, {index: 5, r: rng("b", 0, 5, 9)}}
	var got [][]int
	for _, w := range waves(ts) {
		var ix []int
		for _, t := range w {
			ix = append(ix, t.index)
		}
		got = append(got, ix)
	}
	if want := [][]int{{0, 3, 4}, {1, 5}, {2}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("waves %v, want %v", got, want)
	}
}

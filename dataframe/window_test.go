package dataframe

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// windowRun drives a windowed Program batch by batch as the engine does:
// the watermark computed after batch N is used by batch N+1; append mode
// emits and evicts the windows that ended by the batch's watermark.
type windowRun struct {
	t       *testing.T
	mem     memory.Allocator
	schema  *Schema
	prog    *Program
	state   *State
	wm      time.Time
	delay   time.Duration
	dropped int64
}

func newWindowRun(t *testing.T, df *DataFrame, mode OutputMode) *windowRun {
	t.Helper()
	p, err := Compile(df, mode)
	if err != nil {
		t.Fatal(err)
	}
	_, delay, _ := p.Watermark()
	mem := newMem(t)
	return &windowRun{t: t, mem: mem, schema: df.SourceSchema(), prog: p, state: p.NewState(mem), wm: time.UnixMicro(0).UTC(), delay: delay}
}

// batch runs one batch of the event times secs (seconds since the epoch;
// none: a no-data batch) and returns the watermark it used and its output
// rows.
func (r *windowRun) batch(secs ...int) (time.Time, [][]any) {
	r.t.Helper()
	vals := make([]string, len(secs))
	for i, s := range secs {
		vals[i] = fmt.Sprintf(`{"eventTime": %q, "v": %d}`, time.Unix(int64(s), 0).UTC().Format(time.RFC3339), s)
	}
	return r.batchJSON(vals...)
}

// batchJSON is batch of JSON records.
func (r *windowRun) batchJSON(vals ...string) (time.Time, [][]any) {
	t := r.t
	t.Helper()
	task := r.prog.NewTask(r.mem)
	defer task.Release()
	task.SetWatermark(r.wm)
	if len(vals) > 0 {
		rec, _, err := decodeAll(t, r.mem, r.schema, DecoderOptions{Format: FormatJSON, Columns: r.prog.InputColumns()}, vals...)
		if err != nil {
			t.Fatal(err)
		}
		err = task.Consume(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.state.Merge(task); err != nil {
		t.Fatal(err)
	}
	used := r.wm
	var got [][]any
	switch r.prog.mode {
	case Append:
		rec, _, err := r.state.CloseWindows(r.wm, true)
		if err != nil {
			t.Fatal(err)
		}
		got = rows(t, rec)
		rec.Release()
	case Update:
		rec, err := r.state.Result(true)
		if err != nil {
			t.Fatal(err)
		}
		got = rows(t, rec)
		rec.Release()
		if _, _, err := r.state.CloseWindows(r.wm, false); err != nil {
			t.Fatal(err)
		}
	default:
		rec, err := r.state.Result(false)
		if err != nil {
			t.Fatal(err)
		}
		got = rows(t, rec)
		rec.Release()
	}
	if err := r.state.Changes(nil, func(uint16, []byte, []byte, bool) error { return nil }); err != nil {
		t.Fatal(err)
	}
	r.state.ResetChanged()
	r.dropped += task.RowsDroppedByWatermark()
	r.wm = NextWatermark(r.wm, task.EventTimes(), r.delay)
	return used, got
}

func sec(s int) time.Time { return time.Unix(int64(s), 0).UTC() }

// sparkWindowed is EventTimeWatermarkSuite's query: a 10 s watermark, 5 s
// windows, count(*), selecting the window start.
func sparkWindowed(t *testing.T) *DataFrame {
	s := mustSchema(t, "eventTime TIMESTAMP, v BIGINT")
	return Source("events", s).WithWatermark("eventTime", 10*time.Second).
		GroupBy(Window(Col("eventTime"), 5*time.Second, 0, 0)).
		Agg(Count().As("count")).
		Select(Col("window.start"), Col("count"))
}

// TestWindowSparkAppendGolden reproduces EventTimeWatermarkSuite's "append
// mode" case, no-data batches included: the watermark goes 0 -> 5 -> 5 ->
// 15, [10, 15) is emitted once when the watermark reaches 15, and the late
// row 10 is dropped and counted.
func TestWindowSparkAppendGolden(t *testing.T) {
	r := newWindowRun(t, sparkWindowed(t), Append)
	type step struct {
		secs    []int
		wm      int
		want    [][]any
		state   int
		dropped int64
	}
	steps := []step{
		{secs: []int{10, 11, 12, 13, 14, 15}, wm: 0, state: 2},
		{wm: 5, state: 2}, // no-data batch: the watermark moved to 5
		{secs: []int{25}, wm: 5, state: 3},
		{wm: 15, want: [][]any{{sec(10), int64(5)}}, state: 2}, // no-data batch
		{secs: []int{10}, wm: 15, state: 2, dropped: 1},
	}
	for i, s := range steps {
		used, got := r.batch(s.secs...)
		if !used.Equal(sec(s.wm)) {
			t.Fatalf("batch %d: watermark %v, want %v", i, used, sec(s.wm))
		}
		equalRows(t, got, s.want)
		if r.state.Len() != s.state || r.dropped != s.dropped {
			t.Fatalf("batch %d: state rows %d, dropped %d; want %d, %d", i, r.state.Len(), r.dropped, s.state, s.dropped)
		}
	}
}

// TestWindowSparkUpdateGolden is the suite's "update mode" case: changed
// windows are emitted every batch, closed ones evicted without output.
func TestWindowSparkUpdateGolden(t *testing.T) {
	r := newWindowRun(t, sparkWindowed(t), Update)
	_, got := r.batch(10, 11, 12, 13, 14, 15)
	equalRows(t, got, [][]any{{sec(10), int64(5)}, {sec(15), int64(1)}})
	_, got = r.batch(25)
	equalRows(t, got, [][]any{{sec(25), int64(1)}})
	_, got = r.batch() // watermark 15: [10, 15) evicted
	equalRows(t, got, nil)
	if r.state.Len() != 2 {
		t.Fatalf("state rows %d, want 2", r.state.Len())
	}
	_, got = r.batch(10)
	equalRows(t, got, nil)
	_, got = r.batch(15, 16) // [15, 20) ends after 15: still open
	equalRows(t, got, [][]any{{sec(15), int64(3)}})
	if r.dropped != 1 {
		t.Fatalf("dropped %d, want 1", r.dropped)
	}
	if ret, err := r.state.Retracted(); err != nil || ret.NumRows() != 0 {
		t.Fatalf("Retracted = %v rows, %v; an evicted window is not retracted", ret.NumRows(), err)
	} else {
		ret.Release()
	}
}

// TestWindowComplete: complete mode ignores the watermark.
func TestWindowComplete(t *testing.T) {
	r := newWindowRun(t, sparkWindowed(t), Complete)
	r.batch(10, 30)
	r.batch()
	_, got := r.batch(10)
	equalRows(t, got, [][]any{{sec(10), int64(2)}, {sec(30), int64(1)}})
}

// TestWindowSliding: a row is in every window that holds it; one late for
// a window and on time for another counts only where it is on time.
func TestWindowSliding(t *testing.T) {
	s := mustSchema(t, "eventTime TIMESTAMP, v BIGINT")
	df := Source("events", s).WithWatermark("eventTime", 0).
		GroupBy(Window(Col("eventTime"), 10*time.Second, 5*time.Second, 0)).
		Agg(Count().As("n"), Sum(Col("v")).As("s"))
	r := newWindowRun(t, df, Append)
	r.batch(7, 12)       // windows [0,10) [5,15) [10,20); watermark -> 12
	_, got := r.batch(9) // wm 12: [0,10) closes; 9 is late for it, on time for [5,15)
	equalRows(t, got, [][]any{{sec(0), sec(10), int64(1), int64(7)}})
	if r.dropped != 0 {
		t.Fatalf("dropped %d: the row is on time for [5, 15)", r.dropped)
	}
	_, got = r.batch(30) // wm 12 still
	equalRows(t, got, nil)
	_, got = r.batch() // wm 30
	equalRows(t, got, [][]any{
		{sec(5), sec(15), int64(3), int64(28)},
		{sec(10), sec(20), int64(1), int64(12)},
	})
}

// TestWindowStartTimeAndPreEpoch: startTime offsets the windows, and a
// pre-epoch time falls in the window below it.
func TestWindowStartTimeAndPreEpoch(t *testing.T) {
	w := windowDef{size: 10e6, slide: 10e6, start: 2e6}
	for _, c := range []struct{ ts, want int64 }{{0, -8e6}, {2e6, 2e6}, {11e6, 2e6}, {-1, -8e6}, {-8e6, -8e6}, {-8e6 - 1, -18e6}} {
		if got := w.lastStart(c.ts); got != c.want {
			t.Errorf("lastStart(%d) = %d, want %d", c.ts, got, c.want)
		}
	}
}

// TestWindowRestore: a State restored from the changes closes the windows
// it had.
func TestWindowRestore(t *testing.T) {
	r := newWindowRun(t, sparkWindowed(t), Append)
	r.batch(10, 11, 16)
	st := r.prog.NewState(r.mem)
	if err := st.Restore(nil, nil); err == nil {
		t.Fatal("Restore of an empty key succeeded")
	}
	n := 0
	// Re-run the first batch's changes into a fresh State.
	r2 := newWindowRun(t, sparkWindowed(t), Append)
	task := r2.prog.NewTask(r2.mem)
	rec, _, _ := decodeAll(t, r2.mem, r2.schema, DecoderOptions{Format: FormatJSON, Columns: r2.prog.InputColumns()},
		`{"eventTime":"1970-01-01T00:00:10Z"}`, `{"eventTime":"1970-01-01T00:00:11Z"}`, `{"eventTime":"1970-01-01T00:00:16Z"}`)
	_ = task.Consume(rec)
	rec.Release()
	_ = r2.state.Merge(task)
	task.Release()
	if err := r2.state.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
		n++
		return st.Restore(k, v)
	}); err != nil {
		t.Fatal(err)
	}
	if end, ok := st.OpenWindowEnd(); !ok || !end.Equal(sec(15)) || n != 2 {
		t.Fatalf("OpenWindowEnd = %v, %v after %d restores", end, ok, n)
	}
	out, closed, err := st.CloseWindows(sec(20), true)
	if err != nil || closed != 2 {
		t.Fatalf("CloseWindows = %d, %v", closed, err)
	}
	equalRows(t, rows(t, out), [][]any{{sec(10), int64(2)}, {sec(15), int64(1)}})
	out.Release()
	deletes := 0
	_ = st.Changes(nil, func(_ uint16, _, _ []byte, del bool) error {
		if del {
			deletes++
		}
		return nil
	})
	if deletes != 2 || st.Len() != 0 {
		t.Fatalf("%d deletes, %d groups left", deletes, st.Len())
	}
}

// TestWindowRefusals asserts the messages of what windows refuse.
func TestWindowRefusals(t *testing.T) {
	s := mustSchema(t, "eventTime TIMESTAMP, v BIGINT, page STRING")
	src := Source("events", s)
	ts := Col("eventTime")
	cases := []struct {
		df   *DataFrame
		mode OutputMode
		want string
	}{
		{src.GroupBy(Window(ts, 5*time.Second, 10*time.Second, 0)).Agg(Count()), Update, "window slide 10s is longer than its size 5s"},
		{src.GroupBy(Window(ts, 0, 0, 0)).Agg(Count()), Update, "window size 0s must be positive"},
		{src.GroupBy(Window(ts, -time.Second, 0, 0)).Agg(Count()), Update, "window size -1s must be positive"},
		{src.GroupBy(Window(Col("v"), time.Second, 0, 0)).Agg(Count()), Update, "window needs a TIMESTAMP event-time column, got v of type BIGINT"},
		{src.GroupBy(Window(ts, time.Second, 0, 0), Window(ts, 2*time.Second, 0, 0)).Agg(Count()), Update, "more than one window in GroupBy"},
		{src.GroupBy(Window(ts, time.Second, 0, 0)).Agg(Count()), Append, "append output mode is not supported with an aggregation without a watermark"},
		{src.GroupBy(Col("page")).Agg(Count()).WithWatermark("eventTime", time.Second), Append, "append output mode with an aggregation needs a window of the watermark's event time eventTime among the grouping keys"},
		{src.WithWatermark("v", time.Second), Append, "event-time column v is BIGINT, not TIMESTAMP"},
		{src.WithWatermark("nope", time.Second), Append, `unknown column nope: the event-time column is a source column`},
		{src.WithWatermark("_timestamp", time.Second).GroupBy(Window(ts, time.Second, 0, 0)).Agg(Count()), Append, "the window is over eventTime, the watermark over _timestamp"},
		{src.Filter(Window(ts, time.Second, 0, 0).IsNull()), Append, "a window is only allowed as a GroupBy key"},
		{src.Select(Window(ts, time.Second, 0, 0)), Append, "a window is only allowed as a GroupBy key"},
	}
	for i, c := range cases {
		_, err := Compile(c.df, c.mode)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: err = %v, want %q", i, err, c.want)
		}
		if err != nil && !errors.Is(err, ErrPlan) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrUnknownColumn) {
			t.Errorf("case %d: %v matches no sentinel", i, err)
		}
	}
	// Columns: window.start and window.end first, aliases and Flink names.
	for _, c := range []struct {
		g    Expr
		want string
	}{
		{Window(ts, time.Minute, 0, 0), "window.start window.end page count(*)"},
		{Window(ts, time.Minute, 0, 0).As("w"), "w.start w.end page count(*)"},
		{Tumble(ts, time.Minute), "window_start window_end page count(*)"},
		{Hop(ts, time.Minute, 2*time.Minute), "window_start window_end page count(*)"},
	} {
		df := src.GroupBy(Col("page"), c.g).Agg(Count())
		if got := strings.Join(df.Columns(), " "); got != c.want || df.Err() != nil {
			t.Errorf("%s: columns %q (%v), want %q", c.g, got, df.Err(), c.want)
		}
	}
}

// TestWindowGroupKeys: the window's shape and column are in the state's
// shape, so a checkpoint refuses a changed window; the watermark's delay
// is not.
func TestWindowGroupKeys(t *testing.T) {
	s := mustSchema(t, "eventTime TIMESTAMP, v BIGINT")
	keys := func(df *DataFrame) string {
		p, err := Compile(df, Update)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(p.GroupKeys(), "; ")
	}
	base := Source("events", s).WithWatermark("eventTime", time.Second).GroupBy(Window(Col("eventTime"), time.Minute, 0, 0)).Agg(Count())
	want := "window_start(eventTime TIMESTAMP, 1m0s, 1m0s, 0s); window_end(eventTime TIMESTAMP, 1m0s, 1m0s, 0s)"
	if got := keys(base); got != want {
		t.Fatalf("GroupKeys = %q, want %q", got, want)
	}
	if got := keys(Source("events", s).WithWatermark("eventTime", time.Hour).GroupBy(Window(Col("EVENTTIME"), time.Minute, 0, 0)).Agg(Count())); got != want {
		t.Fatalf("another delay and spelling: GroupKeys = %q", got)
	}
	if got := keys(Source("events", s).GroupBy(Window(Col("_timestamp"), time.Minute, 0, 0)).Agg(Count())); got == want {
		t.Fatal("another event-time column has the same GroupKeys")
	}
	if got := keys(Source("events", s).GroupBy(Window(Col("eventTime"), time.Minute, 30*time.Second, 0)).Agg(Count())); got == want {
		t.Fatal("another slide has the same GroupKeys")
	}
}

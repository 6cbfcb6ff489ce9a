package dataframe

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// sessionRun is a windowRun of count(*) and sum(n) per user and session
// window of gap 10 s, with a watermark of delay seconds.
func sessionRun(t *testing.T, mode OutputMode, delay time.Duration) *windowRun {
	s := mustSchema(t, "eventTime TIMESTAMP, user STRING, n BIGINT")
	df := Source("events", s).WithWatermark("eventTime", delay).
		GroupBy(Col("user"), SessionWindow(Col("eventTime"), 10*time.Second)).
		Agg(Count().As("count"), Sum(Col("n")).As("n"))
	return newWindowRun(t, df, mode)
}

// events are JSON records "user@second" (n is the second).
func events(specs ...string) []string {
	out := make([]string, len(specs))
	for i, sp := range specs {
		user, s, _ := strings.Cut(sp, "@")
		var sec int
		fmt.Sscan(s, &sec)
		out[i] = fmt.Sprintf(`{"eventTime":%q,"user":%q,"n":%d}`, time.Unix(int64(sec), 0).UTC().Format(time.RFC3339), user, sec)
	}
	return out
}

// Sessions merge when an event is within the gap of the session's last
// (exactly gap apart included, as Spark's MergingSessionsIterator), across
// batches, and a late event bridging two sessions joins them into one;
// a session is emitted once its end <= the watermark, and evicted.
func TestSessionWindowAppend(t *testing.T) {
	r := sessionRun(t, Append, 5*time.Second)
	// a: 0, 10 (exactly gap apart: one session [0, 20)), 30 ([30, 40));
	// b: 3 ([3, 13)).
	wm, got := r.batchJSON(events("a@0", "a@10", "a@30", "b@3")...)
	if !wm.Equal(sec(0)) || len(got) != 0 {
		t.Fatalf("batch 0: wm %v out %v", wm, got)
	}
	if r.state.Len() != 3 {
		t.Fatalf("state %d groups, want 3", r.state.Len())
	}
	// wm 25 now. a@20 touches [0, 20) and [30, 40): one session [0, 40).
	// b@12's own session ends at 22 <= 25: dropped, it does not revive
	// [3, 13), which ended by 25 and is emitted.
	wm, got = r.batchJSON(events("a@20", "b@12")...)
	if !wm.Equal(sec(25)) {
		t.Fatalf("batch 1: wm %v", wm)
	}
	equalRows(t, got, [][]any{{sec(3), sec(13), "b", int64(1), int64(3)}})
	if r.dropped != 1 || r.state.Len() != 1 {
		t.Fatalf("dropped %d, state %d groups", r.dropped, r.state.Len())
	}
	// wm 25 closes nothing more; then 60 moves it to 55.
	_, got = r.batchJSON(events("c@60")...)
	if len(got) != 0 {
		t.Fatalf("batch 2: %v", got)
	}
	wm, got = r.batchJSON()
	if !wm.Equal(sec(55)) {
		t.Fatalf("batch 3: wm %v", wm)
	}
	equalRows(t, got, [][]any{{sec(0), sec(40), "a", int64(4), int64(60)}})
	if r.state.Len() != 1 {
		t.Fatalf("state %d groups after eviction", r.state.Len())
	}
}

// Complete mode keeps every session (the watermark ignored), merged.
func TestSessionWindowComplete(t *testing.T) {
	r := sessionRun(t, Complete, 0)
	r.batchJSON(events("a@0", "a@20", "b@1")...)
	// a@10 touches [0, 10) and [20, 30): one session [0, 30).
	_, got := r.batchJSON(events("a@10", "b@11", "b@40")...)
	equalRows(t, got, [][]any{
		{sec(0), sec(30), "a", int64(3), int64(30)},
		{sec(1), sec(21), "b", int64(2), int64(12)},
		{sec(40), sec(50), "b", int64(1), int64(40)},
	})
}

// A restored State merges sessions as the one that committed them.
func TestSessionWindowRestore(t *testing.T) {
	r := sessionRun(t, Complete, 0)
	st := r.prog.NewState(r.mem)
	// every group of r, as the checkpoint would hold them
	task := r.prog.NewTask(r.mem)
	defer task.Release()
	rec, _, _ := decodeAll(t, r.mem, r.schema, DecoderOptions{Format: FormatJSON, Columns: r.prog.InputColumns()}, events("a@0", "a@20")...)
	_ = task.Consume(rec)
	rec.Release()
	tmp := r.prog.NewState(r.mem)
	_ = tmp.Merge(task)
	if err := tmp.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { return st.Restore(k, v) }); err != nil {
		t.Fatal(err)
	}
	r.state = st
	_, got := r.batchJSON(events("a@10")...)
	equalRows(t, got, [][]any{{sec(0), sec(30), "a", int64(3), int64(30)}})
}

// The refusals of session windows, with their messages, and the plan text
// read back.
func TestSessionWindowRefusals(t *testing.T) {
	s := mustSchema(t, "eventTime TIMESTAMP, user STRING")
	src := Source("events", s).WithWatermark("eventTime", time.Second)
	ts := Col("eventTime")
	for _, c := range []struct {
		df   *DataFrame
		mode OutputMode
		want string
	}{
		{src.GroupBy(SessionWindow(ts, time.Minute)).Agg(Count()), Append, "GroupBy: dataframe: unsupported streaming query: a session window needs another grouping key (group by session_window(ts, gap) and, say, a user id), as in Spark"},
		{src.GroupBy(Col("user"), SessionWindow(ts, 0)).Agg(Count()), Append, "session window gap 0s must be positive"},
		{src.GroupBy(Col("user"), SessionWindow(Col("user"), time.Second)).Agg(Count()), Append, "session_window needs a TIMESTAMP event-time column, got user of type STRING"},
		{src.GroupBy(Col("user"), SessionWindow(ts, time.Second)).Agg(Count()), Update, "dataframe: unsupported streaming query: update output mode is not supported with a session window (as in Spark): use append or complete"},
	} {
		_, err := Compile(c.df, c.mode)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
	df := src.GroupBy(Col("user"), SessionWindow(ts, time.Minute)).Agg(Count().As("n")).
		Select(Col("user"), Col("session_window.start"), Col("session_window.end"), Col("n"))
	if got := strings.Join(df.Columns(), " "); got != "user session_window.start session_window.end n" {
		t.Errorf("columns %q", got)
	}
	for _, df := range []*DataFrame{df,
		src.GroupBy(Window(ts, time.Minute, 30*time.Second, 10*time.Second).As("w"), Col("user")).Agg(Count()).Select(Col("w.end"), Col("count(*)")),
		src.GroupBy(Hop(ts, time.Minute, 5*time.Minute)).Agg(Count()),
		src.GroupBy(Tumble(ts, time.Hour+30*time.Minute)).Agg(Count()),
	} {
		back, err := ParsePlan(df.String())
		if err != nil || back.String() != df.String() || back.Err() != nil {
			t.Errorf("ParsePlan: %v\n%s\n%s", err, df.String(), back)
		}
	}
}

package dataframe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// Event-time windows, Spark's window() and Flink's TUMBLE/HOP. A window is
// a grouping expression of GroupBy that becomes two key columns, the
// window's start and end (TIMESTAMP): window.start and window.end (Spark's
// struct column `window`, flattened as JSON sources flatten nested fields;
// Window(...).As("w") names them w.start and w.end), or window_start and
// window_end (Tumble, Hop). They are the first two key columns, whatever
// the position of the window in GroupBy, so every group's key starts with
// its window.
//
// A row belongs to each window [start, end) with start <= ts < end:
// one for a tumbling window (slide = size), ceil(size/slide) or so for a
// sliding one. Window starts are startTime + k*slide for an integer k, as
// in Spark. A row whose event time is NULL belongs to no window.
//
// A session window (SessionWindow, Spark's session_window) is a group's
// run of events each within gap of the one before: a row opens the
// session [ts, ts+gap), and sessions of the same other keys merge when
// one starts at or before the other's end (Spark's MergingSessionsIterator:
// events exactly gap apart are one session). Its key columns are
// session_window.start and session_window.end; the State merges sessions
// as Tasks bring rows (a merged session replaces the ones it joins).

// windowDef is a window's shape, in microseconds.
type windowDef struct {
	size, slide, start int64
	flink              bool // names window_start, window_end
	session            bool // a session window of gap size (slide = size)
}

// Window groups rows by event-time windows of ts (a TIMESTAMP) of length
// size, starting every slide (0: size, a tumbling window), offset by start
// from the epoch (Spark's window(timeColumn, windowDuration,
// slideDuration, startTime)). Use it in GroupBy only; its key columns are
// window.start and window.end.
func Window(ts Expr, size, slide, start time.Duration) Expr {
	if slide == 0 {
		slide = size
	}
	return newWindow(ts, windowDef{size: size.Microseconds(), slide: slide.Microseconds(), start: start.Microseconds()})
}

// Tumble is Flink's TUMBLE(ts, size): Window(ts, size, 0, 0) whose key
// columns are window_start and window_end.
func Tumble(ts Expr, size time.Duration) Expr {
	return newWindow(ts, windowDef{size: size.Microseconds(), slide: size.Microseconds(), flink: true})
}

// Hop is Flink's HOP(ts, slide, size), the slide first: Window(ts, size,
// slide, 0) whose key columns are window_start and window_end.
func Hop(ts Expr, slide, size time.Duration) Expr {
	return newWindow(ts, windowDef{size: size.Microseconds(), slide: slide.Microseconds(), flink: true})
}

// SessionWindow is Spark's session_window(timeColumn, gapDuration): it
// groups each key's rows into sessions, runs of event times each at most
// gap after the one before; a session ends gap after its last event. Use
// it in GroupBy with at least one other key (as Spark requires); its key
// columns are session_window.start and session_window.end. Update mode
// is refused with it, as in Spark.
func SessionWindow(ts Expr, gap time.Duration) Expr {
	n := newWindow(ts, windowDef{size: gap.Microseconds(), slide: gap.Microseconds(), session: true})
	if gap <= 0 {
		n.n.err = fmt.Errorf("%w: session window gap %v must be positive", ErrPlan, gap)
	}
	return n
}

func newWindow(ts Expr, w windowDef) Expr {
	n := &node{kind: kWindow, win: &w, args: []*node{ts.node()}}
	switch {
	case w.size <= 0:
		n.err = fmt.Errorf("%w: window size %v must be positive", ErrPlan, micros(w.size))
	case w.slide <= 0:
		n.err = fmt.Errorf("%w: window slide %v must be positive", ErrPlan, micros(w.slide))
	case w.slide > w.size:
		n.err = fmt.Errorf("%w: window slide %v is longer than its size %v (rows would fall between windows)", ErrPlan, micros(w.slide), micros(w.size))
	case w.start < 0 || w.start >= w.slide:
		n.err = fmt.Errorf("%w: window startTime %v must be at least 0 and less than the slide %v", ErrPlan, micros(w.start), micros(w.slide))
	}
	return Expr{n}
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// writeWindow writes n's canonical text.
func (n *node) writeWindow(b *strings.Builder) {
	w := n.win
	name := "window"
	switch {
	case w.session:
		b.WriteString("session_window(")
		n.args[0].write(b)
		fmt.Fprintf(b, ", %s)", micros(w.size))
		return
	case w.flink:
		name = "hop"
	}
	b.WriteString(name + "(")
	n.args[0].write(b)
	fmt.Fprintf(b, ", %s, %s, %s)", micros(w.size), micros(w.slide), micros(w.start))
}

// windowNames returns the names of a window's key columns; alias is the
// window's alias, or "".
func (w *windowDef) names(alias string) (string, string) {
	switch {
	case alias != "":
		return alias + ".start", alias + ".end"
	case w.flink:
		return "window_start", "window_end"
	case w.session:
		return "session_window.start", "session_window.end"
	}
	return "window.start", "window.end"
}

// windowSpec is the window of an aggregation: its definition and its
// event-time column over the aggregation's input.
type windowSpec struct {
	windowDef
	ts *bexpr
}

// bindWindow binds a GroupBy window expression (n, or n's alias) over the
// columns of pre and returns its spec and its two key columns.
func bindWindow(pre *binder, n *node) (*windowSpec, []outCol, error) {
	alias := ""
	if n.kind == kAlias {
		alias, n = n.name, n.args[0]
	}
	if n.err != nil {
		return nil, nil, n.err
	}
	ts, err := pre.bind(n.args[0])
	if err != nil {
		return nil, nil, err
	}
	if ts.typ != Timestamp {
		return nil, nil, fmt.Errorf("%w: %s needs a TIMESTAMP event-time column, got %s of type %v", ErrPlan, map[bool]string{false: "window", true: "session_window"}[n.win.session], n.args[0], ts.typ)
	}
	spec := &windowSpec{windowDef: *n.win, ts: ts}
	text := n.String()
	sn, en := n.win.names(alias)
	return spec, []outCol{
		{sn, &bexpr{kind: kWindow, typ: Timestamp, args: []*bexpr{ts}, text: "start(" + text + ")"}},
		{en, &bexpr{kind: kWindow, op: 1, typ: Timestamp, args: []*bexpr{ts}, text: "end(" + text + ")"}},
	}, nil
}

// isWindow reports whether n (or n's alias) is a window expression.
func isWindow(n *node) bool {
	if n.kind == kAlias && len(n.args) == 1 {
		n = n.args[0]
	}
	return n.kind == kWindow
}

// containsWindow reports whether n has a window expression inside.
func containsWindow(n *node) bool { return containsKind(n, kWindow) }

// lastStart is the start of the last window holding ts: the greatest
// start + k*slide <= ts.
func (w *windowDef) lastStart(ts int64) int64 {
	d := (ts - w.start) % w.slide
	if d < 0 {
		d += w.slide
	}
	return ts - d
}

// appendTimestampKey appends the key encoding of a non-NULL TIMESTAMP.
func appendTimestampKey(buf []byte, us int64) []byte {
	buf = append(buf, byte(Timestamp))
	return binary.BigEndian.AppendUint64(buf, uint64(us)^(1<<63))
}

// windowEndOfKey decodes the window end of a windowed group's key: its
// second column.
func windowEndOfKey(key []byte) (int64, bool) {
	if len(key) < 18 || key[9] != byte(Timestamp) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(key[10:18]) ^ (1 << 63)), true
}

// aggregateWindows folds the rows sel into the Task's group table, one
// (row, window) pair per window each row belongs to. A pair whose window
// ends at or before the Task's watermark is late: it is dropped, and a
// row all of whose pairs are late is counted (RowsDroppedByWatermark).
func (t *Task) aggregateWindows(ev *evaluator, sel []int32) {
	ht := t.ht
	w := ht.spec.window
	ts := ev.eval(w.ts, sel)
	rows := make([]int32, 0, len(sel))
	starts := make([]int64, 0, len(sel))
	for _, i := range sel {
		if ts.null(i) {
			continue
		}
		v := ts.i64[i]
		if w.session { // the row's own session, merged by the State
			if t.hasWM && v+w.size <= t.wm {
				t.dropped++
				continue
			}
			rows = append(rows, i)
			starts = append(starts, v)
			continue
		}
		kept := false
		for s := w.lastStart(v); s > v-w.size; s -= w.slide {
			if t.hasWM && s+w.size <= t.wm {
				continue
			}
			rows = append(rows, i)
			starts = append(starts, s)
			kept = true
		}
		if !kept && t.hasWM {
			t.dropped++
		}
	}
	if len(rows) == 0 {
		return
	}
	groups := make([]*vector, len(ht.spec.groups))
	for i, g := range ht.spec.groups[2:] {
		groups[i+2] = ev.eval(g.e, sel)
	}
	gid := make([]int32, len(rows))
	key := t.keyBuf[:0]
	for k, i := range rows {
		key = appendTimestampKey(key[:0], starts[k])
		key = appendTimestampKey(key, starts[k]+w.size)
		for _, g := range groups[2:] {
			key = appendKey(key, g, i)
		}
		gid[k] = ht.group(key)
	}
	t.keyBuf = key
	t.update(ev, sel, gid, rows)
}

// observeEventTime notes the greatest event time of rec's rows (all of
// them, before WHERE, as Spark's watermark operator sits on the source)
// and their sum and count, for the watermark and the progress.
func (t *Task) observeEventTime(ev *evaluator) {
	c := ev.cols[t.p.wmCol]
	for i := 0; i < ev.n; i++ {
		if c.null(int32(i)) {
			continue
		}
		v := c.i64[i]
		if t.et.Count == 0 || v > t.et.Max {
			t.et.Max = v
		}
		if t.et.Count == 0 || v < t.et.Min {
			t.et.Min = v
		}
		t.et.Sum += float64(v)
		t.et.Count++
	}
}

// EventTimeStats summarises the event times a Task or batch saw, in
// microseconds since the epoch. Count 0: none.
type EventTimeStats struct {
	Min, Max int64
	Sum      float64
	Count    int64
}

// Add folds o into s.
func (s *EventTimeStats) Add(o EventTimeStats) {
	if o.Count == 0 {
		return
	}
	if s.Count == 0 || o.Max > s.Max {
		s.Max = o.Max
	}
	if s.Count == 0 || o.Min < s.Min {
		s.Min = o.Min
	}
	s.Sum += o.Sum
	s.Count += o.Count
}

// SetWatermark sets the watermark the Task drops late rows against: a
// (row, window) pair whose window ends at or before wm. A Program whose
// mode ignores the watermark (complete) ignores it.
func (t *Task) SetWatermark(wm time.Time) {
	if t.p == nil || t.p.mode == Complete || t.ht == nil || t.ht.spec.window == nil {
		return
	}
	t.wm, t.hasWM = wm.UnixMicro(), true
}

// EventTimes returns what the Task saw of the watermark's event-time
// column (Count 0 when the Program has no watermark).
func (t *Task) EventTimes() EventTimeStats { return t.et }

// RowsDroppedByWatermark returns the input rows the Task dropped as late:
// every window they belong to had ended by the watermark.
func (t *Task) RowsDroppedByWatermark() int64 { return t.dropped }

// watermark is a DataFrame's WithWatermark.
type watermark struct {
	col   int // source column index
	name  string
	delay time.Duration
}

// WithWatermark declares name, a TIMESTAMP source column (or _timestamp),
// the query's event time, and delay how late a row may arrive: Spark's
// withWatermark(eventTime, delayThreshold). The engine computes the
// watermark (Program.Watermark); windowed aggregations drop rows later
// than it and, in append mode, emit each window once it is past.
// WithWatermark may be called at any point of the plan; it is not part of
// the plan text, so a changed delay keeps the checkpoint's query.
func (df *DataFrame) WithWatermark(name string, delay time.Duration) *DataFrame {
	if df == nil || df.err != nil {
		c, _ := df.derive("")
		return c
	}
	c := *df
	if delay < 0 {
		return c.fail("WithWatermark", fmt.Errorf("%w: negative delay threshold %v", ErrPlan, delay))
	}
	fields := append(append([]Field(nil), df.schema.Fields...), MetadataFields()...)
	i := lookupName(len(fields), func(i int) string { return fields[i].Name }, name)
	if i < 0 {
		names := make([]string, len(fields))
		for k, f := range fields {
			names[k] = quoteName(f.Name)
		}
		return c.fail("WithWatermark", fmt.Errorf("%w %s: the event-time column is a source column (columns: %s)", ErrUnknownColumn, quoteName(name), strings.Join(names, ", ")))
	}
	if fields[i].Type != Timestamp {
		return c.fail("WithWatermark", fmt.Errorf("%w: event-time column %s is %v, not TIMESTAMP", ErrPlan, quoteName(fields[i].Name), fields[i].Type))
	}
	c.wm = &watermark{col: i, name: fields[i].Name, delay: delay}
	return &c
}

// Watermark returns the event-time column and delay threshold of the
// query's WithWatermark; ok is false when it has none.
func (p *Program) Watermark() (eventTime string, delay time.Duration, ok bool) {
	if p.wm == nil {
		return "", 0, false
	}
	return p.wm.name, p.wm.delay, true
}

// Windowed reports whether the query groups by an event-time window.
func (p *Program) Windowed() bool { return p.agg != nil && p.agg.window != nil }

// WindowSpec returns the text of the query's window (its column and
// shape), "" when it has none: a changed window is a different query.
func (p *Program) WindowSpec() string {
	if !p.Windowed() {
		return ""
	}
	return p.agg.groups[0].e.text
}

// NextWatermark returns Spark's watermark after a batch: the greater of
// wm and the batch's greatest event time minus the delay; wm when the
// batch had no event time.
func NextWatermark(wm time.Time, et EventTimeStats, delay time.Duration) time.Time {
	if et.Count == 0 {
		return wm
	}
	next := time.UnixMicro(et.Max).Add(-delay).UTC()
	if next.After(wm) {
		return next
	}
	return wm
}

// trackWindow records which window group id (whose key is key) is in,
// for CloseWindows.
func (s *State) trackWindow(id int32, key []byte) {
	if s.p.agg.window == nil {
		return
	}
	end, ok := windowEndOfKey(key)
	if !ok {
		return
	}
	if s.wins == nil {
		s.wins = map[int64][]int32{}
	}
	ids, had := s.wins[end]
	if !had {
		i, _ := slices.BinarySearch(s.winEnds, end)
		s.winEnds = slices.Insert(s.winEnds, i, end)
	}
	s.wins[end] = append(ids, id)
}

// OpenWindowEnd returns the earliest end of the windows in the State, and
// false when it holds none.
func (s *State) OpenWindowEnd() (time.Time, bool) {
	if len(s.winEnds) == 0 {
		return time.Time{}, false
	}
	return time.UnixMicro(s.winEnds[0]).UTC(), true
}

// LastOpenWindowEnd returns the latest end of the windows in the State,
// and false when it holds none.
func (s *State) LastOpenWindowEnd() (time.Time, bool) {
	if len(s.winEnds) == 0 {
		return time.Time{}, false
	}
	return time.UnixMicro(s.winEnds[len(s.winEnds)-1]).UTC(), true
}

// CloseWindows removes the groups of every window that ended by wm
// (end <= wm) and returns how many it removed. With emit (append mode) it
// also returns their result rows (HAVING and the projection applied), in
// key order; the caller releases the record. A closed group is a delete
// of Changes but never a retraction: its row stays final in the sink. The
// cost follows the windows closed, not the State's size.
func (s *State) CloseWindows(wm time.Time, emit bool) (arrow.Record, int, error) {
	if err := s.check(); err != nil {
		return nil, 0, err
	}
	if s.p.agg.window == nil {
		return nil, 0, fmt.Errorf("%w: CloseWindows on a query without a window", ErrState)
	}
	limit := wm.UnixMicro()
	var ids []int32
	n := 0
	for n < len(s.winEnds) && s.winEnds[n] <= limit {
		end := s.winEnds[n]
		for _, id := range s.wins[end] {
			if s.ht.removed(id) {
				continue
			}
			if e, ok := windowEndOfKey(s.ht.keyBytes(id)); ok && e == end {
				ids = append(ids, id)
			}
		}
		delete(s.wins, end)
		n++
	}
	s.winEnds = s.winEnds[n:]
	// A recycled id may be listed twice under one end (sessions).
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var rec arrow.Record
	if emit {
		slices.SortFunc(ids, func(a, b int32) int { return bytes.Compare(s.ht.keyBytes(a), s.ht.keyBytes(b)) })
		cols := newTableCols(s.ht.spec)
		for k := range cols {
			cols[k].reserve(&cols[k], len(ids))
		}
		for _, id := range ids {
			if err := appendGroup(cols, s.ht, id); err != nil {
				return nil, 0, err
			}
		}
		var err error
		if rec, err = s.output(cols, len(ids), nil); err != nil {
			return nil, 0, err
		}
	}
	removed, err := s.removeIDs(ids, false) // evicted, not retracted
	if err != nil {
		if rec != nil {
			rec.Release()
		}
		return nil, 0, err
	}
	return rec, removed, nil
}

package dataframe

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// OutputMode says which result rows a streaming query emits per batch, as
// in Spark.
type OutputMode uint8

// The output modes.
const (
	Append   OutputMode = iota + 1 // new rows only; stateless queries
	Complete                       // the whole result table every batch; aggregations
	Update                         // rows changed by the batch; aggregations (or stateless, as Append)
)

// ParseOutputMode parses "append", "complete" or "update" (case-insensitive).
func ParseOutputMode(s string) (OutputMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "append":
		return Append, nil
	case "complete":
		return Complete, nil
	case "update":
		return Update, nil
	}
	return 0, fmt.Errorf("%w: output mode %q (want append, complete or update)", ErrOptions, s)
}

// String returns "append", "complete" or "update".
func (m OutputMode) String() string {
	switch m {
	case Append:
		return "append"
	case Complete:
		return "complete"
	case Update:
		return "update"
	}
	return fmt.Sprintf("OutputMode(%d)", uint8(m))
}

// Program is a compiled streaming query. It is immutable and safe for
// concurrent use; per-goroutine work happens in Tasks, running aggregates in
// a State.
type Program struct {
	table string // the source table (tests read it)
	mode  OutputMode
	plan  string
	loc   *time.Location // the session time zone; nil is UTC

	inputNames []string // by input position (a joined table's columns included)
	inputTypes []Type
	streamPos  []int // the input positions of the record's columns, in order

	where   []*bexpr // over the input columns
	project []outCol // stateless output, over the input columns

	agg    *aggSpec // groups and call arguments over the input columns
	having []*bexpr // over the aggregate output
	post   []outCol // over the aggregate output
	orders []sortKey
	limit  int64

	wm    *watermark // WithWatermark, or nil
	wmCol int        // the input column of wm's event time

	join *progJoin // a stream-static join, or nil

	out *arrow.Schema
}

// Compile checks df for streaming execution in mode and compiles it. Like
// Spark it refuses an aggregation in append mode unless it groups by an
// event-time window and has a watermark on the window's column,
// complete mode without an aggregation, OrderBy except after an aggregation
// in complete mode, and Limit in update mode.
func Compile(df *DataFrame, mode OutputMode) (*Program, error) {
	if err := df.Err(); err != nil {
		return nil, err
	}
	switch {
	case mode < Append || mode > Update:
		return nil, fmt.Errorf("%w: invalid output mode %v", ErrOptions, mode)
	case df.agg != nil && mode == Append && df.agg.window == nil && df.wm != nil:
		return nil, fmt.Errorf("%w: append output mode with an aggregation needs a window of the watermark's event time %s among the grouping keys (GROUP BY window(%s, '1 minute'), ...), as in Spark: only a window closes, so only its rows are final; or use complete or update", ErrUnsupported, quoteName(df.wm.name), quoteName(df.wm.name))
	case df.agg != nil && mode == Append && (df.agg.window == nil || df.wm == nil):
		return nil, fmt.Errorf("%w: append output mode is not supported with an aggregation without a watermark: group by a window of the event time and set a watermark (the job file's watermark section, DataFrame.WithWatermark in Go), or use complete or update", ErrUnsupported)
	case df.agg != nil && df.agg.window != nil && df.wm != nil && !windowOver(df.agg.window, df.wm):
		return nil, fmt.Errorf("%w: the window is over %s, the watermark over %s: they must be the same event-time column", ErrUnsupported, df.agg.window.ts.src, quoteName(df.wm.name))
	case df.agg != nil && df.agg.window != nil && df.agg.window.session && mode == Update:
		return nil, fmt.Errorf("%w: update output mode is not supported with a session window (as in Spark): use append or complete", ErrUnsupported)
	case df.agg != nil && df.agg.window != nil && df.limit >= 0:
		return nil, fmt.Errorf("%w: Limit is not supported with a window", ErrUnsupported)
	case df.agg == nil && mode == Complete:
		return nil, fmt.Errorf("%w: complete output mode needs an aggregation", ErrUnsupported)
	case df.sortNoAgg || len(df.orders) > 0 && mode != Complete:
		return nil, fmt.Errorf("%w: OrderBy is only supported after an aggregation in complete output mode", ErrUnsupported)
	case df.limit >= 0 && mode == Update:
		return nil, fmt.Errorf("%w: Limit is not supported in update output mode", ErrUnsupported)
	}
	p := &Program{table: df.table, mode: mode, plan: df.String(), limit: df.limit, loc: df.loc}
	// Rebase the first phase onto the columns it actually reads.
	r := &rebaser{pos: map[int]int{}}
	p.where = r.all(df.where)
	if j := df.join; j != nil {
		p.join = &progJoin{table: j.table, how: j.how, keys: r.all(j.keys), tcols: j.tcols, whereBefore: j.whereBefore}
		p.join.cond = r.expr(j.cond)
	}
	if df.agg == nil {
		for _, c := range df.pre {
			p.project = append(p.project, outCol{c.name, r.expr(c.e)})
		}
		p.out = arrowSchema(df.pre)
	} else {
		a := &aggSpec{}
		for _, g := range df.agg.groups {
			a.groups = append(a.groups, outCol{g.name, r.expr(g.e)})
		}
		for _, c := range df.agg.calls {
			c.arg = r.expr(c.arg)
			a.calls = append(a.calls, c)
		}
		if w := df.agg.window; w != nil {
			a.window = &windowSpec{windowDef: w.windowDef, ts: a.groups[0].e.args[0]}
		}
		p.agg = a
		p.having = df.having
		p.post = df.post
		p.orders = df.orders
		p.out = arrowSchema(df.post)
	}
	if df.wm != nil {
		p.wm = df.wm
		p.wmCol = r.expr(colRef(df.wm.col, Timestamp)).col
	}
	sourceFields := append(append([]Field(nil), df.schema.Fields...), MetadataFields()...)
	p.inputNames = make([]string, len(r.order))
	p.inputTypes = make([]Type, len(r.order))
	for i, src := range r.order {
		if src >= len(sourceFields) { // a column of the joined table
			f := df.join.table.Schema().Fields[src-len(sourceFields)]
			p.inputNames[i], p.inputTypes[i] = df.join.table.Name()+"."+f.Name, f.Type
			p.join.pos = append(p.join.pos, i)
			p.join.col = append(p.join.col, src-len(sourceFields))
			continue
		}
		p.inputNames[i] = sourceFields[src].Name
		p.inputTypes[i] = sourceFields[src].Type
		p.streamPos = append(p.streamPos, i)
	}
	return p, nil
}

// rebaser renumbers source column references by first use.
type rebaser struct {
	pos   map[int]int
	order []int
}

func (r *rebaser) all(es []*bexpr) []*bexpr {
	out := make([]*bexpr, len(es))
	for i, e := range es {
		out[i] = r.expr(e)
	}
	return out
}

func (r *rebaser) expr(e *bexpr) *bexpr {
	if e == nil {
		return nil
	}
	if e.kind == kCol {
		p, ok := r.pos[e.col]
		if !ok {
			p = len(r.order)
			r.pos[e.col] = p
			r.order = append(r.order, e.col)
		}
		return colRef(p, e.typ)
	}
	c := *e
	c.args = r.all(e.args)
	return &c
}

// Plan returns the canonical text of the compiled DataFrame.
func (p *Program) Plan() string { return p.plan }

// SessionTimeZone returns the query's session time zone
// (DataFrame.WithSessionTimeZone); nil is UTC.
func (p *Program) SessionTimeZone() *time.Location { return p.loc }

// InputColumns returns the source columns the query reads, in the order a
// Task expects them in its records (feed it to DecoderOptions.Columns). It
// is never nil: a query that reads no column (count(*)) gets an empty list,
// and records of rows without columns.
func (p *Program) InputColumns() []string {
	names := make([]string, 0, len(p.streamPos))
	for _, i := range p.streamPos {
		names = append(names, p.inputNames[i])
	}
	return names
}

// Stateful reports whether the query aggregates (and so needs a State).
func (p *Program) Stateful() bool { return p.agg != nil }

// OutputSchema returns the schema of the query's result rows.
func (p *Program) OutputSchema() *arrow.Schema { return p.out }

// Limit returns the query's row limit, or -1 when it has none. A stateful
// program applies it in State.Result. A stateless (append) program applies
// it to each Task's output only: the limit over the whole stream is the
// engine's to enforce, by counting the rows it emits.
func (p *Program) Limit() int64 { return p.limit }

// windowOver reports whether window w is over the watermark's column.
func windowOver(w *windowSpec, wm *watermark) bool {
	return w.ts.kind == kCol && w.ts.col == wm.col
}

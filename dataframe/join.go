package dataframe

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// JoinType is the kind of a stream-static join.
type JoinType uint8

// The join types Spark supports between a stream (on the left) and a
// static table. RIGHT and FULL joins, with the stream on the nullable
// side, are not: Spark refuses them too.
const (
	InnerJoin JoinType = iota + 1 // stream rows with a matching table row
	LeftJoin                      // every stream row; table columns NULL without a match
)

func (j JoinType) String() string {
	switch j {
	case InnerJoin:
		return "inner"
	case LeftJoin:
		return "left"
	}
	return fmt.Sprintf("JoinType(%d)", uint8(j))
}

// JoinKey is one equality of a join: an expression over the stream's
// columns and a column of the table.
type JoinKey struct {
	Stream Expr
	Table  string
}

// Join describes a stream-static join (DataFrame.Join).
type Join struct {
	Table *StaticTable
	Type  JoinType
	// Alias names the table in qualified column names; default the
	// table's name.
	Alias string
	// Keys are the equalities; at least one.
	Keys []JoinKey
	// Cond is an optional further condition of the ON clause, over the
	// joined columns. A LEFT join keeps a stream row whose matches all fail
	// it, with NULL table columns.
	Cond Expr
}

// joinSpec is a bound Join.
type joinSpec struct {
	table       *StaticTable
	how         JoinType
	keys        []*bexpr // over the source columns (before the join)
	tcols       []int    // the table's key columns
	cond        *bexpr   // over the joined columns, or nil
	whereBefore int      // the filters that come before the join
}

// sourceWidth is the number of source columns (schema fields and metadata
// columns); the joined table's column j is source column sourceWidth+j.
func (df *DataFrame) sourceWidth() int { return len(df.schema.Fields) + len(MetadataFields()) }

// Join joins the stream with a static table: the columns are the
// DataFrame's, then the table's. A table column whose name an earlier
// column has (ignoring case) is named "alias.name". A table key may match
// several rows: the stream row is then output once per match, as in
// Spark. Join comes before any aggregation, once per query.
func (df *DataFrame) Join(j Join) *DataFrame {
	alias := j.Alias
	if alias == "" && j.Table != nil {
		alias = j.Table.Name()
	}
	var keys []string
	for _, k := range j.Keys {
		keys = append(keys, k.Stream.String()+" = "+quoteName(alias)+"."+quoteName(k.Table))
	}
	line := fmt.Sprintf("Join %s %s AS %s [%s]", j.Type, quoteName(tableName(j.Table)), quoteName(alias), strings.Join(keys, ", "))
	if j.Table != nil {
		line += " [" + j.Table.Schema().String() + "]"
	}
	if j.Cond.n != nil {
		line += " ON " + j.Cond.String()
	}
	c, ok := df.derive(line)
	if !ok {
		return c
	}
	switch {
	case j.Table == nil:
		return c.fail("Join", fmt.Errorf("%w: nil table", ErrPlan))
	case j.Type != InnerJoin && j.Type != LeftJoin:
		return c.fail("Join", fmt.Errorf("%w: %v join: a stream joins a static table INNER or LEFT OUTER (the stream on the left); RIGHT and FULL joins would put the stream on the nullable side", ErrUnsupported, j.Type))
	case c.join != nil:
		return c.fail("Join", fmt.Errorf("%w: more than one join: a query joins the stream with one static table", ErrUnsupported))
	case c.agg != nil:
		return c.fail("Join", fmt.Errorf("%w: a join after an aggregation (join the stream, then aggregate)", ErrUnsupported))
	case c.limit >= 0 || c.sortNoAgg:
		return c.fail("Join", fmt.Errorf("%w: a join after OrderBy or Limit", ErrPlan))
	case len(j.Keys) == 0:
		return c.fail("Join", fmt.Errorf("%w: a join needs at least one equality key (stream column = table column)", ErrUnsupported))
	}
	ts := j.Table.Schema()
	spec := &joinSpec{table: j.Table, how: j.Type, whereBefore: len(c.where)}
	pre := &binder{cols: c.pre, loc: c.loc}
	for _, k := range j.Keys {
		if containsAgg(k.Stream.node()) {
			return c.fail("Join", fmt.Errorf("%w: aggregate in a join key", ErrPlan))
		}
		be, err := pre.bind(k.Stream.node())
		if err != nil {
			return c.fail("Join", err)
		}
		col := lookupName(len(ts.Fields), func(i int) string { return ts.Fields[i].Name }, k.Table)
		if col < 0 {
			return c.fail("Join", fmt.Errorf("%w: %s has no column %s (it has %s)", ErrUnknownColumn, quoteName(alias), quoteName(k.Table), fieldNames(ts)))
		}
		tt := ts.Fields[col].Type
		if be.typ != tt {
			if !(be.typ == Int32 || be.typ == Int64) || !(tt == Int32 || tt == Int64) {
				return c.fail("Join", fmt.Errorf("%w: join key types differ: %s is %s, %s.%s is %s (CAST one side)", ErrPlan, k.Stream, be.typ, quoteName(alias), quoteName(ts.Fields[col].Name), tt))
			}
			be = castTo(be, tt)
		}
		spec.keys = append(spec.keys, be)
		spec.tcols = append(spec.tcols, col)
	}
	base := c.sourceWidth()
	cols := append([]outCol(nil), c.pre...)
	for i, f := range ts.Fields {
		name := f.Name
		if lookupName(len(c.pre), func(k int) string { return c.pre[k].name }, name) >= 0 {
			name = alias + "." + name
		}
		cols = append(cols, outCol{name, colRef(base+i, f.Type)})
	}
	c.pre = cols
	if j.Cond.n != nil {
		if containsAgg(j.Cond.node()) {
			return c.fail("Join", fmt.Errorf("%w: aggregate in a join condition", ErrPlan))
		}
		be, err := (&binder{cols: c.pre, loc: c.loc}).bind(j.Cond.node())
		if err == nil {
			be, err = expectBool("Join", be)
		}
		if err != nil {
			return c.fail("Join", err)
		}
		spec.cond = be
	}
	c.join = spec
	return c
}

func tableName(t *StaticTable) string {
	if t == nil {
		return "<nil>"
	}
	return t.Name()
}

func fieldNames(s *Schema) string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = quoteName(f.Name)
	}
	return strings.Join(names, ", ")
}

// progJoin is a compiled join: keys and cond over the Program's input
// positions.
type progJoin struct {
	table       *StaticTable
	how         JoinType
	keys        []*bexpr
	tcols       []int
	cond        *bexpr
	whereBefore int
	pos         []int // input positions holding table columns
	col         []int // the table column at pos[i]
}

// Tables returns the static tables the program joins with.
func (p *Program) Tables() []*StaticTable {
	if p.join == nil {
		return nil
	}
	return []*StaticTable{p.join.table}
}

// TablePin holds the snapshots of a program's static tables that one batch
// uses, so a Reload during the batch does not change its input.
type TablePin struct {
	names []string
	snaps []*tableSnap
}

// PinTables pins the current snapshot of each of p's static tables; the
// caller releases the pin.
func (p *Program) PinTables() *TablePin {
	pin := &TablePin{}
	for _, t := range p.Tables() {
		pin.names = append(pin.names, t.Name())
		pin.snaps = append(pin.snaps, t.pin())
	}
	return pin
}

// Hashes returns the content hash of each pinned table by name.
func (pin *TablePin) Hashes() map[string]string {
	if pin == nil || len(pin.snaps) == 0 {
		return nil
	}
	m := make(map[string]string, len(pin.snaps))
	for i, s := range pin.snaps {
		m[pin.names[i]] = s.hash
	}
	return m
}

// Release unpins the snapshots.
func (pin *TablePin) Release() {
	if pin == nil {
		return
	}
	for _, s := range pin.snaps {
		s.release()
	}
	pin.snaps = nil
}

// NewTaskPinned is NewTask over the table snapshots of pin (from
// p.PinTables); the Task holds them until it is released.
func (p *Program) NewTaskPinned(mem memory.Allocator, pin *TablePin) *Task {
	t := p.NewTask(mem)
	if t.snap != nil && pin != nil && len(pin.snaps) > 0 {
		t.snap.release()
		t.snap = pin.snaps[0].retain()
	}
	return t
}

// joinRows probes the table with the stream rows sel of ev and returns the
// joined batch and its selection.
func (t *Task) joinRows(ev *evaluator, sel []int32) (*evaluator, []int32) {
	j, s := t.p.join, t.snap
	ix := s.index(j.tcols)
	left := j.how == LeftJoin
	keys := make([]*vector, len(j.keys))
	for i, k := range j.keys {
		keys[i] = ev.eval(k, sel)
	}
	rows := make([]int32, 0, len(sel))
	trows := make([]int32, 0, len(sel))
	multi := false
	add := func(i, r int32) {
		if r < 0 {
			if left {
				rows, trows = append(rows, i), append(trows, -1)
			}
			return
		}
		rows, trows = append(rows, i), append(trows, r)
		for r = ix.next[r]; r >= 0; r = ix.next[r] {
			multi = true
			rows, trows = append(rows, i), append(trows, r)
		}
	}
	if ix.slots != nil {
		k := keys[0]
		for _, i := range sel {
			r := int32(-1)
			if !k.null(i) {
				r = ix.lookupInt(intAt(k, i))
			}
			add(i, r)
		}
	} else {
		buf := t.keyBuf[:0]
	rows:
		for _, i := range sel {
			buf = buf[:0]
			for _, k := range keys {
				if k.null(i) {
					add(i, -1)
					continue rows
				}
				buf = appendKey(buf, k, i)
			}
			add(i, ix.lookupKey(buf))
		}
		t.keyBuf = buf
	}
	out := &evaluator{n: ev.n, cols: make([]*vector, len(ev.cols))}
	at := rows // where row k of the join lands in out
	if multi {
		out.n = len(rows)
		at = identitySel(len(rows))
		for i, v := range ev.cols {
			if v != nil {
				out.cols[i] = takeRows(v, rows)
			}
		}
	} else {
		copy(out.cols, ev.cols)
	}
	for i, pos := range j.pos {
		out.cols[pos] = gatherTable(s.cols[j.col[i]], at, trows, out.n)
	}
	if j.cond == nil {
		return out, at
	}
	pass := out.filter(j.cond, at)
	if !left {
		return out, pass
	}
	// LEFT: a stream row keeps its passing matches, or one row of NULLs.
	kept := make([]int32, 0, len(at))
	p := 0
	for k := 0; k < len(at); {
		end := k + 1
		for end < len(at) && rows[end] == rows[k] {
			end++
		}
		matched := false
		for q := k; q < end; q++ {
			for p < len(pass) && pass[p] < at[q] {
				p++
			}
			if p < len(pass) && pass[p] == at[q] {
				kept, matched = append(kept, at[q]), true
			}
		}
		if !matched {
			for _, tp := range j.pos {
				out.cols[tp].setNull(at[k], out.n)
			}
			kept = append(kept, at[k])
		}
		k = end
	}
	return out, kept
}

// gatherTable builds a vector of n rows whose row at[k] is table row
// trows[k] of tv (NULL when trows[k] < 0).
func gatherTable(tv *vector, at, trows []int32, n int) *vector {
	v := newVector(tv.typ, n)
	for k, pos := range at {
		r := trows[k]
		if r < 0 || tv.null(r) {
			v.setNull(pos, n)
			continue
		}
		switch tv.typ {
		case String:
			v.s[pos] = tv.str(r)
		case Int32, Date:
			v.i32[pos] = tv.i32[r]
		case Int64, Timestamp:
			v.i64[pos] = tv.i64[r]
		case Float64:
			v.f64[pos] = tv.f64[r]
		case Bool:
			v.b[pos] = tv.b[r]
		default:
			v.set(pos, tv.get(r), n)
		}
	}
	return v
}

// takeRows returns the rows of src, in order (a row may repeat).
func takeRows(src *vector, rows []int32) *vector {
	return gatherTable(src, identitySel(len(rows)), rows, len(rows))
}

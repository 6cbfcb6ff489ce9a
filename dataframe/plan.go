package dataframe

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// DataFrame is an immutable logical plan over one streaming source. Each
// method returns a new DataFrame; the first mistake is kept and reported by
// Err, Schema and Compile, and later calls carry it along.
//
// A plan has two phases. Before an aggregation, Filter and Select work row by
// row on the source columns. GroupBy(...).Agg(...) (or a Select of
// aggregates, a global aggregation) ends the first phase; Filter and Select
// after it are HAVING and a projection of the aggregated rows, and may use
// further aggregates. OrderBy and Limit apply to the final rows.
type DataFrame struct {
	table  string
	schema *Schema
	ops    []string // canonical plan text, one line per operation

	where []*bexpr // phase 1 filters over the source columns
	pre   []outCol // columns visible before the aggregation

	agg    *aggSpec // nil until GroupBy(...).Agg
	having []*bexpr // filters over the aggregate output
	post   []outCol // columns visible after the aggregation

	orders     []sortKey
	sortNoAgg  bool  // OrderBy used before any aggregation
	limit      int64 // -1 when none
	limitNoAgg bool  // Limit used before any aggregation

	wm *watermark // WithWatermark, or nil

	join *joinSpec // Join, or nil

	// loc is the session time zone (WithSessionTimeZone), nil for UTC.
	loc *time.Location

	err error
}

type sortKey struct {
	e    *bexpr
	desc bool
}

// GroupedData is a DataFrame grouped by expressions, waiting for Agg.
type GroupedData struct {
	df     *DataFrame
	groups []Expr
}

// Source is the DataFrame of a streaming table: the schema's fields followed
// by the Kafka metadata columns (see MetadataFields).
func Source(table string, schema *Schema) *DataFrame {
	df := &DataFrame{table: table, schema: schema, limit: -1}
	if err := checkSource(table, schema); err != nil {
		df.err = err
		return df
	}
	fields := append(append([]Field(nil), schema.Fields...), MetadataFields()...)
	for i, f := range fields {
		df.pre = append(df.pre, outCol{f.Name, colRef(i, f.Type)})
	}
	df.ops = []string{"Source " + quoteName(table) + " [" + schema.String() + "]"}
	return df
}

// WithSessionTimeZone sets the session time zone of the query, Spark's
// spark.sql.session.timeZone (see LoadTimeZone): its date and time
// functions, its CASTs between TIMESTAMP and STRING or DATE, and its
// timestamp literals without an offset read and show wall-clock time in
// loc. nil is UTC, the default. It must come right after Source, before
// any expression is bound.
func (df *DataFrame) WithSessionTimeZone(loc *time.Location) *DataFrame {
	c, ok := df.derive("SessionTimeZone " + zoneName(loc))
	if !ok {
		return c
	}
	if len(df.ops) != 1 || df.loc != nil {
		return c.fail("WithSessionTimeZone", fmt.Errorf("%w: set the session time zone right after Source, before any other operation", ErrPlan))
	}
	if loc == time.UTC {
		loc = nil
	}
	c.loc = loc
	if loc == nil {
		c.ops = df.ops // UTC is the default: the plan text stays the same
	}
	return c
}

// SessionTimeZone returns the query's session time zone; nil is UTC.
func (df *DataFrame) SessionTimeZone() *time.Location { return df.loc }

func checkSource(table string, schema *Schema) error {
	if table == "" {
		return fmt.Errorf("%w: Source: empty table name", ErrPlan)
	}
	if schema == nil || len(schema.Fields) == 0 {
		return fmt.Errorf("%w: Source: empty schema", ErrPlan)
	}
	seen := map[string]bool{}
	for i, f := range schema.Fields {
		switch {
		case f.Name == "":
			return fmt.Errorf("%w: field %d: empty name", ErrSchema, i+1)
		case !f.Type.valid():
			return fmt.Errorf("%w: field %d (%q): invalid type %v", ErrSchema, i+1, f.Name, f.Type)
		case seen[strings.ToLower(f.Name)]:
			return fmt.Errorf("%w: field %d: duplicate name %q", ErrSchema, i+1, f.Name)
		case isMetadataName(f.Name):
			return fmt.Errorf("%w: field %d: name %q is reserved for Kafka metadata", ErrSchema, i+1, f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
	}
	return nil
}

// derive copies df for a new operation, or returns a DataFrame carrying the
// first error.
func (df *DataFrame) derive(line string) (*DataFrame, bool) {
	if df == nil {
		return &DataFrame{err: fmt.Errorf("%w: nil DataFrame", ErrPlan), limit: -1}, false
	}
	c := *df
	if c.err != nil {
		return &c, false
	}
	c.ops = append(slices.Clip(df.ops), line)
	c.where = slices.Clip(c.where)
	c.having = slices.Clip(c.having)
	c.orders = slices.Clip(c.orders)
	return &c, true
}

func (df *DataFrame) fail(op string, err error) *DataFrame {
	df.err = fmt.Errorf("%s: %w", op, err)
	return df
}

// phase2 binds over the aggregate output, allowing new aggregate calls in a
// private copy of the aggregation.
func (df *DataFrame) phase2() *binder {
	df.agg = df.agg.clone()
	return &binder{cols: df.post, agg: df.agg, loc: df.loc}
}

// Filter keeps the rows where cond is TRUE (not FALSE, not NULL). After an
// aggregation it is HAVING.
func (df *DataFrame) Filter(cond Expr) *DataFrame {
	c, ok := df.derive("Filter " + cond.String())
	if !ok {
		return c
	}
	if c.limit >= 0 {
		return c.fail("Filter", fmt.Errorf("%w: Filter after Limit", ErrPlan))
	}
	b := &binder{cols: c.pre, loc: c.loc}
	if c.agg != nil {
		b = c.phase2()
	} else if containsAgg(cond.node()) {
		return c.fail("Filter", fmt.Errorf("%w: aggregate in a filter before GroupBy(...).Agg", ErrPlan))
	}
	be, err := b.bind(cond.node())
	if err == nil {
		be, err = expectBool("Filter", be)
	}
	if err != nil {
		return c.fail("Filter", err)
	}
	if c.agg != nil {
		c.having = append(c.having, be)
	} else {
		c.where = append(c.where, be)
	}
	return c
}

// Where is Filter.
func (df *DataFrame) Where(cond Expr) *DataFrame { return df.Filter(cond) }

// Select replaces the columns with exprs. A Select of aggregates before any
// GroupBy is a global aggregation (one group).
func (df *DataFrame) Select(exprs ...Expr) *DataFrame {
	if df != nil && df.err == nil && df.agg == nil {
		for _, e := range exprs {
			if containsAgg(e.node()) {
				return df.GroupBy().Agg(exprs...)
			}
		}
	}
	c, ok := df.derive("Select " + exprList(exprs))
	if !ok {
		return c
	}
	if len(exprs) == 0 {
		return c.fail("Select", fmt.Errorf("%w: no columns", ErrPlan))
	}
	b := &binder{cols: c.pre, loc: c.loc}
	if c.agg != nil {
		b = c.phase2()
	}
	cols := make([]outCol, len(exprs))
	for i, e := range exprs {
		col, err := b.bindNamed(e)
		if err != nil {
			return c.fail("Select", err)
		}
		cols[i] = col
	}
	if c.agg != nil {
		c.post = cols
	} else {
		c.pre = cols
	}
	return c
}

func exprList(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

// GroupBy groups the rows by exprs (none: one group of all rows).
func (df *DataFrame) GroupBy(exprs ...Expr) *GroupedData {
	return &GroupedData{df: df, groups: slices.Clone(exprs)}
}

// Agg aggregates each group. Its columns are the grouping expressions then
// aggs; an agg may combine aggregates and grouping expressions
// (Sum(Col("x")).Div(Count()).As("mean")).
func (g *GroupedData) Agg(aggs ...Expr) *DataFrame {
	if g == nil {
		return (*DataFrame)(nil).Filter(Expr{})
	}
	c, ok := g.df.derive("Aggregate [" + exprList(g.groups) + "] [" + exprList(aggs) + "]")
	if !ok {
		return c
	}
	switch {
	case c.agg != nil:
		return c.fail("Agg", fmt.Errorf("%w: more than one aggregation", ErrUnsupported))
	case c.limit >= 0:
		return c.fail("Agg", fmt.Errorf("%w: aggregation after Limit", ErrUnsupported))
	}
	spec := &aggSpec{input: c.pre}
	pre := &binder{cols: c.pre, loc: c.loc}
	for _, e := range g.groups {
		if isWindow(e.node()) {
			if spec.window != nil {
				return c.fail("GroupBy", fmt.Errorf("%w: more than one window in GroupBy (%s)", ErrUnsupported, e))
			}
			w, cols, err := bindWindow(pre, e.node())
			if err != nil {
				return c.fail("GroupBy", err)
			}
			spec.window = w
			spec.groups = append(cols, spec.groups...)
		}
	}
	for _, e := range g.groups {
		if isWindow(e.node()) {
			continue
		}
		if containsAgg(e.node()) {
			return c.fail("GroupBy", fmt.Errorf("%w: aggregate %s in GroupBy", ErrPlan, e))
		}
		if containsWindow(e.node()) {
			return c.fail("GroupBy", fmt.Errorf("%w: a window must be a GroupBy key of its own, not inside %s", ErrPlan, e))
		}
		col, err := pre.bindNamed(e)
		if err != nil {
			return c.fail("GroupBy", err)
		}
		spec.groups = append(spec.groups, col)
	}
	if spec.window != nil && spec.window.session && len(spec.groups) == 2 {
		return c.fail("GroupBy", fmt.Errorf("%w: a session window needs another grouping key (group by session_window(ts, gap) and, say, a user id), as in Spark", ErrUnsupported))
	}
	c.agg = spec
	c.post = spec.outputCols()[:len(spec.groups)]
	b := &binder{agg: spec, grouped: true, loc: c.loc}
	for _, e := range aggs {
		col, err := b.bindNamed(e)
		if err != nil {
			return c.fail("Agg", err)
		}
		c.post = append(c.post, col)
	}
	c.post = slices.Clip(c.post)
	return c
}

// OrderBy sorts the final rows; streaming queries allow it only after an
// aggregation in complete mode (checked by Compile).
func (df *DataFrame) OrderBy(orders ...SortOrder) *DataFrame {
	parts := make([]string, len(orders))
	for i, o := range orders {
		parts[i] = o.String()
	}
	c, ok := df.derive("OrderBy " + strings.Join(parts, ", "))
	if !ok {
		return c
	}
	if c.limit >= 0 {
		return c.fail("OrderBy", fmt.Errorf("%w: OrderBy after Limit", ErrPlan))
	}
	if len(orders) == 0 {
		return c.fail("OrderBy", fmt.Errorf("%w: no sort keys", ErrPlan))
	}
	b := &binder{cols: c.pre, loc: c.loc}
	if c.agg != nil {
		b = c.phase2()
	} else {
		c.sortNoAgg = true
	}
	for _, o := range orders {
		be, err := b.bind(o.e.node())
		if err != nil {
			return c.fail("OrderBy", err)
		}
		c.orders = append(c.orders, sortKey{be, o.desc})
	}
	return c
}

// Limit keeps the first n rows.
func (df *DataFrame) Limit(n int64) *DataFrame {
	c, ok := df.derive("Limit " + strconv.FormatInt(n, 10))
	if !ok {
		return c
	}
	if n < 0 {
		return c.fail("Limit", fmt.Errorf("%w: negative limit %d", ErrPlan, n))
	}
	if c.limit < 0 || n < c.limit {
		c.limit = n
	}
	if c.agg == nil {
		c.limitNoAgg = true
	}
	return c
}

func (df *DataFrame) visible() []outCol {
	if df.agg != nil {
		return df.post
	}
	return df.pre
}

// Columns returns the output column names (nil after an error).
func (df *DataFrame) Columns() []string {
	if df == nil || df.err != nil {
		return nil
	}
	cols := df.visible()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names
}

// Schema returns the Arrow schema of the output; every field is nullable.
func (df *DataFrame) Schema() (*arrow.Schema, error) {
	if err := df.Err(); err != nil {
		return nil, err
	}
	return arrowSchema(df.visible()), nil
}

func arrowSchema(cols []outCol) *arrow.Schema {
	fs := make([]arrow.Field, len(cols))
	for i, c := range cols {
		t := c.e.typ
		if t == nullType {
			t = Int32
		}
		fs[i] = arrow.Field{Name: c.name, Type: t.Arrow(), Nullable: true}
	}
	return arrow.NewSchema(fs, nil)
}

// SourceSchema is the schema of the Source the DataFrame reads.
func (df *DataFrame) SourceSchema() *Schema { return df.schema }

// Aggregates reports whether df has a GroupBy/Agg (or a global
// aggregate): such a query keeps state and runs in complete or update mode.
func (df *DataFrame) Aggregates() bool { return df.agg != nil }

// Err returns the first error made building df.
func (df *DataFrame) Err() error {
	if df == nil {
		return fmt.Errorf("%w: nil DataFrame", ErrPlan)
	}
	return df.err
}

// String returns the canonical plan text, one operation per line. It is
// deterministic and changes when the query's meaning does, so checkpoints
// use it to recognise their query.
func (df *DataFrame) String() string {
	if df == nil {
		return "<nil>"
	}
	return strings.Join(df.ops, "\n")
}

package sql

import (
	"fmt"
	"slices"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/microbatch/microbatch/dataframe"
)

// CompileTables is Compile for a query that may join the stream with the
// static tables in tables (by name, case-insensitive):
//
//	SELECT e.user, p.category FROM events e JOIN products p ON e.product_id = p.product_id
//
// INNER and LEFT [OUTER] joins with the stream on the left (an INNER join
// may name the table first), equality keys and any further condition in
// ON, and a derived table FROM (SELECT ...) AS t, are supported.
func CompileTables(query string, table string, schema *dataframe.Schema, tables map[string]*dataframe.StaticTable) (*dataframe.DataFrame, error) {
	return CompileWith(query, schema, Options{Table: table, Tables: tables})
}

// Options are what CompileWith takes beyond the query and the schema.
type Options struct {
	// Table is the stream's table name; "events" when empty.
	Table string
	// Tables are the static tables a join may read, by name
	// (case-insensitive).
	Tables map[string]*dataframe.StaticTable
	// SessionTimeZone is the zone of the query's date and time functions,
	// CASTs and timestamp literals (Spark's spark.sql.session.timeZone,
	// dataframe.DataFrame.WithSessionTimeZone); nil is UTC.
	SessionTimeZone *time.Location
}

// CompileWith is CompileTables with every option.
func CompileWith(query string, schema *dataframe.Schema, o Options) (*dataframe.DataFrame, error) {
	table, tables := o.Table, o.Tables
	if table == "" {
		table = defaultTable
	}
	src := dataframe.Source(table, schema).WithSessionTimeZone(o.SessionTimeZone)
	if err := src.Err(); err != nil {
		return nil, fmt.Errorf("sql: %w", err)
	}
	p, err := parse(query, src.Columns())
	if err != nil {
		return nil, err
	}
	c := &compiler{p: p, t: &translator{p: p, table: table}, schema: schema, src: src, tables: tables}
	df, cerr := c.compile()
	if cerr != nil {
		return nil, cerr
	}
	return df, nil
}

// joined is the static table of a query's join, for name resolution.
type joined struct {
	name, alias string
	cols        []string // the table's field names
	dfNames     []string // the DataFrame's names of those columns
	streamCols  []string // the columns before the join
	streamStar  []string // the columns * stands for before the join
}

// staticTable returns the static table named name, or nil.
func (c *compiler) staticTable(name string) *dataframe.StaticTable {
	for n, t := range c.tables {
		if strings.EqualFold(n, name) {
			return t
		}
	}
	return nil
}

func rangeName(rv *pg.RangeVar) string {
	name := rv.GetRelname()
	if rv.GetSchemaname() != "" {
		name = rv.GetSchemaname() + "." + name
	}
	if rv.GetCatalogname() != "" {
		name = rv.GetCatalogname() + "." + name
	}
	return name
}

// stream compiles a FROM item that must be the stream: the source table
// (noting its alias) or a derived table over it.
func (c *compiler) stream(n *pg.Node) *Error {
	pos := nodeLocation(n, c.p.tokenAt(pg.Token_FROM, c.p.start)+5)
	switch {
	case n.GetRangeVar() != nil:
		rv := n.GetRangeVar()
		pos = nodeOr(int(rv.GetLocation()), c.p.start)
		name := rangeName(rv)
		if !strings.EqualFold(name, c.t.table) {
			if c.staticTable(name) != nil {
				return c.errAt(pos, "%s is a static table: a query reads the stream %s (FROM %s JOIN %s ...)", quoteIdent(name), quoteIdent(c.t.table), quoteIdent(c.t.table), quoteIdent(name))
			}
			return c.errAt(pos, "unknown table %s: the query can only read the source table %s%s", quoteIdent(name), quoteIdent(c.t.table), c.tableList())
		}
		if a := rv.GetAlias(); a != nil {
			if len(a.GetColnames()) > 0 {
				return c.errAt(pos, "column aliases in FROM are not supported")
			}
			c.t.alias = a.GetAliasname()
		}
		return nil
	case n.GetRangeSubselect() != nil:
		return c.derived(n.GetRangeSubselect(), pos)
	case n.GetJoinExpr() != nil:
		return c.join(n.GetJoinExpr(), pos)
	}
	return c.errAt(pos, "FROM supports only the source table %s, a derived table over it and a join with a static table", quoteIdent(c.t.table))
}

func (c *compiler) tableList() string {
	if len(c.tables) == 0 {
		return ""
	}
	var names []string
	for n := range c.tables {
		names = append(names, quoteIdent(n))
	}
	slices.Sort(names)
	return "; the static tables are " + strings.Join(names, ", ")
}

// unknownTable is the error for a join with a table the job does not
// define, with a did-you-mean among those it does.
func (c *compiler) unknownTable(pos int, name string) *Error {
	var names []string
	for n := range c.tables {
		names = append(names, n)
	}
	switch sg := suggest(name, names); {
	case len(names) == 0:
		return c.errAt(pos, "unknown table %s: a join reads a static table, and the job defines none (tables:)", quoteIdent(name))
	case sg != "":
		return c.errAt(pos, "unknown table %s (did you mean %s?)%s", quoteIdent(name), quoteIdent(sg), c.tableList())
	}
	return c.errAt(pos, "unknown table %s: a join reads one of the job's static tables%s", quoteIdent(name), c.tableList())
}

// derived compiles FROM (SELECT ...) AS t: the inner query becomes the
// source of the outer one.
func (c *compiler) derived(rs *pg.RangeSubselect, pos int) *Error {
	if rs.GetLateral() {
		return c.errAt(pos, "LATERAL subqueries are not supported")
	}
	sub := rs.GetSubquery().GetSelectStmt()
	if sub == nil {
		return c.errAt(pos, "only a SELECT may be a derived table")
	}
	inner := &compiler{p: &parsed{q: c.p.q, stmt: sub, tokens: c.p.tokens, start: nodeOr(pos+1, c.p.start)},
		schema: c.schema, src: c.src, tables: c.tables}
	inner.t = &translator{p: inner.p, table: c.t.table}
	df, err := inner.compile()
	if err != nil {
		return err
	}
	c.src, c.star, c.innerAgg = df, df.Columns(), df.Aggregates()
	c.t.alias = ""
	if a := rs.GetAlias(); a != nil {
		if len(a.GetColnames()) > 0 {
			return c.errAt(pos, "column aliases in FROM are not supported")
		}
		c.t.alias = a.GetAliasname()
	}
	return nil
}

// join compiles a stream-static join.
func (c *compiler) join(j *pg.JoinExpr, pos int) *Error {
	joinPos := c.p.tokenAt(pg.Token_JOIN, pos)
	how := dataframe.InnerJoin
	switch j.GetJointype() {
	case pg.JoinType_JOIN_INNER:
	case pg.JoinType_JOIN_LEFT:
		how = dataframe.LeftJoin
	case pg.JoinType_JOIN_RIGHT:
		return c.errAt(joinPos, "RIGHT JOIN is not supported: it would put the stream on the nullable side (write the stream first: FROM %s LEFT JOIN ...)", quoteIdent(c.t.table))
	case pg.JoinType_JOIN_FULL:
		return c.errAt(joinPos, "FULL JOIN is not supported: it would put the stream on the nullable side")
	default:
		return c.errAt(joinPos, "this kind of join is not supported: use JOIN or LEFT JOIN")
	}
	switch {
	case j.GetIsNatural():
		return c.errAt(joinPos, "NATURAL JOIN is not supported: name the keys with ON")
	case len(j.GetUsingClause()) > 0:
		return c.errAt(joinPos, "JOIN ... USING is not supported: name the keys with ON")
	case j.GetQuals() == nil:
		return c.errAt(joinPos, "CROSS JOIN is not supported: a join needs ON with an equality of a stream column and a table column")
	}
	l, r := j.GetLarg(), j.GetRarg()
	isStatic := func(n *pg.Node) bool {
		return n.GetRangeVar() != nil && c.staticTable(rangeName(n.GetRangeVar())) != nil
	}
	isStream := func(n *pg.Node) bool {
		return n.GetRangeVar() != nil && strings.EqualFold(rangeName(n.GetRangeVar()), c.t.table) || n.GetRangeSubselect() != nil
	}
	if isStatic(l) && !isStatic(r) {
		if how == dataframe.LeftJoin {
			return c.errAt(joinPos, "LEFT JOIN with the stream on the right is not supported: it would put the stream on the nullable side (write the stream first)")
		}
		l, r = r, l
	}
	if isStream(r) && isStream(l) {
		return c.errAt(nodeLocation(r, joinPos), "stream-stream joins are not supported: a stream joins static tables only")
	}
	if r.GetJoinExpr() != nil || l.GetJoinExpr() != nil {
		return c.errAt(joinPos, "a query joins the stream with one static table")
	}
	if !isStatic(r) {
		rp := nodeLocation(r, joinPos)
		if r.GetRangeVar() != nil {
			name := rangeName(r.GetRangeVar())
			return c.unknownTable(nodeOr(int(r.GetRangeVar().GetLocation()), rp), name)
		}
		return c.errAt(rp, "a join's right side must be a static table")
	}
	if err := c.stream(l); err != nil {
		return err
	}
	rv := r.GetRangeVar()
	tbl := c.staticTable(rangeName(rv))
	jt := &joined{name: tbl.Name(), alias: tbl.Name(), streamCols: c.src.Columns(), streamStar: c.starCols()}
	if a := rv.GetAlias(); a != nil {
		if len(a.GetColnames()) > 0 {
			return c.errAt(nodeOr(int(rv.GetLocation()), joinPos), "column aliases in FROM are not supported")
		}
		jt.alias = a.GetAliasname()
	}
	for _, f := range tbl.Schema().Fields {
		jt.cols = append(jt.cols, f.Name)
	}
	c.t.joined = jt
	// ON: each "stream expression = table column" conjunct is a key; the
	// rest is the join's condition.
	var keys []dataframe.JoinKey
	var keyPos []int
	var rest []*pg.Node
	for _, q := range conjuncts(j.GetQuals()) {
		if k, ok, err := c.joinKey(q, jt); err != nil {
			return err
		} else if ok {
			keys = append(keys, k)
			keyPos = append(keyPos, nodeLocation(q.GetAExpr().GetLexpr(), joinPos))
			continue
		}
		rest = append(rest, q)
	}
	if len(keys) == 0 {
		return c.errAt(nodeLocation(j.GetQuals(), joinPos), "a join needs an equality of a stream column and a column of %s in ON", quoteIdent(jt.alias))
	}
	spec := dataframe.Join{Table: tbl, Type: how, Alias: jt.alias, Keys: keys}
	df := c.src.Join(spec)
	if err := df.Err(); err != nil {
		for i := range keys {
			if e := c.src.Join(dataframe.Join{Table: tbl, Type: how, Alias: jt.alias, Keys: keys[i : i+1]}).Err(); e != nil {
				return planError(c.p.q, keyPos[i], e)
			}
		}
		return planError(c.p.q, joinPos, err)
	}
	jt.dfNames = df.Columns()[len(jt.streamCols):]
	if len(rest) > 0 {
		x, err := c.t.expr(andOf(rest), &scope{clause: "ON", cols: df.Columns()})
		if err != nil {
			return asError(err)
		}
		spec.Cond = x.e
		if df = c.src.Join(spec); df.Err() != nil {
			return planError(c.p.q, x.start(), df.Err())
		}
	}
	c.src, c.star = df, append(append([]string(nil), c.starCols()...), jt.dfNames...)
	return nil
}

// joinKey recognises "stream expression = table column" (either way round).
func (c *compiler) joinKey(q *pg.Node, jt *joined) (dataframe.JoinKey, bool, *Error) {
	e := q.GetAExpr()
	if e == nil || e.GetKind() != pg.A_Expr_Kind_AEXPR_OP || strings.Join(opNames(e.GetName()), "") != "=" {
		return dataframe.JoinKey{}, false, nil
	}
	for _, side := range [2][2]*pg.Node{{e.GetLexpr(), e.GetRexpr()}, {e.GetRexpr(), e.GetLexpr()}} {
		col, ok := c.tableColumn(side[1], jt)
		if !ok {
			continue
		}
		saved := c.t.joined
		c.t.joined = nil // the stream side sees the stream's columns only
		x, err := c.t.expr(side[0], &scope{clause: "ON", cols: jt.streamCols})
		c.t.joined = saved
		if err != nil {
			continue
		}
		return dataframe.JoinKey{Stream: x.e, Table: col}, true, nil
	}
	return dataframe.JoinKey{}, false, nil
}

// tableColumn reports whether n is a reference to a column of the joined
// table, qualified by its name or alias, or unqualified and not a stream
// column.
func (c *compiler) tableColumn(n *pg.Node, jt *joined) (string, bool) {
	cr := n.GetColumnRef()
	if cr == nil {
		return "", false
	}
	parts, star := refParts(cr)
	if star || len(parts) == 0 {
		return "", false
	}
	if len(parts) > 1 && (strings.EqualFold(parts[0], jt.alias) || strings.EqualFold(parts[0], jt.name)) {
		if i := lookup(jt.cols, strings.Join(parts[1:], ".")); i >= 0 {
			return jt.cols[i], true
		}
		return "", false
	}
	full := strings.Join(parts, ".")
	if lookup(jt.streamCols, full) < 0 {
		if i := lookup(jt.cols, full); i >= 0 {
			return jt.cols[i], true
		}
	}
	return "", false
}

func (c *compiler) starCols() []string {
	if c.star != nil {
		return c.star
	}
	names := make([]string, len(c.schema.Fields))
	for i, f := range c.schema.Fields {
		names[i] = f.Name
	}
	return names
}

// conjuncts splits a condition at its top-level ANDs.
func conjuncts(n *pg.Node) []*pg.Node {
	if b := n.GetBoolExpr(); b != nil && b.GetBoolop() == pg.BoolExprType_AND_EXPR {
		var out []*pg.Node
		for _, a := range b.GetArgs() {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg.Node{n}
}

func andOf(ns []*pg.Node) *pg.Node {
	if len(ns) == 1 {
		return ns[0]
	}
	return pg.MakeBoolExprNode(pg.BoolExprType_AND_EXPR, ns, -1)
}

func opNames(ns []*pg.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.GetString_().GetSval()
	}
	return out
}

// resolveJoined resolves a reference qualified by the joined table (or
// the stream) in a query with a join; handled reports whether it applied.
func (t *translator) resolveJoined(parts []string, cols []string, pos int) (name string, found, handled bool, err error) {
	jt := t.joined
	if jt == nil || len(jt.dfNames) == 0 {
		return "", false, false, nil
	}
	if len(parts) > 1 && (strings.EqualFold(parts[0], jt.alias) || strings.EqualFold(parts[0], jt.name)) {
		i := lookup(jt.cols, strings.Join(parts[1:], "."))
		if i < 0 || lookup(cols, jt.dfNames[i]) < 0 {
			return "", false, true, nil
		}
		return cols[lookup(cols, jt.dfNames[i])], true, true, nil
	}
	if len(parts) == 1 && lookup(jt.streamCols, parts[0]) >= 0 {
		if i := lookup(jt.cols, parts[0]); i >= 0 && lookup(cols, jt.dfNames[i]) >= 0 && jt.dfNames[i] != jt.cols[i] {
			return "", false, true, t.errAt(pos, "column reference %s is ambiguous: both the stream and %s have it (qualify it: %s.%s)",
				quoteIdent(parts[0]), quoteIdent(jt.alias), quoteIdent(jt.alias), quoteIdent(jt.cols[i]))
		}
	}
	return "", false, false, nil
}

// starOf returns the columns of *, or of t.* for parts [t].
func (c *compiler) starOf(parts []string) ([]string, bool) {
	jt := c.t.joined
	switch {
	case len(parts) == 0:
		return c.starCols(), true
	case len(parts) > 1:
		return nil, false
	case strings.EqualFold(parts[0], c.t.table) || strings.EqualFold(parts[0], c.t.alias):
		if jt != nil {
			return jt.streamStar, true
		}
		return c.starCols(), true
	case jt != nil && (strings.EqualFold(parts[0], jt.alias) || strings.EqualFold(parts[0], jt.name)):
		return jt.dfNames, true
	}
	return nil, false
}

// starAlias is the name a column of * gets in the output: a joined table's
// column named "alias.name" (the stream has one called name) is output as
// name, as in Spark.
func (c *compiler) starAlias(name string) string {
	if jt := c.t.joined; jt != nil {
		for i, n := range jt.dfNames {
			if n == name && n != jt.cols[i] {
				return jt.cols[i]
			}
		}
	}
	return ""
}

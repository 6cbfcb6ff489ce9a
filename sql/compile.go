package sql

import (
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/microbatch/microbatch/dataframe"
)

// noGroupBy explains a column that is not aggregated in a query that
// aggregates all rows into one.
const noGroupBy = " (there is no GROUP BY: every column must be in an aggregate)"

// defaultTable is the table queries read from when Compile is given none.
const defaultTable = "events"

// Compile compiles query, one SELECT over table ("events" when empty)
// whose columns are schema's fields and the Kafka metadata columns, into the
// DataFrame the same query written with the dataframe API would build.
//
// A problem with the query is an *Error naming its line and column. A
// problem with table or schema is the dataframe package's error, wrapped.
// Compile checks the query, not whether it can run as a stream in a given
// output mode: dataframe.Compile does that.
func Compile(query string, table string, schema *dataframe.Schema) (*dataframe.DataFrame, error) {
	return CompileTables(query, table, schema, nil)
}

// compiler holds the state of one Compile.
type compiler struct {
	p      *parsed
	t      *translator
	schema *dataframe.Schema
	src    *dataframe.DataFrame
	items  []*item
	tables map[string]*dataframe.StaticTable // the static tables a join may read
	star   []string                          // the columns * stands for; nil: the schema's fields
	// innerAgg: the query reads a derived table that aggregates.
	innerAgg bool
}

// item is one column of the select list (a * stands for several).
type item struct {
	node  *pg.Node // nil for a column of a * expansion
	alias string   // "" when none
	pos   int      // byte offset of the entry
	x     *texpr
	group int    // index of the grouping expression it is, or -1
	win   string // the window columns it selects: "start", "end", "both" or ""
}

// named returns the item's expression with its alias.
func (it *item) named() dataframe.Expr {
	if it.alias != "" {
		return it.x.e.As(it.alias)
	}
	return it.x.e
}

func (c *compiler) errAt(off int, format string, args ...any) *Error {
	return errAt(c.p.q, off, format, args...)
}

func (c *compiler) compile() (*dataframe.DataFrame, *Error) {
	s := c.p.stmt
	if err := c.checkShape(); err != nil {
		return nil, err
	}
	if err := c.from(); err != nil {
		return nil, err
	}
	if err := c.selectList(); err != nil {
		return nil, err
	}
	srcCols := c.src.Columns()
	df := c.src
	if w := s.GetWhereClause(); w != nil {
		var aliases []string
		for _, it := range c.items {
			if it.alias != "" {
				aliases = append(aliases, it.alias)
			}
		}
		x, err := c.t.expr(w, &scope{clause: "WHERE", cols: srcCols, aliases: aliases})
		if err != nil {
			return nil, asError(err)
		}
		if df = df.Filter(x.e); df.Err() != nil {
			return nil, c.condError("WHERE", x, c.src, df.Err())
		}
	}
	aggregated := len(s.GetGroupClause()) > 0 || len(s.GetDistinctClause()) > 0 || s.GetHavingClause() != nil
	for _, it := range c.items {
		aggregated = aggregated || it.node != nil && hasAggregate(it.node)
	}
	for _, o := range s.GetSortClause() {
		aggregated = aggregated || hasAggregate(o.GetSortBy().GetNode())
	}
	var err *Error
	if aggregated && c.innerAgg {
		return nil, c.errAt(c.aggPos(), "multiple streaming aggregations are not supported (nor in Spark): the derived table already aggregates")
	}
	if aggregated {
		df, err = c.aggregate(df, srcCols)
	} else {
		df, err = c.project(df, srcCols)
	}
	if err != nil {
		return nil, err
	}
	return c.limit(df)
}

// aggPos is where the query first aggregates, for a refusal.
func (c *compiler) aggPos() int {
	s := c.p.stmt
	if g := s.GetGroupClause(); len(g) > 0 {
		at := nodeLocation(g[0], c.p.start)
		pos := at
		for _, t := range c.p.tokens {
			if t.GetToken() == pg.Token_GROUP_P && int(t.GetStart()) < at {
				pos = int(t.GetStart())
			}
		}
		return pos
	}
	for _, it := range c.items {
		if it.node != nil && hasAggregate(it.node) {
			return it.pos
		}
	}
	return c.p.start
}

func asError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Line: 1, Column: 1, Msg: err.Error(), err: err}
}

// checkShape rejects the parts of a SELECT that microbatch does not run.
func (c *compiler) checkShape() *Error {
	s := c.p.stmt
	switch {
	case s.GetOp() != pg.SetOperation_SETOP_NONE:
		word := map[pg.SetOperation]string{pg.SetOperation_SETOP_UNION: "UNION",
			pg.SetOperation_SETOP_INTERSECT: "INTERSECT", pg.SetOperation_SETOP_EXCEPT: "EXCEPT"}[s.GetOp()]
		tok := map[string]pg.Token{"UNION": pg.Token_UNION, "INTERSECT": pg.Token_INTERSECT, "EXCEPT": pg.Token_EXCEPT}[word]
		return c.errAt(c.p.tokenAt(tok, c.p.start), "%s is not supported: a query reads one table", word)
	case s.GetWithClause() != nil:
		return c.errAt(nodeOr(int(s.GetWithClause().GetLocation()), c.p.start), "WITH (common table expressions) is not supported")
	case len(s.GetValuesLists()) > 0:
		return c.errAt(c.p.start, "VALUES is not supported: a query reads its source table")
	case s.GetIntoClause() != nil:
		return c.errAt(c.p.tokenAt(pg.Token_INTO, c.p.start), "SELECT INTO is not supported")
	case len(s.GetWindowClause()) > 0:
		return c.errAt(c.p.tokenAt(pg.Token_WINDOW, c.p.start), "window functions (WINDOW) are not supported")
	case len(s.GetLockingClause()) > 0:
		return c.errAt(c.p.tokenAt(pg.Token_FOR, c.p.start), "FOR UPDATE and other locking clauses are not supported")
	case s.GetLimitOffset() != nil:
		return c.errAt(c.p.tokenAt(pg.Token_OFFSET, c.p.start), "OFFSET is not supported")
	case s.GetLimitOption() == pg.LimitOption_LIMIT_OPTION_WITH_TIES:
		return c.errAt(c.p.tokenAt(pg.Token_FETCH, c.p.start), "FETCH ... WITH TIES is not supported")
	case s.GetGroupDistinct():
		return c.errAt(c.p.tokenAt(pg.Token_GROUP_P, c.p.start), "GROUP BY DISTINCT is not supported")
	}
	if d := s.GetDistinctClause(); len(d) > 0 && d[0].GetNode() != nil {
		return c.errAt(nodeLocation(d[0], c.p.start), "DISTINCT ON is not supported")
	}
	for _, g := range s.GetGroupClause() {
		if gs := g.GetGroupingSet(); gs != nil {
			return c.errAt(nodeOr(int(gs.GetLocation()), c.p.start), "ROLLUP, CUBE and GROUPING SETS are not supported")
		}
	}
	return nil
}

// tokenText returns the text of the token that starts at off, or "".
func (p *parsed) tokenText(off int) string {
	for _, t := range p.tokens {
		if int(t.GetStart()) == off && int(t.GetEnd()) <= len(p.q) {
			return p.q[off:t.GetEnd()]
		}
	}
	return ""
}

// tokenAt returns the offset of the first token tok at or after from, or
// from when there is none.
func (p *parsed) tokenAt(tok pg.Token, from int) int {
	for _, t := range p.tokens {
		if int(t.GetStart()) >= from && t.GetToken() == tok {
			return int(t.GetStart())
		}
	}
	return from
}

// from checks that the query reads the source table, and notes its alias.
func (c *compiler) from() *Error {
	items := c.p.stmt.GetFromClause()
	if len(items) == 0 {
		return c.errAt(c.p.start, "missing FROM %s: a query reads the source table", quoteIdent(c.t.table))
	}
	if len(items) > 1 {
		return c.errAt(nodeLocation(items[1], c.p.tokenAt(pg.Token_ASCII_44, c.p.tokenAt(pg.Token_FROM, c.p.start))),
			"joins are not supported: a query reads one table")
	}
	return c.stream(items[0])
}

// selectList reads the select list into c.items, expanding *. Expressions
// are translated later, when the clause they belong to is known.
func (c *compiler) selectList() *Error {
	if len(c.p.stmt.GetTargetList()) == 0 {
		return c.errAt(c.p.start, "empty select list: name at least one column")
	}
	for _, n := range c.p.stmt.GetTargetList() {
		rt := n.GetResTarget()
		pos := nodeOr(int(rt.GetLocation()), c.p.start)
		if cr := rt.GetVal().GetColumnRef(); cr != nil {
			if parts, star := refParts(cr); star {
				names, ok := c.starOf(parts)
				if !ok {
					return c.errAt(pos, "unknown table %s in %s.*", quoteIdent(strings.Join(parts, ".")), quoteIdent(strings.Join(parts, ".")))
				}
				for _, name := range names {
					c.items = append(c.items, &item{pos: pos, group: -1, alias: c.starAlias(name),
						x: &texpr{e: dataframe.Col(name), pos: pos, col: name}})
				}
				continue
			}
		}
		alias := ""
		if rt.GetName() != "" {
			alias = c.p.aliasSpelling(pos, rt.GetName())
		}
		c.items = append(c.items, &item{node: rt.GetVal(), alias: alias, pos: pos, group: -1})
	}
	return nil
}

// translateItems translates the select list in scope s.
func (c *compiler) translateItems(s *scope) *Error {
	for _, it := range c.items {
		if it.node == nil || it.win != "" {
			continue
		}
		x, err := c.t.expr(it.node, s)
		if err != nil {
			return asError(err)
		}
		it.x = x
	}
	return nil
}

// project compiles a query without aggregation: Select, then OrderBy.
func (c *compiler) project(df *dataframe.DataFrame, srcCols []string) (*dataframe.DataFrame, *Error) {
	in := &scope{clause: "SELECT", cols: srcCols}
	if err := c.translateItems(in); err != nil {
		return nil, err
	}
	exprs := make([]dataframe.Expr, len(c.items))
	for i, it := range c.items {
		exprs[i] = it.named()
	}
	sel := df.Select(exprs...)
	if sel.Err() != nil {
		return nil, c.itemsError(sel.Err(), func(e dataframe.Expr) error { return df.Select(e).Err() }, nil)
	}
	out := sel.Columns()
	pos := make([]int, len(c.items))
	for i, it := range c.items {
		pos[i] = it.pos
	}
	if err := c.duplicates(out, pos); err != nil {
		return nil, err
	}
	subs := make([]subst, len(c.items))
	for i, it := range c.items {
		subs[i] = subst{text: it.x.e.String(), name: out[i]}
	}
	ord := &scope{clause: "ORDER BY", cols: out, subst: subs, substScope: in, unselected: srcCols}
	return c.orderBy(sel, out, nil, ord, func(e dataframe.Expr) error { return sel.Select(e).Err() }, nil)
}

// aggregate compiles a query with GROUP BY, aggregates, HAVING or DISTINCT:
// GroupBy(...).Agg(...), Filter for HAVING, OrderBy, then a Select when the
// select list is not the aggregation's columns in order.
func (c *compiler) aggregate(df *dataframe.DataFrame, srcCols []string) (*dataframe.DataFrame, *Error) {
	s := c.p.stmt
	distinct := len(s.GetDistinctClause()) > 0
	for _, it := range c.items {
		if it.node == nil {
			return nil, c.errAt(it.pos, "* is not supported with GROUP BY, DISTINCT or aggregates: list the columns")
		}
	}
	win, werr := c.windowKey(srcCols)
	if werr != nil {
		return nil, werr
	}
	if win != nil {
		for _, it := range c.items {
			if cr := it.node.GetColumnRef(); cr != nil {
				if parts, star := refParts(cr); !star {
					it.win = win.item(parts)
				}
			}
			if it.win != "" {
				it.x = &texpr{e: dataframe.Col(win.start), pos: it.pos, col: win.start}
			}
		}
	}
	if err := c.translateItems(&scope{clause: "SELECT", cols: srcCols, aggCols: srcCols}); err != nil {
		return nil, err
	}
	var groups []*texpr
	var groupExprs []dataframe.Expr
	shift := 0 // the window's second key column
	if win != nil {
		if distinct {
			return nil, c.errAt(c.p.tokenAt(pg.Token_DISTINCT, c.p.start), "SELECT DISTINCT with a window is not supported")
		}
		groups = append(groups, &texpr{e: win.e, pos: win.pos})
		groupExprs = append(groupExprs, win.e)
		shift = 1
	}
	// gpost is the output column of grouping expression j.
	gpost := func(j int) int {
		if j > 0 {
			return j + shift
		}
		return j
	}
	if distinct {
		if len(s.GetGroupClause()) > 0 || s.GetHavingClause() != nil {
			return nil, c.errAt(c.p.tokenAt(pg.Token_DISTINCT, c.p.start), "SELECT DISTINCT with GROUP BY or HAVING is not supported")
		}
		for i, it := range c.items {
			if it.x.hasAgg {
				return nil, c.errAt(it.x.start(), "SELECT DISTINCT with aggregates is not supported")
			}
			it.group = i
			groups = append(groups, it.x)
			groupExprs = append(groupExprs, it.named())
		}
	}
	for _, g := range s.GetGroupClause() {
		if f := g.GetFuncCall(); f != nil && windowFuncs[strings.ToLower(unalias(opName(f.GetFuncname())))] {
			continue // the window, above
		}
		x, named, err := c.groupKey(g, srcCols, len(groups))
		if err != nil {
			return nil, err
		}
		groups = append(groups, x)
		groupExprs = append(groupExprs, named)
	}
	var aggItems []*item
	var aggExprs []dataframe.Expr
	for _, it := range c.items {
		if it.group < 0 && it.win == "" {
			aggItems = append(aggItems, it)
			aggExprs = append(aggExprs, it.named())
		}
	}
	agg := df.GroupBy(groupExprs...).Agg(aggExprs...)
	if err := agg.Err(); err != nil {
		for i, g := range groups {
			if gerr := df.GroupBy(groupExprs[i]).Agg().Err(); gerr != nil {
				return nil, c.locate(g, func(e dataframe.Expr) error { return df.GroupBy(e).Agg().Err() }, nil, gerr)
			}
		}
		probe := func(e dataframe.Expr) error { return df.GroupBy(groupExprs...).Agg(e).Err() }
		inner := func(e dataframe.Expr) error { return df.Select(e).Err() }
		e := c.itemsError(err, probe, inner)
		if len(groups) == 0 {
			e.Msg = strings.Replace(e.Msg, " (group by: )", noGroupBy, 1)
		}
		return nil, e
	}
	post := agg.Columns()
	var out []string
	var outExprs []dataframe.Expr
	var outPos []int
	pos := make([]int, len(post))
	for i, g := range groups {
		pos[gpost(i)] = g.start()
	}
	if win != nil {
		pos[1] = win.pos
	}
	ai := 0
	renamed := map[string]string{} // output alias -> its column of the aggregation
	add := func(name, alias string, at int) {
		outPos = append(outPos, at)
		if alias != "" && alias != name {
			renamed[alias] = name
		}
		if alias == "" {
			out, outExprs = append(out, name), append(outExprs, dataframe.Col(name))
		} else {
			out, outExprs = append(out, alias), append(outExprs, dataframe.Col(name).As(alias))
		}
	}
	for _, it := range c.items {
		switch {
		case it.win == "start":
			add(post[0], it.alias, it.pos)
		case it.win == "end":
			add(post[1], it.alias, it.pos)
		case it.win == "both":
			add(post[0], "", it.pos)
			add(post[1], "", it.pos)
		case it.group >= 0:
			add(post[gpost(it.group)], "", it.pos)
		default:
			add(post[len(groups)+shift+ai], "", it.pos)
			pos[len(groups)+shift+ai] = it.pos
			ai++
		}
	}
	if err := c.duplicates(post, pos); err != nil {
		return nil, err
	}
	if err := c.duplicates(out, outPos); err != nil {
		return nil, err
	}
	var subs []subst
	for i, g := range groups {
		if win != nil && i == 0 {
			continue
		}
		subs = append(subs, subst{text: g.e.String(), name: post[gpost(i)]})
	}
	phase2 := func(clause string) *scope {
		return &scope{clause: clause, cols: post, aggCols: srcCols, subst: subs,
			substScope: &scope{clause: clause, cols: srcCols}, grouped: srcCols, groupNames: post[:len(groups)+shift]}
	}
	probe := func(e dataframe.Expr) error { return agg.Select(e).Err() }
	inner := func(e dataframe.Expr) error { return df.Select(e).Err() }
	res := agg
	if h := s.GetHavingClause(); h != nil {
		x, err := c.t.expr(h, phase2("HAVING"))
		if err != nil {
			return nil, asError(err)
		}
		if res = res.Filter(x.e); res.Err() != nil {
			return nil, c.condError("HAVING", x, agg, res.Err())
		}
	}
	res, err := c.orderBy(res, out, renamed, phase2("ORDER BY"), probe, inner)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(out, post) {
		if res = res.Select(outExprs...); res.Err() != nil {
			return nil, planError(c.p.q, c.p.start, res.Err())
		}
	}
	return res, nil
}

// groupKey translates one GROUP BY entry: a select-list position, a
// select-list alias that is not a source column, or an expression. The entry
// becomes the select-list item it matches (same expression), so that the
// aggregation's key column carries the item's name.
func (c *compiler) groupKey(g *pg.Node, srcCols []string, index int) (*texpr, dataframe.Expr, *Error) {
	var it *item
	pos := nodeLocation(g, c.p.start)
	if k := g.GetAConst(); k != nil && k.GetIval() != nil {
		n := int(k.GetIval().GetIval())
		if n < 1 || n > len(c.items) {
			return nil, dataframe.Expr{}, c.errAt(pos, "GROUP BY position %d is not in the select list (1 to %d)", n, len(c.items))
		}
		it = c.items[n-1]
	} else if cr := g.GetColumnRef(); cr != nil {
		parts, star := refParts(cr)
		if _, found, _ := c.t.resolve(parts, srcCols, pos); !found && !star && len(parts) == 1 {
			for _, cand := range c.items {
				if cand.alias != "" && strings.EqualFold(cand.alias, parts[0]) {
					it = cand
					break
				}
			}
		}
	}
	if it != nil {
		if it.x.hasAgg {
			return nil, dataframe.Expr{}, c.errAt(pos, "GROUP BY %s refers to an aggregate", strings.TrimSpace(c.p.q[min(pos, len(c.p.q)):nodeEnd(c.p, pos)]))
		}
		if it.group < 0 {
			it.group = index
		}
		return it.x, it.named(), nil
	}
	x, err := c.t.expr(g, &scope{clause: "GROUP BY", cols: srcCols})
	if err != nil {
		return nil, dataframe.Expr{}, asError(err)
	}
	text := x.e.String()
	for _, cand := range c.items {
		if cand.group < 0 && !cand.x.hasAgg && cand.x.e.String() == text {
			cand.group = index
			return x, cand.named(), nil
		}
	}
	return x, x.e, nil
}

// nodeEnd returns the end offset of the token at pos.
func nodeEnd(p *parsed, pos int) int {
	for _, t := range p.tokens {
		if int(t.GetStart()) == pos {
			return min(int(t.GetEnd()), len(p.q))
		}
	}
	return min(pos+1, len(p.q))
}

// duplicates rejects output columns with the same name: sinks key rows by
// column name. pos[i] is where the query makes names[i].
func (c *compiler) duplicates(names []string, pos []int) *Error {
	for i, n := range names {
		if j := slices.Index(names, n); j != i {
			return c.errAt(pos[i], "duplicate output column name %s: give one of them another name with AS", quoteIdent(n))
		}
	}
	return nil
}

// orderBy applies ORDER BY: a select-list position, an output column, or an
// expression in scope s. renamed maps the output names (aliases) that are
// not yet df's column names, as the select list renames them after the
// sort (the window's start and end of an aggregation), to those columns.
func (c *compiler) orderBy(df *dataframe.DataFrame, out []string, renamed map[string]string, s *scope, probe, inner func(dataframe.Expr) error) (*dataframe.DataFrame, *Error) {
	sorts := c.p.stmt.GetSortClause()
	if len(sorts) == 0 {
		return df, nil
	}
	orders := make([]dataframe.SortOrder, len(sorts))
	keys := make([]*texpr, len(sorts))
	for i, n := range sorts {
		sb := n.GetSortBy()
		key := sb.GetNode()
		pos := nodeLocation(key, c.p.start)
		var x *texpr
		if k := key.GetAConst(); k != nil && k.GetIval() != nil {
			p := int(k.GetIval().GetIval())
			if p < 1 || p > len(out) {
				return nil, c.errAt(pos, "ORDER BY position %d is not in the select list (1 to %d)", p, len(out))
			}
			name := out[p-1]
			if col, ok := renamed[name]; ok {
				name = col
			}
			x = &texpr{e: dataframe.Col(name), pos: pos, col: name}
		} else if col, ok := renamedRef(key, renamed); ok {
			x = &texpr{e: dataframe.Col(col), pos: pos, col: col}
		} else {
			var err error
			if x, err = c.t.expr(key, s); err != nil {
				return nil, asError(err)
			}
		}
		if len(sb.GetUseOp()) > 0 {
			return nil, c.errAt(pos, "ORDER BY ... USING is not supported")
		}
		desc := sb.GetSortbyDir() == pg.SortByDir_SORTBY_DESC
		switch nulls := sb.GetSortbyNulls(); {
		case nulls == pg.SortByNulls_SORTBY_NULLS_FIRST && desc:
			return nil, c.errAt(pos, "DESC NULLS FIRST is not supported: descending order puts NULLs last")
		case nulls == pg.SortByNulls_SORTBY_NULLS_LAST && !desc:
			return nil, c.errAt(pos, "ASC NULLS LAST is not supported: ascending order puts NULLs first")
		}
		keys[i] = x
		if desc {
			orders[i] = x.e.Desc()
		} else {
			orders[i] = x.e.Asc()
		}
	}
	res := df.OrderBy(orders...)
	if err := res.Err(); err != nil {
		for _, k := range keys {
			if n, kerr := find(k, probe, inner); n != nil {
				return nil, planError(c.p.q, n.pos, kerr)
			}
		}
		return nil, planError(c.p.q, keys[0].start(), err)
	}
	return res, nil
}

// renamedRef returns the column of key when key is a plain reference to
// an alias of renamed (matched as identifiers are: case-insensitively).
// An output alias comes before a source column of the same name, as in
// PostgreSQL's ORDER BY.
func renamedRef(key *pg.Node, renamed map[string]string) (string, bool) {
	cr := key.GetColumnRef()
	if cr == nil || len(renamed) == 0 {
		return "", false
	}
	parts, star := refParts(cr)
	if star || len(parts) != 1 {
		return "", false
	}
	for alias, col := range renamed {
		if strings.EqualFold(alias, parts[0]) {
			return col, true
		}
	}
	return "", false
}

// limit applies LIMIT.
func (c *compiler) limit(df *dataframe.DataFrame) (*dataframe.DataFrame, *Error) {
	n := c.p.stmt.GetLimitCount()
	if n == nil {
		return df, nil
	}
	pos := nodeLocation(n, c.p.start)
	k := n.GetAConst()
	if k == nil {
		return nil, c.errAt(pos, "LIMIT needs an integer literal")
	}
	var v int64
	switch {
	case k.GetIsnull(): // LIMIT ALL
		return df, nil
	case k.GetIval() != nil:
		v = int64(k.GetIval().GetIval())
	case k.GetFval() != nil:
		num, ok := number(k.GetFval().GetFval())
		i, isInt := num.(int64)
		if !ok || !isInt {
			return nil, c.errAt(pos, "LIMIT needs an integer literal")
		}
		v = i
	default:
		return nil, c.errAt(pos, "LIMIT needs an integer literal")
	}
	if v < 0 {
		return nil, c.errAt(pos, "LIMIT must not be negative")
	}
	res := df.Limit(v)
	if err := res.Err(); err != nil {
		return nil, planError(c.p.q, pos, err)
	}
	return res, nil
}

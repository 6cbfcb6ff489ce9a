package sql

import (
	"math"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/microbatch/microbatch/dataframe"
)

// texpr is an expression translated to the dataframe API, with what error
// reporting needs: where it is in the query and its translated operands.
type texpr struct {
	e      dataframe.Expr
	pos    int      // byte offset of the node's own token: operator, function name, column
	kids   []*texpr // translated operands, in the order of the query
	agg    bool     // an aggregate call: its operand is bound over the source columns
	hasAgg bool     // contains an aggregate call
	col    string   // the resolved name when e is a bare column reference
	size   int      // nodes of e counted with repetition (BETWEEN and CASE x repeat x)
}

// Bounds on one expression. BETWEEN, IN and CASE x WHEN repeat their
// operand, so nesting them grows an expression exponentially, and locating
// an error costs time quadratic in the depth: the bounds, far above what a
// query needs, turn pathological input into an error instead of a hang.
const (
	maxExprSize  = 2000 // terms, counted with repetition
	maxExprDepth = 200  // nested operators
)

// start is the byte offset of the first token of t.
func (t *texpr) start() int {
	s := t.pos
	for _, k := range t.kids {
		if ks := k.start(); ks >= 0 && (s < 0 || ks < s) {
			s = ks
		}
	}
	return s
}

// scope says which names an expression may use.
type scope struct {
	clause  string   // named in messages: "WHERE", "GROUP BY", ...
	cols    []string // columns visible outside aggregate arguments
	aggCols []string // columns visible in aggregate arguments; nil: no aggregate allowed
	inAgg   bool     // translating an aggregate's argument

	// subst lists expressions that stand for a visible column: the grouping
	// expressions after an aggregation, the select list in ORDER BY. An
	// expression whose text (translated in substScope) equals one becomes a
	// reference to its column.
	subst      []subst
	substScope *scope

	// grouped, after an aggregation, are the source columns: one used outside
	// an aggregate is "neither grouped nor aggregated".
	grouped    []string
	groupNames []string

	// unselected, in ORDER BY without aggregation, are the source columns:
	// one that is not an output column is "not in the select list".
	unselected []string

	// aliases, in WHERE, are the select-list aliases, which it cannot use.
	aliases []string
}

type subst struct{ text, name string }

// translator turns PostgreSQL parse nodes into dataframe expressions.
type translator struct {
	p     *parsed
	table string // the source table
	alias string // its alias in FROM, if any
	depth int    // of the expression being translated
	// joined is the static table the stream joins, or nil.
	joined *joined
}

func (t *translator) errAt(off int, format string, args ...any) *Error {
	return errAt(t.p.q, off, format, args...)
}

// aggregates are the aggregate functions, by lower-case name.
var aggregates = map[string]bool{"count": true, "sum": true, "min": true, "max": true, "avg": true}

// expr translates n in scope s.
func (t *translator) expr(n *pg.Node, s *scope) (*texpr, error) {
	if n == nil {
		return nil, t.errAt(t.p.start, "missing expression")
	}
	t.depth++
	defer func() { t.depth-- }()
	if t.depth > maxExprDepth {
		return nil, t.errAt(nodeLocation(n, t.p.start), "expression nested too deeply (more than %d levels)", maxExprDepth)
	}
	if len(s.subst) > 0 && n.GetColumnRef() == nil && n.GetAConst() == nil {
		if x := t.substitute(n, s); x != nil {
			return x, nil
		}
	}
	x, err := t.translate(n, s)
	if err != nil {
		return nil, err
	}
	if x.size == 0 {
		x.size = 1
	}
	if x.size > maxExprSize {
		return nil, t.errAt(x.start(), "expression too large (more than %d terms once BETWEEN, IN and CASE are expanded)", maxExprSize)
	}
	return x, nil
}

// translate is expr without substitution and size check.
func (t *translator) translate(n *pg.Node, s *scope) (*texpr, error) {
	switch {
	case n.GetColumnRef() != nil:
		return t.column(n.GetColumnRef(), s)
	case n.GetAConst() != nil:
		return t.constant(n.GetAConst())
	case n.GetAExpr() != nil:
		return t.operator(n.GetAExpr(), s)
	case n.GetBoolExpr() != nil:
		return t.boolean(n.GetBoolExpr(), s)
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		if nt.GetArgisrow() {
			return nil, t.errAt(int(nt.GetLocation()), "row values are not supported")
		}
		a, err := t.expr(nt.GetArg(), s)
		if err != nil {
			return nil, err
		}
		e := a.e.IsNull()
		if nt.GetNulltesttype() == pg.NullTestType_IS_NOT_NULL {
			e = a.e.IsNotNull()
		}
		return wrap(e, int(nt.GetLocation()), a), nil
	case n.GetTypeCast() != nil:
		return t.cast(n.GetTypeCast(), s)
	case n.GetCaseExpr() != nil:
		return t.caseExpr(n.GetCaseExpr(), s)
	case n.GetFuncCall() != nil:
		return t.call(n.GetFuncCall(), s)
	case n.GetSqlvalueFunction() != nil:
		return t.reservedName(n, s)
	case n.GetCoalesceExpr() != nil, n.GetMinMaxExpr() != nil:
		return t.grammarCall(n, s)
	}
	return nil, t.unsupported(n)
}

// substitute returns a reference to the column n stands for in s.subst, or
// nil.
func (t *translator) substitute(n *pg.Node, s *scope) *texpr {
	x, err := t.expr(n, s.substScope)
	if err != nil || x.hasAgg {
		return nil
	}
	text := x.e.String()
	for _, sb := range s.subst {
		if sb.text == text {
			return &texpr{e: dataframe.Col(sb.name), pos: x.start(), col: sb.name}
		}
	}
	return nil
}

func wrap(e dataframe.Expr, pos int, kids ...*texpr) *texpr {
	x := &texpr{e: e, pos: pos, kids: kids, size: 1}
	for _, k := range kids {
		x.size += k.size
		if k.hasAgg {
			x.hasAgg = true
		}
		if x.pos < 0 {
			x.pos = k.start()
		}
	}
	return x
}

// constant translates a literal: integers are INT when they fit in 32 bits,
// else BIGINT; numbers with a fraction or exponent are DOUBLE.
func (t *translator) constant(c *pg.A_Const) (*texpr, error) {
	pos := int(c.GetLocation())
	lit := func(v any) (*texpr, error) { return &texpr{e: dataframe.Lit(v), pos: pos}, nil }
	switch {
	case c.GetIsnull():
		return lit(nil)
	case c.GetIval() != nil:
		return lit(int(c.GetIval().GetIval()))
	case c.GetFval() != nil:
		v, ok := number(c.GetFval().GetFval())
		if !ok {
			return nil, t.errAt(pos, "invalid number %s", c.GetFval().GetFval())
		}
		return lit(v)
	case c.GetSval() != nil:
		return lit(c.GetSval().GetSval())
	case c.GetBoolval() != nil:
		return lit(c.GetBoolval().GetBoolval())
	}
	return nil, t.errAt(pos, "bit-string literals are not supported")
}

// number parses a numeric literal the parser did not fit in 32 bits: an
// int64 when it is an integer in range, else a float64.
func number(s string) (any, bool) {
	s = strings.ReplaceAll(s, "_", "")
	if !strings.ContainsAny(s, ".eE") || strings.HasPrefix(strings.ToLower(s), "0x") {
		base := 10
		if len(s) > 2 && s[0] == '0' && strings.ContainsRune("xXoObB", rune(s[1])) {
			base = 0
		}
		if v, err := strconv.ParseInt(s, base, 64); err == nil {
			if v >= math.MinInt32 && v <= math.MaxInt32 {
				return int(v), true // -2147483648 reaches here: INT, like Lit(-2147483648)
			}
			return v, true
		}
		if base == 0 {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// binaryOps maps PostgreSQL operator names to the dataframe methods.
var binaryOps = map[string]func(a, b dataframe.Expr) dataframe.Expr{
	"=": dataframe.Expr.Eq, "<>": dataframe.Expr.Ne, "<": dataframe.Expr.Lt, "<=": dataframe.Expr.Le,
	">": dataframe.Expr.Gt, ">=": dataframe.Expr.Ge, "+": dataframe.Expr.Add, "-": dataframe.Expr.Sub,
	"*": dataframe.Expr.Mul, "/": dataframe.Expr.Div, "%": dataframe.Expr.Mod,
}

func opName(names []*pg.Node) string {
	if len(names) == 0 {
		return ""
	}
	return names[len(names)-1].GetString_().GetSval()
}

func (t *translator) operator(a *pg.A_Expr, s *scope) (*texpr, error) {
	pos := int(a.GetLocation())
	op := opName(a.GetName())
	switch a.GetKind() {
	case pg.A_Expr_Kind_AEXPR_OP:
		if a.GetLexpr() == nil {
			r, err := t.expr(a.GetRexpr(), s)
			if err != nil {
				return nil, err
			}
			switch op {
			case "-":
				return wrap(r.e.Neg(), pos, r), nil
			case "+":
				return r, nil
			}
			return nil, t.errAt(pos, "operator %s is not supported", op)
		}
		if fn, ok := funcOps[op]; ok {
			return t.callNodes(pos, fn, []*pg.Node{a.GetLexpr(), a.GetRexpr()}, s)
		}
		f, ok := binaryOps[op]
		if !ok {
			return nil, t.errAt(pos, "operator %s is not supported (supported: = <> != < <= > >= + - * / %% AND OR NOT)", op)
		}
		l, r, err := t.pair(a.GetLexpr(), a.GetRexpr(), s)
		if err != nil {
			return nil, err
		}
		return wrap(f(l.e, r.e), pos, l, r), nil
	case pg.A_Expr_Kind_AEXPR_IN:
		l, err := t.expr(a.GetLexpr(), s)
		if err != nil {
			return nil, err
		}
		items := a.GetRexpr().GetList().GetItems()
		if len(items) == 0 {
			return nil, t.errAt(pos, "IN needs a list of values")
		}
		kids := []*texpr{l}
		vals := make([]dataframe.Expr, len(items))
		for i, it := range items {
			v, err := t.expr(it, s)
			if err != nil {
				return nil, err
			}
			kids = append(kids, v)
			vals[i] = v.e
		}
		e := l.e.In(vals...)
		if op == "<>" {
			e = e.Not()
		}
		x := wrap(e, pos, kids...)
		x.size += l.size * (len(vals) - 1)
		return x, nil
	case pg.A_Expr_Kind_AEXPR_LIKE:
		l, err := t.expr(a.GetLexpr(), s)
		if err != nil {
			return nil, err
		}
		r := a.GetRexpr()
		if fc := r.GetFuncCall(); fc != nil && opName(fc.GetFuncname()) == "like_escape" {
			return nil, t.errAt(int(fc.GetLocation()), "LIKE ... ESCAPE is not supported: the escape character is \\")
		}
		c := r.GetAConst()
		if c == nil || c.GetSval() == nil {
			return nil, t.errAt(nodeLocation(r, pos), "the pattern of LIKE must be a string literal")
		}
		e := l.e.Like(c.GetSval().GetSval())
		if op == "!~~" {
			e = e.Not()
		}
		return wrap(e, pos, l), nil
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		return t.callNodes(pos, "nullif", []*pg.Node{a.GetLexpr(), a.GetRexpr()}, s)
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN:
		items := a.GetRexpr().GetList().GetItems()
		if len(items) != 2 {
			return nil, t.errAt(pos, "BETWEEN needs two bounds")
		}
		x, err := t.expr(a.GetLexpr(), s)
		if err != nil {
			return nil, err
		}
		lo, hi, err := t.pair(items[0], items[1], s)
		if err != nil {
			return nil, err
		}
		var w *texpr
		if a.GetKind() == pg.A_Expr_Kind_AEXPR_BETWEEN {
			w = wrap(x.e.Ge(lo.e).And(x.e.Le(hi.e)), pos, x, lo, hi)
		} else {
			w = wrap(x.e.Lt(lo.e).Or(x.e.Gt(hi.e)), pos, x, lo, hi)
		}
		w.size += x.size
		return w, nil
	}
	what := map[pg.A_Expr_Kind]string{
		pg.A_Expr_Kind_AEXPR_OP_ANY: "ANY", pg.A_Expr_Kind_AEXPR_OP_ALL: "ALL",
		pg.A_Expr_Kind_AEXPR_DISTINCT: "IS DISTINCT FROM", pg.A_Expr_Kind_AEXPR_NOT_DISTINCT: "IS NOT DISTINCT FROM",
		pg.A_Expr_Kind_AEXPR_NULLIF: "NULLIF", pg.A_Expr_Kind_AEXPR_ILIKE: "ILIKE",
		pg.A_Expr_Kind_AEXPR_SIMILAR: "SIMILAR TO", pg.A_Expr_Kind_AEXPR_BETWEEN_SYM: "BETWEEN SYMMETRIC",
		pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM: "NOT BETWEEN SYMMETRIC",
	}[a.GetKind()]
	if what == "" {
		what = "this operator"
	}
	return nil, t.errAt(pos, "%s is not supported", what)
}

func (t *translator) pair(a, b *pg.Node, s *scope) (*texpr, *texpr, error) {
	l, err := t.expr(a, s)
	if err != nil {
		return nil, nil, err
	}
	r, err := t.expr(b, s)
	if err != nil {
		return nil, nil, err
	}
	return l, r, nil
}

func (t *translator) boolean(b *pg.BoolExpr, s *scope) (*texpr, error) {
	pos := int(b.GetLocation())
	kids := make([]*texpr, len(b.GetArgs()))
	es := make([]dataframe.Expr, len(kids))
	for i, a := range b.GetArgs() {
		x, err := t.expr(a, s)
		if err != nil {
			return nil, err
		}
		kids[i], es[i] = x, x.e
	}
	switch b.GetBoolop() {
	case pg.BoolExprType_AND_EXPR:
		return wrap(dataframe.And(es...), pos, kids...), nil
	case pg.BoolExprType_OR_EXPR:
		return wrap(dataframe.Or(es...), pos, kids...), nil
	}
	if len(es) != 1 {
		return nil, t.errAt(pos, "NOT takes one operand")
	}
	return wrap(dataframe.Not(es[0]), pos, kids...), nil
}

// pgTypes maps PostgreSQL's internal type names (what the grammar makes of
// INTEGER, DOUBLE PRECISION, ...) to column types; other names go through
// dataframe.ParseType, which knows Spark's (STRING, LONG, ...).
var pgTypes = map[string]dataframe.Type{
	"int2": dataframe.Int32, "int4": dataframe.Int32, "int8": dataframe.Int64,
	"float4": dataframe.Float64, "float8": dataframe.Float64, "bool": dataframe.Bool,
	"varchar": dataframe.String, "bpchar": dataframe.String, "text": dataframe.String,
	"timestamp": dataframe.Timestamp, "timestamptz": dataframe.Timestamp,
}

func (t *translator) cast(c *pg.TypeCast, s *scope) (*texpr, error) {
	tn := c.GetTypeName()
	tpos := nodeOr(int(tn.GetLocation()), int(c.GetLocation()))
	var names []string
	for _, n := range tn.GetNames() {
		names = append(names, n.GetString_().GetSval())
	}
	if len(names) > 1 && names[0] == "pg_catalog" {
		names = names[1:]
	}
	name := strings.Join(names, ".")
	if len(tn.GetArrayBounds()) > 0 || tn.GetSetof() || tn.GetPctType() {
		return nil, t.errAt(tpos, "array and set types are not supported (want STRING, INT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP or DATE)")
	}
	typ, ok := pgTypes[name]
	if !ok {
		var err error
		if typ, err = dataframe.ParseType(name); err != nil {
			return nil, t.errAt(tpos, "unknown type %s (want STRING, INT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP or DATE)", typeText(name))
		}
	}
	if len(tn.GetTypmods()) > 0 && typ != dataframe.String {
		return nil, t.errAt(tpos, "type modifiers are only supported for strings (VARCHAR(n))")
	}
	a, err := t.expr(c.GetArg(), s)
	if err != nil {
		return nil, err
	}
	return wrap(a.e.Cast(typ), nodeOr(int(c.GetLocation()), a.start()), a), nil
}

// typeText renders a type name for a message the way SQL writes it.
func typeText(name string) string {
	switch name {
	case "numeric":
		return "DECIMAL"
	case "interval":
		return "INTERVAL"
	}
	return strings.ToUpper(name)
}

func (t *translator) caseExpr(c *pg.CaseExpr, s *scope) (*texpr, error) {
	pos := int(c.GetLocation())
	var arg *texpr
	var kids []*texpr
	if c.GetArg() != nil {
		var err error
		if arg, err = t.expr(c.GetArg(), s); err != nil {
			return nil, err
		}
		kids = append(kids, arg)
	}
	var ce *dataframe.CaseExpr
	for _, w := range c.GetArgs() {
		cw := w.GetCaseWhen()
		cond, val, err := t.pair(cw.GetExpr(), cw.GetResult(), s)
		if err != nil {
			return nil, err
		}
		ce2 := cond.e
		if arg != nil {
			ce2 = arg.e.Eq(cond.e)
		}
		if ce == nil {
			ce = dataframe.When(ce2, val.e)
		} else {
			ce = ce.When(ce2, val.e)
		}
		kids = append(kids, cond, val)
	}
	if ce == nil {
		return nil, t.errAt(pos, "CASE needs a WHEN branch")
	}
	var x *texpr
	if c.GetDefresult() == nil {
		x = wrap(ce.End(), pos, kids...)
	} else {
		d, err := t.expr(c.GetDefresult(), s)
		if err != nil {
			return nil, err
		}
		x = wrap(ce.Otherwise(d.e), pos, append(kids, d)...)
	}
	if arg != nil {
		x.size += arg.size * (len(c.GetArgs()) - 1)
	}
	return x, nil
}

// call translates a function call: an aggregate, or a scalar function
// (funcs.go).
func (t *translator) call(f *pg.FuncCall, s *scope) (*texpr, error) {
	pos := int(f.GetLocation())
	name := strings.ToLower(unalias(opName(f.GetFuncname())))
	switch {
	case windowFuncs[name]:
		return nil, t.errAt(pos, "%s(...) is only supported as a GROUP BY entry; select its columns (window.start, window.end; window_start, window_end for tumble and hop)", name)
	case f.GetOver() != nil:
		return nil, t.errAt(pos, "window functions (OVER) are not supported")
	case isScalarFunction(name):
		return t.scalarCall(f, name, s)
	case !aggregates[name]:
		return nil, t.unknownFunction(pos, name)
	case f.GetAggFilter() != nil:
		return nil, t.errAt(nodeLocation(f.GetAggFilter(), pos), "FILTER (WHERE ...) is not supported")
	case len(f.GetAggOrder()) > 0 || f.GetAggWithinGroup():
		return nil, t.errAt(pos, "ORDER BY inside an aggregate is not supported")
	case f.GetFuncVariadic():
		return nil, t.errAt(pos, "VARIADIC is not supported")
	case s.inAgg:
		return nil, t.errAt(pos, "aggregate function calls cannot be nested")
	case s.aggCols == nil:
		return nil, t.errAt(pos, "aggregate functions are not allowed in %s", s.clause)
	}
	if f.GetAggStar() {
		if name != "count" {
			return nil, t.errAt(pos, "%s(*) is not supported; only count(*)", name)
		}
		return &texpr{e: dataframe.Count(), pos: pos, agg: true, hasAgg: true}, nil
	}
	if lo, hi := dataframe.AggregateArgs(name); name == "count" || hi == 1 {
		if len(f.GetArgs()) != 1 {
			return nil, t.errAt(pos, "%s takes one argument, got %d", name, len(f.GetArgs()))
		}
	} else if n := len(f.GetArgs()); n < lo || n > hi {
		return nil, t.errAt(pos, "%s takes %d to %d arguments, got %d", name, lo, hi, n)
	}
	if f.GetAggDistinct() && name != "count" {
		return nil, t.errAt(pos, "%s(DISTINCT ...) is not supported; only count(DISTINCT ...)", name)
	}
	inner := &scope{clause: s.clause, cols: s.aggCols, inAgg: true}
	a, err := t.expr(f.GetArgs()[0], inner)
	if err != nil {
		return nil, err
	}
	var e dataframe.Expr
	switch {
	case name == "count" && f.GetAggDistinct():
		e = dataframe.CountDistinct(a.e)
	case name == "count":
		e = dataframe.CountOf(a.e)
	case name == "sum":
		e = dataframe.Sum(a.e)
	case name == "min":
		e = dataframe.Min(a.e)
	case name == "max":
		e = dataframe.Max(a.e)
	case name == "avg":
		e = dataframe.Avg(a.e)
	default: // funcs.go: the aggregates of dataframe.Aggregate
		params := make([]dataframe.Expr, 0, len(f.GetArgs())-1)
		for _, p := range f.GetArgs()[1:] {
			x, err := t.expr(p, inner)
			if err != nil {
				return nil, err
			}
			params = append(params, x.e)
		}
		e = dataframe.Aggregate(name, a.e, params...)
	}
	return &texpr{e: e, pos: pos, kids: []*texpr{a}, agg: true, hasAgg: true, size: 1 + a.size}, nil
}

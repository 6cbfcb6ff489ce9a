package sql

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/microbatch/microbatch/dataframe"
)

// Scalar function calls: the registry is dataframe.Functions; this file
// maps PostgreSQL's spellings of them (COALESCE, GREATEST and NULLIF are
// grammar, not calls; || and ~ are operators) onto it.

func init() {
	for _, name := range dataframe.AggregateNames() {
		aggregates[name] = true
	}
}

// funcOps are the operators that are scalar functions.
var funcOps = map[string]string{"||": "concat", "~": "regexp_like"}

// functionNames is every function a query may call, for did-you-mean.
func functionNames() []string {
	names := dataframe.FunctionNames()
	for a := range aggregates {
		names = append(names, a)
	}
	return names
}

// insteadOf names the supported function to use for Spark's and
// PostgreSQL's functions that have no exact counterpart here.
var insteadOf = map[string]string{
	"percentile": "percentile_approx(x, p[, accuracy])", "median": "percentile_approx(x, 0.5)",
	"percentile_cont": "percentile_approx(x, p)", "percentile_disc": "percentile_approx(x, p)",
	"collect_list": "collect_set(x)", "array_agg": "collect_set(x)",
	"countdistinct": "count(DISTINCT x)", "count_distinct": "count(DISTINCT x) or approx_count_distinct(x)",
}

// unknownFunction is the error for a call of no known function.
func (t *translator) unknownFunction(pos int, name string) error {
	if use, ok := insteadOf[strings.ToLower(name)]; ok {
		return t.errAt(pos, "function %s is not supported; use %s", name, use)
	}
	if sg := suggest(name, functionNames()); sg != "" {
		return t.errAt(pos, "function %s is not supported (did you mean %s?)", name, sg)
	}
	return t.errAt(pos, "function %s is not supported (the README's SQL section lists the functions)", name)
}

// scalarCall translates a call of a registered scalar function.
func (t *translator) scalarCall(f *pg.FuncCall, name string, s *scope) (*texpr, error) {
	pos := int(f.GetLocation())
	switch {
	case f.GetAggStar():
		return nil, t.errAt(pos, "%s(*) is not supported: %s is not an aggregate", name, name)
	case f.GetAggDistinct():
		return nil, t.errAt(pos, "%s(DISTINCT ...) is not supported: %s is not an aggregate", name, name)
	case f.GetAggFilter() != nil, len(f.GetAggOrder()) > 0, f.GetAggWithinGroup():
		return nil, t.errAt(pos, "%s is not an aggregate: FILTER, ORDER BY and WITHIN GROUP do not apply", name)
	case f.GetFuncVariadic():
		return nil, t.errAt(pos, "VARIADIC is not supported")
	}
	return t.callNodes(pos, name, f.GetArgs(), s)
}

// callNodes translates name(args...) for a registered function.
func (t *translator) callNodes(pos int, name string, nodes []*pg.Node, s *scope) (*texpr, error) {
	kids := make([]*texpr, len(nodes))
	args := make([]dataframe.Expr, len(nodes))
	for i, n := range nodes {
		x, err := t.expr(n, s)
		if err != nil {
			return nil, err
		}
		kids[i], args[i] = x, x.e
	}
	return wrap(dataframe.Call(name, args...), pos, kids...), nil
}

// grammarCall translates COALESCE(...), GREATEST(...) and LEAST(...).
func (t *translator) grammarCall(n *pg.Node, s *scope) (*texpr, error) {
	if c := n.GetCoalesceExpr(); c != nil {
		return t.callNodes(int(c.GetLocation()), "coalesce", c.GetArgs(), s)
	}
	m := n.GetMinMaxExpr()
	name := "least"
	if m.GetOp() == pg.MinMaxOp_IS_GREATEST {
		name = "greatest"
	}
	return t.callNodes(int(m.GetLocation()), name, m.GetArgs(), s)
}

// isScalarFunction reports whether a call of name is a scalar function (not
// an aggregate).
func isScalarFunction(name string) bool {
	return !aggregates[strings.ToLower(name)] && dataframe.IsFunction(name)
}

// nowParens blanks the parentheses of Spark's current_timestamp(), which
// PostgreSQL's grammar knows only as the bare keyword CURRENT_TIMESTAMP
// (reservedName translates it); offsets are kept.
func nowParens(q string) string {
	if !strings.Contains(strings.ToLower(q), "current_timestamp") {
		return q
	}
	return rewriteTokens(q, func(toks []*pg.ScanToken, i int, b []byte) {
		if toks[i].GetToken() == pg.Token_CURRENT_TIMESTAMP && i+2 < len(toks) &&
			toks[i+1].GetToken() == pg.Token_ASCII_40 && toks[i+2].GetToken() == pg.Token_ASCII_41 {
			b[toks[i+1].GetStart()], b[toks[i+2].GetStart()] = ' ', ' '
		}
	})
}

package sql

import (
	"reflect"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// hasAggregate reports whether n calls an aggregate function outside a
// window. It looks only into the nodes expr translates.
func hasAggregate(n *pg.Node) bool {
	if n == nil {
		return false
	}
	switch {
	case n.GetFuncCall() != nil:
		f := n.GetFuncCall()
		if f.GetOver() == nil && aggregates[strings.ToLower(opName(f.GetFuncname()))] {
			return true
		}
		return anyAggregate(f.GetArgs()...)
	case n.GetAExpr() != nil:
		a := n.GetAExpr()
		return anyAggregate(a.GetLexpr(), a.GetRexpr())
	case n.GetList() != nil:
		return anyAggregate(n.GetList().GetItems()...)
	case n.GetBoolExpr() != nil:
		return anyAggregate(n.GetBoolExpr().GetArgs()...)
	case n.GetNullTest() != nil:
		return hasAggregate(n.GetNullTest().GetArg())
	case n.GetTypeCast() != nil:
		return hasAggregate(n.GetTypeCast().GetArg())
	case n.GetCaseExpr() != nil:
		c := n.GetCaseExpr()
		if anyAggregate(c.GetArg(), c.GetDefresult()) {
			return true
		}
		for _, w := range c.GetArgs() {
			if anyAggregate(w.GetCaseWhen().GetExpr(), w.GetCaseWhen().GetResult()) {
				return true
			}
		}
	}
	return false
}

func anyAggregate(ns ...*pg.Node) bool {
	for _, n := range ns {
		if hasAggregate(n) {
			return true
		}
	}
	return false
}

// unsupportedNodes names the constructs PostgreSQL parses and microbatch
// does not run, by parse-node type.
var unsupportedNodes = map[string]string{
	"SubLink":         "subqueries are not supported",
	"CoalesceExpr":    "COALESCE is not supported",
	"MinMaxExpr":      "GREATEST and LEAST are not supported",
	"BooleanTest":     "IS TRUE, IS FALSE and IS UNKNOWN are not supported; use = TRUE or IS NULL",
	"ParamRef":        "query parameters are not supported",
	"AIndirection":    "subscripts and field selection are not supported; quote a dotted column name as `a.b`",
	"AArrayExpr":      "arrays are not supported",
	"RowExpr":         "row values are not supported",
	"CollateClause":   "COLLATE is not supported",
	"GroupingFunc":    "GROUPING() is not supported",
	"XmlExpr":         "XML functions are not supported",
	"JsonIsPredicate": "IS JSON is not supported",
	"MultiAssignRef":  "row values are not supported",
}

// unsupported is the error for a node expr does not translate.
func (t *translator) unsupported(n *pg.Node) *Error {
	kind := nodeKind(n)
	pos := nodeLocation(n, t.p.start)
	if ind := n.GetAIndirection(); ind != nil {
		pos = nodeLocation(ind.GetArg(), pos)
	}
	if msg, ok := unsupportedNodes[kind]; ok {
		return t.errAt(pos, "%s", msg)
	}
	return t.errAt(pos, "this kind of expression (%s) is not supported", kind)
}

// nodeKind is the parse-node type of n ("SubLink"), or "".
func nodeKind(n *pg.Node) string {
	if n == nil || n.GetNode() == nil {
		return ""
	}
	return strings.TrimPrefix(reflect.TypeOf(n.GetNode()).Elem().Name(), "Node_")
}

// nodeLocation returns the location of any parse node that has one, else
// def.
func nodeLocation(n *pg.Node, def int) int {
	if n == nil || n.GetNode() == nil {
		return def
	}
	v := reflect.ValueOf(n.GetNode())
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct || v.Elem().NumField() == 0 {
		return def
	}
	inner := v.Elem().Field(0)
	if !inner.CanInterface() {
		return def
	}
	if l, ok := inner.Interface().(interface{ GetLocation() int32 }); ok && l.GetLocation() >= 0 {
		return int(l.GetLocation())
	}
	return def
}

func nodeOr(loc, def int) int {
	if loc >= 0 {
		return loc
	}
	return def
}

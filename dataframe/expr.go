package dataframe

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Expr is a column expression: a column reference, a literal, an operator
// applied to expressions, or an aggregate. Exprs are immutable values built
// with Col, Lit and the methods below; mistakes (an unsupported literal, a
// misplaced aggregate, an unknown column) do not panic but surface from
// DataFrame.Err and Compile. The zero Expr is invalid.
type Expr struct{ n *node }

type exprKind uint8

const (
	kInvalid exprKind = iota
	kCol
	kLit
	kBinary
	kNot
	kNeg
	kIn
	kIsNull
	kIsNotNull
	kLike
	kCast
	kAlias
	kCase // args: cond1, value1, cond2, value2, ..., [else]; hasElse
	kAgg
	kWindow // args: event time; win; a GroupBy key only
	kFunc   // a scalar function of the registry (funcs.go): name, args
)

type binOp uint8

const (
	opEq binOp = iota + 1
	opNe
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opAnd
	opOr
)

var binOpText = [...]string{opEq: "=", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=",
	opAdd: "+", opSub: "-", opMul: "*", opDiv: "/", opMod: "%", opAnd: "AND", opOr: "OR"}

func (o binOp) comparison() bool { return o >= opEq && o <= opGe }
func (o binOp) logical() bool    { return o == opAnd || o == opOr }

type aggFunc uint8

const (
	aggCount aggFunc = iota + 1 // count(x); count(*) has no argument
	aggCountDistinct
	aggSum
	aggMin
	aggMax
	aggAvg
	// Added by funcs_agg.go's aggregates.
	aggCountIf
	aggBoolAnd
	aggBoolOr
	aggVarSamp
	aggVarPop
	aggStddevSamp
	aggStddevPop
	// Added by funcs_approx.go and funcs_first.go.
	aggApproxDistinct
	aggPercentile
	aggFirst
	aggLast
	aggCollectSet
)

var aggText = [...]string{aggCount: "count", aggCountDistinct: "count", aggSum: "sum", aggMin: "min", aggMax: "max", aggAvg: "avg",
	aggCountIf: "count_if", aggBoolAnd: "bool_and", aggBoolOr: "bool_or", aggVarSamp: "var_samp", aggVarPop: "var_pop",
	aggStddevSamp: "stddev_samp", aggStddevPop: "stddev_pop", aggApproxDistinct: "approx_count_distinct",
	aggPercentile: "percentile_approx", aggFirst: "first", aggLast: "last", aggCollectSet: "collect_set"}

type node struct {
	kind    exprKind
	op      binOp
	agg     aggFunc
	name    string // column name, alias or LIKE pattern
	typ     Type   // literal type or cast target
	i       int64  // INT, BIGINT, TIMESTAMP (µs) and BOOLEAN (0/1) literals
	f       float64
	s       string
	hasElse bool
	null    bool // a NULL literal (typ is nullType or, after coercion, the type it was cast to)
	args    []*node
	win     *windowDef // kWindow
	err     error
}

func invalid(err error) Expr { return Expr{&node{kind: kInvalid, err: err}} }

// Col references the column called name: a source column (schema field or
// metadata column) or an output column of the previous operation. Names
// match exactly, else case-insensitively.
func Col(name string) Expr {
	if name == "" {
		return invalid(fmt.Errorf("%w: Col(\"\"): empty column name", ErrPlan))
	}
	return Expr{&node{kind: kCol, name: name}}
}

// Lit is a literal: a string, int (INT when it fits in 32 bits, else
// BIGINT), int32, int64, float64, bool, time.Time (a TIMESTAMP, truncated to
// microseconds) or nil (an untyped NULL).
func Lit(v any) Expr {
	n := &node{kind: kLit}
	switch v := v.(type) {
	case nil:
		n.typ, n.null = nullType, true
	case string:
		n.typ, n.s = String, v
	case int:
		n.typ, n.i = Int64, int64(v)
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			n.typ = Int32
		}
	case int32:
		n.typ, n.i = Int32, int64(v)
	case int64:
		n.typ, n.i = Int64, v
	case float64:
		n.typ, n.f = Float64, v
	case bool:
		n.typ = Bool
		if v {
			n.i = 1
		}
	case time.Time:
		n.typ, n.i = Timestamp, v.UnixMicro()
	default:
		return invalid(fmt.Errorf("%w: Lit(%T): unsupported literal type (want string, int, int32, int64, float64, bool, time.Time or nil)", ErrPlan, v))
	}
	return Expr{n}
}

func (e Expr) node() *node {
	if e.n == nil {
		return &node{kind: kInvalid, err: fmt.Errorf("%w: zero Expr", ErrPlan)}
	}
	return e.n
}

func (e Expr) bin(op binOp, o Expr) Expr {
	return Expr{&node{kind: kBinary, op: op, args: []*node{e.node(), o.node()}}}
}

// Eq is e = o.
func (e Expr) Eq(o Expr) Expr { return e.bin(opEq, o) }

// Ne is e != o.
func (e Expr) Ne(o Expr) Expr { return e.bin(opNe, o) }

// Lt is e < o.
func (e Expr) Lt(o Expr) Expr { return e.bin(opLt, o) }

// Le is e <= o.
func (e Expr) Le(o Expr) Expr { return e.bin(opLe, o) }

// Gt is e > o.
func (e Expr) Gt(o Expr) Expr { return e.bin(opGt, o) }

// Ge is e >= o.
func (e Expr) Ge(o Expr) Expr { return e.bin(opGe, o) }

// Add is e + o (integers stay integers and wrap on overflow, as in Spark).
func (e Expr) Add(o Expr) Expr { return e.bin(opAdd, o) }

// Sub is e - o.
func (e Expr) Sub(o Expr) Expr { return e.bin(opSub, o) }

// Mul is e * o.
func (e Expr) Mul(o Expr) Expr { return e.bin(opMul, o) }

// Div is e / o: always DOUBLE; division by zero is NULL.
func (e Expr) Div(o Expr) Expr { return e.bin(opDiv, o) }

// Mod is e % o, with the sign of e; modulo zero is NULL.
func (e Expr) Mod(o Expr) Expr { return e.bin(opMod, o) }

// And is e AND o (three-valued).
func (e Expr) And(o Expr) Expr { return e.bin(opAnd, o) }

// Or is e OR o (three-valued).
func (e Expr) Or(o Expr) Expr { return e.bin(opOr, o) }

// Not is NOT e.
func (e Expr) Not() Expr { return Expr{&node{kind: kNot, args: []*node{e.node()}}} }

// Neg is -e.
func (e Expr) Neg() Expr { return Expr{&node{kind: kNeg, args: []*node{e.node()}}} }

// In is e IN (values...): TRUE if e equals one of them, else NULL if e or any
// value is NULL, else FALSE.
func (e Expr) In(values ...Expr) Expr {
	n := &node{kind: kIn, args: []*node{e.node()}}
	if len(values) == 0 {
		n.err = fmt.Errorf("%w: IN needs at least one value", ErrPlan)
	}
	for _, v := range values {
		n.args = append(n.args, v.node())
	}
	return Expr{n}
}

// IsNull is e IS NULL.
func (e Expr) IsNull() Expr { return Expr{&node{kind: kIsNull, args: []*node{e.node()}}} }

// IsNotNull is e IS NOT NULL.
func (e Expr) IsNotNull() Expr { return Expr{&node{kind: kIsNotNull, args: []*node{e.node()}}} }

// Like is e LIKE pattern: % matches any run of characters, _ exactly one,
// and \ escapes the next character.
func (e Expr) Like(pattern string) Expr {
	return Expr{&node{kind: kLike, name: pattern, args: []*node{e.node()}}}
}

// Cast converts e to t like Spark's non-ANSI CAST: a string that does not
// parse becomes NULL.
func (e Expr) Cast(t Type) Expr {
	n := &node{kind: kCast, typ: t, args: []*node{e.node()}}
	if !t.valid() {
		n.err = fmt.Errorf("%w: CAST to invalid %v", ErrPlan, t)
	}
	return Expr{n}
}

// As names the output column of e.
func (e Expr) As(alias string) Expr {
	n := &node{kind: kAlias, name: alias, args: []*node{e.node()}}
	if alias == "" {
		n.err = fmt.Errorf("%w: As(\"\"): empty alias", ErrPlan)
	}
	return Expr{n}
}

// SortOrder is one ORDER BY key.
type SortOrder struct {
	e    Expr
	desc bool
}

// Asc sorts by e ascending, NULLs first (Spark's default).
func (e Expr) Asc() SortOrder { return SortOrder{e: e} }

// Desc sorts by e descending, NULLs last (Spark's default).
func (e Expr) Desc() SortOrder { return SortOrder{e: e, desc: true} }

// String renders the order as SQL.
func (o SortOrder) String() string {
	if o.desc {
		return o.e.String() + " DESC NULLS LAST"
	}
	return o.e.String() + " ASC NULLS FIRST"
}

// Not is NOT e.
func Not(e Expr) Expr { return e.Not() }

// And is the conjunction of es (TRUE when es is empty).
func And(es ...Expr) Expr { return fold(opAnd, true, es) }

// Or is the disjunction of es (FALSE when es is empty).
func Or(es ...Expr) Expr { return fold(opOr, false, es) }

func fold(op binOp, empty bool, es []Expr) Expr {
	if len(es) == 0 {
		return Lit(empty)
	}
	e := es[0]
	for _, o := range es[1:] {
		e = e.bin(op, o)
	}
	return e
}

// CaseExpr is a CASE WHEN expression under construction.
type CaseExpr struct{ args []*node }

// When starts CASE WHEN cond THEN value.
func When(cond, value Expr) *CaseExpr {
	return &CaseExpr{args: []*node{cond.node(), value.node()}}
}

// When adds a WHEN cond THEN value branch; c is not modified.
func (c *CaseExpr) When(cond, value Expr) *CaseExpr {
	if c == nil {
		return When(cond, value)
	}
	args := append(append([]*node(nil), c.args...), cond.node(), value.node())
	return &CaseExpr{args: args}
}

// Otherwise completes the CASE with ELSE e.
func (c *CaseExpr) Otherwise(e Expr) Expr {
	if c == nil {
		return invalid(fmt.Errorf("%w: CASE without WHEN", ErrPlan))
	}
	args := append(append([]*node(nil), c.args...), e.node())
	return Expr{&node{kind: kCase, args: args, hasElse: true}}
}

// End completes the CASE without ELSE: rows no branch matches get NULL.
func (c *CaseExpr) End() Expr {
	if c == nil || len(c.args) == 0 {
		return invalid(fmt.Errorf("%w: CASE without WHEN", ErrPlan))
	}
	return Expr{&node{kind: kCase, args: append([]*node(nil), c.args...)}}
}

func aggOf(f aggFunc, e Expr) Expr { return Expr{&node{kind: kAgg, agg: f, args: []*node{e.node()}}} }

// Count is count(*): the number of rows.
func Count() Expr { return Expr{&node{kind: kAgg, agg: aggCount}} }

// CountOf is count(e): the number of rows where e is not NULL.
func CountOf(e Expr) Expr { return aggOf(aggCount, e) }

// CountDistinct is count(DISTINCT e): the number of distinct non-NULL values.
func CountDistinct(e Expr) Expr { return aggOf(aggCountDistinct, e) }

// Sum is sum(e): BIGINT for integer e, DOUBLE for DOUBLE e; NULL when no
// value is non-NULL.
func Sum(e Expr) Expr { return aggOf(aggSum, e) }

// Min is min(e), of e's type.
func Min(e Expr) Expr { return aggOf(aggMin, e) }

// Max is max(e), of e's type.
func Max(e Expr) Expr { return aggOf(aggMax, e) }

// Avg is avg(e), a DOUBLE.
func Avg(e Expr) Expr { return aggOf(aggAvg, e) }

// String renders e as SQL text. It is canonical: equal texts mean equal
// expressions, so it is part of the plan fingerprint.
func (e Expr) String() string {
	var b strings.Builder
	e.node().write(&b)
	return b.String()
}

func (n *node) write(b *strings.Builder) {
	switch n.kind {
	case kInvalid:
		b.WriteString("<invalid>")
	case kCol:
		b.WriteString(quoteName(n.name))
	case kLit:
		b.WriteString(n.litText())
	case kBinary:
		b.WriteByte('(')
		n.args[0].write(b)
		b.WriteString(" " + binOpText[n.op] + " ")
		n.args[1].write(b)
		b.WriteByte(')')
	case kNot:
		b.WriteString("(NOT ")
		n.args[0].write(b)
		b.WriteByte(')')
	case kNeg:
		b.WriteString("(- ")
		n.args[0].write(b)
		b.WriteByte(')')
	case kIn:
		b.WriteByte('(')
		n.args[0].write(b)
		b.WriteString(" IN (")
		for i, a := range n.args[1:] {
			if i > 0 {
				b.WriteString(", ")
			}
			a.write(b)
		}
		b.WriteString("))")
	case kIsNull, kIsNotNull:
		b.WriteByte('(')
		n.args[0].write(b)
		if n.kind == kIsNull {
			b.WriteString(" IS NULL)")
		} else {
			b.WriteString(" IS NOT NULL)")
		}
	case kLike:
		b.WriteByte('(')
		n.args[0].write(b)
		b.WriteString(" LIKE " + quoteString(n.name) + ")")
	case kCast:
		b.WriteString("CAST(")
		n.args[0].write(b)
		b.WriteString(" AS " + n.typ.String() + ")")
	case kAlias:
		n.args[0].write(b)
		b.WriteString(" AS " + quoteName(n.name))
	case kWindow:
		n.writeWindow(b)
	case kCase:
		b.WriteString("CASE")
		i := 0
		for ; i+1 < len(n.args); i += 2 {
			b.WriteString(" WHEN ")
			n.args[i].write(b)
			b.WriteString(" THEN ")
			n.args[i+1].write(b)
		}
		if n.hasElse {
			b.WriteString(" ELSE ")
			n.args[i].write(b)
		}
		b.WriteString(" END")
	case kFunc:
		n.writeFunc(b)
	case kAgg:
		b.WriteString(aggText[n.agg] + "(")
		switch {
		case len(n.args) == 0:
			b.WriteByte('*')
		case n.agg == aggCountDistinct:
			b.WriteString("DISTINCT ")
			n.args[0].write(b)
		default:
			for i, a := range n.args {
				if i > 0 {
					b.WriteString(", ")
				}
				a.write(b)
			}
		}
		b.WriteByte(')')
	}
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// litText renders a literal so that its type is recoverable: 5 is INT, 5L
// BIGINT, 5.0D DOUBLE.
func (n *node) litText() string {
	if n.null {
		if n.typ == nullType {
			return "NULL"
		}
		return "CAST(NULL AS " + n.typ.String() + ")"
	}
	switch n.typ {
	case String:
		return quoteString(n.s)
	case Int32:
		return strconv.FormatInt(n.i, 10)
	case Int64:
		return strconv.FormatInt(n.i, 10) + "L"
	case Float64:
		s := strconv.FormatFloat(n.f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEnN") {
			s += ".0"
		}
		return s + "D"
	case Bool:
		if n.i != 0 {
			return "TRUE"
		}
		return "FALSE"
	case Timestamp:
		return "TIMESTAMP '" + formatTimestamp(n.i) + "'"
	case Date:
		return "DATE '" + formatDate(int32(n.i)) + "'"
	}
	return "?"
}

// formatTimestamp renders µs since the epoch as RFC 3339 in UTC with as many
// fractional digits as needed.
func formatTimestamp(us int64) string {
	return time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
}

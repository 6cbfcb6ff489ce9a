package dataframe

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// bexpr is a resolved, type-checked expression over the columns of one
// phase's input: the source columns before an aggregation, the group keys
// followed by the aggregate slots after it. Operands of binary operators have
// equal types (the binder inserts casts); literals are already coerced.
type bexpr struct {
	kind exprKind
	op   binOp
	typ  Type // result type
	col  int  // kCol: input column index
	lit  *node
	like *likePattern
	call *funcCall // kFunc
	args []*bexpr
	// hasElse: kCase has a final ELSE argument.
	hasElse bool
	text    string // canonical text, used to deduplicate and match expressions
	src     string // the user's text of the expression, for error messages
	// loc is the session time zone of a kCast that reads or shows
	// wall-clock time (zoneDependent); nil is UTC. Set by inZoneOf.
	loc *time.Location
}

func (b *bexpr) String() string { return b.text }

func newLit(n *node) *bexpr {
	return &bexpr{kind: kLit, typ: n.typ, lit: n, text: n.litText()}
}

func colRef(i int, t Type) *bexpr {
	return &bexpr{kind: kCol, col: i, typ: t, text: "#" + strconv.Itoa(i) + ":" + t.String()}
}

// outCol is a named output column of an operation, as an expression over its
// phase's input.
type outCol struct {
	name string
	e    *bexpr
}

// binder resolves user expressions.
type binder struct {
	cols []outCol // columns visible by name
	// agg, when set, allows aggregate calls: their argument is bound over
	// agg.input and the call becomes a reference to an aggregate slot
	// (appended to agg.calls when new).
	agg *aggSpec
	// grouped: binding Agg's expressions, where a non-aggregate expression
	// must match a grouping expression.
	grouped bool
	// loc is the session time zone, nil for UTC (inZoneOf).
	loc *time.Location
}

func (b *binder) columnNames() string {
	names := make([]string, len(b.cols))
	for i, c := range b.cols {
		names[i] = quoteName(c.name)
	}
	return strings.Join(names, ", ")
}

// bindNamed binds e and names the column: the alias, else e's SQL text.
func (b *binder) bindNamed(e Expr) (outCol, error) {
	n := e.node()
	name := n.String()
	if n.kind == kAlias {
		name = n.name
	} else if n.kind == kCol {
		name = n.name
	}
	be, err := b.bind(n)
	if err == nil && be.typ == nullType {
		be = castTo(be, Int32)
	}
	return outCol{name, be}, err
}

func (n *node) String() string {
	var sb strings.Builder
	n.write(&sb)
	return sb.String()
}

func (b *binder) bind(n *node) (*bexpr, error) {
	be, err := b.bind1(n)
	if err != nil {
		return nil, err
	}
	if be.src == "" {
		be.src = n.String()
	}
	inZoneOf(be, b.loc)
	return be, nil
}

// inZoneOf puts the casts of a bound expression that read or show
// wall-clock time (zoneDependent) in the session time zone loc (nil:
// UTC), folding those over a literal: castTo, which makes them wherever
// an argument is coerced, knows no binder, so it leaves them unfolded for
// this. (Date and time functions get loc when bound: bindFunc.) It is
// idempotent, so shared subtrees may be visited more than once.
func inZoneOf(e *bexpr, loc *time.Location) {
	for _, a := range e.args {
		inZoneOf(a, loc)
	}
	if e.kind != kCast || !zoneDependent(e.args[0].typ, e.typ) {
		return
	}
	a := e.args[0]
	if a.kind != kLit {
		e.loc = loc
		return
	}
	lit := &node{kind: kLit, typ: e.typ, null: true}
	if !a.lit.null {
		if v, ok := castValueIn(litValue(a.lit), a.typ, e.typ, loc); ok {
			lit = &node{kind: kLit, typ: e.typ, i: v.i, f: v.f, s: v.s}
		}
	}
	src := e.src
	*e = *newLit(lit) // its text is its value: an instant, in any zone
	e.src = src
}

func (b *binder) bind1(n *node) (*bexpr, error) {
	if n.err != nil {
		return nil, n.err
	}
	if b.grouped && n.kind != kAgg && n.kind != kLit && n.kind != kAlias {
		pre := &binder{cols: b.agg.input, loc: b.loc}
		if be, err := pre.bind(n); err == nil {
			for i, g := range b.agg.groups {
				if g.e.text == be.text {
					return colRef(i, be.typ), nil
				}
			}
			if n.kind == kCol {
				return nil, fmt.Errorf("%w: column %s is neither grouped nor aggregated (group by: %s)", ErrPlan, quoteName(n.name), b.agg.groupNames())
			}
		} else if n.kind == kCol {
			return nil, err
		}
	}
	switch n.kind {
	case kInvalid:
		return nil, fmt.Errorf("%w: invalid expression", ErrPlan)
	case kCol:
		i := lookupName(len(b.cols), func(i int) string { return b.cols[i].name }, n.name)
		switch i {
		case -1:
			return nil, fmt.Errorf("%w %s (columns: %s)", ErrUnknownColumn, quoteName(n.name), b.columnNames())
		case -2:
			return nil, fmt.Errorf("%w: column reference %s is ambiguous (columns: %s)", ErrPlan, quoteName(n.name), b.columnNames())
		}
		c := *b.cols[i].e
		c.src = quoteName(n.name)
		return &c, nil
	case kLit:
		return newLit(n), nil
	case kAlias:
		return b.bind(n.args[0])
	case kAgg:
		return b.bindAgg(n)
	case kWindow:
		return nil, fmt.Errorf("%w: %s: a window is only allowed as a GroupBy key", ErrPlan, n)
	}
	args := make([]*bexpr, len(n.args))
	for i, a := range n.args {
		be, err := b.bind(a)
		if err != nil {
			return nil, err
		}
		args[i] = be
	}
	switch n.kind {
	case kBinary:
		return bindBinary(n.op, args[0], args[1])
	case kNot:
		a, err := expectBool("NOT", args[0])
		if err != nil {
			return nil, err
		}
		return &bexpr{kind: kNot, typ: Bool, args: []*bexpr{a}, text: "(NOT " + a.text + ")"}, nil
	case kNeg:
		a := args[0]
		if a.typ == nullType {
			a = castTo(a, Int32)
		}
		if !a.typ.numeric() {
			return nil, fmt.Errorf("%w: cannot negate %s of type %v", ErrPlan, n.args[0], a.typ)
		}
		return &bexpr{kind: kNeg, typ: a.typ, args: []*bexpr{a}, text: "(- " + a.text + ")"}, nil
	case kIn:
		var out *bexpr
		for _, v := range args[1:] {
			eq, err := bindBinary(opEq, args[0], v)
			if err != nil {
				return nil, err
			}
			if out == nil {
				out = eq
			} else {
				out, _ = bindBinary(opOr, out, eq)
			}
		}
		return out, nil
	case kIsNull, kIsNotNull:
		word := " IS NULL)"
		if n.kind == kIsNotNull {
			word = " IS NOT NULL)"
		}
		return &bexpr{kind: n.kind, typ: Bool, args: args, text: "(" + args[0].text + word}, nil
	case kLike:
		a := args[0]
		if a.typ == nullType {
			a = castTo(a, String)
		}
		if a.typ != String {
			return nil, fmt.Errorf("%w: LIKE needs a STRING, got %s of type %v", ErrPlan, n.args[0], a.typ)
		}
		p, err := compileLike(n.name)
		if err != nil {
			return nil, err
		}
		return &bexpr{kind: kLike, typ: Bool, like: p, args: []*bexpr{a}, text: "(" + a.text + " LIKE " + quoteString(n.name) + ")"}, nil
	case kCast:
		if !canCast(args[0].typ, n.typ) {
			return nil, fmt.Errorf("%w: cannot cast %s from %v to %v", ErrPlan, n.args[0], args[0].typ, n.typ)
		}
		return castTo(args[0], n.typ), nil
	case kCase:
		return bindCase(n, args)
	case kFunc:
		if b.agg != nil && lookupFunc(n.name) == nowFunc {
			return nil, fmt.Errorf("%w: current_timestamp() is evaluated row by row before an aggregation: use it in WHERE, GROUP BY or inside an aggregate (max(current_timestamp())), not over the aggregated rows", ErrPlan)
		}
		return bindFunc(n, args, b.loc)
	}
	return nil, fmt.Errorf("%w: unexpected expression %s", ErrPlan, n)
}

func expectBool(what string, a *bexpr) (*bexpr, error) {
	if a.typ == nullType {
		return castTo(a, Bool), nil
	}
	if a.typ != Bool {
		return nil, fmt.Errorf("%w: %s needs BOOLEAN operands, got %s of type %v", ErrPlan, what, a.src, a.typ)
	}
	return a, nil
}

// widen returns the common numeric type of two numeric types.
func widen(a, b Type) Type {
	switch {
	case a == Float64 || b == Float64:
		return Float64
	case a == Int64 || b == Int64:
		return Int64
	}
	return Int32
}

// unify returns the type both operands are cast to for comparison, CASE
// branches and the like, or false when they do not mix.
func unify(a, b Type) (Type, bool) {
	switch {
	case a == nullType && b == nullType:
		return Int32, true
	case a == nullType:
		return b, true
	case b == nullType, a == b:
		return a, true
	case a.numeric() && b.numeric():
		return widen(a, b), true
	case a == Timestamp && b == String, a == String && b == Timestamp:
		return Timestamp, true
	case a == Date && b == String, a == String && b == Date:
		return Date, true
	case a == Date && b == Timestamp, a == Timestamp && b == Date:
		return Timestamp, true
	}
	return 0, false
}

func bindBinary(op binOp, l, r *bexpr) (*bexpr, error) {
	text := "(" + l.text + " " + binOpText[op] + " " + r.text + ")"
	switch {
	case op.logical():
		var err error
		if l, err = expectBool(binOpText[op], l); err != nil {
			return nil, err
		}
		if r, err = expectBool(binOpText[op], r); err != nil {
			return nil, err
		}
		return &bexpr{kind: kBinary, op: op, typ: Bool, args: []*bexpr{l, r}, text: text}, nil
	case op.comparison():
		t, ok := unify(l.typ, r.typ)
		if !ok {
			return nil, fmt.Errorf("%w: cannot compare %s (%v) with %s (%v)", ErrPlan, l.src, l.typ, r.src, r.typ)
		}
		var err error
		if l, err = coerce(l, t); err != nil {
			return nil, err
		}
		if r, err = coerce(r, t); err != nil {
			return nil, err
		}
		return &bexpr{kind: kBinary, op: op, typ: Bool, args: []*bexpr{l, r}, text: text}, nil
	default: // arithmetic
		lt, rt := l.typ, r.typ
		if lt == nullType {
			lt = rt
		}
		if rt == nullType {
			rt = lt
		}
		if lt == nullType {
			lt, rt = Int32, Int32
		}
		if !lt.numeric() || !rt.numeric() {
			return nil, fmt.Errorf("%w: operator %s needs numbers, got %s (%v) and %s (%v)", ErrPlan, binOpText[op], l.src, l.typ, r.src, r.typ)
		}
		t := widen(lt, rt)
		if op == opDiv {
			t = Float64
		}
		return &bexpr{kind: kBinary, op: op, typ: t, args: []*bexpr{castTo(l, t), castTo(r, t)}, text: text}, nil
	}
}

// coerce casts a to t for a comparison; a string literal compared with a
// timestamp must parse.
func coerce(a *bexpr, t Type) (*bexpr, error) {
	if a.typ == String && t == Timestamp && a.kind == kLit {
		if _, ok := parseTimestamp([]byte(strings.TrimSpace(a.lit.s))); !ok {
			return nil, fmt.Errorf("%w: %s is not a timestamp (want RFC 3339, 2006-01-02 15:04:05 [UTC] or 2006-01-02)", ErrPlan, a.src)
		}
		return castTo(a, t), nil // folded in the session time zone (inZoneOf)
	}
	if a.typ == String && t == Date && a.kind == kLit && !a.lit.null {
		d, ok := castStringToDate(strings.TrimSpace(a.lit.s))
		if !ok {
			return nil, fmt.Errorf("%w: %s is not a date (want yyyy-MM-dd)", ErrPlan, a.src)
		}
		return newLit(&node{kind: kLit, typ: Date, i: int64(d)}), nil
	}
	return castTo(a, t), nil
}

func canCast(from, to Type) bool {
	if from == nullType || from == to {
		return true
	}
	switch {
	case from == Bool && to == Timestamp, from == Timestamp && to == Bool:
		return false
	case from == Date:
		return to == String || to == Timestamp
	case to == Date:
		return from == String || from == Timestamp
	}
	return true
}

// castTo wraps a in a cast to t unless it already has type t. Literals are
// folded.
func castTo(a *bexpr, t Type) *bexpr {
	if a.typ == t {
		return a
	}
	if a.kind == kLit && (a.lit.null || !zoneDependent(a.typ, t)) {
		if n, ok := castLiteral(a.lit, t); ok {
			return newLit(n)
		}
	}
	return &bexpr{kind: kCast, typ: t, args: []*bexpr{a}, text: "CAST(" + a.text + " AS " + t.String() + ")", src: a.src}
}

func bindCase(n *node, args []*bexpr) (*bexpr, error) {
	t := nullType
	for i := 0; i < len(args); i++ {
		isCond := i%2 == 0 && !(n.hasElse && i == len(args)-1)
		if isCond {
			c, err := expectBool("WHEN", args[i])
			if err != nil {
				return nil, err
			}
			args[i] = c
			continue
		}
		var ok bool
		if t, ok = unify(t, args[i].typ); !ok {
			return nil, fmt.Errorf("%w: CASE branches mix types: %s is %v", ErrPlan, args[i].src, args[i].typ)
		}
	}
	if t == nullType {
		t = Int32
	}
	var sb strings.Builder
	sb.WriteString("CASE")
	for i := range args {
		isCond := i%2 == 0 && !(n.hasElse && i == len(args)-1)
		if !isCond {
			c, err := coerce(args[i], t)
			if err != nil {
				return nil, err
			}
			args[i] = c
		}
		switch {
		case n.hasElse && i == len(args)-1:
			sb.WriteString(" ELSE ")
		case isCond:
			sb.WriteString(" WHEN ")
		default:
			sb.WriteString(" THEN ")
		}
		sb.WriteString(args[i].text)
	}
	sb.WriteString(" END")
	return &bexpr{kind: kCase, typ: t, args: args, hasElse: n.hasElse, text: sb.String()}, nil
}

func (b *binder) bindAgg(n *node) (*bexpr, error) {
	if b.agg == nil {
		return nil, fmt.Errorf("%w: aggregate %s is only allowed in GroupBy(...).Agg and after it", ErrPlan, n)
	}
	call := aggCall{fn: n.agg}
	if len(n.args) >= 1 {
		inner := &binder{cols: b.agg.input, loc: b.loc}
		if containsAgg(n.args[0]) {
			return nil, fmt.Errorf("%w: aggregate %s contains an aggregate", ErrPlan, n)
		}
		arg, err := inner.bind(n.args[0])
		if err != nil {
			return nil, err
		}
		if arg.typ == nullType {
			arg = castTo(arg, Int32)
		}
		call.arg = arg
	}
	if err := bindAggParams(&call, n); err != nil {
		return nil, err
	}
	switch call.fn {
	case aggCount, aggCountDistinct:
		call.typ = Int64
	case aggSum:
		if !call.arg.typ.numeric() {
			return nil, fmt.Errorf("%w: sum needs a number, got %s of type %v", ErrPlan, n.args[0], call.arg.typ)
		}
		call.typ = Int64
		if call.arg.typ == Float64 {
			call.typ = Float64
		}
	case aggAvg:
		if !call.arg.typ.numeric() {
			return nil, fmt.Errorf("%w: avg needs a number, got %s of type %v", ErrPlan, n.args[0], call.arg.typ)
		}
		// Like Spark, average in DOUBLE: integer sums beyond 2^63 do not
		// wrap, and sums below 2^53 stay exact.
		call.arg = castTo(call.arg, Float64)
		call.typ = Float64
	case aggMin, aggMax:
		call.typ = call.arg.typ
	default: // funcs_agg.go
		if err := bindAggExt(&call, n); err != nil {
			return nil, err
		}
	}
	call.text = aggText[call.fn] + "(*)"
	if call.arg != nil {
		d := ""
		if call.fn == aggCountDistinct {
			d = "DISTINCT "
		}
		call.text = aggText[call.fn] + "(" + d + call.arg.text + call.params.text + ")"
	}
	slot := b.agg.slot(call)
	return colRef(len(b.agg.groups)+slot, call.typ), nil
}

func containsAgg(n *node) bool { return containsKind(n, kAgg) }

// containsKind reports whether n or an expression inside it is of kind k.
func containsKind(n *node, k exprKind) bool {
	if n.kind == k {
		return true
	}
	for _, a := range n.args {
		if containsKind(a, k) {
			return true
		}
	}
	return false
}

// aggSpec is the aggregation of a plan: grouping expressions and aggregate
// calls over the pre-aggregation columns (input). The aggregate's output,
// the input of everything after it, is the group keys then one slot per
// call.
type aggSpec struct {
	input  []outCol
	groups []outCol
	calls  []aggCall
	// window, when set, is the event-time window whose start and end are
	// groups[0] and groups[1].
	window *windowSpec
}

type aggCall struct {
	fn     aggFunc
	arg    *bexpr // nil for count(*)
	params aggParams
	typ    Type // finalized result type
	text   string
}

func (a *aggSpec) groupNames() string {
	names := make([]string, len(a.groups))
	for i, g := range a.groups {
		names[i] = quoteName(g.name)
	}
	return strings.Join(names, ", ")
}

// slot returns the index of call, appending it when new.
func (a *aggSpec) slot(call aggCall) int {
	for i, c := range a.calls {
		if c.text == call.text {
			return i
		}
	}
	a.calls = append(a.calls, call)
	return len(a.calls) - 1
}

// clone copies a so that adding slots does not affect DataFrames sharing it.
func (a *aggSpec) clone() *aggSpec {
	c := *a
	c.calls = append([]aggCall(nil), a.calls...)
	return &c
}

// outputCols is the aggregate's output, visible by position.
func (a *aggSpec) outputCols() []outCol {
	cols := make([]outCol, 0, len(a.groups)+len(a.calls))
	for i, g := range a.groups {
		cols = append(cols, outCol{g.name, colRef(i, g.e.typ)})
	}
	for i, c := range a.calls {
		cols = append(cols, outCol{c.text, colRef(len(a.groups)+i, c.typ)})
	}
	return cols
}

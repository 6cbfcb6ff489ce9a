package dataframe

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/microbatch/microbatch/internal/textdist"
)

// Scalar functions: Spark SQL's names, argument order and NULL semantics.
//
// Every function is a funcDef in the registry below. Binding a call checks
// its arguments, inserts the implicit casts Spark would, compiles what is
// constant (a regular expression, a datetime pattern, a JSON path) once, and
// returns a kernel: a loop over the selected rows of whole argument vectors.
// Nothing is interpreted per row.

// kernel computes a function over the rows sel of its argument vectors
// (each n rows long) and returns a vector of n rows.
type kernel func(n int, args []*vector, sel []int32) *vector

// funcDef is one scalar function of the registry.
type funcDef struct {
	name    string
	group   string // "string", "math", "conditional", "datetime", "json"
	usage   string // the call as the README shows it: "substring(str, pos[, len])"
	doc     string // one line
	minArgs int
	maxArgs int // -1: any number
	// bind checks and coerces args in place and returns the result type and
	// the kernel. args are bound; an untyped NULL has type nullType.
	bind func(args []*bexpr) (Type, kernel, error)
	// bindIn, set instead of bind for a function that reads or shows
	// wall-clock time, binds it in the session time zone loc (nil: UTC).
	bindIn func(args []*bexpr, loc *time.Location) (Type, kernel, error)
}

// funcCall is a bound call: bexpr.call of a kFunc.
type funcCall struct {
	def  *funcDef
	kern kernel
}

var funcRegistry = map[string]*funcDef{}

// funcAliases maps an alias (nvl, substr, ...) to the registered name.
var funcAliases = map[string]string{}

func register(defs ...*funcDef) {
	for _, d := range defs {
		if _, dup := funcRegistry[d.name]; dup {
			panic("dataframe: function " + d.name + " registered twice")
		}
		funcRegistry[d.name] = d
	}
}

func alias(name, of string) { funcAliases[name] = of }

func lookupFunc(name string) *funcDef {
	name = strings.ToLower(name)
	if d, ok := funcRegistry[name]; ok {
		return d
	}
	if of, ok := funcAliases[name]; ok {
		return funcRegistry[of]
	}
	return nil
}

// FuncInfo describes one scalar function for documentation.
type FuncInfo struct {
	Name    string   // as called, lower case
	Aliases []string // other names of the same function
	Group   string   // string, math, conditional, datetime, json
	Usage   string   // e.g. "substring(str, pos[, len])"
	Doc     string   // one line
}

// Functions lists the scalar functions, by group then name.
func Functions() []FuncInfo {
	byName := map[string][]string{}
	for a, of := range funcAliases {
		byName[of] = append(byName[of], a)
	}
	var out []FuncInfo
	for _, d := range funcRegistry {
		as := byName[d.name]
		sort.Strings(as)
		out = append(out, FuncInfo{Name: d.name, Aliases: as, Group: d.group, Usage: d.usage, Doc: d.doc})
	}
	order := map[string]int{"string": 0, "math": 1, "conditional": 2, "datetime": 3, "json": 4}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return order[out[i].Group] < order[out[j].Group]
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// IsFunction reports whether name (case-insensitive) is a scalar function
// or an alias of one.
func IsFunction(name string) bool { return lookupFunc(name) != nil }

// FunctionNames returns every scalar function name and alias, sorted.
func FunctionNames() []string {
	var out []string
	for n := range funcRegistry {
		out = append(out, n)
	}
	for a := range funcAliases {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Call is the scalar function name applied to args, such as
// Call("lower", Col("brand")) or Call("date_trunc", Lit("hour"), Col("ts")).
// An unknown name or a wrong number of arguments is an error of the
// expression (with a did-you-mean for a misspelt name).
func Call(name string, args ...Expr) Expr {
	n := &node{kind: kFunc, name: strings.ToLower(name)}
	for _, a := range args {
		n.args = append(n.args, a.node())
	}
	d := lookupFunc(name)
	if d == nil {
		msg := fmt.Sprintf("%s: unknown function %s", ErrPlan, name)
		if s, ok := textdist.Closest(name, FunctionNames()); ok {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		n.err = &unknownFuncError{msg: msg}
		return Expr{n}
	}
	n.name = d.name
	if d.name == "unix_timestamp" && len(args) == 0 {
		// Spark's unix_timestamp() is the current time's: the batch's.
		n.args = []*node{Call("current_timestamp").node()}
		return Expr{n}
	}
	if len(args) < d.minArgs || d.maxArgs >= 0 && len(args) > d.maxArgs {
		usage := d.usage
		if written := strings.ToLower(name); written != d.name {
			usage = written + " (" + d.usage + ")" // an alias: name what was written
		}
		n.err = fmt.Errorf("%w: %s takes %s, got %d", ErrPlan, usage, arity(d), len(args))
	}
	return Expr{n}
}

// unknownFuncError wraps ErrPlan with a did-you-mean message.
type unknownFuncError struct{ msg string }

func (e *unknownFuncError) Error() string { return e.msg }
func (e *unknownFuncError) Unwrap() error { return ErrPlan }

func arity(d *funcDef) string {
	switch {
	case d.maxArgs < 0:
		return fmt.Sprintf("at least %d arguments", d.minArgs)
	case d.minArgs == d.maxArgs && d.minArgs == 1:
		return "1 argument"
	case d.minArgs == d.maxArgs:
		return fmt.Sprintf("%d arguments", d.minArgs)
	}
	return fmt.Sprintf("%d to %d arguments", d.minArgs, d.maxArgs)
}

func (n *node) writeFunc(b *strings.Builder) {
	b.WriteString(n.name + "(")
	for i, a := range n.args {
		if i > 0 {
			b.WriteString(", ")
		}
		a.write(b)
	}
	b.WriteByte(')')
}

// bindFunc binds a call whose arguments are bound, in the session time
// zone loc (nil: UTC).
func bindFunc(n *node, args []*bexpr, loc *time.Location) (*bexpr, error) {
	d := lookupFunc(n.name)
	if d == nil { // Call refuses unknown names; a plan text may still hold one
		return nil, fmt.Errorf("%w: unknown function %s", ErrPlan, n.name)
	}
	var t Type
	var k kernel
	var err error
	if d.bindIn != nil {
		t, k, err = d.bindIn(args, loc)
	} else {
		t, k, err = d.bind(args)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrPlan, d.name, err)
	}
	var sb strings.Builder
	sb.WriteString(d.name + "(")
	for i, a := range args {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(a.text)
	}
	sb.WriteByte(')')
	return &bexpr{kind: kFunc, typ: t, args: args, call: &funcCall{def: d, kern: k}, text: sb.String()}, nil
}

// call evaluates a bound function call.
func (ev *evaluator) call(e *bexpr, sel []int32) *vector {
	if e.call.def == nowFunc {
		return ev.now(sel)
	}
	args := make([]*vector, len(e.args))
	for i, a := range e.args {
		args[i] = ev.eval(a, sel)
	}
	return e.call.kern(ev.n, args, sel)
}

// Argument coercion.

// argAs casts args[i] to t the way Spark's implicit casts do, or says why
// it cannot.
func argAs(args []*bexpr, i int, t Type) error {
	a := args[i]
	switch {
	case a.typ == t:
		return nil
	case a.typ == nullType, t == String && a.typ != nullType,
		t.numeric() && (a.typ.numeric() || a.typ == String),
		t == Timestamp && (a.typ == String || a.typ == Date),
		t == Date && (a.typ == String || a.typ == Timestamp):
		args[i] = castTo(a, t)
		return nil
	}
	return fmt.Errorf("argument %d must be %v, got %s of type %v", i+1, t, a.src, a.typ)
}

// argsAs casts every argument from i on to t.
func argsAs(args []*bexpr, from int, t Type) error {
	for i := from; i < len(args); i++ {
		if err := argAs(args, i, t); err != nil {
			return err
		}
	}
	return nil
}

// argNumber casts args[i] to a numeric type: numbers stay, strings and NULL
// become DOUBLE.
func argNumber(args []*bexpr, i int) error {
	if args[i].typ.numeric() {
		return nil
	}
	return argAs(args, i, Float64)
}

// unifyArgs casts args[from:] to their common type (greatest, coalesce, ...).
func unifyArgs(args []*bexpr, from int) (Type, error) {
	t := nullType
	for _, a := range args[from:] {
		if a.typ == nullType {
			continue // unify(NULL, NULL) is INT, which would then refuse a DATE
		}
		var ok bool
		if t, ok = unify(t, a.typ); !ok {
			return 0, fmt.Errorf("arguments mix types: %s is %v", a.src, a.typ)
		}
	}
	if t == nullType {
		t = Int32
	}
	for i := from; i < len(args); i++ {
		c, err := coerce(args[i], t)
		if err != nil {
			return 0, err
		}
		args[i] = c
	}
	return t, nil
}

// literal returns the constant value of args[i], which must be a literal
// (a pattern, a format, a unit); null reports a NULL literal.
func literal(args []*bexpr, i int, what string) (v value, null bool, err error) {
	a := args[i]
	if a.kind != kLit {
		return value{}, false, fmt.Errorf("the %s (argument %d) must be a literal, got %s", what, i+1, a.src)
	}
	return litValue(a.lit), a.lit.null, nil
}

// stringLiteral is literal of a STRING argument.
func stringLiteral(args []*bexpr, i int, what string) (string, bool, error) {
	if err := argAs(args, i, String); err != nil {
		return "", false, err
	}
	v, null, err := literal(args, i, what)
	return v.s, null, err
}

// Kernel helpers.

// strictValid is the validity of a result that is NULL when any argument
// is; the slice may be an argument's, so a kernel that adds NULLs clones it.
func strictValid(n int, sel []int32, args []*vector) []bool {
	var valid []bool
	shared := true
	for _, a := range args {
		if a.valid == nil {
			continue
		}
		if valid == nil {
			valid = a.valid
			continue
		}
		if shared {
			valid = cloneValid(valid, n, sel)
			shared = false
		}
		for _, i := range sel {
			valid[i] = valid[i] && a.valid[i]
		}
	}
	return valid
}

// ownValid returns a writable copy of a strict validity.
func ownValid(valid []bool, n int, sel []int32) []bool { return cloneValid(valid, n, sel) }

// allNull is a vector of type t with every row NULL.
func allNull(t Type, n int) *vector {
	v := newVector(t, n)
	v.valid = make([]bool, n)
	return v
}

// live calls f for every row of sel where valid (nil: all) holds.
func live(valid []bool, sel []int32, f func(i int32)) {
	if valid == nil {
		for _, i := range sel {
			f(i)
		}
		return
	}
	for _, i := range sel {
		if valid[i] {
			f(i)
		}
	}
}

// strict1 builds the kernel of a one-argument function that is NULL on a
// NULL argument; f fills row i of out from the argument.
func strict(t Type, f func(out *vector, args []*vector, i int32)) kernel {
	return func(n int, args []*vector, sel []int32) *vector {
		out := newVector(t, n)
		out.valid = strictValid(n, sel, args)
		live(out.valid, sel, func(i int32) { f(out, args, i) })
		return out
	}
}

// strictNullable is strict for functions that may also return NULL on
// non-NULL arguments: f returns false for NULL.
func strictNullable(t Type, f func(out *vector, args []*vector, i int32) bool) kernel {
	return func(n int, args []*vector, sel []int32) *vector {
		out := newVector(t, n)
		out.valid = ownValid(strictValid(n, sel, args), n, sel)
		live(out.valid, sel, func(i int32) {
			if !f(out, args, i) {
				out.valid[i] = false
			}
		})
		return out
	}
}

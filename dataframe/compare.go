package dataframe

// Comparison kernels.

import (
	"cmp"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/array"
)

func (ev *evaluator) compare(e *bexpr, sel []int32) *vector {
	l := ev.eval(e.args[0], sel)
	out := newVector(Bool, ev.n)
	rl := e.args[1]
	if rl.kind == kLit {
		if rl.lit.null || l.typ == nullType {
			out.valid = make([]bool, ev.n)
			return out
		}
		out.valid = l.valid
		x := litValue(rl.lit)
		switch l.typ {
		case String:
			if l.s != nil {
				cmpVS(e.op, l.s, x.s, out.b, sel)
			} else {
				cmpArrowVS(e.op, l.sa, x.s, out.b, sel)
			}
		case Int32, Date:
			cmpVS(e.op, l.i32, int32(x.i), out.b, sel)
		case Int64, Timestamp, Bool:
			if l.typ == Bool {
				cmpBool(e.op, l.b, nil, x.i != 0, out.b, sel)
			} else {
				cmpVS(e.op, l.i64, x.i, out.b, sel)
			}
		case Float64:
			cmpVS(e.op, l.f64, x.f, out.b, sel)
		}
		return out
	}
	r := ev.eval(rl, sel)
	if l.typ == nullType || r.typ == nullType {
		out.valid = make([]bool, ev.n)
		return out
	}
	out.valid = bothValid(ev.n, sel, l, r)
	switch l.typ {
	case String:
		for _, i := range sel {
			out.b[i] = cmpResult(e.op, strings.Compare(l.str(i), r.str(i)))
		}
	case Int32, Date:
		cmpVV(e.op, l.i32, r.i32, out.b, sel)
	case Int64, Timestamp:
		cmpVV(e.op, l.i64, r.i64, out.b, sel)
	case Float64:
		cmpVV(e.op, l.f64, r.f64, out.b, sel)
	case Bool:
		cmpBool(e.op, l.b, r.b, false, out.b, sel)
	}
	return out
}

func cmpVS[T cmp.Ordered](op binOp, a []T, s T, out []bool, sel []int32) {
	switch op {
	case opEq:
		for _, i := range sel {
			out[i] = a[i] == s
		}
	case opNe:
		for _, i := range sel {
			out[i] = a[i] != s
		}
	case opLt:
		for _, i := range sel {
			out[i] = a[i] < s
		}
	case opLe:
		for _, i := range sel {
			out[i] = a[i] <= s
		}
	case opGt:
		for _, i := range sel {
			out[i] = a[i] > s
		}
	case opGe:
		for _, i := range sel {
			out[i] = a[i] >= s
		}
	}
}

// cmpArrowVS compares the strings of an Arrow array with s.
func cmpArrowVS(op binOp, a *array.String, s string, out []bool, sel []int32) {
	switch op {
	case opEq:
		for _, i := range sel {
			out[i] = a.Value(int(i)) == s
		}
	case opNe:
		for _, i := range sel {
			out[i] = a.Value(int(i)) != s
		}
	default:
		for _, i := range sel {
			out[i] = cmpResult(op, strings.Compare(a.Value(int(i)), s))
		}
	}
}

// cmpResult turns a three-way comparison into the operator's answer.
func cmpResult(op binOp, c int) bool {
	switch op {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	}
	return c >= 0
}

func cmpVV[T cmp.Ordered](op binOp, a, b []T, out []bool, sel []int32) {
	switch op {
	case opEq:
		for _, i := range sel {
			out[i] = a[i] == b[i]
		}
	case opNe:
		for _, i := range sel {
			out[i] = a[i] != b[i]
		}
	case opLt:
		for _, i := range sel {
			out[i] = a[i] < b[i]
		}
	case opLe:
		for _, i := range sel {
			out[i] = a[i] <= b[i]
		}
	case opGt:
		for _, i := range sel {
			out[i] = a[i] > b[i]
		}
	case opGe:
		for _, i := range sel {
			out[i] = a[i] >= b[i]
		}
	}
}

// cmpBool compares BOOLEANs (FALSE < TRUE) with b, or with s when b is nil.
func cmpBool(op binOp, a, b []bool, s bool, out []bool, sel []int32) {
	b2i := func(x bool) int {
		if x {
			return 1
		}
		return 0
	}
	for _, i := range sel {
		y := s
		if b != nil {
			y = b[i]
		}
		c := cmp.Compare(b2i(a[i]), b2i(y))
		switch op {
		case opEq:
			out[i] = c == 0
		case opNe:
			out[i] = c != 0
		case opLt:
			out[i] = c < 0
		case opLe:
			out[i] = c <= 0
		case opGt:
			out[i] = c > 0
		case opGe:
			out[i] = c >= 0
		}
	}
}

package dataframe

import "math"

// evaluator evaluates bound expressions over one batch of n rows whose input
// columns are already vectors. Every operator loops over a selection (the
// rows still alive, ascending) and fills a full-length result at those
// rows only, so filters never copy column data.
type evaluator struct {
	n     int
	cols  []*vector
	nowUS int64 // current_timestamp(), µs (Task.SetProcessingTime)
}

func (ev *evaluator) eval(e *bexpr, sel []int32) *vector {
	switch e.kind {
	case kCol:
		return ev.cols[e.col]
	case kLit:
		return ev.literal(e.lit, sel)
	case kBinary:
		if e.op.logical() {
			return ev.logical(e, sel)
		}
		if e.op.comparison() {
			return ev.compare(e, sel)
		}
		return ev.arith(e, sel)
	case kNot:
		a := ev.eval(e.args[0], sel)
		out := newVector(Bool, ev.n)
		out.valid = a.valid
		for _, i := range sel {
			out.b[i] = !a.b[i]
		}
		return out
	case kNeg:
		a := ev.eval(e.args[0], sel)
		out := newVector(a.typ, ev.n)
		out.valid = a.valid
		switch a.typ {
		case Int32:
			neg(a.i32, out.i32, sel)
		case Int64:
			neg(a.i64, out.i64, sel)
		case Float64:
			neg(a.f64, out.f64, sel)
		}
		return out
	case kIsNull, kIsNotNull:
		a := ev.eval(e.args[0], sel)
		out := newVector(Bool, ev.n)
		want := e.kind == kIsNull
		for _, i := range sel {
			out.b[i] = a.null(i) == want
		}
		return out
	case kLike:
		a := ev.eval(e.args[0], sel)
		out := newVector(Bool, ev.n)
		out.valid = a.valid
		for _, i := range sel {
			out.b[i] = e.like.match(a.str(i))
		}
		return out
	case kCast:
		return ev.cast(e, sel)
	case kCase:
		return ev.caseWhen(e, sel)
	case kFunc:
		return ev.call(e, sel)
	}
	panic("dataframe: unexpected bound expression " + e.text) // unreachable: the binder produces only the kinds above
}

// filter returns the rows of sel where e is TRUE. A conjunction narrows the
// selection one operand at a time.
func (ev *evaluator) filter(e *bexpr, sel []int32) []int32 {
	if e.kind == kBinary && e.op == opAnd {
		return ev.filter(e.args[1], ev.filter(e.args[0], sel))
	}
	if len(sel) == 0 {
		return sel
	}
	v := ev.eval(e, sel)
	out := make([]int32, 0, len(sel))
	if v.typ == nullType {
		return out
	}
	if v.valid == nil {
		for _, i := range sel {
			if v.b[i] {
				out = append(out, i)
			}
		}
		return out
	}
	for _, i := range sel {
		if v.valid[i] && v.b[i] {
			out = append(out, i)
		}
	}
	return out
}

func (ev *evaluator) literal(n *node, sel []int32) *vector {
	v := newVector(n.typ, ev.n)
	if n.null {
		v.valid = make([]bool, ev.n)
		return v
	}
	x := litValue(n)
	for _, i := range sel {
		v.set(i, x, ev.n)
	}
	return v
}

func neg[T int32 | int64 | float64](a, out []T, sel []int32) {
	for _, i := range sel {
		out[i] = -a[i]
	}
}

// bothValid is the validity of a result that is NULL when either input is.
func bothValid(n int, sel []int32, a, b *vector) []bool {
	switch {
	case a.valid == nil && b == nil:
		return nil
	case b == nil:
		return a.valid
	case a.valid == nil:
		return b.valid
	case b.valid == nil:
		return a.valid
	}
	v := make([]bool, n)
	for _, i := range sel {
		v[i] = a.valid[i] && b.valid[i]
	}
	return v
}

func (ev *evaluator) logical(e *bexpr, sel []int32) *vector {
	l := ev.eval(e.args[0], sel)
	r := ev.eval(e.args[1], sel)
	out := newVector(Bool, ev.n)
	and := e.op == opAnd
	if l.valid == nil && r.valid == nil && l.typ == Bool && r.typ == Bool {
		for _, i := range sel {
			if and {
				out.b[i] = l.b[i] && r.b[i]
			} else {
				out.b[i] = l.b[i] || r.b[i]
			}
		}
		return out
	}
	for _, i := range sel {
		ln, rn := l.typ == nullType || l.null(i), r.typ == nullType || r.null(i)
		lv, rv := !ln && l.b[i], !rn && r.b[i]
		if and {
			switch {
			case !ln && !lv, !rn && !rv: // FALSE AND anything
				out.b[i] = false
			case ln || rn:
				out.setNull(i, ev.n)
			default:
				out.b[i] = true
			}
		} else {
			switch {
			case lv || rv: // TRUE OR anything
				out.b[i] = true
			case ln || rn:
				out.setNull(i, ev.n)
			default:
				out.b[i] = false
			}
		}
	}
	return out
}

func (ev *evaluator) arith(e *bexpr, sel []int32) *vector {
	l := ev.eval(e.args[0], sel)
	r := ev.eval(e.args[1], sel)
	out := newVector(e.typ, ev.n)
	if l.typ == nullType || r.typ == nullType {
		out.valid = make([]bool, ev.n)
		return out
	}
	out.valid = bothValid(ev.n, sel, l, r)
	switch e.typ {
	case Int32:
		arithInt(e.op, l.i32, r.i32, out, sel, ev.n)
	case Int64:
		arithInt(e.op, l.i64, r.i64, out, sel, ev.n)
	case Float64:
		a, b, o := l.f64, r.f64, out.f64
		switch e.op {
		case opAdd:
			for _, i := range sel {
				o[i] = a[i] + b[i]
			}
		case opSub:
			for _, i := range sel {
				o[i] = a[i] - b[i]
			}
		case opMul:
			for _, i := range sel {
				o[i] = a[i] * b[i]
			}
		case opDiv, opMod:
			out.valid = cloneValid(out.valid, ev.n, sel)
			for _, i := range sel {
				if b[i] == 0 {
					out.valid[i] = false
				} else if e.op == opDiv {
					o[i] = a[i] / b[i]
				} else {
					o[i] = math.Mod(a[i], b[i])
				}
			}
		}
	}
	return out
}

// cloneValid returns a private, writable validity for the rows sel.
func cloneValid(v []bool, n int, sel []int32) []bool {
	c := make([]bool, n)
	if v == nil {
		for _, i := range sel {
			c[i] = true
		}
		return c
	}
	copy(c, v)
	return c
}

func arithInt[T int32 | int64](op binOp, a, b []T, out *vector, sel []int32, n int) {
	var o []T
	switch any(a).(type) {
	case []int32:
		o = any(out.i32).([]T)
	default:
		o = any(out.i64).([]T)
	}
	switch op {
	case opAdd:
		for _, i := range sel {
			o[i] = a[i] + b[i]
		}
	case opSub:
		for _, i := range sel {
			o[i] = a[i] - b[i]
		}
	case opMul:
		for _, i := range sel {
			o[i] = a[i] * b[i]
		}
	case opMod:
		out.valid = cloneValid(out.valid, n, sel)
		for _, i := range sel {
			if b[i] == 0 {
				out.valid[i] = false
			} else {
				o[i] = a[i] % b[i]
			}
		}
	}
}

func (ev *evaluator) cast(e *bexpr, sel []int32) *vector {
	a := ev.eval(e.args[0], sel)
	out := newVector(e.typ, ev.n)
	if a.typ == nullType {
		out.valid = make([]bool, ev.n)
		return out
	}
	switch {
	case a.typ == Int32 && e.typ == Int64:
		out.valid = a.valid
		for _, i := range sel {
			out.i64[i] = int64(a.i32[i])
		}
	case a.typ == Int32 && e.typ == Float64:
		out.valid = a.valid
		for _, i := range sel {
			out.f64[i] = float64(a.i32[i])
		}
	case a.typ == Int64 && e.typ == Float64:
		out.valid = a.valid
		for _, i := range sel {
			out.f64[i] = float64(a.i64[i])
		}
	case a.typ == Date && e.typ == Timestamp && e.loc == nil:
		out.valid = a.valid
		for _, i := range sel {
			out.i64[i] = int64(a.i32[i]) * usPerDay
		}
	case a.typ == Timestamp && e.typ == Date && e.loc == nil:
		out.valid = a.valid
		for _, i := range sel {
			out.i32[i] = int32(timestampToDate(a.i64[i]))
		}
	default:
		for _, i := range sel {
			x := a.get(i)
			if !x.null {
				var ok bool
				if x, ok = castValueIn(x, a.typ, e.typ, e.loc); !ok {
					x = value{null: true}
				}
			}
			out.set(i, x, ev.n)
		}
	}
	return out
}

// caseWhen evaluates each branch's value only on the rows that reach it.
func (ev *evaluator) caseWhen(e *bexpr, sel []int32) *vector {
	out := newVector(e.typ, ev.n)
	rest := sel
	i := 0
	for ; i+1 < len(e.args) && len(rest) > 0; i += 2 {
		if e.hasElse && i == len(e.args)-1 {
			break
		}
		hit := ev.filter(e.args[i], rest)
		if len(hit) > 0 {
			copyRows(out, ev.eval(e.args[i+1], hit), hit, ev.n)
			rest = minus(rest, hit)
		}
	}
	if len(rest) == 0 {
		return out
	}
	if e.hasElse {
		copyRows(out, ev.eval(e.args[len(e.args)-1], rest), rest, ev.n)
		return out
	}
	for _, r := range rest {
		out.setNull(r, ev.n)
	}
	return out
}

// minus returns the rows of a (ascending) not in b (an ascending subset).
func minus(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)-len(b))
	j := 0
	for _, x := range a {
		if j < len(b) && b[j] == x {
			j++
			continue
		}
		out = append(out, x)
	}
	return out
}

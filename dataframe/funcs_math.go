package dataframe

import (
	"fmt"
	"math"
	"strconv"
)

// Math functions.

func init() {
	register(
		&funcDef{name: "abs", group: "math", usage: "abs(x)", doc: "the absolute value of x, of x's type", minArgs: 1, maxArgs: 1, bind: bindAbs},
		&funcDef{name: "round", group: "math", usage: "round(x[, d])", doc: "x rounded to d decimal places (default 0), halves away from zero (HALF_UP)", minArgs: 1, maxArgs: 2, bind: bindRound(false)},
		&funcDef{name: "bround", group: "math", usage: "bround(x[, d])", doc: "x rounded to d decimal places (default 0), halves to even (HALF_EVEN)", minArgs: 1, maxArgs: 2, bind: bindRound(true)},
		&funcDef{name: "floor", group: "math", usage: "floor(x)", doc: "the largest integer not above x (BIGINT)", minArgs: 1, maxArgs: 1, bind: bindFloorCeil(math.Floor)},
		&funcDef{name: "ceil", group: "math", usage: "ceil(x)", doc: "the smallest integer not below x (BIGINT)", minArgs: 1, maxArgs: 1, bind: bindFloorCeil(math.Ceil)},
		&funcDef{name: "sqrt", group: "math", usage: "sqrt(x)", doc: "the square root of x (NaN below 0)", minArgs: 1, maxArgs: 1, bind: bindDouble1(math.Sqrt, false)},
		&funcDef{name: "exp", group: "math", usage: "exp(x)", doc: "e to the power x", minArgs: 1, maxArgs: 1, bind: bindDouble1(math.Exp, false)},
		&funcDef{name: "ln", group: "math", usage: "ln(x)", doc: "the natural logarithm of x (NULL when x <= 0)", minArgs: 1, maxArgs: 1, bind: bindDouble1(math.Log, true)},
		&funcDef{name: "log10", group: "math", usage: "log10(x)", doc: "the base-10 logarithm of x (NULL when x <= 0)", minArgs: 1, maxArgs: 1, bind: bindDouble1(math.Log10, true)},
		&funcDef{name: "log2", group: "math", usage: "log2(x)", doc: "the base-2 logarithm of x (NULL when x <= 0)", minArgs: 1, maxArgs: 1, bind: bindDouble1(math.Log2, true)},
		&funcDef{name: "pow", group: "math", usage: "pow(x, y)", doc: "x to the power y (DOUBLE)", minArgs: 2, maxArgs: 2, bind: bindPow},
		&funcDef{name: "mod", group: "math", usage: "mod(x, y)", doc: "x % y, with the sign of x; NULL when y is 0", minArgs: 2, maxArgs: 2, bind: bindMod(false)},
		&funcDef{name: "pmod", group: "math", usage: "pmod(x, y)", doc: "the non-negative remainder of x / y for positive y; NULL when y is 0", minArgs: 2, maxArgs: 2, bind: bindMod(true)},
		&funcDef{name: "greatest", group: "math", usage: "greatest(x, y, ...)", doc: "the largest non-NULL argument; NULL when all are NULL", minArgs: 2, maxArgs: -1, bind: bindExtreme(1)},
		&funcDef{name: "least", group: "math", usage: "least(x, y, ...)", doc: "the smallest non-NULL argument; NULL when all are NULL", minArgs: 2, maxArgs: -1, bind: bindExtreme(-1)},
		&funcDef{name: "sign", group: "math", usage: "sign(x)", doc: "-1.0, 0.0 or 1.0 as x is negative, zero or positive (DOUBLE)", minArgs: 1, maxArgs: 1, bind: bindDouble1(sign, false)},
	)
	alias("power", "pow")
	alias("ceiling", "ceil")
	alias("signum", "sign")
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return x // 0, -0 and NaN
}

func bindAbs(args []*bexpr) (Type, kernel, error) {
	if err := argNumber(args, 0); err != nil {
		return 0, nil, err
	}
	t := args[0].typ
	return t, strict(t, func(out *vector, a []*vector, i int32) {
		switch t {
		case Int32:
			out.i32[i] = a[0].i32[i]
			if out.i32[i] < 0 {
				out.i32[i] = -out.i32[i] // abs(INT min) wraps, as in Spark
			}
		case Int64:
			out.i64[i] = a[0].i64[i]
			if out.i64[i] < 0 {
				out.i64[i] = -out.i64[i]
			}
		default:
			out.f64[i] = math.Abs(a[0].f64[i])
		}
	}), nil
}

// bindDouble1 is a DOUBLE function of one number; positive requires x > 0
// (else NULL), as Spark's logarithms do.
func bindDouble1(f func(float64) float64, positive bool) func([]*bexpr) (Type, kernel, error) {
	return func(args []*bexpr) (Type, kernel, error) {
		if err := argAs(args, 0, Float64); err != nil {
			return 0, nil, err
		}
		if positive {
			return Float64, strictNullable(Float64, func(out *vector, a []*vector, i int32) bool {
				x := a[0].f64[i]
				out.f64[i] = f(x)
				return x > 0
			}), nil
		}
		return Float64, func(n int, a []*vector, sel []int32) *vector {
			out := newVector(Float64, n)
			out.valid = a[0].valid
			x, o := a[0].f64, out.f64
			for _, i := range sel {
				o[i] = f(x[i])
			}
			return out
		}, nil
	}
}

func bindPow(args []*bexpr) (Type, kernel, error) {
	if err := argsAs(args, 0, Float64); err != nil {
		return 0, nil, err
	}
	return Float64, strict(Float64, func(out *vector, a []*vector, i int32) {
		out.f64[i] = math.Pow(a[0].f64[i], a[1].f64[i])
	}), nil
}

func bindFloorCeil(f func(float64) float64) func([]*bexpr) (Type, kernel, error) {
	return func(args []*bexpr) (Type, kernel, error) {
		if err := argNumber(args, 0); err != nil {
			return 0, nil, err
		}
		if args[0].typ != Float64 {
			if err := argAs(args, 0, Int64); err != nil {
				return 0, nil, err
			}
			return Int64, strict(Int64, func(out *vector, a []*vector, i int32) { out.i64[i] = a[0].i64[i] }), nil
		}
		return Int64, strict(Int64, func(out *vector, a []*vector, i int32) {
			out.i64[i] = floatToInt(f(a[0].f64[i]), Int64)
		}), nil
	}
}

func bindMod(positive bool) func([]*bexpr) (Type, kernel, error) {
	return func(args []*bexpr) (Type, kernel, error) {
		if err := argNumber(args, 0); err != nil {
			return 0, nil, err
		}
		if err := argNumber(args, 1); err != nil {
			return 0, nil, err
		}
		t := widen(args[0].typ, args[1].typ)
		args[0], args[1] = castTo(args[0], t), castTo(args[1], t)
		return t, strictNullable(t, func(out *vector, a []*vector, i int32) bool {
			switch t {
			case Int32:
				r, ok := modInt(a[0].i32[i], a[1].i32[i], positive)
				out.i32[i] = r
				return ok
			case Int64:
				r, ok := modInt(a[0].i64[i], a[1].i64[i], positive)
				out.i64[i] = r
				return ok
			default:
				x, y := a[0].f64[i], a[1].f64[i]
				if y == 0 {
					return false
				}
				r := math.Mod(x, y)
				if positive && r < 0 {
					r = math.Mod(r+y, y)
				}
				out.f64[i] = r
			}
			return true
		}), nil
	}
}

// modInt is x % y (positive: pmod); false when y is 0.
func modInt[T int32 | int64](x, y T, positive bool) (T, bool) {
	if y == 0 {
		return 0, false
	}
	r := x % y
	if positive && r < 0 {
		r = (r + y) % y
	}
	return r, true
}

// bindExtreme is greatest (dir 1) or least (dir -1): NULLs are skipped.
func bindExtreme(dir int) func([]*bexpr) (Type, kernel, error) {
	return func(args []*bexpr) (Type, kernel, error) {
		t, err := unifyArgs(args, 0)
		if err != nil {
			return 0, nil, err
		}
		if t == Bool {
			return 0, nil, fmt.Errorf("arguments must be numbers, strings or timestamps, got BOOLEAN")
		}
		return t, func(n int, a []*vector, sel []int32) *vector {
			out := newVector(t, n)
			for _, i := range sel {
				best := value{null: true}
				for _, v := range a {
					x := v.get(i)
					if x.null {
						continue
					}
					if best.null || compareValues(x, best, t)*dir > 0 {
						best = x
					}
				}
				out.set(i, best, n)
			}
			return out
		}, nil
	}
}

// compareValues orders two non-NULL values of type t.
func compareValues(x, y value, t Type) int {
	switch t {
	case String:
		switch {
		case x.s < y.s:
			return -1
		case x.s > y.s:
			return 1
		}
		return 0
	case Float64:
		return compareFloat(x.f, y.f)
	}
	return compareInt(x.i, y.i)
}

// bindRound is round (HALF_UP) or bround (HALF_EVEN) to a literal scale,
// keeping x's type. A DOUBLE is rounded as its shortest decimal text, as
// Spark rounds BigDecimal(x): round(2.675, 2) is 2.68, not 2.67.
func bindRound(even bool) func([]*bexpr) (Type, kernel, error) {
	return func(args []*bexpr) (Type, kernel, error) {
		if err := argNumber(args, 0); err != nil {
			return 0, nil, err
		}
		scale := int64(0)
		if len(args) > 1 {
			if err := argAs(args, 1, Int32); err != nil {
				return 0, nil, err
			}
			v, null, err := literal(args, 1, "scale")
			if err != nil {
				return 0, nil, err
			}
			if null {
				return args[0].typ, nullKernel(args[0].typ), nil
			}
			scale = v.i
		}
		t := args[0].typ
		return t, strict(t, func(out *vector, a []*vector, i int32) {
			switch t {
			case Int32:
				out.i32[i] = int32(roundInt(int64(a[0].i32[i]), scale, even))
			case Int64:
				out.i64[i] = roundInt(a[0].i64[i], scale, even)
			default:
				out.f64[i] = roundDouble(a[0].f64[i], scale, even)
			}
		}), nil
	}
}

// roundInt rounds x to a negative scale (tens, hundreds, ...).
func roundInt(x, scale int64, even bool) int64 {
	if scale >= 0 {
		return x
	}
	if scale < -18 {
		return 0
	}
	p := int64(1)
	for k := int64(0); k < -scale; k++ {
		p *= 10
	}
	q, r := x/p, x%p
	if r < 0 {
		r = -r
	}
	up := 2*r > p || 2*r == p && (!even || q%2 != 0)
	if up {
		if x < 0 {
			q--
		} else {
			q++
		}
	}
	return q * p
}

// roundDouble rounds the shortest decimal text of x to scale digits after
// the point, then parses the result.
func roundDouble(x float64, scale int64, even bool) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
		return x
	}
	// d.ddddde±XX: digits and the exponent of the first.
	s := strconv.FormatFloat(math.Abs(x), 'e', -1, 64)
	mant, exp := s, 0
	for j := 0; j < len(s); j++ {
		if s[j] == 'e' {
			mant = s[:j]
			exp, _ = strconv.Atoi(s[j+1:])
			break
		}
	}
	digits := make([]byte, 0, len(mant))
	for j := 0; j < len(mant); j++ {
		if mant[j] != '.' {
			digits = append(digits, mant[j])
		}
	}
	// Value = 0.digits * 10^(exp+1); keep = digits before the cut.
	keep := int64(exp) + 1 + scale
	if keep >= int64(len(digits)) {
		return x
	}
	var up bool
	var kept []byte
	if keep < 0 {
		up = false
	} else {
		kept = append([]byte(nil), digits[:keep]...)
		first := digits[keep]
		rest := false
		for _, c := range digits[keep+1:] {
			if c != '0' {
				rest = true
			}
		}
		switch {
		case first > '5', first == '5' && rest:
			up = true
		case first == '5':
			up = !even || keep > 0 && (kept[keep-1]-'0')%2 == 1
		}
	}
	// kept (plus one when rounding up) as an integer, times 10^-scale.
	if up {
		j := len(kept) - 1
		for ; j >= 0 && kept[j] == '9'; j-- {
			kept[j] = '0'
		}
		if j < 0 {
			kept = append([]byte{'1'}, kept...)
		} else {
			kept[j]++
		}
	}
	if len(kept) == 0 {
		return 0 // BigDecimal has no negative zero
	}
	r, _ := strconv.ParseFloat(string(kept)+"e"+strconv.FormatInt(-scale, 10), 64)
	if x < 0 {
		r = -r
	}
	return r
}

package dataframe

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Aggregates beyond count, sum, min, max and avg. Their partial states merge
// exactly (count_if, bool_and, bool_or) or with Chan et al.'s parallel
// update of the mean and the sum of squared deviations (variance family),
// which stays accurate where the textbook sum-of-squares formula cancels.

// aggNames maps the SQL name of every aggregate (and alias) to its function.
var aggNames = map[string]aggFunc{
	"count_if": aggCountIf, "bool_and": aggBoolAnd, "every": aggBoolAnd, "bool_or": aggBoolOr,
	"var_samp": aggVarSamp, "variance": aggVarSamp, "var_pop": aggVarPop,
	"stddev_samp": aggStddevSamp, "stddev": aggStddevSamp, "std": aggStddevSamp, "stddev_pop": aggStddevPop,
	"approx_count_distinct": aggApproxDistinct, "percentile_approx": aggPercentile, "approx_percentile": aggPercentile,
	"first": aggFirst, "first_value": aggFirst, "last": aggLast, "last_value": aggLast, "collect_set": aggCollectSet,
}

func init() {
	for name, f := range aggNames {
		if aggText[f] == name { // plan text uses the canonical names only
			planAggs[name] = f
		}
	}
}

// AggregateNames returns the names Aggregate accepts.
func AggregateNames() []string {
	out := make([]string, 0, len(aggNames))
	for n := range aggNames {
		out = append(out, n)
	}
	return out
}

// Aggregate is the aggregate called name (case-insensitive) over e, with
// constant parameters params: count_if(cond), bool_and/every(cond),
// bool_or(cond), var_samp/variance(x), var_pop(x),
// stddev_samp/stddev/std(x), stddev_pop(x), approx_count_distinct(x[,
// rsd]), percentile_approx/approx_percentile(x, p[, accuracy]),
// first/first_value(x[, ignoreNulls]), last/last_value(x[, ignoreNulls])
// and collect_set(x). Variances and standard deviations are DOUBLE, NULL
// without a value, and the sample ones NULL for a single value (as Spark).
// See funcs_approx.go and funcs_first.go for the others' guarantees.
func Aggregate(name string, e Expr, params ...Expr) Expr {
	f, ok := aggNames[strings.ToLower(name)]
	if !ok {
		return invalid(fmt.Errorf("%w: unknown aggregate %s", ErrPlan, name))
	}
	x := aggOf(f, e)
	for _, p := range params {
		x.n.args = append(x.n.args, p.node())
	}
	return x
}

// AggregateArgs returns how many arguments the aggregate called name
// takes (its argument and its constant parameters).
func AggregateArgs(name string) (lo, hi int) {
	lo, hi = aggNames[strings.ToLower(name)].paramCount()
	return lo + 1, hi + 1
}

func (f aggFunc) moments() bool { return f >= aggVarSamp && f <= aggStddevPop }

// bindAggExt types a call of one of the aggregates above.
func bindAggExt(call *aggCall, n *node) error {
	switch {
	case call.arg == nil:
		return fmt.Errorf("%w: %s(*) is not supported", ErrPlan, aggText[call.fn])
	case call.fn == aggCountIf, call.fn == aggBoolAnd, call.fn == aggBoolOr:
		a, err := expectBool(aggText[call.fn], call.arg)
		if err != nil {
			return err
		}
		call.arg = a
		call.typ = Bool
		if call.fn == aggCountIf {
			call.typ = Int64
		}
	case call.fn.moments():
		if !call.arg.typ.numeric() {
			return fmt.Errorf("%w: %s needs a number, got %s of type %v", ErrPlan, aggText[call.fn], n.args[0], call.arg.typ)
		}
		call.arg = castTo(call.arg, Float64)
		call.typ = Float64
	case call.fn == aggApproxDistinct:
		call.typ = Int64
	case call.fn == aggPercentile:
		if !call.arg.typ.numeric() && call.arg.typ != Timestamp && call.arg.typ != Date {
			return fmt.Errorf("%w: percentile_approx needs a number, a TIMESTAMP or a DATE, got %s of type %v", ErrPlan, n.args[0], call.arg.typ)
		}
		call.typ = call.arg.typ
	case call.fn == aggFirst, call.fn == aggLast:
		call.typ = call.arg.typ
	case call.fn == aggCollectSet:
		call.typ = String
	default:
		return fmt.Errorf("%w: unknown aggregate %s", ErrPlan, n)
	}
	return nil
}

func (a *acc) updateCountIf(gid []int32, sel []int32, v *vector) {
	for k, i := range sel {
		if !v.null(i) && v.b[i] {
			a.cnt[gid[k]]++
		}
	}
}

// updateMoments folds values in with Welford's update: cnt, mean (f64) and
// the sum of squared deviations from the mean (m2).
func (a *acc) updateMoments(gid []int32, sel []int32, v *vector) {
	for k, i := range sel {
		if v.null(i) {
			continue
		}
		g, x := gid[k], v.f64[i]
		a.cnt[g]++
		d := x - a.f64[g]
		a.f64[g] += d / float64(a.cnt[g])
		a.m2[g] += d * (x - a.f64[g])
	}
}

// mergeMoments is Chan et al.'s combination of two partial moments.
func (a *acc) mergeMoments(dg int32, src *acc, sg int32) {
	nb := src.cnt[sg]
	if nb == 0 {
		return
	}
	na := a.cnt[dg]
	if na == 0 {
		a.cnt[dg], a.f64[dg], a.m2[dg] = nb, src.f64[sg], src.m2[sg]
		return
	}
	n := na + nb
	d := src.f64[sg] - a.f64[dg]
	a.f64[dg] += d * float64(nb) / float64(n)
	a.m2[dg] += src.m2[sg] + d*d*float64(na)*float64(nb)/float64(n)
	a.cnt[dg] = n
}

func (a *acc) finalMoments(g int32) value {
	n := a.cnt[g]
	samp := a.fn == aggVarSamp || a.fn == aggStddevSamp
	if n == 0 || samp && n == 1 {
		return value{null: true}
	}
	div := float64(n)
	if samp {
		div--
	}
	v := a.m2[g] / div
	if a.fn == aggStddevSamp || a.fn == aggStddevPop {
		v = math.Sqrt(v)
	}
	return value{f: v}
}

func (a *acc) appendMoments(buf []byte, id int32) []byte {
	buf = binary.AppendUvarint(buf, uint64(a.cnt[id]))
	buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(a.f64[id]))
	return binary.LittleEndian.AppendUint64(buf, math.Float64bits(a.m2[id]))
}

func (a *acc) decodeMoments(r *valueReader, id int32) {
	a.cnt[id] = int64(r.uvarint("variance count"))
	a.f64[id] = r.float("variance mean")
	a.m2[id] = r.float("variance sum of squares")
}

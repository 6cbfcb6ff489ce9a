package dataframe

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Spark's precision for an rsd: ceil(2 log2(1.106/rsd)).
func TestHLLPrecision(t *testing.T) {
	for rsd, want := range map[float64]int{0.05: 9, 0.01: 14, 0.1: 7, 0.39: 4, 0.02: 12} {
		if got := hllPrecision(rsd); got != want {
			t.Errorf("rsd %g: precision %d, want %d", rsd, got, want)
		}
	}
}

// hllCount sketches n distinct BIGINTs from base at precision p, through
// the hash approx_count_distinct uses.
func hllCount(p uint8, base, n int64) float64 {
	regs := make([]byte, 1<<p)
	v := &vector{typ: Int64, i64: make([]int64, 1)}
	var buf []byte
	var h uint64
	for x := base; x < base+n; x++ {
		v.i64[0] = x
		buf, h = hllHash(buf, v, 0)
		hllAdd(regs, p, h)
	}
	return hllEstimate(regs, p)
}

// On 1M distinct values each precision's estimate is within three times
// its standard error 1.04/sqrt(2^p); small cardinalities (where HLL++
// switches to linear counting) are near exact.
func TestApproxCountDistinctMillion(t *testing.T) {
	for _, rsd := range []float64{0.05, 0.02, 0.01} {
		p := uint8(hllPrecision(rsd))
		got := hllCount(p, 0, 1_000_000)
		if e := math.Abs(got-1e6) / 1e6; e > 3*rsd {
			t.Errorf("rsd %g: estimate %.0f of 1M, error %.4f", rsd, got, e)
		}
	}
	for _, n := range []int64{0, 1, 2, 10, 100, 1000} {
		got := math.Round(hllCount(9, 5000, n))
		if math.Abs(got-float64(n)) > 0.05*float64(n)+0.5 {
			t.Errorf("%d distinct values estimated as %.0f", n, got)
		}
	}
	// The standard error over 30 disjoint sets of 100k values.
	var sq float64
	for i := range int64(30) {
		e := (hllCount(9, i*1e7, 100_000) - 1e5) / 1e5
		sq += e * e
	}
	if rms := math.Sqrt(sq / 30); rms > 0.05 {
		t.Errorf("rms relative error %.4f over 30 runs, want <= 0.05", rms)
	}
}

// approx_count_distinct and percentile_approx through a query: seven
// tasks merged give the same state bytes as one task, results within their
// stated error, and a restored state gives identical rows.
func TestApproxAggregates(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "g STRING, u BIGINT, x DOUBLE")
	r := rand.New(rand.NewPCG(3, 9))
	distinct := map[string]map[int64]bool{}
	xs := map[string][]float64{}
	var vals []string
	for i := 0; i < 60000; i++ {
		g := fmt.Sprintf("g%d", i%3)
		u := r.Int64N(30000)
		x := r.NormFloat64() * 100
		if distinct[g] == nil {
			distinct[g] = map[int64]bool{}
		}
		distinct[g][u] = true
		xs[g] = append(xs[g], x)
		vals = append(vals, fmt.Sprintf(`{"g":%q,"u":%d,"x":%v}`, g, u, x))
	}
	vals = append(vals, `{"g":"g0","u":null,"x":null}`)
	df := Source("t", s).GroupBy(Col("g")).Agg(
		Aggregate("approx_count_distinct", Col("u")), Aggregate("approx_count_distinct", Col("u"), Lit(0.01)),
		Aggregate("percentile_approx", Col("x"), Lit(0.5)), Aggregate("approx_percentile", Col("x"), Lit(0.99), Lit(100)))
	p, err := Compile(df, Complete)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p.Aggregates()); got != "[approx_count_distinct(u BIGINT, precision 9) approx_count_distinct(u BIGINT, precision 14) percentile_approx(x DOUBLE, 0.5, k 2048) percentile_approx(x DOUBLE, 0.99, k 269)]" {
		t.Errorf("Aggregates %s", got)
	}
	if back, err := ParsePlan(df.String()); err != nil || back.String() != df.String() {
		t.Fatalf("plan text round trip of %s: %v", df, err)
	}
	states := func(st *State) map[string][]byte {
		out := map[string][]byte{}
		if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	one := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, vals, 1, 100000, one))
	many := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, vals, 7, 997, many))
	got := result(t, many, false)
	for _, row := range got {
		g := row[0].(string)
		n := float64(len(distinct[g]))
		for i, rsd := range []float64{0.05, 0.01} {
			if e := math.Abs(float64(row[1+i].(int64))-n) / n; e > 3*rsd {
				t.Errorf("%s: approx_count_distinct(rsd %g) = %d, exact %.0f", g, rsd, row[1+i], n)
			}
		}
		sorted := slices.Sorted(slices.Values(xs[g]))
		for i, pc := range []struct {
			p float64
			k int
		}{{0.5, 2048}, {0.99, 269}} {
			checkRank(t, sorted, pc.p, row[3+i].(float64), kllRankError(pc.k))
		}
	}
	for k, v := range states(one) {
		w := states(many)[k]
		for i := range 1 + 1 + 2 + 512 {
			if v[i] != w[i] {
				t.Errorf("group %q: state of %d bytes; seven tasks' HyperLogLog differs from one task's at byte %d: %d, %d", k, len(v), i, v[i], w[i])
				break
			}
		}
	}

	restored := p.NewState(mem)
	for k, v := range states(many) {
		if err := restored.Restore([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	equalRows(t, result(t, restored, false), got)
	// The next batch over the restored state and over the running one.
	many.ResetChanged()
	release(runTasks(t, mem, p, s, FormatJSON, vals[:20000], 3, 997, many))
	release(runTasks(t, mem, p, s, FormatJSON, vals[:20000], 3, 997, restored))
	equalRows(t, result(t, restored, false), result(t, many, false))
	want := states(many)
	for k, v := range states(restored) {
		if !bytes.Equal(v, want[k]) {
			t.Errorf("group %q: the restored state encodes differently after a batch", k)
		}
	}
}

// checkRank fails unless v's rank among sorted is within eps*n of Spark's
// target rank ceil(p*n).
func checkRank(t *testing.T, sorted []float64, p, v, eps float64) {
	t.Helper()
	n := float64(len(sorted))
	target := math.Max(1, math.Ceil(p*n))
	lo, _ := slices.BinarySearch(sorted, v) // values < v
	hi := lo
	for hi < len(sorted) && sorted[hi] == v {
		hi++
	}
	if target < float64(lo)+1-eps*n || target > float64(hi)+eps*n {
		t.Errorf("percentile %g = %v: rank %d..%d of %.0f, target %.0f, allowed error %.0f", p, v, lo+1, hi, n, target, eps*n)
	}
}

// The KLL sketch alone: random, sorted and reversed inputs of 1M values,
// split into merged parts, are within the documented rank error at every
// decile; below k values it is exact.
func TestKLLRankError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, order := range []string{"random", "sorted", "reversed"} {
		xs := make([]float64, 1_000_000)
		for i := range xs {
			xs[i] = r.ExpFloat64()
		}
		switch order {
		case "sorted":
			slices.Sort(xs)
		case "reversed":
			slices.Sort(xs)
			slices.Reverse(xs)
		}
		for _, k := range []int{kllK(100), kllK(defaultAccuracy)} {
			var whole kllSketch
			parts := make([]kllSketch, 5)
			for i, x := range xs {
				whole.add(x, k)
				parts[i%5].add(x, k)
			}
			merged := &parts[0]
			for i := 1; i < 5; i++ {
				merged.merge(&parts[i], k)
			}
			sorted := slices.Sorted(slices.Values(xs))
			for d := 0; d <= 10; d++ {
				p := float64(d) / 10
				checkRank(t, sorted, p, whole.quantile(p), kllRankError(k))
				checkRank(t, sorted, p, merged.quantile(p), kllRankError(k))
			}
			if whole.size > 3*k+64 {
				t.Errorf("k %d: %d items kept", k, whole.size)
			}
		}
	}
	var small kllSketch
	for _, x := range []float64{5, 1, 4, 2, 3} {
		small.add(x, 200)
	}
	for p, want := range map[float64]float64{0: 1, 0.2: 1, 0.5: 3, 0.6: 3, 0.61: 4, 1: 5} {
		if got := small.quantile(p); got != want {
			t.Errorf("quantile %g of 1..5 = %v, want %v", p, got, want)
		}
	}
}

func TestApproxAggregateErrors(t *testing.T) {
	s := mustSchema(t, "g STRING, x DOUBLE")
	for _, c := range []struct {
		agg  Expr
		want string
	}{
		{Aggregate("approx_count_distinct", Col("x"), Lit(0.5)), "at most 0.39"},
		{Aggregate("approx_count_distinct", Col("x"), Lit(0.001)), "at least 0.0044"},
		{Aggregate("approx_count_distinct", Col("x"), Col("x")), "must be a constant number"},
		{Aggregate("percentile_approx", Col("x")), "takes 2 to 3 arguments, got 1"},
		{Aggregate("percentile_approx", Col("x"), Lit(1.5)), "between 0.0 and 1.0"},
		{Aggregate("percentile_approx", Col("x"), Lit(0.5), Lit(0)), "positive integer"},
		{Aggregate("percentile_approx", Col("g"), Lit(0.5)), "needs a number, a TIMESTAMP or a DATE"},
		{Aggregate("percentile_approx", Col("x"), Call("array", Lit(0.5), Lit(0.9))), "there is no ARRAY type"},
		{Aggregate("first", Col("x"), Lit(1)), "ignoreNulls must be TRUE or FALSE"},
		{Aggregate("collect_set", Col("x"), Lit(1)), "collect_set takes one argument, got 2"},
	} {
		_, err := Compile(Source("t", s).GroupBy(Col("g")).Agg(c.agg), Complete)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("%s: error %v, want %q", c.agg, err, c.want)
		}
	}
}

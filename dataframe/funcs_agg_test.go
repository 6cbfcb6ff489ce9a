package dataframe

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The variance family, count_if, bool_and and bool_or: one task against
// many merged ones, and both against a two-pass reference computed here;
// then the state persisted and restored gives the same rows.
func TestExtraAggregates(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "g STRING, x DOUBLE, ok BOOLEAN")
	r := rand.New(rand.NewPCG(7, 7))
	type ref struct {
		xs       []float64
		cnt      int64
		and, or  bool
		nonNullB int
	}
	refs := map[string]*ref{}
	var vals []string
	for i := 0; i < 4000; i++ {
		g := fmt.Sprintf("g%d", r.IntN(5))
		if g == "g4" && i%2 == 0 {
			continue // g4 keeps few rows
		}
		rf := refs[g]
		if rf == nil {
			rf = &ref{and: true}
			refs[g] = rf
		}
		x := "null"
		if r.IntN(10) > 0 {
			v := 1e9 + r.NormFloat64()*3 // a large mean: the naive formula cancels
			rf.xs = append(rf.xs, v)
			x = fmt.Sprint(v)
		}
		b := "null"
		if r.IntN(5) > 0 {
			bv := r.IntN(7) > 0
			b = fmt.Sprint(bv)
			rf.nonNullB++
			rf.and, rf.or = rf.and && bv, rf.or || bv
			if bv {
				rf.cnt++
			}
		}
		vals = append(vals, fmt.Sprintf(`{"g":%q,"x":%s,"ok":%s}`, g, x, b))
	}
	df := Source("t", s).GroupBy(Col("g")).Agg(
		Aggregate("var_samp", Col("x")), Aggregate("var_pop", Col("x")),
		Aggregate("stddev", Col("x")), Aggregate("stddev_pop", Col("x")),
		Aggregate("count_if", Col("ok")), Aggregate("bool_and", Col("ok")), Aggregate("bool_or", Col("ok")))
	p, err := Compile(df, Complete)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p.Aggregates()); got != "[var_samp(x DOUBLE) var_pop(x DOUBLE) stddev_samp(x DOUBLE) stddev_pop(x DOUBLE) count_if(ok BOOLEAN) bool_and(ok BOOLEAN) bool_or(ok BOOLEAN)]" {
		t.Errorf("Aggregates %s", got)
	}
	if back, err := ParsePlan(df.String()); err != nil || back.String() != df.String() {
		t.Fatalf("plan text round trip: %v", err)
	}
	check := func(name string, rows [][]any) {
		t.Helper()
		if len(rows) != len(refs) {
			t.Fatalf("%s: %d groups, want %d", name, len(rows), len(refs))
		}
		for _, row := range rows {
			rf := refs[row[0].(string)]
			n := float64(len(rf.xs))
			var mean, m2 float64
			for _, x := range rf.xs {
				mean += x / n
			}
			for _, x := range rf.xs {
				m2 += (x - mean) * (x - mean)
			}
			want := []any{m2 / (n - 1), m2 / n, math.Sqrt(m2 / (n - 1)), math.Sqrt(m2 / n)}
			for i, w := range want {
				g, ok := row[1+i].(float64)
				if !ok || math.Abs(g-w.(float64)) > 1e-6*w.(float64) {
					t.Errorf("%s: %s column %d = %v, want %v", name, row[0], 1+i, row[1+i], w)
				}
			}
			if row[5] != rf.cnt {
				t.Errorf("%s: %s count_if = %v, want %d", name, row[0], row[5], rf.cnt)
			}
			if rf.nonNullB > 0 && (row[6] != rf.and || row[7] != rf.or) {
				t.Errorf("%s: %s bool_and, bool_or = %v, %v, want %v, %v", name, row[0], row[6], row[7], rf.and, rf.or)
			}
		}
	}
	one := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, vals, 1, 5000, one))
	check("one task", result(t, one, false))
	many := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, vals, 7, 97, many))
	check("seven tasks", result(t, many, false))

	restored := p.NewState(mem)
	if err := many.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
		return restored.Restore(bytes.Clone(k), bytes.Clone(v))
	}); err != nil {
		t.Fatal(err)
	}
	equalRows(t, result(t, restored, false), result(t, many, false))
}

// Spark's documented values: var_samp(1, 2, 3) = 1.0, var_pop = 0.666...,
// stddev_samp of one value and every variance of none are NULL.
func TestVarianceEdgeCases(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "g STRING, x INT")
	df := Source("t", s).GroupBy(Col("g")).Agg(Aggregate("variance", Col("x")), Aggregate("var_pop", Col("x")), Aggregate("stddev_samp", Col("x")))
	p, err := Compile(df, Complete)
	if err != nil {
		t.Fatal(err)
	}
	st := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, []string{
		`{"g":"a","x":1}`, `{"g":"a","x":2}`, `{"g":"a","x":3}`, `{"g":"b","x":5}`, `{"g":"c","x":null}`,
	}, 2, 10, st))
	equalRows(t, result(t, st, false), [][]any{
		{"a", 1.0, 2.0 / 3, 1.0},
		{"b", nil, 0.0, nil},
		{"c", nil, nil, nil},
	})
	if _, err := Compile(Source("t", s).GroupBy().Agg(Aggregate("stddev", Col("g"))), Complete); err == nil {
		t.Error("stddev of a STRING compiled")
	}
	if _, err := Compile(Source("t", s).GroupBy().Agg(Aggregate("count_if", Col("x"))), Complete); err == nil {
		t.Error("count_if of an INT compiled")
	}
}

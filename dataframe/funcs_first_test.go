package dataframe

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// first and last follow the order rows reach the state (task by task,
// row by row); NULL is a value unless ignoreNulls; collect_set is sorted,
// distinct and capped at its smallest collectSetLimit values. The same
// rows split into one task or into many (merged in order) agree, and a
// restored state gives the same rows.
func TestFirstLastCollectSet(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "g STRING, x BIGINT, s STRING")
	vals := []string{
		`{"g":"a","x":null,"s":"b"}`, `{"g":"a","x":3,"s":"a"}`, `{"g":"a","x":1,"s":"b"}`,
		`{"g":"b","x":7,"s":"q\"uote"}`, `{"g":"a","x":2,"s":null}`, `{"g":"b","x":null,"s":null}`,
	}
	df := Source("t", s).GroupBy(Col("g")).Agg(
		Aggregate("first", Col("x")), Aggregate("first", Col("x"), Lit(true)),
		Aggregate("last", Col("x")), Aggregate("last_value", Col("x"), Lit(true)),
		Aggregate("collect_set", Col("s")), Aggregate("collect_set", Col("x")))
	p, err := Compile(df, Complete)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p.Aggregates()); got != "[first(x BIGINT) first(x BIGINT, ignoreNulls) last(x BIGINT) last(x BIGINT, ignoreNulls) collect_set(s STRING) collect_set(x BIGINT)]" {
		t.Errorf("Aggregates %s", got)
	}
	if back, err := ParsePlan(df.String()); err != nil || back.String() != df.String() {
		t.Fatalf("plan text round trip of %s: %v", df, err)
	}
	want := [][]any{
		{"a", nil, int64(3), int64(2), int64(2), `["a","b"]`, "[1,2,3]"},
		{"b", int64(7), int64(7), nil, int64(7), `["q\"uote"]`, "[7]"},
	}
	for _, tasks := range []int{1, 2, 6} {
		st := p.NewState(mem)
		release(runTasks(t, mem, p, s, FormatJSON, vals, tasks, 1, st))
		equalRows(t, result(t, st, false), want)
		restored := p.NewState(mem)
		if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
			return restored.Restore(bytes.Clone(k), bytes.Clone(v))
		}); err != nil {
			t.Fatal(err)
		}
		equalRows(t, result(t, restored, false), want)
	}

	// The cap: 1,500 distinct values keep the 1,000 smallest, whatever
	// their order and split.
	var many []string
	for i := 1499; i >= 0; i-- {
		many = append(many, fmt.Sprintf(`{"g":"a","x":%d}`, i*7%1500))
	}
	var sb strings.Builder
	for i := range collectSetLimit {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprint(&sb, i)
	}
	capped := "[" + sb.String() + "]"
	for _, tasks := range []int{1, 4} {
		st := p.NewState(mem)
		release(runTasks(t, mem, p, s, FormatJSON, many, tasks, 100, st))
		if got := result(t, st, false)[0][6]; got != capped {
			t.Errorf("%d tasks: collect_set of 1500 values: %.60v...", tasks, got)
		}
	}
}

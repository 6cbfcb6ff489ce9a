package dataframe

import (
	"strings"
	"testing"
	"time"
)

// current_timestamp() is the time SetProcessingTime gave the Task, for
// every row, before and inside an aggregation; after one it is refused.
func TestCurrentTimestamp(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "g STRING")
	at := time.Date(2024, 3, 1, 12, 30, 15, 123456000, time.UTC)
	run := func(df *DataFrame, mode OutputMode) [][]any {
		t.Helper()
		p, err := Compile(df, mode)
		if err != nil {
			t.Fatal(err)
		}
		task := p.NewTask(mem)
		defer task.Release()
		task.SetProcessingTime(at)
		d, err := NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Columns: p.InputColumns()})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Release()
		for _, v := range []string{`{"g":"a"}`, `{"g":"b"}`} {
			if err := d.Append(&RecordMeta{}, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		rec := d.Flush()
		defer rec.Release()
		if err := task.Consume(rec); err != nil {
			t.Fatal(err)
		}
		if mode == Append {
			out := task.Output()
			defer func() {
				for _, r := range out {
					r.Release()
				}
			}()
			return rows(t, out[0])
		}
		st := p.NewState(mem)
		if err := st.Merge(task); err != nil {
			t.Fatal(err)
		}
		return result(t, st, false)
	}
	src := Source("t", s)
	equalRows(t, run(src.Select(Col("g"), Call("now").As("t")).Filter(Call("current_timestamp").Ge(Lit(at))), Append),
		[][]any{{"a", at}, {"b", at}})
	equalRows(t, run(src.GroupBy(Col("g")).Agg(Max(Call("current_timestamp"))), Complete),
		[][]any{{"a", at}, {"b", at}})
	// unix_timestamp() is the processing time's seconds, as Spark's
	equalRows(t, run(src.Select(Col("g"), Call("unix_timestamp").As("u")), Append),
		[][]any{{"a", at.Unix()}, {"b", at.Unix()}})
	_, err := Compile(src.GroupBy(Col("g")).Agg(Count()).Select(Col("g"), Call("current_timestamp")), Complete)
	if err == nil || !strings.Contains(err.Error(), "current_timestamp() is evaluated row by row before an aggregation") {
		t.Errorf("current_timestamp() after an aggregation: %v", err)
	}
}

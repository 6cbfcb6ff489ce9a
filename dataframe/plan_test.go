package dataframe

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func clickSource(t *testing.T) *DataFrame {
	return Source("clicks", mustSchema(t, clickDDL))
}

func TestPlanStringAndColumns(t *testing.T) {
	df := clickSource(t).
		Filter(Col("action").Eq(Lit("view")).And(Col("timestamp").Gt(Lit(time.Date(2024, 1, 1, 0, 0, 0, 5000, time.UTC))))).
		Select(Col("page"), Col("userid").As("user"), Lit(int64(2)).Mul(Lit(1.5)).As("k")).
		GroupBy(Col("page")).
		Agg(Count().As("n"), CountDistinct(Col("user")), Sum(Col("k")).Div(Count()).As("mean")).
		Filter(Col("n").Ge(Lit(2)).Or(Col("page").Like("/p_%")).And(Not(Col("page").In(Lit("a"), Lit(nil))))).
		OrderBy(Col("n").Desc(), Col("page").Asc()).
		Limit(10)
	if err := df.Err(); err != nil {
		t.Fatal(err)
	}
	const want = "Source clicks [timestamp TIMESTAMP, userid STRING, page STRING, action STRING]\n" +
		"Filter ((action = 'view') AND (timestamp > TIMESTAMP '2024-01-01T00:00:00.000005Z'))\n" +
		"Select page, userid AS user, (2L * 1.5D) AS k\n" +
		"Aggregate [page] [count(*) AS n, count(DISTINCT user), (sum(k) / count(*)) AS mean]\n" +
		"Filter (((n >= 2) OR (page LIKE '/p_%')) AND (NOT (page IN ('a', NULL))))\n" +
		"OrderBy n DESC NULLS LAST, page ASC NULLS FIRST\n" +
		"Limit 10"
	if df.String() != want {
		t.Errorf("String() =\n%s\nwant\n%s", df.String(), want)
	}
	if got := df.Columns(); !slices.Equal(got, []string{"page", "n", "count(DISTINCT user)", "mean"}) {
		t.Errorf("Columns = %q", got)
	}
	sch, err := df.Schema()
	if err != nil || sch.String() != "schema:\n  fields: 4\n    - page: type=utf8, nullable\n    - n: type=int64, nullable\n    - count(DISTINCT user): type=int64, nullable\n    - mean: type=float64, nullable" {
		t.Errorf("Schema = %v, %v", sch, err)
	}
	// Each method returns a new DataFrame: the original is unchanged.
	base := clickSource(t)
	_ = base.Filter(Col("page").IsNull())
	if base.String() != "Source clicks [timestamp TIMESTAMP, userid STRING, page STRING, action STRING]" {
		t.Error(base.String())
	}
	if got := base.Columns(); !slices.Equal(got, []string{"timestamp", "userid", "page", "action", "_topic", "_partition", "_offset", "_timestamp", "_key", "_corrupt_record"}) {
		t.Error(got)
	}
	// Literal types are part of the text.
	if a, b := base.Filter(Col("page").Eq(Lit(1))), base.Filter(Col("page").Eq(Lit(int64(1)))); a.String() == b.String() {
		t.Error("INT and BIGINT literals render alike")
	}
}

func TestPlanErrors(t *testing.T) {
	src := clickSource(t)
	grouped := src.GroupBy(Col("page")).Agg(Count().As("n"))
	for _, c := range []struct {
		df  *DataFrame
		err string
	}{
		{src.Filter(Col("nope").Eq(Lit(1))), "Filter: dataframe: unknown column nope (columns: timestamp, userid, page, action, _topic, _partition, _offset, _timestamp, _key, _corrupt_record)"},
		{src.Filter(Col("page")), "Filter: dataframe: invalid plan: Filter needs BOOLEAN operands, got page of type STRING"},
		{src.Filter(Col("page").Eq(Lit(1))), "Filter: dataframe: invalid plan: cannot compare page (STRING) with 1 (INT)"},
		{src.Filter(Col("timestamp").Gt(Lit("yesterday"))), "Filter: dataframe: invalid plan: 'yesterday' is not a timestamp (want RFC 3339, 2006-01-02 15:04:05 [UTC] or 2006-01-02)"},
		{src.Select(Col("page").Add(Lit(1))), "Select: dataframe: invalid plan: operator + needs numbers, got page (STRING) and 1 (INT)"},
		{src.Select(Col("page").Neg()), "Select: dataframe: invalid plan: cannot negate page of type STRING"},
		{src.Select(Col("_offset").Like("1%")), "Select: dataframe: invalid plan: LIKE needs a STRING, got _offset of type BIGINT"},
		{src.Select(Col("page").Like(`a\`)), `Select: dataframe: invalid plan: LIKE pattern "a\\" ends with an escape`},
		{src.Select(Lit(struct{}{})), "Select: dataframe: invalid plan: Lit(struct {}): unsupported literal type (want string, int, int32, int64, float64, bool, time.Time or nil)"},
		{src.Select(Col("")), `Select: dataframe: invalid plan: Col(""): empty column name`},
		{src.Select(Expr{}), "Select: dataframe: invalid plan: zero Expr"},
		{src.Select(Col("page").As("")), `Select: dataframe: invalid plan: As(""): empty alias`},
		{src.Select(Col("page").In()), "Select: dataframe: invalid plan: IN needs at least one value"},
		{src.Select(Col("timestamp").Cast(Bool)), "Select: dataframe: invalid plan: cannot cast timestamp from TIMESTAMP to BOOLEAN"},
		{src.Select(When(Col("page").IsNull(), Lit(1)).Otherwise(Lit("x"))), "Select: dataframe: invalid plan: CASE branches mix types: 'x' is STRING"},
		{src.Select(), "Select: dataframe: invalid plan: no columns"},
		{src.Filter(Count().Gt(Lit(1))), "Filter: dataframe: invalid plan: aggregate in a filter before GroupBy(...).Agg"},
		{src.GroupBy(Count()).Agg(), "GroupBy: dataframe: invalid plan: aggregate count(*) in GroupBy"},
		{src.GroupBy(Col("page")).Agg(Col("userid")), "Agg: dataframe: invalid plan: column userid is neither grouped nor aggregated (group by: page)"},
		{src.GroupBy(Col("page")).Agg(Sum(Col("page"))), "Agg: dataframe: invalid plan: sum needs a number, got page of type STRING"},
		{src.GroupBy(Col("page")).Agg(Avg(Col("action"))), "Agg: dataframe: invalid plan: avg needs a number, got action of type STRING"},
		{src.GroupBy(Col("page")).Agg(Sum(Count())), "Agg: dataframe: invalid plan: aggregate sum(count(*)) contains an aggregate"},
		{grouped.GroupBy(Col("page")).Agg(Count()), "Agg: dataframe: unsupported streaming query: more than one aggregation"},
		{grouped.Filter(Col("userid").IsNull()), "Filter: dataframe: unknown column userid (columns: page, n)"},
		{src.Limit(-1), "Limit: dataframe: invalid plan: negative limit -1"},
		{src.Limit(5).Filter(Col("page").IsNull()), "Filter: dataframe: invalid plan: Filter after Limit"},
		{src.Limit(5).OrderBy(Col("page").Asc()), "OrderBy: dataframe: invalid plan: OrderBy after Limit"},
		{src.Limit(5).GroupBy().Agg(Count()), "Agg: dataframe: unsupported streaming query: aggregation after Limit"},
		{src.OrderBy(), "OrderBy: dataframe: invalid plan: no sort keys"},
		{src.Select(Col("page"), Col("page")).Select(Col("page")), "Select: dataframe: invalid plan: column reference page is ambiguous (columns: page, page)"},
		{Source("", mustSchema(t, "a INT")), "dataframe: invalid plan: Source: empty table name"},
		{Source("x", nil), "dataframe: invalid plan: Source: empty schema"},
		{Source("x", &Schema{Fields: []Field{{"_key", String}}}), `dataframe: invalid schema: field 1: name "_key" is reserved for Kafka metadata`},
	} {
		err := c.df.Err()
		if err == nil || err.Error() != c.err {
			t.Errorf("got  %v\nwant %s", err, c.err)
		}
		if _, serr := c.df.Schema(); serr == nil || c.df.Columns() != nil {
			t.Errorf("%s: Schema/Columns after an error", c.err)
		}
		if _, cerr := Compile(c.df, Complete); cerr != err {
			t.Errorf("Compile error %v", cerr)
		}
	}
	// The first error sticks.
	df := src.Filter(Col("x")).Select(Col("y"))
	if err := df.Err(); err == nil || !errors.Is(err, ErrUnknownColumn) || err.Error() != "Filter: dataframe: unknown column x (columns: timestamp, userid, page, action, _topic, _partition, _offset, _timestamp, _key, _corrupt_record)" {
		t.Error(err)
	}
	var nilDF *DataFrame
	if nilDF.Err() == nil || nilDF.Filter(Col("a")).Err() == nil {
		t.Error("nil DataFrame")
	}
}

func TestCompileValidation(t *testing.T) {
	src := clickSource(t)
	agg := src.GroupBy(Col("page")).Agg(Count().As("n"))
	for _, c := range []struct {
		df   *DataFrame
		mode OutputMode
		err  string
	}{
		{agg, Append, "dataframe: unsupported streaming query: append output mode is not supported with an aggregation without a watermark: group by a window of the event time and set a watermark (the job file's watermark section, DataFrame.WithWatermark in Go), or use complete or update"},
		{src.Select(Col("page")), Complete, "dataframe: unsupported streaming query: complete output mode needs an aggregation"},
		{src.OrderBy(Col("page").Asc()), Append, "dataframe: unsupported streaming query: OrderBy is only supported after an aggregation in complete output mode"},
		{src.OrderBy(Col("page").Asc()).GroupBy(Col("page")).Agg(Count()), Complete, "dataframe: unsupported streaming query: OrderBy is only supported after an aggregation in complete output mode"},
		{agg.OrderBy(Col("n").Desc()), Update, "dataframe: unsupported streaming query: OrderBy is only supported after an aggregation in complete output mode"},
		{agg.Limit(3), Update, "dataframe: unsupported streaming query: Limit is not supported in update output mode"},
		{src.Limit(3), Update, "dataframe: unsupported streaming query: Limit is not supported in update output mode"},
		{agg, 0, "dataframe: invalid option: invalid output mode OutputMode(0)"},
	} {
		p, err := Compile(c.df, c.mode)
		if p != nil || err == nil || err.Error() != c.err {
			t.Errorf("Compile(%s, %v) = %v\nwant %s", c.df, c.mode, err, c.err)
		}
	}
	for _, c := range []struct {
		df   *DataFrame
		mode OutputMode
	}{
		{agg, Complete}, {agg, Update}, {agg.OrderBy(Col("n").Desc()).Limit(3), Complete},
		{src.Select(Col("page")), Append}, {src.Select(Col("page")), Update}, {src.Limit(3), Append},
	} {
		if _, err := Compile(c.df, c.mode); err != nil {
			t.Errorf("Compile(%s, %v): %v", c.df, c.mode, err)
		}
	}
}

func TestHavingWithNewAggregates(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "g STRING, v BIGINT")
	// HAVING and the projection may use aggregates the Agg did not list,
	// and grouping expressions may be computed.
	df := Source("x", s).
		GroupBy(Col("g"), Col("v").Mod(Lit(2)).As("odd")).
		Agg(Count().As("n")).
		Filter(Sum(Col("v")).Gt(Lit(3))).
		Select(Col("g"), Col("odd"), Col("n"), Max(Col("v")).As("top"))
	p, err := Compile(df, Complete)
	if err != nil {
		t.Fatal(err)
	}
	// Adding aggregates after Agg does not change the earlier DataFrame.
	if p.OutputSchema().NumFields() != 4 {
		t.Error(p.OutputSchema())
	}
	st := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, []string{`{"g":"a","v":1}`, `{"g":"a","v":3}`, `{"g":"a","v":2}`, `{"g":"b","v":4}`, `{"g":"b","v":5}`}, 2, 10, st))
	equalRows(t, result(t, st, false), [][]any{{"a", int64(1), int64(2), int64(3)}, {"b", int64(0), int64(1), int64(4)}, {"b", int64(1), int64(1), int64(5)}})
}

func TestMisuseDoesNotPanic(t *testing.T) {
	mem := newMem(t)
	var c *CaseExpr
	if err := clickSource(t).Select(c.End()).Err(); err == nil || err.Error() != "Select: dataframe: invalid plan: CASE without WHEN" {
		t.Error(err)
	}
	if err := clickSource(t).Select(c.When(Lit(true), Lit(1)).End()).Err(); err != nil {
		t.Error(err)
	}
	if _, err := Compile(nil, Append); err == nil {
		t.Error("Compile(nil)")
	}
	if err := (*GroupedData)(nil).Agg(Count()).Err(); err == nil {
		t.Error("nil GroupedData")
	}
	if err := clickSource(t).OrderBy(SortOrder{}).Err(); err == nil {
		t.Error("zero SortOrder")
	}
	p := must(Compile(clickSource(t).Select(Col("page")), Append))
	st := p.NewState(mem)
	if _, err := st.Result(false); err == nil || err.Error() != "dataframe: invalid state: the program is stateless (no aggregation)" {
		t.Error(err)
	}
	if err := st.Restore([]byte{}, []byte{1}); err == nil {
		t.Error("Restore on stateless")
	}
	if err := st.Merge(p.NewTask(mem)); err == nil {
		t.Error("Merge on stateless")
	}
	task := p.NewTask(mem)
	task.Release()
	if err := task.Consume(nil); err == nil {
		t.Error("Consume after Release")
	}
}

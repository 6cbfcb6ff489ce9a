package dataframe

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePlanRoundTrip(t *testing.T) {
	src := Source("clicks", mustSchema(t, "timestamp TIMESTAMP, userid STRING, page STRING, action STRING, `odd name` BIGINT, price DOUBLE"))
	plans := []*DataFrame{
		src,
		src.Filter(Col("action").Eq(Lit("it's\nview")).And(Col("timestamp").Gt(Lit(time.Date(2024, 1, 1, 0, 0, 0, 5000, time.UTC))))).
			Select(Col("page"), Col("userid").As("user"), Lit(int64(2)).Mul(Lit(1.5)).As("k")).
			GroupBy(Col("page")).
			Agg(Count().As("n"), CountDistinct(Col("user")), Sum(Col("k")).Div(Count()).As("mean")).
			Filter(Col("n").Ge(Lit(2)).Or(Col("page").Like("/p_%")).And(Not(Col("page").In(Lit("a"), Lit(nil))))).
			OrderBy(Col("n").Desc(), Col("page").Asc()).
			Limit(10),
		src.Select(Col("odd name").Neg().As("a b"), Lit(-5), Lit(math.Inf(-1)), Lit(math.NaN()), Lit(1e300), Lit(false).IsNotNull(),
			When(Col("price").Gt(Lit(0.5)), Lit("hi")).When(Col("page").IsNull(), Lit(nil)).Otherwise(Col("page")).As("c"),
			When(Lit(true), Col("price").Cast(String)).End(), Col("_topic")),
		src.Select(Sum(Col("price")), Max(Col("page")), Min(Col("odd name")), Avg(Col("odd name").Mod(Lit(3)))),
		src.GroupBy(Col("page"), Col("odd name").Add(Lit(int64(1)))).Agg(CountOf(Col("price"))).Select(Col("page").As("p")),
	}
	for i, df := range plans {
		if err := df.Err(); err != nil {
			t.Fatalf("plan %d: %v", i, err)
		}
		got, err := ParsePlan(df.String())
		if err != nil {
			t.Fatalf("plan %d: ParsePlan(%q): %v", i, df, err)
		}
		if got.String() != df.String() {
			t.Errorf("plan %d: ParsePlan(String()).String() =\n%s\nwant\n%s", i, got, df)
		}
	}
}

func TestParsePlanErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", `plan text at byte 0: expected "Source "`},
		{"Source t [a STRING]\nFilter (a = 'x'", `plan text at byte 35: expected ")"`},
		{"Source t [a STRING]\nExplode a", `plan text at byte 20: unknown operation "Explode a"`},
		{"Source t [a STRING]\nFilter (b = 1)", `unknown column b`},
		{"Source t [a STRING]\nSelect (a ~ 1)", `unknown operator "~"`},
	} {
		_, err := ParsePlan(tc.text)
		if err == nil || !errors.Is(err, ErrPlan) && !errors.Is(err, ErrUnknownColumn) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePlan(%q) = %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}

func TestGroupKeysAndAggregates(t *testing.T) {
	schema := mustSchema(t, "page STRING, user_id BIGINT, price DOUBLE, n INT")
	compile := func(df *DataFrame) *Program {
		t.Helper()
		p, err := Compile(df, Complete)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	src := Source("events", schema)
	base := compile(src.Filter(Col("n").Gt(Lit(3))).
		GroupBy(Col("page"), Col("user_id").Add(Lit(1))).
		Agg(Sum(Col("price")).As("total"), Count(), Avg(Col("n"))).
		Filter(Max(Col("price")).Gt(Lit(1.0))))
	// The INT literal is folded into the BIGINT it is added to.
	if got, want := base.GroupKeys(), []string{"page STRING", "(user_id BIGINT + 1L)"}; !slices.Equal(got, want) {
		t.Errorf("GroupKeys = %q, want %q", got, want)
	}
	wantAggs := []string{"sum(price DOUBLE)", "count(*)", "avg(CAST(n INT AS DOUBLE))", "max(price DOUBLE)"}
	if got := base.Aggregates(); !slices.Equal(got, wantAggs) {
		t.Errorf("Aggregates = %q, want %q (HAVING's max kept in the state)", got, wantAggs)
	}

	// A different WHERE (which renumbers the input columns), aliases and
	// a projection do not change the canonical form.
	same := compile(src.Filter(Col("price").Lt(Lit(9.0)).And(Col("user_id").IsNotNull())).
		GroupBy(Col("PAGE").As("p"), Col("user_id").Add(Lit(1)).As("u")).
		Agg(Col("page"), Sum(Col("price")), Count().As("c"), Avg(Col("n")).As("a")).
		Filter(Max(Col("price")).Gt(Lit(2.0))).Select(Col("c"), Col("p")))
	if !slices.Equal(same.GroupKeys(), base.GroupKeys()) || !slices.Equal(same.Aggregates(), base.Aggregates()) {
		t.Errorf("equivalent query: keys %q aggs %q, want %q %q", same.GroupKeys(), same.Aggregates(), base.GroupKeys(), base.Aggregates())
	}

	// Input types are part of it.
	other := compile(Source("events", mustSchema(t, "page STRING, user_id BIGINT, price BIGINT, n INT")).
		GroupBy(Col("page")).Agg(Sum(Col("price"))))
	if got := other.Aggregates(); !slices.Equal(got, []string{"sum(price BIGINT)"}) {
		t.Errorf("Aggregates = %q", got)
	}
	global := compile(src.Select(CountDistinct(Col("page"))))
	if global.GroupKeys() != nil || !slices.Equal(global.Aggregates(), []string{"count(DISTINCT page STRING)"}) {
		t.Errorf("global aggregate: keys %q aggs %q", global.GroupKeys(), global.Aggregates())
	}
	caseKey := compile(src.GroupBy(When(Col("page").Like("/p%"), Col("n")).When(Col("page").IsNull(), Lit(nil)).Otherwise(Col("user_id").Neg())).
		Agg(Min(Col("n").Cast(String)), CountOf(Not(Col("price").Gt(Col("n"))))))
	if got, want := caseKey.GroupKeys(), []string{"CASE WHEN (page STRING LIKE '/p%') THEN CAST(n INT AS BIGINT) WHEN (page STRING IS NULL) THEN CAST(NULL AS BIGINT) ELSE (- user_id BIGINT) END"}; !slices.Equal(got, want) {
		t.Errorf("GroupKeys = %q, want %q", got, want)
	}
	if got, want := caseKey.Aggregates(), []string{"min(CAST(n INT AS STRING))", "count((NOT (price DOUBLE > CAST(n INT AS DOUBLE))))"}; !slices.Equal(got, want) {
		t.Errorf("Aggregates = %q, want %q", got, want)
	}
	stateless, err := Compile(src.Filter(Col("n").Gt(Lit(1))), Append)
	if err != nil {
		t.Fatal(err)
	}
	if stateless.GroupKeys() != nil || stateless.Aggregates() != nil {
		t.Error("a stateless program has group keys or aggregates")
	}
}

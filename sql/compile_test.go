package sql_test

import (
	"fmt"
	"slices"
	"testing"

	. "github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/sql"
)

// The schemas of the three product jobs (internal/gen's data sets) and one
// with JSON nested-field names.
const (
	clickDDL  = "timestamp TIMESTAMP, userid STRING, page STRING, action STRING"
	shopDDL   = "event_time TIMESTAMP, event_type STRING, product_id BIGINT, category_id BIGINT, category_code STRING, brand STRING, price DOUBLE, user_id BIGINT, user_session STRING"
	iotDDL    = "device_id STRING, ts TIMESTAMP, temperature DOUBLE, pressure DOUBLE, lat DOUBLE, lon DOUBLE"
	nestedDDL = "data.page STRING, data.user STRING, Kind STRING, n INT"
)

func schema(t testing.TB, ddl string) *Schema {
	t.Helper()
	s, err := ParseSchema(ddl)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// brandFunnel is the e-commerce job's query.
const brandFunnel = `SELECT brand,
       sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END) AS views,
       sum(CASE WHEN event_type = 'cart' THEN 1 ELSE 0 END) AS carts,
       sum(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) AS purchases,
       sum(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) / sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END) AS conversion
FROM events WHERE brand IS NOT NULL GROUP BY brand HAVING count(*) > 10 ORDER BY views DESC LIMIT 20`

func brandFunnelDF(s *Schema) *DataFrame {
	is := func(t string) Expr { return When(Col("event_type").Eq(Lit(t)), Lit(1)).Otherwise(Lit(0)) }
	return Source("events", s).
		Filter(Col("brand").IsNotNull()).
		GroupBy(Col("brand")).
		Agg(
			Sum(is("view")).As("views"),
			Sum(is("cart")).As("carts"),
			Sum(is("purchase")).As("purchases"),
			Sum(is("purchase")).Div(Sum(is("view"))).As("conversion"),
		).
		Filter(Count().Gt(Lit(10))).
		OrderBy(Col("views").Desc()).
		Limit(20)
}

// planCases pair a query with the DataFrame a Go user would build for it.
var planCases = []struct {
	name  string
	ddl   string
	table string
	query string
	want  func(s *Schema) *DataFrame
}{
	{
		name:  "clickstream page views",
		ddl:   clickDDL,
		query: "SELECT page, count(*) AS views FROM events WHERE action = 'view' GROUP BY page ORDER BY views DESC",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).Filter(Col("action").Eq(Lit("view"))).
				GroupBy(Col("page")).Agg(Count().As("views")).OrderBy(Col("views").Desc())
		},
	},
	{
		name:  "ecommerce brand funnel",
		ddl:   shopDDL,
		query: brandFunnel,
		want:  brandFunnelDF,
	},
	{
		name:  "iot per device",
		ddl:   iotDDL,
		query: "SELECT device_id, avg(temperature) AS avg_temperature, max(pressure) AS max_pressure FROM events GROUP BY device_id",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).GroupBy(Col("device_id")).
				Agg(Avg(Col("temperature")).As("avg_temperature"), Max(Col("pressure")).As("max_pressure"))
		},
	},
	{
		name:  "star with a filter",
		ddl:   iotDDL,
		query: "SELECT * FROM events WHERE temperature > 30.5",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).Filter(Col("temperature").Gt(Lit(30.5))).
				Select(Col("device_id"), Col("ts"), Col("temperature"), Col("pressure"), Col("lat"), Col("lon"))
		},
	},
	{
		name:  "qualified star and metadata columns",
		ddl:   iotDDL,
		query: "SELECT e.*, _offset, _key FROM events AS e",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).
				Select(Col("device_id"), Col("ts"), Col("temperature"), Col("pressure"), Col("lat"), Col("lon"), Col("_offset"), Col("_key"))
		},
	},
	{
		name: "projection with operators",
		ddl:  clickDDL,
		query: `SELECT userid, CAST(_offset AS STRING) AS off, _partition + 1 AS p, -(_offset % 7) * 2 AS m
		        FROM events
		        WHERE page LIKE '/products/%' AND action IN ('view', 'click') OR NOT (userid <> 'u1')`,
		want: func(s *Schema) *DataFrame {
			return Source("events", s).
				Filter(Col("page").Like("/products/%").And(Col("action").In(Lit("view"), Lit("click"))).Or(Not(Col("userid").Ne(Lit("u1"))))).
				Select(Col("userid"), Col("_offset").Cast(String).As("off"), Col("_partition").Add(Lit(1)).As("p"),
					Col("_offset").Mod(Lit(7)).Neg().Mul(Lit(2)).As("m"))
		},
	},
	{
		name: "rewritten predicates",
		ddl:  shopDDL,
		query: `SELECT CASE event_type WHEN 'view' THEN 1 WHEN 'cart' THEN 2 END AS stage, price
		        FROM events
		        WHERE price BETWEEN 1 AND 10 AND price NOT BETWEEN 2 AND 3 AND brand NOT LIKE 'a%'
		          AND event_type NOT IN ('remove') AND category_code IS NULL AND user_id != 5`,
		want: func(s *Schema) *DataFrame {
			p := Col("price")
			return Source("events", s).
				Filter(And(
					p.Ge(Lit(1)).And(p.Le(Lit(10))),
					p.Lt(Lit(2)).Or(p.Gt(Lit(3))),
					Col("brand").Like("a%").Not(),
					Col("event_type").In(Lit("remove")).Not(),
					Col("category_code").IsNull(),
					Col("user_id").Ne(Lit(5)),
				)).
				Select(When(Col("event_type").Eq(Lit("view")), Lit(1)).When(Col("event_type").Eq(Lit("cart")), Lit(2)).End().As("stage"), p)
		},
	},
	{
		name: "literals",
		ddl:  shopDDL,
		query: `SELECT 'it''s' AS s, 10000000000 AS big, 1.5e3 AS f, 0.25 AS d, TRUE AS t, NULL AS z,
		          TIMESTAMP '2019-11-01 00:00:00' AS ts, 2147483647 AS maxint, -2147483648 AS minint
		        FROM events WHERE product_id > 10000000000 AND FALSE = (price < 1.5)`,
		want: func(s *Schema) *DataFrame {
			return Source("events", s).
				Filter(Col("product_id").Gt(Lit(int64(10000000000))).And(Lit(false).Eq(Col("price").Lt(Lit(1.5))))).
				Select(Lit("it's").As("s"), Lit(int64(10000000000)).As("big"), Lit(1500.0).As("f"), Lit(0.25).As("d"),
					Lit(true).As("t"), Lit(nil).As("z"), Lit("2019-11-01 00:00:00").Cast(Timestamp).As("ts"), Lit(2147483647).As("maxint"), Lit(-2147483648).As("minint"))
		},
	},
	{
		name:  "casts",
		ddl:   shopDDL,
		query: "SELECT CAST(price AS INT) AS a, price::bigint AS b, CAST(user_id AS DOUBLE PRECISION) AS c, CAST(user_id AS float) AS d, CAST(price AS varchar(10)) AS e, CAST('1' AS boolean) AS f, CAST(product_id AS long) AS g FROM events",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).Select(
				Col("price").Cast(Int32).As("a"), Col("price").Cast(Int64).As("b"), Col("user_id").Cast(Float64).As("c"),
				Col("user_id").Cast(Float64).As("d"), Col("price").Cast(String).As("e"), Lit("1").Cast(Bool).As("f"),
				Col("product_id").Cast(Int64).As("g"))
		},
	},
	{
		name:  "nested field names",
		ddl:   nestedDDL,
		query: "SELECT `data.page`, data.user AS u, \"data.page\" AS p2, events.n FROM events WHERE data.page IS NOT NULL",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).Filter(Col("data.page").IsNotNull()).
				Select(Col("data.page"), Col("data.user").As("u"), Col("data.page").As("p2"), Col("n"))
		},
	},
	{
		name:  "names are case-insensitive and aliases keep their spelling",
		ddl:   nestedDDL,
		query: "SELECT KIND, Count(*) AS Views, count(*) AS \"Quoted\" FROM Events GROUP BY kind ORDER BY VIEWS",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).GroupBy(Col("Kind")).Agg(Count().As("Views"), Count().As("Quoted")).
				OrderBy(Col("Views").Asc())
		},
	},
	{
		name:  "global aggregation",
		ddl:   clickDDL,
		query: "SELECT count(*), count(DISTINCT userid) AS users, count(page) AS pages, min(timestamp) AS first FROM events",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).Select(Count(), CountDistinct(Col("userid")).As("users"), CountOf(Col("page")).As("pages"), Min(Col("timestamp")).As("first"))
		},
	},
	{
		name:  "group by a select-list position, having and order by an alias",
		ddl:   shopDDL,
		query: "SELECT price % 10 AS bucket, count(*) AS n FROM events GROUP BY 1 HAVING bucket > 2 ORDER BY n DESC, bucket LIMIT 5",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).GroupBy(Col("price").Mod(Lit(10)).As("bucket")).Agg(Count().As("n")).
				Filter(Col("bucket").Gt(Lit(2))).OrderBy(Col("n").Desc(), Col("bucket").Asc()).Limit(5)
		},
	},
	{
		name:  "group by an alias; having on the grouping expression",
		ddl:   shopDDL,
		query: "SELECT price % 10 AS bucket, sum(price) AS revenue FROM events GROUP BY bucket HAVING price % 10 <> 0 ORDER BY sum(price) DESC",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).GroupBy(Col("price").Mod(Lit(10)).As("bucket")).Agg(Sum(Col("price")).As("revenue")).
				Filter(Col("bucket").Ne(Lit(0))).OrderBy(Sum(Col("price")).Desc())
		},
	},
	{
		name:  "group by an expression that is a select-list entry",
		ddl:   shopDDL,
		query: "SELECT brand AS b, event_type, count(*) AS n FROM events GROUP BY brand, event_type ORDER BY brand",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).GroupBy(Col("brand").As("b"), Col("event_type")).Agg(Count().As("n")).
				OrderBy(Col("b").Asc())
		},
	},
	{
		name:  "select list that is not the keys first",
		ddl:   shopDDL,
		query: "SELECT count(*) AS n, brand FROM events GROUP BY brand, event_type",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).GroupBy(Col("brand"), Col("event_type")).Agg(Count().As("n")).
				Select(Col("n"), Col("brand"))
		},
	},
	{
		name:  "expression over grouping keys",
		ddl:   shopDDL,
		query: "SELECT user_id % 2 AS parity, (user_id % 2) * 10 + count(*) AS score FROM events GROUP BY user_id % 2",
		want: func(s *Schema) *DataFrame {
			k := Col("user_id").Mod(Lit(2))
			return Source("events", s).GroupBy(k.As("parity")).Agg(k.Mul(Lit(10)).Add(Count()).As("score"))
		},
	},
	{
		name:  "having without group by",
		ddl:   clickDDL,
		query: "SELECT count(*) AS n FROM events HAVING count(*) > 100",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).Select(Count().As("n")).Filter(Count().Gt(Lit(100)))
		},
	},
	{
		name:  "distinct",
		ddl:   clickDDL,
		query: "SELECT DISTINCT page, action AS a FROM events",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).GroupBy(Col("page"), Col("action").As("a")).Agg()
		},
	},
	{
		name:  "order by in a projection",
		ddl:   shopDDL,
		query: "SELECT price * 2 AS p2, brand FROM events ORDER BY price * 2 DESC, 2 LIMIT ALL",
		want: func(s *Schema) *DataFrame {
			return Source("events", s).Select(Col("price").Mul(Lit(2)).As("p2"), Col("brand")).
				OrderBy(Col("p2").Desc(), Col("brand").Asc())
		},
	},
	{
		name:  "another table name",
		ddl:   clickDDL,
		table: "clicks",
		query: "select page from CLICKS c where c.action = 'view' limit 3",
		want: func(s *Schema) *DataFrame {
			return Source("clicks", s).Filter(Col("action").Eq(Lit("view"))).Select(Col("page")).Limit(3)
		},
	},
	{
		name: "comments and line breaks",
		ddl:  clickDDL,
		query: `-- pages that people view
		SELECT page /* the path */,
		       count(*) AS views -- per page
		FROM events
		GROUP BY page; -- one statement`,
		want: func(s *Schema) *DataFrame {
			return Source("events", s).GroupBy(Col("page")).Agg(Count().As("views"))
		},
	},
}

func TestCompilePlans(t *testing.T) {
	for _, tc := range planCases {
		t.Run(tc.name, func(t *testing.T) {
			s := schema(t, tc.ddl)
			table := tc.table
			got, err := sql.Compile(tc.query, table, s)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if table == "" {
				table = "events" // Compile's default
			}
			want := tc.want(s)
			if err := want.Err(); err != nil {
				t.Fatalf("hand-built DataFrame: %v", err)
			}
			if got.String() != want.String() {
				t.Errorf("plan\n%s\nwant (DataFrame API)\n%s", got, want)
			}
			if !slices.Equal(got.Columns(), want.Columns()) {
				t.Errorf("columns %q, want %q", got.Columns(), want.Columns())
			}
			gs, err := got.Schema()
			if err != nil {
				t.Fatal(err)
			}
			ws, err := want.Schema()
			if err != nil {
				t.Fatal(err)
			}
			if !gs.Equal(ws) {
				t.Errorf("schema %v, want %v", gs, ws)
			}
		})
	}
}

// TestCompilePlanText pins the plan of the brand funnel, the README's
// example, to its exact text.
func TestCompilePlanText(t *testing.T) {
	df, err := sql.Compile(brandFunnel, "", schema(t, shopDDL))
	if err != nil {
		t.Fatal(err)
	}
	const want = "Source events [event_time TIMESTAMP, event_type STRING, product_id BIGINT, category_id BIGINT, category_code STRING, brand STRING, price DOUBLE, user_id BIGINT, user_session STRING]\n" +
		"Filter (brand IS NOT NULL)\n" +
		"Aggregate [brand] [sum(CASE WHEN (event_type = 'view') THEN 1 ELSE 0 END) AS views, " +
		"sum(CASE WHEN (event_type = 'cart') THEN 1 ELSE 0 END) AS carts, " +
		"sum(CASE WHEN (event_type = 'purchase') THEN 1 ELSE 0 END) AS purchases, " +
		"(sum(CASE WHEN (event_type = 'purchase') THEN 1 ELSE 0 END) / sum(CASE WHEN (event_type = 'view') THEN 1 ELSE 0 END)) AS conversion]\n" +
		"Filter (count(*) > 10)\n" +
		"OrderBy views DESC NULLS LAST\n" +
		"Limit 20"
	if df.String() != want {
		t.Errorf("plan\n%s\nwant\n%s", df, want)
	}
	if got := df.Columns(); !slices.Equal(got, []string{"brand", "views", "carts", "purchases", "conversion"}) {
		t.Errorf("columns %q", got)
	}
}

// TestCompileProductJobs compiles the three product jobs' queries for the
// output modes their job files use.
func TestCompileProductJobs(t *testing.T) {
	for _, tc := range []struct {
		ddl, query string
		mode       OutputMode
	}{
		{clickDDL, "SELECT page, count(*) AS views FROM events WHERE action = 'view' GROUP BY page ORDER BY views DESC", Complete},
		{shopDDL, brandFunnel, Complete},
		{iotDDL, "SELECT device_id, avg(temperature) AS avg_temperature, max(pressure) AS max_pressure FROM events GROUP BY device_id", Update},
	} {
		df, err := sql.Compile(tc.query, "events", schema(t, tc.ddl))
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if _, err := Compile(df, tc.mode); err != nil {
			t.Errorf("dataframe.Compile(%s): %v", tc.query, err)
		}
	}
}

// A TIMESTAMP '...' literal is a cast of a string, which the dataframe
// package folds.
func TestTimestampLiteral(t *testing.T) {
	df, err := sql.Compile("SELECT count(*) FROM events WHERE event_time >= TIMESTAMP '2019-11-01 00:00:00'", "", schema(t, shopDDL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(df, Complete); err != nil {
		t.Fatal(err)
	}
}

// Compile runs PostgreSQL's parser through cgo; it must be safe to call
// from several goroutines (run with -race).
func TestCompileConcurrent(t *testing.T) {
	s := schema(t, shopDDL)
	want, err := sql.Compile(brandFunnel, "", s)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 20; i++ {
				df, err := sql.Compile(brandFunnel, "", s)
				if err == nil && df.String() != want.String() {
					err = fmt.Errorf("plan changed:\n%s", df)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

package sql_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	. "github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/sql"
)

// run executes df over JSON records the way the engine does: a decoder
// feeds two Tasks (two partitions), whose partial aggregates merge into one
// State. It returns the header and the output rows rendered as
// "v1|v2|...", NULL for nulls, sorted unless the plan orders them.
func run(t *testing.T, df *DataFrame, s *Schema, mode OutputMode, records []string) []string {
	t.Helper()
	prog, err := Compile(df, mode)
	if err != nil {
		t.Fatalf("dataframe.Compile: %v", err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	parse := FailFast // a malformed record fails the test, unless the query reads _corrupt_record
	if slices.Contains(prog.InputColumns(), ColCorruptRecord) {
		parse = Permissive
	}
	dec, err := NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Mode: parse, Columns: prog.InputColumns()})
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Release()
	rows := []string{strings.Join(df.Columns(), "|")}
	var out []string
	half := (len(records) + 1) / 2
	var chunks [][][]byte
	for _, part := range [][]string{records[:half], records[half:]} {
		var c [][]byte
		for _, r := range part {
			c = append(c, []byte(r))
		}
		chunks = append(chunks, c)
	}
	runChunks(t, prog, dec, mem, chunks, []byte("k"), func(rec arrow.Record) { out = append(out, render(rec)...) })
	if !strings.Contains(df.String(), "\nOrderBy ") {
		slices.Sort(out)
	}
	return append(rows, out...)
}

func render(rec arrow.Record) []string {
	var rows []string
	for i := 0; i < int(rec.NumRows()); i++ {
		vals := make([]string, rec.NumCols())
		for j, c := range rec.Columns() {
			vals[j] = "NULL"
			if c.IsValid(i) {
				vals[j] = c.ValueStr(i)
			}
		}
		rows = append(rows, strings.Join(vals, "|"))
	}
	return rows
}

// _corrupt_record is selectable and filterable in SQL.
func TestCorruptRecordSQL(t *testing.T) {
	s, err := ParseSchema("page STRING, n BIGINT")
	if err != nil {
		t.Fatal(err)
	}
	df, err := sql.Compile("SELECT _partition, _offset, _corrupt_record FROM events WHERE _corrupt_record IS NOT NULL", "events", s)
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, df, s, Append, []string{`{"page":"/a","n":1}`, `{"page":"/b","n":"x"}`, `not json`, `{"page":"/c"}`, `{"n":1.5}`})
	want := []string{"_partition|_offset|_corrupt_record", `0|1|{"page":"/b","n":"x"}`, `0|2|not json`, `1|1|{"n":1.5}`}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// In SELECT * it is not listed, as the other metadata columns.
	df, err = sql.Compile("SELECT * FROM events", "events", s)
	if err != nil {
		t.Fatal(err)
	}
	if cols := df.Columns(); !slices.Equal(cols, []string{"page", "n"}) {
		t.Errorf("SELECT *: %v", cols)
	}
}

// TestResults runs queries in SQL and the same queries built with the
// DataFrame API over the same input, and checks both give the expected
// rows.
func TestResults(t *testing.T) {
	clicks := []string{
		`{"timestamp":"2024-01-01T00:00:00Z","userid":"u1","page":"/home","action":"view"}`,
		`{"timestamp":"2024-01-01T00:00:01Z","userid":"u2","page":"/home","action":"view"}`,
		`{"timestamp":"2024-01-01T00:00:02Z","userid":"u1","page":"/products/1","action":"click"}`,
		`{"timestamp":"2024-01-01T00:00:03Z","userid":"u3","page":"/cart","action":"view"}`,
		`{"timestamp":"2024-01-01T00:00:04Z","userid":"u2","page":"/home","action":"view"}`,
		`{"timestamp":"2024-01-01T00:00:05Z","userid":"u3","page":"/products/2","action":"click"}`,
		`{"timestamp":"2024-01-01T00:00:06Z","userid":"u4","page":"/about","action":"click"}`,
	}
	shop := func(brand, typ string) string {
		b := `null`
		if brand != "" {
			b = `"` + brand + `"`
		}
		return `{"event_time":"2019-11-01 00:00:01 UTC","event_type":"` + typ + `","product_id":1,"brand":` + b + `,"price":9.5,"user_id":7}`
	}
	var shopping []string
	for _, e := range []struct{ brand, typ string }{
		{"a", "view"}, {"a", "view"}, {"b", "view"}, {"a", "cart"}, {"", "view"}, {"a", "view"},
		{"c", "view"}, {"a", "purchase"}, {"b", "view"}, {"", "view"}, {"a", "view"}, {"", "cart"},
	} {
		shopping = append(shopping, shop(e.brand, e.typ))
	}
	iot := []string{
		`{"device_id":"dev-1","ts":"2024-01-01T00:00:00Z","temperature":20,"pressure":1013.5,"lat":1,"lon":2}`,
		`{"device_id":"dev-2","ts":"2024-01-01T00:00:00Z","temperature":30,"pressure":1000,"lat":1,"lon":2}`,
		`{"device_id":"dev-1","ts":"2024-01-01T00:00:01Z","temperature":22,"pressure":1012,"lat":1,"lon":2}`,
		`{"device_id":"dev-3","ts":"2024-01-01T00:00:01Z","temperature":null,"pressure":null,"lat":1,"lon":2}`,
	}
	is := func(t string) Expr { return When(Col("event_type").Eq(Lit(t)), Lit(1)).Otherwise(Lit(0)) }
	for _, tc := range []struct {
		name    string
		ddl     string
		mode    OutputMode
		records []string
		query   string
		want    func(s *Schema) *DataFrame
		rows    []string
	}{
		{
			name: "clickstream page views", ddl: clickDDL, mode: Complete, records: clicks,
			query: "SELECT page, count(*) AS views FROM events WHERE action = 'view' GROUP BY page ORDER BY views DESC",
			want: func(s *Schema) *DataFrame {
				return Source("events", s).Filter(Col("action").Eq(Lit("view"))).
					GroupBy(Col("page")).Agg(Count().As("views")).OrderBy(Col("views").Desc())
			},
			rows: []string{"page|views", "/home|3", "/cart|1"},
		},
		{
			name: "ecommerce brand funnel", ddl: shopDDL, mode: Complete, records: shopping,
			query: strings.Replace(brandFunnel, "count(*) > 10", "count(*) > 1", 1),
			want: func(s *Schema) *DataFrame {
				return Source("events", s).Filter(Col("brand").IsNotNull()).GroupBy(Col("brand")).
					Agg(Sum(is("view")).As("views"), Sum(is("cart")).As("carts"), Sum(is("purchase")).As("purchases"),
						Sum(is("purchase")).Div(Sum(is("view"))).As("conversion")).
					Filter(Count().Gt(Lit(1))).OrderBy(Col("views").Desc()).Limit(20)
			},
			rows: []string{"brand|views|carts|purchases|conversion", "a|4|1|1|0.25", "b|2|0|0|0"},
		},
		{
			name: "iot per device", ddl: iotDDL, mode: Update, records: iot,
			query: "SELECT device_id, avg(temperature) AS avg_temperature, max(pressure) AS max_pressure, count(temperature) AS n FROM events GROUP BY device_id",
			want: func(s *Schema) *DataFrame {
				return Source("events", s).GroupBy(Col("device_id")).
					Agg(Avg(Col("temperature")).As("avg_temperature"), Max(Col("pressure")).As("max_pressure"), CountOf(Col("temperature")).As("n"))
			},
			rows: []string{"device_id|avg_temperature|max_pressure|n", "dev-1|21|1013.5|2", "dev-2|30|1000|1", "dev-3|NULL|NULL|0"},
		},
		{
			name: "projection with metadata", ddl: clickDDL, mode: Append, records: clicks,
			query: "SELECT userid AS user, _partition AS p, _offset + 100 AS off FROM events WHERE action = 'click' AND page LIKE '/products/%'",
			want: func(s *Schema) *DataFrame {
				return Source("events", s).Filter(Col("action").Eq(Lit("click")).And(Col("page").Like("/products/%"))).
					Select(Col("userid").As("user"), Col("_partition").As("p"), Col("_offset").Add(Lit(100)).As("off"))
			},
			rows: []string{"user|p|off", "u1|0|102", "u3|1|101"},
		},
		{
			name: "select list reordered after the aggregation", ddl: clickDDL, mode: Complete, records: clicks,
			query: "SELECT count(DISTINCT userid) AS users, action FROM events GROUP BY action ORDER BY 2",
			want: func(s *Schema) *DataFrame {
				return Source("events", s).GroupBy(Col("action")).Agg(CountDistinct(Col("userid")).As("users")).
					OrderBy(Col("action").Asc()).Select(Col("users"), Col("action"))
			},
			rows: []string{"users|action", "3|click", "3|view"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := schema(t, tc.ddl)
			df, err := sql.Compile(tc.query, "events", s)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want(s)
			if df.String() != want.String() {
				t.Errorf("plan\n%s\nwant\n%s", df, want)
			}
			got := run(t, df, s, tc.mode, tc.records)
			api := run(t, want, s, tc.mode, tc.records)
			if !slices.Equal(got, api) {
				t.Errorf("SQL rows %q, DataFrame API rows %q", got, api)
			}
			if !slices.Equal(got, tc.rows) {
				t.Errorf("rows %q, want %q", got, tc.rows)
			}
		})
	}
}

// runChunks feeds each chunk of records to prog as one task (partition i,
// offsets from 0, the given record key) decoded by dec, merging the tasks
// into a State when prog is stateful; emit gets each stateless task's
// output, or the State's final result.
func runChunks(t *testing.T, prog *Program, dec Decoder, mem memory.Allocator, chunks [][][]byte, key []byte, emit func(arrow.Record)) {
	t.Helper()
	var state *State
	if prog.Stateful() {
		state = prog.NewState(mem)
	}
	for part, recs := range chunks {
		for i, r := range recs {
			meta := &RecordMeta{Topic: "t", Partition: int32(part), Offset: int64(i), Timestamp: 1700000000000, Key: key}
			if err := dec.Append(meta, r); err != nil {
				t.Fatal(err)
			}
		}
		task := prog.NewTask(mem)
		if rec := dec.Flush(); rec != nil {
			err := task.Consume(rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
		if state != nil {
			if err := state.Merge(task); err != nil {
				t.Fatal(err)
			}
		} else {
			for _, rec := range task.Output() {
				emit(rec)
				rec.Release()
			}
		}
		task.Release()
	}
	if state != nil {
		res, err := state.Result(false)
		if err != nil {
			t.Fatal(err)
		}
		if res != nil {
			emit(res)
			res.Release()
		}
	}
}

package sql_test

import (
	"slices"
	"strings"
	"testing"

	. "github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/sql"
)

// Scalar functions in SQL, including PostgreSQL's grammar for COALESCE,
// GREATEST, LEAST, NULLIF, TRIM and SUBSTRING and the operators || and ~,
// in the projection, the filter and under an aggregation.
func TestScalarFunctionsSQL(t *testing.T) {
	s, err := ParseSchema("brand STRING, category_code STRING, price DOUBLE, event_time TIMESTAMP")
	if err != nil {
		t.Fatal(err)
	}
	recs := []string{
		`{"brand":" Apple ","category_code":"electronics.phone","price":10.25,"event_time":"2024-01-01T10:30:00Z"}`,
		`{"brand":"samsung","category_code":null,"price":3.5,"event_time":"2024-01-01T10:59:59Z"}`,
		`{"brand":null,"category_code":"appliances.kettle","price":null,"event_time":"2024-01-01T11:00:00Z"}`,
	}
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"SELECT lower(trim(brand)) AS b, coalesce(category_code, 'none') AS c FROM events",
			[]string{"b|c", "NULL|appliances.kettle", "apple|electronics.phone", "samsung|none"}},
		{"SELECT TRIM(BOTH ' ' FROM brand) || '/' || split_part(category_code, '.', -1) AS x FROM events WHERE category_code ~ '^e'",
			[]string{"x", "Apple/phone"}},
		{"SELECT SUBSTRING(category_code FROM 1 FOR 3) AS s, substr(category_code, -5) AS t FROM events WHERE category_code IS NOT NULL",
			[]string{"s|t", "app|ettle", "ele|phone"}},
		{"SELECT greatest(price, 5), least(price, 5), nullif(brand, 'samsung'), round(price, 1) FROM events",
			[]string{"greatest(price, 5)|least(price, 5)|nullif(brand, 'samsung')|round(price, 1)",
				"10.25|5|" + " Apple " + "|10.3", "5|3.5|NULL|3.5", "5|5|NULL|NULL"}},
		{"SELECT date_trunc('hour', event_time) AS h, count(*) AS n, round(sum(price), 0) AS p FROM events GROUP BY date_trunc('hour', event_time)",
			[]string{"h|n|p", "2024-01-01 10:00:00Z|2|14", "2024-01-01 11:00:00Z|1|NULL"}},
		{"SELECT count_if(price > 3) AS c, bool_or(brand = 'samsung') AS o, every(price > 3) AS a, var_samp(price) AS v, stddev_pop(price) AS sd FROM events",
			[]string{"c|o|a|v|sd", "2|true|true|22.78125|3.375"}},
		{"SELECT approx_count_distinct(brand) AS u, approx_count_distinct(brand, 0.01) AS u2, percentile_approx(price, 0.5) AS m, approx_percentile(price, 1, 100) AS top FROM events",
			[]string{"u|u2|m|top", "2|2|3.5|10.25"}},
		{"SELECT first(brand) AS f, first(category_code, true) AS fc, last(brand) AS l, last(price, true) AS lp, collect_set(brand) AS s FROM events",
			[]string{"f|fc|l|lp|s", " Apple |electronics.phone|NULL|3.5|[\" Apple \",\"samsung\"]"}},
		{"SELECT if(price > 5, 'high', 'low') AS band, count(*) AS n FROM events GROUP BY 1",
			[]string{"band|n", "high|1", "low|2"}},
	} {
		df, err := sql.Compile(c.q, "events", s)
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		mode := Append
		if strings.Contains(df.String(), "Aggregate") {
			mode = Complete
		}
		got := run(t, df, s, mode, recs)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\ngot  %q\nwant %q", c.q, got, c.want)
		}
	}
}

// Spark's current_timestamp(), the bare keyword and now() are one
// function; it is refused over aggregated rows.
func TestCurrentTimestampSQL(t *testing.T) {
	s, err := ParseSchema("a STRING")
	if err != nil {
		t.Fatal(err)
	}
	df, err := sql.Compile("SELECT current_timestamp() AS t, CURRENT_TIMESTAMP AS c, now() AS n, 'current_timestamp()' AS s FROM events WHERE current_timestamp( ) > TIMESTAMP '2024-01-01 00:00:00'", "events", s)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Select current_timestamp() AS t, current_timestamp() AS c, current_timestamp() AS n, 'current_timestamp()' AS s"; !strings.Contains(df.String(), want) {
		t.Errorf("plan %s, want %s", df, want)
	}
	_, err = sql.Compile("SELECT a, count(*), current_timestamp() FROM events GROUP BY a", "events", s)
	if err == nil || !strings.Contains(err.Error(), "column 21: current_timestamp() is evaluated row by row before an aggregation") {
		t.Errorf("after an aggregation: %v", err)
	}
}

package sql_test

import (
	"strings"
	"testing"
	"time"

	. "github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/sql"
)

// TestWindowPlans: Spark's and Flink's window spellings compile to the
// plan the dataframe API builds.
func TestWindowPlans(t *testing.T) {
	s := schema(t, shopDDL)
	src := Source("events", s)
	ts := Col("event_time")
	cases := []struct {
		query string
		want  *DataFrame
	}{
		{"SELECT window.start AS minute, window.end, brand, count(*) AS n FROM events GROUP BY window(event_time, '1 minute'), brand",
			src.GroupBy(Window(ts, time.Minute, 0, 0), Col("brand")).Agg(Count().As("n")).
				Select(Col("window.start").As("minute"), Col("window.end"), Col("brand"), Col("n"))},
		{"SELECT window, count(*) FROM events GROUP BY WINDOW(event_time, '10 minutes', '5 minutes', '2 minutes')",
			src.GroupBy(Window(ts, 10*time.Minute, 5*time.Minute, 2*time.Minute)).Agg(Count())},
		{"SELECT window.start, avg(price) FROM events GROUP BY window(event_time, interval '1 hour 30 minutes')",
			src.GroupBy(Window(ts, 90*time.Minute, 0, 0)).Agg(Avg(Col("price"))).Select(Col("window.start"), Col("avg(price)"))},
		{"SELECT window_start, window_end, count(*) FROM events GROUP BY tumble(event_time, interval '1 minute')",
			src.GroupBy(Tumble(ts, time.Minute)).Agg(Count())},
		{"SELECT brand, window_start, count(*) FROM events GROUP BY brand, hop(event_time, interval '5 minutes', interval '10 minutes')",
			src.GroupBy(Hop(ts, 5*time.Minute, 10*time.Minute), Col("brand")).Agg(Count()).
				Select(Col("brand"), Col("window_start"), Col("count(*)"))},
		{"SELECT window.start, count(*) FROM events GROUP BY window(event_time, '10 seconds') HAVING count(*) > 1 AND window.end > TIMESTAMP '2020-01-01 00:00:00'",
			src.GroupBy(Window(ts, 10*time.Second, 0, 0)).Agg(Count()).
				Filter(Count().Gt(Lit(1)).And(Col("window.end").Gt(Lit("2020-01-01 00:00:00").Cast(Timestamp)))).
				Select(Col("window.start"), Col("count(*)"))},
		{"SELECT user_id, session_window.start, session_window.end AS last, count(*) AS n FROM events GROUP BY user_id, session_window(event_time, '5 minutes')",
			src.GroupBy(SessionWindow(ts, 5*time.Minute), Col("user_id")).Agg(Count().As("n")).
				Select(Col("user_id"), Col("session_window.start"), Col("session_window.end").As("last"), Col("n"))},
		// ORDER BY an alias or the position of a window bound (sorted
		// before the select list renames it)
		{"SELECT window.start AS m, count(*) AS c FROM events GROUP BY window(event_time, '1 minute') ORDER BY m DESC",
			src.GroupBy(Window(ts, time.Minute, 0, 0)).Agg(Count().As("c")).OrderBy(Col("window.start").Desc()).
				Select(Col("window.start").As("m"), Col("c"))},
		{"SELECT window.start AS m, count(*) AS c FROM events GROUP BY window(event_time, '1 minute') ORDER BY 1, c",
			src.GroupBy(Window(ts, time.Minute, 0, 0)).Agg(Count().As("c")).OrderBy(Col("window.start").Asc(), Col("c").Asc()).
				Select(Col("window.start").As("m"), Col("c"))},
		{"SELECT window_start AS m, count(*) FROM events GROUP BY tumble(event_time, interval '1 minute') ORDER BY M",
			src.GroupBy(Tumble(ts, time.Minute)).Agg(Count()).OrderBy(Col("window_start").Asc()).
				Select(Col("window_start").As("m"), Col("count(*)"))},
		{"SELECT user_id, session_window.start AS s, count(*) FROM events GROUP BY user_id, session_window(event_time, '5 minutes') ORDER BY s",
			src.GroupBy(SessionWindow(ts, 5*time.Minute), Col("user_id")).Agg(Count()).OrderBy(Col("session_window.start").Asc()).
				Select(Col("user_id"), Col("session_window.start").As("s"), Col("count(*)"))},
		{"SELECT session_window, user_id, sum(price) FROM events GROUP BY session_window(event_time, interval '30 seconds'), user_id",
			src.GroupBy(SessionWindow(ts, 30*time.Second), Col("user_id")).Agg(Sum(Col("price")))},
	}
	for _, c := range cases {
		df, err := sql.Compile(c.query, "", s)
		if err != nil {
			t.Errorf("%s: %v", c.query, err)
			continue
		}
		if df.String() != c.want.String() {
			t.Errorf("%s:\n got %s\nwant %s", c.query, df, c.want)
		}
		if strings.Join(df.Columns(), ",") != strings.Join(c.want.Columns(), ",") {
			t.Errorf("%s: columns %v, want %v", c.query, df.Columns(), c.want.Columns())
		}
	}
}

// TestWindowErrors asserts each refusal's message and position.
func TestWindowErrors(t *testing.T) {
	s := schema(t, shopDDL)
	cases := []struct{ query, want string }{
		{"SELECT count(*) FROM events GROUP BY window(event_time, '5 minutes', '10 minutes')",
			"line 1, column 70: the window slide 10m0s is longer than its size 5m0s"},
		{"SELECT count(*) FROM events GROUP BY window(event_time, '0 seconds')",
			"line 1, column 57: the window size must be positive, got 0s"},
		{"SELECT count(*) FROM events GROUP BY window(event_time, '-1 minute')",
			"line 1, column 57: the window size must be positive, got -1m0s"},
		{"SELECT count(*) FROM events GROUP BY window(price, '1 minute')",
			"line 1, column 45: window needs a TIMESTAMP event-time column; price is DOUBLE"},
		{"SELECT count(*) FROM events GROUP BY window(event_time, '1 minute'), tumble(event_time, interval '1 minute')",
			"line 1, column 70: more than one window function in GROUP BY: a query groups by one window (as in Spark)"},
		{"SELECT window(event_time, '1 minute'), count(*) FROM events",
			"line 1, column 8: window(...) is only supported as a GROUP BY entry; select its columns (window.start, window.end; window_start, window_end for tumble and hop)"},
		{"SELECT count(*) FROM events WHERE tumble(event_time, interval '1 minute') IS NULL",
			"line 1, column 35: tumble(...) is only supported as a GROUP BY entry; select its columns (window.start, window.end; window_start, window_end for tumble and hop)"},
		{"SELECT count(*) FROM events GROUP BY window(event_time, '1 fortnight')",
			`line 1, column 57: invalid duration "1 fortnight": unknown unit "fortnight" (want microseconds, milliseconds, seconds, minutes, hours, days or weeks)`},
		{"SELECT count(*) FROM events GROUP BY window(event_time, '1 month')",
			`line 1, column 57: invalid duration "1 month": months and years have no fixed length; use days`},
		{"SELECT count(*) FROM events GROUP BY window(event_time, 60)",
			"line 1, column 57: a window duration is a string ('10 minutes') or an interval literal (interval '10 minutes')"},
		{"SELECT count(*) FROM events GROUP BY window(event_time)",
			"line 1, column 38: window takes 2 to 4 arguments (timeColumn, windowDuration[, slideDuration[, startTime]]), got 1"},
		{"SELECT count(*) FROM events GROUP BY hop(event_time, interval '1 minute')",
			"line 1, column 38: hop takes 3 arguments (timeColumn, slide, size), got 2"},
		{"SELECT count(*) FROM events GROUP BY session_window(event_time, '5 minutes')",
			"line 1, column 38: a session window needs another grouping key (GROUP BY user_id, session_window(ts, '5 minutes')), as in Spark"},
		{"SELECT count(*) FROM events GROUP BY user_id, session_window(event_time, '5 minutes', '1 minute')",
			"line 1, column 47: session_window takes 2 arguments (timeColumn, gapDuration), got 3"},
		{"SELECT count(*) FROM events GROUP BY user_id, session_window(event_time, '0 minutes')",
			"line 1, column 74: the session gap must be positive, got 0s"},
		{"SELECT count(*) FROM events GROUP BY user_id, session_window(price, '5 minutes')",
			"line 1, column 62: session_window needs a TIMESTAMP event-time column; price is DOUBLE"},
		{"SELECT count(*) FROM events GROUP BY window(event_time, '10 minutes', '5 minutes', '5 minutes')",
			"line 1, column 84: the window startTime 5m0s must be at least 0 and less than the slide 5m0s"},
		{"SELECT count(*) FROM events GROUP BY window(event_time, interval '1' minute)",
			"line 1, column 57: write the interval's unit inside the quotes: interval '1 minute'"},
		// WINDOW as a clause is still refused by name.
		{"SELECT count(*) OVER w FROM events WINDOW w AS (PARTITION BY brand)",
			"line 1, column 36: window functions (WINDOW) are not supported"},
	}
	for _, c := range cases {
		_, err := sql.Compile(c.query, "", s)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.query, err, c.want)
		}
	}
}

// TestParseDuration covers Spark's duration strings.
func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1 minute": time.Minute, "10 seconds": 10 * time.Second, "1 hour 30 minutes": 90 * time.Minute,
		"interval 5 seconds": 5 * time.Second, "500 milliseconds": 500 * time.Millisecond, "1m30s": 90 * time.Second,
		"2 days": 48 * time.Hour, "1 week": 7 * 24 * time.Hour, "10minutes": 10 * time.Minute, "1 HOUR": time.Hour,
	} {
		if got, err := sql.ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "minutes", "1.5 minutes", "1 minute 2"} {
		if _, err := sql.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
}

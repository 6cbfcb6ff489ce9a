package dataframe

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// evalIn is evalScalar in the session time zone loc.
func evalIn(t *testing.T, loc *time.Location, e Expr) (any, error) {
	t.Helper()
	be, err := (&binder{loc: loc}).bind(e.node())
	if err != nil {
		return nil, err
	}
	ev := &evaluator{n: 1}
	return goValue(ev.eval(be, []int32{0}), 0), nil
}

// In a session time zone the date and time functions, the casts between
// TIMESTAMP and STRING or DATE and timestamp literals without an offset
// use its wall clock, as Spark does with spark.sql.session.timeZone set;
// TIMESTAMPs stay instants (shown here in UTC, as tsv). Expected values
// follow Spark's documented behaviour: America/New_York is UTC-5 until
// 2024-03-10 02:00 local, then UTC-4; Asia/Kolkata is UTC+5:30.
func TestSessionTimeZone(t *testing.T) {
	ny, err := LoadTimeZone("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	kolkata, err := LoadTimeZone("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	plus0530, err := LoadTimeZone("+05:30")
	if err != nil {
		t.Fatal(err)
	}
	z := func(s string) Expr { return L(s).Cast(Timestamp) } // with Z: an instant in any zone
	for _, c := range []struct {
		loc  *time.Location
		e    Expr
		want any
	}{
		// 06:30Z is 01:30 EST, 07:30Z is 03:30 EDT (the clocks jumped 02:00 -> 03:00)
		{ny, C("hour", z("2024-03-10T06:30:00Z")), int32(1)},
		{ny, C("hour", z("2024-03-10T07:30:00Z")), int32(3)},
		{ny, C("day", z("2024-01-01T03:00:00Z")), int32(31)},
		{ny, C("year", z("2024-01-01T03:00:00Z")), int32(2023)},
		{ny, C("dayofweek", z("2024-01-01T03:00:00Z")), int32(1)}, // Sunday 2023-12-31
		{ny, C("date_trunc", L("day"), z("2024-03-10T07:30:00Z")), tsv("2024-03-10 05:00:00")},
		{ny, C("date_trunc", L("hour"), z("2024-03-10T07:30:00Z")), tsv("2024-03-10 07:00:00")},
		{ny, C("date_trunc", L("month"), z("2024-07-01T03:00:00Z")), tsv("2024-06-01 04:00:00")},
		{ny, C("date_trunc", L("week"), z("2024-03-12T12:00:00Z")), tsv("2024-03-11 04:00:00")},
		{ny, C("date_format", z("2024-03-10T07:30:00Z"), L("yyyy-MM-dd HH:mm:ss XXX z")), "2024-03-10 03:30:00 -04:00 EDT"},
		{ny, C("date_format", z("2024-01-10T07:30:00Z"), L("HH:mm x Z")), "02:30 -05 -0500"},
		{ny, C("from_unixtime", L(int64(0))), "1969-12-31 19:00:00"},
		{ny, C("to_timestamp", L("2024-07-01 12:00:00")), tsv("2024-07-01 16:00:00")},
		{ny, C("to_timestamp", L("2024-07-01 12:00"), L("yyyy-MM-dd HH:mm")), tsv("2024-07-01 16:00:00")},
		{ny, C("to_timestamp", L("2024-07-01 12:00 +0000"), L("yyyy-MM-dd HH:mm Z")), tsv("2024-07-01 12:00:00")},
		{ny, C("unix_timestamp", L("2024-07-01 12:00:00")), int64(1719849600)},
		{ny, C("unix_timestamp", z("2024-07-01T16:00:00Z")), int64(1719849600)},
		{ny, C("to_date", z("2024-01-01T03:00:00Z")), datev("2023-12-31")},
		{ny, C("to_date", L("2024-01-01 03:00"), L("yyyy-MM-dd HH:mm")), datev("2024-01-01")},
		{ny, z("2024-01-01T03:00:00Z").Cast(Date), datev("2023-12-31")},
		{ny, z("2024-03-10T07:30:00Z").Cast(String), "2024-03-10 03:30:00"},
		{ny, L("2024-07-01").Cast(Date).Cast(Timestamp), tsv("2024-07-01 04:00:00")},
		{ny, L("2024-07-01 12:00:00").Cast(Timestamp), tsv("2024-07-01 16:00:00")},
		{ny, z("2024-07-01T16:00:00Z").Eq(L("2024-07-01 12:00:00")), true},
		{ny, C("date_add", z("2024-01-01T03:00:00Z"), L(int32(1))), datev("2024-01-01")},
		// clocks set back on 2024-11-03 at 02:00 EDT: 01:00-02:00 occurs
		// twice (05:00Z-06:00Z EDT, 06:00Z-07:00Z EST)
		{ny, C("date_trunc", L("hour"), z("2024-11-03T06:30:00Z")), tsv("2024-11-03 06:00:00")}, // 01:30 EST -> 01:00 EST
		{ny, C("date_trunc", L("hour"), z("2024-11-03T05:30:00Z")), tsv("2024-11-03 05:00:00")}, // 01:30 EDT -> 01:00 EDT
		{ny, C("date_trunc", L("day"), z("2024-11-03T06:30:00Z")), tsv("2024-11-03 04:00:00")},  // midnight EDT
		{ny, L("2024-11-03 01:30:00").Cast(Timestamp), tsv("2024-11-03 05:30:00")},              // the earlier offset
		// clocks set forward on 2024-03-10 at 02:00 EST: 02:30 does not
		// exist and moves later by the gap, to 03:30 EDT
		{ny, C("to_timestamp", L("2024-03-10 02:30:00")), tsv("2024-03-10 07:30:00")},
		{ny, C("to_timestamp", L("2024-03-10 02:30"), L("yyyy-MM-dd HH:mm")), tsv("2024-03-10 07:30:00")},
		{ny, L("2024-03-10 03:30:00").Cast(Timestamp), tsv("2024-03-10 07:30:00")},
		{ny, L("2024-03-10 01:59:00").Cast(Timestamp), tsv("2024-03-10 06:59:00")},
		{kolkata, C("date_trunc", L("hour"), z("2024-01-01T00:45:00Z")), tsv("2024-01-01 00:30:00")},
		{kolkata, C("minute", z("2024-01-01T00:45:00Z")), int32(15)},
		{plus0530, C("date_trunc", L("hour"), z("2024-01-01T00:45:00Z")), tsv("2024-01-01 00:30:00")},
		{plus0530, C("date_format", z("2024-01-01T00:45:00Z"), L("HH:mm XXX")), "06:15 +05:30"},
		// UTC (nil) is the default, unchanged
		{nil, C("hour", z("2024-03-10T07:30:00Z")), int32(7)},
		{nil, L("2024-07-01 12:00:00").Cast(Timestamp), tsv("2024-07-01 12:00:00")},
	} {
		got, err := evalIn(t, c.loc, c.e)
		if err != nil {
			t.Errorf("%s in %s: %v", c.e, zoneName(c.loc), err)
			continue
		}
		if got != c.want {
			t.Errorf("%s in %s = %#v, want %#v", c.e, zoneName(c.loc), got, c.want)
		}
	}
}

func TestLoadTimeZone(t *testing.T) {
	for name, want := range map[string]string{
		"UTC": "UTC", "Etc/UTC": "UTC", "+00:00": "UTC", "Europe/Paris": "Europe/Paris",
		"+05:30": "+05:30", "-08:00": "-08:00", "UTC+01:00": "UTC+01:00", "GMT-3": "GMT-3", "+0530": "+0530",
		"PST": "America/Los_Angeles", "IST": "Asia/Kolkata", "EST": "EST",
	} {
		loc, err := LoadTimeZone(name)
		if err != nil || zoneName(loc) != want {
			t.Errorf("LoadTimeZone(%q) = %v, %v; want %s", name, zoneName(loc), err, want)
		}
	}
	for _, bad := range []string{"", "Mars/Olympus", "+25:00", "+5:3"} {
		if _, err := LoadTimeZone(bad); err == nil || !strings.Contains(err.Error(), "time zone") && bad != "" {
			t.Errorf("LoadTimeZone(%q) = %v, want an error naming the time zone", bad, err)
		}
	}
	// The offset of a fixed zone is its own.
	loc, _ := LoadTimeZone("GMT-3")
	if _, off := time.Unix(0, 0).In(loc).Zone(); off != -3*3600 {
		t.Errorf("GMT-3 has offset %d s", off)
	}
}

// WithSessionTimeZone comes right after Source and changes the plan text
// (a query change); UTC leaves it as it was.
func TestWithSessionTimeZonePlan(t *testing.T) {
	s := must(ParseSchema("ts TIMESTAMP"))
	ny, _ := LoadTimeZone("America/New_York")
	df := Source("t", s).WithSessionTimeZone(ny).Select(C("hour", Col("ts")).As("h"))
	if df.Err() != nil || !strings.Contains(df.String(), "SessionTimeZone America/New_York") {
		t.Fatalf("plan %q, err %v", df.String(), df.Err())
	}
	if df.SessionTimeZone() != ny {
		t.Fatal("SessionTimeZone not kept by Select")
	}
	if got := Source("t", s).WithSessionTimeZone(nil).String(); got != Source("t", s).String() {
		t.Fatalf("UTC changed the plan: %q", got)
	}
	if err := Source("t", s).Select(Col("ts")).WithSessionTimeZone(ny).Err(); err == nil || !strings.Contains(err.Error(), "right after Source") {
		t.Fatalf("late WithSessionTimeZone: %v", err)
	}
}

// A plan with a session time zone parses back to the same plan.
func TestSessionTimeZonePlanParses(t *testing.T) {
	s := must(ParseSchema("ts TIMESTAMP"))
	for _, name := range []string{"America/New_York", "+05:30"} {
		loc, _ := LoadTimeZone(name)
		df := Source("t", s).WithSessionTimeZone(loc).Select(C("hour", Col("ts")).As("h"))
		back, err := ParsePlan(df.String())
		if err != nil || back.String() != df.String() || zoneName(back.SessionTimeZone()) != name {
			t.Fatalf("%s: ParsePlan(%q) = %v, %v", name, df.String(), back, err)
		}
	}
}

// A source timestamp without an offset is read on the decoder's TimeZone
// (the session time zone), one with an offset or Z, or epoch milliseconds,
// as the instant it names; JSON and CSV alike.
func TestDecoderTimeZone(t *testing.T) {
	ny, _ := LoadTimeZone("America/New_York")
	s := must(ParseSchema("ts TIMESTAMP"))
	want := []string{"2024-07-01 16:00:00", "2024-07-01 12:00:00", "2024-07-01 12:00:00", "2024-01-01 05:00:00"}
	for _, c := range []struct {
		f    Format
		recs []string
	}{
		{FormatJSON, []string{`{"ts":"2024-07-01 12:00:00"}`, `{"ts":"2024-07-01T12:00:00Z"}`, `{"ts":1719835200000}`, `{"ts":"2024-01-01"}`}},
		{FormatCSV, []string{`2024-07-01 12:00:00`, `2024-07-01 08:00:00-04:00`, `1719835200000`, `2024-01-01`}},
	} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		d, err := NewDecoder(mem, s, DecoderOptions{Format: c.f, Mode: FailFast, Columns: []string{"ts"}, TimeZone: ny})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range c.recs {
			if err := d.Append(nil, []byte(r)); err != nil {
				t.Fatalf("%v %s: %v", c.f, r, err)
			}
		}
		rec := d.Flush()
		col := rec.Column(0).(*array.Timestamp)
		for i, w := range want {
			if got := FormatTimestamp(int64(col.Value(i))); got != w {
				t.Errorf("%v %s: %s, want %s (UTC)", c.f, c.recs[i], got, w)
			}
		}
		rec.Release()
		d.Release()
	}
}

// A grouping key or aggregate that reads wall-clock time, or a TIMESTAMP
// source column (decoded in the zone when its text gives no offset),
// carries its session time zone in the state's shape, so a changed zone
// is a refused state change; Kafka's _timestamp, other keys and
// aggregates, and every one in UTC, do not.
func TestSessionTimeZoneShape(t *testing.T) {
	s := must(ParseSchema("ts TIMESTAMP, page STRING"))
	ny, _ := LoadTimeZone("America/New_York")
	for _, loc := range []*time.Location{nil, ny} {
		df := Source("t", s).WithSessionTimeZone(loc).
			GroupBy(C("date_trunc", L("day"), Col("ts")), Col("page")).
			Agg(Max(C("hour", Col("ts"))), Count(), Min(Col("ts").Gt(L("2024-01-01 00:00:00")).Cast(Int32)), Max(Col("_timestamp")))
		p, err := Compile(df, Complete)
		if err != nil {
			t.Fatal(err)
		}
		keys, aggs := strings.Join(p.GroupKeys(), "; "), strings.Join(p.Aggregates(), "; ")
		wantKeys := `date_trunc('day', ts TIMESTAMP); page STRING`
		wantAggs := `max(hour(ts TIMESTAMP)); count(*); min(CAST((ts TIMESTAMP > TIMESTAMP '2024-01-01T00:00:00Z') AS INT)); max(_timestamp TIMESTAMP)`
		if loc != nil {
			// the column (decoded in the zone when its text gives none)
			// and the functions of wall-clock time; a literal's text is
			// its instant
			wantKeys = `date_trunc('day', ts TIMESTAMP AT TIME ZONE 'America/New_York') AT TIME ZONE 'America/New_York'; page STRING`
			wantAggs = `max(hour(ts TIMESTAMP AT TIME ZONE 'America/New_York') AT TIME ZONE 'America/New_York'); count(*); ` +
				`min(CAST((ts TIMESTAMP AT TIME ZONE 'America/New_York' > TIMESTAMP '2024-01-01T05:00:00Z') AS INT)); max(_timestamp TIMESTAMP)`
		}
		if keys != wantKeys || aggs != wantAggs {
			t.Errorf("%s:\n keys %s\n want %s\n aggs %s\n want %s", zoneName(loc), keys, wantKeys, aggs, wantAggs)
		}
	}
}

// date_add takes a whole number of days, as Spark's: a DOUBLE is refused.
func TestDateAddDays(t *testing.T) {
	if _, err := evalIn(t, nil, C("date_add", L("2024-01-01").Cast(Date), L(1.5))); err == nil || !strings.Contains(err.Error(), "argument 2 must be an integer number of days, got 1.5D of type DOUBLE") {
		t.Fatalf("date_add(d, 1.5): %v", err)
	}
	if got, err := evalIn(t, nil, C("date_add", L("2024-01-01").Cast(Date), L(int64(2)))); err != nil || got != datev("2024-01-03") {
		t.Fatalf("date_add(d, 2L) = %v, %v", got, err)
	}
}

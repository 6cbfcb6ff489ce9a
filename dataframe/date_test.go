package dataframe

import (
	"bytes"
	"errors"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestDateParseFormat(t *testing.T) {
	for _, c := range []struct {
		in   string
		days int32
		ok   bool
	}{
		{"1970-01-01", 0, true},
		{"1969-12-31", -1, true},
		{"2000-02-29", 11016, true},
		{"2024-03-01", 19783, true},
		{"0001-01-01", -719162, true},
		{"9999-12-31", 2932896, true},
		{"1900-02-29", 0, false}, // not a leap year
		{"2023-13-01", 0, false},
		{"2023-00-10", 0, false},
		{"2023-1-10", 0, false}, // a field is exactly yyyy-MM-dd
		{"2023-01-10 00:00:00", 0, false},
		{"0000-01-01", 0, false},
		{"", 0, false},
	} {
		d, ok := parseDate([]byte(c.in))
		if ok != c.ok || ok && d != c.days {
			t.Errorf("parseDate(%q) = %d, %v; want %d, %v", c.in, d, ok, c.days, c.ok)
		}
		if ok && formatDate(d) != c.in {
			t.Errorf("formatDate(%d) = %q, want %q", d, formatDate(d), c.in)
		}
	}
	// Every day of 1900-2100 round-trips through text.
	for d := int32(-25567); d < 47482; d++ {
		back, ok := parseDate([]byte(formatDate(d)))
		if !ok || back != d {
			t.Fatalf("day %d: %q parses to %d, %v", d, formatDate(d), back, ok)
		}
	}
}

// Expected values are Spark 3.5's (spark.sql.ansi.enabled=false,
// spark.sql.session.timeZone=UTC).
func TestDateCasts(t *testing.T) {
	ts := func(s string) Expr { return L(s).Cast(Timestamp) }
	d := func(s string) Expr { return L(s).Cast(Date) }
	runFuncCases(t, []funcCase{
		{d("2024-03-01"), datev("2024-03-01")},
		{d(" 2024-03-01 "), datev("2024-03-01")},
		{d("2024-3-1"), datev("2024-03-01")},
		{d("2024-03"), datev("2024-03-01")},
		{d("2024"), datev("2024-01-01")},
		{d("2024-03-01 12:34:56"), datev("2024-03-01")},
		{d("2024-03-01T12:34:56Z"), datev("2024-03-01")},
		{d("2024-02-30"), nil},
		{d("2024-03-01x"), nil},
		{d("24-03-01"), nil},
		{d("March 1"), nil},
		{d(""), nil},
		{null.Cast(Date), nil},
		{ts("2024-03-01 23:59:59.999999").Cast(Date), datev("2024-03-01")},
		{ts("1969-12-31 23:59:59").Cast(Date), datev("1969-12-31")}, // floor, not truncation toward zero
		{d("2024-03-01").Cast(Timestamp), tsv("2024-03-01 00:00:00")},
		{d("1969-12-31").Cast(Timestamp), tsv("1969-12-31 00:00:00")},
		{d("2024-03-01").Cast(String), "2024-03-01"},
		{d("0001-01-01").Cast(String), "0001-01-01"},
		{d("2024-03-01").Cast(Int32), "error: cannot cast"},
		{L(1).Cast(Date), "error: cannot cast"},
		{L(true).Cast(Date), "error: cannot cast"},
		{d("2024-03-01").Cast(Float64), "error: cannot cast"},
		// Comparisons: DATE with DATE, with a string (cast to DATE), with a
		// TIMESTAMP (the DATE as its midnight).
		{d("2024-03-01").Lt(d("2024-03-02")), true},
		{d("2024-03-01").Eq(L("2024-03-01")), true},
		{d("2024-03-01").Eq(L("2024-3-1")), true},
		{d("2024-03-01").Gt(L("2024-02-29")), true},
		{d("2024-03-01").Eq(ts("2024-03-01 00:00:00")), true},
		{d("2024-03-01").Lt(ts("2024-03-01 00:00:01")), true},
		{d("2024-03-01").Eq(null), nil},
		{d("2024-03-01").Eq(L("not a date")), "error: is not a date"},
		{d("2024-03-01").Eq(L(1)), "error: cannot compare"},
		{d("2024-03-01").Add(L(1)), "error: needs numbers"},
		{When(L(true), d("2024-03-01")).Otherwise(null), datev("2024-03-01")},
		{C("coalesce", null, d("2024-03-01")), datev("2024-03-01")},
		{C("coalesce", null, ts("2024-03-01 01:00:00")), tsv("2024-03-01 01:00:00")},
		{C("greatest", d("2024-03-01"), d("2024-03-05")), datev("2024-03-05")},
		{C("concat", L("d="), d("2024-03-01")), "d=2024-03-01"},
	})
}

func TestDateDecoding(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "id BIGINT, d DATE")
	if s.Fields[1].Type != Date || !arrow.TypeEqual(Date.Arrow(), arrow.FixedWidthTypes.Date32) || Date.String() != "DATE" {
		t.Fatalf("schema %+v, Arrow %v", s.Fields, Date.Arrow())
	}
	opts := DecoderOptions{Format: FormatJSON, Columns: []string{"id", "d"}}
	rec, st, err := decodeAll(t, mem, s, opts,
		`{"id":1,"d":"2024-03-01"}`, `{"id":2,"d":null}`, `{"id":3}`, `{"id":4,"d":"1969-12-31"}`)
	if err != nil {
		t.Fatal(err)
	}
	if st != (DecodeStats{Rows: 4}) {
		t.Errorf("stats %+v", st)
	}
	equalRows(t, rows(t, rec), [][]any{{int64(1), "2024-03-01"}, {int64(2), nil}, {int64(3), nil}, {int64(4), "1969-12-31"}})
	rec.Release()

	csvOpts := DecoderOptions{Format: FormatCSV, Columns: []string{"id", "d"}}
	rec, _, err = decodeAll(t, mem, s, csvOpts, `1,2024-03-01`, `2,`, `3,0001-01-01`)
	if err != nil {
		t.Fatal(err)
	}
	equalRows(t, rows(t, rec), [][]any{{int64(1), "2024-03-01"}, {int64(2), nil}, {int64(3), "0001-01-01"}})
	rec.Release()

	// Malformed values follow mode, with the column and the value named.
	for _, c := range []struct {
		format Format
		in     string
		err    string
	}{
		{FormatJSON, `{"d":"2024-02-30"}`, `malformed record at t-0 offset 0: column "d": invalid date "2024-02-30" (want yyyy-MM-dd) (mode FAILFAST)`},
		{FormatJSON, `{"d":"2024-3-1"}`, `malformed record at t-0 offset 0: column "d": invalid date "2024-3-1" (want yyyy-MM-dd) (mode FAILFAST)`},
		{FormatJSON, `{"d":20240301}`, `malformed record at t-0 offset 0: column "d": expected a yyyy-MM-dd string for DATE, got a number (mode FAILFAST)`},
		{FormatCSV, `1,2024/03/01`, `malformed record at t-0 offset 0: column "d": invalid date "2024/03/01" (want yyyy-MM-dd) (mode FAILFAST)`},
	} {
		rec, _, err := decodeAll(t, mem, s, DecoderOptions{Format: c.format, Mode: FailFast}, c.in)
		if rec != nil {
			rec.Release()
		}
		var me *MalformedRecordError
		if !errors.As(err, &me) || err.Error() != c.err {
			t.Errorf("%q:\n got %v\nwant %s", c.in, err, c.err)
		}
	}
	in := []string{`{"id":1,"d":"2024-03-01"}`, `{"id":2,"d":"yesterday"}`}
	rec, st, err = decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Mode: Permissive, Columns: []string{"id", "d", "_corrupt_record"}}, in...)
	if err != nil {
		t.Fatal(err)
	}
	if st != (DecodeStats{Rows: 2, Corrupt: 1}) {
		t.Errorf("stats %+v", st)
	}
	equalRows(t, rows(t, rec), [][]any{{int64(1), "2024-03-01", nil}, {nil, nil, in[1]}})
	rec.Release()
	rec, st, _ = decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Mode: DropMalformed, Columns: []string{"id", "d"}}, in...)
	if st != (DecodeStats{Rows: 1, Dropped: 1}) {
		t.Errorf("stats %+v", st)
	}
	equalRows(t, rows(t, rec), [][]any{{int64(1), "2024-03-01"}})
	rec.Release()
}

func TestDateRendering(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "d DATE")
	rec, _, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Columns: []string{"d"}}, `{"d":"2024-03-01"}`, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	col := rec.Column(0)
	if got := TextValue(col, 0); got != "2024-03-01" {
		t.Errorf("TextValue %q", got)
	}
	if got := JSONValue(col, 0); got != `"2024-03-01"` {
		t.Errorf("JSONValue %q", got)
	}
	if got := JSONValue(col, 1); got != `null` {
		t.Errorf("JSONValue of NULL %q", got)
	}
}

// A DATE group key: grouped, aggregated (min, max, first, collect_set,
// percentile_approx), persisted and restored byte for byte.
func TestDateGroupByAndState(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "d DATE, n BIGINT, e DATE")
	df := Source("ev", s).GroupBy(Col("d")).Agg(Count().As("c"), Min(Col("e")).As("lo"), Max(Col("e")).As("hi"),
		Aggregate("first", Col("e")).As("f"), Aggregate("collect_set", Col("e")).As("set"), Aggregate("percentile_approx", Col("e"), L(0.5)).As("med"))
	p, err := Compile(df, Update)
	if err != nil {
		t.Fatal(err)
	}
	vals := []string{
		`{"d":"2024-03-01","n":1,"e":"2024-01-03"}`,
		`{"d":"2024-03-01","n":2,"e":"2024-01-01"}`,
		`{"d":"1969-12-31","n":3,"e":"1969-12-31"}`,
		`{"n":4,"e":"2000-02-29"}`,
		`{"d":"2024-03-01","n":5,"e":"2024-01-02"}`,
	}
	st := p.NewState(mem)
	release(runTasks(t, mem, p, s, FormatJSON, vals, 2, 2, st))
	want := [][]any{
		{nil, int64(1), "2000-02-29", "2000-02-29", "2000-02-29", `["2000-02-29"]`, "2000-02-29"},
		{"1969-12-31", int64(1), "1969-12-31", "1969-12-31", "1969-12-31", `["1969-12-31"]`, "1969-12-31"},
		{"2024-03-01", int64(3), "2024-01-01", "2024-01-03", "2024-01-03", `["2024-01-01","2024-01-02","2024-01-03"]`, "2024-01-02"},
	}
	equalRows(t, result(t, st, false), want)

	restored := p.NewState(mem)
	var saved [][2][]byte
	if err := st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
		saved = append(saved, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		return restored.Restore(k, v)
	}); err != nil {
		t.Fatal(err)
	}
	equalRows(t, result(t, restored, false), want)
	restored.ht.markChanged(0)
	i := 0
	restored.Changes(nil, func(_ uint16, k, v []byte, _ bool) error {
		if !bytes.Equal(k, saved[i][0]) || !bytes.Equal(v, saved[i][1]) {
			t.Errorf("entry %d re-encodes differently", i)
		}
		i++
		return nil
	})
}

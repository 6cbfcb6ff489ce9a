package dataframe

import (
	"errors"
	"slices"
	"testing"
)

// The _corrupt_record column holds the raw value of a malformed record and
// NULL for a well-formed one, in PERMISSIVE mode, for JSON and CSV.
func TestCorruptRecordColumn(t *testing.T) {
	mem := newMem(t)
	defer mem.AssertSize(t, 0)
	s := mustSchema(t, "a STRING, n BIGINT")
	cols := []string{"a", "n", ColCorruptRecord, "_offset"}
	for _, c := range []struct {
		format Format
		in     []string
		want   [][]any
	}{
		{FormatJSON, []string{`{"a":"x","n":1}`, `{"a":"y","n":"bad"}`, `nope`, ``, `{"a":"z","n":3}`}, [][]any{
			{"x", int64(1), nil, int64(0)},
			{nil, nil, `{"a":"y","n":"bad"}`, int64(1)},
			{nil, nil, "nope", int64(2)},
			{nil, nil, "", int64(3)},
			{"z", int64(3), nil, int64(4)},
		}},
		// CSV: the record's line end is framing, not part of the value.
		{FormatCSV, []string{"x,1\n", "y,bad\n", "\"open,2", "only", "z,3"}, [][]any{
			{"x", int64(1), nil, int64(0)},
			{nil, nil, "y,bad", int64(1)},
			{nil, nil, "\"open,2", int64(2)},
			{nil, nil, "only", int64(3)},
			{"z", int64(3), nil, int64(4)},
		}},
	} {
		rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: c.format, Columns: cols}, c.in...)
		if err != nil {
			t.Fatal(err)
		}
		if st != (DecodeStats{Rows: 5, Corrupt: 3}) {
			t.Errorf("%v: stats %+v", c.format, st)
		}
		equalRows(t, rows(t, rec), c.want)
		rec.Release()
	}
	// Nil Columns: every column there is in the mode.
	d, err := NewDecoder(mem, s, DecoderOptions{Format: FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	d.Append(nil, []byte(`{`))
	rec := d.Flush()
	if n := rec.Schema().Field(int(rec.NumCols()) - 1).Name; n != ColCorruptRecord || rows(t, rec)[0][rec.NumCols()-1] != "{" {
		t.Errorf("last column %s: %v", n, rows(t, rec))
	}
	rec.Release()
	d.Release()
	d, err = NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Mode: DropMalformed})
	if err != nil {
		t.Fatal(err)
	}
	d.Append(nil, []byte(`{}`))
	rec = d.Flush()
	if n := rec.Schema().Field(int(rec.NumCols()) - 1).Name; n != ColKey {
		t.Errorf("DROPMALFORMED: last column %s", n)
	}
	rec.Release()
	d.Release()
}

// Outside PERMISSIVE there is no _corrupt_record: asking for it is an
// error naming the mode.
func TestCorruptRecordOtherModes(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "a STRING")
	for mode, want := range map[Mode]string{
		DropMalformed: "dataframe: invalid option: column _corrupt_record exists only in PERMISSIVE mode, not in DROPMALFORMED (a malformed record is dropped)",
		FailFast:      "dataframe: invalid option: column _corrupt_record exists only in PERMISSIVE mode, not in FAILFAST (a malformed record is an error)",
	} {
		d, err := NewDecoder(mem, s, DecoderOptions{Format: FormatCSV, Mode: mode, Columns: []string{"a", "_corrupt_record"}})
		if d != nil || !errors.Is(err, ErrOptions) || err.Error() != want {
			t.Errorf("%v: %v", mode, err)
		}
	}
	if _, err := ParseSchema("a STRING, _corrupt_record STRING"); err == nil {
		t.Error("_corrupt_record accepted as a schema field")
	}
}

// The column is a source column like the others: a query filters on it,
// and only a query that reads it makes the decoder materialise it.
func TestCorruptRecordQuery(t *testing.T) {
	mem := newMem(t)
	defer mem.AssertSize(t, 0)
	s := mustSchema(t, "a STRING, n BIGINT")
	df := Source("events", s).Filter(Col(ColCorruptRecord).IsNotNull()).Select(Col("_offset"), Col(ColCorruptRecord))
	prog, err := Compile(df, Append)
	if err != nil {
		t.Fatal(err)
	}
	if got := prog.InputColumns(); !slices.Equal(got, []string{ColCorruptRecord, "_offset"}) {
		t.Errorf("InputColumns %v", got)
	}
	plain, err := Compile(Source("events", s).Select(Col("a")), Append)
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.InputColumns(); slices.Contains(got, ColCorruptRecord) {
		t.Errorf("InputColumns %v", got)
	}
	rec, _, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Columns: prog.InputColumns()},
		`{"a":"x","n":1}`, `{"n":true}`, `{"a":"z"}`, `[1]`)
	if err != nil {
		t.Fatal(err)
	}
	task := prog.NewTask(mem)
	err = task.Consume(rec)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	var got [][]any
	for _, r := range task.Output() {
		got = append(got, rows(t, r)...)
		r.Release()
	}
	task.Release()
	equalRows(t, got, [][]any{{int64(1), `{"n":true}`}, {int64(3), "[1]"}})
}

// A field the query does not read still makes a record corrupt when it
// fails to decode, in CSV as in JSON; it is not output.
func TestCorruptRecordUnreadField(t *testing.T) {
	mem := newMem(t)
	defer mem.AssertSize(t, 0)
	s := mustSchema(t, "a STRING, n BIGINT")
	rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatCSV, Columns: []string{ColCorruptRecord}}, "x,1", "y,true", "z,")
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumCols() != 1 || st != (DecodeStats{Rows: 3, Corrupt: 1}) {
		t.Errorf("%d columns, stats %+v", rec.NumCols(), st)
	}
	equalRows(t, rows(t, rec), [][]any{{nil}, {"y,true"}, {nil}})
}

// With DecoderOptions.EventTime, a record whose event time is NULL or
// absent is malformed, in JSON and in CSV (whose well-formed records take
// the short path), per the mode; a bad EventTime is refused.
func TestEventTimeNullMalformed(t *testing.T) {
	mem := newMem(t)
	defer mem.AssertSize(t, 0)
	s := mustSchema(t, "ts TIMESTAMP, n BIGINT")
	cases := map[Format][]string{
		FormatJSON: {`{"ts":"2024-01-01T00:00:00Z","n":1}`, `{"ts":null,"n":2}`, `{"n":3}`, `{"ts":"2024-01-01T00:00:01Z"}`},
		FormatCSV:  {"2024-01-01T00:00:00Z,1", ",2", "", "2024-01-01T00:00:01Z,"},
	}
	for format, in := range cases {
		rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: format, Columns: []string{"ts", "n"}, EventTime: "TS"}, in...)
		if err != nil {
			t.Fatal(err)
		}
		if st != (DecodeStats{Rows: 4, Corrupt: 2}) {
			t.Errorf("%v PERMISSIVE: stats %+v", format, st)
		}
		rec.Release()
		rec, st, err = decodeAll(t, mem, s, DecoderOptions{Format: format, Mode: DropMalformed, Columns: []string{"ts", "n"}, EventTime: "ts"}, in...)
		if err != nil {
			t.Fatal(err)
		}
		if st != (DecodeStats{Rows: 2, Dropped: 2}) || rec.NumRows() != 2 {
			t.Errorf("%v DROPMALFORMED: stats %+v", format, st)
		}
		rec.Release()
		rec, _, err = decodeAll(t, mem, s, DecoderOptions{Format: format, Mode: FailFast, Columns: []string{"ts", "n"}, EventTime: "ts"}, in...)
		if err == nil || err.Error() != `malformed record at t-0 offset 1: column "ts": NULL event time (the watermark's eventTime column) (mode FAILFAST)` {
			t.Errorf("%v FAILFAST: %v", format, err)
		}
		if rec != nil {
			rec.Release()
		}
	}
	for _, et := range []string{"n", "nope", "_timestamp"} {
		_, err := NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Columns: []string{"ts", "n", "_timestamp"}, EventTime: et})
		if want := "dataframe: invalid option: EventTime " + quoteName(et) + " is not a TIMESTAMP schema field among the decoded columns"; err == nil || err.Error() != want {
			t.Errorf("EventTime %s: %v", et, err)
		}
	}
}

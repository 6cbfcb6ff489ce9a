package dataframe

import (
	"errors"
	"testing"
)

const ecommerceDDL = "event_time TIMESTAMP, event_type STRING, product_id BIGINT, category_id BIGINT, category_code STRING, brand STRING, price DOUBLE, user_id BIGINT, user_session STRING"

func TestCSVDecoderEcommerce(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, ecommerceDDL)
	rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatCSV, Columns: []string{"event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price", "user_id", "user_session"}},
		"2019-11-01 00:00:01 UTC,view,17302664,2053013553853497655,,creed,28.31,561587266,755422e7-9040-477b-9bd2-6a6e8fd97387\n",
		"2019-11-01T00:00:02Z,purchase,1,-2,\"electronics,smartphone\",\"say \"\"hi\"\"\",1e2,3,\"\"\r\n",
		"1572566403000,cart,,,,,,,",
	)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if st != (DecodeStats{Rows: 3}) {
		t.Errorf("stats %+v", st)
	}
	equalRows(t, rows(t, rec), [][]any{
		{ts("2019-11-01T00:00:01Z"), "view", int64(17302664), int64(2053013553853497655), nil, "creed", 28.31, int64(561587266), "755422e7-9040-477b-9bd2-6a6e8fd97387"},
		{ts("2019-11-01T00:00:02Z"), "purchase", int64(1), int64(-2), "electronics,smartphone", `say "hi"`, 100.0, int64(3), ""},
		{ts("2019-11-01T00:00:03Z"), "cart", nil, nil, nil, nil, nil, nil, nil},
	})
}

func TestCSVDecoderTypesHeaderDelimiter(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, allTypesDDL)
	rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatCSV, CSVHeader: true, CSVDelimiter: ';', Columns: []string{"_offset", "s", "i", "l", "d", "b", "t"}},
		"s;i;l;d;b;t",
		`"a;""b""";-5;7;0.5;TRUE;2024-01-01T00:00:00+02:00`,
		`"s";i;l;"d";b;t`,
		`"";;;;false;`,
	)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if st != (DecodeStats{Rows: 2}) {
		t.Errorf("stats %+v", st)
	}
	equalRows(t, rows(t, rec), [][]any{
		{int64(1), `a;"b"`, int32(-5), int64(7), 0.5, true, ts("2023-12-31T22:00:00Z")},
		{int64(3), "", nil, nil, nil, false, nil},
	})
}

func TestCSVDecoderMalformed(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "a STRING, n INT, d DOUBLE")
	for _, c := range []struct{ in, err string }{
		{`x,1`, `malformed record at t-0 offset 0: expected 3 fields, got 2 (mode FAILFAST)`},
		{`x,1,2,3`, `malformed record at t-0 offset 0: expected 3 fields, got 4 (mode FAILFAST)`},
		{``, `malformed record at t-0 offset 0: expected 3 fields, got 1 (mode FAILFAST)`},
		{`x,one,2`, `malformed record at t-0 offset 0: column "n": not an integer for INT: "one" (mode FAILFAST)`},
		{`x,3000000000,2`, `malformed record at t-0 offset 0: column "n": integer out of range for INT: "3000000000" (mode FAILFAST)`},
		{`x,1,2.5.1`, `malformed record at t-0 offset 0: column "d": not a DOUBLE: "2.5.1" (mode FAILFAST)`},
		{`"x,1,2`, `malformed record at t-0 offset 0: invalid CSV: unterminated quoted field (field 1) (mode FAILFAST)`},
		{`"x"y,1,2`, `malformed record at t-0 offset 0: invalid CSV: unexpected 'y' after a closing quote (field 1) (mode FAILFAST)`},
		{`x"y,1,2`, `malformed record at t-0 offset 0: invalid CSV: quote inside an unquoted field (field 1) (mode FAILFAST)`},
		{"\xff,1,2", `malformed record at t-0 offset 0: column "a": invalid UTF-8 (mode FAILFAST)`},
		{`a,n,d`, `malformed record at t-0 offset 0: column "n": not an integer for INT: "n" (mode FAILFAST)`}, // no CSVHeader
	} {
		rec, _, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatCSV, Mode: FailFast}, c.in)
		if rec != nil {
			rec.Release()
		}
		var me *MalformedRecordError
		if !errors.As(err, &me) || err.Error() != c.err {
			t.Errorf("%q:\n got %v\nwant %s", c.in, err, c.err)
		}
	}
	// PERMISSIVE keeps NULL rows; projection skips conversion of unused fields.
	rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatCSV, Columns: []string{"a", "_partition"}}, `x,bad,2`, `y,1`, `z,1,1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if st != (DecodeStats{Rows: 3, Corrupt: 1}) {
		t.Errorf("stats %+v", st)
	}
	equalRows(t, rows(t, rec), [][]any{{"x", int32(0)}, {nil, int32(0)}, {"z", int32(0)}})
}

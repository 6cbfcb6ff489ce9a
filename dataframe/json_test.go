package dataframe

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

const allTypesDDL = "s STRING, i INT, l BIGINT, d DOUBLE, b BOOLEAN, t TIMESTAMP"

func TestJSONDecoderTypes(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, allTypesDDL)
	rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON},
		`{"s":"a\"b\\c\u00e9\ud83d\ude00","i":-2147483648,"l":9223372036854775807,"d":1.5e3,"b":true,"t":"2024-01-01T00:00:00Z"}`,
		`  {"t":1704067200123,"b":false,"d":-0.25,"l":-1,"i":7,"s":""}  `,
		`{"s":null,"i":null,"l":null,"d":null,"b":null,"t":null,"extra":{"a":[1,{"b":null}],"c":"x"}}`,
		`{}`,
		`{"s":42,"d":3,"t":"2019-11-01 00:00:01 UTC"}`,
		`{"s":{"x":[1, 2]},"d":"NaN","t":"1572566401000"}`, // epoch ms as text, as in CSV
	)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if st != (DecodeStats{Rows: 6}) {
		t.Errorf("stats %+v", st)
	}
	got := rows(t, rec)
	// NaN != NaN: check and clear it before comparing.
	if f, ok := got[5][3].(float64); !ok || !math.IsNaN(f) {
		t.Errorf("NaN: %v", got[5][3])
	}
	got[5][3] = nil
	k := func(i int) string { return "k" + string(rune('0'+i)) }
	meta := func(i int) []any {
		return []any{"t", int32(0), int64(i), time.UnixMilli(1700000000000 + int64(i)).UTC(), k(i), nil}
	}
	row := func(vals []any, i int) []any { return append(vals, meta(i)...) }
	equalRows(t, got, [][]any{
		row([]any{"a\"b\\c\u00e9\U0001F600", int32(math.MinInt32), int64(math.MaxInt64), 1500.0, true, ts("2024-01-01T00:00:00Z")}, 0),
		row([]any{"", int32(7), int64(-1), -0.25, false, ts("2024-01-01T00:00:00.123Z")}, 1),
		row([]any{nil, nil, nil, nil, nil, nil}, 2),
		row([]any{nil, nil, nil, nil, nil, nil}, 3),
		row([]any{"42", nil, nil, 3.0, nil, ts("2019-11-01T00:00:01Z")}, 4),
		row([]any{`{"x":[1, 2]}`, nil, nil, nil, nil, ts("2019-11-01T00:00:01Z")}, 5),
	})
}

func TestJSONDecoderNestedAndProjection(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "data.page STRING, data.meta.n BIGINT, user STRING, unused DOUBLE")
	rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Columns: []string{"_offset", "data.meta.n", "data.page", "user"}},
		`{"user":"u1","data":{"page":"/a","meta":{"n":5,"skip":[1,2]}},"unused":"not a number"}`,
		`{"data":{"meta":null},"user":"u2"}`,
		`{"data":null}`,
		`{"data.page":"/literal","user":"u3"}`,
		`{"data":{"page":"/b"},"data":{"meta":{"n":6}}}`,
	)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if st != (DecodeStats{Rows: 5}) {
		t.Errorf("stats %+v", st)
	}
	if got := rec.Schema().String(); got != "schema:\n  fields: 4\n    - _offset: type=int64, nullable\n    - data.meta.n: type=int64, nullable\n    - data.page: type=utf8, nullable\n    - user: type=utf8, nullable" {
		t.Errorf("schema %s", got)
	}
	equalRows(t, rows(t, rec), [][]any{
		{int64(0), int64(5), "/a", "u1"},
		{int64(1), nil, nil, "u2"},
		{int64(2), nil, nil, nil},
		{int64(3), nil, "/literal", "u3"},
		{int64(4), int64(6), "/b", nil},
	})
}

// malformedJSON pairs a record with the reason FAILFAST reports.
var malformedJSON = []struct{ in, err string }{
	{``, `malformed record at t-0 offset 0: empty record (mode FAILFAST)`},
	{`[1]`, `malformed record at t-0 offset 0: not a JSON object (mode FAILFAST)`},
	{`{"s":"x"`, `malformed record at t-0 offset 0: invalid JSON: unexpected end in an object (mode FAILFAST)`},
	{`{"s":"x"} x`, `malformed record at t-0 offset 0: invalid JSON: unexpected 'x' at byte 10 after the object (mode FAILFAST)`},
	{`{"i":"5"}`, `malformed record at t-0 offset 0: column "i": expected an integer for INT, got a string (mode FAILFAST)`},
	{`{"i":1.5}`, `malformed record at t-0 offset 0: column "i": expected an integer for INT, got "1.5" (mode FAILFAST)`},
	{`{"i":2147483648}`, `malformed record at t-0 offset 0: column "i": integer out of range for INT: 2147483648 (mode FAILFAST)`},
	{`{"l":9223372036854775808}`, `malformed record at t-0 offset 0: column "l": integer out of range for BIGINT: 9223372036854775808 (mode FAILFAST)`},
	{`{"d":"1.5"}`, `malformed record at t-0 offset 0: column "d": expected a number for DOUBLE, got a string (mode FAILFAST)`},
	{`{"d":1e999}`, `malformed record at t-0 offset 0: column "d": number out of range for DOUBLE: 1e999 (mode FAILFAST)`},
	{`{"b":1}`, `malformed record at t-0 offset 0: column "b": expected a boolean for BOOLEAN, got a number (mode FAILFAST)`},
	{`{"t":"yesterday"}`, `malformed record at t-0 offset 0: column "t": invalid timestamp "yesterday" (mode FAILFAST)`},
	{`{"t":true}`, `malformed record at t-0 offset 0: column "t": expected a timestamp string or epoch milliseconds for TIMESTAMP, got a boolean (mode FAILFAST)`},
	{`{"x":[1,}`, `malformed record at t-0 offset 0: invalid JSON: unexpected '}' at byte 8 where a value was expected (mode FAILFAST)`},
	{`{"x":01}`, `malformed record at t-0 offset 0: invalid JSON: unexpected '1' at byte 6 in an object (mode FAILFAST)`},
	{`{"s":"a\qb"}`, `malformed record at t-0 offset 0: invalid JSON: bad escape \q (mode FAILFAST)`},
	{"{\"s\":\"a\nb\"}", `malformed record at t-0 offset 0: invalid JSON: control character in a string at byte 7 (mode FAILFAST)`},
	{"{\"s\":\"\xff\"}", `malformed record at t-0 offset 0: invalid UTF-8 in a JSON string (mode FAILFAST)`},
	{`{s:1}`, `malformed record at t-0 offset 0: invalid JSON: unexpected 's' at byte 1 where an object key was expected (mode FAILFAST)`},
	{`{"i":tru}`, `malformed record at t-0 offset 0: invalid JSON: unexpected 't' at byte 5 where a value was expected (mode FAILFAST)`},
}

func TestJSONDecoderFailFast(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, allTypesDDL)
	for _, c := range malformedJSON {
		rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Mode: FailFast}, c.in)
		if rec != nil {
			rec.Release()
			t.Errorf("%q: got a row", c.in)
		}
		var me *MalformedRecordError
		if !errors.As(err, &me) || err.Error() != c.err {
			t.Errorf("%q:\n got %v\nwant %s", c.in, err, c.err)
		}
		if st != (DecodeStats{}) {
			t.Errorf("%q: stats %+v", c.in, st)
		}
	}
	// The error names the record's own topic, partition and offset.
	d, _ := NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Mode: FailFast})
	defer d.Release()
	err := d.Append(&RecordMeta{Topic: "clicks", Partition: 3, Offset: 42}, []byte(`{"b":"yes"}`))
	var me *MalformedRecordError
	if !errors.As(err, &me) || *me != (MalformedRecordError{Topic: "clicks", Partition: 3, Offset: 42, Column: "b", Reason: "expected a boolean for BOOLEAN, got a string", Mode: FailFast}) {
		t.Errorf("%#v", err)
	}
	if err.Error() != `malformed record at clicks-3 offset 42: column "b": expected a boolean for BOOLEAN, got a string (mode FAILFAST)` {
		t.Error(err)
	}
}

func TestJSONDecoderPermissiveAndDrop(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "a STRING, n BIGINT")
	in := []string{`{"a":"x","n":1}`, `{"a":"y","n":"bad"}`, `nope`, `{"a":"z","n":3}`}
	rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Mode: Permissive, Columns: []string{"a", "n", "_offset"}}, in...)
	if err != nil {
		t.Fatal(err)
	}
	if st != (DecodeStats{Rows: 4, Corrupt: 2}) {
		t.Errorf("stats %+v", st)
	}
	equalRows(t, rows(t, rec), [][]any{{"x", int64(1), int64(0)}, {nil, nil, int64(1)}, {nil, nil, int64(2)}, {"z", int64(3), int64(3)}})
	rec.Release()

	rec, st, err = decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Mode: DropMalformed, Columns: []string{"a", "n", "_offset"}}, in...)
	if err != nil {
		t.Fatal(err)
	}
	if st != (DecodeStats{Rows: 2, Dropped: 2}) {
		t.Errorf("stats %+v", st)
	}
	equalRows(t, rows(t, rec), [][]any{{"x", int64(1), int64(0)}, {"z", int64(3), int64(3)}})
	rec.Release()

	// Only malformed records: DROPMALFORMED flushes nothing.
	rec, st, _ = decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Mode: DropMalformed}, `x`, `y`)
	if rec != nil || st != (DecodeStats{Dropped: 2}) {
		t.Errorf("rec %v stats %+v", rec, st)
	}
}

func TestDecoderOptionsErrors(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "a STRING")
	for _, c := range []struct {
		opts DecoderOptions
		err  string
	}{
		{DecoderOptions{}, "dataframe: invalid option: invalid format Format(0) (want FormatJSON or FormatCSV)"},
		{DecoderOptions{Format: FormatJSON, Columns: []string{"b"}}, "dataframe: unknown column b in DecoderOptions.Columns (columns: a, _topic, _partition, _offset, _timestamp, _key, _corrupt_record)"},
		{DecoderOptions{Format: FormatJSON, Columns: []string{"a", "A"}}, "dataframe: invalid option: column A listed twice in DecoderOptions.Columns"},
		{DecoderOptions{Format: FormatCSV, CSVDelimiter: '"'}, "dataframe: invalid option: CSV delimiter '\"'"},
		{DecoderOptions{Format: FormatJSON, Mode: 9}, "dataframe: invalid option: invalid mode Mode(9)"},
	} {
		d, err := NewDecoder(mem, s, c.opts)
		if d != nil || err == nil || err.Error() != c.err {
			t.Errorf("%+v: %v, want %s", c.opts, err, c.err)
		}
	}
	if _, err := NewDecoder(mem, nil, DecoderOptions{Format: FormatJSON}); err == nil {
		t.Error("nil schema accepted")
	}
	if _, err := NewDecoder(mem, &Schema{Fields: []Field{{"a", String}, {"A", Int32}}}, DecoderOptions{Format: FormatJSON}); err == nil || err.Error() != `dataframe: invalid schema: field 2: duplicate name "A"` {
		t.Error(err)
	}
}

func TestDecoderNoColumnsAndFlush(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "a STRING")
	d, err := NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Columns: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if d.Flush() != nil {
		t.Error("Flush of nothing")
	}
	for i := 0; i < 3; i++ {
		if err := d.Append(nil, []byte(`{"a":"x"}`)); err != nil {
			t.Fatal(err)
		}
	}
	rec := d.Flush()
	if rec.NumRows() != 3 || rec.NumCols() != 0 || d.Len() != 0 {
		t.Errorf("rows %d cols %d len %d", rec.NumRows(), rec.NumCols(), d.Len())
	}
	rec.Release()
	// Decoding continues after a Flush, and a nil key is a NULL _key.
	d2, _ := NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Columns: []string{"_key", "_topic", "_partition", "_timestamp"}})
	defer d2.Release()
	d2.Append(&RecordMeta{Topic: "x", Partition: 2, Timestamp: 1000}, []byte(`{}`))
	d2.Flush().Release()
	d2.Append(&RecordMeta{Topic: "y", Partition: 1, Timestamp: 2000, Key: []byte{}}, []byte(`{}`))
	rec = d2.Flush()
	defer rec.Release()
	equalRows(t, rows(t, rec), [][]any{{"", "y", int32(1), ts("1970-01-01T00:00:02Z")}})
}

// The decoder compares each key's bytes with the key that came next in the
// previous record before scanning it: records whose keys change order, are
// escaped, are prefixes of one another, are long or end near the end of the
// record must decode as if every key were scanned.
func TestJSONDecoderKeyOrder(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "page STRING, action STRING, a_key_longer_than_16 STRING, n.x BIGINT")
	rec, st, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Columns: []string{"action", "page", "a_key_longer_than_16", "n.x"}},
		`{"timestamp":"t1","page":"/a","action":"view","a_key_longer_than_16":"L1","n":{"x":1,"y":2}}`,
		`{"timestamp":"t2","page":"/b","action":"click","a_key_longer_than_16":"L2","n":{"x":3,"y":4}}`,
		`{"action":"buy","page":"/c","n":{"y":5,"x":6}}`,
		`{"pa\u0067e":"/d","action":"x","a_key_longer_than_\u0031\u0036":"L4"}`,
		`{"pa\u0067e":"/e","action":"y"}`,
		`{"pag":"no","page":"/f","pagex":"no","action":"z","a_key_longer_than_1":"no"}`,
		`{ "page" : "/g" , "action" : "w" }`,
		`{"page":"/h","page":"/i","n":{"x":7},"n":{"y":8}}`,
		`{"page":"/j","action":"v"}`,
		`{"page":"/k","actio":"v"}`,
		`{"page":"/l","action":"u","n":null}`,
	)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if st != (DecodeStats{Rows: 11}) {
		t.Errorf("stats %+v", st)
	}
	equalRows(t, rows(t, rec), [][]any{
		{"view", "/a", "L1", int64(1)},
		{"click", "/b", "L2", int64(3)},
		{"buy", "/c", nil, int64(6)},
		{"x", "/d", "L4", nil},
		{"y", "/e", nil, nil},
		{"z", "/f", nil, nil},
		{"w", "/g", nil, nil},
		{nil, "/i", nil, int64(7)},
		{"v", "/j", nil, nil},
		{nil, "/k", nil, nil},
		{"u", "/l", nil, nil},
	})
}

// Strings are scanned eight bytes at a time: quotes, escapes, control
// characters and non-ASCII bytes must be found at every offset.
func TestJSONDecoderStringOffsets(t *testing.T) {
	mem := newMem(t)
	s := mustSchema(t, "s STRING")
	for k := 0; k <= 17; k++ {
		pre := strings.Repeat("x", k)
		var in []string
		var want [][]any
		for _, c := range []struct{ json, s string }{
			{pre, pre},
			{pre + `\"y`, pre + `"y`},
			{pre + `\\`, pre + `\`},
			{pre + "é" + pre + "é", pre + "é" + pre + "é"},
			{pre + `\u00e9z`, pre + "éz"},
		} {
			for _, skip := range []bool{false, true} {
				if skip {
					in = append(in, `{"u":"`+c.json+`","s":"`+pre+`"}`)
					want = append(want, []any{pre})
				} else {
					in = append(in, `{"s":"`+c.json+`"}`)
					want = append(want, []any{c.s})
				}
			}
		}
		rec, _, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Mode: FailFast, Columns: []string{"s"}}, in...)
		if err != nil {
			t.Fatalf("k=%d: %v", k, err)
		}
		equalRows(t, rows(t, rec), want)
		rec.Release()
		for _, c := range []struct{ json, err string }{
			{pre + "\n", "invalid JSON: control character in a string at byte " + strconv.Itoa(6+k)},
			{pre + "\x7f\x01", "invalid JSON: control character in a string at byte " + strconv.Itoa(7+k)},
			{pre + "\xff", "invalid UTF-8 in a JSON string"},
			{pre + "é\xc3", "invalid UTF-8 in a JSON string"},
			{pre + `\x`, `invalid JSON: bad escape \x`},
		} {
			for _, v := range []string{`{"s":"` + c.json + `"}`, `{"u":"` + c.json + `"}`} {
				_, _, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Mode: FailFast, Columns: []string{"s"}}, v)
				var me *MalformedRecordError
				if !errors.As(err, &me) || me.Reason != c.err {
					t.Errorf("%q: got %v, want %s", v, err, c.err)
				}
			}
		}
		for _, v := range []string{`{"s":"` + pre, `{"u":"` + pre} {
			_, _, err := decodeAll(t, mem, s, DecoderOptions{Format: FormatJSON, Mode: FailFast, Columns: []string{"s"}}, v)
			var me *MalformedRecordError
			if !errors.As(err, &me) || me.Reason != "invalid JSON: unterminated string" {
				t.Errorf("%q: got %v", v, err)
			}
		}
	}
}

package dataframe

import (
	"bytes"
	"encoding/csv"
	"errors"
	"reflect"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// fuzzDecoder feeds value to a decoder in each mode, between two well-formed
// records. Invariants: it never panics; every record yields exactly one row
// or one counted malformed record (PERMISSIVE: a row and Corrupt,
// DROPMALFORMED: Dropped, FAILFAST: a *MalformedRecordError and no row); the
// flushed record has Stats().Rows rows; once everything is released the
// allocator holds zero bytes.
//
// A CSV header line (with CSVHeader) is the exception: it is skipped, which
// the invariant checks against encoding/csv's reading of the line.
func fuzzDecoder(t *testing.T, s *Schema, opts DecoderOptions, good, value []byte) {
	want := int64(3)
	if opts.CSVHeader && isCSVHeader(s, value) {
		want = 2
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, mode := range []Mode{Permissive, DropMalformed, FailFast} {
		opts.Mode = mode
		d, err := NewDecoder(mem, s, opts)
		if err != nil {
			t.Fatal(err)
		}
		var failed int64
		for i, v := range [][]byte{good, value, good} {
			err := d.Append(&RecordMeta{Topic: "f", Offset: int64(i)}, v)
			var me *MalformedRecordError
			switch {
			case err == nil:
			case mode == FailFast && errors.As(err, &me) && me.Offset == int64(i):
				failed++
			default:
				t.Fatalf("mode %v: Append: %v", mode, err)
			}
		}
		st := d.Stats()
		if mode != Permissive && st.Corrupt != 0 || st.Corrupt > st.Rows {
			t.Fatalf("mode %v: stats %+v", mode, st)
		}
		if st.Rows+st.Dropped+failed != want {
			t.Fatalf("mode %v: %d records gave stats %+v and %d errors", mode, want, st, failed)
		}
		rec := d.Flush()
		if rec == nil && st.Rows != 0 || rec != nil && rec.NumRows() != st.Rows {
			t.Fatalf("mode %v: flushed %v rows, stats %+v", mode, rec, st)
		}
		if rec != nil {
			rows(t, rec) // every value must be readable
			rec.Release()
		}
		d.Release()
	}
}

// isCSVHeader reports whether encoding/csv reads line as the schema's field
// names.
func isCSVHeader(s *Schema, line []byte) bool {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if bytes.ContainsAny(line, "\r\n") {
		return false
	}
	r := csv.NewReader(bytes.NewReader(line))
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil || len(rec) != len(s.Fields) {
		return false
	}
	for i, f := range s.Fields {
		if rec[i] != f.Name {
			return false
		}
	}
	return true
}

func FuzzJSONDecoder(f *testing.F) {
	for _, c := range malformedJSON {
		f.Add([]byte(c.in))
	}
	f.Add([]byte(`{"s":"x","i":1,"l":2,"d":3.5,"b":true,"t":"2024-01-01 00:00:00 UTC","n":{"x":[1,2,{"y":null}]},"s":"dup"}`))
	f.Add([]byte(`{"n":{"m":"\u00e9\ud83d\ude00"},"t":1704067200000}`))
	s := must(ParseSchema(allTypesDDL + ", n.m STRING, n.x BIGINT"))
	f.Fuzz(func(t *testing.T, value []byte) {
		fuzzDecoder(t, s, DecoderOptions{Format: FormatJSON}, []byte(`{"s":"ok","i":1}`), value)
		fuzzDecoder(t, s, DecoderOptions{Format: FormatJSON, Columns: []string{"_key", "n.m", "t"}}, []byte(`{}`), value)
	})
}

func FuzzCSVDecoder(f *testing.F) {
	for _, in := range []string{`x,1,2.5,true,2024-01-01T00:00:00Z,`, `"a""b",,,,,"q"`, `s,i,d,b,t,x`, `"x`, `a,b`, "\xff,1,1,true,,", `,,,,,,`, "x,1,2,false,1704067200000,y\r\n"} {
		f.Add([]byte(in))
	}
	s := must(ParseSchema("s STRING, i INT, d DOUBLE, b BOOLEAN, t TIMESTAMP, x STRING"))
	f.Fuzz(func(t *testing.T, value []byte) {
		fuzzDecoder(t, s, DecoderOptions{Format: FormatCSV, CSVHeader: true}, []byte(`ok,1,1,true,,`), value)
		fuzzDecoder(t, s, DecoderOptions{Format: FormatCSV, CSVDelimiter: '\t', Columns: []string{"x", "_offset"}}, []byte("a\t\t\t\t\tb"), value)
	})
}

// FuzzParseSchema: ParseSchema never panics, and a schema it accepts prints
// (String) as DDL that parses back to the same schema.
func FuzzParseSchema(f *testing.F) {
	for _, s := range []string{allTypesDDL, ecommerceDDL, "`a``b`.c STRING, d: long", "a VARCHAR(3)", "", "a INT,", "`x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ddl string) {
		s, err := ParseSchema(ddl)
		if err != nil {
			if !errors.Is(err, ErrSchema) {
				t.Fatalf("error %v is not ErrSchema", err)
			}
			return
		}
		again, err := ParseSchema(s.String())
		if err != nil {
			t.Fatalf("ParseSchema(%q).String() = %q does not parse: %v", ddl, s.String(), err)
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("round trip of %q: %v != %v", ddl, s.Fields, again.Fields)
		}
	})
}

// FuzzStateRestore: Restore of arbitrary checkpoint bytes never panics; an
// entry it accepts yields a Result and encodes (Changes) to a value that
// Restore accepts again with the same Result.
func FuzzStateRestore(f *testing.F) {
	s := must(ParseSchema("g STRING, n BIGINT, d DOUBLE, t TIMESTAMP"))
	p := must(Compile(Source("x", s).GroupBy(Col("g"), Col("n")).Agg(
		Count(), CountDistinct(Col("d")), Sum(Col("n")), Avg(Col("d")), Min(Col("g")), Max(Col("t"))), Update))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	st := p.NewState(mem)
	task := p.NewTask(mem)
	d := must(NewDecoder(mem, s, DecoderOptions{Format: FormatJSON, Columns: p.InputColumns()}))
	for _, v := range []string{`{"g":"a","n":1,"d":1.5,"t":5}`, `{"g":"a","n":1,"d":2.5}`, `{"n":-3}`} {
		d.Append(nil, []byte(v))
	}
	rec := d.Flush()
	task.Consume(rec)
	rec.Release()
	d.Release()
	st.Merge(task)
	task.Release()
	st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { f.Add(bytes.Clone(k), bytes.Clone(v)); return nil })
	f.Fuzz(func(t *testing.T, key, value []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		st := p.NewState(mem)
		if err := st.Restore(key, value); err != nil {
			if !errors.Is(err, ErrState) || st.Len() != 0 {
				t.Fatalf("Restore: %v (Len %d)", err, st.Len())
			}
			return
		}
		first := result(t, st, false)
		st.ht.markChanged(0)
		var k2, v2 []byte
		st.Changes(nil, func(_ uint16, k, v []byte, _ bool) error { k2, v2 = bytes.Clone(k), bytes.Clone(v); return nil })
		again := p.NewState(mem)
		if err := again.Restore(k2, v2); err != nil {
			t.Fatalf("re-encoded entry rejected: %v", err)
		}
		second := result(t, again, false)
		if !reflect.DeepEqual(fmtRows(first), fmtRows(second)) {
			t.Fatalf("results differ: %s vs %s", fmtRows(first), fmtRows(second))
		}
	})
}

package main

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// The state formats keep apart what a reader must tell apart: NULL and
// the empty string (csv), NaN or Infinity and NULL (jsonl); and show the
// fraction of a second of a timestamp.
func TestWriteRecordFormats(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "d", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	s, d, ts := b.Field(0).(*array.StringBuilder), b.Field(1).(*array.Float64Builder), b.Field(2).(*array.TimestampBuilder)
	s.AppendValues([]string{"", "", "a,b", `q"q`, "two\nlines", " pad"}, []bool{true, false, true, true, true, true})
	d.AppendValues([]float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e-7, 3, 0}, []bool{true, true, true, true, true, false})
	ts.AppendValues([]arrow.Timestamp{1572566401500000, 1572566401000000, 0, 0, 0, 0}, []bool{true, true, false, false, false, false})
	rec := b.NewRecord()
	defer rec.Release()

	for _, tc := range []struct{ format, want string }{
		{"csv", "s,d,t\n" +
			`"",NaN,2019-11-01T00:00:01.5Z` + "\n" +
			",Infinity,2019-11-01T00:00:01Z\n" +
			`"a,b",-Infinity,` + "\n" +
			`"q""q",1.0E-7,` + "\n" +
			"\"two\nlines\",3.0,\n" +
			`" pad",,` + "\n"},
		{"jsonl", `{"s":"","d":"NaN","t":"2019-11-01T00:00:01.5Z"}` + "\n" +
			`{"s":null,"d":"Infinity","t":"2019-11-01T00:00:01Z"}` + "\n" +
			`{"s":"a,b","d":"-Infinity","t":null}` + "\n" +
			`{"s":"q\"q","d":1e-07,"t":null}` + "\n" +
			`{"s":"two\nlines","d":3,"t":null}` + "\n" +
			`{"s":" pad","d":null,"t":null}` + "\n"},
	} {
		var out bytes.Buffer
		if err := writeRecord(&out, tc.format, rec); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.format, out.String(), tc.want)
		}
	}
	var out bytes.Buffer
	if err := writeRecord(&out, "table", rec); err != nil {
		t.Fatal(err)
	}
	if want := "2019-11-01 00:00:01.5"; !bytes.Contains(out.Bytes(), []byte(want)) || !bytes.Contains(out.Bytes(), []byte("Infinity")) || !bytes.Contains(out.Bytes(), []byte("1.0E-7")) {
		t.Errorf("table lacks %s, Infinity or 1.0E-7:\n%s", want, out.String())
	}
}

// A print stops at its next write once the command is interrupted.
func TestInterruptibleWriter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	w := interruptible{ctx, &out}
	if _, err := w.Write([]byte("row 1\n")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := w.Write([]byte("row 2\n")); err == nil || err.Error() != "interrupted: context canceled" {
		t.Fatalf("write after the interrupt: %v", err)
	}
	if out.String() != "row 1\n" {
		t.Fatalf("wrote %q", out.String())
	}
}

package dataframe

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// rowTextRecord is a clickstream-like record: a timestamp, strings (one
// needing escapes), a count, a double (NaN once) and NULLs.
func rowTextRecord(tb testing.TB, mem memory.Allocator, n int) arrow.Record {
	tb.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "we<ird \"name\"", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "views", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "avg", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	base := time.Date(2026, 12, 6, 5, 0, 0, 123456000, time.UTC)
	for i := range n {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(i) * time.Millisecond).UnixMicro()))
		b.Field(1).(*array.StringBuilder).Append("/products/" + string(rune('0'+i%10)))
		switch i % 4 {
		case 0:
			b.Field(2).(*array.StringBuilder).AppendNull()
		case 1:
			b.Field(2).(*array.StringBuilder).Append("a \"quote\" & <tag>\n\u2028é")
		default:
			b.Field(2).(*array.StringBuilder).Append("plain")
		}
		b.Field(3).(*array.Int64Builder).Append(int64(i))
		if i%7 == 0 {
			b.Field(4).(*array.Float64Builder).Append(math.NaN())
		} else {
			b.Field(4).(*array.Float64Builder).Append(float64(i) / 3)
		}
		b.Field(5).(*array.BooleanBuilder).Append(i%2 == 0)
	}
	return b.NewRecord()
}

// slowJSONRow is the reference encoding: every name and value through
// encoding/json, as AppendJSONRow's fast paths must reproduce byte for byte.
func slowJSONRow(rec arrow.Record, i int) string {
	dst := []byte{'{'}
	for c := 0; c < int(rec.NumCols()); c++ {
		if c > 0 {
			dst = append(dst, ',')
		}
		k, _ := json.Marshal(rec.Schema().Field(c).Name)
		dst = append(dst, k...)
		dst = append(dst, ':')
		dst = append(dst, jsonValueSlow(rec.Column(c), i)...)
	}
	return string(append(dst, '}'))
}

// jsonValueSlow is JSONValue as it was before its fast paths.
func jsonValueSlow(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return "null"
	}
	switch a := col.(type) {
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Float64:
		f := a.Value(i)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return `"` + FormatDouble(f) + `"`
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	}
	b, _ := json.Marshal(TextValue(col, i))
	return string(b)
}

func TestAppendJSONRowMatchesEncodingJSON(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := rowTextRecord(t, mem, 64)
	defer rec.Release()
	for i := range int(rec.NumRows()) {
		got, want := string(AppendJSONRow(nil, rec, i)), slowJSONRow(rec, i)
		if got != want {
			t.Fatalf("row %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if got := string(AppendJSONRow(nil, rec, 1)); got != `{"timestamp":"2026-12-06T05:00:00.124456Z","page":"/products/1","we\u003cird \"name\"":"a \"quote\" \u0026 \u003ctag\u003e\n\u2028é","views":1,"avg":0.3333333333333333,"ok":false}` {
		t.Fatalf("row 1 = %s", got)
	}
}

func BenchmarkAppendJSONRow(b *testing.B) {
	mem := memory.NewGoAllocator()
	rec := rowTextRecord(b, mem, 4096)
	defer rec.Release()
	var dst []byte
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		i := n % 4096
		dst = AppendJSONRow(dst[:0], rec, i)
	}
}

// BenchmarkAppendJSONRowSlow is the encoding before the fast paths, for
// comparison.
func BenchmarkAppendJSONRowSlow(b *testing.B) {
	mem := memory.NewGoAllocator()
	rec := rowTextRecord(b, mem, 4096)
	defer rec.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		_ = slowJSONRow(rec, n%4096)
	}
}

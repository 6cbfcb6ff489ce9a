package dataframe

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// newMem returns a checked allocator that the test verifies is empty at the
// end.
func newMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// rows converts a record to Go values: string, int32, int64, float64, bool,
// time.Time (UTC) or nil for NULL.
func rows(t testing.TB, rec arrow.Record) [][]any {
	t.Helper()
	if rec == nil {
		return nil
	}
	out := make([][]any, rec.NumRows())
	for r := range out {
		out[r] = make([]any, rec.NumCols())
		for c := 0; c < int(rec.NumCols()); c++ {
			col := rec.Column(c)
			if col.IsNull(r) {
				continue
			}
			switch a := col.(type) {
			case *array.String:
				out[r][c] = a.Value(r)
			case *array.Int32:
				out[r][c] = a.Value(r)
			case *array.Int64:
				out[r][c] = a.Value(r)
			case *array.Float64:
				out[r][c] = a.Value(r)
			case *array.Boolean:
				out[r][c] = a.Value(r)
			case *array.Timestamp:
				out[r][c] = time.UnixMicro(int64(a.Value(r))).UTC()
			case *array.Date32:
				out[r][c] = a.Value(r).FormattedString()
			default:
				t.Fatalf("unexpected column type %T", col)
			}
		}
	}
	return out
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func equalRows(t testing.TB, got, want [][]any) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows differ\n got: %s\nwant: %s", fmtRows(got), fmtRows(want))
	}
}

func fmtRows(rs [][]any) string {
	s := ""
	for _, r := range rs {
		s += "\n  " + fmt.Sprintf("%#v", r)
	}
	return s
}

func mustSchema(t testing.TB, ddl string) *Schema {
	t.Helper()
	s, err := ParseSchema(ddl)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decodeAll decodes values (offsets 0, 1, ...) of topic "t" partition 0.
func decodeAll(t testing.TB, mem memory.Allocator, s *Schema, opts DecoderOptions, values ...string) (arrow.Record, DecodeStats, error) {
	t.Helper()
	d, err := NewDecoder(mem, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	for i, v := range values {
		meta := &RecordMeta{Topic: "t", Partition: 0, Offset: int64(i), Timestamp: 1700000000000 + int64(i), Key: []byte(fmt.Sprint("k", i))}
		if err := d.Append(meta, []byte(v)); err != nil {
			return d.Flush(), d.Stats(), err
		}
	}
	if d.Len() != int(d.Stats().Rows) {
		t.Fatalf("Len %d, Rows %d", d.Len(), d.Stats().Rows)
	}
	return d.Flush(), d.Stats(), nil
}

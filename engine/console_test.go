package engine_test

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/engine"
)

// A raw _corrupt_record over lines (and with other control characters)
// stays in its cell: control characters are printed escaped, in both the
// truncated (right-aligned) and the whole (left-aligned) layout.
func TestWriteTableEscapesControlCharacters(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "_corrupt_record", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 0, 0}, []bool{true, false, false})
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"", "{\"n\":\n2,\r\n\t}", "a\x00b\x1b[31m\u0085\\n"}, []bool{false, true, true})
	rec := b.NewRecord()
	defer rec.Release()
	for _, tc := range []struct {
		truncate int
		want     string
	}{
		{20, `+----+--------------------+
|   n|     _corrupt_record|
+----+--------------------+
|   1|                null|
|null|    {"n":\n2,\r\n\t}|
|null|a\x00b\x1b[31m\u0...|
+----+--------------------+

`},
		{0, `+----+----------------------+
|n   |_corrupt_record       |
+----+----------------------+
|1   |null                  |
|null|{"n":\n2,\r\n\t}      |
|null|a\x00b\x1b[31m\u0085\n|
+----+----------------------+

`},
	} {
		var out strings.Builder
		if err := engine.WriteTable(&out, schema, []arrow.Record{rec}, 0, tc.truncate); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("truncate %d:\n%s\nwant\n%s", tc.truncate, out.String(), tc.want)
		}
	}
}

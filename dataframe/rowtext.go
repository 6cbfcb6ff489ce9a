package dataframe

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// AppendJSONRow appends row i of rec to dst as one JSON object keyed by
// column name, in column order (DESIGN.md section 3): numbers as numbers,
// timestamps as RFC 3339 strings (UTC), NaN and infinities, which JSON
// numbers cannot hold, as the strings Spark's JSON writer gives them
// ("NaN", "Infinity", "-Infinity"), NULL as null. It is the encoding of
// `microbatch state --format jsonl` and of the Kafka sink's json values.
func AppendJSONRow(dst []byte, rec arrow.Record, i int) []byte {
	dst = append(dst, '{')
	schema := rec.Schema()
	for c := range int(rec.NumCols()) {
		if c > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, schema.Field(c).Name)
		dst = append(dst, ':')
		dst = AppendJSONValue(dst, rec.Column(c), i)
	}
	return append(dst, '}')
}

// AppendCSVHeader appends the column names of schema as one CSV line
// (without its line end).
func AppendCSVHeader(dst []byte, schema *arrow.Schema) []byte {
	for i, f := range schema.Fields() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendCSVField(dst, f.Name, false)
	}
	return dst
}

// AppendCSVRow appends row i of rec as one CSV line (without its line
// end): fields in column order, rendered as TextValue, NULL as nothing and
// the empty string as "" (AppendCSVField).
func AppendCSVRow(dst []byte, rec arrow.Record, i int) []byte {
	for c := range rec.Schema().Fields() {
		if c > 0 {
			dst = append(dst, ',')
		}
		col := rec.Column(c)
		dst = AppendCSVField(dst, TextValue(col, i), col.IsNull(i))
	}
	return dst
}

// AppendCSVField appends one RFC 4180 field: NULL as nothing, the empty
// string as "" (as Spark's CSV writer does, so the two read back apart),
// and a field with a comma, quote, CR, LF or surrounding space in quotes.
func AppendCSVField(dst []byte, s string, null bool) []byte {
	if null {
		return dst
	}
	if s != "" && !strings.ContainsAny(s, ",\"\r\n") && s[0] != ' ' && s[len(s)-1] != ' ' {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	dst = append(dst, strings.ReplaceAll(s, `"`, `""`)...)
	return append(dst, '"')
}

// JSONValue renders one cell as a JSON value (see AppendJSONRow).
func JSONValue(col arrow.Array, i int) string {
	return string(AppendJSONValue(nil, col, i))
}

// AppendJSONValue appends one cell as a JSON value (see AppendJSONRow),
// without allocating for the common types: the bytes are those of
// encoding/json (HTML characters escaped as \u003c and so on).
func AppendJSONValue(dst []byte, col arrow.Array, i int) []byte {
	if col.IsNull(i) {
		return append(dst, "null"...)
	}
	switch a := col.(type) {
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(i), 10)
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Float64:
		f := a.Value(i)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			dst = append(dst, '"')
			dst = append(dst, FormatDouble(f)...) // as Spark's JSON writer: "NaN", "Infinity"
			return append(dst, '"')
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i))
	case *array.String:
		return appendJSONString(dst, a.Value(i))
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		dst = append(dst, '"')
		dst = a.Value(i).ToTime(unit).UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	case *array.Date32:
		dst = append(dst, '"')
		dst = appendDate(dst, int32(a.Value(i)))
		return append(dst, '"')
	}
	return appendJSONString(dst, TextValue(col, i))
}

// appendJSONString appends s as a JSON string, byte for byte as
// encoding/json writes it: printable ASCII other than the quote, the
// backslash and the HTML characters goes as it is, anything else through
// encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for j := 0; j < len(s); j++ {
		if c := s[j]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// TextValue renders one cell as text: timestamps in RFC 3339 (UTC), dates
// as yyyy-MM-dd,
// doubles as FormatDouble, NULL as "".
func TextValue(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return ""
	}
	switch a := col.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano)
	case *array.Float64:
		return FormatDouble(a.Value(i))
	case *array.Date32:
		return formatDate(int32(a.Value(i)))
	}
	return col.ValueStr(i)
}

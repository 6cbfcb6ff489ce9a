package dataframe

import (
	"errors"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestParseSchema(t *testing.T) {
	s, err := ParseSchema(" event_time TIMESTAMP, brand string,data.page VarChar(20), `event type` long, n: INTEGER, x FLOAT, ok bool, `a``b` DOUBLE ")
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{{"event_time", Timestamp}, {"brand", String}, {"data.page", String}, {"event type", Int64}, {"n", Int32}, {"x", Float64}, {"ok", Bool}, {"a`b", Float64}}
	if len(s.Fields) != len(want) {
		t.Fatalf("fields %v", s.Fields)
	}
	for i := range want {
		if s.Fields[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, s.Fields[i], want[i])
		}
	}
	const canon = "event_time TIMESTAMP, brand STRING, data.page STRING, `event type` BIGINT, n INT, x DOUBLE, ok BOOLEAN, `a``b` DOUBLE"
	if s.String() != canon {
		t.Errorf("String() = %q", s.String())
	}
	again, err := ParseSchema(s.String())
	if err != nil || again.String() != canon {
		t.Errorf("round trip: %v %v", again, err)
	}
	if f, ok := s.Field("BRAND"); !ok || f != (Field{"brand", String}) {
		t.Errorf("Field(BRAND) = %v %v", f, ok)
	}
	if _, ok := s.Field("nope"); ok {
		t.Error("Field(nope) found")
	}
	as := s.Arrow()
	if as.NumFields() != 8 || !arrow.TypeEqual(as.Field(0).Type, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}) || as.Field(1).Type.ID() != arrow.STRING || !as.Field(1).Nullable {
		t.Errorf("Arrow() = %v", as)
	}
}

func TestParseSchemaErrors(t *testing.T) {
	for ddl, want := range map[string]string{
		"":                       "dataframe: invalid schema: empty schema",
		"a INT, , b INT":         "dataframe: invalid schema: field 2: empty name",
		"a INT, b STRING, A X":   "dataframe: invalid schema: field 3: duplicate name \"A\" (first at field 1)",
		"a INT, b MAP":           "dataframe: invalid schema: field 2 (\"b\"): unknown type \"MAP\" (want STRING, INT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP or DATE)",
		"a":                      "dataframe: invalid schema: field 1 (\"a\"): missing type",
		"a INT b":                "dataframe: invalid schema: field 1 (\"a\"): unexpected \"b\" after type",
		"_offset BIGINT":         "dataframe: invalid schema: field 1: name \"_offset\" is reserved for Kafka metadata",
		"`a INT":                 "dataframe: invalid schema: field 1: unterminated backquoted name",
		"a. INT":                 "dataframe: invalid schema: field 1: empty name part after \"a.\"",
		"a INT(3)":               "dataframe: invalid schema: field 1 (\"a\"): unexpected \"(3)\"",
		"a INT,":                 "dataframe: invalid schema: field 2: empty name",
		"a STRING, b TIMESTAMP,": "dataframe: invalid schema: field 3: empty name",
	} {
		_, err := ParseSchema(ddl)
		if err == nil || err.Error() != want {
			t.Errorf("ParseSchema(%q) error = %v, want %s", ddl, err, want)
		}
		if err != nil && !errors.Is(err, ErrSchema) {
			t.Errorf("ParseSchema(%q): not ErrSchema", ddl)
		}
	}
}

func TestTypes(t *testing.T) {
	for typ, name := range map[Type]string{String: "STRING", Int32: "INT", Int64: "BIGINT", Float64: "DOUBLE", Bool: "BOOLEAN", Timestamp: "TIMESTAMP"} {
		if typ.String() != name {
			t.Errorf("%d.String() = %s", typ, typ.String())
		}
		if got, err := ParseType(name); got != typ || err != nil {
			t.Errorf("ParseType(%s) = %v %v", name, got, err)
		}
	}
	if got := Timestamp.Arrow().String(); got != "timestamp[us, tz=UTC]" {
		t.Errorf("Timestamp.Arrow() = %s", got)
	}
	want := []Field{{"_topic", String}, {"_partition", Int32}, {"_offset", Int64}, {"_timestamp", Timestamp}, {"_key", String}, {"_corrupt_record", String}}
	for i, f := range MetadataFields() {
		if f != want[i] {
			t.Errorf("MetadataFields()[%d] = %v", i, f)
		}
	}
}

func TestParseEnums(t *testing.T) {
	if f, err := ParseFormat("JSON"); f != FormatJSON || err != nil {
		t.Error(f, err)
	}
	if f, err := ParseFormat("csv"); f != FormatCSV || err != nil {
		t.Error(f, err)
	}
	if _, err := ParseFormat("avro"); err == nil || err.Error() != `dataframe: invalid option: format "avro" (want json or csv)` {
		t.Error(err)
	}
	for s, m := range map[string]Mode{"permissive": Permissive, "DropMalformed": DropMalformed, "FAILFAST": FailFast} {
		if got, err := ParseMode(s); got != m || err != nil {
			t.Error(s, got, err)
		}
	}
	if _, err := ParseMode("lenient"); err == nil || err.Error() != `dataframe: invalid option: mode "lenient" (want PERMISSIVE, DROPMALFORMED or FAILFAST)` {
		t.Error(err)
	}
	for s, m := range map[string]OutputMode{"append": Append, "Complete": Complete, "UPDATE": Update} {
		if got, err := ParseOutputMode(s); got != m || err != nil {
			t.Error(s, got, err)
		}
	}
	if Update.String() != "update" || Complete.String() != "complete" || Append.String() != "append" {
		t.Error("OutputMode.String")
	}
	if _, err := ParseOutputMode("x"); err == nil || !errors.Is(err, ErrOptions) {
		t.Error(err)
	}
}

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]string{
		"2024-01-01T00:00:00Z":                "2024-01-01T00:00:00Z",
		"2024-02-29T12:34:56.789Z":            "2024-02-29T12:34:56.789Z",
		"2024-01-01T01:00:00+01:00":           "2024-01-01T00:00:00Z",
		"2024-01-01T00:00:00.123456789-02:30": "2024-01-01T02:30:00.123456Z",
		"2019-11-01 00:00:01 UTC":             "2019-11-01T00:00:01Z",
		"2019-11-01 00:00:01":                 "2019-11-01T00:00:01Z",
		"1969-12-31 23:59:59.5":               "1969-12-31T23:59:59.5Z",
		"2024-03-10":                          "2024-03-10T00:00:00Z",
		"1900-03-01T00:00:00Z":                "1900-03-01T00:00:00Z",
	} {
		us, ok := parseTimestamp([]byte(in))
		if !ok {
			t.Errorf("parseTimestamp(%q) failed", in)
			continue
		}
		if got := formatTimestamp(us); got != want {
			t.Errorf("parseTimestamp(%q) = %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"", "2024-13-01", "2023-02-29", "2024-01-01T24:00:00Z", "2024-01-01X00:00:00", "2024-01-01T00:00:00 PST", "2024-01-01T00:00:00.Z", "2024-1-01", "2024-01-01 ", "2024-01-01T00:00:00+1"} {
		if _, ok := parseTimestamp([]byte(in)); ok {
			t.Errorf("parseTimestamp(%q) succeeded", in)
		}
	}
}

func TestParseFloat(t *testing.T) {
	for _, in := range []string{"28.31", "0.1", "-0.3", "123456789012345", "1.000000000000001", "9007199254740993", "1e3", "5.", ".5", "-", "", "00.10", "3.14159265358979", "1234567.891"} {
		want, werr := strconv.ParseFloat(in, 64)
		got, ok := parseFloat([]byte(in))
		if ok != (werr == nil) || ok && got != want {
			t.Errorf("parseFloat(%q) = %v %v, want %v %v", in, got, ok, want, werr)
		}
	}
}

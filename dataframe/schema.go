package dataframe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// Type is the SQL type of a column.
type Type uint8

// The column types. Their SQL names are STRING, INT, BIGINT, DOUBLE, BOOLEAN
// TIMESTAMP and DATE.
const (
	String    Type = iota + 1 // STRING: Arrow utf8 (32-bit offsets)
	Int32                     // INT: Arrow int32
	Int64                     // BIGINT: Arrow int64
	Float64                   // DOUBLE: Arrow float64
	Bool                      // BOOLEAN: Arrow boolean
	Timestamp                 // TIMESTAMP: Arrow timestamp[us, tz=UTC], microseconds since the epoch
	Date                      // DATE: Arrow date32, days since 1970-01-01
)

// nullType is the type of an untyped NULL literal; it is coerced to the type
// of whatever it meets and never appears in a schema.
const nullType Type = 0

var timestampType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// String returns the SQL name of t.
func (t Type) String() string {
	switch t {
	case String:
		return "STRING"
	case Int32:
		return "INT"
	case Int64:
		return "BIGINT"
	case Float64:
		return "DOUBLE"
	case Bool:
		return "BOOLEAN"
	case Timestamp:
		return "TIMESTAMP"
	case Date:
		return "DATE"
	case nullType:
		return "NULL"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Arrow returns the Arrow data type that holds t. STRING is utf8 with 32-bit
// offsets: it is what the builders append to without copying twice and what
// arrow/compute and every Arrow consumer accept.
func (t Type) Arrow() arrow.DataType {
	switch t {
	case String:
		return arrow.BinaryTypes.String
	case Int32:
		return arrow.PrimitiveTypes.Int32
	case Int64:
		return arrow.PrimitiveTypes.Int64
	case Float64:
		return arrow.PrimitiveTypes.Float64
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	case Timestamp:
		return timestampType
	case Date:
		return arrow.FixedWidthTypes.Date32
	}
	return arrow.Null
}

func (t Type) valid() bool { return t >= String && t <= Date }

func (t Type) numeric() bool { return t == Int32 || t == Int64 || t == Float64 }

// typeAliases maps the upper-cased names ParseSchema accepts to types.
var typeAliases = map[string]Type{
	"STRING": String, "VARCHAR": String, "CHAR": String, "TEXT": String,
	"INT": Int32, "INTEGER": Int32, "INT32": Int32, "SMALLINT": Int32, "SHORT": Int32, "TINYINT": Int32, "BYTE": Int32,
	"BIGINT": Int64, "LONG": Int64, "INT64": Int64,
	"DOUBLE": Float64, "FLOAT": Float64, "REAL": Float64, "FLOAT64": Float64,
	"BOOLEAN": Bool, "BOOL": Bool,
	"TIMESTAMP": Timestamp, "TIMESTAMP_LTZ": Timestamp, "TIMESTAMP_NTZ": Timestamp,
	"DATE": Date,
}

// ParseType parses a SQL type name (case-insensitive, with the aliases
// ParseSchema accepts).
func ParseType(s string) (Type, error) {
	if t, ok := typeAliases[strings.ToUpper(strings.TrimSpace(s))]; ok {
		return t, nil
	}
	return 0, fmt.Errorf("%w %q (want STRING, INT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP or DATE)", ErrUnknownType, s)
}

// Field is one named, typed column.
type Field struct {
	Name string
	Type Type
}

// Schema is the ordered list of fields of a source. For JSON sources a dotted
// name (data.page) reads a nested field.
type Schema struct {
	Fields []Field
}

// Names of the Kafka metadata columns every source exposes after its schema
// fields.
const (
	ColTopic     = "_topic"
	ColPartition = "_partition"
	ColOffset    = "_offset"
	ColTimestamp = "_timestamp"
	ColKey       = "_key"
	// ColCorruptRecord is Spark's columnNameOfCorruptRecord: the raw value
	// of a malformed record, NULL for a well-formed one. It exists in
	// PERMISSIVE mode only: a decoder in another mode refuses it.
	ColCorruptRecord = "_corrupt_record"
)

// MetadataFields returns the Kafka metadata columns: _topic STRING,
// _partition INT, _offset BIGINT, _timestamp TIMESTAMP, _key STRING, and
// _corrupt_record STRING (see ColCorruptRecord). A decoder materialises
// one only when it is among DecoderOptions.Columns.
func MetadataFields() []Field {
	return []Field{
		{ColTopic, String}, {ColPartition, Int32}, {ColOffset, Int64},
		{ColTimestamp, Timestamp}, {ColKey, String}, {ColCorruptRecord, String},
	}
}

// metaCorrupt is the index of ColCorruptRecord in MetadataFields.
const metaCorrupt = 5

func isMetadataName(name string) bool {
	for _, f := range MetadataFields() {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// ParseSchema parses a Spark DDL column list such as
// "event_time TIMESTAMP, brand STRING, data.page STRING". Type names are
// case-insensitive and accept the usual aliases (LONG, INTEGER, FLOAT and
// REAL as DOUBLE, BOOL, VARCHAR(n), ...). A name may be dotted (a nested
// JSON path) or backquoted (`event time`, with “ for a literal backquote);
// an optional colon may follow it. Empty, duplicate (case-insensitively) and
// reserved metadata names are errors that name the field's position.
// Its errors are *SchemaError.
func ParseSchema(ddl string) (*Schema, error) {
	s, err := parseSchema(ddl)
	if err != nil {
		return nil, &SchemaError{Err: err}
	}
	return s, nil
}

func parseSchema(ddl string) (*Schema, error) {
	p := &ddlParser{s: ddl}
	if strings.TrimSpace(ddl) == "" {
		return nil, errors.New("empty schema")
	}
	s := &Schema{}
	seen := map[string]int{}
	for pos := 1; ; pos++ {
		name, err := p.name()
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", pos, err)
		}
		if name == "" {
			return nil, fmt.Errorf("field %d: empty name", pos)
		}
		if prev, ok := seen[strings.ToLower(name)]; ok {
			return nil, fmt.Errorf("field %d: duplicate name %q (first at field %d)", pos, name, prev)
		}
		if isMetadataName(name) {
			return nil, fmt.Errorf("field %d: name %q is reserved for Kafka metadata", pos, name)
		}
		seen[strings.ToLower(name)] = pos
		p.skipSpace()
		if p.peek() == ':' {
			p.i++
		}
		tname := p.word()
		if tname == "" {
			return nil, fmt.Errorf("field %d (%q): missing type", pos, name)
		}
		t, err := ParseType(tname)
		if err != nil {
			return nil, fmt.Errorf("field %d (%q): %w", pos, name, err)
		}
		p.skipSpace()
		if p.peek() == '(' { // VARCHAR(20), CHAR(3): the length is ignored
			end := strings.IndexByte(p.s[p.i:], ')')
			if t != String || end < 0 {
				return nil, fmt.Errorf("field %d (%q): unexpected %q", pos, name, p.s[p.i:])
			}
			p.i += end + 1
			p.skipSpace()
		}
		s.Fields = append(s.Fields, Field{Name: name, Type: t})
		switch c := p.peek(); c {
		case 0:
			return s, nil
		case ',':
			p.i++
		default:
			return nil, fmt.Errorf("field %d (%q): unexpected %q after type", pos, name, p.s[p.i:])
		}
	}
}

type ddlParser struct {
	s string
	i int
}

func (p *ddlParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *ddlParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// name reads a possibly dotted name whose parts are identifiers or
// backquoted strings.
func (p *ddlParser) name() (string, error) {
	p.skipSpace()
	var b strings.Builder
	for {
		if p.peek() == '`' {
			p.i++
			for {
				if p.i >= len(p.s) {
					return "", fmt.Errorf("unterminated backquoted name")
				}
				c := p.s[p.i]
				p.i++
				if c == '`' {
					if p.peek() == '`' {
						b.WriteByte('`')
						p.i++
						continue
					}
					break
				}
				b.WriteByte(c)
			}
		} else {
			start := p.i
			for p.i < len(p.s) && isIdentByte(p.s[p.i]) {
				p.i++
			}
			if p.i == start {
				if b.Len() > 0 { // "a." with nothing after the dot
					return "", fmt.Errorf("empty name part after %q", b.String())
				}
				return "", nil
			}
			b.WriteString(p.s[start:p.i])
		}
		if p.peek() != '.' {
			return b.String(), nil
		}
		p.i++
		b.WriteByte('.')
	}
}

func (p *ddlParser) word() string {
	p.skipSpace()
	start := p.i
	for p.i < len(p.s) && isIdentByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// quoteName renders a column name for DDL and plan text: bare when it is a
// dotted identifier, else backquoted.
func quoteName(name string) string {
	plain := name != ""
	for _, part := range strings.Split(name, ".") {
		if part == "" || part[0] >= '0' && part[0] <= '9' {
			plain = false
		}
		for j := 0; j < len(part); j++ {
			if !isIdentByte(part[j]) || part[j] >= 0x80 {
				plain = false
			}
		}
	}
	if plain {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// String returns the canonical DDL of s ("a BIGINT, b STRING"): ParseSchema
// of it yields an equal schema.
func (s *Schema) String() string {
	var b strings.Builder
	for i, f := range s.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteName(f.Name))
		b.WriteByte(' ')
		b.WriteString(f.Type.String())
	}
	return b.String()
}

// Arrow returns the Arrow schema of s; every field is nullable.
func (s *Schema) Arrow() *arrow.Schema {
	fs := make([]arrow.Field, len(s.Fields))
	for i, f := range s.Fields {
		fs[i] = arrow.Field{Name: f.Name, Type: f.Type.Arrow(), Nullable: true}
	}
	return arrow.NewSchema(fs, nil)
}

// Field returns the field called name: an exact match, else the only
// case-insensitive match.
func (s *Schema) Field(name string) (Field, bool) {
	i := lookupName(len(s.Fields), func(i int) string { return s.Fields[i].Name }, name)
	if i < 0 {
		return Field{}, false
	}
	return s.Fields[i], true
}

// lookupName finds name among n names: the exact match, else the single
// case-insensitive one; -1 when none, -2 when ambiguous.
func lookupName(n int, nameAt func(int) string, name string) int {
	found := -1
	for i := 0; i < n; i++ {
		if nameAt(i) == name {
			if found >= 0 {
				return -2
			}
			found = i
		}
	}
	if found >= 0 {
		return found
	}
	for i := 0; i < n; i++ {
		if strings.EqualFold(nameAt(i), name) {
			if found >= 0 {
				return -2
			}
			found = i
		}
	}
	return found
}

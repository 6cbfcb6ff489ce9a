package dataframe

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// csvDecoder decodes one CSV line per record: fields in schema order,
// RFC 4180 quoting ("" inside a quoted field is a quote), an unquoted empty
// field is NULL (Spark's default nullValue ""), a quoted empty field is the
// empty STRING (NULL for other types). Fields the output does not need are
// split but not converted.
type csvDecoder struct {
	*decoderBase
	delim  byte
	nField int
	header [][]byte // schema field names, for CSVHeader
	utf8OK bool     // the current line is valid UTF-8
	m      malformed
}

func newCSVDecoder(b *decoderBase) *csvDecoder {
	d := &csvDecoder{decoderBase: b, delim: b.opts.CSVDelimiter, nField: len(b.fieldOut)}
	if b.opts.CSVHeader {
		for _, c := range b.fieldNames {
			d.header = append(d.header, []byte(c))
		}
	}
	return d
}

func (d *csvDecoder) Append(meta *RecordMeta, value []byte) error {
	// One trailing line end belongs to the record framing, not the data.
	if n := len(value); n > 0 && value[n-1] == '\n' {
		value = value[:n-1]
		if n > 1 && value[n-2] == '\r' {
			value = value[:n-2]
		}
	}
	d.scratch = d.scratch[:0]
	if d.header != nil && d.isHeader(value) {
		d.skip()
		return nil
	}
	return d.finish(meta, d.parse(value))
}

// nextField splits the field starting at i. It returns the field's content
// (unescaped into scratch when quoted with "" inside), whether it was
// quoted, the index after the delimiter (len+1 at the end of the line) and a
// reason when the quoting is malformed.
func (d *csvDecoder) nextField(b []byte, i int) (field []byte, quoted bool, next int, reason string) {
	if i < len(b) && b[i] == '"' {
		j := i + 1
		start := j
		off := -1 // start of the unescaped copy in scratch, once a "" is seen
		for {
			k := indexByte(b, j, '"')
			if k < 0 {
				return nil, true, 0, "unterminated quoted field"
			}
			if k+1 < len(b) && b[k+1] == '"' { // "" is a literal quote
				if off < 0 {
					off = len(d.scratch)
				}
				d.scratch = append(d.scratch, b[j:k+1]...)
				j = k + 2
				continue
			}
			if off >= 0 {
				d.scratch = append(d.scratch, b[j:k]...)
				field = d.scratch[off:len(d.scratch):len(d.scratch)]
			} else {
				field = b[start:k]
			}
			k++
			if k < len(b) && b[k] != d.delim {
				return nil, true, 0, "unexpected " + strconv.QuoteRune(rune(b[k])) + " after a closing quote"
			}
			return field, true, k + 1, ""
		}
	}
	k := i
	for k < len(b) && b[k] != d.delim {
		if b[k] == '"' {
			return nil, false, 0, "quote inside an unquoted field"
		}
		k++
	}
	return b[i:k], false, k + 1, ""
}

func indexByte(b []byte, from int, c byte) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return -1
}

func (d *csvDecoder) fail(col, reason string) *malformed {
	d.m = malformed{column: col, reason: reason}
	return &d.m
}

func (d *csvDecoder) parse(b []byte) *malformed {
	// A line is valid UTF-8 exactly when its fields are: check it once.
	d.utf8OK = utf8.Valid(b)
	if bytes.IndexByte(b, '"') < 0 {
		return d.parseUnquoted(b)
	}
	i, f := 0, 0
	for i <= len(b) {
		field, quoted, next, reason := d.nextField(b, i)
		if reason != "" {
			return d.fail("", "invalid CSV: "+reason+" (field "+strconv.Itoa(f+1)+")")
		}
		if f < d.nField {
			if out := d.fieldOut[f]; out >= 0 {
				if bad := d.convert(out, field, quoted); bad != nil {
					return bad
				}
			}
		}
		f++
		i = next
	}
	if f != d.nField {
		return d.fail("", "expected "+strconv.Itoa(d.nField)+" fields, got "+strconv.Itoa(f))
	}
	return nil
}

// parseUnquoted is parse for the common line without quotes: fields are
// split with a vectorised byte search.
func (d *csvDecoder) parseUnquoted(b []byte) *malformed {
	f := 0
	delim := d.delim
	for {
		// A plain loop beats bytes.IndexByte on fields this short.
		k := 0
		for k < len(b) && b[k] != delim {
			k++
		}
		last := k == len(b)
		if f < d.nField {
			if out := d.fieldOut[f]; out >= 0 {
				if bad := d.convert(out, b[:k], false); bad != nil {
					return bad
				}
			}
		}
		f++
		if last {
			break
		}
		b = b[k+1:]
	}
	if f != d.nField {
		return d.fail("", "expected "+strconv.Itoa(d.nField)+" fields, got "+strconv.Itoa(f))
	}
	return nil
}

func (d *csvDecoder) convert(out int, field []byte, quoted bool) *malformed {
	s := &d.b[out]
	c := &d.cols[out]
	if len(field) == 0 {
		if quoted && c.typ == String {
			s.appendBytes(field)
		} else {
			s.appendNull()
		}
		return nil
	}
	switch c.typ {
	case String:
		if !d.utf8OK && !utf8.Valid(field) {
			return d.fail(c.name, "invalid UTF-8")
		}
		s.appendBytes(field)
	case Int32, Int64:
		bits := 64
		if c.typ == Int32 {
			bits = 32
		}
		v, reason := parseInt(field, bits)
		if reason != "" {
			return d.fail(c.name, reason+" for "+c.typ.String()+": "+strconv.Quote(string(field)))
		}
		s.appendInt(v)
	case Float64:
		f, ok := parseFloat(field)
		if !ok {
			return d.fail(c.name, "not a DOUBLE: "+strconv.Quote(string(field)))
		}
		s.appendF64(f)
	case Bool:
		v, ok := parseBool(field)
		if !ok {
			return d.fail(c.name, "not a BOOLEAN: "+strconv.Quote(string(field)))
		}
		s.appendBool(v)
	case Timestamp:
		us, ok := parseTimestamp(field)
		if !ok {
			if ms, reason := parseInt(field, 64); reason == "" {
				us, ok = epochMillis(ms)
			}
		}
		if !ok {
			return d.fail(c.name, "invalid timestamp "+strconv.Quote(string(field)))
		}
		s.appendI64(us)
	}
	return nil
}

// isHeader reports whether the line is the header: the schema field names,
// in order (quoted or not).
func (d *csvDecoder) isHeader(b []byte) bool {
	if len(b) < len(d.header[0]) {
		return false
	}
	i := 0
	for f := 0; f < len(d.header); f++ {
		if i > len(b) {
			return false
		}
		field, _, next, reason := d.nextField(b, i)
		if reason != "" || string(field) != string(d.header[f]) {
			return false
		}
		i = next
	}
	return i > len(b)
}

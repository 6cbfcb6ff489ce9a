package dataframe

import (
	"bytes"
	"encoding/binary"
	"math/bits"
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
	// ends holds, for a line without quotes, the index of the delimiter
	// after each of the first nField fields.
	ends []int
	// want is the decoded fields, in schema order.
	want []csvField
}

// csvField is a field that is decoded: its schema index and output column,
// and whether that is a STRING column.
type csvField struct {
	f, out int
	str    bool
}

func newCSVDecoder(b *decoderBase) *csvDecoder {
	d := &csvDecoder{decoderBase: b, delim: b.opts.CSVDelimiter, nField: len(b.fieldOut)}
	d.ends = make([]int, d.nField)
	for f, out := range b.fieldOut {
		if out >= 0 {
			d.want = append(d.want, csvField{f, out, b.cols[out].typ == String})
		}
	}
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
	bad := d.parse(value)
	if bad == nil && d.fieldsOnly && d.hasEventTime() {
		// parse appended a value to every decoded field.
		d.finishFull()
		return nil
	}
	return d.finish(meta, value, bad)
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

// parse splits the line and converts the decoded fields. One pass finds
// the delimiters eight bytes at a time and notes whether the line has a
// quote or a non-ASCII byte; a line with a quote is parsed by parseQuoted.
func (d *csvDecoder) parse(b []byte) *malformed {
	ends := d.ends
	dw := uint64(d.delim) * swarOnes
	var quotes, high uint64 // flag (in the bytes' high bits) a quote, a byte >= 0x80
	f := 0                  // delimiters seen
	i := 0
	for {
		var x uint64
		if i+8 <= len(b) {
			x = binary.LittleEndian.Uint64(b[i:])
		} else if len(b) >= 8 {
			// The last < 8 bytes: reload the line's last eight bytes and
			// shift out those already scanned; the zero bytes shifted in
			// are neither a delimiter (never 0) nor a quote.
			if i == len(b) {
				break
			}
			x = binary.LittleEndian.Uint64(b[len(b)-8:]) >> (8 * (8 - uint(len(b)-i)))
		} else {
			if i == len(b) {
				break
			}
			for j, c := range b {
				x |= uint64(c) << (8 * j)
			}
		}
		high |= x
		q := x ^ swarQuote
		quotes |= (q - swarOnes) &^ q
		// Exactly the delimiter bytes, without the false positives above
		// a match of the shorter test.
		y := x ^ dw
		m := ^((y&^swarHigh + swarOnes*0x7f) | y) & swarHigh
		for m != 0 {
			if f < len(ends) {
				ends[f] = i + bits.TrailingZeros64(m)>>3
			}
			f++
			m &= m - 1
		}
		i += 8
		if i >= len(b) {
			break
		}
	}
	if quotes&swarHigh != 0 {
		return d.parseQuoted(b)
	}
	// A line is valid UTF-8 exactly when its fields are: check it once.
	d.utf8OK = high&swarHigh == 0 || utf8.Valid(b)
	for _, w := range d.want {
		if w.f > f {
			break
		}
		start, end := 0, len(b)
		if w.f > 0 {
			start = ends[w.f-1] + 1
		}
		if w.f < f {
			end = ends[w.f]
		}
		if field := b[start:end]; w.str && len(field) > 0 && d.utf8OK {
			d.b[w.out].appendBytes(field) // convert's case for it
		} else if bad := d.convert(w.out, field, false); bad != nil {
			return bad
		}
	}
	if f+1 != d.nField {
		return d.fail("", "expected "+strconv.Itoa(d.nField)+" fields, got "+strconv.Itoa(f+1))
	}
	return nil
}

// parseQuoted is parse for a line with quotes.
func (d *csvDecoder) parseQuoted(b []byte) *malformed {
	// A line is valid UTF-8 exactly when its fields are: check it once.
	d.utf8OK = utf8.Valid(b)
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
		us, ok := parseTimestampField(field, d.opts.TimeZone)
		if !ok {
			return d.fail(c.name, "invalid timestamp "+strconv.Quote(string(field)))
		}
		s.appendI64(us)
	case Date:
		days, ok := parseDate(field)
		if !ok {
			return d.fail(c.name, "invalid date "+strconv.Quote(string(field))+" (want yyyy-MM-dd)")
		}
		s.appendI32(days)
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

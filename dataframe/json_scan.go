package dataframe

// The JSON lexer: whitespace, strings (with unescaping), numbers, literals
// and validated skipping of values the schema does not want.

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

func (d *jsonDecoder) ws() { d.i = skipWS(d.b, d.i) }

// skipWS returns the position of the first non-whitespace byte of b from i.
func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// literal consumes word (null, true, false) if it is next.
func (d *jsonDecoder) literal(word string) bool {
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

// strStop marks the bytes that stop the fast scan of a string: the closing
// quote, the backslash, control characters and non-ASCII bytes.
var strStop = func() (t [256]bool) {
	for c := range t {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80
	}
	return t
}()

const (
	swarOnes      = 0x0101010101010101
	swarHigh      = 0x8080808080808080
	swarQuote     = '"' * swarOnes
	swarBackslash = '\\' * swarOnes
)

// str scans a string at d.i and returns its unescaped bytes (aliasing the
// record when it has no escapes, else in scratch).
func (d *jsonDecoder) str() ([]byte, bool) {
	s, end, ok := d.scanStr(d.i)
	d.i = end
	return s, ok
}

// scanStr scans the string whose opening quote is at i and returns its
// unescaped bytes (aliasing the record when it has no escapes, else in
// scratch) and the position after it (where it failed when !ok).
func (d *jsonDecoder) scanStr(i int) ([]byte, int, bool) {
	b := d.b
	start := i + 1 // after the opening quote
	i = start
	ascii := true
	nonASCII := uint64(swarHigh) // flags non-ASCII bytes until the first one
	for {
		if i+8 <= len(b) {
			// Eight bytes at a time while the record has them: the lowest
			// flagged byte of t is the first quote, backslash, control or
			// (until one is seen) non-ASCII byte; the flags above it may be
			// false.
			x := binary.LittleEndian.Uint64(b[i:])
			t := ((x^swarQuote)-swarOnes)&^(x^swarQuote) |
				((x^swarBackslash)-swarOnes)&^(x^swarBackslash) |
				(x-0x20*swarOnes)&^x |
				x&nonASCII
			if t &= swarHigh; t == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(t) >> 3
		} else {
			for i < len(b) && !strStop[b[i]] {
				i++
			}
			if i >= len(b) {
				break
			}
		}
		switch c := b[i]; {
		case c == '"':
			s := b[start:i]
			if !ascii && !utf8.Valid(s) {
				d.fail(nil, "invalid UTF-8 in a JSON string")
				return nil, i + 1, false
			}
			return s, i + 1, true
		case c == '\\':
			d.i = i
			s, ok := d.strEscaped(start)
			return s, d.i, ok
		case c < 0x20:
			d.fail(nil, "invalid JSON: control character in a string at byte "+strconv.Itoa(i))
			return nil, i, false
		}
		ascii, nonASCII = false, 0 // c >= 0x80
		i++
	}
	d.fail(nil, "invalid JSON: unterminated string")
	return nil, i, false
}

func (d *jsonDecoder) strEscaped(start int) ([]byte, bool) {
	off := len(d.scratch)
	d.scratch = append(d.scratch, d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			s := d.scratch[off:]
			if !utf8.Valid(s) {
				d.fail(nil, "invalid UTF-8 in a JSON string")
				return nil, false
			}
			return s, true
		case c < 0x20:
			d.fail(nil, "invalid JSON: control character in a string at byte "+strconv.Itoa(d.i))
			return nil, false
		case c != '\\':
			d.scratch = append(d.scratch, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			break
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			d.scratch = append(d.scratch, e)
		case 'b':
			d.scratch = append(d.scratch, '\b')
		case 'f':
			d.scratch = append(d.scratch, '\f')
		case 'n':
			d.scratch = append(d.scratch, '\n')
		case 'r':
			d.scratch = append(d.scratch, '\r')
		case 't':
			d.scratch = append(d.scratch, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				d.fail(nil, "invalid JSON: bad \\u escape")
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					d.i += 2
					if r2, ok = d.hex4(); !ok {
						d.fail(nil, "invalid JSON: bad \\u escape")
						return nil, false
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			d.scratch = utf8.AppendRune(d.scratch, r)
		default:
			d.fail(nil, "invalid JSON: bad escape \\"+string(rune(e)))
			return nil, false
		}
	}
	d.fail(nil, "invalid JSON: unterminated string")
	return nil, false
}

func (d *jsonDecoder) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// number scans a JSON number at d.i; isInt reports that it has no fraction
// or exponent.
func (d *jsonDecoder) number() (num []byte, isInt bool, ok bool) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	if d.i >= len(d.b) {
		d.syntax("in a number")
		return nil, false, false
	}
	if d.b[d.i] == '0' {
		d.i++
	} else if d.b[d.i] >= '1' && d.b[d.i] <= '9' {
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
	} else {
		d.syntax("in a number")
		return nil, false, false
	}
	isInt = true
	if d.i < len(d.b) && d.b[d.i] == '.' {
		isInt = false
		d.i++
		if !d.digits() {
			return nil, false, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		isInt = false
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return nil, false, false
		}
	}
	return d.b[start:d.i], isInt, true
}

func (d *jsonDecoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == start {
		d.syntax("in a number")
		return false
	}
	return true
}

// skip validates and skips any value.
func (d *jsonDecoder) skip(depth int) {
	if d.i >= len(d.b) {
		d.syntax("where a value was expected")
		return
	}
	switch c := d.b[d.i]; {
	case c == '"':
		d.str()
	case c == '{':
		d.object(nil, depth)
	case c == '[':
		d.array(depth)
	case c == '-' || c >= '0' && c <= '9':
		d.number()
	case d.literal("null"), d.literal("true"), d.literal("false"):
	default:
		d.syntax("where a value was expected")
	}
}

func (d *jsonDecoder) array(depth int) {
	if depth > maxJSONDepth {
		d.fail(nil, "invalid JSON: nesting too deep")
		return
	}
	d.i++ // '['
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return
	}
	for d.bad == nil {
		d.skip(depth + 1)
		if d.bad != nil {
			return
		}
		d.ws()
		if d.i >= len(d.b) {
			d.syntax("in an array")
			return
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.ws()
		case ']':
			d.i++
			return
		default:
			d.syntax("in an array")
			return
		}
	}
}

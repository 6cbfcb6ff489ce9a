package dataframe

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonDecoder decodes one JSON object per record with a schema-directed
// scanner: it walks the bytes once, matches keys against a trie of the
// wanted (dotted) paths, converts wanted values straight into the column
// buffers and validates but skips everything else.
type jsonDecoder struct {
	*decoderBase
	root *jsonNode
	// Per-record scanner state.
	b   []byte
	i   int
	bad *malformed
	m   malformed // storage for bad, to avoid an allocation per error
}

// jsonNode is one object level of the wanted paths.
type jsonNode struct {
	keys  []string
	nodes []*jsonNode
	next  int // index of the key expected next (keys usually come in order)
	col   int // output column of a leaf, -1 for an inner node
	typ   Type
	name  string
}

const maxJSONDepth = 512

func newJSONDecoder(b *decoderBase) *jsonDecoder {
	d := &jsonDecoder{decoderBase: b, root: &jsonNode{col: -1}}
	for i, c := range b.cols {
		if c.field < 0 {
			continue
		}
		// A dotted name reads the nested path; it also matches a literal
		// top-level key of the same name.
		parts := strings.Split(c.name, ".")
		n := d.root
		for _, p := range parts {
			n = n.child(p, true)
		}
		n.col, n.typ, n.name = i, c.typ, c.name
		if len(parts) > 1 {
			if lit := d.root.child(c.name, true); lit.col < 0 {
				lit.col, lit.typ, lit.name = i, c.typ, c.name
			}
		}
	}
	return d
}

func (n *jsonNode) child(key string, create bool) *jsonNode {
	for i, k := range n.keys {
		if k == key {
			return n.nodes[i]
		}
	}
	if !create {
		return nil
	}
	c := &jsonNode{col: -1}
	n.keys = append(n.keys, key)
	n.nodes = append(n.nodes, c)
	return c
}

// lookup finds key, trying the key after the previous match first.
func (n *jsonNode) lookup(key []byte) *jsonNode {
	if len(n.keys) == 0 {
		return nil
	}
	if n.next < len(n.keys) && n.keys[n.next] == string(key) {
		i := n.next
		n.next++
		return n.nodes[i]
	}
	for i, k := range n.keys {
		if k == string(key) {
			n.next = i + 1
			return n.nodes[i]
		}
	}
	return nil
}

func (d *jsonDecoder) Append(meta *RecordMeta, value []byte) error {
	d.b, d.i, d.bad = value, 0, nil
	d.scratch = d.scratch[:0]
	d.root.next = 0
	d.ws()
	if d.i >= len(d.b) {
		d.fail(nil, "empty record")
	} else if d.b[d.i] != '{' {
		d.fail(nil, "not a JSON object")
	} else {
		d.object(d.root, 0)
		if d.bad == nil {
			d.ws()
			if d.i < len(d.b) {
				d.syntax("after the object")
			}
		}
	}
	d.b = nil
	return d.finish(meta, d.bad)
}

func (d *jsonDecoder) fail(n *jsonNode, reason string) {
	if d.bad != nil {
		return
	}
	d.m = malformed{reason: reason}
	if n != nil {
		d.m.column = n.name
	}
	d.bad = &d.m
}

func (d *jsonDecoder) syntax(where string) {
	if d.i >= len(d.b) {
		d.fail(nil, "invalid JSON: unexpected end "+where)
		return
	}
	d.fail(nil, "invalid JSON: unexpected "+strconv.QuoteRune(rune(d.b[d.i]))+" at byte "+strconv.Itoa(d.i)+" "+where)
}

func (d *jsonDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// object scans an object whose '{' is at d.i, decoding the keys of n.
func (d *jsonDecoder) object(n *jsonNode, depth int) {
	if depth > maxJSONDepth {
		d.fail(nil, "invalid JSON: nesting too deep")
		return
	}
	d.i++ // '{'
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return
	}
	for d.bad == nil {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			d.syntax("where an object key was expected")
			return
		}
		key, ok := d.str()
		if !ok {
			return
		}
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			d.syntax("after an object key")
			return
		}
		d.i++
		d.ws()
		var c *jsonNode
		if n != nil {
			c = n.lookup(key)
		}
		switch {
		case c == nil:
			d.skip(depth + 1)
		case c.col >= 0 && !(len(c.keys) > 0 && d.i < len(d.b) && d.b[d.i] == '{'):
			d.value(c, depth+1)
		case d.i < len(d.b) && d.b[d.i] == '{':
			c.next = 0
			d.object(c, depth+1)
		case d.literal("null"):
			// A null parent: its nested fields stay NULL.
		default:
			d.fail(c, "expected a JSON object for nested fields of "+strconv.Quote(c.keys[0]))
			return
		}
		if d.bad != nil {
			return
		}
		d.ws()
		if d.i >= len(d.b) {
			d.syntax("in an object")
			return
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.ws()
		case '}':
			d.i++
			return
		default:
			d.syntax("in an object")
			return
		}
	}
}

// literal consumes word (null, true, false) if it is next.
func (d *jsonDecoder) literal(word string) bool {
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

// str scans a string at d.i and returns its unescaped bytes (aliasing the
// record when it has no escapes, else in scratch).
func (d *jsonDecoder) str() ([]byte, bool) {
	d.i++ // opening quote
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				d.fail(nil, "invalid UTF-8 in a JSON string")
				return nil, false
			}
			return s, true
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			d.fail(nil, "invalid JSON: control character in a string at byte "+strconv.Itoa(d.i))
			return nil, false
		case c >= 0x80:
			ascii = false
		}
		d.i++
	}
	d.fail(nil, "invalid JSON: unterminated string")
	return nil, false
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

// value decodes the value at d.i into leaf n's slot.
func (d *jsonDecoder) value(n *jsonNode, depth int) {
	s := d.cell(n.col)
	if d.i >= len(d.b) {
		d.syntax("where a value was expected")
		return
	}
	c := d.b[d.i]
	if c == 'n' {
		if d.literal("null") {
			return // absent and null are both NULL
		}
		d.syntax("where a value was expected")
		return
	}
	switch n.typ {
	case String:
		if c == '"' {
			if v, ok := d.str(); ok {
				s.appendBytes(v)
			}
			return
		}
		// Like Spark, a non-string value in a STRING column is kept as its
		// JSON text.
		start := d.i
		d.skip(depth)
		s.appendBytes(d.b[start:d.i])
	case Int32, Int64:
		if c != '-' && (c < '0' || c > '9') {
			d.wrongType(n, c, depth)
			return
		}
		num, isInt, ok := d.number()
		if !ok {
			return
		}
		if !isInt {
			d.fail(n, "expected an integer for "+n.typ.String()+", got "+strconv.Quote(string(num)))
			return
		}
		bits := 64
		if n.typ == Int32 {
			bits = 32
		}
		v, reason := parseInt(num, bits)
		if reason != "" {
			d.fail(n, reason+" for "+n.typ.String()+": "+string(num))
			return
		}
		s.appendInt(v)
	case Float64:
		if c == '"' {
			str, ok := d.str()
			if !ok {
				return
			}
			switch string(str) {
			case "NaN":
				s.appendF64(math.NaN())
			case "Infinity", "+Infinity":
				s.appendF64(math.Inf(1))
			case "-Infinity":
				s.appendF64(math.Inf(-1))
			default:
				d.fail(n, "expected a number for DOUBLE, got a string")
			}
			return
		}
		if c != '-' && (c < '0' || c > '9') {
			d.wrongType(n, c, depth)
			return
		}
		num, _, ok := d.number()
		if !ok {
			return
		}
		f, ok := parseFloat(num)
		if !ok {
			d.fail(n, "number out of range for DOUBLE: "+string(num))
			return
		}
		s.appendF64(f)
	case Bool:
		switch {
		case d.literal("true"):
			s.appendBool(true)
		case d.literal("false"):
			s.appendBool(false)
		default:
			d.wrongType(n, c, depth)
		}
	case Timestamp:
		switch {
		case c == '"':
			str, ok := d.str()
			if !ok {
				return
			}
			us, ok := parseTimestamp(str)
			if !ok {
				d.fail(n, "invalid timestamp "+strconv.Quote(string(str)))
				return
			}
			s.appendI64(us)
		case c == '-' || c >= '0' && c <= '9':
			num, isInt, ok := d.number()
			if !ok {
				return
			}
			var us int64
			if isInt {
				ms, reason := parseInt(num, 64)
				if reason == "" {
					us, ok = epochMillis(ms)
				} else {
					ok = false
				}
			} else {
				var f float64
				if f, ok = parseFloat(num); ok {
					ok = math.Abs(f) < math.MaxInt64/1000
					us = int64(math.Round(f * 1000))
				}
			}
			if !ok {
				d.fail(n, "epoch milliseconds out of range: "+string(num))
				return
			}
			s.appendI64(us)
		default:
			d.wrongType(n, c, depth)
		}
	}
}

// wrongType reports a value of the wrong JSON type (after checking that it
// is valid JSON at all).
func (d *jsonDecoder) wrongType(n *jsonNode, c byte, depth int) {
	d.skip(depth)
	if d.bad != nil {
		return
	}
	got := "a string"
	switch {
	case c == '{':
		got = "an object"
	case c == '[':
		got = "an array"
	case c == 't' || c == 'f':
		got = "a boolean"
	case c == '-' || c >= '0' && c <= '9':
		got = "a number"
	}
	want := map[Type]string{Int32: "an integer", Int64: "an integer", Float64: "a number", Bool: "a boolean", Timestamp: "a timestamp string or epoch milliseconds"}[n.typ]
	d.fail(n, "expected "+want+" for "+n.typ.String()+", got "+got)
}

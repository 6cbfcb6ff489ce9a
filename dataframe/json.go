package dataframe

import (
	"math"
	"strconv"
	"strings"
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

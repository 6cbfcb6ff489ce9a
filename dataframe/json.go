package dataframe

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
)

// jsonDecoder decodes one JSON object per record with a schema-directed
// scanner: it walks the bytes once, matches keys against a trie of the
// wanted (dotted) paths (comparing first the bytes of the key that came next
// in the previous record), converts wanted values straight into the column
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
	col   int // output column of a leaf, -1 for an inner node
	typ   Type
	name  string
	// seq is the keys of this object in the previous record, in order, and
	// pos the index in seq of the key expected next: records of a stream
	// usually have their keys in the same order, so the key at seq[pos] is
	// compared with the record's bytes before the key is scanned.
	seq []jsonSeqKey
	pos int
}

// jsonSeqKey is one key of jsonNode.seq.
type jsonSeqKey struct {
	// raw is the key's JSON text after the opening quote, closing quote
	// included, when that text has no escapes; it is empty (and never
	// matches) otherwise. A string without escapes, quote or control
	// characters that was valid UTF-8 once is again: bytes equal to raw
	// scan to the same key without error.
	raw  []byte
	node *jsonNode // what lookup returns for the key; nil when not wanted
	// w holds the first 16 bytes of raw (little-endian, zero-padded) and m
	// masks them, to compare a short raw with two loads.
	w, m [2]uint64
}

// match reports whether b starts with e.raw.
func (e *jsonSeqKey) match(b []byte) bool {
	k := len(e.raw)
	if k <= 16 && len(b) >= 16 {
		return binary.LittleEndian.Uint64(b)&e.m[0] == e.w[0] &&
			binary.LittleEndian.Uint64(b[8:])&e.m[1] == e.w[1]
	}
	// 0 < k <= len(b): an empty raw never matches.
	return uint(k-1) < uint(len(b)) && string(b[:k]) == string(e.raw)
}

// Limits of jsonNode.seq: the keys learned per object and the length of a
// learned key.
const (
	maxJSONSeq    = 64
	maxJSONSeqKey = 256
)

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

// lookup finds key.
func (n *jsonNode) lookup(key []byte) *jsonNode {
	for i, k := range n.keys {
		if k == string(key) {
			return n.nodes[i]
		}
	}
	return nil
}

// learn records key (whose JSON text was rawLen bytes after the opening
// quote) and its node c as seq[pos], and moves pos on.
func (n *jsonNode) learn(key []byte, rawLen int, c *jsonNode) {
	if n.pos >= maxJSONSeq {
		n.pos++
		return
	}
	if n.pos == len(n.seq) {
		n.seq = append(n.seq, jsonSeqKey{})
	}
	e := &n.seq[n.pos]
	e.raw = e.raw[:0]
	if rawLen == len(key)+1 && rawLen <= maxJSONSeqKey {
		e.raw = append(append(e.raw, key...), '"')
	}
	e.node = c
	var w [16]byte
	copy(w[:], e.raw)
	e.w = [2]uint64{binary.LittleEndian.Uint64(w[:]), binary.LittleEndian.Uint64(w[8:])}
	if len(e.raw) == 0 {
		e.w[0] = 1 // never matches with m[0] == 0
	}
	for h := range e.m {
		e.m[h] = 0
		if k := len(e.raw) - 8*h; k >= 8 {
			e.m[h] = ^uint64(0)
		} else if k > 0 {
			e.m[h] = 1<<(8*k) - 1
		}
	}
	n.pos++
}

// key scans the object key whose opening quote is at i and returns the
// node of n it names (nil when n is nil or does not want it) and the
// position after its closing quote. The caller has tried n.seq[n.pos].
func (d *jsonDecoder) key(n *jsonNode, i int) (*jsonNode, int, bool) {
	key, end, ok := d.scanStr(i)
	if !ok || n == nil {
		return nil, end, ok
	}
	c := n.lookup(key)
	n.learn(key, end-i-1, c)
	return c, end, true
}

func (d *jsonDecoder) Append(meta *RecordMeta, value []byte) error {
	d.b, d.i, d.bad = value, 0, nil
	d.scratch = d.scratch[:0]
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
	return d.finish(meta, value, d.bad)
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
	if n != nil {
		n.pos = 0
	}
	// The loop keeps the position in i and stores it in d.i only around
	// the calls that use d.i.
	b, i := d.b, d.i
	for {
		if i >= len(b) || b[i] != '"' {
			d.i = i
			d.syntax("where an object key was expected")
			return
		}
		var c *jsonNode
		if n != nil && n.pos < len(n.seq) && n.seq[n.pos].match(b[i+1:]) {
			e := &n.seq[n.pos]
			n.pos++
			c, i = e.node, i+1+len(e.raw)
		} else {
			var ok bool
			if c, i, ok = d.key(n, i); !ok {
				return
			}
		}
		if i < len(b) && b[i] == ':' {
			i++
		} else {
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				d.i = i
				d.syntax("after an object key")
				return
			}
			i++
		}
		i = skipWS(b, i)
		if i < len(b) && b[i] == '"' && (c == nil || c.col >= 0 && c.typ == String) {
			// A string to skip or to decode into a STRING column, as skip
			// and value would.
			v, end, ok := d.scanStr(i)
			if !ok {
				return
			}
			if c != nil {
				d.cell(c.col).appendBytes(v)
			}
			i = end
		} else {
			d.i = i
			switch {
			case c == nil:
				d.skip(depth + 1)
			case c.col >= 0 && !(len(c.keys) > 0 && d.i < len(d.b) && d.b[d.i] == '{'):
				d.value(c, depth+1)
			case d.i < len(d.b) && d.b[d.i] == '{':
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
			i = d.i
		}
		i = skipWS(b, i)
		if i >= len(b) {
			d.i = i
			d.syntax("in an object")
			return
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			d.i = i + 1
			return
		default:
			d.i = i
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
			us, ok := parseTimestampField(str, d.opts.TimeZone)
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
	case Date:
		if c != '"' {
			d.wrongType(n, c, depth)
			return
		}
		str, ok := d.str()
		if !ok {
			return
		}
		days, ok := parseDate(str)
		if !ok {
			d.fail(n, "invalid date "+strconv.Quote(string(str))+" (want yyyy-MM-dd)")
			return
		}
		s.appendI32(days)
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
	want := map[Type]string{Int32: "an integer", Int64: "an integer", Float64: "a number", Bool: "a boolean", Timestamp: "a timestamp string or epoch milliseconds", Date: "a yyyy-MM-dd string"}[n.typ]
	d.fail(n, "expected "+want+" for "+n.typ.String()+", got "+got)
}

package dataframe

import (
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// colBuffer accumulates one column in Go slices, laid out as Arrow lays it
// out (values or offsets+data; the validity bitmap is made from the nulls'
// positions), and copies it into allocator memory once per batch.
// Appending a value is a slice append, without the per-value bookkeeping of
// Arrow's builders.
type colBuffer struct {
	typ   Type
	n     int
	nulls int
	// null is the nulls' bitmap, bit i = row i is NULL, as far as the last
	// NULL (appending a value does not touch it).
	null []byte
	i32  []int32 // INT and DATE
	i64  []int64 // BIGINT and TIMESTAMP
	f64  []float64
	bits []byte  // BOOLEAN values bitmap
	off  []int32 // STRING offsets: n+1 entries starting at 0
	data []byte  // STRING bytes
}

func newColBuffer(t Type) colBuffer {
	c := colBuffer{typ: t}
	if t == String {
		c.off = []int32{0}
	}
	return c
}

func (c *colBuffer) appendNull() {
	k := c.n >> 3
	for len(c.null) <= k {
		c.null = append(c.null, 0)
	}
	c.null[k] |= 1 << (c.n & 7)
	switch c.typ {
	case String:
		c.off = append(c.off, int32(len(c.data)))
	case Int32, Date:
		c.i32 = append(c.i32, 0)
	case Int64, Timestamp:
		c.i64 = append(c.i64, 0)
	case Float64:
		c.f64 = append(c.f64, 0)
	case Bool:
		if c.n&7 == 0 {
			c.bits = append(c.bits, 0)
		}
	}
	c.n++
	c.nulls++
}

// appendBytes appends b to a STRING column.
func (c *colBuffer) appendBytes(b []byte) {
	// Within capacity only data's length is stored: append would store
	// the pointer too, with a write barrier while the GC marks.
	n := len(c.data)
	m := n + len(b)
	if m <= cap(c.data) {
		c.data = c.data[:m]
		copy(c.data[n:], b)
	} else {
		c.data = append(c.data, b...)
	}
	c.off = append(c.off, int32(m))
	c.n++
}

// appendString appends s to a STRING column.
func (c *colBuffer) appendString(s string) {
	n := len(c.data)
	m := n + len(s)
	if m <= cap(c.data) {
		c.data = c.data[:m]
		copy(c.data[n:], s)
	} else {
		c.data = append(c.data, s...)
	}
	c.off = append(c.off, int32(m))
	c.n++
}

func (c *colBuffer) appendI32(v int32) {
	c.i32 = append(c.i32, v)
	c.n++
}

func (c *colBuffer) appendI64(v int64) {
	c.i64 = append(c.i64, v)
	c.n++
}

// appendInt appends to an INT, BIGINT, TIMESTAMP or DATE column.
func (c *colBuffer) appendInt(v int64) {
	if c.typ == Int32 || c.typ == Date {
		c.appendI32(int32(v))
	} else {
		c.appendI64(v)
	}
}

func (c *colBuffer) appendF64(v float64) {
	c.f64 = append(c.f64, v)
	c.n++
}

func (c *colBuffer) appendBool(v bool) {
	if c.n&7 == 0 {
		c.bits = append(c.bits, 0)
	}
	if v {
		c.bits[c.n>>3] |= 1 << (c.n & 7)
	}
	c.n++
}

func sliceBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(z)))
}

func memBuffer(mem memory.Allocator, b []byte) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(b))
	copy(buf.Bytes(), b)
	return buf
}

// newArray copies the column into an Arrow array allocated from mem and
// empties the buffer for the next batch.
func (c *colBuffer) newArray(mem memory.Allocator) arrow.Array {
	var validity *memory.Buffer
	if c.nulls > 0 {
		validity = c.validity(mem)
	}
	var bufs []*memory.Buffer
	switch c.typ {
	case String:
		bufs = []*memory.Buffer{validity, memBuffer(mem, sliceBytes(c.off)), memBuffer(mem, c.data)}
	case Int32, Date:
		bufs = []*memory.Buffer{validity, memBuffer(mem, sliceBytes(c.i32))}
	case Int64, Timestamp:
		bufs = []*memory.Buffer{validity, memBuffer(mem, sliceBytes(c.i64))}
	case Float64:
		bufs = []*memory.Buffer{validity, memBuffer(mem, sliceBytes(c.f64))}
	case Bool:
		bufs = []*memory.Buffer{validity, memBuffer(mem, c.bits)}
	}
	arr := newArrayOf(c.typ, c.n, c.nulls, bufs)
	c.reset()
	return arr
}

// validity returns the validity bitmap of the column's n rows, allocated
// from mem: (n+7)/8 bytes, bit i set when row i is not NULL, the bits
// from n on clear.
func (c *colBuffer) validity(mem memory.Allocator) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize((c.n + 7) >> 3)
	v := buf.Bytes()
	for j := range v {
		var nb byte
		if j < len(c.null) {
			nb = c.null[j]
		}
		v[j] = ^nb
	}
	if r := c.n & 7; r != 0 {
		v[len(v)-1] &= 1<<r - 1
	}
	return buf
}

// newArrayOf makes an array of type t over bufs, taking over their
// references.
func newArrayOf(t Type, n, nulls int, bufs []*memory.Buffer) arrow.Array {
	data := array.NewData(t.Arrow(), n, bufs, nil, nulls, 0)
	arr := array.MakeFromData(data)
	data.Release()
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	return arr
}

// truncate drops the rows from n on.
func (c *colBuffer) truncate(n int) {
	for r := n; r < c.n; r++ {
		if k := r >> 3; k < len(c.null) && c.null[k]&(1<<(r&7)) != 0 {
			c.nulls--
			c.null[k] &^= 1 << (r & 7)
		}
		if c.typ == Bool {
			c.bits[r>>3] &^= 1 << (r & 7)
		}
	}
	c.n = n
	nb := (n + 7) >> 3
	c.null = c.null[:min(len(c.null), nb)]
	switch c.typ {
	case String:
		c.off = c.off[:n+1]
		c.data = c.data[:c.off[n]]
	case Int32, Date:
		c.i32 = c.i32[:n]
	case Int64, Timestamp:
		c.i64 = c.i64[:n]
	case Float64:
		c.f64 = c.f64[:n]
	case Bool:
		c.bits = c.bits[:nb]
	}
}

func (c *colBuffer) reset() {
	c.n, c.nulls = 0, 0
	c.null = c.null[:0]
	c.i32, c.i64, c.f64, c.bits = c.i32[:0], c.i64[:0], c.f64[:0], c.bits[:0]
	c.data = c.data[:0]
	if c.typ == String {
		c.off = c.off[:1]
	}
}

package dataframe

import (
	"slices"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// tableCol is one column of an aggregate's output table (a grouping column
// or an aggregate's result, one row per group) in Go memory. It is built by
// appending rows and runs of rows of another tableCol, so the result cache
// can insert new groups without touching the rows between them. STRING is
// laid out as in Arrow (offsets and bytes), so a result copies a column in
// a few moves; validity is one bool per row, nil while no row is NULL.
type tableCol struct {
	typ   Type
	n     int
	valid []bool
	i32   []int32
	i64   []int64 // BIGINT and TIMESTAMP
	f64   []float64
	b     []bool
	off   []int32 // STRING: n+1 offsets starting at 0
	data  []byte  // STRING bytes
	// lease counts the result arrays that share the values (i32, i64,
	// f64, or off and data) of the column: while any is held, the column
	// is copied before it is written to (see unshare).
	lease *lease
}

// lease is the allocator of the Arrow buffers that newArray makes over a
// tableCol's Go memory: it allocates nothing, and counts the buffers not
// yet freed (released by every array holding them). Results are released
// on any goroutine, hence the atomic count.
type lease struct{ held atomic.Int64 }

func (l *lease) Allocate(int) []byte {
	panic("dataframe: allocation from a shared result table column")
}

func (l *lease) Reallocate(int, []byte) []byte {
	panic("dataframe: reallocation of a shared result table column")
}

func (l *lease) Free([]byte) { l.held.Add(-1) }

// buffer wraps b, memory of the column, as an Arrow buffer counted by l.
func (l *lease) buffer(b []byte) *memory.Buffer {
	l.held.Add(1)
	return memory.NewBufferWithAllocator(b, l)
}

// unshare makes sure no result array holds the column's values before
// they are written to: if one does, the column gets values of its own, a
// copy when keep, else empty buffers (for a column about to be reset).
func (c *tableCol) unshare(keep bool) {
	if c.lease == nil || c.lease.held.Load() == 0 {
		return
	}
	c.lease = nil
	if keep {
		c.i32, c.i64, c.f64 = slices.Clone(c.i32), slices.Clone(c.i64), slices.Clone(c.f64)
		c.off, c.data = slices.Clone(c.off), slices.Clone(c.data)
		return
	}
	c.i32, c.i64, c.f64, c.off, c.data = nil, nil, nil, nil, nil
	c.reset()
}

// newTableCols returns the empty columns of an aggregate's output: the
// grouping columns, then one per aggregate (the evaluator's column order).
func newTableCols(spec *aggSpec) []tableCol {
	cols := make([]tableCol, 0, len(spec.groups)+len(spec.calls))
	for _, g := range spec.groups {
		cols = append(cols, tableCol{typ: g.e.typ})
	}
	for _, c := range spec.calls {
		cols = append(cols, tableCol{typ: c.typ})
	}
	for i := range cols {
		cols[i].reset()
	}
	return cols
}

// appendGroup appends group id of g as one row of cols (from newTableCols):
// its key decoded, then its finalized aggregates.
func appendGroup(cols []tableCol, g *groupTable, id int32) error {
	key := g.keyBytes(id)
	ng := len(g.spec.groups)
	for k := 0; k < ng; k++ {
		var err error
		if key, err = cols[k].appendKeyValue(key); err != nil {
			return err
		}
	}
	for i := range g.accs {
		cols[ng+i].appendValue(g.accs[i].final(id, g.spec.calls[i].typ))
	}
	return nil
}

// reset empties the column, keeping its buffers.
func (c *tableCol) reset() {
	c.n, c.valid = 0, nil
	c.i32, c.i64, c.f64, c.b, c.data = c.i32[:0], c.i64[:0], c.f64[:0], c.b[:0], c.data[:0]
	if c.typ == String {
		c.off = append(c.off[:0], 0)
	}
}

// reserve makes room for the rows of src and extra more rows, with some
// to spare, so that rebuilding a growing table batch after batch does not
// reallocate every time.
func (c *tableCol) reserve(src *tableCol, extra int) {
	rows := src.n + extra
	rows += rows / 8
	switch c.typ {
	case String:
		c.off = slices.Grow(c.off, rows+1-len(c.off))
		bytes := len(src.data) + extra*(len(src.data)/max(src.n, 1)+8)
		c.data = slices.Grow(c.data, bytes+bytes/8-len(c.data))
	case Int32, Date:
		c.i32 = slices.Grow(c.i32, rows-len(c.i32))
	case Int64, Timestamp:
		c.i64 = slices.Grow(c.i64, rows-len(c.i64))
	case Float64:
		c.f64 = slices.Grow(c.f64, rows-len(c.f64))
	case Bool:
		c.b = slices.Grow(c.b, rows-len(c.b))
	}
}

// nullable allocates the validity of the rows so far (all valid).
func (c *tableCol) nullable() {
	if c.valid != nil {
		return
	}
	c.valid = make([]bool, c.n, c.n+64)
	for i := range c.valid {
		c.valid[i] = true
	}
}

func (c *tableCol) appendValidity(ok bool) {
	switch {
	case !ok:
		c.nullable()
		c.valid = append(c.valid, false)
	case c.valid != nil:
		c.valid = append(c.valid, true)
	}
}

// appendValue appends x (of the column's type) or NULL.
func (c *tableCol) appendValue(x value) {
	c.appendValidity(!x.null)
	switch c.typ {
	case String:
		c.data = append(c.data, x.s...)
		c.off = append(c.off, int32(len(c.data)))
	case Int32, Date:
		c.i32 = append(c.i32, int32(x.i))
	case Int64, Timestamp:
		c.i64 = append(c.i64, x.i)
	case Float64:
		c.f64 = append(c.f64, x.f)
	case Bool:
		c.b = append(c.b, x.i != 0)
	}
	c.n++
}

// appendKeyValue decodes the value that key starts with (see keys.go),
// appends it and returns the rest of the key. A STRING is unescaped
// straight into the column's bytes.
func (c *tableCol) appendKeyValue(key []byte) ([]byte, error) {
	if c.typ != String || len(key) == 0 || key[0] != byte(String) {
		x, rest, err := decodeKeyValue(key, c.typ)
		if err != nil {
			return nil, err
		}
		c.appendValue(x)
		return rest, nil
	}
	data, rest, err := unescapeKeyString(c.data, key[1:])
	if err != nil {
		return nil, err
	}
	c.appendValidity(true)
	c.data = data
	c.off = append(c.off, int32(len(c.data)))
	c.n++
	return rest, nil
}

// appendRun appends the rows [lo, hi) of src, a column of the same type.
func (c *tableCol) appendRun(src *tableCol, lo, hi int) {
	if lo >= hi {
		return
	}
	switch {
	case src.valid != nil:
		c.nullable()
		c.valid = append(c.valid, src.valid[lo:hi]...)
	case c.valid != nil:
		for range hi - lo {
			c.valid = append(c.valid, true)
		}
	}
	switch c.typ {
	case String:
		shift := int32(len(c.data)) - src.off[lo]
		c.data = append(c.data, src.data[src.off[lo]:src.off[hi]]...)
		for _, o := range src.off[lo+1 : hi+1] {
			c.off = append(c.off, o+shift)
		}
	case Int32, Date:
		c.i32 = append(c.i32, src.i32[lo:hi]...)
	case Int64, Timestamp:
		c.i64 = append(c.i64, src.i64[lo:hi]...)
	case Float64:
		c.f64 = append(c.f64, src.f64[lo:hi]...)
	case Bool:
		c.b = append(c.b, src.b[lo:hi]...)
	}
	c.n += hi - lo
}

// vector views the column as an evaluation vector without copying. The
// vector is valid until the column changes; release frees the Arrow view
// of a STRING column (its buffers are the column's Go memory). Rows set
// through the vector of a fixed-size type are set in the column, but a
// validity the vector allocates (vector.setNull) is to be copied back.
func (c *tableCol) vector() (v *vector, release func()) {
	v = &vector{typ: c.typ, valid: c.valid, i32: c.i32, i64: c.i64, f64: c.f64, b: c.b}
	switch c.typ {
	case String:
		data := array.NewData(arrow.BinaryTypes.String, c.n,
			[]*memory.Buffer{nil, memory.NewBufferBytes(sliceBytes(c.off)), memory.NewBufferBytes(c.data)}, nil, 0, 0)
		v.sa = array.NewStringData(data)
		data.Release()
		return v, v.sa.Release
	}
	return v, func() {}
}

// newArray returns the rows [0, m) as an Arrow array laid out as toArrow
// lays out the same values. Validity and BOOLEAN bitmaps are allocated
// from mem; other values are not copied: the array shares the column's
// memory, which the column does not write to until the array is released
// (unshare).
func (c *tableCol) newArray(mem memory.Allocator, m int) arrow.Array {
	var validity *memory.Buffer
	nulls := 0
	if c.valid != nil {
		bits := make([]byte, (m+7)>>3)
		for r, ok := range c.valid[:m] {
			if ok {
				bits[r>>3] |= 1 << (r & 7)
			} else {
				nulls++
			}
		}
		if nulls > 0 {
			validity = memBuffer(mem, bits)
		}
	}
	t := c.typ
	if c.lease == nil {
		c.lease = &lease{}
	}
	var bufs []*memory.Buffer
	switch t {
	case String:
		bufs = []*memory.Buffer{validity, c.lease.buffer(sliceBytes(c.off[:m+1])), c.lease.buffer(c.data[:c.off[m]])}
	case Int32, Date:
		bufs = []*memory.Buffer{validity, c.lease.buffer(sliceBytes(c.i32[:m]))}
	case Int64, Timestamp:
		bufs = []*memory.Buffer{validity, c.lease.buffer(sliceBytes(c.i64[:m]))}
	case Float64:
		bufs = []*memory.Buffer{validity, c.lease.buffer(sliceBytes(c.f64[:m]))}
	case Bool:
		bits := make([]byte, (m+7)>>3)
		for r, x := range c.b[:m] {
			if x {
				bits[r>>3] |= 1 << (r & 7)
			}
		}
		bufs = []*memory.Buffer{validity, memBuffer(mem, bits)}
	default: // an untyped NULL column, as toArrow makes it: INT, every row NULL
		t = Int32
		bufs = []*memory.Buffer{validity, memBuffer(mem, make([]byte, 4*m))}
	}
	return newArrayOf(t, m, nulls, bufs)
}

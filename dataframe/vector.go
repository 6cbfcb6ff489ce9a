package dataframe

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// vector is a column of one batch during evaluation. Values are indexed by
// row; only the rows of the selection being evaluated are meaningful. One
// slice is set, by type: i32 (INT, DATE), i64 (BIGINT, TIMESTAMP), f64 (DOUBLE), b
// (BOOLEAN), s (STRING; views into Arrow buffers while the batch lives).
type vector struct {
	typ   Type
	valid []bool // nil: every row is valid
	i32   []int32
	i64   []int64
	f64   []float64
	b     []bool
	s     []string
	sa    *array.String // STRING straight from an Arrow column, when s is nil
}

// str returns row i of a STRING vector.
func (v *vector) str(i int32) string {
	if v.s != nil {
		return v.s[i]
	}
	return v.sa.Value(int(i))
}

func newVector(t Type, n int) *vector {
	v := &vector{typ: t}
	switch t {
	case String:
		v.s = make([]string, n)
	case Int32, Date:
		v.i32 = make([]int32, n)
	case Int64, Timestamp:
		v.i64 = make([]int64, n)
	case Float64:
		v.f64 = make([]float64, n)
	case Bool:
		v.b = make([]bool, n)
	default: // an untyped NULL: every row invalid
		v.valid = make([]bool, n)
	}
	return v
}

func (v *vector) null(i int32) bool { return v.valid != nil && !v.valid[i] }

// setNull marks row i NULL, allocating the validity on first use.
func (v *vector) setNull(i int32, n int) {
	if v.valid == nil {
		v.valid = make([]bool, n)
		for j := range v.valid {
			v.valid[j] = true
		}
	}
	v.valid[i] = false
}

func (v *vector) get(i int32) value {
	if v.null(i) {
		return value{null: true}
	}
	switch v.typ {
	case String:
		return value{s: v.str(i)}
	case Int32, Date:
		return value{i: int64(v.i32[i])}
	case Int64, Timestamp:
		return value{i: v.i64[i]}
	case Float64:
		return value{f: v.f64[i]}
	case Bool:
		if v.b[i] {
			return value{i: 1}
		}
		return value{}
	}
	return value{null: true}
}

// set stores x at row i of a vector of n rows.
func (v *vector) set(i int32, x value, n int) {
	if x.null {
		v.setNull(i, n)
		return
	}
	if v.valid != nil {
		v.valid[i] = true
	}
	switch v.typ {
	case String:
		v.s[i] = x.s
	case Int32, Date:
		v.i32[i] = int32(x.i)
	case Int64, Timestamp:
		v.i64[i] = x.i
	case Float64:
		v.f64[i] = x.f
	case Bool:
		v.b[i] = x.i != 0
	}
}

// copyRows copies the rows sel of src into dst (same type and length).
func copyRows(dst, src *vector, sel []int32, n int) {
	if src.valid != nil {
		for _, i := range sel {
			if !src.valid[i] {
				dst.setNull(i, n)
			} else if dst.valid != nil {
				dst.valid[i] = true
			}
		}
	} else if dst.valid != nil {
		for _, i := range sel {
			dst.valid[i] = true
		}
	}
	switch dst.typ {
	case String:
		for _, i := range sel {
			dst.s[i] = src.str(i)
		}
	case Int32, Date:
		for _, i := range sel {
			dst.i32[i] = src.i32[i]
		}
	case Int64, Timestamp:
		for _, i := range sel {
			dst.i64[i] = src.i64[i]
		}
	case Float64:
		for _, i := range sel {
			dst.f64[i] = src.f64[i]
		}
	case Bool:
		for _, i := range sel {
			dst.b[i] = src.b[i]
		}
	}
}

// fromArrow views an Arrow column as a vector without copying values
// (STRING reads the Arrow array; BOOLEAN and validity are unpacked).
func fromArrow(arr arrow.Array, t Type) (*vector, error) {
	v := &vector{typ: t}
	n := arr.Len()
	ok := true
	switch t {
	case String:
		a, isT := arr.(*array.String)
		if ok = isT; ok {
			v.sa = a
		}
	case Int32:
		a, isT := arr.(*array.Int32)
		if ok = isT; ok {
			v.i32 = a.Int32Values()
		}
	case Date:
		a, isT := arr.(*array.Date32)
		if ok = isT; ok {
			ds := a.Date32Values()
			if len(ds) > 0 {
				v.i32 = unsafe.Slice((*int32)(unsafe.Pointer(&ds[0])), len(ds))
			}
		}
	case Int64:
		a, isT := arr.(*array.Int64)
		if ok = isT; ok {
			v.i64 = a.Int64Values()
		}
	case Float64:
		a, isT := arr.(*array.Float64)
		if ok = isT; ok {
			v.f64 = a.Float64Values()
		}
	case Bool:
		a, isT := arr.(*array.Boolean)
		if ok = isT; ok {
			v.b = make([]bool, n)
			for i := range v.b {
				v.b[i] = a.Value(i)
			}
		}
	case Timestamp:
		a, isT := arr.(*array.Timestamp)
		if ok = isT && arrow.TypeEqual(a.DataType(), timestampType); ok {
			ts := a.TimestampValues()
			if len(ts) > 0 {
				v.i64 = unsafe.Slice((*int64)(unsafe.Pointer(&ts[0])), len(ts))
			}
		}
	default:
		ok = false
	}
	if !ok {
		return nil, fmt.Errorf("Arrow type %s, want %s (%v)", arr.DataType(), t.Arrow(), t)
	}
	if arr.NullN() > 0 {
		v.valid = make([]bool, n)
		for i := range v.valid {
			v.valid[i] = arr.IsValid(i)
		}
	}
	return v, nil
}

// toArrow builds an Arrow array of the rows sel of v.
func toArrow(mem memory.Allocator, v *vector, sel []int32) arrow.Array {
	t := v.typ
	if t == nullType {
		t = Int32
	}
	c := newColBuffer(t)
	if v.typ == nullType {
		for range sel {
			c.appendNull()
		}
		return c.newArray(mem)
	}
	for _, i := range sel {
		if v.valid != nil && !v.valid[i] {
			c.appendNull()
			continue
		}
		switch t {
		case String:
			c.appendString(v.str(i))
		case Int32, Date:
			c.appendI32(v.i32[i])
		case Int64, Timestamp:
			c.appendI64(v.i64[i])
		case Float64:
			c.appendF64(v.f64[i])
		case Bool:
			c.appendBool(v.b[i])
		}
	}
	return c.newArray(mem)
}

// identitySel returns the selection [0, n).
func identitySel(n int) []int32 {
	sel := make([]int32, n)
	for i := range sel {
		sel[i] = int32(i)
	}
	return sel
}

package dataframe

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// decoderBase is what the JSON and CSV decoders share: the output columns,
// their builders, one staged value per column for the record being decoded,
// the parse mode and the counters. A record is parsed into the slots first
// and appended only when it is well formed, so a malformed record never
// leaves a partial row behind.
type decoderBase struct {
	opts   DecoderOptions
	cols   []outColumn
	schema *arrow.Schema
	b      []colBuilder
	slots  []slot // per output column; only schema-field columns are used
	// fieldOut maps a schema field index to its output column, -1 when the
	// field is not decoded.
	fieldOut   []int
	fieldNames []string // schema field names, in schema order
	stats      DecodeStats
	n          int
	// scratch holds unescaped strings of the current record; slots may
	// point into it (or into the record value) until the row is appended.
	scratch []byte
}

type slot struct {
	set bool // a non-null value was decoded
	i   int64
	f   float64
	s   []byte
}

// colBuilder appends one column; exactly one builder pointer is set.
type colBuilder struct {
	typ Type
	str *array.StringBuilder
	i32 *array.Int32Builder
	i64 *array.Int64Builder
	f64 *array.Float64Builder
	bl  *array.BooleanBuilder
	ts  *array.TimestampBuilder
}

func newColBuilder(mem memory.Allocator, t Type) colBuilder {
	c := colBuilder{typ: t}
	switch t {
	case String:
		c.str = array.NewStringBuilder(mem)
	case Int32:
		c.i32 = array.NewInt32Builder(mem)
	case Int64:
		c.i64 = array.NewInt64Builder(mem)
	case Float64:
		c.f64 = array.NewFloat64Builder(mem)
	case Bool:
		c.bl = array.NewBooleanBuilder(mem)
	case Timestamp:
		c.ts = array.NewTimestampBuilder(mem, timestampType)
	}
	return c
}

func (c *colBuilder) builder() array.Builder {
	switch c.typ {
	case String:
		return c.str
	case Int32:
		return c.i32
	case Int64:
		return c.i64
	case Float64:
		return c.f64
	case Bool:
		return c.bl
	}
	return c.ts
}

func (c *colBuilder) appendSlot(s *slot) {
	if !s.set {
		c.builder().AppendNull()
		return
	}
	switch c.typ {
	case String:
		c.str.BinaryBuilder.Append(s.s)
	case Int32:
		c.i32.Append(int32(s.i))
	case Int64:
		c.i64.Append(s.i)
	case Float64:
		c.f64.Append(s.f)
	case Bool:
		c.bl.Append(s.i != 0)
	case Timestamp:
		c.ts.Append(arrow.Timestamp(s.i))
	}
}

func newDecoderBase(mem memory.Allocator, schema *Schema, opts DecoderOptions, cols []outColumn) *decoderBase {
	d := &decoderBase{opts: opts, cols: cols, slots: make([]slot, len(cols)), fieldOut: make([]int, len(schema.Fields))}
	for i, f := range schema.Fields {
		d.fieldOut[i] = -1
		d.fieldNames = append(d.fieldNames, f.Name)
	}
	fs := make([]arrow.Field, len(cols))
	d.b = make([]colBuilder, len(cols))
	for i, c := range cols {
		fs[i] = arrow.Field{Name: c.name, Type: c.typ.Arrow(), Nullable: true}
		d.b[i] = newColBuilder(mem, c.typ)
		if c.field >= 0 {
			d.fieldOut[c.field] = i
		}
	}
	d.schema = arrow.NewSchema(fs, nil)
	return d
}

// malformed describes why the current record is malformed.
type malformed struct {
	column string
	reason string
}

var emptyMeta RecordMeta

// finish appends the staged record (or handles it as malformed per the
// mode) and clears the slots.
func (d *decoderBase) finish(meta *RecordMeta, bad *malformed) error {
	if meta == nil {
		meta = &emptyMeta
	}
	if bad != nil {
		d.clearSlots()
		switch d.opts.Mode {
		case FailFast:
			return &MalformedRecordError{Topic: meta.Topic, Partition: meta.Partition, Offset: meta.Offset, Column: bad.column, Reason: bad.reason}
		case DropMalformed:
			d.stats.Dropped++
			return nil
		}
		d.stats.Corrupt++
	}
	for i := range d.cols {
		c := &d.cols[i]
		b := &d.b[i]
		if c.field >= 0 {
			b.appendSlot(&d.slots[i])
			d.slots[i].set = false
			continue
		}
		switch c.meta {
		case 0:
			b.str.Append(meta.Topic)
		case 1:
			b.i32.Append(meta.Partition)
		case 2:
			b.i64.Append(meta.Offset)
		case 3:
			b.ts.Append(arrow.Timestamp(meta.Timestamp * 1000))
		case 4:
			if meta.Key == nil {
				b.str.AppendNull()
			} else {
				b.str.BinaryBuilder.Append(meta.Key)
			}
		}
	}
	d.stats.Rows++
	d.n++
	return nil
}

func (d *decoderBase) clearSlots() {
	for i := range d.slots {
		d.slots[i].set = false
	}
}

// skip drops the current record without counting it (a CSV header line).
func (d *decoderBase) skip() { d.clearSlots() }

func (d *decoderBase) Len() int { return d.n }

func (d *decoderBase) Stats() DecodeStats { return d.stats }

func (d *decoderBase) Flush() arrow.Record {
	if d.n == 0 {
		return nil
	}
	arrs := make([]arrow.Array, len(d.b))
	for i := range d.b {
		arrs[i] = d.b[i].builder().NewArray()
	}
	rec := array.NewRecord(d.schema, arrs, int64(d.n))
	for _, a := range arrs {
		a.Release()
	}
	d.n = 0
	return rec
}

func (d *decoderBase) Release() {
	for i := range d.b {
		if b := d.b[i].builder(); b != nil {
			b.Release()
		}
	}
	d.b = nil
}

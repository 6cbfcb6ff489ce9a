package dataframe

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// decoderBase is what the JSON and CSV decoders share: the output columns,
// their buffers, the parse mode and the counters. A record's values are
// appended to the columns as they are parsed; a malformed record is rolled
// back by truncating every column to the rows before it, so it never leaves
// a partial row behind.
type decoderBase struct {
	opts   DecoderOptions
	cols   []outColumn
	schema *arrow.Schema
	mem    memory.Allocator
	b      []colBuffer
	// fieldOut maps a schema field index to its output column, -1 when the
	// field is not decoded.
	fieldOut   []int
	fieldNames []string // schema field names, in schema order
	// fieldsOnly is set when every output column is a schema field (no
	// metadata columns): a record that appended a value to each of them
	// is finished by finishFull.
	fieldsOnly bool
	stats      DecodeStats
	n          int
	// eventOut is the output column of DecoderOptions.EventTime, -1 when
	// none: a record without a value there is malformed.
	eventOut int
	// scratch holds unescaped strings of the current record.
	scratch []byte
}

func newDecoderBase(mem memory.Allocator, schema *Schema, opts DecoderOptions, cols []outColumn) *decoderBase {
	d := &decoderBase{mem: mem, opts: opts, cols: cols, fieldOut: make([]int, len(schema.Fields)), eventOut: -1}
	for i, f := range schema.Fields {
		d.fieldOut[i] = -1
		d.fieldNames = append(d.fieldNames, f.Name)
	}
	var fs []arrow.Field
	d.b = make([]colBuffer, len(cols))
	for i, c := range cols {
		if !c.hidden {
			fs = append(fs, arrow.Field{Name: c.name, Type: c.typ.Arrow(), Nullable: true})
		}
		d.b[i] = newColBuffer(c.typ)
		if c.field >= 0 {
			d.fieldOut[c.field] = i
		}
	}
	d.schema = arrow.NewSchema(fs, nil)
	d.fieldsOnly = true
	for i, c := range cols {
		if c.field < 0 || d.fieldOut[c.field] != i {
			d.fieldsOnly = false
		}
	}
	return d
}

// malformed describes why the current record is malformed.
type malformed struct {
	column string
	reason string
}

var emptyMeta RecordMeta

// cell returns the buffer of output column i for the current record; a
// value already decoded for it (a duplicate JSON key) is dropped, so the
// last one wins.
func (d *decoderBase) cell(i int) *colBuffer {
	c := &d.b[i]
	if c.n > d.n {
		c.truncate(d.n)
	}
	return c
}

// finish completes the current record: the fields it did not set become
// NULL and the metadata columns are appended. A malformed record (bad !=
// nil) is first rolled back and then handled per the mode.
//
// value is the record's value, the content of _corrupt_record when bad !=
// nil. A malformed record in PERMISSIVE or DROPMALFORMED mode is reported
// to DecoderOptions.OnMalformed.
func (d *decoderBase) finish(meta *RecordMeta, value []byte, bad *malformed) error {
	if meta == nil {
		meta = &emptyMeta
	}
	if bad == nil && !d.hasEventTime() {
		bad = &malformed{column: d.cols[d.eventOut].name, reason: "NULL event time (the watermark's eventTime column)"}
	}
	if bad != nil {
		d.rollback()
		if d.opts.Mode == FailFast {
			return &MalformedRecordError{Topic: meta.Topic, Partition: meta.Partition, Offset: meta.Offset, Column: bad.column, Reason: bad.reason, Mode: FailFast}
		}
		if d.opts.OnMalformed != nil {
			d.opts.OnMalformed(&MalformedRecordError{Topic: meta.Topic, Partition: meta.Partition, Offset: meta.Offset, Column: bad.column, Reason: bad.reason, Mode: d.opts.Mode})
		}
		if d.opts.Mode == DropMalformed {
			d.stats.Dropped++
			return nil
		}
		d.stats.Corrupt++
	}
	for i := range d.cols {
		c := &d.cols[i]
		b := &d.b[i]
		if c.field >= 0 {
			if b.n == d.n {
				b.appendNull()
			}
			continue
		}
		switch c.meta {
		case 0:
			b.appendString(meta.Topic)
		case 1:
			b.appendI32(meta.Partition)
		case 2:
			b.appendI64(meta.Offset)
		case 3:
			b.appendI64(meta.Timestamp * 1000)
		case 4:
			if meta.Key == nil {
				b.appendNull()
			} else {
				b.appendBytes(meta.Key)
			}
		case metaCorrupt:
			if bad == nil {
				b.appendNull()
			} else {
				b.appendBytes(value)
			}
		}
	}
	d.stats.Rows++
	d.n++
	return nil
}

// hasEventTime reports whether the current record has a non-NULL event
// time, or the decoder has no EventTime.
func (d *decoderBase) hasEventTime() bool {
	if d.eventOut < 0 {
		return true
	}
	b := &d.b[d.eventOut]
	if b.n == d.n {
		return false // not set: absent
	}
	k := d.n >> 3
	return k >= len(b.null) || b.null[k]&(1<<(d.n&7)) == 0
}

// finishFull is finish for a well-formed record that appended one value to
// every output column, when d.fieldsOnly: there is nothing to add.
func (d *decoderBase) finishFull() {
	d.stats.Rows++
	d.n++
}

// rollback drops whatever the current record appended.
func (d *decoderBase) rollback() {
	for i := range d.b {
		if d.b[i].n > d.n {
			d.b[i].truncate(d.n)
		}
	}
}

// skip drops the current record without counting it (a CSV header line).
func (d *decoderBase) skip() { d.rollback() }

func (d *decoderBase) Len() int { return d.n }

func (d *decoderBase) Stats() DecodeStats { return d.stats }

func (d *decoderBase) Flush() arrow.Record {
	if d.n == 0 {
		return nil
	}
	arrs := make([]arrow.Array, len(d.schema.Fields()))
	for i := range d.b {
		if i < len(arrs) {
			arrs[i] = d.b[i].newArray(d.mem)
		} else {
			d.b[i].reset() // a hidden column
		}
	}
	rec := array.NewRecord(d.schema, arrs, int64(d.n))
	for _, a := range arrs {
		a.Release()
	}
	d.n = 0
	return rec
}

// Release drops the decoder's buffers; a Decoder holds no allocator memory
// between Flushes.
func (d *decoderBase) Release() {
	for i := range d.b {
		d.b[i] = newColBuffer(d.b[i].typ)
	}
	d.n = 0
}

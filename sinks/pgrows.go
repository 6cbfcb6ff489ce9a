package sinks

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// pgType is the PostgreSQL type the sink writes an Arrow column of type t
// as, spelled as format_type spells it.
func pgType(t arrow.DataType) (string, error) {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		return "text", nil
	case arrow.INT32:
		return "integer", nil
	case arrow.INT64:
		return "bigint", nil
	case arrow.FLOAT64:
		return "double precision", nil
	case arrow.BOOL:
		return "boolean", nil
	case arrow.TIMESTAMP:
		return "timestamp with time zone", nil
	case arrow.DATE32:
		return "date", nil
	}
	return "", fmt.Errorf("type %s has no PostgreSQL mapping", t)
}

// sqlTypeName is the query's name of t (BIGINT, TIMESTAMP, ...).
func sqlTypeName(t arrow.DataType) string {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		return "STRING"
	case arrow.INT32:
		return "INT"
	case arrow.INT64:
		return "BIGINT"
	case arrow.FLOAT64:
		return "DOUBLE"
	case arrow.BOOL:
		return "BOOLEAN"
	case arrow.TIMESTAMP:
		return "TIMESTAMP"
	case arrow.DATE32:
		return "DATE"
	}
	return t.String()
}

// arrowRecord is the part of arrow.Record arrowRows reads.
type arrowRecord interface {
	Schema() *arrow.Schema
	Column(i int) arrow.Array
	NumRows() int64
}

// arrowRows feeds the rows of Arrow records to COPY (pgx.CopyFromSource):
// the named columns, in that order, as the Go values pgx encodes.
type arrowRows struct {
	recs []arrowRecord
	cols [][]func(i int) any // per record, per column: row i's value
	r, i int                 // current record and row; i starts at -1
	vals []any
}

func newArrowRows(recs []arrowRecord, names []string) (*arrowRows, error) {
	a := &arrowRows{recs: recs, i: -1, vals: make([]any, len(names))}
	for _, rec := range recs {
		var getters []func(int) any
		for _, n := range names {
			idx := rec.Schema().FieldIndices(n)
			if len(idx) == 0 {
				return nil, fmt.Errorf("column %s is not in the batch's output", n)
			}
			g, err := getter(rec.Column(idx[0]))
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", n, err)
			}
			getters = append(getters, g)
		}
		a.cols = append(a.cols, getters)
	}
	return a, nil
}

// getter returns a function reading row i of col as a Go value, nil for
// NULL.
func getter(col arrow.Array) (func(int) any, error) {
	switch c := col.(type) {
	case *array.String:
		return nullable(c), nil
	case *array.LargeString:
		return nullable(c), nil
	case *array.Int32:
		return nullable(c), nil
	case *array.Int64:
		return nullable(c), nil
	case *array.Float64:
		return nullable(c), nil
	case *array.Boolean:
		return nullable(c), nil
	case *array.Timestamp:
		toTime, err := c.DataType().(*arrow.TimestampType).GetToTimeFunc()
		if err != nil {
			return nil, err
		}
		return func(i int) any {
			if c.IsNull(i) {
				return nil
			}
			return toTime(c.Value(i)).In(time.UTC)
		}, nil
	case *array.Date32:
		return func(i int) any {
			if c.IsNull(i) {
				return nil
			}
			return c.Value(i).ToTime() // midnight UTC, which pgx encodes as that date
		}, nil
	}
	return nil, fmt.Errorf("type %s has no PostgreSQL mapping", col.DataType())
}

// nullable reads row i of an array whose Value is what pgx encodes.
func nullable[T any](c interface {
	IsNull(i int) bool
	Value(i int) T
}) func(int) any {
	return func(i int) any {
		if c.IsNull(i) {
			return nil
		}
		return c.Value(i)
	}
}

// Next moves to the next row.
func (a *arrowRows) Next() bool {
	for a.r < len(a.recs) {
		a.i++
		if int64(a.i) < a.recs[a.r].NumRows() {
			return true
		}
		a.r, a.i = a.r+1, -1
	}
	return false
}

// Values returns the current row's values; pgx encodes them before the
// next call, so one slice serves every row.
func (a *arrowRows) Values() ([]any, error) {
	for j, g := range a.cols[a.r] {
		a.vals[j] = g(a.i)
	}
	return a.vals, nil
}

// Err is always nil: the rows are in memory.
func (a *arrowRows) Err() error { return nil }

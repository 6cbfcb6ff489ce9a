package sql

import (
	"github.com/apache/arrow/go/v17/arrow"

	"github.com/microbatch/microbatch/dataframe"
)

// The dataframe package reports a type error for a whole operation (a
// Filter, an Agg); these find the sub-expression it is about, by binding
// sub-expressions alone ("probing") from the top down, so that the error can
// name its position.

// itemsError locates the select-list entry that made an operation fail.
func (c *compiler) itemsError(opErr error, probe, inner func(dataframe.Expr) error) *Error {
	for _, it := range c.items {
		if n, err := find(it.x, probe, inner); n != nil {
			return planError(c.p.q, n.pos, err)
		}
	}
	return planError(c.p.q, c.p.start, opErr)
}

// locate finds where a failed operation went wrong in x: its deepest
// sub-expression that fails on its own, else x as a whole.
func (c *compiler) locate(x *texpr, probe, inner func(dataframe.Expr) error, opErr error) *Error {
	if n, err := find(x, probe, inner); n != nil {
		return planError(c.p.q, n.pos, err)
	}
	return planError(c.p.q, x.start(), opErr)
}

// find returns the deepest sub-expression of x whose probe fails, with the
// error. Operands of an aggregate call are probed with inner.
func find(x *texpr, probe, inner func(dataframe.Expr) error) (*texpr, error) {
	if probe == nil {
		return nil, nil
	}
	err := probe(x.e)
	if err == nil {
		return nil, nil
	}
	kp := probe
	if x.agg {
		kp = inner
	}
	for _, k := range x.kids {
		if n, kerr := find(k, kp, inner); n != nil {
			return n, kerr
		}
	}
	return x, err
}

// condError explains a WHERE or HAVING condition the dataframe refused: a
// sub-expression's own error, else a condition that is not BOOLEAN.
func (c *compiler) condError(clause string, x *texpr, base *dataframe.DataFrame, opErr error) *Error {
	probe := func(e dataframe.Expr) error { return base.Select(e).Err() }
	inner := func(e dataframe.Expr) error { return c.src.Select(e).Err() }
	if n, err := find(x, probe, inner); n != nil {
		return planError(c.p.q, n.pos, err)
	}
	if sch, err := base.Select(x.e.As("condition")).Schema(); err == nil && sch.Field(0).Type.ID() != arrow.BOOL {
		e := c.errAt(x.start(), "%s needs a BOOLEAN condition, got %s", clause, typeName(sch.Field(0).Type))
		e.err = opErr
		return e
	}
	return planError(c.p.q, x.start(), opErr)
}

// typeName is the SQL name of an Arrow type of the dataframe package.
func typeName(t arrow.DataType) string {
	for _, d := range []dataframe.Type{dataframe.String, dataframe.Int32, dataframe.Int64, dataframe.Float64, dataframe.Bool, dataframe.Timestamp, dataframe.Date} {
		if arrow.TypeEqual(d.Arrow(), t) {
			return d.String()
		}
	}
	return t.String()
}

package dataframe

import (
	"cmp"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

func (s *State) result(onlyChanged bool) (arrow.Record, error) {
	ht := s.ht
	if !onlyChanged && (ht.len() > 0 || len(ht.spec.groups) > 0) {
		s.extendOrder()
		cols, err := s.res.table(ht)
		if err != nil {
			return nil, err
		}
		return s.output(cols, len(s.res.order), nil)
	}
	var ids, changed []int32
	if onlyChanged {
		ids = s.changedInKeyOrder()
		if s.track {
			changed = ids
		}
	} else {
		// A global aggregate has one row even before any input, as in SQL.
		ht = newGroupTable(ht.spec)
		ids = []int32{ht.group(nil)}
	}
	cols := newTableCols(ht.spec)
	for k := range cols {
		cols[k].reserve(&cols[k], len(ids))
	}
	for _, id := range ids {
		if err := appendGroup(cols, ht, id); err != nil {
			return nil, err
		}
	}
	return s.output(cols, len(ids), changed)
}

// tableEvaluator views the aggregate output table cols of n rows as an
// evaluator's columns; release frees the views.
func tableEvaluator(cols []tableCol, n int) (ev *evaluator, release func()) {
	ev = &evaluator{n: n, cols: make([]*vector, len(cols))}
	releases := make([]func(), len(cols))
	for i := range cols {
		ev.cols[i], releases[i] = cols[i].vector()
	}
	return ev, func() {
		for _, r := range releases {
			r()
		}
	}
}

// output applies HAVING, ORDER BY, LIMIT and the projection to the
// aggregate output table cols of n rows. A projected column of the table
// is shared, not copied, when the rows stay in table order. changed, if
// not nil, is the changed group of each row (update mode): which pass
// HAVING is recorded for Retracted and ResetChanged.
func (s *State) output(cols []tableCol, n int, changed []int32) (arrow.Record, error) {
	ev, release := tableEvaluator(cols, n)
	defer release()
	var sel []int32 // nil: the rows [0, m) in table order
	m := n
	if len(s.p.having) > 0 || len(s.p.orders) > 0 {
		sel = identitySel(n)
		for _, h := range s.p.having {
			sel = ev.filter(h, sel)
		}
		if changed != nil && len(s.p.having) > 0 {
			s.setPassing(changed, sel)
		}
		if len(s.p.orders) > 0 && len(sel) > 1 {
			keys := make([]*vector, len(s.p.orders))
			for i, o := range s.p.orders {
				keys[i] = ev.eval(o.e, sel)
			}
			slices.SortStableFunc(sel, func(a, b int32) int {
				for i, o := range s.p.orders {
					if c := compareRows(keys[i], a, b, o.desc); c != 0 {
						return c
					}
				}
				return 0
			})
		}
		m = len(sel)
	}
	if s.p.limit >= 0 && int64(m) > s.p.limit {
		m = int(s.p.limit)
	}
	arrs := make([]arrow.Array, len(s.p.post))
	for i, c := range s.p.post {
		switch {
		case sel == nil && c.e.kind == kCol:
			arrs[i] = cols[c.e.col].newArray(s.mem, m)
		case sel == nil:
			all := identitySel(m)
			arrs[i] = toArrow(s.mem, ev.eval(c.e, all), all)
		default:
			arrs[i] = toArrow(s.mem, ev.eval(c.e, sel[:m]), sel[:m])
		}
	}
	rec := array.NewRecord(s.p.out, arrs, int64(m))
	for _, a := range arrs {
		a.Release()
	}
	return rec, nil
}

// compareRows orders rows a and b of v: ascending with NULLs first, or
// descending with NULLs last (Spark's defaults).
func compareRows(v *vector, a, b int32, desc bool) int {
	an, bn := v.null(a) || v.typ == nullType, v.null(b) || v.typ == nullType
	switch {
	case an && bn:
		return 0
	case an:
		if desc {
			return 1
		}
		return -1
	case bn:
		if desc {
			return -1
		}
		return 1
	}
	var c int
	switch v.typ {
	case String:
		c = strings.Compare(v.str(a), v.str(b))
	case Int32, Date:
		c = cmp.Compare(v.i32[a], v.i32[b])
	case Int64, Timestamp:
		c = cmp.Compare(v.i64[a], v.i64[b])
	case Float64:
		c = compareFloat(v.f64[a], v.f64[b])
	case Bool:
		switch {
		case v.b[a] == v.b[b]:
		case v.b[b]:
			c = -1
		default:
			c = 1
		}
	}
	if desc {
		return -c
	}
	return c
}

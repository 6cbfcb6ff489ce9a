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
	ids := ht.sortedIDs(onlyChanged)
	if len(ids) == 0 && len(ht.spec.groups) == 0 && !onlyChanged {
		// A global aggregate has one row even before any input, as in SQL.
		ht = newGroupTable(ht.spec)
		ids = []int32{ht.insert("")}
	}
	n := len(ids)
	ev := &evaluator{n: n, cols: make([]*vector, 0, len(ht.spec.groups)+len(ht.accs))}
	for _, g := range ht.spec.groups {
		ev.cols = append(ev.cols, newVector(g.e.typ, n))
	}
	for k, id := range ids {
		rest := []byte(ht.keys[id])
		for gi, g := range ht.spec.groups {
			var x value
			var err error
			if x, rest, err = decodeKeyValue(rest, g.e.typ); err != nil {
				return nil, err
			}
			ev.cols[gi].set(int32(k), x, n)
		}
	}
	for i := range ht.accs {
		ev.cols = append(ev.cols, ht.accs[i].finalize(ids, ht.spec.calls[i].typ))
	}
	sel := identitySel(n)
	for _, h := range s.p.having {
		sel = ev.filter(h, sel)
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
	if s.p.limit >= 0 && int64(len(sel)) > s.p.limit {
		sel = sel[:s.p.limit]
	}
	arrs := make([]arrow.Array, len(s.p.post))
	for i, c := range s.p.post {
		arrs[i] = toArrow(s.mem, ev.eval(c.e, sel), sel)
	}
	rec := array.NewRecord(s.p.out, arrs, int64(len(sel)))
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
	case Int32:
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

package dataframe

import (
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// restored notes that group id's value was restored: in update mode its
// emitted bit is its HAVING's (settle computes it).
func (s *State) restored(id int32) {
	switch {
	case !s.track:
	case len(s.p.having) == 0, s.restoreEmitted:
		s.emitted.set(id, true)
	default:
		s.unsettled = append(s.unsettled, id)
	}
}

// settleChunk is how many restored groups settle evaluates HAVING over at
// a time.
const settleChunk = 1 << 16

// settle computes the emitted bits of the restored groups, before a Merge
// or a removal changes them.
func (s *State) settle() error {
	for len(s.unsettled) > 0 {
		ids := s.unsettled[:min(len(s.unsettled), settleChunk)]
		ids = slicesDeleteRemoved(ids, s.ht)
		pass, err := s.havingRows(ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			s.emitted.set(id, false)
		}
		for _, r := range pass {
			s.emitted.set(ids[r], true)
		}
		s.unsettled = s.unsettled[min(len(s.unsettled), settleChunk):]
	}
	s.unsettled = nil
	return nil
}

// knowPassing computes which changed groups pass HAVING now, if Result
// has not: the bits of passing (update mode with HAVING only).
func (s *State) knowPassing() error {
	if s.passKnown || len(s.p.having) == 0 {
		return nil
	}
	ids := s.ht.changedIDs
	pass, err := s.havingRows(ids)
	if err != nil {
		return err
	}
	s.setPassing(ids, pass)
	return nil
}

// setPassing records that of the changed groups ids, the rows pass pass
// HAVING.
func (s *State) setPassing(ids []int32, pass []int32) {
	for _, r := range pass {
		s.passing.set(ids[r], true)
	}
	s.passKnown = true
}

// passes reports whether changed group id passes HAVING now (knowPassing
// computed it).
func (s *State) passes(id int32) bool { return len(s.p.having) == 0 || s.passing.has(id) }

// havingRows returns the indexes in ids of the groups whose HAVING holds,
// ascending.
func (s *State) havingRows(ids []int32) ([]int32, error) {
	cols := newTableCols(s.ht.spec)
	for k := range cols {
		cols[k].reserve(&cols[k], len(ids))
	}
	for _, id := range ids {
		if err := appendGroup(cols, s.ht, id); err != nil {
			return nil, err
		}
	}
	ev, release := tableEvaluator(cols, len(ids))
	defer release()
	sel := identitySel(len(ids))
	for _, h := range s.p.having {
		sel = ev.filter(h, sel)
	}
	return sel, nil
}

// retracted builds Retracted's record.
func (s *State) retracted() (arrow.Record, error) {
	var keys []string
	if s.track {
		if err := s.settle(); err != nil {
			return nil, err
		}
		if err := s.knowPassing(); err != nil {
			return nil, err
		}
		for _, id := range s.ht.changedIDs {
			if s.emitted.has(id) && !s.passes(id) {
				keys = append(keys, s.ht.key(id))
			}
		}
		for d := range int32(s.dels.ids()) {
			if !s.dels.removed(d) && s.delEmitted[d] {
				keys = append(keys, s.dels.key(d))
			}
		}
		slices.Sort(keys)
	}
	spec := s.ht.spec
	cols := make([]tableCol, len(spec.groups))
	for k, g := range spec.groups {
		cols[k] = tableCol{typ: g.e.typ}
		cols[k].reset()
	}
	for _, key := range keys {
		rest := []byte(key)
		for k := range cols {
			var err error
			if rest, err = cols[k].appendKeyValue(rest); err != nil {
				return nil, err
			}
		}
	}
	arrs := make([]arrow.Array, len(s.keyGroups))
	for i, k := range s.keyGroups {
		arrs[i] = cols[k].newArray(s.mem, len(keys))
	}
	rec := array.NewRecord(s.keySchema, arrs, int64(len(keys)))
	for _, a := range arrs {
		a.Release()
	}
	return rec, nil
}

// KeySchema returns the schema of the key columns of a stateful
// Program's results (State.KeySchema: the output columns that are plain
// GROUP BY columns, then the other GROUP BY expressions); nil for a
// stateless Program.
func (p *Program) KeySchema() *arrow.Schema {
	if p.agg == nil {
		return nil
	}
	_, s := p.keyColumns()
	return s
}

// keyColumns returns the group of each of Retracted's key columns, and
// their schema (see State.KeySchema).
func (p *Program) keyColumns() ([]int, *arrow.Schema) {
	if p.agg == nil {
		return nil, arrow.NewSchema(nil, nil)
	}
	ng := len(p.agg.groups)
	var groups []int
	var fields []arrow.Field
	in := make([]bool, ng)
	for i, c := range p.post {
		if c.e.kind == kCol && c.e.col < ng {
			groups = append(groups, c.e.col)
			fields = append(fields, p.out.Field(i))
			in[c.e.col] = true
		}
	}
	for k, g := range p.agg.groups {
		if !in[k] {
			groups = append(groups, k)
			fields = append(fields, arrowSchema([]outCol{g}).Field(0))
		}
	}
	return groups, arrow.NewSchema(fields, nil)
}

// RestoreAsEmitted makes the groups restored from now on count as emitted
// in update mode, whatever HAVING says of them. An engine calls it before
// Restore when the query changed since the state was written: the rows the
// sink holds were chosen by the old HAVING, which is gone, so a restored
// group that fails the new HAVING when it next changes is retracted. A
// retraction of a row never emitted is harmless; a missed one is not.
func (s *State) RestoreAsEmitted() { s.restoreEmitted = true }

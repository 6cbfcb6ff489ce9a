package dataframe

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// input checks rec against the program's input columns and views them as
// vectors.
func (p *Program) input(rec arrow.Record) (*evaluator, error) {
	if rec == nil {
		return nil, fmt.Errorf("%w: nil record", ErrPlan)
	}
	if int(rec.NumCols()) != len(p.streamPos) {
		return nil, fmt.Errorf("%w: record has %d columns, the query reads %d (%s)", ErrPlan, rec.NumCols(), len(p.streamPos), strings.Join(p.InputColumns(), ", "))
	}
	ev := &evaluator{n: int(rec.NumRows()), cols: make([]*vector, len(p.inputNames))}
	for i, pos := range p.streamPos {
		v, err := fromArrow(rec.Column(i), p.inputTypes[pos])
		if err != nil {
			return nil, fmt.Errorf("%w: input column %d (%s): %w", ErrPlan, i, p.inputNames[pos], err)
		}
		ev.cols[pos] = v
	}
	return ev, nil
}

func (t *Task) consume(rec arrow.Record) error {
	ev, err := t.p.input(rec)
	if err != nil {
		return err
	}
	ev.nowUS = t.nowUS
	if t.p.wm != nil {
		t.observeEventTime(ev)
	}
	sel := identitySel(ev.n)
	where := t.p.where
	if j := t.p.join; j != nil {
		for _, w := range where[:j.whereBefore] {
			sel = ev.filter(w, sel)
		}
		where = where[j.whereBefore:]
		ev, sel = t.joinRows(ev, sel)
	}
	for _, w := range where {
		sel = ev.filter(w, sel)
	}
	t.rows += int64(len(sel))
	if t.ht != nil {
		t.aggregate(ev, sel)
		return nil
	}
	if lim := t.p.limit; lim >= 0 && int64(len(sel)) > lim-t.emitted {
		sel = sel[:lim-t.emitted]
	}
	if len(sel) == 0 {
		return nil
	}
	t.emitted += int64(len(sel))
	arrs := make([]arrow.Array, len(t.p.project))
	for i, c := range t.p.project {
		arrs[i] = toArrow(t.mem, ev.eval(c.e, sel), sel)
	}
	out := array.NewRecord(t.p.out, arrs, int64(len(sel)))
	for _, a := range arrs {
		a.Release()
	}
	t.out = append(t.out, out)
	return nil
}

// aggregate folds the rows sel into the Task's group table.
func (t *Task) aggregate(ev *evaluator, sel []int32) {
	if len(sel) == 0 {
		return
	}
	ht := t.ht
	if ht.spec.window != nil {
		t.aggregateWindows(ev, sel)
		return
	}
	groups := make([]*vector, len(ht.spec.groups))
	for i, g := range ht.spec.groups {
		groups[i] = ev.eval(g.e, sel)
	}
	gid := make([]int32, len(sel))
	key := t.keyBuf[:0]
	for k, i := range sel {
		key = key[:0]
		for _, g := range groups {
			key = appendKey(key, g, i)
		}
		gid[k] = ht.group(key)
	}
	t.keyBuf = key
	t.update(ev, sel, gid, sel)
}

// update folds the rows rows (of the selection sel; a row may repeat) into
// the accumulators; gid[k] is the group of rows[k].
func (t *Task) update(ev *evaluator, sel, gid, rows []int32) {
	for i, c := range t.ht.spec.calls {
		var arg *vector
		if c.arg != nil {
			arg = ev.eval(c.arg, sel)
		}
		t.ht.accs[i].update(gid, rows, arg)
	}
}

func (s *State) restore(key, value []byte) error {
	key, err := s.ht.checkKey(key)
	if err != nil {
		return err
	}
	h := hashKey(key)
	id, added := s.ht.addGroup(key, h)
	if !added {
		s.res.markStale(id) // even a failed decode resets the group
	}
	if err := s.ht.decodeValue(id, value); err != nil {
		if added { // no one has seen the group: its id is free at once
			s.ht.removeGroup(id)
			s.ht.recycle([]int32{id})
		}
		return err
	}
	if added {
		s.trackWindow(id, key)
		s.trackSession(id, key)
		if s.addedGroup(id, key, h) {
			s.ht.markChanged(id) // a removal is undone: the checkpoint needs the value
		}
	}
	s.restored(id)
	return nil
}

// mergeAhead is how many groups Merge prefetches at a time.
const mergeAhead = 16

func (s *State) merge(t *Task) error {
	if t == nil || t.p != s.p || t.ht == nil {
		return fmt.Errorf("%w: Merge of a Task from another (or a stateless, or a released) Program", ErrState)
	}
	if err := s.settle(); err != nil {
		return err
	}
	src := t.ht
	if w := s.p.agg.window; w != nil && w.session {
		for sg := range src.hashes {
			if err := s.mergeSession(src, int32(sg)); err != nil {
				return err
			}
		}
		return nil
	}
	for sg, h := range src.hashes {
		if sg%mergeAhead == 0 {
			s.ht.prefetch(src.hashes[sg:min(sg+mergeAhead, len(src.hashes))])
		}
		key := src.keyBytes(int32(sg))
		dg, added := s.ht.addGroup(key, h)
		if added {
			s.addedGroup(dg, key, h)
			s.trackWindow(dg, key)
		}
		for i := range s.ht.accs {
			s.ht.accs[i].merge(dg, &src.accs[i], int32(sg))
		}
		s.ht.markChanged(dg)
		s.res.markStale(dg)
	}
	return nil
}

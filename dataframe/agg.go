package dataframe

import (
	"math"
	"strings"
)

// groupTable is a hash aggregate: encoded group key -> dense group id, with
// every aggregate's accumulators in flat slices indexed by group id. Tasks
// build one per executor task (partial aggregates) and the State keeps one
// (the running aggregate); both merge exactly.
type groupTable struct {
	spec *aggSpec
	keyIndex
	accs []acc
	// grown is the number of ids that have accumulators (grow1): a
	// recycled id keeps its (emptied) ones.
	grown int
	// changed marks groups touched since resetChanged (State only);
	// changedIDs lists them.
	changed    []bool
	changedIDs []int32
}

// acc holds one aggregate's state for every group.
//
//	count, count(*)   cnt
//	count(DISTINCT)   set (encoded values, as group keys)
//	sum, avg          cnt (non-NULL inputs), i64 (integer input) or f64 (DOUBLE;
//	                  avg's argument is always cast to DOUBLE)
//	min, max          cnt (0: no value yet), i64 (INT, BIGINT, TIMESTAMP,
//	                  BOOLEAN), f64 (DOUBLE) or str (STRING)
//	first, last       as min and max; cnt 2 is a NULL value (funcs_first.go)
//	collect_set       set (encoded values)
//	approx_count_distinct  regs
//	percentile_approx kll
type acc struct {
	fn  aggFunc
	in  Type // argument type; nullType for count(*)
	cnt []int64
	i64 []int64
	f64 []float64
	str []string
	set []map[string]struct{}
	m2  []float64 // variance family: the sum of squared deviations (funcs_agg.go)
	// approx_count_distinct: 2^p HyperLogLog registers per group, back to
	// back (funcs_approx.go).
	regs []byte
	kll  []*kllSketch // percentile_approx (funcs_approx.go); nil: no value
	p    aggParams
}

func newGroupTable(spec *aggSpec) *groupTable {
	if spec == nil { // the State of a stateless Program: every use fails
		spec = &aggSpec{}
	}
	g := &groupTable{spec: spec, keyIndex: newKeyIndex()}
	g.accs = make([]acc, len(spec.calls))
	for i, c := range spec.calls {
		g.accs[i].fn = c.fn
		g.accs[i].p = c.params
		if c.arg != nil {
			g.accs[i].in = c.arg.typ
		}
	}
	return g
}

// group returns the id of key, adding the group when new. key is not
// retained.
func (g *groupTable) group(key []byte) int32 { return g.groupHash(key, hashKey(key)) }

// groupHash is group of a key whose hashKey is h.
func (g *groupTable) groupHash(key []byte, h uint64) int32 {
	id, _ := g.addGroup(key, h)
	return id
}

// addGroup is groupHash, and reports whether the group is new (added):
// its accumulators are empty, on a new id or a recycled one.
func (g *groupTable) addGroup(key []byte, h uint64) (id int32, added bool) {
	id, added = g.add(key, h)
	if added && int(id) >= g.grown {
		g.grow1()
	}
	return id, added
}

// removeGroup removes group id: its key leaves the index, its
// accumulators are emptied (what they held is the garbage collector's)
// and it is no longer marked changed, though changedIDs may still list it
// (the caller drops it). The id waits to be recycled.
func (g *groupTable) removeGroup(id int32) {
	g.reset(id)
	if g.changed != nil {
		g.changed[id] = false
	}
	g.remove(id)
}

// grow1 appends the empty accumulators of a new group.
func (g *groupTable) grow1() {
	for i := range g.accs {
		a := &g.accs[i]
		a.cnt = appendDoubling(a.cnt, 0)
		switch {
		case a.fn == aggCountDistinct, a.fn == aggCollectSet:
			a.set = appendDoubling(a.set, nil)
		case a.fn == aggApproxDistinct:
			a.regs = append(a.regs, make([]byte, 1<<a.p.hllP)...)
		case a.fn == aggPercentile:
			a.kll = appendDoubling(a.kll, nil)
		case a.fn == aggCount:
		case a.in == Float64:
			a.f64 = appendDoubling(a.f64, 0)
		case a.in == String:
			a.str = appendDoubling(a.str, "")
		default:
			a.i64 = appendDoubling(a.i64, 0)
		}
		if a.fn.moments() {
			a.m2 = appendDoubling(a.m2, 0)
		}
	}
	if g.changed != nil {
		g.changed = appendDoubling(g.changed, false)
	}
	g.grown++
}

// reset clears group id's accumulators (before a Restore replaces them,
// or when the group is removed).
func (g *groupTable) reset(id int32) {
	for i := range g.accs {
		a := &g.accs[i]
		a.cnt[id] = 0
		switch {
		case a.set != nil:
			a.set[id] = nil
		case a.regs != nil:
			clear(a.hllRegs(id))
		case a.kll != nil:
			a.kll[id] = nil
		case a.f64 != nil:
			a.f64[id] = 0
		case a.str != nil:
			a.str[id] = ""
		case a.i64 != nil:
			a.i64[id] = 0
		}
		if a.m2 != nil {
			a.m2[id] = 0
		}
	}
}

func (g *groupTable) markChanged(id int32) {
	if g.changed == nil {
		g.changed = make([]bool, g.ids())
	}
	if !g.changed[id] {
		g.changed[id] = true
		g.changedIDs = append(g.changedIDs, id)
	}
}

func (g *groupTable) changedCount() int { return len(g.changedIDs) }

func (g *groupTable) resetChanged() {
	for _, id := range g.changedIDs {
		g.changed[id] = false
	}
	g.changedIDs = g.changedIDs[:0]
}

// update folds the rows sel of one batch into the accumulators; gid[k] is
// the group of row sel[k] and v the aggregate's argument (nil for count(*)).
func (a *acc) update(gid []int32, sel []int32, v *vector) {
	if a.fn == aggCount && v == nil {
		for _, g := range gid {
			a.cnt[g]++
		}
		return
	}
	valid := v.valid
	switch a.fn {
	case aggCountIf:
		a.updateCountIf(gid, sel, v)
	case aggVarSamp, aggVarPop, aggStddevSamp, aggStddevPop:
		a.updateMoments(gid, sel, v)
	case aggApproxDistinct:
		a.updateHLL(gid, sel, v)
	case aggPercentile:
		a.updateKLL(gid, sel, v)
	case aggFirst, aggLast:
		a.updateFirstLast(gid, sel, v)
	case aggCollectSet:
		a.updateCollectSet(gid, sel, v)
	case aggCount:
		for k, i := range sel {
			if valid == nil || valid[i] {
				a.cnt[gid[k]]++
			}
		}
	case aggCountDistinct:
		var buf []byte
		for k, i := range sel {
			if valid != nil && !valid[i] {
				continue
			}
			g := gid[k]
			buf = appendKey(buf[:0], v, i)
			m := a.set[g]
			if m == nil {
				m = map[string]struct{}{}
				a.set[g] = m
			}
			if _, ok := m[string(buf)]; !ok {
				m[string(buf)] = struct{}{}
			}
		}
	case aggSum, aggAvg:
		switch v.typ {
		case Int32:
			for k, i := range sel {
				if valid == nil || valid[i] {
					a.i64[gid[k]] += int64(v.i32[i])
					a.cnt[gid[k]]++
				}
			}
		case Int64:
			for k, i := range sel {
				if valid == nil || valid[i] {
					a.i64[gid[k]] += v.i64[i]
					a.cnt[gid[k]]++
				}
			}
		case Float64:
			for k, i := range sel {
				if valid == nil || valid[i] {
					a.f64[gid[k]] += v.f64[i]
					a.cnt[gid[k]]++
				}
			}
		}
	case aggMin, aggMax, aggBoolAnd, aggBoolOr:
		for k, i := range sel {
			if valid != nil && !valid[i] {
				continue
			}
			a.offer(gid[k], v.get(i), true)
		}
	}
}

// offer considers x as group g's new min or max; fromBatch strings alias an
// Arrow buffer and are copied when kept.
func (a *acc) offer(g int32, x value, fromBatch bool) {
	if a.cnt[g] == 0 {
		a.cnt[g] = 1
		a.store(g, x, fromBatch)
		return
	}
	var c int
	switch a.in {
	case String:
		c = strings.Compare(x.s, a.str[g])
	case Float64:
		c = compareFloat(x.f, a.f64[g])
	default:
		c = compareInt(x.i, a.i64[g])
	}
	if (a.fn == aggMin || a.fn == aggBoolAnd) && c < 0 || (a.fn == aggMax || a.fn == aggBoolOr) && c > 0 {
		a.store(g, x, fromBatch)
	}
}

func (a *acc) store(g int32, x value, fromBatch bool) {
	switch a.in {
	case String:
		if fromBatch {
			x.s = strings.Clone(x.s)
		}
		a.str[g] = x.s
	case Float64:
		a.f64[g] = x.f
	default:
		a.i64[g] = x.i
	}
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareFloat orders DOUBLEs as Spark does: NaN above everything, and
// equal to itself.
func compareFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// merge folds group sg of src into group dg of a.
func (a *acc) merge(dg int32, src *acc, sg int32) {
	switch a.fn {
	case aggCount, aggCountIf:
		a.cnt[dg] += src.cnt[sg]
	case aggVarSamp, aggVarPop, aggStddevSamp, aggStddevPop:
		a.mergeMoments(dg, src, sg)
	case aggApproxDistinct:
		hllMerge(a.hllRegs(dg), src.hllRegs(sg))
	case aggPercentile:
		a.mergeKLL(dg, src, sg)
	case aggFirst, aggLast:
		a.mergeFirstLast(dg, src, sg)
	case aggCollectSet:
		for k := range src.set[sg] {
			a.addToSet(dg, k)
		}
	case aggCountDistinct:
		if len(src.set[sg]) == 0 {
			return
		}
		m := a.set[dg]
		if m == nil {
			m = make(map[string]struct{}, len(src.set[sg]))
			a.set[dg] = m
		}
		for k := range src.set[sg] {
			m[k] = struct{}{}
		}
	case aggSum, aggAvg:
		a.cnt[dg] += src.cnt[sg]
		if a.in == Float64 {
			a.f64[dg] += src.f64[sg]
		} else {
			a.i64[dg] += src.i64[sg]
		}
	case aggMin, aggMax, aggBoolAnd, aggBoolOr:
		if src.cnt[sg] == 0 {
			return
		}
		var x value
		switch a.in {
		case String:
			x.s = src.str[sg]
		case Float64:
			x.f = src.f64[sg]
		default:
			x.i = src.i64[sg]
		}
		a.offer(dg, x, false)
	}
}

// final returns the aggregate's result of type t for group g.
func (a *acc) final(g int32, t Type) value {
	switch a.fn {
	case aggCount, aggCountIf:
		return value{i: a.cnt[g]}
	case aggVarSamp, aggVarPop, aggStddevSamp, aggStddevPop:
		return a.finalMoments(g)
	case aggCountDistinct:
		return value{i: int64(len(a.set[g]))}
	case aggApproxDistinct:
		return value{i: int64(math.Round(hllEstimate(a.hllRegs(g), a.p.hllP)))}
	case aggPercentile:
		return a.finalKLL(g)
	case aggCollectSet:
		return a.finalCollectSet(g)
	case aggFirst, aggLast:
		if a.cnt[g] != 1 {
			return value{null: true}
		}
		return a.load(g)
	}
	if a.cnt[g] == 0 { // sum, avg, min and max of no value
		return value{null: true}
	}
	switch {
	case a.fn == aggAvg && a.in == Float64:
		return value{f: a.f64[g] / float64(a.cnt[g])}
	case a.fn == aggAvg:
		return value{f: float64(a.i64[g]) / float64(a.cnt[g])}
	case a.fn == aggSum && t == Float64, a.in == Float64:
		return value{f: a.f64[g]}
	case a.in == String:
		return value{s: a.str[g]}
	}
	return value{i: a.i64[g]}
}

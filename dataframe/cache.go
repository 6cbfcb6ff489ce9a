package dataframe

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
	"sort"
	"strings"
)

// resultCache keeps a State's groups in key order, and in complete mode
// its aggregate output table, between batches, so that a batch costs in
// proportion to the groups it changed (its result shares the table: see
// tableCol.newArray).
//
// A group's key never changes once the group exists, so its decoded key
// columns are written once, when the group is merged into the order; its
// aggregate columns are rewritten when it is marked stale (a Merge or
// Restore touched it). The table holds about one more copy of the keys and
// aggregates, and the spare buffers it is rebuilt into when groups are
// added another; it is built by the first complete-mode Result.
type resultCache struct {
	// order holds group ids in key order: row r of the table is group
	// order[r]. Groups added since (fresh) are merged in by extend.
	// Removed groups keep their rows (their ids wait in removed) until
	// compact drops the rows and recycles the ids: removing costs the
	// groups removed, and dropping the rows is one pass, done when extend
	// copies the order anyway or when they are many.
	order   []int32
	fresh   []int32
	removed []int32
	// pos[id] is the row of group id, once positions computes it
	// (posValid). extend and compact leave it out of date rather than
	// recomputing it, as only stale groups and the changed groups' order
	// need it.
	pos      []int32
	posValid bool
	// abbr[r] abbreviates the key of row r (see abbrev): every key starts
	// with the plen bytes of the order's first key, so two keys compare as
	// their abbreviations do unless those are equal. The order is merged
	// with new groups comparing integers in row order, not keys scattered
	// over the key arena.
	abbr []uint64
	plen int
	// sortWork counts the ids that inKeyOrder sorted by key since the
	// order was last extended.
	sortWork int
	// cols is the table (see newTableCols), nil until the first table
	// call; next holds the previous table's buffers, rebuilt into by the
	// next change of the row set.
	cols      []tableCol
	next      []tableCol
	nextOrder []int32
	nextAbbr  []uint64
	// stale marks the groups in the table whose aggregates changed since
	// the last table call (indexed by id; an id beyond it is not in the
	// table); staleIDs lists them.
	stale    []bool
	staleIDs []int32
	// pending is what the table lacks of the order: the rows extend
	// merged into it since the last table call, which rebuilds the table
	// with them. nil when the table matches the order.
	pending *pendingRows
}

// pendingRows are new groups merged into the order: fresh[i] went before
// row at[i] of the order as it was.
type pendingRows struct {
	fresh []abbrKey
	at    []int
}

// dropTable forgets the table (the next table call builds it from the
// order), after an error, or when the order moved on twice without it.
func (c *resultCache) dropTable() {
	c.cols, c.next, c.stale, c.staleIDs, c.pending = nil, nil, nil, nil, nil
}

// markStale records that group id's aggregates changed. Groups not yet in
// the table need no mark: they are decoded in full when they enter it.
func (c *resultCache) markStale(id int32) {
	if c.cols != nil && int(id) < len(c.stale) && !c.stale[id] {
		c.stale[id] = true
		c.staleIDs = append(c.staleIDs, id)
	}
}

// table brings the table up to date with g and returns it: it rebuilds it
// with the groups extend merged into the order since the last call (extend
// has merged every group of g into the order) and rewrites the aggregates
// of the stale groups. After an error the table is dropped (and the next
// call builds it).
func (c *resultCache) table(g *groupTable) ([]tableCol, error) {
	if c.cols == nil {
		cols := newTableCols(g.spec)
		for k := range cols {
			cols[k].reserve(&cols[k], len(c.order))
		}
		for _, id := range c.order {
			if err := appendGroup(cols, g, id); err != nil {
				c.dropTable()
				return nil, err
			}
		}
		c.cols, c.next = cols, newTableCols(g.spec)
		c.stale = make([]bool, g.ids())
		return c.cols, nil
	}
	if p := c.pending; p != nil {
		if err := c.rebuild(g, p.fresh, p.at); err != nil {
			c.dropTable()
			return nil, err
		}
		c.cols, c.next = c.next, c.cols
		c.pending = nil
	}
	c.update(g)
	return c.cols, nil
}

// extend merges the fresh groups into the order (after compact drops
// the rows of removed ones). The table, if any, is rebuilt with them by
// the next table call; if the order was extended before since the last
// one, the table is dropped instead.
func (c *resultCache) extend(g *groupTable) {
	c.compact(g)
	have, n := len(c.order), len(c.order)+len(c.fresh)
	if have == n {
		return
	}
	c.sortWork = 0
	c.posValid = false
	ref := g.key(c.fresh[0]) // a key every key's common prefix is a prefix of
	plen := len(ref)
	if have > 0 {
		ref, plen = g.key(c.order[0]), c.plen
	}
	for _, id := range c.fresh {
		plen = commonPrefix(ref[:plen], g.key(id))
	}
	if plen != c.plen {
		c.plen = plen
		for r, id := range c.order {
			c.abbr[r] = abbrev(g.key(id), plen)
		}
	}
	fresh := make([]abbrKey, 0, n-have)
	for _, id := range c.fresh {
		fresh = append(fresh, abbrKey{abbrev(g.key(id), plen), id})
	}
	c.fresh = c.fresh[:0]
	sortAbbrKeys(fresh, &g.keyIndex)
	// below reports whether row r sorts before f.
	below := func(r int, f abbrKey) bool {
		if a := c.abbr[r]; a != f.abbr {
			return a < f.abbr
		}
		return g.key(c.order[r]) < g.key(f.id)
	}
	// Few new groups among many: find each one's place by binary search
	// rather than by comparing every row.
	search := len(fresh)*bits.Len(uint(have)) < have
	order := slices.Grow(c.nextOrder[:0], n+n/8)
	abbr := slices.Grow(c.nextAbbr[:0], n+n/8)
	at := make([]int, len(fresh)) // fresh[i] goes before row at[i] of the old order
	prev := 0                     // rows [0, prev) of the old order are in order
	for i, f := range fresh {
		p := prev
		if search {
			p += sort.Search(have-prev, func(i int) bool { return !below(prev+i, f) })
		} else {
			for p < have && below(p, f) {
				p++
			}
		}
		order = append(order, c.order[prev:p]...)
		abbr = append(abbr, c.abbr[prev:p]...)
		order = append(order, f.id)
		abbr = append(abbr, f.abbr)
		at[i], prev = p, p
	}
	order = append(order, c.order[prev:]...)
	abbr = append(abbr, c.abbr[prev:]...)
	if c.cols != nil {
		if c.pending != nil {
			c.dropTable() // rebuilding from two extensions is not worth it
		} else {
			c.pending = &pendingRows{fresh, at}
			// Marks of the new groups are harmless: the rebuild writes
			// them, then update again.
			if n := g.ids(); len(c.stale) < n {
				c.stale = append(c.stale, make([]bool, n-len(c.stale))...)
			}
		}
	}
	c.abbr, c.nextAbbr = abbr, c.abbr
	c.order, c.nextOrder = order, c.order
}

// positions returns pos, brought up to date first if extend or compact
// moved rows.
func (c *resultCache) positions(g *groupTable) []int32 {
	if !c.posValid {
		n := g.ids()
		c.pos = slices.Grow(c.pos[:0], n+n/8)[:n]
		for r, id := range c.order {
			c.pos[id] = int32(r)
		}
		c.posValid = true
	}
	return c.pos
}

// remove records that group id was removed from g: its row, if it has
// one, is dropped by the next compact, which recycles the id.
func (c *resultCache) remove(id int32) { c.removed = append(c.removed, id) }

// compactMin is the number of removed groups from which compactSoon
// compacts when they are half of the groups.
const compactMin = 1024

// compactSoon compacts when the removed groups waiting are many, so that
// their ids are recycled when no extend comes to do it.
func (c *resultCache) compactSoon(g *groupTable) {
	if len(c.removed) >= compactMin && 2*len(c.removed) > len(c.order)+len(c.fresh) {
		c.compact(g)
	}
}

// compact drops the rows of removed groups from the order and the table
// (rebuilding the table's columns without them, or dropping the table if
// it lags behind the order), forgets their marks, and recycles their ids.
func (c *resultCache) compact(g *groupTable) {
	if len(c.removed) == 0 {
		return
	}
	var runs []int // the rows kept, as [lo, hi) pairs, for the table
	w := 0
	for r, id := range c.order {
		if g.removed(id) {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1] == r {
			runs[n-1] = r + 1
		} else {
			runs = append(runs, r, r+1)
		}
		c.order[w], c.abbr[w] = id, c.abbr[r]
		w++
	}
	if w < len(c.order) {
		c.order, c.abbr = c.order[:w], c.abbr[:w]
		c.posValid = false
		switch {
		case c.cols == nil:
		case c.pending != nil:
			c.dropTable()
		default:
			for k := range c.cols {
				dst := &c.next[k]
				dst.unshare(false)
				dst.reset()
				dst.reserve(&c.cols[k], 0)
				for i := 0; i < len(runs); i += 2 {
					dst.appendRun(&c.cols[k], runs[i], runs[i+1])
				}
				c.cols[k], c.next[k] = c.next[k], c.cols[k]
			}
		}
	}
	for _, id := range c.removed {
		if int(id) < len(c.stale) {
			c.stale[id] = false
		}
	}
	c.staleIDs = slices.DeleteFunc(c.staleIDs, g.removed)
	c.fresh = slices.DeleteFunc(c.fresh, g.removed)
	g.recycle(c.removed)
	c.removed = c.removed[:0]
}

// parallelRebuild is the number of new groups from which rebuild builds
// the key columns and the aggregate columns on two goroutines.
const parallelRebuild = 4096

// rebuild builds the next table into c.next: the rows of c.cols with
// fresh[i] inserted before row at[i]. The key columns (decoded from the
// group keys) and the aggregate columns are independent, so for many new
// groups they are built concurrently.
func (c *resultCache) rebuild(g *groupTable, fresh []abbrKey, at []int) error {
	ng := len(g.spec.groups)
	for k := range c.next {
		c.next[k].unshare(false)
		c.next[k].reset()
		c.next[k].reserve(&c.cols[k], len(fresh))
	}
	aggs := func() {
		for i := range g.accs {
			a, t, src, dst := &g.accs[i], g.spec.calls[i].typ, &c.cols[ng+i], &c.next[ng+i]
			prev := 0
			for j, f := range fresh {
				dst.appendRun(src, prev, at[j])
				dst.appendValue(a.final(f.id, t))
				prev = at[j]
			}
			dst.appendRun(src, prev, src.n)
		}
	}
	keys := func() error {
		prev := 0
		for j, f := range fresh {
			if j%prefetchGroups == 0 {
				g.prefetchKeys(fresh[j:min(j+prefetchGroups, len(fresh))])
			}
			key := g.keyBytes(f.id)
			for k := 0; k < ng; k++ {
				c.next[k].appendRun(&c.cols[k], prev, at[j])
				var err error
				if key, err = c.next[k].appendKeyValue(key); err != nil {
					return err
				}
			}
			prev = at[j]
		}
		for k := 0; k < ng; k++ {
			c.next[k].appendRun(&c.cols[k], prev, c.cols[k].n)
		}
		return nil
	}
	if len(fresh) < parallelRebuild || ng == 0 || len(g.accs) == 0 {
		aggs()
		return keys()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		aggs()
	}()
	err := keys()
	<-done
	return err
}

// update rewrites the aggregates of the stale groups and clears the marks.
// pos is up to date (positions) if there are any.
func (c *resultCache) update(g *groupTable) {
	if len(c.staleIDs) == 0 {
		return
	}
	ng := len(g.spec.groups)
	pos := c.pos
	var rows []int32 // the stale rows, ascending, for STRING aggregates
	for i := range g.accs {
		a, t, col := &g.accs[i], g.spec.calls[i].typ, &c.cols[ng+i]
		if t != String {
			col.unshare(true)
			v, _ := col.vector()
			for _, id := range c.staleIDs {
				v.set(pos[id], a.final(id, t), col.n)
			}
			col.valid = v.valid
			continue
		}
		// A STRING column is rebuilt: its rows are not of fixed size.
		if rows == nil {
			rows = make([]int32, 0, len(c.staleIDs))
			for _, id := range c.staleIDs {
				rows = append(rows, pos[id])
			}
			slices.Sort(rows)
		}
		dst := &c.next[ng+i]
		dst.unshare(false)
		dst.reset()
		prev := 0
		for _, r := range rows {
			dst.appendRun(col, prev, int(r))
			dst.appendValue(a.final(c.order[r], t))
			prev = int(r) + 1
		}
		dst.appendRun(col, prev, col.n)
		c.cols[ng+i], c.next[ng+i] = c.next[ng+i], c.cols[ng+i]
	}
	for _, id := range c.staleIDs {
		c.stale[id] = false
	}
	c.staleIDs = c.staleIDs[:0]
}

// inKeyOrder returns ids (distinct groups) in ascending key order. It
// extends the order to every group and reads the ids' rows from it, when
// full or when the groups not yet in the order are no more than the ids
// sorted by key since it was last extended; else (after a Restore of many
// groups, say) it sorts ids by key. So the order costs at most about the
// sorting it saves.
func (c *resultCache) inKeyOrder(g *groupTable, ids []int32, full bool) []int32 {
	fresh := len(c.fresh)
	if fresh > 0 && !full && c.sortWork+len(ids) < fresh {
		c.sortWork += len(ids)
		return sortByKey(&g.keyIndex, ids)
	}
	c.extend(g)
	pos := c.positions(g)
	if len(ids) < len(c.order)>>8 { // few: sort by row
		ids = slices.Clone(ids)
		slices.SortFunc(ids, func(a, b int32) int { return cmp.Compare(pos[a], pos[b]) })
		return ids
	}
	set := make([]uint64, (len(c.order)+63)>>6)
	for _, id := range ids {
		r := pos[id]
		set[r>>6] |= 1 << (r & 63)
	}
	out := make([]int32, 0, len(ids))
	for w, word := range set {
		for word != 0 {
			out = append(out, c.order[w<<6+bits.TrailingZeros64(word)])
			word &= word - 1
		}
	}
	return out
}

// sortByKey returns ids (distinct keys of g) in ascending key order,
// sorted by abbreviation (see sortAbbrKeys). It reads g only.
func sortByKey(g *keyIndex, ids []int32) []int32 {
	if len(ids) == 0 {
		return nil
	}
	ref := g.key(ids[0])
	plen := len(ref)
	for _, id := range ids[1:] {
		plen = commonPrefix(ref[:plen], g.key(id))
	}
	ks := make([]abbrKey, len(ids))
	for i, id := range ids {
		ks[i] = abbrKey{abbrev(g.key(id), plen), id}
	}
	sortAbbrKeys(ks, g)
	out := make([]int32, len(ks))
	for i, k := range ks {
		out[i] = k.id
	}
	return out
}

// prefetchGroups is how many groups' keys rebuild loads ahead of decoding
// them (prefetchKeys).
const prefetchGroups = 64

// prefetchKeys loads the first byte of the key of each of ks. The keys of
// new groups are decoded in key order, scattered over the key arena:
// loading them in a loop of their own lets the processor wait for all the
// misses at once, not for one after another (as keyIndex.prefetch).
func (g *groupTable) prefetchKeys(ks []abbrKey) {
	var sum uint64
	for _, k := range ks {
		if key := g.keyBytes(k.id); len(key) > 0 {
			sum += uint64(key[0])
		}
	}
	g.sink += sum
}

// abbrKey is a group id and the abbreviation of its key.
type abbrKey struct {
	abbr uint64
	id   int32
}

// sortAbbrKeys sorts ks by key: by abbreviation with a radix sort (a
// pass per byte in which the abbreviations differ), then each run of equal
// abbreviations by key.
func sortAbbrKeys(ks []abbrKey, g *keyIndex) {
	byKey := func(a, b abbrKey) int {
		if a.abbr != b.abbr {
			return cmp.Compare(a.abbr, b.abbr)
		}
		return strings.Compare(g.key(a.id), g.key(b.id))
	}
	if len(ks) < 256 {
		slices.SortFunc(ks, byKey)
		return
	}
	var counts [8][256]int
	for _, k := range ks {
		for d := range counts {
			counts[d][byte(k.abbr>>(8*d))]++
		}
	}
	src, dst := ks, make([]abbrKey, len(ks))
	for d := range counts {
		c := &counts[d]
		if c[byte(src[0].abbr>>(8*d))] == len(ks) {
			continue // every abbreviation has this byte
		}
		sum := 0
		for b, n := range c {
			c[b] = sum
			sum += n
		}
		for _, k := range src {
			b := byte(k.abbr >> (8 * d))
			dst[c[b]] = k
			c[b]++
		}
		src, dst = dst, src
	}
	copy(ks, src)
	for i := 0; i < len(ks); {
		j := i + 1
		for j < len(ks) && ks[j].abbr == ks[i].abbr {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(ks[i:j], byKey)
		}
		i = j
	}
}

// abbrev returns the 8 bytes of key after its first plen, big-endian and
// padded with zeros: if abbrev(a, plen) < abbrev(b, plen) then a < b for
// keys a and b that share their first plen bytes.
func abbrev(key string, plen int) uint64 {
	var b [8]byte
	if plen < len(key) {
		copy(b[:], key[plen:])
	}
	return binary.BigEndian.Uint64(b[:])
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

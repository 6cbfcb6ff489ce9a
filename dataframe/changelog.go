package dataframe

import (
	"cmp"
	"slices"
)

// removeGroups removes the groups of keys (as Changes gives them, or
// in-memory keys) that exist, and returns how many it removed. The cost
// follows the groups removed, not the State's size: each key's id leaves
// the key index and its accumulators are emptied at once; its result
// cache row is dropped, and the id recycled, with the next extension of
// the order (or once the removed groups are many). Each removed group is a
// delete of Changes, and in update mode a retraction if its row was
// emitted. Window eviction (issue 16) is to call it.
func (s *State) removeGroups(keys [][]byte) (int, error) {
	ids := make([]int32, 0, len(keys))
	for _, key := range keys {
		key, err := s.ht.checkKey(key)
		if err != nil {
			return 0, err
		}
		if id, _ := s.ht.find(key, hashKey(key)); id >= 0 {
			ids = append(ids, id)
		}
	}
	return s.removeIDs(ids, true)
}

// removeIDs removes the live groups ids (an id listed twice is removed
// once) and returns how many it removed. See removeGroups. Without
// retract, a removed group's row is not retracted in update mode (a
// closed window: its row is final).
func (s *State) removeIDs(ids []int32, retract bool) (int, error) {
	if err := s.settle(); err != nil {
		return 0, err
	}
	s.changed()
	n, wasChanged := 0, false
	for _, id := range ids {
		if s.ht.removed(id) {
			continue
		}
		d, added := s.dels.add(s.ht.keyBytes(id), s.ht.hashes[id])
		if added && int(d) == len(s.delEmitted) {
			s.delEmitted = append(s.delEmitted, false)
		}
		s.delEmitted[d] = retract && s.track && s.emitted.has(id)
		wasChanged = wasChanged || s.ht.changed != nil && s.ht.changed[id]
		s.emitted.set(id, false)
		s.ht.removeGroup(id)
		s.res.remove(id)
		n++
	}
	if wasChanged {
		s.ht.changedIDs = slicesDeleteRemoved(s.ht.changedIDs, s.ht)
	}
	s.mu.Lock()
	s.res.compactSoon(s.ht)
	s.mu.Unlock()
	return n, nil
}

// slicesDeleteRemoved drops the removed groups from ids.
func slicesDeleteRemoved(ids []int32, g *groupTable) []int32 {
	w := 0
	for _, id := range ids {
		if !g.removed(id) {
			ids[w] = id
			w++
		}
	}
	return ids[:w]
}

// addedGroup takes in group id, new (on a new or recycled id) with key
// whose hash is h: it is fresh to the result cache, and if its key was
// removed since ResetChanged the delete is undone, the group inheriting
// whether its row was emitted (addedGroup reports it: undone).
func (s *State) addedGroup(id int32, key []byte, h uint64) (undone bool) {
	s.res.fresh = append(s.res.fresh, id)
	if s.dels.len() == 0 {
		return false
	}
	d, _ := s.dels.find(key, h)
	if d < 0 {
		return false
	}
	s.emitted.set(id, s.delEmitted[d])
	s.dels.remove(d)
	s.dels.recycle([]int32{d})
	return true
}

// changes gives the changed groups and the removed ones, merged in key
// order, then stably put in group order (see Changes). Each key is a view
// of a key arena and each value is encoded into one reused buffer, both
// capped at their length.
func (s *State) changes(group func(key []byte) uint16, fn func(group uint16, key, value []byte, deleted bool) error) error {
	if s.Changed() == 0 {
		return nil
	}
	ups := s.changedInKeyOrder()
	var dels []int32
	if s.dels.len() > 0 {
		dels = make([]int32, 0, s.dels.len())
		for d := range int32(s.dels.ids()) {
			if !s.dels.removed(d) {
				dels = append(dels, d)
			}
		}
		dels = sortByKey(&s.dels, dels)
	}
	// An entry is an upsert's group id, or ^d for the delete of dels key
	// d: the deletes are merged in.
	all := ups
	if len(dels) > 0 {
		all = make([]int32, 0, len(ups)+len(dels))
		i, j := 0, 0
		for i < len(ups) && j < len(dels) {
			if s.ht.key(ups[i]) < s.dels.key(dels[j]) {
				all = append(all, ups[i])
				i++
			} else {
				all = append(all, ^dels[j])
				j++
			}
		}
		all = append(all, ups[i:]...)
		for _, d := range dels[j:] {
			all = append(all, ^d)
		}
	}
	var groups []uint16
	if group != nil {
		all, groups = byGroup(all, s.storedKey, group)
	}
	var val []byte
	for n, e := range all {
		var g uint16
		if groups != nil {
			g = groups[n]
		}
		if e < 0 {
			if err := fn(g, storedKey(s.dels.keyBytes(^e)), nil, true); err != nil {
				return err
			}
			continue
		}
		val = s.ht.appendValue(val[:0], e)
		if err := fn(g, storedKey(s.ht.keyBytes(e)), val[:len(val):len(val)], false); err != nil {
			return err
		}
	}
	return nil
}

// storedKey is the stored key of a changes entry (see changes).
func (s *State) storedKey(e int32) []byte {
	if e < 0 {
		return storedKey(s.dels.keyBytes(^e))
	}
	return storedKey(s.ht.keyBytes(e))
}

// byGroup stably sorts the entries es by the group of their key, and
// returns them with their groups. It counts by group when the groups span
// a range not much larger than the entries (a checkpoint's 128 key
// groups), else sorts.
func byGroup(es []int32, keyOf func(int32) []byte, group func([]byte) uint16) ([]int32, []uint16) {
	gs := make([]uint16, len(es))
	top := 0
	for i, e := range es {
		gs[i] = group(keyOf(e))
		top = max(top, int(gs[i]))
	}
	outE, outG := make([]int32, len(es)), make([]uint16, len(es))
	if top > 4*len(es)+256 {
		idx := make([]int32, len(es))
		for i := range idx {
			idx[i] = int32(i)
		}
		slices.SortStableFunc(idx, func(a, b int32) int { return cmp.Compare(gs[a], gs[b]) })
		for i, x := range idx {
			outE[i], outG[i] = es[x], gs[x]
		}
		return outE, outG
	}
	at := make([]int, top+2)
	for _, g := range gs {
		at[int(g)+1]++
	}
	for g := 1; g < len(at); g++ {
		at[g] += at[g-1]
	}
	for i, e := range es {
		g := gs[i]
		outE[at[g]], outG[at[g]] = e, g
		at[g]++
	}
	return outE, outG
}

package dataframe

import (
	"encoding/binary"
	"slices"
)

// Session windows in the State. A Task groups each row under its own
// session [ts, ts+gap) (aggregateWindows); merging a Task joins each of
// its sessions with the State's sessions of the same other keys that it
// overlaps or touches (start <= the other's end, as Spark merges), into
// one group keyed by the union, and removes the groups it joined. The
// State's sessions of one key are so disjoint and never touch.

// sessionKeyOffset is where a windowed key's other columns start: after
// the two TIMESTAMP columns (tag and 8 bytes each).
const sessionKeyOffset = 18

// windowStartOfKey decodes the window start of a windowed group's key.
func windowStartOfKey(key []byte) int64 {
	return int64(binary.BigEndian.Uint64(key[1:9]) ^ (1 << 63))
}

// trackSession indexes group id, whose key is key, under its other keys.
func (s *State) trackSession(id int32, key []byte) {
	if w := s.p.agg.window; w == nil || !w.session || len(key) < sessionKeyOffset {
		return
	}
	if s.sessions == nil {
		s.sessions = map[string][]int32{}
	}
	k := string(key[sessionKeyOffset:])
	s.sessions[k] = append(s.sessions[k], id)
}

// liveSessions returns the groups of the sessions of other keys k, after
// dropping from the index the ids removed (or recycled for another key).
func (s *State) liveSessions(k string) []int32 {
	ids := s.sessions[k]
	w := 0
	for _, id := range ids {
		if s.ht.removed(id) || string(s.ht.keyBytes(id)[sessionKeyOffset:]) != k || slices.Contains(ids[:w], id) {
			continue
		}
		ids[w] = id
		w++
	}
	if w == 0 {
		delete(s.sessions, k)
		return nil
	}
	s.sessions[k] = ids[:w]
	return ids[:w]
}

// mergeSession folds the Task group sg (of table src), a session, into
// the State: into the session that holds it, or into a new group that
// unites it with every session it overlaps or touches.
func (s *State) mergeSession(src *groupTable, sg int32) error {
	key := src.keyBytes(sg)
	k := string(key[sessionKeyOffset:])
	lo := windowStartOfKey(key)
	hi, _ := windowEndOfKey(key)
	var join []int32
	live := s.liveSessions(k)
	for grew := true; grew; { // the union may reach further sessions
		grew = false
		for _, id := range live {
			if slices.Contains(join, id) {
				continue
			}
			ik := s.ht.keyBytes(id)
			st := windowStartOfKey(ik)
			en, _ := windowEndOfKey(ik)
			if st <= hi && lo <= en {
				join = append(join, id)
				lo, hi, grew = min(lo, st), max(hi, en), true
			}
		}
	}
	if len(join) == 1 {
		// A session holding the Task's: the group is unchanged.
		if ik := s.ht.keyBytes(join[0]); windowStartOfKey(ik) == lo {
			if e, _ := windowEndOfKey(ik); e == hi {
				s.mergeInto(join[0], src, sg)
				return nil
			}
		}
	}
	nk := appendTimestampKey(nil, lo)
	nk = appendTimestampKey(nk, hi)
	nk = append(nk, k...)
	h := hashKey(nk)
	dg, added := s.ht.addGroup(nk, h)
	if added {
		s.addedGroup(dg, nk, h)
		s.trackWindow(dg, nk)
		s.trackSession(dg, nk)
	}
	for _, id := range join {
		s.mergeInto(dg, s.ht, id)
	}
	s.mergeInto(dg, src, sg)
	if len(join) == 0 {
		return nil
	}
	_, err := s.removeIDs(join, true)
	return err
}

// mergeInto folds group sg of src into the State's group dg.
func (s *State) mergeInto(dg int32, src *groupTable, sg int32) {
	for i := range s.ht.accs {
		s.ht.accs[i].merge(dg, &src.accs[i], sg)
	}
	s.ht.markChanged(dg)
	s.res.markStale(dg)
}

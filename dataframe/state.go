package dataframe

import (
	"fmt"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// State is the running aggregate of a stateful Program: one entry per group,
// merged from Tasks batch after batch and persisted as (key, value) pairs.
// Keys are the encoded group values: order-preserving and type-tagged, NULL
// sorting first. Values start with a version byte. A State is used by one
// goroutine, except that Changes may run while Result does (both only read
// the groups, and the first to need the changed groups in key order puts
// them in order for both).
type State struct {
	p   *Program
	mem memory.Allocator
	ht  *groupTable
	res *resultCache // the groups in key order, and the complete-mode table

	// mu guards res's order and positions (extend, positions) and
	// inOrder, which Changes and Result may both need at once.
	mu sync.Mutex
	// inOrder is the changed groups in key order, once computed since the
	// last Merge, Restore, removal or ResetChanged (ordered).
	inOrder []int32
	ordered bool

	// dels holds the keys of the groups removed since ResetChanged: the
	// deletes of Changes. delEmitted[d] records whether the group of dels
	// key d had its row in the result (it is retracted).
	dels       keyIndex
	delEmitted []bool

	// Retractions, tracked in update mode only (track). emitted has the bit
	// of each group whose row was in the result as of the last
	// ResetChanged (its HAVING held). passing has, for the changed groups
	// and once passKnown, the bit of each whose row is in the result now.
	// unsettled lists restored groups whose emitted bit is yet to be
	// computed (settle), before anything changes them.
	track bool
	// restoreEmitted: restored groups count as emitted (RestoreAsEmitted).
	restoreEmitted bool
	emitted        bitset
	passing        bitset
	passKnown      bool
	unsettled      []int32

	// wins lists the groups of each window by its end (µs), winEnds the
	// ends in ascending order: CloseWindows takes them from the front.
	wins    map[int64][]int32
	winEnds []int64
	// sessions lists the groups of each session window's other keys
	// (session.go), some perhaps removed since.
	sessions map[string][]int32

	keyGroups []int         // the group of each key column (KeySchema)
	keySchema *arrow.Schema // see KeySchema
}

// bitset is a set of group ids, growing as ids are set.
type bitset []uint64

func (b bitset) has(id int32) bool {
	w := int(id >> 6)
	return w < len(b) && b[w]&(1<<(id&63)) != 0
}

func (b *bitset) set(id int32, on bool) {
	w := int(id >> 6)
	if w >= len(*b) {
		if !on {
			return
		}
		*b = append(*b, make([]uint64, w+1-len(*b)+len(*b)/4)...)
	}
	if on {
		(*b)[w] |= 1 << (id & 63)
	} else {
		(*b)[w] &^= 1 << (id & 63)
	}
}

// changedInKeyOrder returns the changed groups in ascending key order,
// computing them on the first call since the groups changed. In complete
// mode it extends the result cache's order to every group, as the table
// needs it too.
func (s *State) changedInKeyOrder() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ordered {
		s.inOrder = s.res.inKeyOrder(s.ht, s.ht.changedIDs, s.p.mode == Complete)
		s.ordered = true
	}
	return s.inOrder
}

// extendOrder merges every group into the result cache's order, and
// brings the positions up to date if the table has stale groups to
// rewrite (the table is read and written without s.mu: what it reads of
// the order is up to date before).
func (s *State) extendOrder() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res.extend(s.ht)
	if len(s.res.staleIDs) > 0 {
		s.res.positions(s.ht)
	}
}

// changed forgets the changed groups' order and which of them pass
// HAVING: Merge, Restore, removals and ResetChanged change the groups or
// which changed.
func (s *State) changed() {
	s.ordered, s.inOrder = false, nil
	if s.passKnown {
		for _, id := range s.ht.changedIDs {
			s.passing.set(id, false)
		}
		s.passKnown = false
	}
}

// NewState returns an empty State of p; Result records are allocated from
// mem.
func (p *Program) NewState(mem memory.Allocator) *State {
	s := &State{p: p, mem: mem, ht: newGroupTable(p.agg), res: &resultCache{}, track: p.mode == Update}
	s.keyGroups, s.keySchema = p.keyColumns()
	return s
}

// Restore loads one persisted entry, as produced by Changes. Restoring a key
// twice replaces the earlier value. Restored groups are not marked changed.
// In update mode, a restored group's row counts as emitted when its HAVING
// holds, as it did when its value was committed.
func (s *State) Restore(key, value []byte) error {
	if err := s.check(); err != nil {
		return err
	}
	s.changed()
	return s.restore(key, value)
}

func (s *State) check() error {
	if s.p.agg == nil {
		return fmt.Errorf("%w: the program is stateless (no aggregation)", ErrState)
	}
	return nil
}

// Merge folds a Task's partial aggregates into s exactly and marks the
// groups it touched as changed.
func (s *State) Merge(t *Task) error {
	s.changed()
	return s.merge(t)
}

// Changed returns the number of entries Changes gives: the groups changed
// (upserts) and removed (deletes) since ResetChanged.
func (s *State) Changed() int { return s.ht.changedCount() + s.dels.len() }

// Changes calls fn for each group changed since ResetChanged: an upsert
// (deleted false, value its encoded aggregate) for a group merged (or
// added) since, a delete (deleted true, value nil) for a group removed
// since. A group removed and added again within the batch is an upsert.
//
// The calls come in ascending (group(key), key) order, key compared as
// bytes; group, the key group of a key (the checkpoint's KeyGroupOf), may
// be nil: every key is then in group 0, in key order. group is called
// once per changed key; the changes are put in key order, then in group
// order by a counting sort, so the cost follows the changed groups.
//
// Keys are never empty: a global aggregate's one group has the key 0x00.
// key and value are valid only during the call and must not be modified:
// fn copies what it keeps (the checkpoint's CommitTx.PutState does). An
// error from fn stops the iteration and is returned. It may run
// concurrently with Result: an engine writes the changes while it builds
// the output.
func (s *State) Changes(group func(key []byte) uint16, fn func(group uint16, key, value []byte, deleted bool) error) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.changes(group, fn)
}

// ResetChanged forgets which groups changed and were removed (after the
// batch commit). In update mode, the rows of the changed groups that pass
// HAVING now count as emitted, the others not.
func (s *State) ResetChanged() {
	if s.track {
		// Result(true) or Retracted computed passing; if neither ran, a
		// failure to evaluate HAVING now counts the rows as emitted: a
		// later retraction of a row never emitted is harmless, a missed
		// one is not.
		err := s.knowPassing()
		for _, id := range s.ht.changedIDs {
			s.emitted.set(id, err != nil || s.passes(id))
		}
	}
	s.changed()
	s.ht.resetChanged()
	if s.dels.ids() > 0 {
		s.dels.reset()
		s.delEmitted = s.delEmitted[:0]
	}
}

// Len returns the number of groups.
func (s *State) Len() int { return s.ht.len() }

// Result finalizes the aggregates and applies HAVING, the projection, ORDER
// BY and LIMIT. onlyChanged restricts it to the groups changed since
// ResetChanged (update mode): groups removed, or whose HAVING no longer
// holds, are not in it (see Retracted). Without ORDER BY the rows are in
// group-key order. The caller releases the record.
func (s *State) Result(onlyChanged bool) (arrow.Record, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.result(onlyChanged)
}

// Retracted returns the key columns (KeySchema) of the groups whose rows
// are retracted since ResetChanged, in key order: their row was in the
// result (as of ResetChanged; a restored group's row if its HAVING held)
// and no longer is, because their HAVING stopped holding or they were
// removed. An update-mode sink deletes them (an upsert-kafka tombstone, a
// DELETE by key). A retracted group that passes HAVING again in a later
// batch is in that batch's Result as any changed group; a group whose
// HAVING goes from false to true is in Result, never here.
//
// Only update mode retracts: in complete mode every Result replaces the
// whole table, and Retracted returns no rows. The caller releases the
// record.
func (s *State) Retracted() (arrow.Record, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.retracted()
}

// KeySchema returns the schema of Retracted's key columns: the output
// columns that are plain GROUP BY columns (SELECT page AS p ... GROUP BY
// page gives p), as in OutputSchema and in its order, then each GROUP BY
// expression that no output column is, named by its text (its alias or
// column name when it has one). A global aggregate has no key columns.
func (s *State) KeySchema() *arrow.Schema { return s.keySchema }

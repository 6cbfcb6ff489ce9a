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
	// last Merge, Restore or ResetChanged (ordered).
	inOrder []int32
	ordered bool
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
		s.res.positions()
	}
}

// changed forgets the changed groups' order: Merge, Restore and
// ResetChanged change the groups or which changed.
func (s *State) changed() {
	s.ordered, s.inOrder = false, nil
}

// NewState returns an empty State of p; Result records are allocated from
// mem.
func (p *Program) NewState(mem memory.Allocator) *State {
	return &State{p: p, mem: mem, ht: newGroupTable(p.agg), res: &resultCache{}}
}

// Restore loads one persisted entry, as produced by Changes. Restoring a key
// twice replaces the earlier value. Restored groups are not marked changed.
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

// Changed returns the number of groups changed since ResetChanged.
func (s *State) Changed() int { return s.ht.changedCount() }

// Changes calls fn with the encoded key and value of each changed group, in
// ascending key byte order. Keys are never empty: a global aggregate's one
// group has the key 0x00. key and value are valid only during the call
// and must not be modified: fn copies what it keeps (offsets'
// CommitTx.PutState does). An error from fn stops the iteration and is
// returned. It may run concurrently with Result: an engine writes the
// changes while it builds the output.
func (s *State) Changes(fn func(key, value []byte) error) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.changes(fn)
}

// ResetChanged forgets which groups changed (after the batch commit).
func (s *State) ResetChanged() {
	s.changed()
	s.ht.resetChanged()
}

// Len returns the number of groups.
func (s *State) Len() int { return s.ht.len() }

// Result finalizes the aggregates and applies HAVING, the projection, ORDER
// BY and LIMIT. onlyChanged restricts it to the groups changed since
// ResetChanged (update mode). Without ORDER BY the rows are in group-key
// order. The caller releases the record.
func (s *State) Result(onlyChanged bool) (arrow.Record, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.result(onlyChanged)
}

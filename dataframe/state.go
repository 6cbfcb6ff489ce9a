package dataframe

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// State is the running aggregate of a stateful Program: one entry per group,
// merged from Tasks batch after batch and persisted as (key, value) pairs.
// Keys are the encoded group values: order-preserving and type-tagged, NULL
// sorting first. Values start with a version byte. A State is used by one
// goroutine, except that Changes may run while Result does (both only read
// the groups).
type State struct {
	p   *Program
	mem memory.Allocator
	ht  *groupTable
	res *resultCache // the groups in key order, and the complete-mode table
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
func (s *State) Merge(t *Task) error { return s.merge(t) }

// Changed returns the number of groups changed since ResetChanged.
func (s *State) Changed() int { return s.ht.changedCount() }

// Changes calls fn with the encoded key and value of each changed group, in
// ascending key byte order. Each key and value is a fresh slice that fn may
// keep (bbolt's Put retains them until the transaction ends). An error from
// fn stops the iteration and is returned. It may run concurrently with
// Result: an engine writes the changes while it builds the output.
func (s *State) Changes(fn func(key, value []byte) error) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.changes(fn)
}

// ResetChanged forgets which groups changed (after the batch commit).
func (s *State) ResetChanged() { s.ht.resetChanged() }

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

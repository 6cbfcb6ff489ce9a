package dataframe

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

type groupTable struct{ spec *aggSpec }

func newGroupTable(spec *aggSpec) *groupTable { return &groupTable{spec: spec} }
func (g *groupTable) changedCount() int       { return 0 }
func (g *groupTable) resetChanged()           {}
func (g *groupTable) len() int                { return 0 }

func (t *Task) consume(rec arrow.Record) error {
	return fmt.Errorf("%w: not implemented", ErrUnsupported)
}
func (s *State) restore(k, v []byte) error { return fmt.Errorf("%w: not implemented", ErrUnsupported) }
func (s *State) merge(t *Task) error       { return fmt.Errorf("%w: not implemented", ErrUnsupported) }
func (s *State) changes(fn func(k, v []byte) error) error {
	return fmt.Errorf("%w: not implemented", ErrUnsupported)
}
func (s *State) result(onlyChanged bool) (arrow.Record, error) {
	return nil, fmt.Errorf("%w: not implemented", ErrUnsupported)
}

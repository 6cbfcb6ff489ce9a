package engine

import (
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// ErrStateless is returned by State for a query without aggregation: it
// keeps no result table.
var ErrStateless = errors.New("the query has no aggregation, so its checkpoint holds no result table")

// State returns the result table as of the last committed batch (complete
// mode: every group), read from the checkpoint without running the query.
// It works while the query runs in another process: the checkpoint is read
// through a consistent read-only snapshot. The caller releases the record.
func (q *Query) State() (arrow.Record, error) {
	if !q.prog.Stateful() {
		return nil, ErrStateless
	}
	ckpt, err := checkpoint.Open(q.cfg.CheckpointLocation, checkpoint.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer ckpt.Close()
	if _, err := ckpt.CheckFingerprint(q.fp, q.upgradeFingerprint); err != nil {
		return nil, err
	}
	st := q.prog.NewState(q.mem)
	if err := restoreState(ckpt, st); err != nil {
		return nil, fmt.Errorf("reading state from %s: %w", q.cfg.CheckpointLocation, err)
	}
	return st.Result(false)
}

// Batches lists the batches recorded in the checkpoint (planned and
// committed, oldest first), read-only, like State.
func (q *Query) Batches() ([]checkpoint.BatchInfo, error) {
	ckpt, err := checkpoint.Open(q.cfg.CheckpointLocation, checkpoint.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer ckpt.Close()
	return ckpt.Batches()
}

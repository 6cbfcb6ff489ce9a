package dataframe

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Task runs a Program over the record batches of one executor task. It is
// used by one goroutine. A stateful program's Task holds partial aggregates
// for State.Merge; a stateless one holds its output records.
type Task struct {
	p       *Program
	mem     memory.Allocator
	rows    int64 // input rows that passed the WHERE filter (tests read it)
	out     []arrow.Record
	emitted int64       // rows output (stateless), for the per-task Limit
	ht      *groupTable // partial aggregates (stateful)
	keyBuf  []byte      // reused group-key buffer
	nowUS   int64       // current_timestamp(), µs (SetProcessingTime)
	snap    *tableSnap  // the joined table's snapshot (pinned), or nil

	wm      int64 // the watermark, µs (hasWM)
	hasWM   bool
	dropped int64          // rows dropped as late
	et      EventTimeStats // of the watermark's column
}

// NewTask returns a Task of p allocating Arrow memory from mem.
func (p *Program) NewTask(mem memory.Allocator) *Task {
	t := &Task{p: p, mem: mem, nowUS: time.Now().UnixMicro()}
	if p.agg != nil {
		t.ht = newGroupTable(p.agg)
	}
	if p.join != nil {
		t.snap = p.join.table.pin()
	}
	return t
}

// Consume runs the query over rec, whose columns are p.InputColumns() in
// order. A stateful program filters and folds the rows into the Task's
// partial aggregates; a stateless one filters, projects and keeps the
// output. rec is not retained.
func (t *Task) Consume(rec arrow.Record) error {
	if t.p == nil {
		return fmt.Errorf("%w: Consume on a released Task", ErrState)
	}
	return t.consume(rec)
}

// Output returns the stateless output records and hands them to the caller,
// who releases them; the Task keeps none.
func (t *Task) Output() []arrow.Record {
	out := t.out
	t.out = nil
	return out
}

// Release frees the Task's output records and partial aggregates; the Task
// cannot be used afterwards.
func (t *Task) Release() {
	for _, r := range t.out {
		r.Release()
	}
	t.out = nil
	t.ht = nil
	t.p = nil
	if t.snap != nil {
		t.snap.release()
		t.snap = nil
	}
}

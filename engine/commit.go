package engine

import (
	"fmt"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// commit makes batch rec.ID durable in one bbolt transaction: the state's
// changes (copied out beforehand, see stateChanges), the plan of the batch
// read ahead (next, if not nil, with the rows emitted up to this batch), a
// TxSink's writes of out, the commit record (rec.Meta is the batch's plan's,
// its EmittedRows counting out) and the positions. The transaction begins
// only when the output is built and, for any other sink, accepted by it:
// a slow sink never holds the checkpoint's write lock, and a batch whose
// output the sink refused is never committed.
func (d *driver) commit(rec checkpoint.CommitRecord, changes *stateChanges, txSink TxSink, out *Output, next *checkpoint.BatchPlan) error {
	rows := out.NumRows()
	return d.ckpt.Commit(rec, func(tx *checkpoint.CommitTx) error {
		d.failpoint(fpCommitBegin, rec.ID)
		if changes != nil {
			tx.GrowState(changes.len())
			if err := changes.each(func(g uint16, k, v []byte, del bool) error {
				ns := checkpoint.Namespace{Operator: aggOperator, KeyGroup: g}
				if del {
					return tx.DeleteState(ns, k)
				}
				return tx.PutState(ns, k, v)
			}); err != nil {
				return err
			}
		}
		if next != nil {
			if err := tx.WriteAhead(*next); err != nil {
				return fmt.Errorf("the batch read ahead: %w", err)
			}
		}
		if txSink != nil {
			b, err := tx.Bucket(txSink.Name())
			if err != nil {
				return fmt.Errorf("sink: %w", err)
			}
			if err := withSinkBucket(b, func(b *SinkBucket) error { return txSink.AddBatchTx(b, out) }); err != nil {
				return fmt.Errorf("sink: %w", err)
			}
		}
		if err := tx.SetOutput(rows, rec.Meta.EmittedRows+rows); err != nil {
			return err
		}
		d.failpoint(fpBeforeCommit, rec.ID)
		return nil
	})
}

// stateChanges is a copy of the changed groups of the state, taken on a
// goroutine (State.Changes may run while State.Result does) while the
// driver builds the output and the sink writes it, so that the commit
// transaction only has to hand them to the checkpoint. The goroutine is
// owned by runBatch, which waits for it (wait) before it returns.
type stateChanges struct {
	done chan struct{}
	err  error
	// panicked is what the goroutine panicked with, if it did: wait
	// panics with it again on the driver's goroutine.
	panicked any
	// buf holds the keys and values back to back: change i is the key
	// buf[offs[2i]:offs[2i+1]] and the value buf[offs[2i+1]:offs[2i+2]].
	buf  []byte
	offs []int
	// groups is each change's key group; dels the indexes of the deletes,
	// ascending.
	groups []uint16
	dels   []int
}

// prepareChanges starts copying the state's changes; changed is how many
// groups changed.
func (d *driver) prepareChanges(changed int) *stateChanges {
	c := &stateChanges{done: make(chan struct{}), offs: make([]int, 1, 2*changed+1), groups: make([]uint16, 0, changed)}
	go func() {
		defer close(c.done)
		defer func() {
			if p := recover(); p != nil {
				c.panicked = p
			}
		}()
		c.err = d.state.Changes(checkpoint.KeyGroupOf, func(g uint16, k, v []byte, del bool) error {
			c.buf = append(c.buf, k...)
			c.offs = append(c.offs, len(c.buf))
			c.buf = append(c.buf, v...)
			c.offs = append(c.offs, len(c.buf))
			c.groups = append(c.groups, g)
			if del {
				c.dels = append(c.dels, len(c.groups)-1)
			}
			return nil
		})
	}()
	return c
}

// wait waits for the copy and returns its error.
func (c *stateChanges) wait() error {
	<-c.done
	if p := c.panicked; p != nil {
		c.panicked = nil // once
		panic(p)
	}
	return c.err
}

func (c *stateChanges) len() int { return (len(c.offs) - 1) / 2 }

// each calls fn with every change, in the state's order (ascending key
// group, then key): an upsert, or a delete (del, v empty).
func (c *stateChanges) each(fn func(g uint16, k, v []byte, del bool) error) error {
	dels := c.dels
	for i := 0; i+2 < len(c.offs); i += 2 {
		o, n := c.offs[i:i+3], i/2
		del := len(dels) > 0 && dels[0] == n
		if del {
			dels = dels[1:]
		}
		if err := fn(c.groups[n], c.buf[o[0]:o[1]:o[1]], c.buf[o[1]:o[2]:o[2]], del); err != nil {
			return err
		}
	}
	return nil
}

// aggOperator is the operator id of a query's aggregation: its state keys
// live in the checkpoint's namespaces of this operator, one per key group.
const aggOperator = checkpoint.AggregationOperator

// restoreState loads the aggregation's state from ckpt into st.
func restoreState(ckpt *checkpoint.Checkpoint, st *dataframe.State) error {
	return ckpt.ForEachState(func(ns checkpoint.Namespace, key, value []byte) error {
		if ns.Operator != aggOperator {
			return fmt.Errorf("state of %s: no operator of this query has that id", ns)
		}
		return st.Restore(key, value)
	})
}

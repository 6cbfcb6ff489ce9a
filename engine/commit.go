package engine

import (
	"errors"
	"fmt"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// errAbandoned rolls back a commit whose batch failed before its output
// reached the sink.
var errAbandoned = errors.New("batch abandoned before its output reached the sink")

// batchCommit is a batch's commit transaction, started as soon as the
// state is merged and run on its own goroutine while the driver builds the
// result and feeds the sink: it writes the state's changes meanwhile (to
// the state log, or compacting it; the State allows Changes while Result
// runs), then waits for the output and only then becomes durable, so
// nothing is committed that the sink has not received.
type batchCommit struct {
	out    chan *Output // receives the output once the sink has it; closed: abandon
	done   chan error   // the commit's result
	handed bool         // out was sent
	// panicked is what the commit's goroutine panicked with, if it did
	// (written before done is sent): the driver panics with it again.
	panicked any
}

// startCommit starts the commit of rec, whose state changes are changed
// keys. A TxSink, if txSink is not nil, writes the output inside the
// transaction; next, if not nil, is the plan of the batch read ahead,
// written ahead in the same transaction. emitted is the rows output by the
// batches committed before (CommitRecord.EmittedRows).
func (d *driver) startCommit(rec checkpoint.CommitRecord, changed int, txSink TxSink, next *checkpoint.BatchPlan, emitted int64) *batchCommit {
	c := &batchCommit{out: make(chan *Output, 1), done: make(chan error, 1)}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				c.panicked = p
				c.done <- nil
			}
		}()
		c.done <- d.ckpt.Commit(rec, func(tx *checkpoint.CommitTx) error {
			if d.state != nil {
				tx.GrowState(changed)
				if err := d.state.Changes(checkpoint.KeyGroupOf, func(g uint16, k, v []byte, del bool) error {
					ns := checkpoint.Namespace{Operator: aggOperator, KeyGroup: g}
					if del {
						return tx.DeleteState(ns, k)
					}
					return tx.PutState(ns, k, v)
				}); err != nil {
					return err
				}
			}
			if err := tx.WriteState(); err != nil {
				return err
			}
			if next != nil {
				if err := tx.WriteAhead(*next); err != nil {
					return fmt.Errorf("the batch read ahead: %w", err)
				}
			}
			var out *Output
			ok := false
			tx.Await(func() { out, ok = <-c.out })
			if !ok {
				return errAbandoned
			}
			if err := tx.SetOutput(out.NumRows(), emitted+out.NumRows()); err != nil {
				return err
			}
			if txSink != nil {
				if err := txSink.AddBatchTx(tx, out); err != nil {
					return err
				}
			}
			d.failpoint(fpBeforeCommit, rec.ID)
			return nil
		})
	}()
	return c
}

// finish hands the output, which the sink has, to the commit and waits for
// it to be durable.
func (c *batchCommit) finish(out *Output) error {
	c.handed = true
	c.out <- out
	return c.wait()
}

func (c *batchCommit) wait() error {
	err := <-c.done
	if c.panicked != nil {
		panic(c.panicked)
	}
	return err
}

// abandon rolls the commit back, unless finish ran, and waits for it.
func (c *batchCommit) abandon() {
	if !c.handed {
		c.handed = true
		close(c.out)
		_ = c.wait()
	}
}

// aggOperator is the operator id of a query's aggregation: its state keys
// live in the checkpoint's namespaces of this operator, one per key group.
const aggOperator uint16 = 1

// restoreState loads the aggregation's state from ckpt into st.
func restoreState(ckpt *checkpoint.Checkpoint, st *dataframe.State) error {
	return ckpt.ForEachState(func(ns checkpoint.Namespace, key, value []byte) error {
		if ns.Operator != aggOperator {
			return fmt.Errorf("state of %s: no operator of this query has that id", ns)
		}
		return st.Restore(key, value)
	})
}

package checkpoint

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"go.etcd.io/bbolt"
)

// lastCommitID returns the id of the last committed batch, -1 if none.
func lastCommitID(tx *bbolt.Tx) (int64, error) {
	b := tx.Bucket(bucketCommits)
	if b == nil {
		return -1, nil
	}
	k, _ := b.Cursor().Last()
	if k == nil {
		return -1, nil
	}
	return decodeBatchKey(string(bucketCommits), k)
}

// WriteAhead records the plan of batch p.ID before any of its work starts.
// p.ID must be the last committed id + 1 (0 for the first batch), otherwise
// the error wraps ErrBatchOrder. If that batch is already pending with the
// same ranges, ends and gone partitions (PlannedAt and DataLoss notes aside)
// WriteAhead does nothing; with different ones it returns a
// *PlanConflictError: recovery must re-run the recorded plan. A zero
// PlannedAt is set to the current time. CommitTx.WriteAhead records the
// next batch's plan in the commit of the one before it instead.
func (c *Checkpoint) WriteAhead(p BatchPlan) error {
	return c.update(func(tx *bbolt.Tx) error {
		last, err := lastCommitID(tx)
		if err != nil {
			return err
		}
		return c.writeAhead(tx, p, last+1)
	})
}

// writeAhead records p in tx, whose next batch to commit is next (see
// WriteAhead).
func (c *Checkpoint) writeAhead(tx *bbolt.Tx, p BatchPlan, next int64) error {
	if p.PlannedAt.IsZero() {
		p.PlannedAt = time.Now()
	}
	val, err := encodePlan(p)
	if err != nil {
		return fmt.Errorf("batch %d: %w: %w", p.ID, offsets.ErrPlanInput, err)
	}
	if p.ID != next {
		return fmt.Errorf("write-ahead of batch %d: %w: the next batch is %d", p.ID, ErrBatchOrder, next)
	}
	wal := tx.Bucket(bucketOffsets)
	k := batchKey(p.ID)
	if old := wal.Get(k); old != nil {
		stored, err := decodePlan(k, old)
		if err != nil {
			return err
		}
		if !stored.sameWork(p) {
			return &PlanConflictError{ID: p.ID, Stored: stored.describeRanges(), New: p.describeRanges()}
		}
		return nil
	}
	if err := wal.Put(k, val); err != nil {
		return err
	}
	// A cache for the plan's commit, which checks that the stored bytes
	// are still these: harmless if tx rolls back.
	p.Ends, p.Gone = maps.Clone(p.Ends), slices.Clone(p.Gone) // the caller keeps its own
	c.written.Store(&writtenPlan{plan: p, val: val})
	return nil
}

// Pending returns the batch planned but not committed, nil if none. After a
// crash the engine re-runs it with exactly these ranges.
func (c *Checkpoint) Pending() (*BatchPlan, error) {
	var out *BatchPlan
	err := c.view(func(tx *bbolt.Tx) error {
		last, err := lastCommitID(tx)
		if err != nil {
			return err
		}
		wal := tx.Bucket(bucketOffsets)
		if wal == nil {
			return nil
		}
		k, v := wal.Cursor().Last()
		if k == nil {
			return nil
		}
		p, err := decodePlan(k, v)
		if err != nil {
			return err
		}
		if p.ID > last {
			out = &p
		}
		return nil
	})
	return out, err
}

// LastCommit returns the record of the last committed batch, nil if none.
func (c *Checkpoint) LastCommit() (*CommitRecord, error) {
	var out *CommitRecord
	err := c.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCommits)
		if b == nil {
			return nil
		}
		k, v := b.Cursor().Last()
		if k == nil {
			return nil
		}
		r, err := decodeCommit(k, v)
		out = &r
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Positions returns, for every partition any committed batch planned, the
// until recorded by the last commit that included it: where the partition
// resumes. Partitions a commit declared gone are forgotten. Cost is
// O(partitions), independent of the number of batches.
func (c *Checkpoint) Positions() (map[offsets.TopicPartition]int64, error) {
	out := make(map[offsets.TopicPartition]int64)
	err := c.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPositions)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			tp, off, err := decodePosition(k, v)
			if err != nil {
				return err
			}
			out[tp] = off
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Commit commits batch rec.ID in ONE bbolt transaction: fn writes the
// batch's state changes (and sink rows) through tx, then Commit writes the
// commit record, the positions of the batch's plan (its Ends; its Gone
// partitions are deleted), and prunes offsets and commits records older than
// Options.Retain batches. The record's Meta takes the plan's watermark,
// rate limit, processing time and extra facts where rec leaves them zero. The transaction is fsynced unless Options.NoSync.
//
// If fn returns an error nothing is written and Commit returns it. If fn
// panics, the transaction is rolled back and the panic continues (as in
// bbolt's Update); the checkpoint stays usable. Commit refuses, with an error
// wrapping ErrBatchOrder, a batch that has no write-ahead entry or is already
// committed. fn may be nil.
//
// Cost is proportional to the keys fn changes, not to the size of the state:
// the changes are appended to the state log, and about once per (2 x base
// size) changed keys a commit also compacts the log into the base (see
// doc.go, "State storage and commit cost").
func (c *Checkpoint) Commit(rec CommitRecord, fn func(tx *CommitTx) error) error {
	// CommitTx.Await leaves the snapshot lock while fn waits for something
	// outside the transaction.
	return c.updateHanded(func(btx *bbolt.Tx, h *writerHand, u *userCalls) error {
		last, err := lastCommitID(btx)
		if err != nil {
			return err
		}
		if rec.ID <= last {
			return fmt.Errorf("commit of batch %d: %w: already committed (last committed batch is %d)", rec.ID, ErrBatchOrder, last)
		}
		k := batchKey(rec.ID)
		pv := btx.Bucket(bucketOffsets).Get(k)
		if pv == nil || rec.ID != last+1 {
			return fmt.Errorf("commit of batch %d: %w: it has no write-ahead entry (the next batch is %d; call WriteAhead first)", rec.ID, ErrBatchOrder, last+1)
		}
		var plan BatchPlan
		if w := c.written.Load(); w != nil && w.plan.ID == rec.ID && bytes.Equal(w.val, pv) {
			plan = w.plan
		} else if plan, err = decodePlan(k, pv); err != nil {
			return err
		}
		ctx := newCommitTx(c, btx, rec.ID)
		ctx.leave, ctx.enter = h.leave, h.enter
		defer func() { ctx.done = true }() // also on panic: a leaked CommitTx is dead
		if fn != nil {
			if err := u.call(func() error { return fn(ctx) }); err != nil {
				return err
			}
		}
		if err := ctx.WriteState(); err != nil {
			return err
		}
		rec.StateWrites, rec.StateDeletes = ctx.puts, ctx.deletes
		rec.Meta = rec.Meta.from(plan.Meta)
		if o := ctx.output; o != nil {
			rec.OutputRows, rec.Meta.EmittedRows = o.OutputRows, o.Meta.EmittedRows
		}
		if rec.CommittedAt.IsZero() {
			rec.CommittedAt = time.Now()
		}
		cv, err := encodeCommit(rec)
		if err != nil {
			return err
		}
		if err := btx.Bucket(bucketCommits).Put(k, cv); err != nil {
			return err
		}
		if err := writePositions(btx.Bucket(bucketPositions), plan); err != nil {
			return err
		}
		return prune(btx, rec.ID-int64(c.opts.Retain))
	})
}

// writePositions records plan.Ends, writing only the partitions whose
// position changed, and forgets plan.Gone.
func writePositions(b *bbolt.Bucket, plan BatchPlan) error {
	for _, tp := range sortedKeys(plan.Ends) {
		k, v := positionKey(tp), encodeOffset(plan.Ends[tp])
		if bytes.Equal(b.Get(k), v) {
			continue
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
	}
	for _, tp := range plan.Gone {
		if err := b.Delete(positionKey(tp)); err != nil {
			return err
		}
	}
	return nil
}

// prune deletes offsets and commits records of batches <= upTo.
func prune(tx *bbolt.Tx, upTo int64) error {
	if upTo < 0 {
		return nil
	}
	bound := batchKey(upTo)
	for _, name := range [][]byte{bucketOffsets, bucketCommits} {
		c := tx.Bucket(name).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, bound) <= 0; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	return nil
}

// ViewSink runs fn in a read transaction with the sink bucket name, or nil
// if no commit has created it.
func (c *Checkpoint) ViewSink(name string, fn func(b *bbolt.Bucket) error) error {
	return c.viewCalling(func(tx *bbolt.Tx, u *userCalls) error {
		var b *bbolt.Bucket
		if s := tx.Bucket(bucketSinks); s != nil {
			b = s.Bucket([]byte(name))
		}
		return u.call(func() error { return fn(b) })
	})
}

// BatchInfo is one batch of the write-ahead log and its commit status.
type BatchInfo struct {
	Plan      BatchPlan
	Committed bool
	Commit    *CommitRecord // nil unless Committed
}

// Batches lists the retained batches in ascending id: the last
// Options.Retain committed ones and the pending one, if any.
func (c *Checkpoint) Batches() ([]BatchInfo, error) {
	var out []BatchInfo
	err := c.view(func(tx *bbolt.Tx) error {
		wal, commits := tx.Bucket(bucketOffsets), tx.Bucket(bucketCommits)
		if wal == nil || commits == nil {
			return nil
		}
		return wal.ForEach(func(k, v []byte) error {
			p, err := decodePlan(k, v)
			if err != nil {
				return err
			}
			info := BatchInfo{Plan: p}
			if cv := commits.Get(k); cv != nil {
				r, err := decodeCommit(k, cv)
				if err != nil {
					return err
				}
				info.Committed, info.Commit = true, &r
			}
			out = append(out, info)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

package batch

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
)

// task is one range read by one slot.
type task struct {
	index int
	r     offsets.OffsetRange
	slot  int
	home  bool // slot is the partition's home slot
}

// homes assigns partitions to slots, for the life of an Executor: a
// partition seen for the first time goes to the slot with the fewest
// partitions (the lowest such index), and stays there.
type homes struct {
	slot  map[offsets.TopicPartition]int
	count []int // partitions per slot
}

func newHomes(slots int) *homes {
	return &homes{slot: map[offsets.TopicPartition]int{}, count: make([]int, slots)}
}

// of returns tp's slot, assigning one on first sight.
func (h *homes) of(tp offsets.TopicPartition) int {
	if s, ok := h.slot[tp]; ok {
		return s
	}
	s := 0
	for i, n := range h.count {
		if n < h.count[s] {
			s = i
		}
	}
	h.slot[tp] = s
	h.count[s]++
	return s
}

// planTasks turns ranges into tasks in (topic, partition, from) order,
// splitting ranges longer than maxPer. The pieces of a split range go to
// consecutive slots ending with the partition's home slot, so that the home
// slot's consumer ends at the range's Until.
func planTasks(ranges []offsets.OffsetRange, maxPer int64, h *homes) []task {
	slots := len(h.count)
	rs := slices.Clone(ranges)
	offsets.SortRanges(rs)
	var out []task
	for _, r := range rs {
		n := int64(1)
		if maxPer > 0 && r.Count() > maxPer {
			n = (r.Count() + maxPer - 1) / maxPer
		}
		home := h.of(r.TopicPartition())
		for i := int64(0); i < n && r.Count() > 0; i++ {
			p := r
			if n > 1 {
				p.From = r.From + i*maxPer
				p.Until = min(p.From+maxPer, r.Until)
			}
			s := (home - int(n-1-i)%slots + slots) % slots
			out = append(out, task{index: len(out), r: p, slot: s, home: s == home})
		}
	}
	return out
}

// runSlot runs a slot's tasks in order with the slot's consumer and stores
// their stats in stats[t.index].
func (e *Executor) runSlot(ctx context.Context, s *slot, job Job, ts []task, stats []TaskStats) (err error) {
	defer func() {
		// A panicking decoder or sink fails the batch, not the process. The
		// reader marks the partition it was reading stale, so the slot's
		// consumer stays usable.
		if p := recover(); p != nil {
			e.log.Error("batch: task panicked", "batch", job.BatchID, "slot", s.index, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("batch %d: slot %d: panic: %v", job.BatchID, s.index, p)
		}
	}()
	if s.reader == nil {
		rr, err := kafka.NewRangeReader(e.cfg.Props, kafka.ReaderConfig{
			FailOnDataLoss: e.cfg.FailOnDataLoss,
			StallTimeout:   e.cfg.StallTimeout,
			Logger:         e.log,
		})
		if err != nil {
			return fmt.Errorf("batch %d: slot %d: %w", job.BatchID, s.index, err)
		}
		s.reader = rr
	}
	// Let the consumer prefetch the partitions this slot reads next where
	// it already is; pause the others (their prefetch would be dropped).
	var keep []offsets.TopicPartition
	seen := map[offsets.TopicPartition]bool{}
	for _, t := range ts {
		tp := t.r.TopicPartition()
		if seen[tp] {
			continue
		}
		seen[tp] = true
		if pos, ok := s.reader.Position(tp); ok && pos == t.r.From {
			keep = append(keep, tp)
		}
	}
	if err := s.reader.Keep(keep); err != nil {
		return fmt.Errorf("batch %d: slot %d: %w", job.BatchID, s.index, err)
	}
	for _, t := range ts {
		st, err := e.runTask(ctx, s, job, t)
		if err != nil {
			return fmt.Errorf("batch %d: task %d %s: %w", job.BatchID, t.index, t.r, err)
		}
		stats[t.index] = st
		if !t.home {
			// A piece of a split range: another slot owns the partition.
			if err := s.reader.Release(t.r.TopicPartition()); err != nil {
				return fmt.Errorf("batch %d: task %d %s: %w", job.BatchID, t.index, t.r, err)
			}
		}
	}
	return nil
}

// runTask reads t.r into a fresh decoder and hands its records to a fresh
// sink.
func (e *Executor) runTask(ctx context.Context, s *slot, job Job, t task) (st TaskStats, err error) {
	start := time.Now()
	st = TaskStats{Index: t.index, Slot: s.index, Range: t.r}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	dec, err := job.NewDecoder()
	if err != nil {
		return st, fmt.Errorf("new decoder: %w", err)
	}
	defer dec.Release()
	sink, err := job.NewSink(TaskInfo{Index: t.index, Range: t.r})
	if err != nil {
		return st, fmt.Errorf("new sink: %w", err)
	}

	flush := func() error {
		rec := dec.Flush()
		if rec == nil {
			return nil
		}
		defer rec.Release()
		st.Rows += rec.NumRows()
		t0 := time.Now()
		err := sink.Consume(rec)
		st.Sink += time.Since(t0)
		if err != nil {
			return fmt.Errorf("sink: %w", err)
		}
		return nil
	}
	var meta dataframe.RecordMeta
	rows := e.cfg.RowsPerRecord
	readStart := time.Now()
	rs, err := s.reader.Read(ctx, t.r, func(r *kafka.Record) error {
		meta.Topic, meta.Partition, meta.Offset, meta.Timestamp, meta.Key = r.Topic, r.Partition, r.Offset, r.Timestamp, r.Key
		if err := dec.Append(&meta, r.Value); err != nil {
			return err
		}
		if dec.Len() >= rows {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	st.FetchDecode = time.Since(readStart) - st.Sink
	st.Records, st.Bytes, st.SkippedOffsets, st.Seeked = rs.Records, rs.Bytes, rs.SkippedOffsets, rs.Seeked
	ds := dec.Stats()
	st.Corrupt, st.Dropped = ds.Corrupt, ds.Dropped
	st.Wall = time.Since(start)
	return st, err
}

package batch

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"

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

// waves splits a slot's tasks, in (topic, partition, from) order, into the
// reads it makes: the first task of every partition, then the second of
// those with several, and so on. A partition has several tasks in a slot
// only when a range is split into more pieces than there are slots.
func waves(ts []task) [][]task {
	var out [][]task
	k := 0
	for i, t := range ts {
		k++
		if i == 0 || ts[i-1].r.TopicPartition() != t.r.TopicPartition() {
			k = 0
		}
		if k == len(out) {
			out = append(out, nil)
		}
		out[k] = append(out[k], t)
	}
	return out
}

// runSlot runs a slot's tasks: its goroutine reads them with the slot's
// consumer, all at once (in waves when a partition has several), into the
// slot's pipeline, whose goroutine decodes them and stores their stats in
// stats[t.index].
func (e *Executor) runSlot(ctx context.Context, s *slot, job Job, ts []task, stats []taskStats, budget *atomic.Int64) (err error) {
	defer func() {
		// Decoders and sinks run on the pipeline's goroutine, which has its
		// own recover; this one is for the reads. The reader marks the
		// partition it was reading stale, so the slot's consumer stays
		// usable.
		if p := recover(); p != nil {
			e.log.Error("batch: slot panicked", "batch", job.BatchID, "slot", s.index, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("batch %d: slot %d: panic: %v", job.BatchID, s.index, p)
		}
	}()
	if s.reader == nil {
		// Size the consumer's pre-fetch queue to the partitions the slot
		// reads (the job's over the slots): see kafka.ScalePrefetch.
		parts := map[offsets.TopicPartition]bool{}
		for _, r := range job.Ranges {
			parts[r.TopicPartition()] = true
		}
		perSlot := (len(parts) + len(e.slots) - 1) / len(e.slots)
		rr, err := kafka.NewRangeReader(kafka.ScalePrefetch(e.cfg.Props, perSlot), kafka.ReaderConfig{
			FailOnDataLoss: e.cfg.FailOnDataLoss,
			StallTimeout:   e.cfg.stallTimeout,
			Logger:         e.log,
		})
		if err != nil {
			return fmt.Errorf("batch %d: slot %d: %w", job.BatchID, s.index, err)
		}
		s.reader = rr
	}
	// Let the consumer prefetch the partitions this slot reads next where
	// it already is; pause the others (their prefetch would be dropped).
	// A partition's ranges are in offset order and contiguous: keep the
	// partition from its first range's From to its last range's Until.
	var keep []offsets.OffsetRange
	at := map[offsets.TopicPartition]int{}
	for _, t := range ts {
		tp := t.r.TopicPartition()
		if i, ok := at[tp]; ok {
			keep[i].Until = max(keep[i].Until, t.r.Until)
			continue
		}
		at[tp] = len(keep)
		keep = append(keep, t.r)
	}
	kept := keep[:0]
	for _, r := range keep {
		if pos, ok := s.reader.Position(r.TopicPartition()); ok && pos == r.From {
			kept = append(kept, r)
		}
	}
	keep = kept
	if err := s.reader.Keep(keep); err != nil {
		return fmt.Errorf("batch %d: slot %d: %w", job.BatchID, s.index, err)
	}
	if len(ts) == 0 {
		return nil
	}
	p := e.newPipeline(ctx, s, job, stats, budget)
	defer p.close()
	for _, wave := range waves(ts) {
		failed, err := p.readWave(s.reader, wave)
		t := wave[failed]
		for _, w := range wave {
			if err == nil && !w.home {
				// A piece of a split range: another slot owns the
				// partition.
				t, err = w, s.reader.Release(w.r.TopicPartition())
			}
		}
		if err != nil {
			// The pipeline's error, if any, is at an earlier offset or
			// the cause of this one.
			if perr := p.close(); perr != nil {
				return perr
			}
			return taskError(job, t, err)
		}
	}
	return p.close()
}

package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// The event-time watermark, as Spark computes it: after batch N,
// wm = max(wm, maxEventTime(batch N) - delayThreshold); batch N+1 uses it.
// It starts at 0 (the epoch), never goes back and is unchanged by a batch
// without event times. A batch's plan carries the watermark it uses
// (Meta.Watermark), so a re-run drops and emits exactly what the first
// run did; its commit record carries it too, with the batch's greatest
// event time (Meta.Extra[extraMaxEventTime], µs), from which a restart
// computes the next watermark (never below the committed one, so a
// smaller delayThreshold moves it on and a larger one never back).
//
// A windowed aggregation in append or update mode closes the windows
// that end by the batch's watermark: append emits them, then both evict
// them from the state in the batch's commit. When the watermark has moved
// since the last batch and no data arrives, a batch without input runs to
// do so (Spark's noDataMicroBatches).

// WatermarkPolicy is how the watermark combines the partitions' event
// times.
type WatermarkPolicy uint8

// The watermark policies.
const (
	// GlobalWatermark follows the greatest event time over all partitions
	// (Spark's only policy).
	GlobalWatermark WatermarkPolicy = iota
	// PerPartitionWatermark follows the least, over the partitions that
	// hold it, of each partition's greatest event time: a partition holds
	// it when it has had data and has a backlog (it lags) or had records
	// within IdleTimeout. When none holds it, the greatest over all.
	PerPartitionWatermark
)

// ParseWatermarkPolicy reads "global" or "perPartition" (any case).
func ParseWatermarkPolicy(s string) (WatermarkPolicy, error) {
	switch {
	case s == "" || strings.EqualFold(s, "global"):
		return GlobalWatermark, nil
	case strings.EqualFold(s, "perPartition"):
		return PerPartitionWatermark, nil
	}
	return 0, fmt.Errorf("watermark policy %q (want global or perPartition)", s)
}

// Watermark tunes a query's watermark; the event-time column and the
// delay are the query's (DataFrame.WithWatermark).
type Watermark struct {
	// Policy: see WatermarkPolicy. Default GlobalWatermark.
	Policy WatermarkPolicy
	// IdleTimeout is how long a partition without a backlog may go
	// without records before it stops holding a PerPartitionWatermark.
	// Default 1m; Off: at once.
	IdleTimeout time.Duration
	// FlushOnExit makes an AvailableNow query, before it returns, run a
	// batch that closes (append: emits) every window still open, its
	// watermark the last one's end. Default false: they stay in the
	// checkpoint for the next run.
	FlushOnExit bool
}

// extraMaxEventTime is the Meta.Extra name of a batch's greatest event
// time, in microseconds since the epoch.
const extraMaxEventTime = "maxEventTime"

// wmState is the driver's watermark bookkeeping (zero: the query has no
// watermark).
type wmState struct {
	on    bool
	delay time.Duration
	// perPartition: the policy is PerPartitionWatermark, parts each
	// partition's event times as of the last commit (by "topic-partition").
	perPartition bool
	idle         time.Duration
	parts        map[string]partitionEventTime
	// next is the watermark the next batch uses; used is the one the last
	// committed batch used.
	next, used time.Time
	// ahead, while a batch is planned ahead of the one being finished,
	// is the watermark that batch uses: the one after the current batch,
	// which depends only on the current batch's input (read already).
	ahead *time.Time
}

// newWMState returns the watermark of a query resuming after last (nil:
// none committed).
func newWMState(prog *dataframe.Program, last *checkpoint.CommitRecord, opts Watermark) wmState {
	_, delay, ok := prog.Watermark()
	if !ok {
		return wmState{}
	}
	w := wmState{on: true, delay: delay, next: time.UnixMicro(0).UTC(), used: time.UnixMicro(0).UTC(),
		perPartition: opts.Policy == PerPartitionWatermark, idle: opts.IdleTimeout}
	if last == nil {
		return w
	}
	if w.perPartition {
		if raw, ok := last.Meta.Extra[extraPartitions]; ok && json.Unmarshal(raw, &w.parts) == nil {
			if !last.Meta.Watermark.IsZero() {
				w.used = last.Meta.Watermark.UTC()
			}
			w.next = w.partitionWatermark(w.used, w.parts, last.Meta.ProcessingTime)
			return w
		}
	}
	if !last.Meta.Watermark.IsZero() {
		w.used = last.Meta.Watermark.UTC()
	}
	var et dataframe.EventTimeStats
	if raw, ok := last.Meta.Extra[extraMaxEventTime]; ok && json.Unmarshal(raw, &et.Max) == nil {
		et.Count = 1
	}
	w.next = dataframe.NextWatermark(w.used, et, delay)
	return w
}

// noDataBatchDue reports whether a batch without input is to run: the
// watermark moved since the last batch, and the query closes windows.
func (d *driver) noDataBatchDue() bool {
	return d.wm.on && d.q.prog.Windowed() && d.q.mode != dataframe.Complete && d.wm.next.After(d.wm.used)
}

// idleWatermark is the PerPartitionWatermark's watermark at now when a
// plan reads nothing (no partition has a backlog, so none lags): the
// partitions that went without records for the idle timeout since the
// last commit no longer hold it. It reports whether that moves the
// watermark the next batch uses, so that a batch without input runs to
// close the windows it ends, as a batch with data would have.
func (d *driver) idleWatermark(now time.Time) (time.Time, bool) {
	if !d.wm.on || !d.wm.perPartition || len(d.wm.parts) == 0 {
		return time.Time{}, false
	}
	// as a batch without input observes them: none lags
	parts := d.wm.observe(checkpoint.BatchPlan{}, nil, nil)
	wm := d.wm.partitionWatermark(d.wm.next, parts, now)
	return wm, wm.After(d.wm.next)
}

// flushWatermark returns the watermark that closes every window still
// open (the latest end), when Watermark.FlushOnExit asks for it and one
// is open past the next watermark.
func (d *driver) flushWatermark() (time.Time, bool) {
	if !d.q.cfg.Watermark.FlushOnExit || !d.wm.on || d.state == nil || !d.q.prog.Windowed() || d.q.mode == dataframe.Complete {
		return time.Time{}, false
	}
	end, ok := d.state.LastOpenWindowEnd()
	if !ok || !end.After(d.wm.next) {
		return time.Time{}, false
	}
	return end, true
}

// batchEventTimes gathers what a batch's tasks saw of the event time and
// dropped as late.
func batchEventTimes(tasks []indexedTask) (et dataframe.EventTimeStats, dropped int64) {
	for _, t := range tasks {
		et.Add(t.task.EventTimes())
		dropped += t.task.RowsDroppedByWatermark()
	}
	return et, dropped
}

// withMaxEventTime returns m with the batch's greatest event time in its
// Extra (a copy: the plan's map is not changed).
func withMaxEventTime(m checkpoint.Meta, et dataframe.EventTimeStats) checkpoint.Meta {
	extra := maps.Clone(m.Extra)
	if extra == nil {
		extra = map[string]json.RawMessage{}
	}
	if et.Count == 0 {
		delete(extra, extraMaxEventTime)
	} else {
		extra[extraMaxEventTime], _ = json.Marshal(et.Max)
	}
	if len(extra) == 0 {
		extra = nil
	}
	m.Extra = extra
	return m
}

// EventTimeProgress is a batch's event-time summary (Spark's eventTime
// block): the least, greatest and mean event time of its rows, and the
// watermark it used.
type EventTimeProgress struct {
	Min       time.Time `json:"min"`
	Max       time.Time `json:"max"`
	Avg       time.Time `json:"avg"`
	Watermark time.Time `json:"watermark"`
}

func eventTimeProgress(et dataframe.EventTimeStats, wm time.Time) *EventTimeProgress {
	p := &EventTimeProgress{Watermark: wm.UTC()}
	if et.Count > 0 {
		p.Min = time.UnixMicro(et.Min).UTC()
		p.Max = time.UnixMicro(et.Max).UTC()
		p.Avg = time.UnixMicro(int64(et.Sum / float64(et.Count))).UTC()
	}
	return p
}

// extraPartitions is the Meta.Extra name of the per-partition event times
// (PerPartitionWatermark), a JSON object by "topic-partition".
const extraPartitions = "partitionEventTimes"

// partitionEventTime is what PerPartitionWatermark keeps of a partition:
// its greatest event time (µs), the processing time of the last batch
// that read records of it, and whether that batch left it a backlog.
type partitionEventTime struct {
	Max     int64     `json:"max"`
	Seen    time.Time `json:"seen"`
	Lagging bool      `json:"lagging,omitempty"`
}

// observe returns the partitions' event times after plan's batch, whose
// tasks saw what they saw: a new map, w.parts unchanged until the commit.
// A partition lags when the latest offset known at planning is past the
// batch's end (unknown for a recovered batch: not lagging; none in a
// batch without input).
func (w *wmState) observe(plan checkpoint.BatchPlan, latest map[offsets.TopicPartition]int64, tasks []indexedTask) map[string]partitionEventTime {
	parts := maps.Clone(w.parts)
	if parts == nil {
		parts = map[string]partitionEventTime{}
	}
	if len(plan.Ranges) == 0 {
		// A batch without input: no partition had a backlog at planning.
		for k, p := range parts {
			p.Lagging = false
			parts[k] = p
		}
	}
	seen := map[string]bool{}
	for _, t := range tasks {
		et := t.task.EventTimes()
		if et.Count == 0 {
			continue
		}
		k := t.tp.String()
		p, had := parts[k]
		if !had || et.Max > p.Max {
			p.Max = et.Max
		}
		p.Seen = plan.Meta.ProcessingTime.UTC()
		parts[k] = p
		seen[k] = true
	}
	for tp, end := range plan.Ends {
		k := tp.String()
		p, had := parts[k]
		if !had {
			continue // never had data: holds nothing
		}
		l, ok := latest[tp]
		p.Lagging = ok && l > end
		parts[k] = p
	}
	for _, tp := range plan.Gone {
		delete(parts, tp.String())
	}
	return parts
}

// partitionWatermark is PerPartitionWatermark's watermark after a batch
// processed at now: the least greatest event time of the partitions that
// hold it (lagging, or with records within the idle timeout), minus the
// delay; the greatest of all when none holds it; never below wm.
func (w *wmState) partitionWatermark(wm time.Time, parts map[string]partitionEventTime, now time.Time) time.Time {
	var et dataframe.EventTimeStats
	held := false
	var least int64
	for _, p := range parts {
		et.Add(dataframe.EventTimeStats{Min: p.Max, Max: p.Max, Count: 1})
		if p.Lagging || now.Sub(p.Seen) < w.idle {
			if !held || p.Max < least {
				least = p.Max
			}
			held = true
		}
	}
	if held {
		et.Max = least
	}
	return dataframe.NextWatermark(wm, et, w.delay)
}

// withPartitions returns m with the partitions' event times in its Extra.
func withPartitions(m checkpoint.Meta, parts map[string]partitionEventTime) checkpoint.Meta {
	extra := maps.Clone(m.Extra)
	if extra == nil {
		extra = map[string]json.RawMessage{}
	}
	extra[extraPartitions], _ = json.Marshal(parts) // plain values always marshal
	m.Extra = extra
	return m
}

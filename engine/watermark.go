package engine

import (
	"encoding/json"
	"maps"
	"time"

	"github.com/microbatch/microbatch/dataframe"
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

// extraMaxEventTime is the Meta.Extra name of a batch's greatest event
// time, in microseconds since the epoch.
const extraMaxEventTime = "maxEventTime"

// wmState is the driver's watermark bookkeeping (zero: the query has no
// watermark).
type wmState struct {
	on    bool
	delay time.Duration
	// next is the watermark the next batch uses; used is the one the last
	// committed batch used.
	next, used time.Time
}

// newWMState returns the watermark of a query resuming after last (nil:
// none committed).
func newWMState(prog *dataframe.Program, last *checkpoint.CommitRecord) wmState {
	_, delay, ok := prog.Watermark()
	if !ok {
		return wmState{}
	}
	w := wmState{on: true, delay: delay, next: time.UnixMicro(0).UTC(), used: time.UnixMicro(0).UTC()}
	if last == nil {
		return w
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

package engine

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// Backpressure adapts each batch's size to the rate the query processes
// records at: Spark Streaming's spark.streaming.backpressure.* settings,
// with its PID rate estimator. The estimated rate, in records per second
// over all partitions, is split across the partitions in proportion to
// their lag and never exceeds a partition's MaxRatePerPartition.
//
// Unlike Spark, the rate is updated on the driver when a batch commits,
// before the next batch is planned (a batch read ahead was planned before
// its predecessor committed, and uses the rate of the one before); the
// first batch is always bounded (InitialRate, or else
// MaxRatePerPartition: New refuses backpressure with neither); and the
// rate a batch was planned with is in its write-ahead entry, which a
// restart resumes from.
type Backpressure struct {
	// Enabled turns it on (spark.streaming.backpressure.enabled). Default
	// false.
	Enabled bool
	// InitialRate is the rate, in records per second over all partitions,
	// of the batches before the estimator has one
	// (spark.streaming.backpressure.initialRate). Default none: those
	// batches are capped by MaxRatePerPartition alone.
	InitialRate int64
	// Proportional, Integral and Derived are the PID controller's gains
	// (spark.streaming.backpressure.pid.proportional, .integral,
	// .derived). Defaults 1.0, 0.2 and 0; Off: 0.
	Proportional, Integral, Derived float64
	// MinRate is the lowest rate the estimator sets, in records per second
	// (spark.streaming.backpressure.pid.minRate). Default 100.
	MinRate float64
}

func (b Backpressure) resolved() Backpressure {
	b.Proportional = setting(b.Proportional, 1) // Off: 0
	b.Integral = setting(b.Integral, 0.2)
	b.Derived = setting(b.Derived, 0)
	if b.MinRate == 0 {
		b.MinRate = 100
	}
	return b
}

// check refuses what New must: a negative minimum rate or initial rate,
// and backpressure that would leave the first batch unbounded.
func (b Backpressure) check(src *KafkaSource) error {
	if !b.Enabled {
		return nil
	}
	switch {
	case b.MinRate < 0:
		return &ConfigError{Field: "Backpressure.MinRate", Reason: fmt.Sprintf("%g is negative: the estimator's lowest rate must be above 0", b.MinRate)}
	case b.InitialRate < 0:
		return &ConfigError{Field: "Backpressure.InitialRate", Reason: fmt.Sprintf("%d is negative", b.InitialRate)}
	case b.InitialRate == 0 && src.MaxRatePerPartition <= 0:
		return &ConfigError{Field: "Backpressure.Enabled", Reason: "backpressure needs InitialRate or Source.MaxRatePerPartition: the first batch, before the estimator has a rate, would read everything"}
	}
	return nil
}

// pidEstimator is Spark's PIDRateEstimator: after each batch, a new rate
// from the rate the batch processed at (proportional term), the backlog
// its scheduling delay stands for (integral term) and the change of the
// error (derivative term).
type pidEstimator struct {
	interval      float64 // the batch interval, ms
	p, i, d, minR float64

	first       bool
	latestTime  float64 // ms
	latestRate  float64 // records/s
	latestError float64
}

func newPIDEstimator(b Backpressure, interval time.Duration) *pidEstimator {
	return &pidEstimator{interval: millis(interval), p: b.Proportional, i: b.Integral, d: b.Derived, minR: b.MinRate,
		first: true, latestTime: -1, latestRate: -1, latestError: -1}
}

// compute takes a batch that ended at time (ms) after reading elements
// records in processing, having started scheduling late. It returns the
// new rate, and false when it has none: the first batch only sets the
// processing rate as the reference, and a batch with no records, no
// processing time or no time since the last update changes nothing.
func (e *pidEstimator) compute(time float64, elements int64, processing, scheduling time.Duration) (float64, bool) {
	procMs := millis(processing)
	if time <= e.latestTime || elements <= 0 || procMs <= 0 {
		return 0, false
	}
	sinceUpdate := (time - e.latestTime) / 1000
	procRate := float64(elements) / procMs * 1000
	err := e.latestRate - procRate
	// The records the scheduling delay stands for, spread over a batch
	// interval: a backlog the rate must also work off.
	historical := millis(scheduling) * procRate / e.interval
	dErr := (err - e.latestError) / sinceUpdate
	rate := max(e.latestRate-e.p*err-e.i*historical-e.d*dErr, e.minR)
	e.latestTime = time
	if e.first {
		e.latestRate, e.latestError, e.first = procRate, 0, false
		return 0, false
	}
	e.latestRate, e.latestError = rate, err
	return rate, true
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rateExtra is the Meta.Extra name of the backpressure rate a batch was
// planned with (records per second over all partitions).
const rateExtra = "backpressureRate"

// backpressureRate is the rate in m, 0 if none.
func backpressureRate(m checkpoint.Meta) float64 {
	var r float64
	if raw, ok := m.Extra[rateExtra]; ok {
		_ = json.Unmarshal(raw, &r) // a malformed value is no rate
	}
	return r
}

// planRate is the backpressure rate the next batch is planned with: the
// estimator's latest, or else the initial rate; 0 when off.
func (d *driver) planRate() float64 {
	bp := &d.q.cfg.Backpressure
	switch {
	case !bp.Enabled:
		return 0
	case d.rate > 0:
		return d.rate
	}
	return float64(bp.InitialRate)
}

// updateRate feeds a committed batch to the estimator.
func (d *driver) updateRate(p *Progress, end time.Time) {
	if d.pid == nil {
		return
	}
	if r, ok := d.pid.compute(float64(end.UnixMicro())/1000, p.NumInputRows, p.Durations.Total, p.SchedulingDelay); ok {
		d.rate = r
	}
}

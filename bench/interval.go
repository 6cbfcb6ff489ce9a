package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
)

// IntervalResult is the processingTime scenario: records produced at a
// steady rate below capacity while the engine runs on a fixed interval.
// Scheduling delay is how late a batch started after its interval
// boundary (boundaries counted from the first batch).
type IntervalResult struct {
	IntervalMs          float64 `json:"interval_ms"`
	DurationSec         float64 `json:"duration_sec"`
	InputRate           float64 `json:"input_msgs_per_sec"`
	MaxRatePerPartition int64   `json:"max_rate_per_partition"`
	Batches             int     `json:"batches"`
	ExpectedBatches     int     `json:"expected_batches"`
	SchedDelayP50Ms     float64 `json:"sched_delay_p50_ms"`
	SchedDelayP99Ms     float64 `json:"sched_delay_p99_ms"`
	SchedDelayMaxMs     float64 `json:"sched_delay_max_ms"`
	// SchedDelaySlopeMs is the least-squares slope of the delay over batch
	// index (ms per batch): about 0 when the delay does not grow.
	SchedDelaySlopeMs float64 `json:"sched_delay_slope_ms_per_batch"`
	// GapExcess is the time between consecutive batch starts minus the
	// interval: 0 when batches keep the cadence, > 0 after an overrun or a
	// late start (a multiple of the interval when empty batches ran between).
	GapExcessP50Ms      float64            `json:"gap_excess_p50_ms"`
	GapExcessP99Ms      float64            `json:"gap_excess_p99_ms"`
	GapExcessMaxMs      float64            `json:"gap_excess_max_ms"`
	BatchP50Ms          float64            `json:"batch_p50_ms"`
	BatchP99Ms          float64            `json:"batch_p99_ms"`
	Overruns            int                `json:"overruns"` // batches longer than the interval
	DriverOverheadP50Ms float64            `json:"driver_overhead_p50_ms"`
	LagFirst            int64              `json:"lag_first"`
	LagLast             int64              `json:"lag_last"`
	LagMax              int64              `json:"lag_max"`
	Rows                int64              `json:"rows"`
	PhaseP50Ms          map[string]float64 `json:"phase_p50_ms"`
	// StartsMs are the batch start times, ms after the first.
	StartsMs []float64 `json:"batch_starts_ms"`
}

// intervalScenario produces at cfg.rate for the duration while the engine
// runs the click query with a processingTime trigger.
func intervalScenario(ctx context.Context, cfg *config) error {
	if cfg.duration <= 0 {
		cfg.duration = max(15*time.Second, 12*cfg.interval)
	}
	res := &Result{Scenario: "interval", Partitions: cfg.partitions, Format: cfg.format, OutputMode: cfg.outputMode.String(), Keys: cfg.keys,
		Runs: 1, GOMAXPROCS: runtime.GOMAXPROCS(0), Started: time.Now().UTC()}
	cl, err := startCluster(cfg.brokers)
	if err != nil {
		return err
	}
	defer cl.close()
	if cfg.topic == "" {
		cfg.topic = fmt.Sprintf("bench-interval-%d", time.Now().UnixNano())
	}
	if err := cl.createTopic(ctx, cfg.topic, cfg.partitions); err != nil {
		return err
	}
	recs, err := newRecords(cfg.seed, cfg.keys, cfg.format)
	if err != nil {
		return err
	}
	// Cap batches at twice the input: the cap never holds data back, so
	// lag and delay come from the engine alone.
	maxRate := int64(math.Ceil(2 * cfg.rate / float64(cfg.partitions)))
	if cfg.maxRate >= 0 {
		maxRate = cfg.maxRate
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var (
		wg   sync.WaitGroup
		ps   produceStats
		perr error
	)
	wg.Add(1)
	go func() { // the producer: owned here, stops at runCtx's end
		defer wg.Done()
		ps, perr = cl.produce(runCtx, cfg.topic, cfg.partitions, math.MaxInt64, cfg.rate, recs)
	}()
	logf("interval %s: producing %.0f msgs/s for %s, maxRatePerPartition %d", cfg.interval, cfg.rate, cfg.duration, maxRate)
	stopProf, err := startProfile(cfg.cpuProfile)
	if err != nil {
		cancel()
		wg.Wait()
		return err
	}
	er, err := runEngine(runCtx, engineOptions{addr: cl.addr, topic: cfg.topic, format: cfg.format, outputMode: cfg.outputMode, maxRate: maxRate,
		executors: cfg.executors, noSync: cfg.noSync, props: cfg.engProps, processingTime: cfg.interval})
	stopProf()
	cancel()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if perr != nil {
		return perr
	}
	ir := summariseInterval(er, cfg.interval)
	ir.DurationSec = cfg.duration.Seconds()
	ir.InputRate = float64(ps.records) / ps.elapsed.Seconds()
	ir.MaxRatePerPartition = maxRate
	ir.ExpectedBatches = int(cfg.duration / cfg.interval)
	res.Interval = ir
	res.Messages = ps.records
	res.MessageBytes = int(ps.bytes / max(ps.records, 1))
	res.MaxRatePerPartition = maxRate
	res.EngineBatches = ir.Batches
	res.BatchP50Ms, res.BatchP99Ms = ir.BatchP50Ms, ir.BatchP99Ms
	res.DriverOverheadP50Ms = ir.DriverOverheadP50Ms
	res.PeakRSSBytes = peakRSS()
	res.PeakRSSNote = "whole bench process: in-process kfake broker, producer and engine"
	res.LoadAvg = loadAvg()
	fmt.Printf("\ninterval %s for %s at %.0f msgs/s (%d partitions): %d batches (expected ~%d), sched delay p50 %.1f ms p99 %.1f ms max %.1f ms, slope %.3f ms/batch;\n"+
		"start gap - interval p50 %.1f ms p99 %.1f ms max %.1f ms; "+
		"batch p50 %.1f ms p99 %.1f ms, %d overruns, driver overhead p50 %.2f ms, lag first %d last %d max %d; load %s\n",
		cfg.interval, cfg.duration, ir.InputRate, cfg.partitions, ir.Batches, ir.ExpectedBatches, ir.SchedDelayP50Ms, ir.SchedDelayP99Ms,
		ir.SchedDelayMaxMs, ir.SchedDelaySlopeMs, ir.GapExcessP50Ms, ir.GapExcessP99Ms, ir.GapExcessMaxMs, ir.BatchP50Ms, ir.BatchP99Ms, ir.Overruns, ir.DriverOverheadP50Ms,
		ir.LagFirst, ir.LagLast, ir.LagMax, res.LoadAvg)
	fmt.Printf("phases p50 (ms): %s\n", formatPhases(ir.PhaseP50Ms))
	if cfg.jsonOut != "" {
		return writeJSON(cfg.jsonOut, res)
	}
	return nil
}

// summariseInterval computes scheduling delays from the batch start times.
func summariseInterval(er engineRun, interval time.Duration) *IntervalResult {
	ir := &IntervalResult{IntervalMs: ms(interval), Batches: len(er.StartedAt), Rows: er.Rows}
	ir.BatchP50Ms, ir.BatchP99Ms = percentile(er.BatchMs, 50), percentile(er.BatchMs, 99)
	ir.DriverOverheadP50Ms = percentile(er.OverheadMs, 50)
	ir.PhaseP50Ms = map[string]float64{}
	for k, v := range er.PhaseMs {
		ir.PhaseP50Ms[k] = percentile(v, 50)
	}
	for _, b := range er.BatchMs {
		if b > ms(interval) {
			ir.Overruns++
		}
	}
	delays := schedDelays(er.StartedAt, interval)
	ir.SchedDelayP50Ms, ir.SchedDelayP99Ms = percentile(delays, 50), percentile(delays, 99)
	for _, d := range delays {
		ir.SchedDelayMaxMs = max(ir.SchedDelayMaxMs, d)
	}
	ir.SchedDelaySlopeMs = slope(delays)
	for _, t := range er.StartedAt {
		ir.StartsMs = append(ir.StartsMs, ms(t.Sub(er.StartedAt[0])))
	}
	var gaps []float64
	for i := 1; i < len(er.StartedAt); i++ {
		g := ms(er.StartedAt[i].Sub(er.StartedAt[i-1]) - interval)
		gaps = append(gaps, g)
		ir.GapExcessMaxMs = max(ir.GapExcessMaxMs, g)
	}
	ir.GapExcessP50Ms, ir.GapExcessP99Ms = percentile(gaps, 50), percentile(gaps, 99)
	if len(er.Lag) > 0 {
		ir.LagFirst, ir.LagLast = er.Lag[0], er.Lag[len(er.Lag)-1]
		for _, l := range er.Lag {
			ir.LagMax = max(ir.LagMax, l)
		}
	}
	return ir
}

// schedDelays is, for every batch start, how far in ms it started after
// its interval boundary. The boundaries' phase is not known exactly (the
// first batch may itself start late), so each start's offset from
// starts[0] modulo the interval is taken in (-interval/2, interval/2] and
// the smallest offset is the boundary: delays are >= 0, and a delay that
// grows by more than half an interval wraps (the slope and the start gaps
// show that case). Batches that found no data are not reported by the
// engine, so boundaries are found by time, not by index.
func schedDelays(starts []time.Time, interval time.Duration) []float64 {
	if len(starts) == 0 || interval <= 0 {
		return nil
	}
	offs := make([]time.Duration, len(starts))
	lowest := time.Duration(0)
	for i, t := range starts {
		o := t.Sub(starts[0]) % interval
		if o > interval/2 {
			o -= interval
		}
		offs[i] = o
		lowest = min(lowest, o)
	}
	out := make([]float64, len(starts))
	for i, o := range offs {
		out[i] = ms(o - lowest)
	}
	return out
}

// slope is the least-squares slope of ys over their index.
func slope(ys []float64) float64 {
	n := float64(len(ys))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i, y := range ys {
		x := float64(i)
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

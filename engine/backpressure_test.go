package engine

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/offsets"
)

func defaultPID(interval time.Duration) *pidEstimator {
	return newPIDEstimator(Backpressure{Enabled: true}.resolved(), interval)
}

// The cases of Spark's PIDRateEstimatorSuite, in its terms: times in ms,
// a batch of elements processed in processing, started scheduling late.

func TestPIDFirstEstimateIsNone(t *testing.T) {
	e := defaultPID(20 * time.Millisecond)
	if r, ok := e.compute(10, 10, 10*time.Millisecond, 0); ok {
		t.Fatalf("first estimate = %v, want none", r)
	}
}

func TestPIDSecondEstimateIsNotNone(t *testing.T) {
	e := defaultPID(20 * time.Millisecond)
	e.compute(10, 10, 10*time.Millisecond, 0)
	if _, ok := e.compute(20, 10, 10*time.Millisecond, 0); !ok {
		t.Fatal("second estimate is none")
	}
}

func TestPIDNoEstimateWithoutTimeDifference(t *testing.T) {
	e := defaultPID(20 * time.Millisecond)
	e.compute(10, 10, 10*time.Millisecond, 0)
	if r, ok := e.compute(10, 10, 10*time.Millisecond, 0); ok {
		t.Fatalf("estimate at the same time = %v, want none", r)
	}
	if r, ok := e.compute(5, 10, 10*time.Millisecond, 0); ok {
		t.Fatalf("estimate at an earlier time = %v, want none", r)
	}
}

func TestPIDNoEstimateWithoutRecords(t *testing.T) {
	e := defaultPID(20 * time.Millisecond)
	e.compute(10, 10, 10*time.Millisecond, 0)
	for _, tm := range []float64{20, 30} {
		if r, ok := e.compute(tm, 0, 10*time.Millisecond, 0); ok {
			t.Fatalf("estimate after a batch of 0 records = %v, want none", r)
		}
	}
	// The batch without records did not move the reference time: the next
	// estimate still exists.
	if _, ok := e.compute(40, 10, 10*time.Millisecond, 0); !ok {
		t.Fatal("no estimate after records came back")
	}
}

func TestPIDNoEstimateWithoutProcessingTime(t *testing.T) {
	e := defaultPID(20 * time.Millisecond)
	e.compute(10, 10, 10*time.Millisecond, 0)
	if r, ok := e.compute(20, 10, 0, 0); ok {
		t.Fatalf("estimate after 0 ms of processing = %v, want none", r)
	}
}

func TestPIDNeverBelowMinRate(t *testing.T) {
	e := newPIDEstimator(Backpressure{Enabled: true, MinRate: 10}.resolved(), 20*time.Millisecond)
	e.compute(0, 1000, 10*time.Millisecond, 0) // 100k records/s
	// Processing slows down to 1 record per second: the proportional term
	// alone would drive the rate far below zero.
	for i := 1; i <= 10; i++ {
		r, ok := e.compute(float64(i*20), 1, time.Second, 2*time.Second)
		if !ok || r != 10 {
			t.Fatalf("estimate %d = %v (%v), want the minimum 10", i, r, ok)
		}
	}
}

// With no scheduling delay (no accumulated error) and P = 1, the estimate
// is the rate the last batch processed at.
func TestPIDFollowsProcessingSpeed(t *testing.T) {
	e := newPIDEstimator(Backpressure{Enabled: true, Proportional: 1, Integral: 1, Derived: Off}.resolved(), 20*time.Millisecond)
	elements := []int64{1000, 800, 600, 1200, 1000}
	e.compute(0, 1000, 20*time.Millisecond, 0)
	for i, n := range elements {
		r, ok := e.compute(float64((i+1)*20), n, 20*time.Millisecond, 0)
		want := float64(n) / 20 * 1000
		if !ok || math.Abs(r-want) > 1e-9 {
			t.Fatalf("estimate %d = %v (%v), want the processing rate %v", i, r, ok, want)
		}
	}
}

// A scheduling delay (a backlog) keeps the estimate below the processing
// rate, by integral x the records the delay stands for per interval.
func TestPIDStaysBelowProcessingSpeedWithBacklog(t *testing.T) {
	e := newPIDEstimator(Backpressure{Enabled: true, Proportional: 1, Integral: 1, Derived: Off}.resolved(), 20*time.Millisecond)
	e.compute(0, 1000, 20*time.Millisecond, 0)
	for i := 1; i <= 5; i++ {
		sched := time.Duration(i) * time.Millisecond
		r, ok := e.compute(float64(i*20), 1000, 20*time.Millisecond, sched)
		proc := 1000.0 / 20 * 1000
		want := proc - proc*float64(i)/20 // P=1 cancels the error; I=1 x historical error
		if !ok || math.Abs(r-want) > 1e-9 || r >= proc {
			t.Fatalf("estimate %d = %v (%v), want %v, below the processing rate %v", i, r, ok, want, proc)
		}
	}
}

// TestBackpressureConverges drives the estimator and the planner with a
// simulated clock: a topic of 4 partitions receiving 4,000 records/s, a
// 1 s trigger, Spark's default gains, and a sink costing 50 ms per batch
// plus 1 ms per record, so that 950 records/s is the most a batch can
// take within the interval. The first two batches run at the initial
// rate (the estimator's first batch only sets its reference, as Spark's),
// above what is sustainable, and leave a backlog of scheduling delay.
// Within maxStart batches, 20 batches in a row finish within the interval
// with no scheduling delay, with the rate within 15% of 950; every range
// starts where the partition's previous one ended.
func TestBackpressureConverges(t *testing.T) {
	for _, c := range []struct {
		initial  int64
		maxStart int
	}{
		{1200, 15}, // 26% over
		{2000, 20}, // twice what is sustainable: the backlog takes longer
	} {
		t.Run(strconv.FormatInt(c.initial, 10), func(t *testing.T) {
			if got := simulateBackpressure(t, c.initial); got < 0 || got > c.maxStart {
				t.Fatalf("20 batches in a row within the interval start at batch %d, want <= %d (-1: never)", got, c.maxStart)
			}
		})
	}
}

// simulateBackpressure returns the first batch of 20 in a row that meet
// TestBackpressureConverges' bar, -1 if none within 60 batches.
func simulateBackpressure(t *testing.T, initial int64) int {
	const (
		interval  = time.Second
		arrival   = 4000 // records per second into the topic
		perBatch  = 50 * time.Millisecond
		perRecord = time.Millisecond
		sustained = 950.0
	)
	parts := []offsets.TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}, {Topic: "t", Partition: 2}, {Topic: "t", Partition: 3}}
	bp := Backpressure{Enabled: true, InitialRate: initial}.resolved()
	pid := newPIDEstimator(bp, interval)
	start := map[offsets.TopicPartition]int64{}
	zero := map[offsets.TopicPartition]int64{}
	for _, tp := range parts {
		start[tp], zero[tp] = 0, 0
	}
	var now time.Duration // the simulated clock
	rate := float64(bp.InitialRate)
	streak := 0
	for batch := 0; batch < 60; batch++ {
		due := time.Duration(batch) * interval
		began := max(now, due)
		sched := began - due
		latest := map[offsets.TopicPartition]int64{}
		for i, tp := range parts {
			// A second of records waits at the start; partitions fill at
			// slightly different speeds.
			latest[tp] = int64((began + interval).Seconds() * arrival / 4 * (1 + 0.1*float64(i-1)))
		}
		planned := rate
		out, err := offsets.Plan(offsets.PlanInput{Partitions: parts, Start: start, Earliest: zero, Latest: latest,
			Interval: interval, Rate: rate, MinRatePerPartition: 1})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, r := range out.Ranges {
			tp := offsets.TopicPartition{Topic: r.Topic, Partition: r.Partition}
			if r.From != start[tp] {
				t.Fatalf("batch %d: %v does not start where %v ended (%d)", batch, r, tp, start[tp])
			}
			n += r.Until - r.From
		}
		for tp, end := range out.Ends {
			start[tp] = end
		}
		took := perBatch + time.Duration(n)*perRecord
		now = began + took
		if r, ok := pid.compute(float64(now)/float64(time.Millisecond), n, took, sched); ok {
			rate = r
		}
		t.Logf("batch %2d: rate %4.0f, %4d records, took %v, scheduling delay %v", batch, planned, n, took, sched)
		if took <= interval && sched == 0 && math.Abs(planned-sustained) <= 0.15*sustained {
			streak++
		} else {
			streak = 0
		}
		if streak == 20 {
			return batch - 19
		}
	}
	return -1
}

// costlySink sleeps perBatch plus perRecord for every record the batch read.
type costlySink struct{ perBatch, perRecord time.Duration }

func (s costlySink) AddBatch(ctx context.Context, out *Output) error {
	var n int64
	for _, r := range out.Ranges {
		n += r.Until - r.From
	}
	select {
	case <-time.After(s.perBatch + time.Duration(n)*s.perRecord):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestBackpressureWithSlowSink runs the engine against kfake with a sink
// that costs 20 ms per batch plus 0.1 ms per record read, a 200 ms trigger
// and a backlog: at most 1,800 records a batch, 9,000 records/s, fit the
// interval. The first batches, at the initial rate of 20,000 records/s,
// overrun it; the last ten are planned between 5x the minimum rate and
// 115% of 9,000/s (the engine's own time per batch, which a loaded
// machine under the race detector stretches, comes on top of the
// sink's), take at most 1.5 intervals and start at most an interval late
// on average, and every range starts where the previous one ended. The
// precise convergence is TestBackpressureConverges' (a simulated clock).
func TestBackpressureWithSlowSink(t *testing.T) {
	b, _ := clickTopic(t, 4, 60_000)
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), costlySink{20 * time.Millisecond, 100 * time.Microsecond})
	cfg.Trigger = Trigger{ProcessingTime: 200 * time.Millisecond}
	cfg.OutputMode = dataframe.Update
	cfg.Backpressure = Backpressure{Enabled: true, InitialRate: 20_000}
	const batches = 30 // the backlog lasts about 33
	var progress []Progress
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg.OnProgress = func(p Progress) {
		progress = append(progress, p)
		if len(progress) == batches {
			cancel()
		}
	}
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if len(progress) < batches {
		t.Fatalf("%d batches, want %d", len(progress), batches)
	}
	if progress[0].BackpressureRate != 20_000 || progress[0].NumInputRows != 4000 {
		t.Fatalf("batch 0 planned at %v records/s with %d rows, want the initial rate 20000: 4000 rows", progress[0].BackpressureRate, progress[0].NumInputRows)
	}
	// Bounds loose enough for a loaded machine running the race detector:
	// the engine's own time per batch, which comes on top of the sink's,
	// lowers the rate it can sustain; what must hold is that the rate
	// came down from the initial one to at most what the sink allows,
	// without collapsing to the minimum, and that the backlog stops
	// growing.
	var took, late time.Duration
	for _, p := range progress[batches-10 : batches] {
		t.Logf("batch %d: rate %.0f, %d rows, took %v, scheduling delay %v", p.BatchID, p.BackpressureRate, p.NumInputRows, p.Durations.Total, p.SchedulingDelay)
		if p.BackpressureRate < 500 || p.BackpressureRate > 1.15*9000 {
			t.Errorf("batch %d planned at %.0f records/s, want 500 (5x the minimum rate) to 10350", p.BatchID, p.BackpressureRate)
		}
		took += p.Durations.Total
		late += p.SchedulingDelay
	}
	if took/10 > 300*time.Millisecond || late/10 > 200*time.Millisecond {
		t.Errorf("the last 10 batches took %v and started %v late on average, want at most 1.5 and 1 intervals", took/10, late/10)
	}
	infos, err := q.Batches()
	if err != nil {
		t.Fatal(err)
	}
	pos := map[offsets.TopicPartition]int64{}
	for _, bi := range infos {
		for _, r := range bi.Plan.Ranges {
			if tp := r.TopicPartition(); r.From != pos[tp] {
				t.Fatalf("batch %d %v starts at %d, the previous range ended at %d", bi.Plan.ID, r, r.From, pos[tp])
			}
			pos[r.TopicPartition()] = r.Until
		}
	}
}

func TestBackpressureNeedsAFirstBound(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:1", "clicks", t.TempDir(), &collector{})
	cfg.Backpressure = Backpressure{Enabled: true}
	_, err := New(cfg)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "Backpressure.Enabled" ||
		ce.Reason != "backpressure needs InitialRate or Source.MaxRatePerPartition: the first batch, before the estimator has a rate, would read everything" {
		t.Fatalf("err = %v, want the refusal of backpressure without a first bound", err)
	}
	cfg.Source.MaxRatePerPartition = 100
	if _, err := New(cfg); err != nil {
		t.Fatalf("with maxRatePerPartition: %v", err)
	}
	cfg.Backpressure.MinRate = -1
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "Backpressure.MinRate") {
		t.Fatalf("negative MinRate: err = %v", err)
	}
}

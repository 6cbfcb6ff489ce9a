package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/microbatch/microbatch/internal/kafkatest"
)

// readAheadProbe records, through the failpoint hook, which batches were
// planned and started reading, and lets a sink wait until a batch's read
// has started.
type readAheadProbe struct {
	mu      sync.Mutex
	planned map[int64]bool
	read    map[int64]chan struct{}
}

func newReadAheadProbe() *readAheadProbe {
	return &readAheadProbe{planned: map[int64]bool{}, read: map[int64]chan struct{}{}}
}

func (p *readAheadProbe) readCh(id int64) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.read[id]
	if !ok {
		ch = make(chan struct{})
		p.read[id] = ch
	}
	return ch
}

func (p *readAheadProbe) failpoint(name string, id int64) {
	switch name {
	case fpAfterPlan:
		p.mu.Lock()
		p.planned[id] = true
		p.mu.Unlock()
	case fpMidFetch:
		ch := p.readCh(id)
		p.mu.Lock()
		select {
		case <-ch:
		default:
			close(ch)
		}
		p.mu.Unlock()
	}
}

func (p *readAheadProbe) wasPlanned(id int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.planned[id]
}

// waitRead reports whether batch id's executors decoded records within a
// generous time.
func (p *readAheadProbe) waitRead(id int64) bool {
	select {
	case <-p.readCh(id):
		return true
	case <-time.After(30 * time.Second):
		return false
	}
}

// batchStates renders the checkpoint's batches as "id:committed".
func batchStates(q *Query) (string, error) {
	infos, err := q.Batches()
	if err != nil {
		return "", err
	}
	s := ""
	for _, b := range infos {
		s += fmt.Sprintf("%d:%v ", b.Plan.ID, b.Committed)
	}
	return s, nil
}

// readAheadJob is a job of 4 batches (3 partitions of 1000 records, at
// most 300 each a batch) with a checked allocator and a probe.
type readAheadJob struct {
	b     *kafkatest.Broker
	cfg   Config
	sink  *collector
	probe *readAheadProbe
	want  map[string]int64
}

func newReadAheadJob(t *testing.T) *readAheadJob {
	b, want := clickTopic(t, 3, 3000)
	j := &readAheadJob{b: b, sink: &collector{}, probe: newReadAheadProbe(), want: want}
	j.cfg = testConfig(t, b.Addr, "clicks", t.TempDir(), j.sink)
	j.cfg.Allocator = checkedAlloc(t)
	j.cfg.Source.MaxRatePerPartition = 300
	j.cfg.failpoint = j.probe.failpoint
	return j
}

// finish runs the job to the end with the collector as its sink and checks
// that the sink saw 4 batches over every run, with exact counts.
func (j *readAheadJob) finish(t *testing.T) {
	t.Helper()
	j.cfg.Sink, j.cfg.failpoint = j.sink, nil
	q := runQuery(t, j.cfg)
	if got := len(j.sink.all()); got != 4 {
		t.Fatalf("%d batches emitted, want 4", got)
	}
	sameCounts(t, countsOf(t, j.sink.last(t).rows), j.want)
	checkContiguous(t, q, j.b.EndOffsets(t, "clicks"))
}

// run makes the job's Query into *q, which its hooks may use, and runs
// it (at most two minutes).
func (j *readAheadJob) run(t *testing.T, q **Query) error {
	t.Helper()
	var err error
	if *q, err = New(j.cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return (*q).Run(ctx)
}

// With an availableNow trigger, batch 1 is planned and read while batch 0
// is in its sink, before batch 0 is committed; batch 1's plan is not in
// the checkpoint until batch 0 is committed; the counts are exact.
func TestReadAheadOverlapsFinish(t *testing.T) {
	j := newReadAheadJob(t)
	var q *Query
	var sinkErrs []string
	j.cfg.Sink = SinkFunc(func(ctx context.Context, out *Output) error {
		if out.BatchID == 0 {
			if !j.probe.waitRead(1) {
				sinkErrs = append(sinkErrs, "batch 1 was not read while batch 0 was in its sink")
			}
			if got, err := batchStates(q); err != nil || got != "0:false " {
				sinkErrs = append(sinkErrs, fmt.Sprintf("checkpoint during batch 0's sink with batch 1 read ahead: %q (%v), want \"0:false \"", got, err))
			}
		}
		return j.sink.AddBatch(ctx, out)
	})
	if err := j.run(t, &q); err != nil {
		t.Fatal(err)
	}
	for _, e := range sinkErrs {
		t.Error(e)
	}
	j.finish(t) // nothing left: checks the first run's batches
}

// A stop requested while batch 1 is read ahead: requested before batch
// 0's commit began (when batch 1 is planned, or from batch 0's sink, which
// returns before the commit begins), the run ends after batch 0 commits,
// batch 1 leaves no trace in the checkpoint and what it read is released;
// requested inside batch 0's commit, batch 1's plan is durable with that
// commit, so batch 1 is finished too and nothing is left pending. Either
// way the next run goes on and the counts are exact.
func TestStopDropsReadAhead(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		at         string // where the stop is requested: a failpoint of batch 1, 0, or "sink"
	}{
		{"at-plan", "0:true ", fpAfterPlan},
		{"in-sink", "0:true ", "sink"},
		{"in-commit", "0:true 1:true ", fpBeforeCommit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newReadAheadJob(t)
			var q *Query
			j.cfg.failpoint = func(name string, id int64) {
				j.probe.failpoint(name, id)
				if (name == fpAfterPlan && id == 1 || name == fpBeforeCommit && id == 0) && name == tc.at {
					q.Stop()
				}
			}
			readAhead := false
			j.cfg.Sink = SinkFunc(func(ctx context.Context, out *Output) error {
				readAhead = j.probe.waitRead(1)
				if tc.at == "sink" {
					q.Stop()
				}
				return j.sink.AddBatch(ctx, out)
			})
			if err := j.run(t, &q); err != nil {
				t.Fatal(err)
			}
			j.checkStopped(t, q, readAhead, tc.want)
		})
	}
}

// A batch that fails (here its sink) cancels the read ahead of the next
// one and releases it; batch 0 stays pending and the restart re-runs it.
func TestFailedBatchDropsReadAhead(t *testing.T) {
	j := newReadAheadJob(t)
	errSink := errors.New("sink down")
	readAhead := false
	j.cfg.Sink = SinkFunc(func(ctx context.Context, out *Output) error {
		readAhead = j.probe.waitRead(1)
		return errSink
	})
	var q *Query
	if err := j.run(t, &q); !errors.Is(err, errSink) {
		t.Fatalf("Run: %v, want the sink's error", err)
	}
	j.checkStopped(t, q, readAhead, "0:false ")
}

// checkStopped checks a run that ended while batch 1 was read ahead: it
// was, and the checkpoint holds what want says ("id:committed " each);
// then it finishes the job.
func (j *readAheadJob) checkStopped(t *testing.T, q *Query, readAhead bool, want string) {
	t.Helper()
	if !readAhead {
		t.Fatal("batch 1 was not read while batch 0 was in its sink")
	}
	if got, err := batchStates(q); err != nil || got != want {
		t.Fatalf("checkpoint after the run: %q (%v), want %q", got, err, want)
	}
	j.finish(t)
}

// A processingTime trigger reads the next batch ahead only when its
// trigger is due: with an interval of an hour, batch 1 is not planned
// while batch 0 finishes.
func TestReadAheadWaitsForTrigger(t *testing.T) {
	j := newReadAheadJob(t)
	j.cfg.Trigger = Trigger{ProcessingTime: time.Hour}
	var q *Query
	planned1 := true
	j.cfg.Sink = SinkFunc(func(ctx context.Context, out *Output) error {
		// Long enough for a read ahead, which would have been planned
		// before the sink was called, to have shown.
		time.Sleep(100 * time.Millisecond)
		planned1 = j.probe.wasPlanned(1)
		q.Stop()
		return nil
	})
	if err := j.run(t, &q); err != nil {
		t.Fatal(err)
	}
	if planned1 {
		t.Fatal("batch 1 was planned while batch 0 finished, an hour before its trigger")
	}
}

// Every read ahead's context ends with its read, taken or dropped: none
// stays registered on the run's work context (one per batch, for as long
// as the run lasts, before the fix). It looks into context's cancelCtx,
// and skips if that changed.
func TestReadAheadContextsEnd(t *testing.T) {
	j := newReadAheadJob(t)
	j.cfg.failpoint = nil
	q, err := New(j.cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := q.newDriver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	workCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := d.loop(context.Background(), workCtx); err != nil {
		t.Fatal(err)
	}
	if d.nextID != 4 {
		t.Fatalf("%d batches, want 4", d.nextID)
	}
	v := reflect.ValueOf(workCtx)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		t.Skipf("context.WithCancel returned a %T", workCtx)
	}
	children := v.Elem().FieldByName("children")
	if !children.IsValid() || children.Kind() != reflect.Map {
		t.Skip("context's cancelCtx has no children map")
	}
	if n := children.Len(); n != 0 {
		t.Fatalf("%d read-ahead contexts still registered on the work context after the run", n)
	}
}

// A processingTime trigger whose batches overrun their interval reads the
// next batch ahead: it is planned before the batch before it reports its
// progress (the probe's failpoint; a timing comparison, FetchWait against
// FetchDecode, failed on a loaded machine), and the counts are exact.
func TestReadAheadOnOverrun(t *testing.T) {
	j := newReadAheadJob(t)
	j.cfg.Trigger = Trigger{ProcessingTime: time.Millisecond} // every batch overruns
	// The cap is per second of interval, as in Spark: 300 records per
	// partition a batch again.
	j.cfg.Source.MaxRatePerPartition = 300_000
	var q *Query
	var mu sync.Mutex
	var progress []Progress
	ahead := 0
	j.cfg.OnProgress = func(p Progress) {
		mu.Lock()
		progress = append(progress, p)
		if p.BatchID < 3 && j.probe.wasPlanned(p.BatchID+1) {
			ahead++
		}
		if len(progress) == 4 {
			q.Stop()
		}
		mu.Unlock()
	}
	if err := j.run(t, &q); err != nil {
		t.Fatal(err)
	}
	if len(progress) != 4 || ahead != 3 {
		t.Fatalf("%d batches, %d of batches 1-3 planned ahead; want 4, all 3", len(progress), ahead)
	}
	sameCounts(t, countsOf(t, j.sink.last(t).rows), j.want)
	checkContiguous(t, q, j.b.EndOffsets(t, "clicks"))
}

package engine

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The query id survives a restart (the checkpoint's metadata file); the
// run id does not. Progress names the source and sink, and the status
// says the query is stopped with no batch in flight.
func TestProgressIdentityAndStatus(t *testing.T) {
	b, _ := clickTopic(t, 2, 200)
	dir := t.TempDir()
	cfg := testConfig(t, b.Addr, "clicks", dir, &collector{})
	cfg.Source.MaxRatePerPartition = 60
	var progress []Progress
	cfg.OnProgress = func(p Progress) { progress = append(progress, p) }
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := q.Status(); s.Running || s.BatchInFlight != -1 || s.ID != "" {
		t.Fatalf("status before Run: %+v", s)
	}
	q = runQuery(t, cfg)
	if len(progress) != 2 {
		t.Fatalf("%d batches, want 2 (100 per partition capped at 60)", len(progress))
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	first := progress[0]
	if !uuid.MatchString(first.ID) || !uuid.MatchString(first.RunID) || first.ID == first.RunID {
		t.Fatalf("id %q run id %q: want two distinct UUIDs", first.ID, first.RunID)
	}
	meta, err := os.ReadFile(filepath.Join(dir, "metadata"))
	if err != nil || !strings.Contains(string(meta), first.ID) {
		t.Fatalf("metadata file %q (%v) lacks the id %s", meta, err, first.ID)
	}
	if first.Source != "KafkaV2[Subscribe[clicks]]" || first.Sink != "*engine.collector" || !first.Stateful || first.RateLimitPerPartition != 60 {
		t.Fatalf("progress describes source %q sink %q stateful %v rate %d", first.Source, first.Sink, first.Stateful, first.RateLimitPerPartition)
	}
	var rows int64
	for _, s := range first.Sources {
		rows += s.NumInputRows
		if s.NumInputRows != s.EndOffset-s.StartOffset {
			t.Fatalf("partition %+v: rows are not its range", s)
		}
	}
	if rows != first.NumInputRows || rows != 120 {
		t.Fatalf("partition rows sum to %d, batch has %d, want 120", rows, first.NumInputRows)
	}
	if s := q.Status(); s.Running || s.BatchInFlight != -1 || s.LastError != "" || s.ID != first.ID || s.RunID != first.RunID {
		t.Fatalf("status after Run: %+v", s)
	}

	more, _ := clicks(20, 2, 900)
	b.Produce(t, "clicks", more)
	progress = nil
	runQuery(t, cfg)
	if len(progress) != 1 || progress[0].ID != first.ID || progress[0].RunID == first.RunID {
		t.Fatalf("restart: %d batches, id %q run %q; want the id %q and a new run id", len(progress), progress[0].ID, progress[0].RunID, first.ID)
	}
}

// A batch triggered late (the one before overran the interval) has a
// scheduling delay; one on time has none.
func TestSchedulingDelay(t *testing.T) {
	b, _ := clickTopic(t, 1, 60)
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), SinkFunc(func(_ context.Context, o *Output) error {
		if o.BatchID == 0 {
			time.Sleep(350 * time.Millisecond) // overruns the 200 ms interval
		}
		return nil
	}))
	cfg.Source.MaxRatePerPartition = 100 // 20 records a 200 ms batch: 3 batches
	cfg.Trigger = Trigger{ProcessingTime: 200 * time.Millisecond}
	var progress []Progress
	var q *Query
	cfg.OnProgress = func(p Progress) {
		progress = append(progress, p)
		if len(progress) == 3 {
			q.Stop()
		}
	}
	runFor(t, cfg, &q)
	if len(progress) != 3 {
		t.Fatalf("%d batches, want 3", len(progress))
	}
	// Batch 1 was due at 200 ms and triggered after batch 0's 350 ms;
	// batch 2 is due (and triggered) at 400 ms.
	d0, d1, d2 := progress[0].SchedulingDelay, progress[1].SchedulingDelay, progress[2].SchedulingDelay
	if d0 > 20*time.Millisecond || d1 < 140*time.Millisecond || d1 > 400*time.Millisecond || d2 > 50*time.Millisecond {
		t.Fatalf("scheduling delays %v %v %v, want about 0, 150 ms, 0", d0, d1, d2)
	}
	if progress[1].TriggerInterval != 200*time.Millisecond {
		t.Fatalf("trigger interval %v", progress[1].TriggerInterval)
	}
}

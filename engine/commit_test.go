package engine

import (
	"context"
	"testing"
	"time"

	"github.com/microbatch/microbatch/internal/kafkatest"
)

// A sink that reads the checkpoint (as the state and offsets commands do
// from another process) is not held back by the batch's commit, which is
// open while the sink runs: the snapshot lock is left while the commit
// waits for the output (it was held, and the read waited 30 s for it).
func TestSinkReadsCheckpointDuringCommit(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1})
	recs, want := clicks(100, 1, 0)
	b.Produce(t, "clicks", recs)
	var q *Query
	var took time.Duration
	var seen []string
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), ForEachBatch(func(ctx context.Context, out *Output) error {
		time.Sleep(200 * time.Millisecond) // the commit is waiting for the output
		start := time.Now()
		infos, err := q.Batches()
		took = time.Since(start)
		for _, bi := range infos {
			seen = append(seen, bi.Plan.Ranges[0].String()+map[bool]string{true: " committed", false: " planned"}[bi.Committed])
		}
		return err
	}))
	cfg.Allocator = checkedAlloc(t)
	var err error
	if q, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := q.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if took > 5*time.Second {
		t.Fatalf("reading the checkpoint in the sink took %s", took)
	}
	if len(seen) != 1 || seen[0] != "clicks-0[0,100) planned" {
		t.Fatalf("the sink saw %v, want batch 0 planned, not committed", seen)
	}
	rec, err := q.State()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	sameCounts(t, countsOf(t, recordRows(rec)), want)
}

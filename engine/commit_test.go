package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// A sink that reads the checkpoint (as the state and offsets commands do
// from another process) is not held back by the batch's commit: the commit
// transaction begins only once the sink has returned, and the sink sees
// its batch planned, not committed.
func TestSinkReadsCheckpointDuringCommit(t *testing.T) {
	b, want := clickTopic(t, 1, 100)
	var q *Query
	var took time.Duration
	var seen []string
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), ForEachBatch(func(ctx context.Context, out *Output) error {
		time.Sleep(200 * time.Millisecond) // a slow sink
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

// A write-ahead that fails inside a commit fails the commit, which is
// rolled back, and the error says it was the read-ahead batch's plan.
func TestCommitNamesFailedWriteAhead(t *testing.T) {
	ckpt, err := checkpoint.Open(t.TempDir(), checkpoint.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ckpt.Close()
	tp := offsets.TopicPartition{Topic: "clicks", Partition: 0}
	plan := func(id, from, until int64) checkpoint.BatchPlan {
		return checkpoint.BatchPlan{ID: id, Ranges: []offsets.OffsetRange{{Topic: "clicks", Partition: 0, From: from, Until: until}},
			Ends: map[offsets.TopicPartition]int64{tp: until}}
	}
	if err := ckpt.WriteAhead(plan(0, 0, 10)); err != nil {
		t.Fatal(err)
	}
	d := &driver{q: &Query{}, ckpt: ckpt}
	wrong := plan(2, 10, 20) // batch 0's commit can write ahead batch 1 only
	err = d.commit(checkpoint.CommitRecord{ID: 0, InputRows: 10}, nil, nil, &Output{BatchID: 0}, &wrong)
	const want = "the batch read ahead: write-ahead of batch 2: batch id out of order: the next batch is 1"
	if err == nil || err.Error() != want || !errors.Is(err, checkpoint.ErrBatchOrder) {
		t.Fatalf("commit error %v, want %q wrapping ErrBatchOrder", err, want)
	}
	pending, err := ckpt.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if pending == nil || pending.ID != 0 {
		t.Fatalf("pending %+v after the failed commit, want batch 0 still pending", pending)
	}
}

// Metadata and offsets requests are retried FetchOffsetNumRetries times,
// FetchOffsetRetryInterval apart; a data loss is not retried.
func TestWithRetry(t *testing.T) {
	d := func(retries int) *driver {
		return &driver{q: &Query{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), cfg: Config{
			Source: KafkaSource{FetchOffsetNumRetries: retries, FetchOffsetRetryInterval: time.Millisecond}}.resolved()}}
	}
	down := errors.New("broker down")
	for _, tc := range []struct {
		retries   int
		failFirst int // attempts that fail before one succeeds
		err       error
		calls     int
		want      string
	}{
		{retries: 2, failFirst: 10, err: down, calls: 3, want: "planning failed 3 times (fetchOffset.numRetries 2): broker down"},
		{retries: 2, failFirst: 2, err: down, calls: 3, want: "<nil>"},
		{retries: 0, failFirst: 10, err: down, calls: 4, want: "planning failed 4 times (fetchOffset.numRetries 3): broker down"}, // 0: the default
		{retries: Off, failFirst: 10, err: down, calls: 1, want: "broker down"},
		{retries: 2, failFirst: 10, err: &offsets.DataLossError{Topic: "t", From: 1, Until: 2}, calls: 1,
			want: "data loss on t-0: offsets [1, 2) are no longer available: offsets are below the partition's log start offset (deleted by retention?); set failOnDataLoss: false to skip them"},
	} {
		calls := 0
		err := d(tc.retries).withRetry(context.Background(), "planning", func() error {
			calls++
			if calls <= tc.failFirst {
				return tc.err
			}
			return nil
		})
		if calls != tc.calls || fmt.Sprint(err) != tc.want {
			t.Errorf("retries %d, failing %d: %d calls, %v; want %d calls, %s", tc.retries, tc.failFirst, calls, err, tc.calls, tc.want)
		}
	}
}

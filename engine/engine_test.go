package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

func TestCountsAcrossBatchesAndRestart(t *testing.T) {
	b, want := clickTopic(t, 3, 3000)

	dir := t.TempDir()
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", dir, sink)
	cfg.Allocator = checkedAlloc(t)
	cfg.Source.MaxRatePerPartition = 300 // 1000 records per partition => 4 batches of <= 300
	var progress []Progress
	cfg.OnProgress = func(p Progress) { progress = append(progress, p) }
	q := runQuery(t, cfg)

	if len(progress) != 4 {
		t.Fatalf("%d batches, want 4 (1000 offsets per partition capped at 300)", len(progress))
	}
	wantRows := []int64{900, 900, 900, 300}
	for i, p := range progress {
		if p.BatchID != int64(i) || p.NumInputRows != wantRows[i] {
			t.Fatalf("batch %d: id %d rows %d, want id %d rows %d", i, p.BatchID, p.NumInputRows, i, wantRows[i])
		}
	}
	if last := progress[3]; last.TotalLag() != 0 || len(last.Sources) != 3 || last.Sources[2].EndOffset != 1000 {
		t.Fatalf("last progress sources %+v, want 3 partitions ending at 1000 with no lag", last.Sources)
	}
	sameCounts(t, countsOf(t, sink.last(t).rows), want)
	checkContiguous(t, q, b.EndOffsets(t, "clicks"))

	// More data, a restart from the checkpoint: counts accumulate, batch ids
	// continue, nothing is read twice.
	more, wantMore := clicks(600, 3, 5000)
	b.Produce(t, "clicks", more)
	addCounts(want, wantMore)
	progress = nil
	cfg.Source.MaxRatePerPartition = 0 // operational settings may change between runs
	q = runQuery(t, cfg)
	if len(progress) != 1 || progress[0].BatchID != 4 || progress[0].NumInputRows != 600 {
		t.Fatalf("restart: progress %+v, want one batch 4 of 600 rows", progress)
	}
	sameCounts(t, countsOf(t, sink.last(t).rows), want)
	checkContiguous(t, q, b.EndOffsets(t, "clicks"))

	// A long stop: 3000 records pile up. The first batch after it is capped
	// like any other (Spark's backpressure once let it through uncapped).
	backlog, wantBacklog := clicks(3000, 3, 9000)
	b.Produce(t, "clicks", backlog)
	addCounts(want, wantBacklog)
	progress = nil
	cfg.Source.MaxRatePerPartition = 400
	q = runQuery(t, cfg)
	if len(progress) != 3 || progress[0].BatchID != 5 || progress[0].NumInputRows != 1200 || progress[0].TotalLag() != 1800 {
		t.Fatalf("after a long stop: %d batches, first %+v; want 3 batches, the first (id 5) capped at 3x400 rows with lag 1800", len(progress), progress[0])
	}
	sameCounts(t, countsOf(t, sink.last(t).rows), want)
	checkContiguous(t, q, b.EndOffsets(t, "clicks"))

	// The checkpoint's state equals the last complete output.
	rec, err := q.State()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	sameCounts(t, countsOf(t, recordRows(rec)), want)
}

// A global aggregate (no GROUP BY) has one group with an empty key; it
// commits, and a restart restores it (its first version failed every
// commit: the checkpoint keeps no empty key).
func TestGlobalAggregateAcrossRestart(t *testing.T) {
	b, _ := clickTopic(t, 2, 1000)
	schema, _ := pageViews(t)
	df := dataframe.Source("events", schema).GroupBy().
		Agg(dataframe.Count().As("n"), dataframe.Max(dataframe.Col("userid")).As("last"))
	sink := &collector{}
	cfg := baseConfig(schema, df, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Allocator = checkedAlloc(t)
	cfg.Source.MaxRatePerPartition = 200 // 500 records per partition => 3 batches
	runQuery(t, cfg)
	more, _ := clicks(100, 2, 1000)
	b.Produce(t, "clicks", more)
	q := runQuery(t, cfg)
	var outs []string
	for _, c := range sink.all() {
		outs = append(outs, fmt.Sprint(c.rows))
	}
	if got := strings.Join(outs, " "); got != "[[400 u96]] [[800 u96]] [[1000 u96]] [[1100 u96]]" {
		t.Fatalf("outputs %s, want counts 400, 800, 1000 then 1100 after the restart", got)
	}
	checkContiguous(t, q, b.EndOffsets(t, "clicks"))
	rec, err := q.State()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if got := fmt.Sprint(recordRows(rec)); got != "[[1100 u96]]" {
		t.Fatalf("checkpoint state %s, want [[1100 u96]]", got)
	}
}

func TestUpdateModeEmitsChangedGroups(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1})
	b.Produce(t, "clicks", []kafkatest.Record{
		{Value: []byte(`{"page":"/a","action":"view"}`)},
		{Value: []byte(`{"page":"/b","action":"view"}`)},
	})
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.OutputMode = dataframe.Update
	cfg.Allocator = checkedAlloc(t)
	runQuery(t, cfg)
	b.Produce(t, "clicks", []kafkatest.Record{{Value: []byte(`{"page":"/b","action":"view"}`)}})
	runQuery(t, cfg)
	got := sink.all()
	if len(got) != 2 {
		t.Fatalf("%d batches, want 2", len(got))
	}
	if fmt.Sprint(got[0].rows) != "[[/a 1] [/b 1]]" || fmt.Sprint(got[1].rows) != "[[/b 2]]" {
		t.Fatalf("update outputs %v then %v, want [[/a 1] [/b 1]] then [[/b 2]]", got[0].rows, got[1].rows)
	}
}

func TestIncompatibleQueryIsRefused(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	dir := t.TempDir()
	cfg := testConfig(t, b.Addr, "clicks", dir, &collector{})
	runQuery(t, cfg)

	cfg.Query = dataframe.Source("events", cfg.Schema).GroupBy(dataframe.Col("action")).Agg(dataframe.Count().As("n"))
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = q.Run(context.Background())
	if !errors.Is(err, checkpoint.ErrIncompatible) {
		t.Fatalf("Run with a changed query: %v, want ErrIncompatible", err)
	}
	if !strings.Contains(err.Error(), "query") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("error %q does not say that the query changed in %s", err, dir)
	}
}

func TestSecondRunnerFailsAtOnce(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	dir := t.TempDir()
	cfg := testConfig(t, b.Addr, "clicks", dir, &collector{})
	cfg.Trigger = Trigger{ProcessingTime: 50 * time.Millisecond}
	q1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- q1.Run(ctx) }()
	// q1 holds the checkpoint once it has committed its first batch.
	waitFor(t, func() bool { _, ok := q1.LastProgress(); return ok })

	q2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	err = q2.Run(ctx2)
	var le *checkpoint.LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second Run: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	if ctx2.Err() != nil {
		t.Fatal("second Run waited for the lock instead of failing at once")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("first Run: %v", err)
	}
}

func TestNewPartitionsArePickedUpAtEarliest(t *testing.T) {
	b, want := clickTopic(t, 1, 100)
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Trigger = Trigger{ProcessingTime: 100 * time.Millisecond}
	cfg.Allocator = checkedAlloc(t)
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	waitFor(t, func() bool { p, ok := q.LastProgress(); return ok && p.Sources[0].EndOffset == 100 })

	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := b.Admin(t).CreatePartitions(ctx2, "clicks", 3); err != nil {
		t.Fatal(err)
	}
	more, wantMore := clicks(90, 3, 1000) // partitions 0, 1, 2
	b.Produce(t, "clicks", more)
	addCounts(want, wantMore)
	waitFor(t, func() bool {
		p, ok := q.LastProgress()
		if !ok || len(p.Sources) != 3 {
			return false
		}
		return p.Sources[0].EndOffset == 130 && p.Sources[1].EndOffset == 30 && p.Sources[2].EndOffset == 30
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sameCounts(t, countsOf(t, sink.last(t).rows), want)
	checkContiguous(t, q, b.EndOffsets(t, "clicks"))
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A malformed record under FAILFAST fails the run with an error that names
// the batch once, the task's range and the record's offset, and leaves the
// batch planned, not committed.
func TestFailFastNamesRecord(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1})
	b.Produce(t, "clicks", []kafkatest.Record{
		{Value: []byte(`{"page":"/a","action":"view"}`)},
		{Value: []byte(`{"page":"/b","action":`)},
		{Value: []byte(`{"page":"/c","action":"view"}`)},
	})
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), &collector{})
	cfg.Allocator = checkedAlloc(t)
	cfg.Mode = dataframe.FailFast
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = q.Run(ctx)
	var me *dataframe.MalformedRecordError
	const prefix = "batch 0: task 0 clicks-0[0,3): malformed record at clicks-0 offset 1: "
	if err == nil || !strings.HasPrefix(err.Error(), prefix) || !errors.As(err, &me) || me.Offset != 1 {
		t.Fatalf("Run: %v, want an error starting %q", err, prefix)
	}
	infos, err := q.Batches()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Committed {
		t.Fatalf("batches %+v, want batch 0 planned and not committed", infos)
	}
}

// A subscribed topic that does not exist is logged once, with the closest
// topic that does; so is a pattern that matches none. The query reads what
// exists.
func TestMissingTopicIsLogged(t *testing.T) {
	b, want := clickTopic(t, 1, 10)
	warnings := func(cfg Config) string {
		var logs bytes.Buffer
		cfg.Logger = warnLogger(&logs)
		cfg.Source.PartitionDiscoveryInterval = time.Millisecond // discover at every plan
		runQuery(t, cfg)
		return logs.String()
	}
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Allocator = checkedAlloc(t)
	cfg.Source.Subscribe = []string{"clicks", "clickz"}
	cfg.Source.MaxRatePerPartition = 4 // 3 batches
	got := warnings(cfg)
	const topic = `level=WARN msg="subscribed topic does not exist: the query reads it once it is created" query=test topic=clickz did_you_mean=clicks` + "\n"
	if got != topic {
		t.Fatalf("logged\n%s\nwant\n%s", got, topic)
	}
	sameCounts(t, countsOf(t, sink.last(t).rows), want)

	cfg = testConfig(t, b.Addr, "clicks", t.TempDir(), &collector{})
	cfg.Source.Subscribe, cfg.Source.SubscribePattern = nil, "^orders-.*"
	const pattern = `level=WARN msg="subscribePattern matches no topic: the query reads the topics it matches once they are created" query=test pattern=^orders-.*` + "\n"
	if got := warnings(cfg); got != pattern {
		t.Fatalf("logged\n%s\nwant\n%s", got, pattern)
	}
}

// A starting offset past its partition's end is data loss, as in Spark:
// with failOnDataLoss the run fails before planning; without, the
// partition starts at its end (not at its log start, as a recreated one
// would), reading nothing from before the offset asked for.
func TestStartingOffsetPastEnd(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Source.StartingOffsets = `{"clicks":{"0":1000}}`
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = q.Run(context.Background())
	if want := "data loss: startingOffsets gives clicks-0 offset 1000, past its end offset 10; set failOnDataLoss: false to start it at its end"; err == nil || err.Error() != want || !errors.Is(err, offsets.ErrDataLoss) {
		t.Fatalf("Run: %v, want %s", err, want)
	}

	cfg.CheckpointLocation = t.TempDir()
	cfg.Source.OnDataLoss = SkipDataLoss
	runQuery(t, cfg)
	if n := len(sink.all()); n != 0 {
		t.Fatalf("%d batches before new records, want 0", n)
	}
	more, want := clicks(5, 1, 10)
	b.Produce(t, "clicks", more)
	var progress []Progress
	cfg.OnProgress = func(p Progress) { progress = append(progress, p) }
	runQuery(t, cfg)
	if len(progress) != 1 || progress[0].NumInputRows != 5 || progress[0].SkippedOffsets != 0 || progress[0].Sources[0].StartOffset != 10 {
		t.Fatalf("progress %+v, want one batch of the 5 new records from offset 10, nothing skipped", progress)
	}
	sameCounts(t, countsOf(t, sink.last(t).rows), want)

	// Under read_committed (the default) an offset past the last stable
	// offset but within the log is behind an open transaction: refused as
	// such, not as data loss, whatever failOnDataLoss says.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.TransactionalID("open-tx"), kgo.DefaultProduceTopic("clicks"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // offsets 15, 16, 17; the last stable offset stays 15
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(`{"page":"/open"}`)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cfg.CheckpointLocation = t.TempDir()
	cfg.Source.StartingOffsets = `{"clicks":{"0":17}}`
	if q, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	err = q.Run(ctx)
	if want := "startingOffsets gives clicks-0 offset 17, past its last stable offset 15: the offsets between are in an open transaction; start at or below 15, or once the transaction ends"; err == nil || err.Error() != want {
		t.Fatalf("Run inside an open transaction: %v, want %s", err, want)
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}

// A batch recovered after a failure reports its lag like any other.
func TestRecoveredBatchReportsLag(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	errSink := errors.New("sink down")
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), ForEachBatch(func(context.Context, *Output) error { return errSink }))
	cfg.Source.MaxRatePerPartition = 4 // batch 0 is [0,4)
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Run(context.Background()); !errors.Is(err, errSink) {
		t.Fatalf("first run: %v, want the sink's error", err)
	}
	cfg.Sink = &collector{}
	var progress []Progress
	cfg.OnProgress = func(p Progress) { progress = append(progress, p) }
	runQuery(t, cfg)
	var got []string
	for _, p := range progress {
		got = append(got, fmt.Sprintf("%d:%v:%d", p.BatchID, p.Recovered, p.TotalLag()))
	}
	if want := "0:true:6 1:false:2 2:false:0"; strings.Join(got, " ") != want {
		t.Fatalf("batches (id:recovered:lag) %s, want %s", strings.Join(got, " "), want)
	}
}

// An availableNow run stopped before the end says how many offsets it
// left, since it returns without an error.
func TestAvailableNowStoppedEarlyIsLogged(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	var q *Query
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), ForEachBatch(func(context.Context, *Output) error {
		q.Stop() // batch 0, before its commit: batch 1, read ahead, is dropped
		return nil
	}))
	cfg.Source.MaxRatePerPartition = 3
	var logs bytes.Buffer
	cfg.Logger = warnLogger(&logs)
	var err error
	if q, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if err := q.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := `level=WARN msg="stopped before the data available at start was processed" query=test offsets_left=7 next_batch=1` + "\n"; logs.String() != want {
		t.Fatalf("logged\n%s\nwant\n%s", logs.String(), want)
	}
}

// At debug level the logger gets one line per committed batch, and no
// other line about it; at info, none.
func TestDebugLogsEachBatch(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), &collector{})
	cfg.Source.MaxRatePerPartition = 4 // batches [0,4) [4,8) [8,10)
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	runQuery(t, cfg)
	var got []string
	for _, m := range regexp.MustCompile(`msg="batch committed" query=test batch=(\d+) rows=(\d+) output_rows=\d+ took=\S+ lag=(\d+)`).FindAllStringSubmatch(logs.String(), -1) {
		got = append(got, m[1]+":"+m[2]+":"+m[3])
	}
	if want := "0:4:6 1:4:2 2:2:0"; strings.Join(got, " ") != want {
		t.Fatalf("batch lines (batch:rows:lag) %v, want %s; log:\n%s", got, want, logs.String())
	}
	if n := strings.Count(logs.String(), " batch="); n != 3 {
		t.Fatalf("%d lines name a batch, want 3; log:\n%s", n, logs.String())
	}

	logs.Reset()
	cfg = testConfig(t, b.Addr, "clicks", t.TempDir(), &collector{})
	cfg.Source.MaxRatePerPartition = 4
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	runQuery(t, cfg)
	if strings.Contains(logs.String(), "batch committed") {
		t.Fatalf("at info, a batch line was logged:\n%s", logs.String())
	}
}

// TestDataLoss deletes offsets [50,80) of a partition whose next batch
// starts at 50. The loss is found either by the planner (a run that starts
// after the deletion lists the log start offsets) or by the executor that
// fetches the range (the deletion happens after the batch was planned):
// both report the same.
func TestDataLoss(t *testing.T) {
	for _, fail := range []bool{true, false} {
		for _, found := range []string{"plan", "fetch"} {
			t.Run(fmt.Sprintf("failOnDataLoss=%v/found-at-%s", fail, found), func(t *testing.T) {
				testDataLoss(t, fail, found == "fetch")
			})
		}
	}
}

func testDataLoss(t *testing.T, fail, atFetch bool) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1})
	recs, _ := clicks(100, 1, 0)
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Allocator = checkedAlloc(t)
	if !fail {
		cfg.Source.OnDataLoss = SkipDataLoss
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tp := offsets.TopicPartition{Topic: "clicks", Partition: 0}
	lose := func() {
		if err := b.Admin(t).DeleteRecords(ctx, tp, 80); err != nil {
			t.Error(err)
		}
	}
	want := map[string]int64{}
	if atFetch {
		// The run starts at 50; its first batch is planned as [50,100),
		// then the records are deleted.
		b.Produce(t, "clicks", recs)
		cfg.Source.StartingOffsets = `{"clicks":{"0":50}}`
		cfg.failpoint = func(name string, id int64) {
			if name == fpAfterPlan && id == 0 {
				lose()
			}
		}
	} else {
		b.Produce(t, "clicks", recs[:50])
		runQuery(t, cfg) // committed up to 50
		_, want = clicks(50, 1, 0)
		b.Produce(t, "clicks", recs[50:])
		lose()
	}
	var progress []Progress
	cfg.OnProgress = func(p Progress) { progress = append(progress, p) }
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = q.Run(ctx)
	if fail {
		var dl *offsets.DataLossError
		if !errors.As(err, &dl) || dl.Topic != "clicks" || dl.Partition != 0 || dl.From != 50 || dl.Until != 80 {
			t.Fatalf("Run: %v, want DataLossError clicks-0 [50,80)", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != 1 || progress[0].SkippedOffsets != 30 || progress[0].NumInputRows != 20 {
		t.Fatalf("progress %+v, want one batch of 20 rows with 30 skipped offsets", progress)
	}
	tail := map[string]int64{}
	for _, r := range recs[80:] {
		if strings.Contains(string(r.Value), `"view"`) {
			page := strings.Split(strings.Split(string(r.Value), `"page":"`)[1], `"`)[0]
			tail[page]++
		}
	}
	addCounts(want, tail)
	sameCounts(t, countsOf(t, sink.last(t).rows), want)
}

// TestTransactionGaps reads a topic whose offsets include transaction
// markers and aborted records: under read_committed the batch ends at the
// last stable offset without hanging and counts only committed records.
func TestTransactionGaps(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 2})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.TransactionalID("tx-test"), kgo.DefaultProduceTopic("clicks"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want := map[string]int64{}
	for txn := 0; txn < 6; txn++ {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		commit := txn%3 != 1
		recs, views := clicks(20, 2, txn*100)
		for _, r := range recs {
			res := cl.ProduceSync(ctx, &kgo.Record{Partition: r.Partition, Value: r.Value})
			if err := res.FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			addCounts(want, views)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Allocator = checkedAlloc(t)
	cfg.Source.MaxRatePerPartition = 7 // batches end inside and after transactions
	q := runQuery(t, cfg)
	sameCounts(t, countsOf(t, sink.last(t).rows), want)
	// 6 transactions x 10 records + 6 markers per partition = 66 offsets.
	checkContiguous(t, q, map[offsets.TopicPartition]int64{{Topic: "clicks", Partition: 0}: 66, {Topic: "clicks", Partition: 1}: 66})
}

func TestStartingOffsetsLatestIsResolvedOnce(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1})
	old, _ := clicks(40, 1, 0)
	b.Produce(t, "clicks", old)
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Source.StartingOffsets = "latest"
	runQuery(t, cfg) // nothing new: no batch, but the start (40) is recorded
	if n := len(sink.all()); n != 0 {
		t.Fatalf("%d batches emitted with no new data, want 0", n)
	}
	recs, want := clicks(25, 1, 300)
	b.Produce(t, "clicks", recs)
	runQuery(t, cfg)
	sameCounts(t, countsOf(t, sink.last(t).rows), want)
}

func TestAppendModeStatelessQuery(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 2})
	recs, _ := clicks(50, 2, 0)
	b.Produce(t, "clicks", recs)
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Allocator = checkedAlloc(t)
	cfg.Query = dataframe.Source("events", cfg.Schema).
		Filter(dataframe.Col("page").Eq(dataframe.Lit("/home"))).
		Select(dataframe.Col("userid"), dataframe.Col("_partition"), dataframe.Col("_offset"))
	q := runQuery(t, cfg)
	if q.OutputMode() != dataframe.Append {
		t.Fatalf("mode %v, want append", q.OutputMode())
	}
	var want []string
	for p := 0; p < 2; p++ {
		off := 0
		for i, r := range recs {
			if int(r.Partition) != p {
				continue
			}
			if strings.Contains(string(r.Value), `"page":"/home"`) {
				want = append(want, fmt.Sprintf("[u%d %d %d]", i%97, p, off))
			}
			off++
		}
	}
	var got []string
	for _, row := range sink.last(t).rows {
		got = append(got, fmt.Sprint(row))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("append output\n got %v\nwant %v", got, want)
	}
	if _, err := q.State(); !errors.Is(err, ErrStateless) {
		t.Fatalf("State of a stateless query: %v", err)
	}
}

// LIMIT in append mode holds over the whole stream, as in Spark: across
// batches and restarts, not per batch. The commit records count the rows
// each batch output and the stream's total.
func TestAppendLimitHoldsAcrossBatches(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Allocator = checkedAlloc(t)
	cfg.Query = dataframe.Source("events", cfg.Schema).Select(dataframe.Col("_offset")).Limit(4)
	cfg.Source.MaxRatePerPartition = 3 // batches [0,3) [3,6) [6,9) [9,10)
	runQuery(t, cfg)
	more, _ := clicks(5, 1, 10)
	b.Produce(t, "clicks", more)
	cfg.Source.MaxRatePerPartition = 0
	q := runQuery(t, cfg)
	var outs []string
	for _, c := range sink.all() {
		outs = append(outs, fmt.Sprint(c.rows))
	}
	if got, want := strings.Join(outs, " "), "[[0] [1] [2]] [[3]] [] [] []"; got != want {
		t.Fatalf("outputs %s, want %s (4 rows in all)", got, want)
	}
	infos, err := q.Batches()
	if err != nil {
		t.Fatal(err)
	}
	var recsOut []string
	for _, bi := range infos {
		recsOut = append(recsOut, fmt.Sprintf("%d:%d/%d", bi.Plan.ID, bi.Commit.OutputRows, bi.Commit.Meta.EmittedRows))
	}
	if got, want := strings.Join(recsOut, " "), "0:3/3 1:1/4 2:0/4 3:0/4 4:0/4"; got != want {
		t.Fatalf("commit records (id:output/emitted) %s, want %s", got, want)
	}

	// A batch that fails in its sink is re-run with the same count: its
	// output is the same, and the total is not counted twice.
	var failed bool
	sink = &collector{}
	cfg.Sink = SinkFunc(func(ctx context.Context, out *Output) error {
		if out.BatchID == 1 && !failed {
			failed = true
			return errors.New("sink down")
		}
		return sink.AddBatch(ctx, out)
	})
	cfg.CheckpointLocation = t.TempDir()
	cfg.Source.MaxRatePerPartition = 3
	if q, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if err := q.Run(context.Background()); err == nil || !failed {
		t.Fatalf("first run: %v, want batch 1's sink error", err)
	}
	runQuery(t, cfg)
	outs = nil
	for _, c := range sink.all() {
		outs = append(outs, fmt.Sprintf("%d:%v", c.id, c.rows))
	}
	if got, want := strings.Join(outs, " "), "0:[[0] [1] [2]] 1:[[3]] 2:[] 3:[] 4:[]"; got != want {
		t.Fatalf("outputs with batch 1 re-run %s, want %s", got, want)
	}
}

func TestGracefulStopCommitsInFlightBatch(t *testing.T) {
	b, want := clickTopic(t, 1, 200)
	dir := t.TempDir()
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", dir, sink)
	cfg.Trigger = Trigger{ProcessingTime: time.Hour}
	var q *Query
	// Stop from inside the sink: the batch is in flight.
	cfg.Sink = SinkFunc(func(ctx context.Context, out *Output) error {
		q.Stop()
		return sink.AddBatch(ctx, out)
	})
	var err error
	if q, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if err := q.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	infos, err := q.Batches()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || !infos[0].Committed {
		t.Fatalf("batches %+v, want batch 0 committed", infos)
	}
	sameCounts(t, countsOf(t, sink.last(t).rows), want)
}

// A stop requested while the driver is still listing offsets (the broker is
// down: nothing can be in flight) returns nil without waiting for
// StopTimeout.
func TestStopWhileBrokerUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := testConfig(t, addr, "clicks", t.TempDir(), &collector{})
	cfg.Trigger = Trigger{ProcessingTime: time.Second}
	cfg.StopTimeout = time.Hour
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	time.Sleep(300 * time.Millisecond) // let Run reach the metadata request
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after a stop while the broker is down: %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the stop (it waits for StopTimeout)")
	}
}

// A run that recovers a pending batch while the brokers are down fails at
// once, as a fresh run does, not after the executors' StallTimeout.
func TestRecoveryWithBrokerDown(t *testing.T) {
	t.Parallel() // 10 s in a metadata request
	b, _ := clickTopic(t, 1, 10)
	dir := t.TempDir()
	errSink := errors.New("sink down")
	cfg := testConfig(t, b.Addr, "clicks", dir, ForEachBatch(func(context.Context, *Output) error { return errSink }))
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Run(context.Background()); !errors.Is(err, errSink) {
		t.Fatalf("first run: %v, want the sink's error", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg = testConfig(t, down, "clicks", dir, &collector{})
	cfg.Source.FetchOffsetNumRetries = -1 // one attempt: the 10 s of one metadata request
	if q, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	// No deadline on ctx: the metadata request takes its own 10 s timeout.
	ctx, cancel := context.WithCancel(context.Background())
	defer time.AfterFunc(45*time.Second, cancel).Stop() // below StallTimeout (60 s)
	start := time.Now()
	err = q.Run(ctx)
	if want := "recovering batch 0: kafka: metadata from " + down + ": "; err == nil || !strings.HasPrefix(err.Error(), want) || ctx.Err() != nil {
		t.Fatalf("recovery with the broker down: %v after %s, want an error starting %q", err, time.Since(start), want)
	}
}

// A run whose context has a long deadline fails as soon as a request to
// the down brokers times out (10 s), not at the deadline, and says so.
func TestBrokerDownWithLongDeadline(t *testing.T) {
	t.Parallel() // 10 s in a metadata request
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := testConfig(t, down, "clicks", t.TempDir(), &collector{})
	cfg.Source.FetchOffsetNumRetries = -1 // one attempt
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	start := time.Now()
	err = q.Run(ctx)
	if want := "kafka: metadata from " + down + ": "; err == nil || !strings.Contains(err.Error(), want) || time.Since(start) > 60*time.Second {
		t.Fatalf("Run: %v after %s, want an error with %q within 60 s", err, time.Since(start), want)
	}
}

// TestCompactBetweenBatches: with a processingTime trigger, the state log
// is compacted in the idle time after the batch that takes it half way to
// its threshold, not inside a later commit, and the state stays exact.
func TestCompactBetweenBatches(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1})
	const n = 3000 // distinct pages: 1,500 state changes per batch
	var recs []kafkatest.Record
	want := map[string]int64{}
	for i := range n {
		page := fmt.Sprintf("/p/%04d", i)
		want[page] = 1
		recs = append(recs, kafkatest.Record{Value: []byte(fmt.Sprintf(`{"timestamp":"2024-01-01T00:00:00Z","userid":"u1","page":%q,"action":"view"}`, page))})
	}
	b.Produce(t, "clicks", recs)
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Allocator = checkedAlloc(t)
	// A batch of 1,500 records must end before the next trigger for the
	// idle time to exist: 2 s leaves room on a loaded machine (a batch took
	// 252 ms against a 200 ms interval under a race-enabled run, and 1.006 s
	// against 1 s with every package's race tests running at once).
	cfg.Trigger = Trigger{ProcessingTime: 2 * time.Second}
	cfg.Source.MaxRatePerPartition = n / 4 // x 2 s: 1,500 records per batch
	var logs bytes.Buffer
	var logMu sync.Mutex
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg.OnProgress = func(p Progress) {
		if p.Sources[0].EndOffset == n {
			cancel()
		}
	}
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// Batch 0 logs 1,500 changes (under half of the 4,096 threshold),
	// batch 1 takes the log to 3,000: compacted after it.
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if c := strings.Count(out, "state log compacted between batches"); c != 1 || !strings.Contains(out, "changes=3000") {
		t.Fatalf("want one compaction of 3000 changes between batches, log:\n%s", out)
	}
	sameCounts(t, countsOf(t, sink.last(t).rows), want)
	rec, err := q.State()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	sameCounts(t, countsOf(t, recordRows(rec)), want)
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestRecreatedTopicWithCachedView deletes and recreates the topic between
// two batches, within the partition discovery interval. The new log's
// latest offset is below where the query resumes (100) and, with 30
// records, below the cached log start (60): planning must list the
// partitions and log starts again and read the new log from 0, not from
// the stale log start, nor fail on it.
func TestRecreatedTopicWithCachedView(t *testing.T) {
	for _, n := range []int{30, 80} {
		t.Run(fmt.Sprintf("new-records=%d", n), func(t *testing.T) {
			b := kafkatest.Start(t, map[string]int32{"clicks": 1})
			recs, _ := clicks(100, 1, 0)
			b.Produce(t, "clicks", recs)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := b.Admin(t).DeleteRecords(ctx, offsets.TopicPartition{Topic: "clicks", Partition: 0}, 60); err != nil {
				t.Fatal(err)
			}
			sink := &collector{}
			cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
			cfg.Trigger = Trigger{ProcessingTime: 50 * time.Millisecond}
			cfg.Source.OnDataLoss = SkipDataLoss
			cfg.Source.PartitionDiscoveryInterval = time.Hour
			newRecs, want := clicks(n, 1, 500)
			cfg.failpoint = func(name string, id int64) {
				if name != fpAfterCommit || id != 0 {
					return
				}
				ac, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": b.Addr})
				if err != nil {
					t.Error(err)
					return
				}
				defer ac.Close()
				if _, err := ac.DeleteTopics(ctx, []string{"clicks"}); err != nil {
					t.Error(err)
				}
				if _, err := ac.CreateTopics(ctx, []ckafka.TopicSpecification{{Topic: "clicks", NumPartitions: 1, ReplicationFactor: 1}}); err != nil {
					t.Error(err)
				}
				b.Produce(t, "clicks", newRecs)
			}
			rctx, stop := context.WithCancel(ctx)
			defer stop()
			var rows []int64
			cfg.OnProgress = func(p Progress) {
				if p.NumInputRows > 0 {
					rows = append(rows, p.NumInputRows)
				}
				if p.BatchID > 0 && p.Sources[0].EndOffset == int64(n) {
					stop()
				}
			}
			q, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Run(rctx); err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 || rows[0] != 40 || rows[1] != int64(n) {
				t.Fatalf("rows per batch %v, want [40 %d]: the old log's [60,100), then all of the new log", rows, n)
			}
			// Complete mode: the old log's [60,100) plus the new log.
			for _, r := range recs[60:] {
				if strings.Contains(string(r.Value), `"view"`) {
					want[strings.Split(strings.Split(string(r.Value), `"page":"`)[1], `"`)[0]]++
				}
			}
			sameCounts(t, countsOf(t, sink.last(t).rows), want)
		})
	}
}

// New refuses a Config it cannot run, naming the field, before anything
// touches Kafka or the checkpoint; each problem is a *ConfigError.
func TestNewValidatesConfig(t *testing.T) {
	other, err := dataframe.ParseSchema("page STRING, n BIGINT")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edit   func(*Config)
		fields []string
		want   string
	}{
		{func(c *Config) { c.Format = 99 }, []string{"Format"}, "invalid query config: Format: 99 is neither dataframe.FormatJSON nor dataframe.FormatCSV"},
		{func(c *Config) { c.Mode = 99 }, []string{"Mode"}, "invalid query config: Mode: 99 is not dataframe.Permissive, DropMalformed or FailFast"},
		{func(c *Config) { c.Executors = -1 }, []string{"Executors"}, "invalid query config: Executors: must be >= 0 (0: GOMAXPROCS), got -1"},
		{func(c *Config) { c.Schema = other }, []string{"Schema"}, "invalid query config: Schema: [page STRING, n BIGINT] is not the schema the query reads [" + clickSchema + "] (build the query over dataframe.Source(table, Config.Schema))"},
		{func(c *Config) { c.Sink, c.CheckpointLocation = nil, "" }, []string{"Sink", "CheckpointLocation"}, "invalid query config: Sink: not set\ninvalid query config: CheckpointLocation: not set"},
		{func(c *Config) { c.Source.SubscribePattern = "clicks" }, []string{"Source"}, "invalid query config: Source: Subscribe and SubscribePattern are all set; set exactly one"},
		{func(c *Config) { c.Source.StartingOffsets = "first" }, []string{"Source.StartingOffsets"}, `invalid query config: Source.StartingOffsets: invalid startingOffsets: "first" is not "earliest", "latest" or a JSON object like {"topic":{"0":23,"1":-2}}`},
		{func(c *Config) { c.Trigger.ProcessingTime = time.Second }, []string{"Trigger"}, "invalid query config: Trigger: set ProcessingTime or AvailableNow, not both"},
		// The query is compiled even when other fields are wrong, so
		// every problem shows in one error.
		{func(c *Config) { c.Sink, c.OutputMode = nil, dataframe.Append }, []string{"Sink", "OutputMode"}, "invalid query config: Sink: not set\ninvalid query config: OutputMode: dataframe: unsupported streaming query: append output mode is not supported with an aggregation without a watermark: group by a window of the event time and set a watermark (the job file's watermark section, DataFrame.WithWatermark in Go), or use complete or update"},
	} {
		cfg := testConfig(t, "127.0.0.1:1", "clicks", t.TempDir(), &collector{})
		tc.edit(&cfg)
		_, err := New(cfg)
		if err == nil || err.Error() != tc.want || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New: %v\nwant %s", err, tc.want)
			continue
		}
		var fields []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var ce *ConfigError
			if !errors.As(e, &ce) {
				t.Fatalf("%v is not a *ConfigError", e)
			}
			fields = append(fields, ce.Field)
		}
		if !slices.Equal(fields, tc.fields) {
			t.Errorf("%s: fields %v, want %v", tc.want, fields, tc.fields)
		}
	}
}

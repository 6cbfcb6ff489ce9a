package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// sparkWindowQuery is EventTimeWatermarkSuite's query over the topic
// "events": a 10 s watermark on eventTime, 5 s windows, count(*).
func sparkWindowQuery(t testing.TB) (*dataframe.Schema, *dataframe.DataFrame) {
	t.Helper()
	schema, err := dataframe.ParseSchema("eventTime TIMESTAMP, v BIGINT")
	if err != nil {
		t.Fatal(err)
	}
	df := dataframe.Source("events", schema).WithWatermark("eventTime", 10*time.Second).
		GroupBy(dataframe.Window(dataframe.Col("eventTime"), 5*time.Second, 0, 0)).
		Agg(dataframe.Count().As("count")).
		Select(dataframe.Col("window.start"), dataframe.Col("count"))
	return schema, df
}

// eventRecords are records of the event times secs (seconds since the
// epoch), on partition 0.
func eventRecords(secs ...int) []kafkatest.Record {
	out := make([]kafkatest.Record, len(secs))
	for i, s := range secs {
		v := fmt.Sprintf(`{"eventTime":%q,"v":%d}`, time.Unix(int64(s), 0).UTC().Format(time.RFC3339), s)
		out[i] = kafkatest.Record{Value: []byte(v)}
	}
	return out
}

// goldenRuns returns a function that adds records of the event times
// secs to a fresh one-partition topic "events" and runs sparkWindowQuery
// over it in append mode with availableNow (checkpoint dir, sink sink),
// appending each batch's progress to progress.
func goldenRuns(t *testing.T, dir string, sink *collector, progress *[]Progress) func(secs ...int) {
	b := kafkatest.Start(t, map[string]int32{"events": 1})
	schema, df := sparkWindowQuery(t)
	return func(secs ...int) {
		t.Helper()
		b.Produce(t, "events", eventRecords(secs...))
		cfg := baseConfig(schema, df, b.Addr, "events", dir, sink)
		cfg.OutputMode = dataframe.Append
		cfg.Allocator = checkedAlloc(t)
		cfg.OnProgress = func(p Progress) { *progress = append(*progress, p) }
		runQuery(t, cfg)
	}
}

// TestWatermarkSparkGolden runs EventTimeWatermarkSuite's append-mode case
// through the engine, one availableNow run per AddData: the batches'
// watermarks go 0 -> 5 -> 5 -> 15 (no-data batches included), [10, 15)
// is emitted once, when the watermark reaches 15, the late row is dropped
// and counted, and each restart resumes the watermark.
func TestWatermarkSparkGolden(t *testing.T) {
	dir := t.TempDir()
	sink := &collector{}
	var progress []Progress
	run := goldenRuns(t, dir, sink, &progress)
	run(10, 11, 12, 13, 14, 15)
	run(25)
	run(10)
	type want struct {
		id      int64
		rows    int64
		wm      int
		out     string
		state   int64
		dropped int64
	}
	wants := []want{
		{0, 6, 0, "", 2, 0},
		{1, 0, 5, "", 2, 0}, // no-data batch: the watermark moved to 5
		{2, 1, 5, "", 3, 0},
		{3, 0, 15, "[[1970-01-01 00:00:10Z 5]]", 2, 0}, // no-data batch
		{4, 1, 15, "", 2, 1},
	}
	if len(progress) != len(wants) {
		t.Fatalf("%d batches, want %d", len(progress), len(wants))
	}
	out := map[int64]string{}
	for _, c := range sink.all() {
		if len(c.rows) > 0 {
			out[c.id] = fmt.Sprint(c.rows)
		}
	}
	for i, w := range wants {
		p := progress[i]
		if p.BatchID != w.id || p.NumInputRows != w.rows || p.EventTime == nil || !p.EventTime.Watermark.Equal(time.Unix(int64(w.wm), 0)) ||
			out[w.id] != w.out || p.StateRows != w.state || p.NumRowsDroppedByWatermark != w.dropped {
			t.Errorf("batch %d: id %d rows %d watermark %v output %q state %d dropped %d; want %+v",
				i, p.BatchID, p.NumInputRows, p.EventTime, out[w.id], p.StateRows, p.NumRowsDroppedByWatermark, w)
		}
	}
	// The checkpoint holds each batch's watermark and greatest event time.
	ck, err := checkpoint.Open(dir, checkpoint.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	last, err := ck.LastCommit()
	if err != nil {
		t.Fatal(err)
	}
	if !last.Meta.Watermark.Equal(time.Unix(15, 0)) || string(last.Meta.Extra[extraMaxEventTime]) != "10000000" {
		t.Fatalf("last commit: watermark %v, maxEventTime %s", last.Meta.Watermark, last.Meta.Extra[extraMaxEventTime])
	}
}

// TestWatermarkUpdateEvicts: update mode emits the changed windows and
// evicts the closed ones without output; complete mode ignores the
// watermark.
func TestWatermarkUpdateAndComplete(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"events": 1})
	b.Produce(t, "events", eventRecords(10, 11, 16))
	schema, df := sparkWindowQuery(t)
	for _, mode := range []dataframe.OutputMode{dataframe.Update, dataframe.Complete} {
		dir := t.TempDir()
		sink := &collector{}
		cfg := baseConfig(schema, df, b.Addr, "events", dir, sink)
		cfg.OutputMode = mode
		var progress []Progress
		cfg.OnProgress = func(p Progress) { progress = append(progress, p) }
		runQuery(t, cfg)
		b.Produce(t, "events", eventRecords(30, 10))
		runQuery(t, cfg)
		var got []string
		for _, c := range sink.all() {
			got = append(got, fmt.Sprint(c.id, c.rows))
		}
		want := map[dataframe.OutputMode]string{
			// batch 1: the watermark 6 closes nothing; batch 2 (wm 6):
			// 30 is new, 10 is on time; batch 3 (no data, wm 20)
			// evicts [10,15) and [15,20).
			dataframe.Update:   "0 [[1970-01-01 00:00:10Z 2] [1970-01-01 00:00:15Z 1]]|1 []|2 [[1970-01-01 00:00:10Z 3] [1970-01-01 00:00:30Z 1]]|3 []",
			dataframe.Complete: "0 [[1970-01-01 00:00:10Z 2] [1970-01-01 00:00:15Z 1]]|1 [[1970-01-01 00:00:10Z 3] [1970-01-01 00:00:15Z 1] [1970-01-01 00:00:30Z 1]]",
		}[mode]
		if strings.Join(got, "|") != want {
			t.Errorf("%v: output\n got %s\nwant %s", mode, strings.Join(got, "|"), want)
		}
		if mode == dataframe.Update && progress[len(progress)-1].StateRows != 1 {
			t.Errorf("update: state rows %d after eviction, want 1", progress[len(progress)-1].StateRows)
		}
		// reset the topic's extra records for the next mode
		b = kafkatest.Start(t, map[string]int32{"events": 1})
		b.Produce(t, "events", eventRecords(10, 11, 16))
	}
}

// TestCrashMidWindows kills a windowed append-mode job at every failpoint
// of batch 1 (windows open and closing), restarts it, and checks that the
// output, as finally delivered per batch, the committed plans (with their
// watermarks) and the watermark state committed with each batch are those
// of a run without a crash. Under the perPartition policy partition 2 lags
// (a third of the others' rate): each commit's per-partition event times,
// lag flags and last-seen batch are compared too, and the reference drops
// no row as late, so every closed window holds all of its views.
func TestCrashMidWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash tests")
	}
	recs, _ := clicks(3000, 3, 0)
	b := kafkatest.Start(t, map[string]int32{"clicks": 3})
	b.Produce(t, "clicks", recs)
	schema, _ := pageViews(t)
	for _, c := range []struct {
		query string
		plans int // the reference run's batches
	}{
		// 4 batches of 900 clicks and a no-data batch closing the
		// windows the last one's watermark passed.
		{"window", 5},
		// partition 2 takes 10 batches of 100; the others are done
		// after 4.
		{"windowPerPartition", 11},
	} {
		t.Run(c.query, func(t *testing.T) {
			t.Parallel()
			run := func(dir, events, failpoint string) error {
				return crashRun{addr: b.Addr, dir: dir, failpoint: failpoint, query: c.query, sink: "record", events: events}.run(t)
			}
			committed := func(dir string) []string {
				t.Helper()
				cfg := baseConfig(schema, nil, b.Addr, "clicks", dir, &collector{})
				crashQueries[c.query](schema, &cfg)
				q, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				infos, err := q.Batches()
				if err != nil {
					t.Fatal(err)
				}
				return renderWatermarkState(t, infos)
			}
			refDir, refEvents := t.TempDir(), filepath.Join(t.TempDir(), "events")
			if err := run(refDir, refEvents, ""); err != nil {
				t.Fatal(err)
			}
			refPlans := committed(refDir)
			refOut, _ := deliveries(t, readSinkEvents(t, refEvents))
			if len(refPlans) != c.plans {
				t.Fatalf("reference: %d batches, want %d:\n%s", len(refPlans), c.plans, strings.Join(refPlans, "\n"))
			}
			checkClosedWindows(t, c.query, refOut, recs)
			for _, fp := range crashFailpoints {
				t.Run(fp, func(t *testing.T) {
					dir, events := t.TempDir(), filepath.Join(t.TempDir(), "events")
					if err := run(dir, events, fp+":1"); err != errKilled {
						t.Fatalf("child with failpoint %s:1 was not killed: %v", fp, err)
					}
					if err := run(dir, events, ""); err != nil {
						t.Fatalf("restart: %v", err)
					}
					if got := committed(dir); strings.Join(got, "\n") != strings.Join(refPlans, "\n") {
						t.Fatalf("batches after the crash\n got %v\nwant %v", got, refPlans)
					}
					out, _ := deliveries(t, readSinkEvents(t, events))
					if len(out) != len(refOut) {
						t.Fatalf("%d batches delivered, want %d", len(out), len(refOut))
					}
					for id, o := range refOut {
						if out[id] != o {
							t.Fatalf("batch %d: output differs from the run without a crash\n got:\n%s\nwant:\n%s", id, out[id], o)
						}
					}
				})
			}
		})
	}
}

// renderWatermarkState renders each batch of a checkpoint as its id,
// ranges, watermark, whether it committed, and, when its commit records
// per-partition event times, each partition's greatest event time, lag
// flag and the batch it last had records in (its processing time is a
// clock reading; the batch it names is not).
func renderWatermarkState(t *testing.T, infos []checkpoint.BatchInfo) []string {
	t.Helper()
	batchAt := map[time.Time]int64{}
	for _, bi := range infos {
		batchAt[bi.Plan.Meta.ProcessingTime.UTC()] = bi.Plan.ID
	}
	var out []string
	for _, bi := range infos {
		line := fmt.Sprintf("%d:%v:%s:%v", bi.Plan.ID, bi.Plan.Ranges, bi.Plan.Meta.Watermark.Format(time.RFC3339), bi.Committed)
		if raw, ok := bi.Commit.Meta.Extra[extraPartitions]; bi.Committed && ok {
			var parts map[string]partitionEventTime
			if err := json.Unmarshal(raw, &parts); err != nil {
				t.Fatalf("batch %d: partition event times %s: %v", bi.Plan.ID, raw, err)
			}
			for _, k := range slices.Sorted(maps.Keys(parts)) {
				p := parts[k]
				seen, ok := batchAt[p.Seen.UTC()]
				if !ok {
					t.Fatalf("batch %d: partition %s last seen at %v, no batch's processing time", bi.Plan.ID, k, p.Seen)
				}
				line += fmt.Sprintf(" %s=%s,lagging=%v,seen@%d", k, time.UnixMicro(p.Max).UTC().Format(time.RFC3339), p.Lagging, seen)
			}
		}
		out = append(out, line)
	}
	return out
}

// checkClosedWindows checks a reference run's output of the window
// queries: some windows closed; under the perPartition policy each closed
// (minute, page) holds every view of recs in it, none dropped as late.
func checkClosedWindows(t *testing.T, query string, out map[int64]string, recs []kafkatest.Record) {
	t.Helper()
	views := map[string]string{}
	for _, r := range recs {
		var c struct{ Timestamp, Page, Action string }
		if err := json.Unmarshal(r.Value, &c); err != nil {
			t.Fatal(err)
		}
		if c.Action == "view" {
			k := c.Timestamp[:len("2024-01-01T00:00")] + " " + c.Page
			n, _ := strconv.Atoi(views[k])
			views[k] = strconv.Itoa(n + 1)
		}
	}
	closed := 0
	for id := range int64(len(out)) {
		for _, row := range outputRows(t, out[id]) { // window start, end, page, views
			closed++
			if query != "windowPerPartition" {
				continue
			}
			k := strings.TrimSuffix(strings.Replace(row[0], " ", "T", 1), ":00Z") + " " + row[2]
			if views[k] != row[3] {
				t.Errorf("batch %d: window %v: %s views, want %s (none late)", id, row, row[3], views[k])
			}
		}
	}
	if closed == 0 {
		t.Fatal("the reference run closed no window")
	}
}

// A NULL or absent event time makes a record malformed, per the mode:
// PERMISSIVE keeps it (no window takes it) and counts it as corrupt,
// DROPMALFORMED drops and counts it, FAILFAST fails the batch naming the
// record and the column.
func TestNullEventTimeIsMalformed(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"events": 1})
	recs := eventRecords(10, 11)
	recs = append(recs, kafkatest.Record{Value: []byte(`{"eventTime":null,"v":1}`)}, kafkatest.Record{Value: []byte(`{"v":2}`)})
	recs = append(recs, eventRecords(30)...)
	b.Produce(t, "events", recs)
	schema, df := sparkWindowQuery(t)
	for _, mode := range []dataframe.Mode{dataframe.Permissive, dataframe.DropMalformed, dataframe.FailFast} {
		sink := &malformedSink{}
		cfg := baseConfig(schema, df, b.Addr, "events", t.TempDir(), sink)
		cfg.OutputMode = dataframe.Append
		cfg.Mode = mode
		cfg.Allocator = checkedAlloc(t)
		var progress []Progress
		cfg.OnProgress = func(p Progress) { progress = append(progress, p) }
		if mode == dataframe.FailFast {
			q, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = q.Run(context.Background())
			var me *dataframe.MalformedRecordError
			if !errors.As(err, &me) || me.Topic != "events" || me.Partition != 0 || me.Offset != 2 || me.Column != "eventTime" ||
				!strings.Contains(err.Error(), `malformed record at events-0 offset 2: column "eventTime": NULL event time (the watermark's eventTime column) (mode FAILFAST)`) {
				t.Errorf("FAILFAST: %v", err)
			}
			continue
		}
		runQuery(t, cfg)
		p := progress[0]
		corrupt, dropped := int64(2), int64(0)
		if mode == dataframe.DropMalformed {
			corrupt, dropped = 0, 2
		}
		if p.CorruptRecords != corrupt || p.DroppedRecords != dropped || p.StateRows != 2 {
			t.Errorf("%v: corrupt %d dropped %d state %d", mode, p.CorruptRecords, p.DroppedRecords, p.StateRows)
		}
		var offs []int64
		for _, m := range sink.malformed {
			if m.Column != "eventTime" || !strings.HasPrefix(m.Reason, "NULL event time") {
				t.Errorf("%v: malformed %+v", mode, m)
			}
			offs = append(offs, m.Offset)
		}
		if fmt.Sprint(offs) != "[2 3]" {
			t.Errorf("%v: malformed offsets %v", mode, offs)
		}
		var out []string
		for _, c := range sink.all() {
			if len(c.rows) > 0 {
				out = append(out, fmt.Sprint(c.rows))
			}
		}
		// the watermark 20 closes [10, 15): the two timed rows only.
		if strings.Join(out, "|") != "[[1970-01-01 00:00:10Z 2]]" {
			t.Errorf("%v: output %v", mode, out)
		}
	}
}

// partRecords are records of the event times secs on partition p.
func partRecords(p int32, secs ...int) []kafkatest.Record {
	recs := eventRecords(secs...)
	for i := range recs {
		recs[i].Partition = p
	}
	return recs
}

// Under a rate cap of one record per partition per batch, partition 1's
// backlog of old events lags partition 0's one recent event: the global
// policy drops its rows as late, perPartition holds the watermark for
// the lagging partition and drops none. Partition 2 never has data and
// holds nothing.
func TestWatermarkPerPartitionLagging(t *testing.T) {
	for _, policy := range []WatermarkPolicy{GlobalWatermark, PerPartitionWatermark} {
		b := kafkatest.Start(t, map[string]int32{"events": 3})
		b.Produce(t, "events", append(partRecords(0, 100), partRecords(1, 10, 11, 12, 13)...))
		schema, df := sparkWindowQuery(t)
		dir := t.TempDir()
		cfg := baseConfig(schema, df, b.Addr, "events", dir, &collector{})
		cfg.OutputMode = dataframe.Append
		cfg.Source.MaxRatePerPartition = 1
		cfg.Watermark.Policy = policy
		var wms []string
		var dropped int64
		cfg.OnProgress = func(p Progress) {
			wms = append(wms, fmt.Sprint(p.EventTime.Watermark.Unix()))
			dropped += p.NumRowsDroppedByWatermark
		}
		runQuery(t, cfg)
		want := map[WatermarkPolicy]string{
			// 100 - 10 = 90 after the first batch: 11, 12 and 13 are late.
			GlobalWatermark: "0 90 90 90 | 3",
			// min(100, 10) - 10 < 0, then min(100, 13) - 10 = 3.
			PerPartitionWatermark: "0 0 1 2 3 | 0",
		}[policy]
		if got := strings.Join(wms, " ") + fmt.Sprintf(" | %d", dropped); got != want {
			t.Errorf("policy %d: watermarks and dropped %s, want %s", policy, got, want)
		}
		if policy == PerPartitionWatermark {
			ck, err := checkpoint.Open(dir, checkpoint.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			last, err := ck.LastCommit()
			ck.Close()
			if err != nil {
				t.Fatal(err)
			}
			raw := string(last.Meta.Extra[extraPartitions])
			if !strings.Contains(raw, `"events-0":{"max":100000000`) || !strings.Contains(raw, `"events-1":{"max":13000000`) || strings.Contains(raw, "events-2") {
				t.Errorf("partition event times %s", raw)
			}
		}
	}
}

// An idle partition (no backlog, no records for idleTimeout) stops
// holding the watermark; within the timeout it holds it, across a
// restart (the partitions' event times are in the commit record).
func TestWatermarkPerPartitionIdle(t *testing.T) {
	for _, idle := range []time.Duration{time.Hour, 2 * time.Second} {
		b := kafkatest.Start(t, map[string]int32{"events": 2})
		b.Produce(t, "events", append(partRecords(0, 20), partRecords(1, 30)...))
		schema, df := sparkWindowQuery(t)
		dir := t.TempDir()
		cfg := baseConfig(schema, df, b.Addr, "events", dir, &collector{})
		cfg.OutputMode = dataframe.Append
		cfg.Watermark = Watermark{Policy: PerPartitionWatermark, IdleTimeout: idle}
		var wms []string
		cfg.OnProgress = func(p Progress) { wms = append(wms, fmt.Sprint(p.EventTime.Watermark.Unix())) }
		runQuery(t, cfg)
		time.Sleep(2500 * time.Millisecond)
		b.Produce(t, "events", partRecords(0, 200))
		runQuery(t, cfg)
		want := map[time.Duration]string{
			// min(20, 30) - 10; then partition 1 (30) still holds it.
			time.Hour: "0 10 10 20",
			// partition 1 went idle: partition 0's 200 - 10.
			2 * time.Second: "0 10 10 190",
		}[idle]
		if got := strings.Join(wms, " "); got != want {
			t.Errorf("idleTimeout %v: watermarks %s, want %s", idle, got, want)
		}
	}
}

// flushOnExit: an availableNow run emits the windows still open before
// it exits, and a restart keeps the watermark that closed them.
func TestWatermarkFlushOnExit(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"events": 1})
	b.Produce(t, "events", eventRecords(10, 11, 16))
	schema, df := sparkWindowQuery(t)
	sink := &collector{}
	cfg := baseConfig(schema, df, b.Addr, "events", t.TempDir(), sink)
	cfg.OutputMode = dataframe.Append
	cfg.Watermark.FlushOnExit = true
	var wms []string
	cfg.OnProgress = func(p Progress) { wms = append(wms, fmt.Sprint(p.EventTime.Watermark.Unix())) }
	runQuery(t, cfg)
	var got []string
	for _, c := range sink.all() {
		got = append(got, fmt.Sprint(c.id, c.rows))
	}
	if strings.Join(got, "|") != "0 []|1 []|2 [[1970-01-01 00:00:10Z 2] [1970-01-01 00:00:15Z 1]]" || strings.Join(wms, " ") != "0 6 20" {
		t.Fatalf("output %v, watermarks %v", got, wms)
	}
	b.Produce(t, "events", eventRecords(12))
	runQuery(t, cfg)
	// the no-data batch (watermark 6) closes nothing; the flush closes both.
	if strings.Join(wms, " ") != "0 6 20 20" {
		t.Fatalf("after a restart: watermarks %v", wms)
	}
}

// TestWatermarkFarFutureRow: one row far in the future (2100) moves the
// watermark with it, as in Spark: the windows open before it close and are
// emitted at once, and every later row of the present is late, dropped and
// counted; the watermark never goes back.
func TestWatermarkFarFutureRow(t *testing.T) {
	dir := t.TempDir()
	sink := &collector{}
	var progress []Progress
	run := goldenRuns(t, dir, sink, &progress)
	const future = 4102444800 // 2100-01-01T00:00:00Z
	run(10, 11, 12)
	run(future)
	run(20, 21)
	type want struct {
		rows    int64
		wm      int
		out     string
		state   int64
		dropped int64
	}
	wants := []want{
		{3, 0, "", 1, 0},
		{0, 2, "", 1, 0}, // no-data batch: the watermark moved to 2
		{1, 2, "", 2, 0},
		{0, future - 10, "[[1970-01-01 00:00:10Z 3]]", 1, 0}, // [10, 15) closes; [2100, +5s) stays open
		{2, future - 10, "", 1, 2},                           // both rows are late
	}
	if len(progress) != len(wants) {
		for _, p := range progress {
			t.Logf("batch %d rows %d eventTime %+v state %d dropped %d", p.BatchID, p.NumInputRows, p.EventTime, p.StateRows, p.NumRowsDroppedByWatermark)
		}
		t.Fatalf("%d batches, want %d", len(progress), len(wants))
	}
	out := map[int64]string{}
	for _, c := range sink.all() {
		if len(c.rows) > 0 {
			out[c.id] = fmt.Sprint(c.rows)
		}
	}
	for i, w := range wants {
		p := progress[i]
		if p.NumInputRows != w.rows || p.EventTime == nil || !p.EventTime.Watermark.Equal(time.Unix(int64(w.wm), 0)) ||
			out[p.BatchID] != w.out || p.StateRows != w.state || p.NumRowsDroppedByWatermark != w.dropped {
			t.Errorf("batch %d: rows %d watermark %v output %q state %d dropped %d; want %+v",
				p.BatchID, p.NumInputRows, p.EventTime, out[p.BatchID], p.StateRows, p.NumRowsDroppedByWatermark, w)
		}
	}
}

// TestSessionWindowsThroughTheEngine: sessions of 5 s gaps per key, one
// record a batch (rate cap 1), so that sessions merge across batches
// through the state: a@10, a@12, a@14 make one session [10, 19), b@11
// one [11, 16), a@30 one [30, 35). The watermark (no delay) that a@30
// sets, used by the next batch (one with no data), closes the first two,
// each emitted once; flushOnExit emits the last.
func TestSessionWindowsThroughTheEngine(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"events": 1})
	var recs []kafkatest.Record
	for _, r := range []struct {
		k   string
		sec int
	}{{"a", 10}, {"b", 11}, {"a", 12}, {"a", 14}, {"a", 30}} {
		recs = append(recs, kafkatest.Record{Value: []byte(fmt.Sprintf(`{"eventTime":%q,"k":%q}`, time.Unix(int64(r.sec), 0).UTC().Format(time.RFC3339), r.k))})
	}
	b.Produce(t, "events", recs)
	schema, err := dataframe.ParseSchema("eventTime TIMESTAMP, k STRING")
	if err != nil {
		t.Fatal(err)
	}
	df := dataframe.Source("events", schema).WithWatermark("eventTime", 0).
		GroupBy(dataframe.SessionWindow(dataframe.Col("eventTime"), 5*time.Second), dataframe.Col("k")).
		Agg(dataframe.Count().As("n")).
		Select(dataframe.Col("k"), dataframe.Col("session_window.start"), dataframe.Col("session_window.end"), dataframe.Col("n"))
	sink := &collector{}
	cfg := baseConfig(schema, df, b.Addr, "events", t.TempDir(), sink)
	cfg.OutputMode = dataframe.Append
	cfg.Source.MaxRatePerPartition = 1
	cfg.Watermark.FlushOnExit = true
	cfg.Allocator = checkedAlloc(t)
	runQuery(t, cfg)
	var got []string
	for _, c := range sink.all() {
		for _, r := range c.rows {
			got = append(got, fmt.Sprint(c.id, r))
		}
	}
	want := []string{
		"5 [a 1970-01-01 00:00:10Z 1970-01-01 00:00:19Z 3]", // batch 4 read a@30; 5 (no data) uses watermark 30
		"5 [b 1970-01-01 00:00:11Z 1970-01-01 00:00:16Z 1]",
		"6 [a 1970-01-01 00:00:30Z 1970-01-01 00:00:35Z 1]", // the flush
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output (batch id, row):\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A partition that goes idle while no records arrive at all releases the
// perPartition watermark by itself: once the idle timeout has passed, a
// batch without input runs with the watermark the busiest partition
// allows and closes the windows it ends, as Spark's noDataMicroBatches
// do when the watermark moves.
func TestWatermarkPerPartitionIdleWithoutData(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"events": 2})
	b.Produce(t, "events", append(partRecords(0, 20, 200), partRecords(1, 30)...))
	schema, df := sparkWindowQuery(t)
	sink := &collector{}
	cfg := baseConfig(schema, df, b.Addr, "events", t.TempDir(), sink)
	cfg.Trigger = Trigger{ProcessingTime: 50 * time.Millisecond}
	cfg.OutputMode = dataframe.Append
	cfg.Watermark = Watermark{Policy: PerPartitionWatermark, IdleTimeout: 400 * time.Millisecond}
	var (
		mu  sync.Mutex
		wms []string
		q   *Query
	)
	cfg.OnProgress = func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		wms = append(wms, fmt.Sprintf("%d:%d", p.NumInputRows, p.EventTime.Watermark.Unix()))
		if p.EventTime.Watermark.Unix() == 190 {
			// it only evicts: Spark counts those as removed, not updated
			if p.StateRowsUpdated != 0 || p.StateRowsRemoved != 2 || p.StateRows != 1 {
				t.Errorf("evicting batch: state rows updated %d, removed %d, left %d; want 0, 2, 1", p.StateRowsUpdated, p.StateRowsRemoved, p.StateRows)
			}
			// and its sources stand where the batch before ended
			if got := fmt.Sprint(p.Sources); got != "[{events 0 2 2 2 0 0} {events 1 1 1 1 0 0}]" {
				t.Errorf("evicting batch: sources %s", got)
			}
			q.Stop()
		}
	}
	runFor(t, cfg, &q)
	mu.Lock()
	defer mu.Unlock()
	// batch 0 (3 rows) at 0; then min(200, 30) - 10 = 20, which closes no
	// window; once both partitions are idle (none holds it) the greatest,
	// 200 - 10, which closes [20,25) and [30,35) in a batch without input.
	if got := strings.Join(wms, " "); got != "3:0 0:20 0:190" {
		t.Fatalf("batches (input rows:watermark) %s, want 3:0 0:20 0:190", got)
	}
	var out []string
	for _, c := range sink.all() {
		out = append(out, fmt.Sprint(c.rows))
	}
	if got := strings.Join(out, "|"); got != "[]|[]|[[1970-01-01 00:00:20Z 1] [1970-01-01 00:00:30Z 1]]" {
		t.Fatalf("output per batch %s", got)
	}
}

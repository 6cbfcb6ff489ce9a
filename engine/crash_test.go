package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// The crash tests re-execute this test binary as a child process that runs
// a query and kills itself with SIGKILL at a failpoint; the parent then
// restarts it without the failpoint and checks that the final state, the
// committed ranges and what the sink received equal those of a run without
// a crash (sinkrec_test.go has the recording sinks).

const (
	envChild     = "MICROBATCH_CRASH_CHILD" // set: this process is a crash-test child
	envAddr      = "MICROBATCH_CRASH_ADDR"
	envDir       = "MICROBATCH_CRASH_DIR"
	envFailpoint = "MICROBATCH_CRASH_AT"     // "name:batchID", empty for none
	envTopic     = "MICROBATCH_CRASH_TOPIC"  // default "clicks"
	envQuery     = "MICROBATCH_CRASH_QUERY"  // crashQueries' key; default "complete"
	envSink      = "MICROBATCH_CRASH_SINK"   // "" (a no-op sink), "record" or "tx"
	envEvents    = "MICROBATCH_CRASH_EVENTS" // the recording sink's event file
	envTable     = "MICROBATCH_CRASH_TABLE"  // the join query's table file
	envOnChange  = "MICROBATCH_CRASH_ONCHANGE"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// havingBelow is the having query's threshold: the 4 pages reach it in
// batch 1, the batch the crash tests kill.
const havingBelow = 250

// belowHaving is the having query's result table: the counts below its
// threshold.
func belowHaving(counts map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, n := range counts {
		if n < havingBelow {
			out[k] = n
		}
	}
	return out
}

// crashQueries are the queries a crash-test child can run, by name: the
// page views in complete and update mode, and a stateless query whose
// LIMIT holds over the stream (so a batch's output depends on the rows
// emitted before it, Meta.EmittedRows).
var crashQueries = map[string]func(schema *dataframe.Schema, cfg *Config){
	"complete": func(*dataframe.Schema, *Config) {},
	"update":   func(_ *dataframe.Schema, cfg *Config) { cfg.OutputMode = dataframe.Update },
	// having retracts a page once its views reach havingBelow: its key is
	// in that batch's Output.Deleted.
	"having": func(schema *dataframe.Schema, cfg *Config) {
		cfg.OutputMode = dataframe.Update
		cfg.Query = dataframe.Source("events", schema).
			Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
			GroupBy(dataframe.Col("page")).
			Agg(dataframe.Count().As("views")).
			Filter(dataframe.Col("views").Lt(dataframe.Lit(havingBelow)))
	},
	"window": windowCrashQuery,
	// windowPerPartition is window under the perPartition policy, with
	// partition 2 capped at a third of the others' rate: it lags, holds
	// the watermark, and none of its rows is late.
	"windowPerPartition": func(schema *dataframe.Schema, cfg *Config) {
		windowCrashQuery(schema, cfg)
		cfg.Watermark.Policy = PerPartitionWatermark
		cfg.Source.MaxRateOverrides = map[offsets.TopicPartition]int64{{Topic: cfg.Source.Subscribe[0], Partition: 2}: 100}
	},
	// approx keeps mergeable sketch and order states per page in update
	// mode: HyperLogLog registers, a KLL sketch, first/last.
	"approx": func(schema *dataframe.Schema, cfg *Config) {
		cfg.OutputMode = dataframe.Update
		cfg.Query = dataframe.Source("events", schema).
			Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
			GroupBy(dataframe.Col("page")).
			Agg(dataframe.Aggregate("approx_count_distinct", dataframe.Col("userid")).As("users"),
				dataframe.Aggregate("percentile_approx", dataframe.Col("_offset"), dataframe.Lit(0.5)).As("median_offset"),
				dataframe.Aggregate("first", dataframe.Col("userid")).As("first_user"),
				dataframe.Aggregate("last", dataframe.Col("userid")).As("last_user"))
	},
	// join is the stateless stream-static join of crash_join_test.go over
	// the table file envTable, onChange envOnChange.
	"join": func(schema *dataframe.Schema, cfg *Config) {
		cfg.OutputMode = dataframe.Append
		onChange, _ := dataframe.ParseOnChange(cmp.Or(os.Getenv(envOnChange), "fail"))
		cfg.Query = crashJoinQuery(schema, os.Getenv(envTable), onChange)
	},
	"limit": func(schema *dataframe.Schema, cfg *Config) {
		cfg.Query = dataframe.Source("events", schema).
			Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
			Select(dataframe.Col("_offset"), dataframe.Col("_partition"), dataframe.Col("page")).
			Limit(1000)
	},
}

// windowCrashQuery counts views per page and minute of event time in
// append mode, with a 30 s watermark: each batch closes some windows.
func windowCrashQuery(schema *dataframe.Schema, cfg *Config) {
	cfg.OutputMode = dataframe.Append
	cfg.Query = dataframe.Source("events", schema).WithWatermark("timestamp", 30*time.Second).
		Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
		GroupBy(dataframe.Window(dataframe.Col("timestamp"), time.Minute, 0, 0), dataframe.Col("page")).
		Agg(dataframe.Count().As("views"))
}

// crashChild runs the query of the crash tests; exit 0 when it completes.
func crashChild() int {
	schema, df, err := pageViewsPlan()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	topic := os.Getenv(envTopic)
	if topic == "" {
		topic = "clicks"
	}
	var sink Sink = ForEachBatch(func(context.Context, *Output) error { return nil })
	switch os.Getenv(envSink) {
	case "record":
		sink = &recordingSink{path: os.Getenv(envEvents)}
	case "tx":
		sink = &txRecordingSink{recordingSink{path: os.Getenv(envEvents)}}
	}
	cfg := baseConfig(schema, df, os.Getenv(envAddr), topic, os.Getenv(envDir), sink)
	cfg.NoSync = false // real fsyncs: the crash is real
	cfg.Source.MaxRatePerPartition = 300
	query := cmp.Or(os.Getenv(envQuery), "complete")
	setQuery, ok := crashQueries[query]
	if !ok {
		fmt.Fprintln(os.Stderr, "no crash query", query)
		return 3
	}
	setQuery(schema, &cfg)
	if at := os.Getenv(envFailpoint); at != "" {
		name, id, _ := strings.Cut(at, ":")
		batchID, _ := strconv.ParseInt(id, 10, 64)
		cfg.failpoint = func(n string, b int64) {
			if n == name && b == batchID {
				syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
	}
	q, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err := q.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// crashRun is one child run: where, at which failpoint ("" for none), and
// with which query and sink (empty: complete mode, a no-op sink).
type crashRun struct {
	addr, topic, dir, failpoint string
	query, sink, events         string
	table, onChange             string // the join query's
}

func (r crashRun) run(t *testing.T) error {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envAddr+"="+r.addr, envDir+"="+r.dir, envFailpoint+"="+r.failpoint,
		envTopic+"="+cmp.Or(r.topic, "clicks"), envQuery+"="+r.query, envSink+"="+r.sink, envEvents+"="+r.events,
		envTable+"="+r.table, envOnChange+"="+r.onChange)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				return errKilled
			}
		}
		return fmt.Errorf("child: %w\n%s", err, out)
	}
	return nil
}

func runChild(t *testing.T, addr, dir, failpoint string) error {
	t.Helper()
	return runChildOn(t, addr, "clicks", dir, failpoint)
}

func runChildOn(t *testing.T, addr, topic, dir, failpoint string) error {
	t.Helper()
	return crashRun{addr: addr, topic: topic, dir: dir, failpoint: failpoint}.run(t)
}

var errKilled = errors.New("killed")

// plans renders a checkpoint's batches as "id:ranges committed" lines.
func plans(t *testing.T, q *Query) []string {
	t.Helper()
	infos, err := q.Batches()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range infos {
		out = append(out, fmt.Sprintf("%d:%v:%v", b.Plan.ID, b.Plan.Ranges, b.Committed))
	}
	return out
}

// crashFailpoints are the failpoints every crash test kills batch 1 at.
var crashFailpoints = []string{fpAfterPlan, fpAfterWAL, fpMidFetch, fpAfterSink, fpBeforeCommit, fpAfterCommit}

// TestCrashAtEveryLifecyclePoint kills the job at every failpoint of batch
// 1, restarts it, and checks the checkpoint and what the sink received
// against a run without a crash: 3,000 clicks on 3 partitions read in 4
// batches of 900. The sink records every call to a file (recordingSink);
// the TxSink writes into its bucket as well. Per query and sink:
//   - the committed batches and ranges, and the state, are the reference's;
//   - a batch delivered again has the same id and byte-identical output,
//     none is delivered after the sink was told it committed, and Open gets
//     the last committed batch (deliveries);
//   - the output of every batch, as finally delivered, is the reference's;
//   - a crash after the sink (a TxSink: inside the commit) delivers batch 1
//     twice, one after the commit never tells the sink batch 1 committed
//     (the crash "before Committed"), and the restart opens the sink at 1;
//   - each batch's commit records the engine facts of its plan
//     (checkMeta);
//   - a TxSink's bucket is the reference's, and holds the exact counts.
func TestCrashAtEveryLifecyclePoint(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash tests")
	}
	b, want := clickTopic(t, 3, 3000)
	ends := b.EndOffsets(t, "clicks")
	schema, df := pageViews(t)
	for _, c := range []struct{ query, sink string }{
		{"complete", "record"},
		{"update", "record"},
		{"having", "record"},
		{"limit", "record"},
		{"update", "tx"},
	} {
		t.Run(c.query+"/"+c.sink, func(t *testing.T) {
			t.Parallel()
			newQuery := func(dir string) *Query {
				t.Helper()
				cfg := baseConfig(schema, df, b.Addr, "clicks", dir, &collector{})
				crashQueries[c.query](schema, &cfg)
				q, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return q
			}
			run := func(dir, events, failpoint string) error {
				return crashRun{addr: b.Addr, dir: dir, failpoint: failpoint, query: c.query, sink: c.sink, events: events}.run(t)
			}

			// The reference: the same job without a crash.
			refDir := t.TempDir()
			refEvents := filepath.Join(t.TempDir(), "events")
			if err := run(refDir, refEvents, ""); err != nil {
				t.Fatal(err)
			}
			refQ := newQuery(refDir)
			refPlans := plans(t, refQ)
			if len(refPlans) != 4 {
				t.Fatalf("reference run committed %d batches, want 4: %v", len(refPlans), refPlans)
			}
			refOut, _ := deliveries(t, readSinkEvents(t, refEvents))
			checkReferenceOutput(t, c.query, refOut, want)
			var refBucket string
			if c.sink == "tx" {
				refBucket = dumpSinkBucket(t, refQ, txSinkName)
				checkTxBucket(t, refBucket, refOut, want)
			}

			for _, fp := range crashFailpoints {
				t.Run(fp, func(t *testing.T) {
					dir := t.TempDir()
					events := filepath.Join(t.TempDir(), "events")
					if err := run(dir, events, fp+":1"); err != errKilled {
						t.Fatalf("child with failpoint %s:1 was not killed: %v", fp, err)
					}
					q := newQuery(dir)
					lastCommitted := checkCrashState(t, q, fp)
					if err := run(dir, events, ""); err != nil {
						t.Fatalf("restart: %v", err)
					}
					wantState := want
					if c.query == "having" {
						wantState = belowHaving(want)
					}
					sameAsReference(t, q, refPlans, ends, wantState)
					checkMeta(t, q, 300)

					evs := readSinkEvents(t, events)
					out, times := deliveries(t, evs)
					if got := runsOpened(evs); len(got) != 2 || got[1] != lastCommitted {
						t.Fatalf("the sink was opened with %v, want two runs, the second at %d (the last batch committed before the crash)", got, lastCommitted)
					}
					for id := range max(len(out), len(refOut)) {
						if out[int64(id)] != refOut[int64(id)] {
							t.Fatalf("batch %d: the output delivered differs from the run without a crash\n got:\n%s\nwant:\n%s", id, out[int64(id)], refOut[int64(id)])
						}
					}
					if len(out) != len(refOut) {
						t.Fatalf("%d batches delivered, want %d", len(out), len(refOut))
					}
					again := fp == fpBeforeCommit || (fp == fpAfterSink && c.sink != "tx")
					if wantTimes := map[bool]int{false: 1, true: 2}[again]; times[1] != wantTimes {
						t.Fatalf("batch 1 delivered %d times, want %d", times[1], wantTimes)
					}
					if fp == fpAfterCommit && slices.ContainsFunc(evs, func(e sinkEvent) bool { return e.kind == "committed" && e.id == 1 }) {
						t.Fatal("the sink was told batch 1 committed, though the run was killed right after the commit")
					}
					if c.sink == "tx" {
						if got := dumpSinkBucket(t, q, txSinkName); got != refBucket {
							t.Fatalf("the TxSink's bucket differs from the run without a crash\n got:\n%s\nwant:\n%s", got, refBucket)
						}
					}
				})
			}
		})
	}
}

// checkCrashState checks that a crash at fp:1 left the checkpoint where
// the failpoint says, and returns its last committed batch (-1: none).
// Batch 1 is planned and read ahead while batch 0 is merged and committed
// (loop), and its plan is written in batch 0's commit: at after-plan batch
// 0 is logged but not committed and batch 1 not logged; at mid-fetch batch
// 0 may be committed and batch 1 logged; from after-wal on, batch 0 is
// committed and batch 1 logged; at after-commit batch 1 is committed and
// batch 2, read ahead, logged.
func checkCrashState(t *testing.T, q *Query, fp string) int64 {
	t.Helper()
	var states []string
	last := int64(-1)
	for _, p := range plans(t, q) { // "id:ranges:committed"
		id, _, _ := strings.Cut(p, ":")
		committed := p[strings.LastIndex(p, ":")+1:]
		states = append(states, id+":"+committed)
		if committed == "true" {
			last, _ = strconv.ParseInt(id, 10, 64)
		}
	}
	got := strings.Join(states, " ")
	wantStates := map[string][]string{
		fpAfterPlan:    {"0:false"},
		fpMidFetch:     {"0:false", "0:true 1:false"},
		fpAfterWAL:     {"0:true 1:false"},
		fpAfterSink:    {"0:true 1:false"},
		fpBeforeCommit: {"0:true 1:false"},
		fpAfterCommit:  {"0:true 1:true 2:false"},
	}[fp]
	if !slices.Contains(wantStates, got) {
		t.Fatalf("after a crash at %s the checkpoint holds batches %q, want one of %q", fp, got, wantStates)
	}
	return last
}

// checkMeta checks the engine facts of every batch of q's checkpoint: a
// plan's processing time is set and its rate limit is rateLimit, its
// emitted rows are those of the commit before it, and its commit records
// the plan's facts with its own output added to the emitted rows.
func checkMeta(t *testing.T, q *Query, rateLimit int64) {
	t.Helper()
	infos, err := q.Batches()
	if err != nil {
		t.Fatal(err)
	}
	var emitted int64
	for _, bi := range infos {
		pm := bi.Plan.Meta
		if pm.ProcessingTime.IsZero() || pm.RateLimit != rateLimit || pm.EmittedRows != emitted {
			t.Fatalf("batch %d: plan meta %+v, want a processing time, rate limit %d, %d rows emitted before", bi.Plan.ID, pm, rateLimit, emitted)
		}
		if !bi.Committed {
			continue
		}
		cm := bi.Commit.Meta
		emitted += bi.Commit.OutputRows
		if !cm.ProcessingTime.Equal(pm.ProcessingTime) || cm.RateLimit != pm.RateLimit || cm.EmittedRows != emitted {
			t.Fatalf("batch %d: commit meta %+v, want the plan's %+v with %d rows emitted", bi.Plan.ID, cm, pm, emitted)
		}
	}
}

// checkReferenceOutput checks the output of the run without a crash
// against the input: the page views' last complete table, or their update
// rows folded in batch order, are the view counts; the LIMIT query emits
// 1000 rows in all, over more than one batch.
func checkReferenceOutput(t *testing.T, query string, out map[int64]string, want map[string]int64) {
	t.Helper()
	switch query {
	case "complete":
		sameCounts(t, countsOf(t, outputRows(t, out[int64(len(out)-1)])), want)
	case "update":
		got := map[string]int64{}
		for id := range int64(len(out)) {
			for k, n := range countsOf(t, outputRows(t, out[id])) {
				got[k] = n // an update row is the group's new count
			}
		}
		sameCounts(t, got, want)
	case "having":
		// Update rows set a page's count, deleted keys ("-page") remove
		// it: folded in batch order they are the pages still below the
		// threshold, and some page must have crossed it.
		got, deleted := map[string]int64{}, 0
		for id := range int64(len(out)) {
			for _, r := range outputRows(t, out[id]) {
				if k, ok := strings.CutPrefix(r[0], "-"); ok {
					if _, in := got[k]; !in {
						t.Fatalf("batch %d deletes %q, which is not in the result", id, k)
					}
					delete(got, k)
					deleted++
					continue
				}
				for k, n := range countsOf(t, [][]string{r}) {
					got[k] = n
				}
			}
		}
		sameCounts(t, got, belowHaving(want))
		if deleted == 0 {
			t.Fatalf("no page crossed views < %d: the test does not exercise retractions", havingBelow)
		}
	case "limit":
		var total int
		var nonEmpty int
		for id := range int64(len(out)) {
			n := len(outputRows(t, out[id]))
			total += n
			if n > 0 {
				nonEmpty++
			}
		}
		if total != 1000 || nonEmpty < 2 {
			t.Fatalf("the LIMIT 1000 query emitted %d rows in %d batches, want 1000 rows over two batches or more", total, nonEmpty)
		}
	}
}

// checkTxBucket checks a TxSink's bucket dump against the output
// delivered (out) and the view counts: the rows bucket holds every batch's
// lines once, in batch order; the batches bucket every batch's output; the
// groups bucket the counts.
func checkTxBucket(t *testing.T, dump string, out map[int64]string, want map[string]int64) {
	t.Helper()
	var rows, batches, groups []string
	for _, line := range strings.Split(strings.TrimSuffix(dump, "\n"), "\n") {
		path, kv, _ := strings.Cut(line, " ")
		k, v, _ := strings.Cut(kv, "=")
		uv, err := strconv.Unquote(v)
		if err != nil {
			t.Fatalf("dump line %q: %v", line, err)
		}
		switch path {
		case "/rows":
			rows = append(rows, uv)
		case "/batches":
			batches = append(batches, uv)
		case "/groups":
			uk, _ := strconv.Unquote(k)
			groups = append(groups, uk+"="+uv)
		default:
			t.Fatalf("dump line %q: unexpected bucket", line)
		}
	}
	var wantRows, wantBatches []string
	for id := range int64(len(out)) {
		wantBatches = append(wantBatches, out[id])
		for _, l := range strings.SplitAfter(out[id], "\n") {
			if l != "" {
				wantRows = append(wantRows, l)
			}
		}
	}
	if strings.Join(rows, "") != strings.Join(wantRows, "") {
		t.Fatalf("the TxSink's rows bucket holds\n%s\nwant every batch's rows once\n%s", strings.Join(rows, ""), strings.Join(wantRows, ""))
	}
	if !slices.Equal(batches, wantBatches) {
		t.Fatalf("the TxSink's batches bucket holds %q, want %q", batches, wantBatches)
	}
	slices.Sort(groups)
	if got, want := strings.Join(groups, " "), strings.Join(sortedCounts(want), " "); got != want {
		t.Fatalf("the TxSink's groups bucket holds %s, want %s", got, want)
	}
}

// TestCrashDuringCompaction kills the job inside the commits that compact
// the state log into the base's chunks (offsets/statebase.go), before and
// after they are durable, and checks that the restarted job ends with the
// state and batches of a run without a crash. 13,500 views of 7,000 pages
// in batches of 900: batch 4 crosses the log's 4096-change minimum and
// moves 4,500 groups into an empty base; batch 14 crosses twice the base
// and merges 9,000 logged changes, 2,000 of them overwrites, into its
// chunks.
func TestCrashDuringCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash tests")
	}
	const topic, n, pages = "wide", 13500, 7000
	b := kafkatest.Start(t, map[string]int32{topic: 3})
	recs := make([]kafkatest.Record, n)
	want := map[string]int64{}
	for i := range recs {
		page := fmt.Sprintf("/p/%05d", i%pages)
		want[page]++
		v := fmt.Sprintf(`{"timestamp":"2024-01-01T00:00:00Z","userid":"u%d","page":%q,"action":"view"}`, i%97, page)
		recs[i] = kafkatest.Record{Partition: int32(i % 3), Value: []byte(v)}
	}
	b.Produce(t, topic, recs)
	ends := b.EndOffsets(t, topic)
	schema, df := pageViews(t)
	// stateLog is the state log's size in dir's checkpoint: 0 right after
	// a compaction.
	stateLog := func(dir string) int64 {
		t.Helper()
		ck, err := checkpoint.Open(dir, checkpoint.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer ck.Close()
		logged, _, err := ck.StateLog()
		if err != nil {
			t.Fatal(err)
		}
		return logged
	}

	refDir := t.TempDir()
	if err := runChildOn(t, b.Addr, topic, refDir, ""); err != nil {
		t.Fatal(err)
	}
	refQ, err := New(baseConfig(schema, df, b.Addr, topic, refDir, &collector{}))
	if err != nil {
		t.Fatal(err)
	}
	refPlans := plans(t, refQ)
	if len(refPlans) != 15 {
		t.Fatalf("reference run committed %d batches, want 15", len(refPlans))
	}
	if got := stateLog(refDir); got != 0 {
		t.Fatalf("the reference run's state log holds %d changes, want 0 (compacted by batch 14)", got)
	}

	for _, c := range []struct {
		at     string
		logged int64 // the state log after the crash
	}{
		{fpBeforeCommit + ":4", 3600},  // batches 0-3 logged
		{fpAfterCommit + ":4", 0},      // compacted into the base
		{fpBeforeCommit + ":14", 8100}, // batches 5-13 logged
		{fpAfterCommit + ":14", 0},
	} {
		t.Run(c.at, func(t *testing.T) {
			dir := t.TempDir()
			if err := runChildOn(t, b.Addr, topic, dir, c.at); err != errKilled {
				t.Fatalf("child with failpoint %s was not killed: %v", c.at, err)
			}
			if got := stateLog(dir); got != c.logged {
				t.Fatalf("after a crash at %s the state log holds %d changes, want %d", c.at, got, c.logged)
			}
			if err := runChildOn(t, b.Addr, topic, dir, ""); err != nil {
				t.Fatalf("restart: %v", err)
			}
			q, err := New(baseConfig(schema, df, b.Addr, topic, dir, &collector{}))
			if err != nil {
				t.Fatal(err)
			}
			sameAsReference(t, q, refPlans, ends, want)
		})
	}
}

// sameAsReference checks a restarted job against the run without a crash:
// the same batches, contiguous up to ends, and the same counts.
func sameAsReference(t *testing.T, q *Query, refPlans []string, ends map[offsets.TopicPartition]int64, want map[string]int64) {
	t.Helper()
	if got := plans(t, q); strings.Join(got, "\n") != strings.Join(refPlans, "\n") {
		t.Fatalf("batches after crash and restart differ from the run without crash\n got %v\nwant %v", got, refPlans)
	}
	checkContiguous(t, q, ends)
	if !q.prog.Stateful() {
		return
	}
	rec, err := q.State()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	sameCounts(t, countsOf(t, recordRows(rec)), want)
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// The crash tests re-execute this test binary as a child process that runs
// the page-views query and kills itself with SIGKILL at a failpoint; the
// parent then restarts it without the failpoint and checks that the final
// state and the committed ranges equal those of a run without a crash.

const (
	envChild     = "MICROBATCH_CRASH_CHILD" // set: this process is a crash-test child
	envAddr      = "MICROBATCH_CRASH_ADDR"
	envDir       = "MICROBATCH_CRASH_DIR"
	envFailpoint = "MICROBATCH_CRASH_AT"    // "name:batchID", empty for none
	envTopic     = "MICROBATCH_CRASH_TOPIC" // default "clicks"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
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
	cfg := baseConfig(schema, df, os.Getenv(envAddr), topic, os.Getenv(envDir), ForEachBatch(func(context.Context, *Output) error { return nil }))
	cfg.NoSync = false // real fsyncs: the crash is real
	cfg.Source.MaxRatePerPartition = 300
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

func runChild(t *testing.T, addr, dir, failpoint string) error {
	t.Helper()
	return runChildOn(t, addr, "clicks", dir, failpoint)
}

func runChildOn(t *testing.T, addr, topic, dir, failpoint string) error {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envAddr+"="+addr, envDir+"="+dir, envFailpoint+"="+failpoint, envTopic+"="+topic)
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

func TestCrashAtEveryLifecyclePoint(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash tests")
	}
	b, want := clickTopic(t, 3, 3000)
	ends := b.EndOffsets(t, "clicks")
	schema, df := pageViews(t)

	// The reference: the same job without a crash.
	refDir := t.TempDir()
	if err := runChild(t, b.Addr, refDir, ""); err != nil {
		t.Fatal(err)
	}
	refQ, err := New(baseConfig(schema, df, b.Addr, "clicks", refDir, &collector{}))
	if err != nil {
		t.Fatal(err)
	}
	refPlans := plans(t, refQ)
	if len(refPlans) != 4 {
		t.Fatalf("reference run committed %d batches, want 4: %v", len(refPlans), refPlans)
	}

	for _, fp := range []string{fpAfterPlan, fpAfterWAL, fpMidFetch, fpAfterSink, fpBeforeCommit, fpAfterCommit} {
		t.Run(fp, func(t *testing.T) {
			dir := t.TempDir()
			if err := runChild(t, b.Addr, dir, fp+":1"); err != errKilled {
				t.Fatalf("child with failpoint %s:1 was not killed: %v", fp, err)
			}
			q, err := New(baseConfig(schema, df, b.Addr, "clicks", dir, &collector{}))
			if err != nil {
				t.Fatal(err)
			}
			// The crash left the checkpoint where the failpoint says.
			// Batch 1 is planned and read ahead while batch 0 is merged
			// and committed (loop), and its plan is written in batch 0's
			// commit: at after-plan batch 0 is logged but not committed
			// and batch 1 not logged; at mid-fetch batch 0 may be
			// committed and batch 1 logged; from after-wal on, batch 0 is
			// committed and batch 1 logged; at after-commit batch 1 is
			// committed and batch 2, read ahead, logged.
			var states []string
			for _, p := range plans(t, q) { // "id:ranges:committed"
				id, _, _ := strings.Cut(p, ":")
				states = append(states, id+":"+p[strings.LastIndex(p, ":")+1:])
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
			if err := runChild(t, b.Addr, dir, ""); err != nil {
				t.Fatalf("restart: %v", err)
			}
			sameAsReference(t, q, refPlans, ends, want)
		})
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
	rec, err := q.State()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	sameCounts(t, countsOf(t, recordRows(rec)), want)
}

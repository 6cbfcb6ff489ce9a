package engine

import (
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCrashApproxAggregates kills a query keeping approx_count_distinct,
// percentile_approx and first/last states (update mode, the "approx"
// crash query) at every failpoint of batch 1 and restarts it: the
// committed batches, every batch's output as finally delivered and the
// final state equal those of a run without a crash, byte for byte; the
// distinct users per page are within the default rsd (5%) of the exact
// count.
func TestCrashApproxAggregates(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash tests")
	}
	b, _ := clickTopic(t, 3, 3000)
	ends := b.EndOffsets(t, "clicks")
	schema, df := pageViews(t)
	newQuery := func(dir string) *Query {
		t.Helper()
		cfg := baseConfig(schema, df, b.Addr, "clicks", dir, &collector{})
		crashQueries["approx"](schema, &cfg)
		q, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	run := func(dir, events, failpoint string) error {
		return crashRun{addr: b.Addr, dir: dir, failpoint: failpoint, query: "approx", sink: "record", events: events}.run(t)
	}
	stateText := func(q *Query) string {
		t.Helper()
		rec, err := q.State()
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Release()
		var lines []string
		for _, r := range recordRows(rec) {
			lines = append(lines, strings.Join(r, "|"))
		}
		return strings.Join(lines, "\n")
	}

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
	refState := stateText(refQ)
	checkApproxUsers(t, refState, exactUsers(3000))

	for _, fp := range crashFailpoints {
		t.Run(fp, func(t *testing.T) {
			t.Parallel()
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
			if got := plans(t, q); strings.Join(got, "\n") != strings.Join(refPlans, "\n") {
				t.Fatalf("batches differ from the run without a crash\n got %v\nwant %v", got, refPlans)
			}
			checkContiguous(t, q, ends)
			if got := stateText(q); got != refState {
				t.Fatalf("state differs from the run without a crash\n got:\n%s\nwant:\n%s", got, refState)
			}
			evs := readSinkEvents(t, events)
			if got := runsOpened(evs); len(got) != 2 || got[1] != lastCommitted {
				t.Fatalf("the sink was opened with %v, want two runs, the second at %d", got, lastCommitted)
			}
			out, _ := deliveries(t, evs)
			if len(out) != len(refOut) {
				t.Fatalf("%d batches delivered, want %d", len(out), len(refOut))
			}
			for id := range int64(len(refOut)) {
				if out[id] != refOut[id] {
					t.Fatalf("batch %d: the output delivered differs from the run without a crash\n got:\n%s\nwant:\n%s", id, out[id], refOut[id])
				}
			}
		})
	}
}

// checkApproxUsers checks the users column of the approx query's state
// lines ("page|users|...") against the exact distinct users: within 5%.
func checkApproxUsers(t *testing.T, state string, exact map[string]int) {
	t.Helper()
	lines := strings.Split(state, "\n")
	if len(lines) != len(exact) {
		t.Fatalf("%d groups, want %d:\n%s", len(lines), len(exact), state)
	}
	for _, l := range lines {
		f := strings.Split(l, "|")
		est, err := strconv.Atoi(f[1])
		if err != nil || math.Abs(float64(est-exact[f[0]])) > 0.05*float64(exact[f[0]]) {
			t.Fatalf("page %s: approx_count_distinct %s, exact %d\n%s", f[0], f[1], exact[f[0]], state)
		}
	}
}

// exactUsers is the distinct users viewing each page in clicks(n, _, 0).
func exactUsers(n int) map[string]int {
	users := map[string]map[int]bool{}
	for k := 0; k < n; k++ {
		if k%3 == 0 {
			continue
		}
		page := clickPages[(k*k+3*k)%len(clickPages)]
		if users[page] == nil {
			users[page] = map[int]bool{}
		}
		users[page][k%97] = true
	}
	out := map[string]int{}
	for p, us := range users {
		out[p] = len(us)
	}
	return out
}

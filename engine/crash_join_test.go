package engine

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
)

// crashJoinQuery is the "join" crash query: clicks joined with the pages
// table at path (page, section), _partition, _offset, page, section.
// The table lives as long as the process (a crash-test child), so it is
// not released; a load error is left in the DataFrame for New to report.
func crashJoinQuery(schema *dataframe.Schema, path string, onChange dataframe.OnChange) *dataframe.DataFrame {
	ts, _ := dataframe.ParseSchema("page STRING, section STRING")
	tbl, err := dataframe.LoadTable(memory.NewGoAllocator(), "pages", dataframe.TableOptions{Path: path, Schema: ts, Header: true, OnChange: onChange})
	if err != nil {
		return dataframe.Source("events", schema).Select(dataframe.Col("no table: " + err.Error()))
	}
	return dataframe.Source("events", schema).
		Join(dataframe.Join{Table: tbl, Type: dataframe.InnerJoin, Alias: "s", Keys: []dataframe.JoinKey{{Stream: dataframe.Col("page"), Table: "page"}}}).
		Select(dataframe.Col("_partition"), dataframe.Col("_offset"), dataframe.Col("page"), dataframe.Col("section"))
}

// TestCrashJoin kills a stream-static join query (a CSV table, append
// mode, the recording sink) at every failpoint of batch 1 and restarts it
// with the table unchanged: the batches and every batch's delivered output
// equal a run without a crash. Then, killed after batch 1's write-ahead
// entry, the table file changes before the restart: the default onChange
// refuses to re-run batch 1, naming the table and the key to set, and
// delivers nothing; onChange useCurrent re-runs it, and batches 1 on are
// those of a run with the new table from the start (batch 0, committed
// before the crash, keeps the old table's rows).
func TestCrashJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash tests")
	}
	b, _ := clickTopic(t, 3, 3000)
	ends := b.EndOffsets(t, "clicks")
	tables := t.TempDir()
	v1, v2 := filepath.Join(tables, "v1.csv"), filepath.Join(tables, "v2.csv")
	writeSections(t, v1, sectionsV1)
	writeSections(t, v2, sectionsV2)
	schema, _ := pageViews(t)
	newQuery := func(dir string) *Query {
		t.Helper()
		cfg := baseConfig(schema, crashJoinQuery(schema, v1, dataframe.OnChangeUseCurrent), b.Addr, "clicks", dir, &collector{})
		cfg.OutputMode = dataframe.Append
		q, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	run := func(dir, events, table, onChange, failpoint string) error {
		return crashRun{addr: b.Addr, dir: dir, failpoint: failpoint, query: "join", sink: "record", events: events, table: table, onChange: onChange}.run(t)
	}
	reference := func(table string) ([]string, map[int64]string) {
		t.Helper()
		dir := t.TempDir()
		events := filepath.Join(t.TempDir(), "events")
		if err := run(dir, events, table, "", ""); err != nil {
			t.Fatal(err)
		}
		out, _ := deliveries(t, readSinkEvents(t, events))
		return plans(t, newQuery(dir)), out
	}
	refPlans, refOut := reference(v1)
	if len(refPlans) != 4 || len(refOut) != 4 {
		t.Fatalf("reference run: %d batches, %d delivered, want 4: %v", len(refPlans), len(refOut), refPlans)
	}
	_, refOutV2 := reference(v2)
	if refOutV2[1] == refOut[1] || refOutV2[1] == "" {
		t.Fatal("the two tables give the same output: the test would not see which was used")
	}
	sameOutput := func(t *testing.T, out map[int64]string, want func(id int64) string) {
		t.Helper()
		if len(out) != len(refOut) {
			t.Fatalf("%d batches delivered, want %d", len(out), len(refOut))
		}
		for id := range int64(len(refOut)) {
			if out[id] != want(id) {
				t.Fatalf("batch %d: delivered\n%s\nwant\n%s", id, out[id], want(id))
			}
		}
	}

	for _, fp := range crashFailpoints {
		t.Run(fp, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			events := filepath.Join(t.TempDir(), "events")
			if err := run(dir, events, v1, "", fp+":1"); err != errKilled {
				t.Fatalf("child with failpoint %s:1 was not killed: %v", fp, err)
			}
			q := newQuery(dir)
			checkCrashState(t, q, fp)
			if err := run(dir, events, v1, "", ""); err != nil {
				t.Fatalf("restart: %v", err)
			}
			if got := plans(t, q); strings.Join(got, "\n") != strings.Join(refPlans, "\n") {
				t.Fatalf("batches differ from the run without a crash\n got %v\nwant %v", got, refPlans)
			}
			checkContiguous(t, q, ends)
			out, _ := deliveries(t, readSinkEvents(t, events))
			sameOutput(t, out, func(id int64) string { return refOut[id] })
		})
	}

	t.Run("changed table", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		events := filepath.Join(t.TempDir(), "events")
		path := filepath.Join(t.TempDir(), "pages.csv")
		writeSections(t, path, sectionsV1)
		if err := run(dir, events, path, "", fpAfterWAL+":1"); err != errKilled {
			t.Fatalf("child was not killed: %v", err)
		}
		writeSections(t, path, sectionsV2)
		refused := filepath.Join(t.TempDir(), "events")
		err := run(dir, refused, path, "", "")
		if err == nil || errors.Is(err, errKilled) || !strings.Contains(err.Error(), `table "pages" (`+path+`)`) ||
			!strings.Contains(err.Error(), "tables.pages.onChange: useCurrent") {
			t.Fatalf("restart with a changed table and the default onChange: %v", err)
		}
		if out, _ := deliveries(t, readSinkEvents(t, refused)); len(out) != 0 {
			t.Fatalf("the refused restart delivered batches %v", out)
		}
		if err := run(dir, events, path, "useCurrent", ""); err != nil {
			t.Fatalf("restart with onChange useCurrent: %v", err)
		}
		q := newQuery(dir)
		if got := plans(t, q); strings.Join(got, "\n") != strings.Join(refPlans, "\n") {
			t.Fatalf("batches differ from the run without a crash\n got %v\nwant %v", got, refPlans)
		}
		out, _ := deliveries(t, readSinkEvents(t, events))
		sameOutput(t, out, func(id int64) string {
			if id == 0 {
				return refOut[0]
			}
			return refOutV2[id]
		})
	})
}

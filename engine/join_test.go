package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
)

// sectionsV1 and sectionsV2 are two versions of the static table pages.
var (
	sectionsV1 = map[string]string{"/home": "front", "/cart": "checkout", "/p/1": "catalog"}
	sectionsV2 = map[string]string{"/home": "landing", "/p/2": "catalog"}
)

func writeSections(t *testing.T, path string, m map[string]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("page,section\n")
	for _, p := range clickPages { // a stable order
		if s, ok := m[p]; ok {
			fmt.Fprintf(&b, "%s,%s\n", p, s)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// joinConfig is a stateless query over "clicks" joined with the table at
// path: offset, page, section, in append mode.
func joinConfig(t *testing.T, addr, dir, path string, opts dataframe.TableOptions) (Config, *dataframe.StaticTable) {
	t.Helper()
	schema, err := dataframe.ParseSchema(clickSchema)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := dataframe.ParseSchema("page STRING, section STRING")
	opts.Path, opts.Schema, opts.Header = path, ts, true
	tbl, err := dataframe.LoadTable(memory.NewGoAllocator(), "pages", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	df := dataframe.Source("events", schema).
		Join(dataframe.Join{Table: tbl, Type: dataframe.InnerJoin, Alias: "s", Keys: []dataframe.JoinKey{{Stream: dataframe.Col("page"), Table: "page"}}}).
		Select(dataframe.Col("_offset"), dataframe.Col("page"), dataframe.Col("section"))
	cfg := baseConfig(schema, df, addr, "clicks", dir, nil)
	cfg.OutputMode = dataframe.Append
	return cfg, tbl
}

// expectJoin is the join of clicks [from, until) with sections, computed
// from the generator.
func expectJoin(from, until int, sections map[string]string) [][]string {
	var out [][]string
	for k := from; k < until; k++ {
		page := clickPages[(k*k+3*k)%len(clickPages)]
		if s, ok := sections[page]; ok {
			out = append(out, []string{fmt.Sprint(k), page, s})
		}
	}
	return out
}

func sameRows(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// TestJoinAcrossReload changes the table's file while batch 0 is being
// read: batch 0 joins with the content it was planned with, batch 1 with
// the reloaded one; progress reports the table.
func TestJoinAcrossReload(t *testing.T) {
	b, _ := clickTopic(t, 1, 100)
	dir := t.TempDir()
	path := filepath.Join(t.TempDir(), "pages.csv")
	writeSections(t, path, sectionsV1)
	sink := &collector{}
	cfg, _ := joinConfig(t, b.Addr, dir, path, dataframe.TableOptions{RefreshInterval: time.Nanosecond})
	cfg.Sink = sink
	cfg.Executors = 1
	cfg.Allocator = checkedAlloc(t)
	cfg.Source.MaxOffsetsPerTrigger = 50
	var once sync.Once
	cfg.failpoint = func(name string, id int64) {
		if name == fpMidFetch && id == 0 {
			once.Do(func() { writeSections(t, path, sectionsV2) })
		}
	}
	var progress []Progress
	cfg.OnProgress = func(p Progress) { progress = append(progress, p) }
	runQuery(t, cfg)
	got := sink.all()
	if len(got) != 2 {
		t.Fatalf("%d batches, want 2", len(got))
	}
	sameRows(t, "batch 0 (the table as planned)", got[0].rows, expectJoin(0, 50, sectionsV1))
	sameRows(t, "batch 1 (after the reload)", got[1].rows, expectJoin(50, 100, sectionsV2))
	if len(progress) != 2 || len(progress[1].StaticTables) != 1 {
		t.Fatalf("progress %+v", progress)
	}
	if st := progress[1].StaticTables[0]; st.Name != "pages" || st.Rows != 2 || st.MemoryBytes <= 0 || st.Path != path {
		t.Fatalf("static table progress %+v", st)
	}
}

// failingSink fails every AddBatch: the batch stays planned, not committed.
type failingSink struct{}

func (failingSink) AddBatch(context.Context, *Output) error { return errors.New("sink down") }

// TestJoinRestartWithChangedTable re-runs a batch whose table changed
// after it was planned: refused by default, run with the current content
// with onChange useCurrent.
func TestJoinRestartWithChangedTable(t *testing.T) {
	b, _ := clickTopic(t, 1, 40)
	dir := t.TempDir()
	path := filepath.Join(t.TempDir(), "pages.csv")
	writeSections(t, path, sectionsV1)
	cfg, _ := joinConfig(t, b.Addr, dir, path, dataframe.TableOptions{})
	cfg.Sink = failingSink{}
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "sink down") {
		t.Fatalf("first run: %v", err)
	}
	writeSections(t, path, sectionsV2)

	sink := &collector{}
	cfg, _ = joinConfig(t, b.Addr, dir, path, dataframe.TableOptions{})
	cfg.Sink = sink
	q, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = q.Run(context.Background())
	if !errors.Is(err, dataframe.ErrTableChanged) || !strings.Contains(err.Error(), `table "pages" (`+path+`)`) ||
		!strings.Contains(err.Error(), "tables.pages.onChange: useCurrent") {
		t.Fatalf("re-run with a changed table: %v", err)
	}
	if len(sink.all()) != 0 {
		t.Fatal("the refused batch wrote output")
	}

	cfg, _ = joinConfig(t, b.Addr, dir, path, dataframe.TableOptions{OnChange: dataframe.OnChangeUseCurrent})
	cfg.Sink = sink
	runQuery(t, cfg)
	got := sink.all()
	if len(got) != 1 || got[0].id != 0 {
		t.Fatalf("batches %+v, want batch 0 re-run", got)
	}
	sameRows(t, "batch 0 re-run with the current table", got[0].rows, expectJoin(0, 40, sectionsV2))
}

// A static table's malformed lines are reported when the query starts:
// how many, and the first with its file, line and column.
func TestJoinTableMalformedWarning(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	dir := t.TempDir()
	path := filepath.Join(dir, "pages.csv")
	if err := os.WriteFile(path, []byte("page,section\n/home,front\n/cart\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _ := joinConfig(t, b.Addr, t.TempDir(), path, dataframe.TableOptions{})
	cfg.Sink = &collector{}
	var logs strings.Builder
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	runQuery(t, cfg)
	want := `msg="static table has malformed lines, each kept as a row of NULLs (PERMISSIVE; its key too, so it joins nothing) or dropped (DROPMALFORMED)" query=test table=pages malformed=1 first="` + path + `:3: expected 2 fields, got 1"`
	if !strings.Contains(logs.String(), want) {
		t.Fatalf("logs:\n%s\nwant a line containing\n%s", logs.String(), want)
	}
}

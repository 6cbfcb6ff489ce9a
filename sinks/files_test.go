package sinks_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/sinks"
)

// record builds a record of the DDL schema from a JSON array of rows.
func record(t *testing.T, mem memory.Allocator, ddl, rows string) arrow.Record {
	t.Helper()
	schema, err := dataframe.ParseSchema(ddl)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := array.RecordFromJSON(mem, schema.Arrow(), strings.NewReader(rows), array.WithUseNumber())
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// writeBatches runs a file sink over batches 0, 1, ... of recs (one
// record each) in append mode, as the engine would, and releases them.
func writeBatches(t *testing.T, opts sinks.FilesOptions, recs ...arrow.Record) {
	t.Helper()
	s, err := sinks.NewFiles(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Open(ctx, -1); err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		out := &engine.Output{BatchID: int64(i), Mode: dataframe.Append, Schema: rec.Schema(), Records: []arrow.Record{rec}}
		if err := s.AddBatch(ctx, out); err != nil {
			t.Fatal(err)
		}
		if err := s.Committed(ctx, int64(i)); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
}

// listFiles lists the files a Hive-style reader sees under dir (names
// starting with "_" or "." skipped, directories too), relative, sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && (strings.HasPrefix(d.Name(), "_") || strings.HasPrefix(d.Name(), ".")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

type typedRow struct {
	S  *string    `parquet:"s"`
	I  *int32     `parquet:"i"`
	B  *int64     `parquet:"b"`
	D  *float64   `parquet:"d"`
	OK *bool      `parquet:"ok"`
	T  *time.Time `parquet:"t"`
	DT *int32     `parquet:"dt"`
}

// Parquet files written from the Arrow records hold the query's types
// exactly, as an independent reader (parquet-go) sees them: INT as
// INT32, BIGINT as INT64, TIMESTAMP as a UTC-adjusted microsecond
// timestamp, DATE as DATE (days since the epoch); NULLs as nulls.
func TestFilesParquetTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	rec := record(t, mem, "s STRING, i INT, b BIGINT, d DOUBLE, ok BOOLEAN, t TIMESTAMP, dt DATE",
		`[{"s":"a","i":1,"b":9007199254740993,"d":1.5,"ok":true,"t":"2024-03-01T10:20:30.123456Z","dt":"2024-03-01"},
		  {"s":null,"i":null,"b":null,"d":null,"ok":null,"t":null,"dt":null}]`)
	writeBatches(t, sinks.FilesOptions{Path: dir, Allocator: mem, Compression: "zstd"}, rec)
	if got := listFiles(t, dir); !slices.Equal(got, []string{"part-00000-00000.parquet"}) {
		t.Fatalf("files = %q", got)
	}
	name := filepath.Join(dir, "part-00000-00000.parquet")
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pf.Schema().String(), `message schema {
	optional binary s (STRING);
	optional int32 i (INT(32,true));
	optional int64 b (INT(64,true));
	optional double d;
	optional boolean ok;
	optional int64 t (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	optional int32 dt (DATE);
}`; got != want {
		t.Fatalf("schema =\n%s\nwant\n%s", got, want)
	}
	rows, err := parquet.ReadFile[typedRow](name)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	r := rows[0]
	wantT := time.Date(2024, 3, 1, 10, 20, 30, 123456000, time.UTC)
	if *r.S != "a" || *r.I != 1 || *r.B != 9007199254740993 || *r.D != 1.5 || !*r.OK || !r.T.Equal(wantT) || *r.DT != 19783 {
		t.Fatalf("row 0 = %v %v %v %v %v %v %v", *r.S, *r.I, *r.B, *r.D, *r.OK, *r.T, *r.DT)
	}
	if r := rows[1]; r.S != nil || r.I != nil || r.B != nil || r.D != nil || r.OK != nil || r.T != nil || r.DT != nil {
		t.Fatalf("row 1 = %+v, want all null", r)
	}
}

// partitionBy puts each row under col=value/, the value escaped as Hive
// does and NULL or "" as __HIVE_DEFAULT_PARTITION__, without the column
// in the files; maxRecordsPerFile splits a partition's rows into files
// numbered across the batch.
func TestFilesPartitionByJSON(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	rec := record(t, mem, "day STRING, n BIGINT",
		`[{"day":"2024-01-01","n":1},{"day":"a/b:c=d%","n":2},{"day":null,"n":3},{"day":"2024-01-01","n":4},
		  {"day":"","n":5},{"day":"2024-01-01","n":6}]`)
	rec2 := record(t, mem, "day STRING, n BIGINT", `[{"day":"2024-01-01","n":7}]`)
	writeBatches(t, sinks.FilesOptions{Path: dir, Format: "json", PartitionBy: []string{"day"}, MaxRecordsPerFile: 2, Allocator: mem}, rec, rec2)
	want := map[string]string{
		"day=2024-01-01/part-00000-00000.json":                 "{\"n\":1}\n{\"n\":4}\n",
		"day=2024-01-01/part-00000-00001.json":                 "{\"n\":6}\n",
		"day=__HIVE_DEFAULT_PARTITION__/part-00000-00002.json": "{\"n\":3}\n{\"n\":5}\n",
		"day=a%2Fb%3Ac%3Dd%25/part-00000-00003.json":           "{\"n\":2}\n",
		"day=2024-01-01/part-00001-00000.json":                 "{\"n\":7}\n",
	}
	got := listFiles(t, dir)
	if len(got) != len(want) {
		t.Fatalf("files = %q", got)
	}
	for _, f := range got {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[f]; !ok || string(b) != w {
			t.Errorf("%s = %q, want %q (listed: %v)", f, b, w, ok)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "_microbatch", "staging")); len(ents) != 0 {
		t.Errorf("staging holds %d entries after commit", len(ents))
	}
}

// CSV files have a header line, then rows in the state command's
// encoding.
func TestFilesCSV(t *testing.T) {
	dir := t.TempDir()
	rec := record(t, memory.DefaultAllocator, "s STRING, d DOUBLE, t TIMESTAMP, dt DATE",
		`[{"s":"x, y","d":0.5,"t":"2024-03-01T10:20:30Z","dt":"2024-03-01"},{"s":"","d":null,"t":null,"dt":null}]`)
	writeBatches(t, sinks.FilesOptions{Path: dir, Format: "csv"}, rec)
	b, err := os.ReadFile(filepath.Join(dir, "part-00000-00000.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "s,d,t,dt\n\"x, y\",0.5,2024-03-01T10:20:30Z,2024-03-01\n\"\",,,\n"; string(b) != want {
		t.Fatalf("csv = %q, want %q", b, want)
	}
}

// A batch the commit log holds is not written again (a re-run after a
// crash between the sink and the checkpoint); a log ahead of the
// checkpoint is refused; the log keeps the last 100 batches.
func TestFilesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var recs []arrow.Record
	for range 103 {
		recs = append(recs, record(t, memory.DefaultAllocator, "n BIGINT", `[{"n":1}]`))
	}
	writeBatches(t, sinks.FilesOptions{Path: dir, Format: "json"}, recs...)
	ents, _ := os.ReadDir(filepath.Join(dir, "_microbatch", "commits"))
	var ids []int
	for _, e := range ents {
		id, _ := strconv.Atoi(e.Name())
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) != 100 || ids[0] != 3 || ids[99] != 102 {
		t.Fatalf("commit log holds batches %v, want 3 to 102", ids)
	}
	s, err := sinks.NewFiles(sinks.FilesOptions{Path: dir, Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Open(ctx, 100)
	if err == nil || !strings.Contains(err.Error(), "is at batch 102, ahead of the checkpoint's last committed batch 100") {
		t.Fatalf("Open(100) = %v", err)
	}
	if err := s.Open(ctx, 101); err != nil {
		t.Fatal(err)
	}
	rec := record(t, memory.DefaultAllocator, "n BIGINT", `[{"n":2}]`)
	defer rec.Release()
	if err := s.AddBatch(ctx, &engine.Output{BatchID: 102, Mode: dataframe.Append, Schema: rec.Schema(), Records: []arrow.Record{rec}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "part-00102-00000.json")); string(b) != "{\"n\":1}\n" {
		t.Fatalf("batch 102 was written again: %q", b)
	}
}

// Bad options and modes are refused with the reason.
func TestFilesRefusals(t *testing.T) {
	for _, c := range []struct {
		opts sinks.FilesOptions
		want string
	}{
		{sinks.FilesOptions{Path: "x", Format: "orc"}, `format "orc": want parquet, json or csv`},
		{sinks.FilesOptions{Path: "x", Compression: "lz4"}, `compression "lz4": want snappy, zstd, gzip or none`},
		{sinks.FilesOptions{Path: "x", Format: "json", Compression: "snappy"}, `format json takes gzip or none`},
		{sinks.FilesOptions{Path: "x", PartitionBy: []string{"a", "a"}}, `partitionBy "a": empty or repeated column`},
		{sinks.FilesOptions{}, `path is required`},
	} {
		if _, err := sinks.NewFiles(c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewFiles(%+v) = %v, want %q", c.opts, err, c.want)
		}
	}
	schema, _ := dataframe.ParseSchema("a STRING, n BIGINT")
	s, _ := sinks.NewFiles(sinks.FilesOptions{Path: "x", PartitionBy: []string{"b"}})
	if err := s.CheckSchema(schema.Arrow(), dataframe.Update); err == nil || !strings.Contains(err.Error(), "output mode update: the files sink writes append mode only") {
		t.Errorf("update mode: %v", err)
	}
	if err := s.CheckSchema(schema.Arrow(), dataframe.Append); err == nil || !strings.Contains(err.Error(), `partitionBy column "b" is not an output column (a, n)`) {
		t.Errorf("missing column: %v", err)
	}
	s, _ = sinks.NewFiles(sinks.FilesOptions{Path: "x", PartitionBy: []string{"a", "n"}})
	if err := s.CheckSchema(schema.Arrow(), dataframe.Append); err == nil || !strings.Contains(err.Error(), "partitionBy names every output column") {
		t.Errorf("every column: %v", err)
	}
}

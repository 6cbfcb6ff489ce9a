package dataframe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
)

const productsDDL = "product_id BIGINT, category STRING, margin DOUBLE"

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadProducts(t testing.TB, content string, opts TableOptions) *StaticTable {
	t.Helper()
	if opts.Path == "" {
		opts.Path = writeFile(t, "products.csv", content)
	}
	if opts.Schema == nil {
		opts.Schema = mustSchema(t, productsDDL)
	}
	mem := newMem(t)
	tbl, err := LoadTable(mem, "products", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// runJoin runs a stateless program over CSV events and returns its rows.
func runJoin(t *testing.T, df *DataFrame, events ...string) [][]any {
	t.Helper()
	p, err := Compile(df, Append)
	if err != nil {
		t.Fatal(err)
	}
	mem := newMem(t)
	task := p.NewTask(mem)
	defer task.Release()
	rec, _, err := decodeAll(t, mem, df.SourceSchema(), DecoderOptions{Format: FormatCSV, Columns: p.InputColumns()}, events...)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Consume(rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	var out [][]any
	for _, r := range task.Output() {
		out = append(out, rows(t, r)...)
		r.Release()
	}
	return out
}

const eventsDDL = "user STRING, product_id BIGINT, price DOUBLE"

var joinEvents = []string{"u1,1,10", "u2,2,20", "u3,9,30", "u4,,40", "u5,3,50"}

const productsCSV = "product_id,category,margin\n1,shoes,0.5\n2,hats,0.25\n3,bags,\n3,bags2,0.1\n"

func TestJoinInnerAndLeft(t *testing.T) {
	tbl := loadProducts(t, productsCSV, TableOptions{Header: true})
	src := Source("events", mustSchema(t, eventsDDL))
	keys := []JoinKey{{Stream: Col("product_id"), Table: "product_id"}}
	inner := src.Join(Join{Table: tbl, Type: InnerJoin, Alias: "p", Keys: keys}).
		Select(Col("user"), Col("category"), Col("p.product_id"))
	equalRows(t, runJoin(t, inner, joinEvents...), [][]any{
		{"u1", "shoes", int64(1)}, {"u2", "hats", int64(2)}, {"u5", "bags", int64(3)}, {"u5", "bags2", int64(3)},
	})
	left := src.Join(Join{Table: tbl, Type: LeftJoin, Alias: "p", Keys: keys}).
		Select(Col("user"), Col("category"), Col("margin"))
	equalRows(t, runJoin(t, left, joinEvents...), [][]any{
		{"u1", "shoes", 0.5}, {"u2", "hats", 0.25}, {"u3", nil, nil}, {"u4", nil, nil}, {"u5", "bags", nil}, {"u5", "bags2", 0.1},
	})
	// An extra ON condition: a LEFT join keeps the stream row, with NULLs,
	// when no match passes it.
	cond := src.Join(Join{Table: tbl, Type: LeftJoin, Alias: "p", Keys: keys, Cond: Col("margin").Gt(Lit(0.2))}).
		Select(Col("user"), Col("category"))
	equalRows(t, runJoin(t, cond, joinEvents...), [][]any{
		{"u1", "shoes"}, {"u2", "hats"}, {"u3", nil}, {"u4", nil}, {"u5", nil},
	})
	innerCond := src.Join(Join{Table: tbl, Type: InnerJoin, Keys: keys, Cond: Col("price").Lt(Col("margin").Mul(Lit(100)))}).
		Select(Col("user"))
	equalRows(t, runJoin(t, innerCond, joinEvents...), [][]any{{"u1"}, {"u2"}})
}

func TestJoinStringKeysAndAggregate(t *testing.T) {
	tbl := loadProducts(t, `{"category":"shoes","dept":"apparel"}`+"\n"+`{"category":"hats","dept":"apparel"}`+"\n"+`{"category":"bags","dept":"leather"}`+"\n",
		TableOptions{Path: writeFile(t, "cats.json", `{"category":"shoes","dept":"apparel"}`+"\n"+`{"category":"hats","dept":"apparel"}`+"\n"+`{"category":"bags","dept":"leather"}`+"\n"),
			Schema: mustSchema(t, "category STRING, dept STRING")})
	src := Source("events", mustSchema(t, "user STRING, category STRING, price DOUBLE"))
	df := src.Filter(Col("price").Gt(Lit(1))).
		Join(Join{Table: tbl, Type: InnerJoin, Keys: []JoinKey{{Stream: Col("category"), Table: "category"}}}).
		GroupBy(Col("dept")).Agg(Sum(Col("price")).As("revenue")).OrderBy(Col("dept").Asc())
	p, err := Compile(df, Complete)
	if err != nil {
		t.Fatal(err)
	}
	mem := newMem(t)
	st := p.NewState(mem)
	for _, task := range runTasks(t, mem, p, df.SourceSchema(), FormatCSV, []string{"a,shoes,10", "b,hats,5", "c,bags,7", "d,socks,9", "e,shoes,0.5"}, 2, 2, st) {
		task.Release()
	}
	rec, err := st.Result(false)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	equalRows(t, rows(t, rec), [][]any{{"apparel", 15.0}, {"leather", 7.0}})
}

func TestJoinRefusals(t *testing.T) {
	tbl := loadProducts(t, productsCSV, TableOptions{Header: true})
	src := Source("events", mustSchema(t, eventsDDL))
	for _, tc := range []struct {
		df   *DataFrame
		want string
	}{
		{src.Join(Join{Table: tbl, Type: InnerJoin, Keys: []JoinKey{{Stream: Col("user"), Table: "product_id"}}}),
			`join key types differ: user is STRING, products.product_id is BIGINT`},
		{src.Join(Join{Table: tbl, Type: 3, Keys: []JoinKey{{Stream: Col("product_id"), Table: "product_id"}}}), "RIGHT and FULL joins"},
		{src.GroupBy(Col("user")).Agg(Count()).Join(Join{Table: tbl, Type: InnerJoin, Keys: []JoinKey{{Stream: Col("user"), Table: "category"}}}), "a join after an aggregation"},
		{src.Join(Join{Table: tbl, Type: InnerJoin, Keys: []JoinKey{{Stream: Col("product_id"), Table: "sku"}}}), `has no column sku`},
	} {
		if err := tc.df.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestLoadTableErrors(t *testing.T) {
	s := mustSchema(t, productsDDL)
	mem := newMem(t)
	_, err := LoadTable(mem, "products", TableOptions{Path: filepath.Join(t.TempDir(), "missing.csv"), Schema: s})
	if !errors.Is(err, ErrTable) || !strings.Contains(err.Error(), "missing.csv") {
		t.Fatalf("missing file: %v", err)
	}
	bad := writeFile(t, "p.csv", "1,shoes,0.5\n2,hats,lots\n")
	_, err = LoadTable(mem, "products", TableOptions{Path: bad, Schema: s, Mode: FailFast})
	if err == nil || !strings.Contains(err.Error(), bad+`:2: column margin:`) {
		t.Fatalf("FAILFAST: %v", err)
	}
	tbl, err := LoadTable(mem, "products", TableOptions{Path: bad, Schema: s, Mode: DropMalformed})
	if err != nil {
		t.Fatal(err)
	}
	if info := tbl.Info(); info.Rows != 1 || info.Malformed != 1 || info.MemoryBytes == 0 || info.FirstMalformed != bad+`:2: column margin: not a DOUBLE: "lots"` {
		t.Fatalf("DROPMALFORMED: %+v", info)
	}
	tbl.Release()
	tbl, err = LoadTable(mem, "products", TableOptions{Path: bad, Schema: s, Mode: Permissive})
	if err != nil {
		t.Fatal(err)
	}
	if info := tbl.Info(); info.Rows != 2 || info.Malformed != 1 || info.FirstMalformed != bad+`:2: column margin: not a DOUBLE: "lots"` {
		t.Fatalf("PERMISSIVE: %+v", info)
	}
	tbl.Release()
	dup := writeFile(t, "d.csv", "1,shoes,0.5\n2,hats,0.1\n1,boots,0.2\n")
	_, err = LoadTable(mem, "products", TableOptions{Path: dup, Schema: s, Key: []string{"product_id"}})
	if err == nil || !strings.Contains(err.Error(), dup+":3: duplicate key product_id=1 (first at line 1)") {
		t.Fatalf("duplicate key: %v", err)
	}
}

func TestTableReloadPins(t *testing.T) {
	path := writeFile(t, "p.csv", "1,shoes,0.5\n")
	tbl := loadProducts(t, "", TableOptions{Path: path})
	src := Source("events", mustSchema(t, eventsDDL))
	df := src.Join(Join{Table: tbl, Type: LeftJoin, Keys: []JoinKey{{Stream: Col("product_id"), Table: "product_id"}}}).Select(Col("user"), Col("category"))
	p, err := Compile(df, Append)
	if err != nil {
		t.Fatal(err)
	}
	mem := newMem(t)
	pin := p.PinTables()
	h1 := pin.Hashes()["products"]
	if err := os.WriteFile(path, []byte("1,boots,0.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := tbl.Reload(true); err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if tbl.Hash() == h1 {
		t.Fatal("hash unchanged")
	}
	run := func(task *Task) [][]any {
		defer task.Release()
		rec, _, err := decodeAll(t, mem, df.SourceSchema(), DecoderOptions{Format: FormatCSV, Columns: p.InputColumns()}, "u1,1,1")
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Release()
		if err := task.Consume(rec); err != nil {
			t.Fatal(err)
		}
		var out [][]any
		for _, r := range task.Output() {
			out = append(out, rows(t, r)...)
			r.Release()
		}
		return out
	}
	equalRows(t, run(p.NewTaskPinned(mem, pin)), [][]any{{"u1", "shoes"}}) // the batch pinned before the reload
	pin.Release()
	equalRows(t, run(p.NewTask(mem)), [][]any{{"u1", "boots"}})
}

// A reload that cannot read the file waits for the next refreshInterval
// before it tries (and the engine warns) again; it used to try before
// every batch.
func TestReloadFailureWaitsForTheInterval(t *testing.T) {
	path := writeFile(t, "p.csv", "1,shoes,0.5\n")
	const interval = 300 * time.Millisecond
	tbl, err := LoadTable(newMem(t), "products", TableOptions{Path: path, Schema: mustSchema(t, productsDDL), RefreshInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(interval + 50*time.Millisecond)
	if _, err := tbl.Reload(false); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("reload of a missing file once the interval passed: %v", err)
	}
	if changed, err := tbl.Reload(false); changed || err != nil {
		t.Fatalf("a reload right after a failure: %v, %v; want no attempt before the next interval", changed, err)
	}
}

// A table's TIMESTAMP without an offset is read in its TimeZone, as the
// stream's are in the session time zone.
func TestTableTimeZone(t *testing.T) {
	ny, _ := LoadTimeZone("America/New_York")
	path := writeFile(t, "t.csv", "1,2024-07-01 12:00:00\n2,2024-07-01T12:00:00Z\n")
	tbl, err := LoadTable(newMem(t), "t", TableOptions{Path: path, Schema: mustSchema(t, "id BIGINT, at TIMESTAMP"), TimeZone: ny})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	got := tbl.cur.rec.Column(1).(*array.Timestamp)
	if a, b := FormatTimestamp(int64(got.Value(0))), FormatTimestamp(int64(got.Value(1))); a != "2024-07-01 16:00:00" || b != "2024-07-01 12:00:00" {
		t.Fatalf("table timestamps %s, %s (UTC); want 16:00 (New York noon) and 12:00", a, b)
	}
}

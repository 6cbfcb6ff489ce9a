package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
)

// joinTable writes and loads the join scenario's static table: rows pages
// /products/1 ... /products/rows, each with one of 1000 categories. The
// clickstream's product pages are all in it; its other pages are not.
func joinTable(dir string, rows int) (*dataframe.StaticTable, error) {
	var b strings.Builder
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&b, "/products/%d,cat%d\n", i, i%1000)
	}
	path := filepath.Join(dir, "pages.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	s, err := dataframe.ParseSchema("page STRING, category STRING")
	if err != nil {
		return nil, err
	}
	return dataframe.LoadTable(memory.NewGoAllocator(), "pages", dataframe.TableOptions{Path: path, Schema: s, Key: []string{"page"}})
}

// joinQuery is clickQuery with the page's category from t:
// WHERE action = 'view' LEFT JOIN pages GROUP BY category, count(*).
func joinQuery(t *dataframe.StaticTable) (*dataframe.Schema, *dataframe.DataFrame, error) {
	schema, err := dataframe.ParseSchema(clickSchema)
	if err != nil {
		return nil, nil, err
	}
	df := dataframe.Source("events", schema).
		Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
		Join(dataframe.Join{Table: t, Type: dataframe.LeftJoin, Alias: "p", Keys: []dataframe.JoinKey{{Stream: dataframe.Col("page"), Table: "page"}}}).
		GroupBy(dataframe.Col("category")).
		Agg(dataframe.Count().As("views"))
	return schema, df, df.Err()
}

// joinScenario measures the click query with and without a stream-static
// join against a -join-rows table, in this process, interleaved -runs
// times, and prints the medians, their ratio and the load average.
func joinScenario(ctx context.Context, cfg *config) error {
	res := &Result{}
	cl, err := setupTopic(ctx, cfg, res)
	if err != nil {
		return err
	}
	defer cl.close()
	dir, err := os.MkdirTemp("", "microbatch-bench-join-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tbl, err := joinTable(dir, cfg.joinRows)
	if err != nil {
		return err
	}
	defer tbl.Release()
	var plain, joined []float64
	for run := 0; run < cfg.runs; run++ {
		o := cfg.engineOptions(cl.addr, false)
		o.sink = "none"
		er, err := runEngine(ctx, o)
		if err != nil {
			return err
		}
		plain = append(plain, er.MsgsPerSec)
		o.joinTable = tbl
		er, err = runEngine(ctx, o)
		if err != nil {
			return err
		}
		joined = append(joined, er.MsgsPerSec)
		logf("run %d: without join %.0f msgs/s, with join %.0f msgs/s", run+1, plain[run], joined[run])
	}
	load, _ := os.ReadFile("/proc/loadavg")
	info := tbl.Info()
	p, j := median(plain), median(joined)
	fmt.Printf("join scenario: %d messages, %d partitions, table %d rows (%.1f MiB with its index)\n", cfg.messages, cfg.partitions, info.Rows, float64(info.MemoryBytes)/(1<<20))
	fmt.Printf("without join: %.0f msgs/s (median of %d)\nwith join:    %.0f msgs/s\nratio:        %.2f\nload average: %s", p, cfg.runs, j, j/p, load)
	return nil
}

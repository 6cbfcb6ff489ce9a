package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets/checkpoint"
	"github.com/microbatch/microbatch/sql"
)

const salesSchema = "page STRING, price DOUBLE, qty BIGINT"

func sale(page string, price float64, qty int) kafkatest.Record {
	return kafkatest.Record{Value: []byte(fmt.Sprintf(`{"page":%q,"price":%g,"qty":%d}`, page, price, qty))}
}

// salesQuery is the SQL query over salesSchema (or ddl) as the engine
// receives it.
func salesQuery(t *testing.T, ddl, query string) (*dataframe.Schema, *dataframe.DataFrame) {
	t.Helper()
	schema, err := dataframe.ParseSchema(ddl)
	if err != nil {
		t.Fatal(err)
	}
	df, err := sql.Compile(query, "events", schema)
	if err != nil {
		t.Fatal(err)
	}
	return schema, df
}

// salesConfig runs the stateful sales query, written with the DataFrame
// API: total and count of sales over 1 per page.
func salesConfig(t *testing.T, addr, dir string, sink Sink, log *bytes.Buffer) Config {
	schema, err := dataframe.ParseSchema(salesSchema)
	if err != nil {
		t.Fatal(err)
	}
	df := dataframe.Source("events", schema).
		Filter(dataframe.Col("price").Gt(dataframe.Lit(1.0))).
		GroupBy(dataframe.Col("page")).
		Agg(dataframe.Sum(dataframe.Col("price")).As("total"), dataframe.Count().As("n"))
	cfg := baseConfig(schema, df, addr, "sales", dir, sink)
	if log != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	return cfg
}

func rowsText(c collected) string { return fmt.Sprint(c.rows) }

// A stateful query may change its WHERE clause, its projection outside the
// aggregates and HAVING, and be rewritten from the DataFrame API to SQL:
// the state carries on and the run logs what changed.
func TestChangedWhereKeepsState(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"sales": 1})
	b.Produce(t, "sales", []kafkatest.Record{sale("/a", 2.5, 1), sale("/a", 0.5, 3), sale("/b", 4, 0)})
	dir := t.TempDir()
	sink := &collector{}
	cfg := salesConfig(t, b.Addr, dir, sink, nil)
	runQuery(t, cfg)
	if got := rowsText(sink.last(t)); got != "[[/a 2.5 1] [/b 4 1]]" {
		t.Fatalf("first run: %s", got)
	}

	b.Produce(t, "sales", []kafkatest.Record{sale("/a", 0.5, 2), sale("/b", 1, 0), sale("/c", 7, 1)})
	var log bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	// qty INT instead of BIGINT: no aggregate or key reads it.
	cfg.Schema, cfg.Query = salesQuery(t, "page STRING, price DOUBLE, qty INT",
		"select SUM(price) as s, Page, COUNT(*) as c from events where qty >= 1 group by PAGE having count(*) < 10")
	runQuery(t, cfg)
	// /a: 2.5 and 1 from before, plus 0.5 (qty 2); /b: unchanged (qty 0); /c new.
	if got := rowsText(sink.last(t)); got != "[[3 /a 2] [4 /b 1] [7 /c 1]]" {
		t.Fatalf("after the change: %s, want the old state carried on", got)
	}
	for _, want := range []string{
		`level=WARN msg="query changed since the checkpoint's last run; the checkpoint's offsets and state are kept" query=test field=schema old="page STRING, price DOUBLE, qty BIGINT" new="page STRING, price DOUBLE, qty INT"`,
		`field=query old="Source events [page STRING, price DOUBLE, qty BIGINT]\nFilter (price > 1.0D)\nAggregate [page] [sum(price) AS total, count(*) AS n]" new=`,
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, log.String())
		}
	}

	// The new fingerprint is stored: the next run logs no change.
	log.Reset()
	runQuery(t, cfg)
	if strings.Contains(log.String(), "query changed") {
		t.Fatalf("a run with the stored query logged a change:\n%s", log.String())
	}
}

// A change of what the state means is refused, naming the change.
func TestStateChangesAreRefused(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"sales": 1})
	b.Produce(t, "sales", []kafkatest.Record{sale("/a", 2.5, 1)})
	dir := t.TempDir()
	base := salesConfig(t, b.Addr, dir, &collector{}, nil)
	runQuery(t, base)

	for _, tc := range []struct {
		name, ddl, query string
		change           func(*Config)
		want             string
	}{
		{name: "group key", query: "SELECT qty, sum(price), count(*) FROM events GROUP BY qty",
			want: "group key 1 changed from page STRING to qty BIGINT"},
		{name: "group key added", query: "SELECT page, qty, sum(price), count(*) FROM events GROUP BY page, qty",
			want: "group key qty BIGINT added"},
		{name: "aggregate removed", query: "SELECT page, sum(price) FROM events GROUP BY page",
			want: "aggregate count(*) removed"},
		{name: "new aggregate", query: "SELECT page, sum(price), count(*), stddev(price) FROM events GROUP BY page",
			want: "aggregate stddev_samp(price DOUBLE) added"},
		{name: "approx_count_distinct", query: "SELECT page, sum(price), count(*), approx_count_distinct(qty) FROM events GROUP BY page",
			want: "aggregate approx_count_distinct(qty BIGINT, precision 9) added"},
		{name: "approx_count_distinct's rsd", query: "SELECT page, sum(price), approx_count_distinct(qty, 0.01) FROM events GROUP BY page",
			want: "aggregate 2 changed from count(*) to approx_count_distinct(qty BIGINT, precision 14)"},
		{name: "percentile_approx", query: "SELECT page, sum(price), count(*), percentile_approx(price, 0.9, 100) FROM events GROUP BY page",
			want: "aggregate percentile_approx(price DOUBLE, 0.9, k 269) added"},
		{name: "first", query: "SELECT page, sum(price), count(*), first(qty) FROM events GROUP BY page",
			want: "aggregate first(qty BIGINT) added"},
		{name: "last", query: "SELECT page, sum(price), count(*), last(qty, true) FROM events GROUP BY page",
			want: "aggregate last(qty BIGINT, ignoreNulls) added"},
		{name: "collect_set", query: "SELECT page, sum(price), count(*), collect_set(qty) FROM events GROUP BY page",
			want: "aggregate collect_set(qty BIGINT) added"},
		{name: "scalar function in a group key", query: "SELECT lower(page), sum(price), count(*) FROM events GROUP BY lower(page)",
			want: "group key 1 changed from page STRING to lower(page STRING)"},
		{name: "aggregate in HAVING", query: "SELECT page, sum(price), count(*) FROM events GROUP BY page HAVING max(qty) > 1",
			want: "aggregate max(qty BIGINT) added"},
		{name: "aggregate input type", ddl: "page STRING, price BIGINT, qty BIGINT", query: "SELECT page, sum(price), count(*) FROM events GROUP BY page",
			want: "aggregate 1 changed from sum(price DOUBLE) to sum(price BIGINT)"},
		{name: "aggregate order", query: "SELECT page, count(*), sum(price) FROM events GROUP BY page",
			want: "aggregate order changed from sum(price DOUBLE), count(*) to count(*), sum(price DOUBLE)"},
		{name: "topic", change: func(c *Config) { c.Source.Subscribe = []string{"sales", "returns"} },
			want: `source changed from "subscribe=sales" to "subscribe=returns,sales"`},
		{name: "output mode", change: func(c *Config) { c.OutputMode = dataframe.Update },
			want: `outputMode changed from "complete" to "update"`},
		{name: "aggregation removed", query: "SELECT page, price FROM events", change: func(c *Config) { c.OutputMode = dataframe.Append },
			want: "aggregation changed from group by [page STRING] [sum(price DOUBLE), count(*)] to none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			if tc.query != "" {
				ddl := tc.ddl
				if ddl == "" {
					ddl = salesSchema
				}
				cfg.Schema, cfg.Query = salesQuery(t, ddl, tc.query)
			}
			if tc.change != nil {
				tc.change(&cfg)
			}
			q, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = q.Run(context.Background())
			want := fmt.Sprintf("checkpoint %s was written by a different query: %s; use a new checkpointLocation", filepath.Join(dir, "checkpoint.db"), tc.want)
			if !errors.Is(err, checkpoint.ErrIncompatible) || err.Error() != want {
				t.Fatalf("Run:\n got %v\nwant %s", err, want)
			}
		})
	}
}

// A stateless query may change anything: its columns, its WHERE, its
// output mode and its topics. Positions are per partition: a topic new to
// the query starts at startingOffsets, the others where they were.
func TestStatelessQueryChangesFreely(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"sales": 1, "returns": 1})
	b.Produce(t, "sales", []kafkatest.Record{sale("/a", 2.5, 1), sale("/b", 0.5, 3)})
	b.Produce(t, "returns", []kafkatest.Record{sale("/r", 9, 1)})
	dir := t.TempDir()
	sink := &collector{}
	cfg := salesConfig(t, b.Addr, dir, sink, nil)
	cfg.Schema, cfg.Query = salesQuery(t, salesSchema, "SELECT page, price FROM events WHERE price > 1")
	runQuery(t, cfg)
	if got := rowsText(sink.last(t)); got != "[[/a 2.5]]" {
		t.Fatalf("first run: %s", got)
	}

	b.Produce(t, "sales", []kafkatest.Record{sale("/c", 0.25, 4)})
	var log bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	cfg.Schema, cfg.Query = salesQuery(t, "page STRING, qty INT", "SELECT _topic, qty * 2 AS q2 FROM events WHERE qty > 0")
	cfg.Source.Subscribe = []string{"sales", "returns"}
	cfg.OutputMode = dataframe.Update
	runQuery(t, cfg)
	var got []string
	for _, c := range sink.all()[1:] {
		got = append(got, rowsText(c))
	}
	if strings.Join(got, " ") != "[[returns 2] [sales 8]]" && strings.Join(got, " ") != "[[sales 8] [returns 2]]" {
		t.Fatalf("after the change: %v, want the new sales record and all of returns", got)
	}
	for _, want := range []string{
		`field=source old="subscribe=sales" new="subscribe=returns,sales"`,
		`field=outputMode old=append new=update`,
		"the checkpoint's offsets are kept",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, log.String())
		}
	}
}

// A checkpoint written by the release before query evolution stores only
// texts. An equivalent query (here a new WHERE, in SQL) carries on with its
// state and the fingerprint is stored in the new form; a different group
// key is refused, naming it.
func TestLegacyFingerprint(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"sales": 1})
	b.Produce(t, "sales", []kafkatest.Record{sale("/a", 2.5, 1), sale("/b", 4, 0)})
	dir := t.TempDir()
	sink := &collector{}
	base := salesConfig(t, b.Addr, dir, sink, nil)
	runQuery(t, base)

	// What that release stored: fingerprintJSON{V: 1, Fingerprint{Schema,
	// Query, Source, Format, OutputMode}}, the engine leaving OutputMode
	// empty.
	legacy, err := json.Marshal(map[string]any{"v": 1, "Schema": salesSchema, "Query": base.Query.String(),
		"Source": "subscribe=sales", "Format": "json", "OutputMode": ""})
	if err != nil {
		t.Fatal(err)
	}
	storeLegacy := func() {
		db, err := bbolt.Open(filepath.Join(dir, "checkpoint.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("fingerprint"), legacy)
		}); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() string {
		db, err := bbolt.Open(filepath.Join(dir, "checkpoint.db"), 0o600, &bbolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v string
		db.View(func(tx *bbolt.Tx) error { v = string(tx.Bucket([]byte("meta")).Get([]byte("fingerprint"))); return nil })
		return v
	}

	storeLegacy()
	different := base
	different.Schema, different.Query = salesQuery(t, salesSchema, "SELECT qty, sum(price) AS total, count(*) AS n FROM events WHERE price > 1 GROUP BY qty")
	q, err := New(different)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Run(context.Background()); !errors.Is(err, checkpoint.ErrIncompatible) ||
		!strings.Contains(err.Error(), "group key 1 changed from page STRING to qty BIGINT") {
		t.Fatalf("legacy fingerprint, different group key: %v", err)
	}
	if stored() != string(legacy) {
		t.Fatalf("a refused run rewrote the legacy fingerprint: %s", stored())
	}

	b.Produce(t, "sales", []kafkatest.Record{sale("/a", 1.5, 1), sale("/b", 8, 0)})
	equivalent := base
	equivalent.Schema, equivalent.Query = salesQuery(t, salesSchema, "SELECT page, sum(price) AS total, count(*) AS n FROM events WHERE price > 1 AND qty > 0 GROUP BY page")
	runQuery(t, equivalent)
	if got := rowsText(sink.last(t)); got != "[[/a 4 2] [/b 4 1]]" {
		t.Fatalf("after the upgrade: %s, want the old state carried on", got)
	}
	if s := stored(); !strings.Contains(s, `"Form":1`) || !strings.Contains(s, `"GroupKeys":["page STRING"]`) {
		t.Fatalf("stored fingerprint after the upgrade: %s", s)
	}
}

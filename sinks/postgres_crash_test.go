package sinks_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/gen"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/internal/pgtest"
	"github.com/microbatch/microbatch/sinks"
	"github.com/microbatch/microbatch/sql"
)

// The Postgres crash child runs one of these queries over e-commerce
// events into the Postgres sink, killing itself like the Kafka one.
const (
	envPGURL   = "SINKS_CRASH_PGURL"
	envPGQuery = "SINKS_CRASH_PGQUERY" // funnel | branded

	ecommerceSchema = "event_time TIMESTAMP, event_type STRING, product_id BIGINT, category_id BIGINT, category_code STRING, brand STRING, price DOUBLE, user_id BIGINT, user_session STRING"
)

var pgQueries = map[string]struct {
	sql  string
	mode dataframe.OutputMode
}{
	// The brand funnel of examples/ecommerce, in update mode, with the
	// latest event time as a TIMESTAMP column.
	"funnel": {`SELECT brand,
	       sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END) AS views,
	       sum(CASE WHEN event_type = 'cart' THEN 1 ELSE 0 END) AS carts,
	       sum(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) AS purchases,
	       max(event_time) AS last_seen
	FROM events WHERE brand IS NOT NULL GROUP BY brand`, dataframe.Update},
	// Every event of a branded product, in append mode.
	"branded": {`SELECT user_id, product_id, event_type, brand, price, event_time FROM events WHERE brand IS NOT NULL`, dataframe.Append},
}

func pgCrashChild() error {
	q := pgQueries[os.Getenv(envPGQuery)]
	schema, err := dataframe.ParseSchema(ecommerceSchema)
	if err != nil {
		return err
	}
	plan, err := sql.Compile(q.sql, "events", schema)
	if err != nil {
		return err
	}
	p, err := sinks.NewPostgres(sinks.PostgresOptions{URL: os.Getenv(envPGURL), Table: "out", CreateTable: true, Job: "crash"})
	if err != nil {
		return err
	}
	batch, _ := strconv.ParseInt(os.Getenv(envKillBatch), 10, 64)
	if os.Getenv(envKillAt) == "before-pg-commit" {
		sinks.SetPostgresBeforeCommit(p, func(id int64) {
			if id == batch {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		})
	}
	e, err := engine.New(engine.Config{
		Name:   "crash",
		Source: engine.KafkaSource{BootstrapServers: os.Getenv(envAddr), Subscribe: []string{"in"}, StartingOffsets: "earliest", MaxRatePerPartition: 300},
		Format: dataframe.FormatCSV, Schema: schema, Query: plan, OutputMode: q.mode,
		Trigger: engine.Trigger{AvailableNow: true}, Sink: killAround{p, os.Getenv(envKillAt), batch},
		CheckpointLocation: os.Getenv(envDir),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return e.Run(ctx)
}

// ecommerceEvents returns n generated e-commerce CSV records.
func ecommerceEvents(t *testing.T, n int) []kafkatest.Record {
	t.Helper()
	g, err := gen.New("ecommerce", 11)
	if err != nil {
		t.Fatal(err)
	}
	var recs []kafkatest.Record
	var r gen.Record
	for i := 0; i < n; i++ {
		g.Next(&r)
		recs = append(recs, kafkatest.Record{Value: append([]byte(nil), r.Value...)})
	}
	return recs
}

// pgReference computes query's final table from the records with
// encoding/csv and Go maps, not the engine: one line per row, sorted, as
// pgRows prints them.
func pgReference(t *testing.T, query string, recs []kafkatest.Record) []string {
	t.Helper()
	type funnel struct {
		views, carts, purchases int64
		last                    time.Time
	}
	brands := map[string]*funnel{}
	var out []string
	for _, r := range recs {
		f, err := csv.NewReader(strings.NewReader(string(r.Value))).Read()
		if err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse("2006-01-02 15:04:05 MST", f[0])
		if err != nil {
			t.Fatal(err)
		}
		typ, brand := f[1], f[5]
		switch query {
		case "funnel":
			if brand == "" {
				continue
			}
			b := brands[brand]
			if b == nil {
				b = &funnel{}
				brands[brand] = b
			}
			switch typ {
			case "view":
				b.views++
			case "cart":
				b.carts++
			case "purchase":
				b.purchases++
			}
			if ts.After(b.last) {
				b.last = ts
			}
		case "branded":
			if brand != "" {
				price, err := strconv.ParseFloat(f[6], 64)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, fmt.Sprintf("%s|%s|%s|%s|%v|%s", f[7], f[2], typ, brand, price, ts.UTC().Format(time.RFC3339)))
			}
		}
	}
	for name, b := range brands {
		out = append(out, fmt.Sprintf("%s|%d|%d|%d|%s", name, b.views, b.carts, b.purchases, b.last.UTC().Format(time.RFC3339)))
	}
	sort.Strings(out)
	return out
}

// pgRows reads table's rows with pgx, one line per row, columns joined by
// "|", NULL as <nil>, timestamps in RFC 3339 UTC, sorted.
func pgRows(t *testing.T, url, table string) []string {
	t.Helper()
	ctx := context.Background()
	c := pgConn(t, url)
	rows, err := c.Query(ctx, "SELECT * FROM "+pgx.Identifier{table}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		var fs []string
		for _, v := range vals {
			switch v := v.(type) {
			case time.Time:
				fs = append(fs, v.UTC().Format(time.RFC3339))
			case nil:
				fs = append(fs, "<nil>")
			default:
				fs = append(fs, fmt.Sprint(v))
			}
		}
		out = append(out, strings.Join(fs, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// A process killed with SIGKILL inside batch 2's Postgres transaction
// (rows and progress row written, not committed), between its Postgres
// commit and its bbolt commit, or after both, and restarted: the table
// equals a reference computed from the input without the engine, for the
// brand funnel in update mode and for an append query.
func TestPostgresSinkCrashExactlyOnce(t *testing.T) {
	pgtest.Start(t)
	recs := ecommerceEvents(t, 1500)
	for _, query := range []string{"funnel", "branded"} {
		want := pgReference(t, query, recs)
		for _, at := range []string{"before-pg-commit", "after-pg-commit", "after-bbolt-commit"} {
			t.Run(query+"/"+at, func(t *testing.T) {
				b := kafkatest.Start(t, map[string]int32{"in": 1})
				b.Produce(t, "in", recs)
				url := pgtest.DB(t)
				dir := filepath.Join(t.TempDir(), "ckpt")
				if err := runChildKind(t, "pg", b.Addr, dir, at, 2, envPGURL+"="+url, envPGQuery+"="+query); !errors.Is(err, errKilled) {
					t.Fatalf("first run: %v, want killed", err)
				}
				if err := runChildKind(t, "pg", b.Addr, dir, "", -1, envPGURL+"="+url, envPGQuery+"="+query); err != nil {
					t.Fatalf("restart: %v", err)
				}
				got := pgRows(t, url, "out")
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("out (%d rows) =\n%s\nwant (%d)\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
				}
				var batch int64
				pgScan(t, url, "SELECT batch_id FROM microbatch_progress WHERE job = 'crash' AND sink = 'out'", &batch)
				if batch < 4 {
					t.Fatalf("progress row at batch %d; want the run split into at least 5 batches", batch)
				}
			})
		}
	}
}

// pgScan runs a one-row query and scans it into dst.
func pgScan(t *testing.T, url, query string, dst ...any) {
	t.Helper()
	if err := pgConn(t, url).QueryRow(context.Background(), query).Scan(dst...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// pgConn connects to url, closed when t ends.
func pgConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/internal/pgtest"
	"github.com/microbatch/microbatch/sinks"
	"github.com/microbatch/microbatch/sql"
)

// runPG runs query (mode) over recs, produced to "in" first, into the
// Postgres sink's table "out" of url, resuming the checkpoint ckpt; wrap,
// when set, wraps the sink. It returns Run's error.
func runPG(t *testing.T, b *kafkatest.Broker, url, schemaDDL, query string, mode dataframe.OutputMode, ckpt string, recs []kafkatest.Record, wrap func(*sinks.Postgres) engine.Sink) error {
	t.Helper()
	b.Produce(t, "in", recs)
	schema, err := dataframe.ParseSchema(schemaDDL)
	if err != nil {
		t.Fatal(err)
	}
	format := dataframe.FormatJSON
	if schemaDDL == ecommerceSchema {
		format = dataframe.FormatCSV
	}
	plan, err := sql.Compile(query, "events", schema)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sinks.NewPostgres(sinks.PostgresOptions{URL: url, Table: "out", CreateTable: true, Job: "pv", RetryInterval: 100 * time.Millisecond, NumRetries: 20})
	if err != nil {
		t.Fatal(err)
	}
	var sink engine.Sink = p
	if wrap != nil {
		sink = wrap(p)
	}
	q, err := engine.New(engine.Config{
		Name:   "pv",
		Source: engine.KafkaSource{BootstrapServers: b.Addr, Subscribe: []string{"in"}, StartingOffsets: "earliest", MaxRatePerPartition: 300},
		Format: format, Schema: schema, Query: plan, OutputMode: mode,
		Trigger: engine.Trigger{AvailableNow: true}, Sink: sink, CheckpointLocation: ckpt,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return q.Run(ctx)
}

func pageRecords(pages ...string) []kafkatest.Record {
	var recs []kafkatest.Record
	for _, p := range pages {
		recs = append(recs, kafkatest.Record{Value: []byte(`{"page":"` + p + `"}`)})
	}
	return recs
}

// An update query with HAVING into Postgres: the table is created keyed by
// the group-by column, a changed group is updated in place and a group
// that stops satisfying HAVING is deleted.
func TestPostgresSinkUpdateHavingDeletes(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"in": 1})
	url := pgtest.DB(t)
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	const q = "SELECT page, count(*) AS views FROM events GROUP BY page HAVING count(*) < 3"
	run := func(pages ...string) {
		t.Helper()
		if err := runPG(t, b, url, "page STRING", q, dataframe.Update, ckpt, pageRecords(pages...), nil); err != nil {
			t.Fatal(err)
		}
	}
	run("a", "a", "b", "c")
	if got := pgRows(t, url, "out"); fmt.Sprint(got) != "[a|2 b|1 c|1]" {
		t.Fatalf("after batch 0: %v", got)
	}
	run("a", "c")
	if got := pgRows(t, url, "out"); fmt.Sprint(got) != "[b|1 c|2]" {
		t.Fatalf("after batch 1 (a left the result): %v", got)
	}
	var pk string
	pgScan(t, url, `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'out'::regclass AND contype = 'p'`, &pk)
	if pk != "PRIMARY KEY (page)" {
		t.Fatalf("primary key %q, want PRIMARY KEY (page)", pk)
	}
}

// Complete mode: after each batch the table is the whole result.
func TestPostgresSinkComplete(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"in": 1})
	url := pgtest.DB(t)
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	const q = "SELECT page, count(*) AS views FROM events GROUP BY page ORDER BY views DESC, page LIMIT 2"
	for i, c := range []struct {
		pages []string
		want  string
	}{{[]string{"a", "b", "b", "c"}, "[a|1 b|2]"}, {[]string{"c", "c"}, "[b|2 c|3]"}} {
		if err := runPG(t, b, url, "page STRING", q, dataframe.Complete, ckpt, pageRecords(c.pages...), nil); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(pgRows(t, url, "out")); got != c.want {
			t.Fatalf("after batch %d: %s, want %s", i, got, c.want)
		}
	}
}

// The server restarts twice mid-run (pg_ctl restart -m fast): between two
// batches, and inside a batch's transaction before its COMMIT. The sink
// reconnects and the table holds every row exactly once.
func TestPostgresSinkServerRestart(t *testing.T) {
	srv := pgtest.Start(t)
	b := kafkatest.Start(t, map[string]int32{"in": 1})
	url := pgtest.DB(t)
	recs := ecommerceEvents(t, 1500)
	restarts := 0
	err := runPG(t, b, url, ecommerceSchema, pgQueries["branded"].sql, dataframe.Append, filepath.Join(t.TempDir(), "ckpt"), recs,
		func(p *sinks.Postgres) engine.Sink {
			sinks.SetPostgresBeforeCommit(p, func(id int64) {
				if id == 3 && restarts == 1 {
					restarts++
					srv.Restart(t)
				}
			})
			return restartingSink{p, func(id int64) {
				if id == 1 && restarts == 0 {
					restarts++
					srv.Restart(t)
				}
			}}
		})
	if err != nil {
		t.Fatal(err)
	}
	if restarts != 2 {
		t.Fatalf("%d restarts, want 2 (the run had too few batches)", restarts)
	}
	want := pgReference(t, "branded", recs)
	if got := pgRows(t, url, "out"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("out has %d rows, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

// An existing table whose columns do not fit the output is refused before
// the first batch is written, naming each mismatched column and both
// types; nothing is written.
func TestPostgresSinkTableMismatch(t *testing.T) {
	srv := pgtest.Start(t)
	b := kafkatest.Start(t, map[string]int32{"in": 1})
	url := pgtest.DB(t)
	db := url[strings.LastIndexByte(url, '/')+1 : strings.IndexByte(url, '?')]
	srv.Exec(t, db, "CREATE TABLE out (brand text PRIMARY KEY, views integer, carts bigint, purchases text)")
	err := runPG(t, b, url, ecommerceSchema, pgQueries["funnel"].sql, dataframe.Update, filepath.Join(t.TempDir(), "ckpt"), ecommerceEvents(t, 10), nil)
	const want = `postgres sink: check table: table out does not fit the query's output: column views is integer, want bigint (the query's BIGINT); column purchases is text, want bigint (the query's BIGINT); column last_seen is missing, want timestamp with time zone (the query's TIMESTAMP)`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("err = %v\nwant it to end with %s", err, want)
	}
	var n, batch int64
	pgScan(t, url, "SELECT count(*) FROM out", &n)
	pgScan(t, url, "SELECT batch_id FROM microbatch_progress", &batch)
	if n != 0 || batch != -1 {
		t.Fatalf("out has %d rows, progress at batch %d; want 0 rows, -1", n, batch)
	}
}

// A second instance of the job fences the first: the first one's next
// batch fails with "another instance took over" and writes nothing.
func TestPostgresSinkFenced(t *testing.T) {
	url := pgtest.DB(t)
	ctx := context.Background()
	open := func() *sinks.Postgres {
		p, err := sinks.NewPostgres(sinks.PostgresOptions{URL: url, Table: "out", CreateTable: true, Job: "j"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Open(ctx, -1); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	t.Cleanup(func() { mem.AssertSize(t, 0) }) // after the records' releases
	batch := func(id int64, n int64) *engine.Output {
		schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
		bld := array.NewRecordBuilder(mem, schema)
		defer bld.Release()
		bld.Field(0).(*array.Int64Builder).Append(n)
		rec := bld.NewRecord()
		t.Cleanup(rec.Release)
		return &engine.Output{BatchID: id, Mode: dataframe.Append, Schema: schema, Records: []arrow.Record{rec}}
	}
	old := open()
	if err := old.AddBatch(ctx, batch(0, 10)); err != nil {
		t.Fatal(err)
	}
	newer := open()
	err := old.AddBatch(ctx, batch(1, 11))
	if !errors.Is(err, sinks.ErrTookOver) || !strings.Contains(err.Error(), "another instance took over") {
		t.Fatalf("old instance's batch 1: %v, want ErrTookOver", err)
	}
	if err := newer.AddBatch(ctx, batch(1, 21)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(pgRows(t, url, "out")); got != "[10 21]" {
		t.Fatalf("out = %s, want [10 21]", got)
	}
}

// Bad credentials fail Open at once, naming the user and the host but not
// the password; an unreachable server fails after the retry budget with
// the connection's error.
func TestPostgresSinkConnectErrors(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	bad := fmt.Sprintf("postgres://%s:s3cret-pw@127.0.0.1:%d/postgres?sslmode=disable", pgtest.User, srv.Port)
	p, err := sinks.NewPostgres(sinks.PostgresOptions{URL: bad, Table: "out", Job: "j"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = p.Open(ctx, -1)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`connect to 127.0.0.1:%d as user "microbatch"`, srv.Port)) ||
		!strings.Contains(err.Error(), "password authentication failed") || strings.Contains(err.Error(), "s3cret") || time.Since(start) > 5*time.Second {
		t.Fatalf("Open with a wrong password: %v (after %s)", err, time.Since(start))
	}

	down := fmt.Sprintf("postgres://u@127.0.0.1:%d/db?sslmode=disable", freePort(t))
	p, err = sinks.NewPostgres(sinks.PostgresOptions{URL: down, Table: "out", Job: "j", NumRetries: 2, RetryInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Open(ctx, -1)
	if err == nil || !strings.Contains(err.Error(), "postgres sink: open failed 3 times (fetchOffset.numRetries 2): connect to") ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Open of a server that is down: %v", err)
	}
}

// A bad URL or an unknown sslmode is refused by NewPostgres, without the
// password.
func TestNewPostgresBadURL(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"postgres://u:pw-secret@h/db?sslmode=sometimes", "sslmode is invalid"},
		{"postgres://u:pw-secret@h:notaport/db", "invalid port"},
		{"", "url is not set"},
	} {
		_, err := sinks.NewPostgres(sinks.PostgresOptions{URL: c.url, Table: "t"})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("NewPostgres(%q): %v, want an error with %q", c.url, err, c.want)
		}
	}
}

// freePort returns a TCP port nothing listens on.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// restartingSink calls before with each batch id, then the sink.
type restartingSink struct {
	*sinks.Postgres
	before func(batchID int64)
}

func (s restartingSink) AddBatch(ctx context.Context, out *engine.Output) error {
	s.before(out.BatchID)
	return s.Postgres.AddBatch(ctx, out)
}

// Update mode's temporary tables are made once per connection and emptied
// by each COMMIT, not created and dropped by every batch; after the server
// restarts (inside batch 0's transaction, which had just made them, and
// between batches 1 and 2) the new connection makes them again. The table
// the sink creates for update mode leaves half of each page free
// (fillfactor 50), so that its updates are HOT.
func TestPostgresSinkUpdateTempTablesPerConnection(t *testing.T) {
	srv := pgtest.Start(t)
	url := pgtest.DB(t)
	ctx := context.Background()
	p, err := sinks.NewPostgres(sinks.PostgresOptions{URL: url, Table: "out", CreateTable: true, Job: "pv", RetryInterval: 100 * time.Millisecond, NumRetries: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	restarted := false
	sinks.SetPostgresBeforeCommit(p, func(id int64) {
		if id == 0 && !restarted {
			restarted = true
			srv.Restart(t)
		}
	})
	if err := p.Open(ctx, -1); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "page", Type: arrow.BinaryTypes.String},
		{Name: "views", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	keySchema := arrow.NewSchema(schema.Fields()[:1], nil)
	batch := func(id int64, changed map[string]int64, deleted ...string) {
		t.Helper()
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		for page, views := range changed {
			b.Field(0).(*array.StringBuilder).Append(page)
			b.Field(1).(*array.Int64Builder).Append(views)
		}
		rec := b.NewRecord()
		defer rec.Release()
		kb := array.NewRecordBuilder(mem, keySchema)
		defer kb.Release()
		kb.Field(0).(*array.StringBuilder).AppendValues(deleted, nil)
		del := kb.NewRecord()
		defer del.Release()
		if err := p.AddBatch(ctx, &engine.Output{BatchID: id, Mode: dataframe.Update, Schema: schema, KeySchema: keySchema, Records: []arrow.Record{rec}, Deleted: del}); err != nil {
			t.Fatalf("batch %d: %v", id, err)
		}
	}
	temps := func() string {
		t.Helper()
		var s string
		pgScan(t, url, `SELECT coalesce(string_agg(relname || ' ' || oid, ', ' ORDER BY relname), '') FROM pg_class
			WHERE relpersistence = 't' AND relname LIKE 'microbatch_%'`, &s)
		return s
	}
	batch(0, map[string]int64{"a": 1, "b": 1, "c": 1})
	if !restarted {
		t.Fatal("the server was not restarted in batch 0")
	}
	first := temps()
	if strings.Count(first, "microbatch_") != 2 {
		t.Fatalf("temporary tables after batch 0: %q, want microbatch_changed and microbatch_deleted", first)
	}
	batch(1, map[string]int64{"a": 2, "d": 1}, "b")
	if got := temps(); got != first {
		t.Fatalf("temporary tables after batch 1: %q, want the same as after batch 0: %q", got, first)
	}
	if got := pgRows(t, url, "out"); fmt.Sprint(got) != "[a|2 c|1 d|1]" {
		t.Fatalf("after batch 1: %v", got)
	}
	srv.Restart(t)
	batch(2, map[string]int64{"c": 2, "e": 1}, "a", "d")
	if got := pgRows(t, url, "out"); fmt.Sprint(got) != "[c|2 e|1]" {
		t.Fatalf("after batch 2 (a new connection): %v", got)
	}
	if got := temps(); strings.Count(got, "microbatch_") != 2 || got == first {
		t.Fatalf("temporary tables after batch 2: %q, want two new ones (the old connection's went with it: %q)", got, first)
	}
	var opts string
	pgScan(t, url, `SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = 'out'::regclass`, &opts)
	if opts != "fillfactor=50" {
		t.Fatalf("out's reloptions %q, want fillfactor=50", opts)
	}
}

// A DATE output column is a PostgreSQL date column, its values the days
// the query computed (here a group key, upserted across two batches).
func TestPostgresSinkDate(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"in": 1})
	url := pgtest.DB(t)
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	const q = "SELECT d, count(*) AS n, date_add(max(d), 1) AS next FROM events GROUP BY d"
	run := func(days ...string) {
		t.Helper()
		var recs []kafkatest.Record
		for _, d := range days {
			recs = append(recs, kafkatest.Record{Value: []byte(`{"d":"` + d + `"}`)})
		}
		if err := runPG(t, b, url, "d DATE", q, dataframe.Update, ckpt, recs, nil); err != nil {
			t.Fatal(err)
		}
	}
	run("2024-02-29", "1969-12-31", "2024-02-29")
	run("2024-02-29", "0001-01-01")
	var typ string
	pgScan(t, url, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'out'::regclass AND attname = 'd'`, &typ)
	if typ != "date" {
		t.Fatalf("column d is %s, want date", typ)
	}
	var got string
	pgScan(t, url, `SELECT string_agg(d::text || '|' || n || '|' || next::text, ' ' ORDER BY d) FROM out`, &got)
	if want := "0001-01-01|1|0001-01-02 1969-12-31|1|1970-01-01 2024-02-29|3|2024-03-01"; got != want {
		t.Fatalf("rows %s, want %s", got, want)
	}
}

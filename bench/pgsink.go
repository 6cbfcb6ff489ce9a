package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/pgtest"
	"github.com/microbatch/microbatch/sinks"
)

// pgSinkBench is -sink postgres: the Postgres sink's upsert throughput in
// update mode, driven directly (no Kafka, no engine). Pass 1 inserts
// -keys distinct keys (default 1M) in batches of -pg-batch rows; pass 2
// changes every one of them (each row an ON CONFLICT update), as an update
// query's running counts do. Each batch is one AddBatch: COPY into a temp
// table, INSERT ... ON CONFLICT, progress row, COMMIT. Without -pgurl (or
// $PGURL) it starts a throwaway server as the tests do (fsync off) and
// reports its CPU time per pass too.
func pgSinkBench(ctx context.Context, c *config) error {
	url := c.pgURL
	serverCPU := func() (time.Duration, error) { return 0, nil }
	if url == "" {
		srv, err := pgtest.Launch()
		if err != nil {
			return err
		}
		defer srv.Stop()
		url = srv.URL("postgres")
		serverCPU = srv.CPU
		logf("started PostgreSQL on %s:%d (fsync off)", srv.Host, srv.Port)
	}
	keys := int64(c.keys)
	if keys == 0 {
		keys = 1_000_000
	}
	table := fmt.Sprintf("bench_upsert_%d", time.Now().UnixNano())
	p, err := sinks.NewPostgres(sinks.PostgresOptions{URL: url, Table: table, CreateTable: true, Job: "bench"})
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Open(ctx, -1); err != nil {
		return err
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "userid", Type: arrow.PrimitiveTypes.Int64},
		{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "views", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "last_seen", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	keySchema := arrow.NewSchema(schema.Fields()[:1], nil)
	stopProf, err := startProfile(c.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProf()
	id := int64(0)
	for pass := 1; pass <= 2; pass++ {
		start := time.Now()
		cpu0, err := serverCPU()
		if err != nil {
			return err
		}
		var sinkTime time.Duration
		for lo := int64(0); lo < keys; lo += int64(c.pgBatch) {
			rec := upsertBatch(schema, lo, min(lo+int64(c.pgBatch), keys), int64(pass))
			t0 := time.Now()
			err := p.AddBatch(ctx, &engine.Output{BatchID: id, Mode: dataframe.Update, Schema: schema, KeySchema: keySchema, Records: []arrow.Record{rec}})
			sinkTime += time.Since(t0)
			rec.Release()
			if err != nil {
				return err
			}
			id++
		}
		cpu, err := serverCPU()
		if err != nil {
			return err
		}
		what := "inserted"
		if pass == 2 {
			what = "updated"
		}
		fmt.Printf("postgres sink, update mode, %d distinct keys, batches of %d: pass %d %s %d rows in %s: %.0f changed rows/s (AddBatch time %s)",
			keys, c.pgBatch, pass, what, keys, time.Since(start).Round(time.Millisecond), float64(keys)/sinkTime.Seconds(), sinkTime.Round(time.Millisecond))
		if cpu > 0 {
			// Wall time stretches with other load on the machine; the
			// server's CPU time does much less.
			fmt.Printf("; server CPU %s (%.0f rows per server CPU second)", (cpu - cpu0).Round(10*time.Millisecond), float64(keys)/(cpu-cpu0).Seconds())
		}
		fmt.Println()
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average: %s", la)
	}
	return nil
}

// upsertBatch builds the rows of keys [lo, hi) with views = pass.
func upsertBatch(schema *arrow.Schema, lo, hi, pass int64) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	ts := arrow.Timestamp(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	for k := lo; k < hi; k++ {
		b.Field(0).(*array.Int64Builder).Append(k)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("/products/%d", k%5000))
		b.Field(2).(*array.Int64Builder).Append(pass)
		b.Field(3).(*array.TimestampBuilder).Append(ts + arrow.Timestamp(k+pass))
	}
	return b.NewRecord()
}

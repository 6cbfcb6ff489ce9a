package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/sinks"
	"github.com/microbatch/microbatch/ui"
)

// clickQuery is the measured query: WHERE action = 'view' GROUP BY page,
// count(*) AS views.
func clickQuery() (*dataframe.Schema, *dataframe.DataFrame, error) {
	return viewsByPage(dataframe.Count().As("views"))
}

// viewsByPage is the views (action = 'view') grouped by page, with agg.
func viewsByPage(agg dataframe.Expr) (*dataframe.Schema, *dataframe.DataFrame, error) {
	schema, err := dataframe.ParseSchema(clickSchema)
	if err != nil {
		return nil, nil, err
	}
	df := dataframe.Source("events", schema).
		Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
		GroupBy(dataframe.Col("page")).
		Agg(agg)
	return schema, df, df.Err()
}

// functionsQuery is the product views' user, page and time (issue 18's
// query with three scalar functions in its projection and filter), with
// the functions (lower(action) = 'view' AND startswith(page, ...),
// split_part(page, '/', 3), date_trunc('hour', timestamp)) or without
// (action = 'view' AND page LIKE ..., page, timestamp).
func functionsQuery(funcs bool) (*dataframe.Schema, *dataframe.DataFrame, error) {
	schema, err := dataframe.ParseSchema(clickSchema)
	if err != nil {
		return nil, nil, err
	}
	src := dataframe.Source("events", schema)
	df := src.Filter(dataframe.Col("action").Eq(dataframe.Lit("view")).And(dataframe.Col("page").Like("/products/%"))).
		Select(dataframe.Col("userid"), dataframe.Col("page"), dataframe.Col("timestamp"))
	if funcs {
		df = src.Filter(dataframe.Call("lower", dataframe.Col("action")).Eq(dataframe.Lit("view")).
			And(dataframe.Call("startswith", dataframe.Col("page"), dataframe.Lit("/products/")))).
			Select(dataframe.Col("userid"), dataframe.Call("split_part", dataframe.Col("page"), dataframe.Lit("/"), dataframe.Lit(3)).As("product"),
				dataframe.Call("date_trunc", dataframe.Lit("hour"), dataframe.Col("timestamp")).As("hour"))
	}
	return schema, df, df.Err()
}

// distinctQuery is clickQuery with approx_count_distinct(userid) (rsd
// 0.05) in place of count(*).
func distinctQuery() (*dataframe.Schema, *dataframe.DataFrame, error) {
	return viewsByPage(dataframe.Aggregate("approx_count_distinct", dataframe.Col("userid")).As("users"))
}

// lastEstimates renders a complete-mode output of distinctQuery as
// "page=users" strings.
func lastEstimates(out *engine.Output) []string {
	var est []string
	for _, rec := range out.Records {
		pages, users := rec.Column(0).(*array.String), rec.Column(1).(*array.Int64)
		for i := range int(rec.NumRows()) {
			est = append(est, fmt.Sprintf("%s=%d", pages.Value(i), users.Value(i)))
		}
	}
	return est
}

// windowQuery is clickQuery per one-minute tumbling window of event time
// too, with a 10 s watermark (append mode): GROUP BY window(timestamp,
// '1 minute'), page.
func windowQuery() (*dataframe.Schema, *dataframe.DataFrame, error) {
	schema, err := dataframe.ParseSchema(clickSchema)
	if err != nil {
		return nil, nil, err
	}
	df := dataframe.Source("events", schema).
		WithWatermark("timestamp", 10*time.Second).
		Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
		GroupBy(dataframe.Window(dataframe.Col("timestamp"), time.Minute, 0, 0), dataframe.Col("page")).
		Agg(dataframe.Count().As("views"))
	return schema, df, df.Err()
}

// runEngine runs the click query over the topic with a fresh checkpoint
// and a sink that discards, and returns its per-batch figures. With
// o.sink "kafka" ("files") it runs appendQuery instead, into a Kafka sink
// (Parquet files), or, with o.noSinkRun, into a sink that discards.
func runEngine(ctx context.Context, o engineOptions) (engineRun, error) {
	schema, df, err := clickQuery()
	if o.joinTable != nil {
		schema, df, err = joinQuery(o.joinTable)
	}
	mode := o.outputMode
	var sink engine.Sink = discard
	var er engineRun
	var ksink *sinks.Kafka
	if o.query == "window" && o.sink != "kafka" && o.sink != "files" {
		schema, df, err = windowQuery()
		mode = dataframe.Append
	}
	if o.query == "functions" && o.sink == "none" {
		// its baseline (noSinkRun) is the same query without functions
		schema, df, err = functionsQuery(!o.noSinkRun)
		mode = dataframe.Append
	}
	if o.query == "distinct" && o.sink == "none" && !o.noSinkRun {
		// its baseline (noSinkRun) is clickQuery, the view count by page
		schema, df, err = distinctQuery()
		sink = engine.SinkFunc(func(_ context.Context, out *engine.Output) error {
			er.Estimates = lastEstimates(out)
			return nil
		})
	}
	if o.sink == "files" {
		schema, df, err = appendQuery()
		mode = dataframe.Append
		if !o.noSinkRun {
			f, dir, ferr := filesSink()
			if ferr != nil {
				return engineRun{}, ferr
			}
			defer os.RemoveAll(dir)
			sink = f
		}
	}
	if o.sink == "kafka" {
		schema, df, err = appendQuery()
		mode = dataframe.Append
		if !o.noSinkRun {
			k, topic, kerr := kafkaSink(o)
			if kerr != nil {
				return engineRun{}, kerr
			}
			sink, er.SinkTopic, ksink = k, topic, k
		}
	}
	if err != nil {
		return engineRun{}, err
	}
	format, err := dataframe.ParseFormat(o.format)
	if err != nil {
		return engineRun{}, err
	}
	props, err := parseProps(o.props)
	if err != nil {
		return engineRun{}, err
	}
	dir, err := os.MkdirTemp("", "microbatch-bench-ckpt-")
	if err != nil {
		return engineRun{}, err
	}
	defer os.RemoveAll(dir)

	er.PhaseMs = map[string][]float64{}
	var srv *ui.Server // nil with -ui off
	var q *engine.Query
	q, err = engine.New(engine.Config{
		Name:               "bench",
		Source:             engine.KafkaSource{BootstrapServers: o.addr, Subscribe: []string{o.topic}, StartingOffsets: "earliest", MaxRatePerPartition: o.maxRate, Properties: props},
		Format:             format,
		Schema:             schema,
		Query:              df,
		OutputMode:         mode,
		Watermark:          engine.Watermark{Policy: map[bool]engine.WatermarkPolicy{false: engine.GlobalWatermark, true: engine.PerPartitionWatermark}[o.policy == "perPartition"]},
		Trigger:            engine.Trigger{AvailableNow: o.processingTime == 0, ProcessingTime: o.processingTime},
		Sink:               sink,
		CheckpointLocation: dir,
		Executors:          o.executors,
		NoSync:             o.noSync,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnProgress: func(p engine.Progress) {
			if srv != nil {
				srv.Observe(p)
			}
			d := p.Durations
			er.Rows += p.NumInputRows
			er.Bytes += p.InputBytes
			er.OutputRows += p.OutputRows
			er.StateRows = p.StateRows
			er.BatchMs = append(er.BatchMs, ms(d.Total))
			er.OverheadMs = append(er.OverheadMs, ms(d.DriverOverhead()))
			for name, v := range map[string]time.Duration{"plan": d.Plan, "wal": d.WAL, "wal_wait": d.WALWait, "fetch_decode": d.FetchDecode,
				"fetch_wait": d.FetchWait, "aggregate": d.Aggregate, "sink": d.Sink, "commit": d.Commit} {
				er.PhaseMs[name] = append(er.PhaseMs[name], ms(v))
			}
			if ksink != nil && o.guarantee == sinks.ExactlyOnce {
				// within the sink phase: the Kafka transaction's commit
				er.PhaseMs["txn_commit"] = append(er.PhaseMs["txn_commit"], ms(ksink.LastCommitDuration()))
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			er.GoPeakBytes = max(er.GoPeakBytes, int64(ms.Sys-ms.HeapReleased))
			er.StartedAt = append(er.StartedAt, p.Timestamp)
			er.Lag = append(er.Lag, p.TotalLag())
			er.Rows1 = append(er.Rows1, p.NumInputRows)
		},
	})
	if err != nil {
		return engineRun{}, err
	}
	if o.ui != "" && o.ui != "off" {
		if srv, err = ui.Start(ui.Options{Addr: "127.0.0.1:0", Name: "bench", Status: q.Status}); err != nil {
			return engineRun{}, err
		}
		defer srv.Close()
		if o.ui == "scrape" {
			stop := scrapeEverySecond(srv.URL()+"metrics", &er.Scrapes)
			defer stop()
		}
	}
	start := time.Now()
	if err := q.Run(ctx); err != nil {
		return er, err
	}
	er.Seconds = time.Since(start).Seconds()
	er.MsgsPerSec = float64(er.Rows) / er.Seconds
	return er, nil
}

// engineChild is -mode engine: one availableNow run, JSON on stdout.
func engineChild(ctx context.Context, cfg *config) error {
	stopProf, err := startProfile(cfg.cpuProfile)
	if err != nil {
		return err
	}
	er, err := runEngine(ctx, cfg.engineOptions(cfg.brokers, cfg.noSinkRun))
	stopProf()
	if err != nil {
		return err
	}
	er.PeakRSS = peakRSS()
	return json.NewEncoder(os.Stdout).Encode(er)
}

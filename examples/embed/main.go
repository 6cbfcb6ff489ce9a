// Command embed runs a streaming query inside a Go program, without the
// CLI or a job file: the top 3 pages by views over a topic of clickstream
// JSON, compiled from SQL, with a foreachBatch sink that prints each
// batch's result. It processes what the topic holds when it starts
// (availableNow), in batches of at most 2000 records per partition, and
// returns.
//
//	go run ./examples/embed -brokers 127.0.0.1:9092 -topic clicks
//
// It imports engine, dataframe and sql, and no internal package: it is a
// program that could live outside this module. README.md shows how to fill
// a topic with demo data; main_test.go runs it against an in-process broker.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/sql"
)

// options are the command line flags.
type options struct {
	brokers string // bootstrap.servers
	topic   string
	// checkpoint is the query's checkpoint directory; "" uses a temporary
	// one, removed when run returns.
	checkpoint string
	logger     *slog.Logger
}

// schema is the clickstream records' JSON fields, as `microbatch produce
// --generator clickstream` writes them.
const schema = "timestamp TIMESTAMP, userid STRING, page STRING, action STRING"

// query reads the table named in sql.Compile's second argument; the
// dataframe API builds the same plan with dataframe.Source("clicks",
// schema).Filter(...).GroupBy(...).Agg(...).OrderBy(...).Limit(3).
const query = `
SELECT page, count(*) AS views
FROM clicks
WHERE action = 'view'
GROUP BY page
ORDER BY views DESC, page
LIMIT 3`

func main() {
	o := options{logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	flag.StringVar(&o.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]")
	flag.StringVar(&o.topic, "topic", "clicks", "topic of clickstream JSON records")
	flag.StringVar(&o.checkpoint, "checkpoint", "", "checkpoint directory: a run resumes where the last one with the same directory ended (default: a temporary directory, removed at exit)")
	flag.Parse()

	// SIGINT/SIGTERM stop the query gracefully: the batch in flight is
	// finished and committed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

// run compiles the query and runs it over what o.topic holds, writing each
// batch's result to w.
func run(ctx context.Context, o options, w io.Writer) error {
	s, err := dataframe.ParseSchema(schema)
	if err != nil {
		return err
	}
	views, err := sql.Compile(query, "clicks", s)
	if err != nil {
		return err // an *sql.Error: "line L, column C: ..."
	}

	dir := o.checkpoint
	if dir == "" {
		if dir, err = os.MkdirTemp("", "microbatch-embed"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}

	q, err := engine.New(engine.Config{
		Name: "embed",
		Source: engine.KafkaSource{
			BootstrapServers:    o.brokers,
			Subscribe:           []string{o.topic},
			StartingOffsets:     "earliest",
			MaxRatePerPartition: 2000, // at most 2000 records per partition per batch
		},
		Format:             dataframe.FormatJSON,
		Schema:             s,
		Query:              views,
		Trigger:            engine.Trigger{AvailableNow: true},
		Sink:               engine.ForEachBatch(printBatch(w)),
		CheckpointLocation: dir,
		Logger:             o.logger,
	})
	if err != nil {
		return err
	}
	return q.Run(ctx)
}

// printBatch returns a foreachBatch function that prints how many records
// each batch read and the result table after it (complete output mode:
// the whole top 3). A batch re-run after a crash has the same id and the
// same rows.
func printBatch(w io.Writer) func(context.Context, *engine.Output) error {
	return func(_ context.Context, out *engine.Output) error {
		var read int64
		for _, r := range out.Ranges {
			read += r.Until - r.From
		}
		fmt.Fprintf(w, "batch %d: read %d records\n", out.BatchID, read)
		for _, rec := range out.Records {
			pages := rec.Column(0).(*array.String)
			views := rec.Column(1).(*array.Int64)
			for i := 0; i < int(rec.NumRows()); i++ {
				fmt.Fprintf(w, "  %-12s %5d\n", pages.Value(i), views.Value(i))
			}
		}
		return nil
	}
}

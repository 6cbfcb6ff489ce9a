// Command embed runs a streaming query inside a Go program, without the
// CLI: it starts a Kafka-protocol broker in the process, writes generated
// clickstream records to it, builds page views per page with the DataFrame
// API and runs the query with a foreachBatch sink until the records present
// at start are processed (availableNow).
//
//	go run ./examples/embed
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/broker"
	"github.com/microbatch/microbatch/internal/gen"
	"github.com/microbatch/microbatch/internal/kafka"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	// A broker in this process, with a topic of two partitions.
	b, err := broker.Start(ctx, broker.Config{Topics: []broker.Topic{{Name: "clicks", Partitions: 2}}})
	if err != nil {
		return err
	}
	defer b.Close()
	if err := produce(ctx, b.Addr(), "clicks", 10000); err != nil {
		return err
	}

	// SELECT page, count(*) AS views FROM events WHERE action = 'view'
	// GROUP BY page ORDER BY views DESC, page LIMIT 3
	// (sql.Compile builds the same plan from that text.)
	schema, err := dataframe.ParseSchema("timestamp TIMESTAMP, userid STRING, page STRING, action STRING")
	if err != nil {
		return err
	}
	views := dataframe.Source("events", schema).
		Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
		GroupBy(dataframe.Col("page")).
		Agg(dataframe.Count().As("views")).
		OrderBy(dataframe.Col("views").Desc(), dataframe.Col("page").Asc()).
		Limit(3)

	checkpoint, err := os.MkdirTemp("", "microbatch-embed")
	if err != nil {
		return err
	}
	defer os.RemoveAll(checkpoint)

	q, err := engine.New(engine.Config{
		Name: "embed",
		Source: engine.KafkaSource{
			BootstrapServers:    b.Addr(),
			Subscribe:           []string{"clicks"},
			StartingOffsets:     "earliest",
			MaxRatePerPartition: 2000, // at most 2000 records per partition per batch
		},
		Format:             dataframe.FormatJSON,
		Schema:             schema,
		Query:              views,
		Trigger:            engine.Trigger{AvailableNow: true},
		Sink:               engine.ForEachBatch(printBatch(w)),
		CheckpointLocation: checkpoint,
		Logger:             slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	return q.Run(ctx)
}

// printBatch returns a foreachBatch function that prints how many records
// each batch read and the result table after it (complete output mode:
// the whole top 3).
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

// produce writes n clickstream records (seed 1) to topic, keyed by user.
func produce(ctx context.Context, addr, topic string, n int) error {
	g, err := gen.New("clickstream", 1)
	if err != nil {
		return err
	}
	p, err := kafka.NewProducer(kafka.Props{"bootstrap.servers": addr})
	if err != nil {
		return err
	}
	var r gen.Record
	for i := 0; i < n; i++ {
		g.Next(&r)
		if err := p.Produce(ctx, topic, kafka.AnyPartition, r.Key, r.Value); err != nil {
			p.Close(ctx)
			return err
		}
	}
	return p.Close(ctx) // waits until every record is delivered
}

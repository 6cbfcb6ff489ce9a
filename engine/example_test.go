package engine_test

import (
	"context"
	"fmt"
	"log"
	"os/signal"
	"syscall"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/sql"
)

// A service that counts page views per page every second and hands each
// batch's result table to its own code.
func Example() {
	schema, err := dataframe.ParseSchema("timestamp TIMESTAMP, userid STRING, page STRING, action STRING")
	if err != nil {
		log.Fatal(err)
	}
	// The query in Go; sql.Compile below builds the same plan from SQL.
	views := dataframe.Source("events", schema).
		Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
		GroupBy(dataframe.Col("page")).
		Agg(dataframe.Count().As("views"))
	if _, err := sql.Compile("SELECT page, count(*) AS views FROM events WHERE action = 'view' GROUP BY page", "events", schema); err != nil {
		log.Fatal(err)
	}

	q, err := engine.New(engine.Config{
		Name: "page-views",
		Source: engine.KafkaSource{
			BootstrapServers:    "127.0.0.1:9092",
			Subscribe:           []string{"clickstream"},
			StartingOffsets:     "earliest",
			MaxRatePerPartition: 10000,
		},
		Format:     dataframe.FormatJSON,
		Schema:     schema,
		Query:      views,
		OutputMode: dataframe.Update,
		Trigger:    engine.Trigger{ProcessingTime: time.Second},
		Sink: engine.ForEachBatch(func(ctx context.Context, out *engine.Output) error {
			// Idempotent by out.BatchID: a batch re-run after a crash has
			// the same id and the same rows.
			fmt.Printf("batch %d: %d changed pages\n", out.BatchID, out.NumRows())
			return nil
		}),
		CheckpointLocation: "/var/lib/page-views",
		OnProgress: func(p engine.Progress) {
			log.Printf("batch %d: %d rows in %s, lag %d", p.BatchID, p.NumInputRows, p.Durations.Total, p.TotalLag())
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// SIGINT/SIGTERM cancel ctx: Run finishes and commits the batch in
	// flight, closes its consumers and returns nil.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := q.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

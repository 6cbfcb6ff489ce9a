package batch_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/microbatch/microbatch/batch"
	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
)

// countSink counts the rows of all tasks; Consume is called from several
// task goroutines at once.
type countSink struct{ rows *atomic.Int64 }

func (s countSink) Consume(rec arrow.Record) error { s.rows.Add(rec.NumRows()); return nil }

// An Executor lives as long as the query; each batch is one Run.
func ExampleExecutor_Run() {
	e, err := batch.NewExecutor(batch.Config{
		Props:          kafka.Props{"bootstrap.servers": "127.0.0.1:9092", "isolation.level": "read_committed"},
		FailOnDataLoss: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	var newDecoder func(func(*dataframe.MalformedRecordError)) (dataframe.Decoder, error) // the job's JSON or CSV decoder (dataframe.NewDecoder with OnMalformed set)
	var rows atomic.Int64
	res, err := e.Run(context.Background(), batch.Job{
		BatchID:    42,
		Ranges:     []offsets.OffsetRange{{Topic: "events", Partition: 0, From: 1000, Until: 1500}},
		NewDecoder: newDecoder,
		NewSink: func(batch.TaskInfo) (batch.TaskSink, error) {
			return countSink{rows: &rows}, nil
		},
	})
	if err != nil {
		log.Fatal(err) // errors.As(err, new(*offsets.DataLossError)) etc.
	}
	fmt.Println(res.Records, rows.Load(), res.SkippedOffsets)
}

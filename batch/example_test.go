package batch_test

import (
	"context"
	"fmt"
	"log"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/microbatch/microbatch/batch"
	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
)

type countSink struct{ rows int64 }

func (s *countSink) Consume(rec arrow.Record) error { s.rows += rec.NumRows(); return nil }

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

	var newDecoder func() (dataframe.Decoder, error) // the job's JSON or CSV decoder
	sinks := make(map[int]*countSink)               // one per task; NewSink runs on the task's goroutine
	res, err := e.Run(context.Background(), batch.Job{
		BatchID:    42,
		Ranges:     []offsets.OffsetRange{{Topic: "events", Partition: 0, From: 1000, Until: 1500}},
		NewDecoder: newDecoder,
		NewSink: func(t batch.TaskInfo) (batch.TaskSink, error) {
			s := &countSink{}
			sinks[t.Index] = s // Run calls NewSink from several goroutines: guard shared state in real code
			return s, nil
		},
	})
	if err != nil {
		log.Fatal(err) // errors.As(err, new(*offsets.DataLossError)) etc.
	}
	fmt.Println(res.Records, res.Rows, res.SkippedOffsets)
}

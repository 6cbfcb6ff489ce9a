package sinks_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/sinks"
)

// BenchmarkKafkaSink writes batches of 100k three-column rows into kfake,
// one transaction each (exactly-once) or flushed (at-least-once).
func BenchmarkKafkaSink(b *testing.B) {
	const rows = 100_000
	pages := make([]string, rows)
	views := make([]int64, rows)
	ratios := make([]float64, rows)
	for i := range pages {
		pages[i], views[i], ratios[i] = fmt.Sprintf("page-%d", i%500), int64(i), float64(i)/7
	}
	rec := pageRec(memory.NewGoAllocator(), pages, views, ratios)
	defer rec.Release()
	for _, g := range []string{sinks.ExactlyOnce, sinks.AtLeastOnce} {
		b.Run(g, func(b *testing.B) {
			br := kafkatest.Start(b, map[string]int32{"out": 4})
			k, err := sinks.NewKafka(sinks.KafkaOptions{Props: br.Props(), Topic: "out", Job: "bench", DeliveryGuarantee: g})
			if err != nil {
				b.Fatal(err)
			}
			defer k.Close()
			ctx := context.Background()
			if err := k.Open(ctx, -1); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := k.AddBatch(ctx, &engine.Output{BatchID: int64(i), Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{rec}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*rows)/time.Since(start).Seconds(), "rows/s")
		})
	}
}

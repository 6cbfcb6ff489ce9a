package sinks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
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

// BenchmarkFilesParquet writes batches of 55k rows shaped like the bench's
// append query (timestamp, userid, page) into snappy Parquet files.
func BenchmarkFilesParquet(b *testing.B) {
	const rows = 55_000
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range rows {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"timestamp":"2024-03-01T10:%02d:%02d.%06dZ","userid":"user-%d","page":"/products/%d"}`, i/60%60, i%60, i, i%10000, i%500)
	}
	sb.WriteByte(']')
	schema, _ := dataframe.ParseSchema("timestamp TIMESTAMP, userid STRING, page STRING")
	rec, _, err := array.RecordFromJSON(memory.NewGoAllocator(), schema.Arrow(), strings.NewReader(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Release()
	s, err := sinks.NewFiles(sinks.FilesOptions{Path: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Open(ctx, -1); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := s.AddBatch(ctx, &engine.Output{BatchID: int64(i), Mode: dataframe.Append, Schema: rec.Schema(), Records: []arrow.Record{rec}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
}

package batch

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
)

const (
	benchPartitions = 2
	benchPerPart    = 250_000
	benchValueBytes = 90
)

// benchTopic produces benchPerPart 90-byte records to each of
// benchPartitions partitions of a fresh broker.
func benchTopic(b *testing.B) *kafkatest.Broker {
	br := kafkatest.Start(b, map[string]int32{"bench": benchPartitions})
	p, err := kafka.NewProducer(br.Props())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	val := []byte(strings.Repeat("x", benchValueBytes))
	for part := range int32(benchPartitions) {
		for range benchPerPart {
			if err := p.Produce(ctx, "bench", part, nil, val); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	return br
}

// countDecoder is the trivial decoder: it counts values and flushes an
// empty-schema record, so the benchmark measures the executor. The other
// decoder benchmarked is testDecoder (partition, offset and value columns).
type countDecoder struct{ n, total int }

var emptySchema = arrow.NewSchema(nil, nil)

func (d *countDecoder) Append(_ *dataframe.RecordMeta, v []byte) error {
	d.n++
	d.total += len(v)
	return nil
}
func (d *countDecoder) Len() int { return d.n }
func (d *countDecoder) Stats() dataframe.DecodeStats {
	return dataframe.DecodeStats{Rows: int64(d.total)}
}
func (d *countDecoder) Release() {}
func (d *countDecoder) Flush() arrow.Record {
	if d.n == 0 {
		return nil
	}
	rec := array.NewRecord(emptySchema, nil, int64(d.n))
	d.n = 0
	return rec
}

type nopSink struct{}

func (nopSink) Consume(arrow.Record) error { return nil }

// BenchmarkExecutorRead reads benchPartitions x benchPerPart records per
// iteration through the Executor (Workers = partitions) and, for
// comparison, with one raw confluent-kafka-go Poll loop per partition on
// the same broker with the same consumer properties.
func BenchmarkExecutorRead(b *testing.B) {
	br := benchTopic(b)
	total := benchPartitions * benchPerPart
	ranges := make([]offsets.OffsetRange, benchPartitions)
	for p := range ranges {
		ranges[p] = rng("bench", int32(p), 0, benchPerPart)
	}
	report := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(total*b.N)/time.Since(start).Seconds(), "msgs/s")
	}

	b.Run("raw-confluent", func(b *testing.B) {
		cons := make([]*ckafka.Consumer, benchPartitions)
		for p := range cons {
			cm := ckafka.ConfigMap{}
			for k, v := range kafka.ConsumerDefaults() {
				cm[k] = v
			}
			cm["bootstrap.servers"] = br.Addr
			cm["go.application.rebalance.enable"] = false
			c, err := ckafka.NewConsumer(&cm)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			cons[p] = c
		}
		start := time.Now()
		for range b.N {
			var wg sync.WaitGroup
			for p, c := range cons {
				wg.Add(1)
				go func() {
					defer wg.Done()
					topic := "bench"
					if err := c.Assign([]ckafka.TopicPartition{{Topic: &topic, Partition: int32(p), Offset: 0}}); err != nil {
						b.Error(err)
						return
					}
					for n := 0; n < benchPerPart; {
						if m, ok := c.Poll(100).(*ckafka.Message); ok && m.TopicPartition.Error == nil {
							n++
						}
					}
				}()
			}
			wg.Wait()
		}
		report(b, start)
	})

	for _, rows := range []int{1024, 8192, 65536} {
		for _, dec := range []string{"count", "testDecoder"} {
			b.Run(fmt.Sprintf("executor/%s/rows=%d", dec, rows), func(b *testing.B) {
				mem := memory.NewGoAllocator()
				e := newExecutor(b, Config{Props: br.Props(), Workers: benchPartitions, rowsPerRecord: rows})
				job := Job{
					Ranges:  ranges,
					NewSink: func(TaskInfo) (TaskSink, error) { return nopSink{}, nil },
					NewDecoder: func(func(*dataframe.MalformedRecordError)) (dataframe.Decoder, error) {
						if dec == "count" {
							return &countDecoder{}, nil
						}
						return newTestDecoder(mem, false), nil
					},
				}
				start := time.Now()
				for i := range b.N {
					job.BatchID = int64(i)
					res, err := e.Run(context.Background(), job)
					if err != nil {
						b.Fatal(err)
					}
					if res.Records != int64(total) {
						b.Fatalf("%d records", res.Records)
					}
				}
				report(b, start)
			})
		}
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/sinks"
)

// appendQuery is the query measured with -sink: SELECT timestamp, userid,
// page FROM events WHERE page LIKE '/products/%', append mode. Product
// pages are 55% of internal/gen's clickstream (`action = 'view'` would
// keep 75%).
func appendQuery() (*dataframe.Schema, *dataframe.DataFrame, error) {
	schema, err := dataframe.ParseSchema(clickSchema)
	if err != nil {
		return nil, nil, err
	}
	df := dataframe.Source("events", schema).
		Filter(dataframe.Col("page").Like("/products/%")).
		Select(dataframe.Col("timestamp"), dataframe.Col("userid"), dataframe.Col("page"))
	return schema, df, df.Err()
}

// discard is the sink of the runs without one: it drops every batch.
var discard = engine.SinkFunc(func(context.Context, *engine.Output) error { return nil })

// filesSink is -sink files's sink: snappy Parquet files in a fresh
// temporary directory, which the caller removes.
func filesSink() (*sinks.Files, string, error) {
	dir, err := os.MkdirTemp("", "microbatch-bench-files-")
	if err != nil {
		return nil, "", err
	}
	f, err := sinks.NewFiles(sinks.FilesOptions{Path: dir, Format: sinks.FormatParquet})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("files sink: %w", err)
	}
	return f, dir, nil
}

// kafkaSink is -sink kafka's sink: a fresh output topic on the source's
// broker (as many partitions as the source), rows as JSON objects, no key,
// with o.guarantee. Every run writes its own topic, so that a run's
// progress marker never meets another run's fresh checkpoint.
func kafkaSink(o engineOptions) (*sinks.Kafka, string, error) {
	topic := o.topic + ".out-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	k, err := sinks.NewKafka(sinks.KafkaOptions{
		Props:             map[string]string{"bootstrap.servers": o.addr},
		Topic:             topic,
		Format:            sinks.FormatJSON,
		DeliveryGuarantee: o.guarantee,
		OmitBatchHeaders:  !o.sinkHeaders,
		Job:               "bench",
		CreateTopic:       &sinks.CreateTopic{Partitions: int32(o.partitions), ReplicationFactor: 1},
	})
	if err != nil {
		return nil, "", fmt.Errorf("kafka sink: %w", err)
	}
	return k, topic, nil
}

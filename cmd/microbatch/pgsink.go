package main

import (
	"fmt"
	"time"

	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/jobfile"
	"github.com/microbatch/microbatch/sinks"
)

// postgresSink builds the sink of sink.postgres. Its retry budget is the
// source's fetchOffset.numRetries and retryIntervalMs (0 in the job file:
// none).
func postgresSink(job *jobfile.Job) (*sinks.Postgres, error) {
	p, k := job.Sink.Postgres, job.Source.Kafka
	opts := sinks.PostgresOptions{
		URL: p.URL, Table: p.Table, CreateTable: p.CreateTable, Job: job.Name,
		NumRetries: int(k.FetchOffsetNumRetries), RetryInterval: k.FetchOffsetRetryInterval,
	}
	if opts.NumRetries == 0 {
		opts.NumRetries = engine.Off
	}
	if opts.RetryInterval == 0 {
		opts.RetryInterval = time.Duration(engine.Off)
	}
	s, err := sinks.NewPostgres(opts)
	if err != nil {
		return nil, fmt.Errorf("sink.postgres: %w", err)
	}
	return s, nil
}

package main

import (
	"fmt"

	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/jobfile"
	"github.com/microbatch/microbatch/sinks"
)

// filesSink builds the sink of sink.files.
func filesSink(job *jobfile.Job) (*sinks.Files, error) {
	f := job.Sink.Files
	s, err := sinks.NewFiles(sinks.FilesOptions{Path: f.Path, Format: f.Format, PartitionBy: f.PartitionBy,
		Compression: f.Compression, MaxRecordsPerFile: f.MaxRecordsPerFile})
	if err != nil {
		return nil, fmt.Errorf("sink.files: %w", err)
	}
	return s, nil
}

// checkFilesSink checks sink.files against the compiled query: append
// mode, partitionBy columns among the output's.
func checkFilesSink(job *jobfile.Job, q *engine.Query) jobfile.Errors {
	if !job.Valid("sink.files") || q.Program() == nil {
		return nil
	}
	s, err := filesSink(job)
	if err == nil {
		err = s.CheckSchema(q.Program().OutputSchema(), q.OutputMode())
	}
	if err != nil {
		return jobfile.Errors{job.Errorf("sink.files", "%v", err)}
	}
	return nil
}

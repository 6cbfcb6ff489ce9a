// Package jobfile loads and validates microbatch job files (DESIGN.md
// section 3): YAML documents that name a Kafka source, a record format and
// schema, a SQL query, a trigger, a sink and a checkpoint directory.
//
// # Errors
//
// Load reports every problem of a file at once, each with its file, line
// and key path:
//
//	job.yaml:7: source.kafka.maxRatePerPartition: expected an integer, got "fast"
//	job.yaml:9: source.kafka.startingOffset: unknown key, did you mean startingOffsets?
//
// The returned error is an Errors value (a list of *Error) for callers that
// want the pieces. With it comes the Job as far as it could be read, and
// Job.Valid says which keys are right, so later checks (the schema, the
// query) can run in the same pass.
//
// # Environment variables
//
// Scalar values may use ${VAR} and ${VAR:default}; they are substituted
// from the environment before validation, so `maxRatePerPartition:
// ${RATE:1000}` is checked as an integer. An unset variable without a
// default is an error. Write $${ for a literal ${.
//
// # Keys
//
// Keys returns every key with its type, default and the Spark option it
// mirrors. A key that maps onto an engine setting takes its default, Spark
// option and doc from the engine (engine.DefaultConfig, engine.Settings),
// and KeyOf maps an engine.ConfigError's field back to its key. In the job
// file 0 means none (no cap, no retry, no wait, every batch); the Engine
// methods turn that into engine.Off. Under
// source.kafka, keys that are not microbatch's own are librdkafka
// properties and are passed through unchanged; a key without a dot that is
// close to one of microbatch's own is reported as a probable typo instead.
//
// # Positions
//
// Job.Positions maps key paths to the line and column of their values, so
// later checks (an unknown column in the query, a bad schema type) can
// point into the file; Job.QueryErrorf locates an error at a position
// inside the query text in the file.
package jobfile

// Package sinks holds the engine's sinks for external systems: Kafka (a
// transactional producer, exactly-once by a marker record committed in the
// same transaction as each batch's rows; DESIGN.md section 5), files
// (NewFiles: Parquet, JSON lines or CSV, exactly once by staged files, a
// commit log under _microbatch/ and renames into place; see Files), and the
// dead-letter writer WithDeadLetters, which sends each batch's malformed
// records to a Kafka topic with Kafka Connect's context headers, in the
// Kafka sink's transaction or in transactions of its own, exactly once.
//
// Postgres writes to a PostgreSQL table with pgx: one Postgres transaction
// per batch holds its rows (COPY, upsert, delete or replace by output
// mode) and the sink's progress row in microbatch_progress, whose epoch
// fences older instances.
package sinks

// Package sinks holds the engine's sinks for external systems: Kafka (a
// transactional producer, exactly-once by a marker record committed in the
// same transaction as each batch's rows; DESIGN.md section 5).
package sinks

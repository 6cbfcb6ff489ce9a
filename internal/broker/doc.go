// Package broker runs an embedded Kafka-protocol broker (kfake) for local
// work: `microbatch broker` and jobs with `bootstrap.servers: embedded`.
//
// # Persistence
//
// With Config.DataDir set, the broker keeps topics, records and committed
// offsets in that directory and reloads them on the next Start with the
// same directory. Without it, everything lives in memory and is gone after
// Close. A data directory is locked while a broker uses it, so two brokers
// never write the same files.
//
// # Lifecycle
//
// Start listens, loads the data directory and creates missing seed topics;
// the broker then serves until Close, which stops accepting connections,
// writes its state to the data directory and waits for that to finish.
package broker

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
// # Auto-created topics
//
// With Config.AutoCreateTopics (`microbatch broker` sets it unless
// --auto-create-topics=false), a metadata request naming a missing topic
// and allowing auto-creation creates it with Config.DefaultPartitions
// partitions, as Kafka's auto.create.topics.enable does. The broker does it
// itself, in a kfake control function calling Cluster.CreateTopic, rather
// than with kfake.AllowAutoTopicCreation: kfake's own path writes the topic
// to the data directory only at Close (a killed broker would forget it and
// orphan its records) and ignores metadata v0-v3, which Kafka treats as
// allowing auto-creation. Embedded brokers of job files leave it off, so a
// missing topic stays an error there.
//
// # Lifecycle
//
// Start listens, loads the data directory and creates missing seed topics;
// the broker then serves until Close, which stops accepting connections,
// writes its state to the data directory and waits for that to finish.
package broker

// Package kafka is microbatch's only door to Kafka: listing partitions and
// offsets, reading exact offset ranges and producing records, all over
// confluent-kafka-go (librdkafka). No other package imports the client.
//
// # Properties
//
// Every function takes librdkafka properties as a map of strings, exactly as
// a user wrote them under `source.kafka` in a job file (Spark-only keys such
// as subscribe or startingOffsets already removed). Defaults tuned for
// microbatch are applied under the user's values, never over them.
package kafka

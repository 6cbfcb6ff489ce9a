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
//
// # Reading ranges
//
// A RangeReader (reader.go) owns one consumer and what outlives a read:
// each assigned partition's position and its stash of records polled ahead.
// One ReadRanges call (read.go) is a rangesRead: its ranges and its poll
// loop, with one method per event polled (a record, a partition EOF, a
// client error, an empty poll) and the checks of ctx and the stall
// timeout. A range ends when its partition's position reaches Until, which
// offsets without records (transaction markers, aborted or compacted
// records) also move.
//
// # Transactions
//
// A TxnProducer (txn.go) is a producer with a deterministic
// transactional.id: InitTransactions fences older producers with the same
// id, then Begin, Produce (with headers; a nil value is a tombstone),
// Commit or Abort. ClassifyTxnError sorts its errors into retriable,
// abortable (abort, then retry), fatal and fenced. LastRecordReader reads a key's
// last record of a partition with read_committed, backwards from the last
// stable offset: the Kafka sink's marker. Delivery reports of records
// purged by an abort are ignored: they may arrive after the next
// transaction began.
//
// # Logs
//
// Every client's librdkafka log lines go to a slog.Logger through
// confluent-kafka-go's logs channel (logs.go), drained by a goroutine the
// client's Close waits for; they never reach stderr raw. An admin client
// is derived from a producer for that, as confluent-kafka-go has the
// channel only for producers and consumers. A warning or error is logged
// once per distinct message per 10 s over every client of a logger, the
// next line carrying the count of repeats suppressed. A consumer's
// connection-failure events (ErrTransport, ErrAllBrokersDown) wait in its
// queue until the next read, possibly after the broker is back: the log
// line reported them when they happened, so they go to Debug.
//
// # Group offsets
//
// Admin.CommitGroupOffsets commits positions to a consumer group as an
// admin (group.go), for Kafka's lag tools; nothing reads them back.
//
// # Closing clients
//
// confluent-kafka-go's Close destroys the librdkafka handle at once, under
// any call still running on it, and some calls outlive their caller:
// Admin.Topics returns when its ctx ends but leaves the metadata request
// running until its own timeout. Admin and Producer count the calls using
// their handle; Close refuses new calls (ErrAdminClosed, ErrProducerClosed)
// and waits for those in flight before destroying it. A RangeReader is used
// by one goroutine at a time and makes no call that outlives it.
package kafka

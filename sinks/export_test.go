package sinks

// SetBeforeCommit makes k call fn before each Kafka transaction's commit,
// after the batch's rows and marker were produced: the crash test's
// "before the Kafka commit" point.
func SetBeforeCommit(k *Kafka, fn func(batchID int64)) { k.beforeCommit = fn }

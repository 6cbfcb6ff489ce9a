package sinks

import "github.com/microbatch/microbatch/engine"

// SetBeforeCommit makes k call fn before each Kafka transaction's commit,
// after the batch's rows and marker were produced: the crash test's
// "before the Kafka commit" point.
func SetBeforeCommit(k *Kafka, fn func(batchID int64)) { k.beforeCommit = fn }

// SetDeadLetterBeforeCommit makes the dead-letter writer of s (a
// WithDeadLetters sink with transactions of its own) call fn before each
// of its commits, after the batch's dead letters and marker were produced.
func SetDeadLetterBeforeCommit(s engine.Sink, fn func(batchID int64)) {
	s.(*deadLetterSink).own.beforeCommit = fn
}

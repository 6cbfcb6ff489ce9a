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

// SetFilesHook makes s call fn at each point of its protocol: "mid-file"
// (part of the batch's first staged file written), "before-log" (every
// file staged and fsynced, the commit log entry not written), "mid-rename"
// (the entry durable, the first file renamed into place, the others not).
func SetFilesHook(s *Files, fn func(point string, batchID int64)) { s.hook = fn }

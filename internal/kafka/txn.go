package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/microbatch/microbatch/offsets"
)

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// TxnProducer writes records, in Kafka transactions when it has a
// transactional.id (NewTxnProducer), idempotently otherwise. One goroutine
// uses it at a time; Close waits for a call in flight.
//
// The calls of a transactional producer are InitTransactions once, then per
// transaction BeginTransaction, Produce..., CommitTransaction (or
// AbortTransaction). An error from any of them is classified by TxnErrorKind:
// abortable (abort, then retry the transaction), fatal (the producer is
// unusable: close it), fenced (another producer with the same
// transactional.id initialized after this one).
type TxnProducer struct {
	producerCore // its err is the first delivery error since the last Begin
	txnID        string

	// msg, topic and hdrs are reused by every ProduceAt (one goroutine
	// produces at a time): librdkafka copies the key, value and headers
	// at the call, so a record costs no Go allocation of its own.
	msg   ckafka.Message
	topic string
	hdrs  []ckafka.Header
}

// NewTxnProducer creates a producer with transactional.id txnID, or an
// idempotent non-transactional one when txnID is "". Any property of p
// (compression.type, linger.ms, ...) is kept; enable.idempotence is forced.
// librdkafka's log lines go to log (nil: slog.Default()), not to stderr.
func NewTxnProducer(p Props, txnID string, log *slog.Logger) (*TxnProducer, error) {
	d := commonDefaults()
	d["linger.ms"] = "5"
	d["go.delivery.report.fields"] = "none"
	// Only failed deliveries are reported: a Go event per delivered record
	// cost more CPU than producing it. Flush waits on librdkafka's queue
	// length, and a commit fails when any of its records did.
	d["delivery.report.only.error"] = "true"
	cm, err := configMap(d, adminProps(p))
	if err != nil {
		return nil, err
	}
	(*cm)["enable.idempotence"] = true
	if txnID != "" {
		(*cm)["transactional.id"] = txnID
	}
	out := &TxnProducer{txnID: txnID} // start types the go.* properties
	if err := out.start(cm, log); err != nil {
		return nil, err
	}
	return out, nil
}

// TransactionalID is the producer's transactional.id, "" if none.
func (t *TxnProducer) TransactionalID() string { return t.txnID }

// InitTransactions registers the transactional.id with its coordinator:
// it fences every older producer with the same id and aborts the
// transaction it left open.
func (t *TxnProducer) InitTransactions(ctx context.Context) error {
	if err := t.enter("init transactions"); err != nil {
		return err
	}
	defer t.calls.leave()
	if err := t.p.InitTransactions(ctx); err != nil {
		return fmt.Errorf("kafka: init transactions (transactional.id %s): %w", t.txnID, err)
	}
	return nil
}

// BeginTransaction starts a transaction and forgets earlier delivery
// errors.
func (t *TxnProducer) BeginTransaction() error {
	if err := t.enter("begin transaction"); err != nil {
		return err
	}
	defer t.calls.leave()
	t.resetErr()
	if err := t.p.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka: begin transaction (transactional.id %s): %w", t.txnID, err)
	}
	return nil
}

// Produce enqueues one record to partition of topic (AnyPartition: the
// partitioner chooses by key). A nil value is a tombstone. When librdkafka's queue is full it waits for
// room until ctx is done.
func (t *TxnProducer) Produce(ctx context.Context, topic string, partition int32, key, value []byte, headers []Header) error {
	return t.ProduceAt(ctx, topic, partition, key, value, headers, -1)
}

// ProduceAt is Produce with the record's timestamp, in milliseconds since
// the Unix epoch; a negative one lets the producer stamp the record now.
func (t *TxnProducer) ProduceAt(ctx context.Context, topic string, partition int32, key, value []byte, headers []Header, timestampMs int64) error {
	if !t.calls.enter() { // no "produce to "+topic built per record
		return fmt.Errorf("kafka: produce to %s: %w", topic, ErrProducerClosed)
	}
	defer t.calls.leave()
	t.topic = topic
	t.msg = ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &t.topic, Partition: partition},
		Key:            key,
		Value:          value,
	}
	msg := &t.msg
	if partition == AnyPartition {
		msg.TopicPartition.Partition = ckafka.PartitionAny
	}
	if timestampMs >= 0 {
		msg.Timestamp = time.UnixMilli(timestampMs)
	}
	if len(headers) > 0 {
		t.hdrs = t.hdrs[:0]
		for _, h := range headers {
			t.hdrs = append(t.hdrs, ckafka.Header{Key: h.Key, Value: h.Value})
		}
		msg.Headers = t.hdrs
	}
	return produceQueued(ctx, t.p, msg, topic)
}

// Flush waits until every enqueued record is delivered or ctx is done, and
// returns the first delivery error since BeginTransaction (or creation).
// A transactional producer need not call it: CommitTransaction flushes.
func (t *TxnProducer) Flush(ctx context.Context) error {
	if err := t.enter("flush"); err != nil {
		return err
	}
	defer t.calls.leave()
	return t.waitDelivered(ctx)
}

// CommitTransaction flushes the transaction's records and commits it. A
// delivery error fails the commit with an abortable error.
func (t *TxnProducer) CommitTransaction(ctx context.Context) error {
	if err := t.enter("commit transaction"); err != nil {
		return err
	}
	defer t.calls.leave()
	if err := t.p.CommitTransaction(ctx); err != nil {
		return fmt.Errorf("kafka: commit transaction (transactional.id %s): %w", t.txnID, err)
	}
	if err := t.deliveryErr(); err != nil {
		// librdkafka fails the commit itself when a record failed; kept as a
		// safety net.
		return fmt.Errorf("kafka: commit transaction (transactional.id %s): %w", t.txnID, err)
	}
	return nil
}

// AbortTransaction aborts the open transaction: its records are never
// seen by read_committed readers.
func (t *TxnProducer) AbortTransaction(ctx context.Context) error {
	if err := t.enter("abort transaction"); err != nil {
		return err
	}
	defer t.calls.leave()
	if err := t.p.AbortTransaction(ctx); err != nil {
		return fmt.Errorf("kafka: abort transaction (transactional.id %s): %w", t.txnID, err)
	}
	return nil
}

// Close waits for the call in flight, closes the client (a transaction
// still open is aborted by the coordinator when it times out, or by the
// next InitTransactions of the same id) and waits for the delivery-report
// goroutine. A second Close does nothing.
func (t *TxnProducer) Close() { t.shut() }

// TxnErrorKind classifies an error of a TxnProducer call.
type TxnErrorKind int

const (
	// TxnRetriable: the call may be repeated (a timeout); the transaction
	// is still usable.
	TxnRetriable TxnErrorKind = iota
	// TxnAbortable: abort the transaction, then begin it again.
	TxnAbortable
	// TxnFatal: the producer is unusable; close it.
	TxnFatal
	// TxnFenced: a newer producer with the same transactional.id
	// initialized transactions; this one is unusable.
	TxnFenced
)

// IsInvalidTransactionTimeout reports whether err is the broker refusing
// transaction.timeout.ms: above its transaction.max.timeout.ms.
func IsInvalidTransactionTimeout(err error) bool {
	var kerr ckafka.Error
	return errors.As(err, &kerr) && kerr.Code() == ckafka.ErrInvalidTransactionTimeout
}

// ClassifyTxnError says what to do after err, returned by a TxnProducer
// call. An error that is no Kafka error (ctx's, a closed producer) is
// fatal.
func ClassifyTxnError(err error) TxnErrorKind {
	var kerr ckafka.Error
	if !errors.As(err, &kerr) {
		return TxnFatal
	}
	switch kerr.Code() {
	case ckafka.ErrFenced, ckafka.ErrProducerFenced, ckafka.ErrInvalidProducerEpoch:
		return TxnFenced
	}
	switch {
	case kerr.IsFatal():
		return TxnFatal
	case kerr.TxnRequiresAbort():
		return TxnAbortable
	case kerr.IsRetriable():
		return TxnRetriable
	}
	return TxnAbortable
}

// LastRecordReader reads the value (empty for a tombstone) of the last
// record with a key in a partition below its last stable offset, with
// isolation.level=read_committed (records of open and aborted
// transactions are never seen). It reads backwards in windows from the
// end: on a compacted topic the record is among the last few. It keeps
// its consumer from one Read to the next: a client costs its creation,
// and up to 100 ms to close (confluent-kafka-go's poller wakes every
// 100 ms). One goroutine uses it at a time.
type LastRecordReader struct {
	a     *Admin
	props Props // the consumer's: p's connection properties, read_committed
	log   *slog.Logger
	rr    *RangeReader // created at the first read of a partition with records
}

// NewLastRecordReader returns a reader listing offsets with a, which the
// caller owns and closes (the reader's Close does not use it, so the two
// may close at once), and reading with a consumer
// made from the connection properties of p (bootstrap.servers, security,
// ...: p may be a producer's). librdkafka's log lines go to log (nil:
// slog.Default()).
func NewLastRecordReader(a *Admin, p Props, log *slog.Logger) *LastRecordReader {
	rp := connectionProps(p)
	rp["isolation.level"] = "read_committed"
	return &LastRecordReader{a: a, props: rp, log: log}
}

// Read returns the value of the last record with key in tp below its last
// stable offset, and whether there is one.
func (r *LastRecordReader) Read(ctx context.Context, tp offsets.TopicPartition, key []byte) ([]byte, bool, error) {
	tps := []offsets.TopicPartition{tp}
	lows, err := r.a.ListOffsets(ctx, tps, offsets.Earliest, true)
	if err != nil {
		return nil, false, err
	}
	ends, err := r.a.ListOffsets(ctx, tps, offsets.Latest, true)
	if err != nil {
		return nil, false, err
	}
	low, end := lows[tp], ends[tp]
	if end <= low {
		return nil, false, nil
	}
	if r.rr == nil {
		if r.rr, err = NewRangeReader(r.props, ReaderConfig{FailOnDataLoss: false, Logger: r.log}); err != nil {
			return nil, false, err
		}
	}
	for window := int64(64); ; window *= 4 {
		from := max(end-window, low)
		var val []byte
		found := false
		_, err := r.rr.Read(ctx, offsets.OffsetRange{Topic: tp.Topic, Partition: tp.Partition, From: from, Until: end}, func(rec *Record) error {
			if string(rec.Key) == string(key) {
				val = append(val[:0], rec.Value...)
				found = true
			}
			return nil
		})
		if err != nil {
			return nil, false, fmt.Errorf("kafka: read %s: %w", tp, err)
		}
		if found || from == low {
			return val, found, nil
		}
		end = from
	}
}

// Close closes the consumer; not the admin client.
func (r *LastRecordReader) Close() {
	if r.rr != nil {
		r.rr.Close()
		r.rr = nil
	}
}

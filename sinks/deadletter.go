package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafka"
)

// Kafka Connect's dead-letter context headers
// (errors.deadletterqueue.context.headers.enable), and the class name of a
// record that could not be decoded.
const (
	HeaderErrTopic       = "__connect.errors.topic"
	HeaderErrPartition   = "__connect.errors.partition"
	HeaderErrOffset      = "__connect.errors.offset"
	HeaderErrClass       = "__connect.errors.exception.class.name"
	HeaderErrMessage     = "__connect.errors.exception.message"
	MalformedRecordClass = "MalformedRecord"
	deadLetterName       = "deadletter"
)

// DeadLetterOptions configure the dead-letter writer of WithDeadLetters.
type DeadLetterOptions struct {
	// Props are librdkafka producer properties; bootstrap.servers is
	// required (the job file defaults it to the source's).
	Props map[string]string
	// Topic receives the malformed records (Kafka Connect:
	// errors.deadletterqueue.topic.name).
	Topic string
	// Job names the job: the microbatch.job header.
	Job string
	// TransactionalIDPrefix forms the transactional.id
	// "<prefix>-deadletter" of the writer's own transactions; default Job.
	// Unused when the dead letters join the Kafka sink's transaction.
	TransactionalIDPrefix string
	// ProgressTopic holds the writer's markers; default
	// "<Topic>.microbatch-progress". Unused when the dead letters join the
	// Kafka sink's transaction.
	ProgressTopic string
	// CreateTopic, when not nil, creates Topic when it is missing; a
	// missing Topic is an error otherwise.
	CreateTopic *CreateTopic
	// MaxAttempts bounds the attempts of one batch's transaction after
	// abortable errors (default 3).
	MaxAttempts int
	// Logger receives the librdkafka log lines of the writer's own
	// producer; default slog.Default().
	Logger *slog.Logger
}

// WithDeadLetters returns sink sending, besides, every batch's malformed
// records (engine.Output.Malformed) to opts.Topic, exactly once: each with
// its original key, value, timestamp and headers, then Kafka Connect's
// context headers (HeaderErrTopic ... HeaderErrMessage, class
// MalformedRecordClass, the message the reason naming the column), plus
// microbatch.job and microbatch.batch.
//
// When sink is a *Kafka in ExactlyOnce mode on the same bootstrap.servers,
// the dead letters join its transaction, before its marker. Otherwise the
// writer has a transactional producer and a marker of its own (the Kafka
// sink's scheme, transactional.id "<prefix>-deadletter") and writes a
// batch's dead letters after sink's AddBatch succeeded; a batch whose
// marker is committed is skipped; a batch with malformed records past
// what it captured (Output.MalformedOverflow) fails, rather than send only
// part of them. sink must not be an engine.TxSink. Set the query's
// KafkaSource.DeadLetter.Topic too: the engine then fails such a batch
// before its output.
func WithDeadLetters(sink engine.Sink, opts DeadLetterOptions) (engine.Sink, error) {
	if _, ok := sink.(engine.TxSink); ok {
		return nil, errors.New("dead letters: a TxSink (bbolt) cannot carry them: use a Kafka or ForEachBatch sink")
	}
	var errs []error
	if opts.Props["bootstrap.servers"] == "" {
		errs = append(errs, errors.New("bootstrap.servers is not set"))
	}
	if opts.Topic == "" {
		errs = append(errs, errors.New("topic is not set"))
	}
	if opts.TransactionalIDPrefix == "" {
		opts.TransactionalIDPrefix = opts.Job
	}
	if opts.ProgressTopic == "" {
		opts.ProgressTopic = opts.Topic + ".microbatch-progress"
	}
	if c := opts.CreateTopic; c != nil && (c.Partitions < 1 || c.ReplicationFactor < 1) {
		errs = append(errs, fmt.Errorf("createTopic: partitions %d and replicationFactor %d must be at least 1", c.Partitions, c.ReplicationFactor))
	}
	d := &deadLetterSink{sink: sink}
	if k, ok := sink.(*Kafka); ok && k.txnID != "" && k.opts.Props["bootstrap.servers"] == opts.Props["bootstrap.servers"] {
		d.shared = k
	} else if opts.TransactionalIDPrefix == "" {
		errs = append(errs, errors.New("transactionalIdPrefix is not set (and the job has no name)"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("dead letters: %w", errors.Join(errs...))
	}
	opts.Props = kafka.Props(opts.Props).Clone()
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	d.opts = opts
	if d.shared != nil {
		d.shared.extra = d.produce
		d.shared.deadLetters = &topicCheck{topic: opts.Topic, create: opts.CreateTopic}
		return d, nil
	}
	// The own transactions reuse the Kafka sink's machinery: a Kafka sink
	// whose rows are the dead letters.
	own, err := NewKafka(KafkaOptions{
		Props: opts.Props, Topic: opts.Topic, Job: opts.Job, TransactionalIDPrefix: opts.TransactionalIDPrefix,
		Name: deadLetterName, ProgressTopic: opts.ProgressTopic, CreateTopic: opts.CreateTopic, MaxAttempts: opts.MaxAttempts,
		Logger: opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	own.rowsOff = true
	own.extra = d.produce
	d.own = own
	return d, nil
}

// deadLetterSink is a sink with a dead-letter writer.
type deadLetterSink struct {
	sink   engine.Sink
	opts   DeadLetterOptions
	shared *Kafka // the sink, whose transactions carry the dead letters
	own    *Kafka // the writer's own transactions, when not shared
}

// Open opens the sink (a shared one checks, or creates, the dead-letter
// topic first) and, with transactions of its own, the writer.
func (d *deadLetterSink) Open(ctx context.Context, lastCommitted int64) error {
	if o, ok := d.sink.(engine.SinkOpener); ok {
		if err := o.Open(ctx, lastCommitted); err != nil {
			return err
		}
	}
	if d.own != nil {
		if err := d.own.Open(ctx, lastCommitted); err != nil {
			return fmt.Errorf("dead letters: %w", err)
		}
	}
	return nil
}

// AddBatch writes out with the sink, then, with transactions of their own,
// its dead letters.
func (d *deadLetterSink) AddBatch(ctx context.Context, out *engine.Output) error {
	if out.MalformedOverflow > 0 { // the engine fails such a batch first when its KafkaSource.DeadLetter.Topic is set
		return fmt.Errorf("batch %d: %d malformed records past the bytes a batch captures cannot go to dead-letter topic %q (lower the batch size)",
			out.BatchID, out.MalformedOverflow, d.opts.Topic)
	}
	if err := d.sink.AddBatch(ctx, out); err != nil {
		return err
	}
	if d.own != nil && len(out.Malformed) > 0 { // no marker needed: a re-run batch has none either
		if err := d.own.AddBatch(ctx, out); err != nil {
			return fmt.Errorf("dead letters of batch %d to %s: %w", out.BatchID, d.opts.Topic, err)
		}
	}
	return nil
}

// Committed passes the commit on to the sink.
func (d *deadLetterSink) Committed(ctx context.Context, id int64) error {
	if c, ok := d.sink.(engine.SinkCommitter); ok {
		return c.Committed(ctx, id)
	}
	return nil
}

// Close closes the writer and the sink.
func (d *deadLetterSink) Close() error {
	var err error
	if d.own != nil {
		err = d.own.Close()
	}
	if c, ok := d.sink.(interface{ Close() error }); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}

// produce enqueues out's dead letters on p.
func (d *deadLetterSink) produce(ctx context.Context, p *kafka.TxnProducer, out *engine.Output) error {
	batchID := []byte(strconv.FormatInt(out.BatchID, 10))
	for i := range out.Malformed {
		m := &out.Malformed[i]
		msg := m.Reason
		if m.Column != "" {
			msg = fmt.Sprintf("column %q: %s", m.Column, m.Reason)
		}
		hs := make([]kafka.Header, 0, len(m.Headers)+7)
		for _, h := range m.Headers { // the original headers first, as Kafka Connect keeps them
			hs = append(hs, kafka.Header{Key: h.Key, Value: h.Value})
		}
		hs = append(hs, []kafka.Header{
			{Key: HeaderErrTopic, Value: []byte(m.Topic)},
			{Key: HeaderErrPartition, Value: []byte(strconv.FormatInt(int64(m.Partition), 10))},
			{Key: HeaderErrOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
			{Key: HeaderErrClass, Value: []byte(MalformedRecordClass)},
			{Key: HeaderErrMessage, Value: []byte(msg)},
			{Key: "microbatch.job", Value: []byte(d.opts.Job)},
			{Key: "microbatch.batch", Value: batchID},
		}...)
		if err := p.ProduceAt(ctx, d.opts.Topic, kafka.AnyPartition, m.Key, m.Value, hs, m.Timestamp); err != nil {
			return err
		}
	}
	return nil
}

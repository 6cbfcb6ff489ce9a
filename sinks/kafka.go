package sinks

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
)

// Delivery guarantees of the Kafka sink.
const (
	ExactlyOnce  = "exactly-once"
	AtLeastOnce  = "at-least-once"
	FormatJSON   = "json"
	FormatCSV    = "csv"
	progressPart = int32(0) // the progress topic partition holding the markers
)

// ErrFenced is returned (wrapped) by a Kafka sink whose transactional
// producer was fenced: another instance with the same transactional.id
// started.
var ErrFenced = errors.New("another instance took over: a newer producer with the same transactional.id fenced this one")

// CreateTopic asks the sink to create a missing topic.
type CreateTopic struct {
	Partitions        int32
	ReplicationFactor int
}

// KafkaOptions configure a Kafka sink.
type KafkaOptions struct {
	// Props are librdkafka producer properties; bootstrap.servers is
	// required.
	Props map[string]string
	// Topic receives the rows.
	Topic string
	// Key names the output columns forming each record's key. Empty: the
	// query's group-by columns (Output.KeySchema) when the output has them
	// (update mode of an aggregation), no key otherwise.
	Key []string
	// Format encodes keys and values: FormatJSON (default; one object per
	// row keyed by column name, the encoding of `microbatch state --format
	// jsonl`) or FormatCSV (one line, no header).
	Format string
	// DeliveryGuarantee is ExactlyOnce (default) or AtLeastOnce.
	DeliveryGuarantee string
	// Job names the job: the microbatch.job header.
	Job string
	// OmitBatchHeaders leaves the microbatch.job and microbatch.batch
	// headers off the rows' records (the markers keep them). Through
	// confluent-kafka-go and librdkafka a header costs several C
	// allocations per record, freed on librdkafka's broker thread: the
	// two take about half of the producer's CPU (README, Performance).
	OmitBatchHeaders bool
	// TransactionalIDPrefix and Name form the transactional.id
	// "<prefix>-<name>". The prefix defaults to Job, the name to "kafka".
	TransactionalIDPrefix string
	Name                  string
	// ProgressTopic holds the markers (key: the transactional.id, value:
	// the last batch id committed); default "<Topic>.microbatch-progress".
	// It is created (one partition, compacted) when missing.
	ProgressTopic string
	// CreateTopic, when not nil, creates Topic when it is missing; a
	// missing Topic is an error otherwise.
	CreateTopic *CreateTopic
	// MaxAttempts bounds the attempts of one batch's transaction after
	// abortable errors (default 3).
	MaxAttempts int
	// Logger receives librdkafka's log lines (its fatal error when
	// fenced, among others); default slog.Default().
	Logger *slog.Logger
}

// Kafka writes every batch's rows to a Kafka topic. With ExactlyOnce each
// batch is one Kafka transaction holding its rows and a marker record
// "batch N" in the progress topic; a batch whose marker is already
// committed is skipped (DESIGN.md section 5). It implements engine.Sink,
// engine.SinkOpener, engine.SinkCommitter and io.Closer.
type Kafka struct {
	opts   KafkaOptions
	txnID  string
	p      *kafka.TxnProducer
	marker int64 // last batch id committed in Kafka; -1 if none
	// extra, when set (WithDeadLetters), enqueues more records of the
	// batch after its rows, in its transaction, before the marker.
	extra func(ctx context.Context, p *kafka.TxnProducer, out *engine.Output) error
	// rowsOff: the sink writes no rows, only extra's records (the
	// dead-letter writer's own transactions).
	rowsOff bool
	// deadLetters, when set (WithDeadLetters sharing the transactions), is
	// the dead-letter topic, checked first by Open.
	deadLetters *topicCheck
	// beforeCommit, when set (tests), runs before each CommitTransaction.
	beforeCommit func(batchID int64)
	// lastCommit is the nanoseconds the last CommitTransaction took, once
	// its records were delivered (see LastCommitDuration).
	lastCommit atomic.Int64
	// closing counts the clients Open is done with and closes in the
	// background (up to 100 ms each); Close waits for them.
	closing sync.WaitGroup
}

// NewKafka checks opts and returns the sink; it connects in Open.
func NewKafka(opts KafkaOptions) (*Kafka, error) {
	var errs []error
	if opts.Props["bootstrap.servers"] == "" {
		errs = append(errs, errors.New("bootstrap.servers is not set"))
	}
	if opts.Topic == "" {
		errs = append(errs, errors.New("topic is not set"))
	}
	switch opts.Format {
	case "":
		opts.Format = FormatJSON
	case FormatJSON, FormatCSV:
	default:
		errs = append(errs, fmt.Errorf("format %q: want json or csv", opts.Format))
	}
	switch opts.DeliveryGuarantee {
	case "":
		opts.DeliveryGuarantee = ExactlyOnce
	case ExactlyOnce, AtLeastOnce:
	default:
		errs = append(errs, fmt.Errorf("deliveryGuarantee %q: want exactly-once or at-least-once", opts.DeliveryGuarantee))
	}
	if opts.TransactionalIDPrefix == "" {
		opts.TransactionalIDPrefix = opts.Job
	}
	if opts.DeliveryGuarantee == ExactlyOnce && opts.TransactionalIDPrefix == "" {
		errs = append(errs, errors.New("transactionalIdPrefix is not set (and the job has no name)"))
	}
	if opts.Name == "" {
		opts.Name = "kafka"
	}
	if opts.ProgressTopic == "" {
		opts.ProgressTopic = opts.Topic + ".microbatch-progress"
	}
	if c := opts.CreateTopic; c != nil && (c.Partitions < 1 || c.ReplicationFactor < 1) {
		errs = append(errs, fmt.Errorf("createTopic: partitions %d and replicationFactor %d must be at least 1", c.Partitions, c.ReplicationFactor))
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("kafka sink: %w", errors.Join(errs...))
	}
	opts.Props = kafka.Props(opts.Props).Clone()
	k := &Kafka{opts: opts, marker: -1}
	if opts.DeliveryGuarantee == ExactlyOnce {
		k.txnID = opts.TransactionalIDPrefix + "-" + opts.Name
	}
	return k, nil
}

// TransactionalID is the sink's transactional.id, "" at least once.
func (k *Kafka) TransactionalID() string { return k.txnID }

// Open checks (or creates) the topics, fences older instances
// (InitTransactions) and reads the marker.
func (k *Kafka) Open(ctx context.Context, lastCommitted int64) error {
	k.Close() // a Query run again opens its sink again
	k.marker = -1
	// One admin client checks the topics and lists the progress topic's
	// offsets, one consumer reads the marker both times; both are closed
	// in the background when Open returns.
	a, err := kafka.NewAdmin(k.opts.Props, k.opts.Logger)
	if err != nil {
		return err
	}
	defer k.closeLater(a.Close)
	if err := k.topics(ctx, a); err != nil {
		return err
	}
	p, err := kafka.NewTxnProducer(k.opts.Props, k.txnID, k.opts.Logger)
	if err != nil {
		return err
	}
	k.p = p
	if k.txnID == "" {
		return nil
	}
	mr := kafka.NewLastRecordReader(a, k.opts.Props, k.opts.Logger)
	defer k.closeLater(mr.Close)
	// The marker is read once before InitTransactions, which fences every
	// other instance with this transactional.id: a misconfigured one (a
	// reset checkpoint, another query with the same prefix) is refused
	// without taking down the instance that runs. A crashed instance's open
	// transaction does not hide the last committed marker (read_committed
	// reads up to the last stable offset). It is read again once fenced.
	if err := k.checkMarker(ctx, mr, lastCommitted); err != nil {
		return err
	}
	if err := p.InitTransactions(ctx); err != nil {
		if kafka.IsInvalidTransactionTimeout(err) {
			return fmt.Errorf("transaction.timeout.ms %s is more than the broker allows (its transaction.max.timeout.ms): lower it: %w",
				cmp.Or(k.opts.Props["transaction.timeout.ms"], "60000 (librdkafka's default)"), err)
		}
		return err
	}
	return k.checkMarker(ctx, mr, lastCommitted)
}

// closeLater runs close in a goroutine that Close waits for.
func (k *Kafka) closeLater(close func()) {
	k.closing.Add(1)
	go func() { // owned by k: Close waits for it
		defer k.closing.Done()
		close()
	}()
}

// checkMarker reads the sink's marker into k.marker (-1: none) and refuses
// one ahead of the checkpoint's next batch.
func (k *Kafka) checkMarker(ctx context.Context, mr *kafka.LastRecordReader, lastCommitted int64) error {
	k.marker = -1
	v, ok, err := mr.Read(ctx, offsets.TopicPartition{Topic: k.opts.ProgressTopic, Partition: progressPart}, []byte(k.txnID))
	if err != nil {
		return fmt.Errorf("read the marker of %s: %w", k.txnID, err)
	}
	if ok {
		m, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("marker of %s in %s: %q is no batch id", k.txnID, k.opts.ProgressTopic, v)
		}
		k.marker = m
	}
	if k.marker > lastCommitted+1 {
		return fmt.Errorf("marker of %s in %s is at batch %d but the checkpoint's last committed batch is %d: the marker is another query's (or the checkpoint was reset); use another transactionalIdPrefix",
			k.txnID, k.opts.ProgressTopic, k.marker, lastCommitted)
	}
	return nil
}

// topicCheck is a topic that must exist, created when create is set.
type topicCheck struct {
	topic  string
	create *CreateTopic
}

// check creates c.topic when it is not in have and c.create is set, and
// then adds it to have.
func (c topicCheck) check(ctx context.Context, a *kafka.Admin, have map[string]int32) error {
	if _, ok := have[c.topic]; ok {
		return nil
	}
	if c.create == nil {
		return fmt.Errorf("topic %q does not exist (set createTopic to create it)", c.topic)
	}
	if err := a.CreateTopicReplicated(ctx, c.topic, c.create.Partitions, c.create.ReplicationFactor, nil); err != nil {
		return err
	}
	have[c.topic] = c.create.Partitions
	return nil
}

// topics checks that the dead-letter topic (when shared) and the output
// topic exist, creating them if asked, and creates the progress topic
// when missing.
func (k *Kafka) topics(ctx context.Context, a *kafka.Admin) error {
	have, err := a.Topics(ctx)
	if err != nil {
		return err
	}
	if k.deadLetters != nil {
		if err := k.deadLetters.check(ctx, a, have); err != nil {
			return fmt.Errorf("dead-letter topic: %w", err)
		}
	}
	if err := (topicCheck{k.opts.Topic, k.opts.CreateTopic}).check(ctx, a, have); err != nil {
		return err
	}
	if _, ok := have[k.opts.ProgressTopic]; !ok && k.txnID != "" {
		rf := 1
		if c := k.opts.CreateTopic; c != nil {
			rf = c.ReplicationFactor
		}
		if err := a.CreateTopicReplicated(ctx, k.opts.ProgressTopic, 1, rf, map[string]string{"cleanup.policy": "compact"}); err != nil {
			return err
		}
	}
	return nil
}

// AddBatch writes out's rows; with ExactlyOnce, in one transaction with
// the marker, skipped when the marker is already at out.BatchID.
func (k *Kafka) AddBatch(ctx context.Context, out *engine.Output) error {
	if k.p == nil {
		return errors.New("kafka sink: AddBatch before Open")
	}
	enc, err := k.encoder(out)
	if err != nil {
		return err
	}
	if k.txnID == "" {
		if err := k.produce(ctx, out, enc); err != nil {
			return err
		}
		return k.p.Flush(ctx)
	}
	if out.BatchID <= k.marker {
		return nil // committed in Kafka before a crash; only bbolt's commit is redone
	}
	for attempt := 1; ; attempt++ {
		err := k.transaction(ctx, out, enc)
		if err == nil {
			k.marker = out.BatchID
			return nil
		}
		switch kafka.ClassifyTxnError(err) {
		case kafka.TxnFenced:
			return fmt.Errorf("%w (transactional.id %s): %w", ErrFenced, k.txnID, err)
		case kafka.TxnFatal:
			return err
		}
		if aerr := k.p.AbortTransaction(ctx); aerr != nil {
			if kafka.ClassifyTxnError(aerr) == kafka.TxnFenced {
				return fmt.Errorf("%w (transactional.id %s): %w", ErrFenced, k.txnID, aerr)
			}
			return fmt.Errorf("%w; then abort: %w", err, aerr)
		}
		if attempt >= k.opts.MaxAttempts || ctx.Err() != nil {
			return fmt.Errorf("after %d attempts: %w", attempt, err)
		}
	}
}

func (k *Kafka) transaction(ctx context.Context, out *engine.Output, enc *encoder) error {
	if err := k.p.BeginTransaction(); err != nil {
		return err
	}
	if err := k.produce(ctx, out, enc); err != nil {
		return err
	}
	mark := []byte(strconv.FormatInt(out.BatchID, 10))
	if err := k.p.Produce(ctx, k.opts.ProgressTopic, progressPart, []byte(k.txnID), mark, enc.headers); err != nil {
		return err
	}
	// Waiting for the records first leaves the commit with only the
	// transaction's end to do (CommitTransaction would flush anyway), so
	// that what it costs can be told apart from producing.
	if err := k.p.Flush(ctx); err != nil {
		return err
	}
	if k.beforeCommit != nil {
		k.beforeCommit(out.BatchID)
	}
	start := time.Now()
	if err := k.p.CommitTransaction(ctx); err != nil {
		return err
	}
	k.lastCommit.Store(int64(time.Since(start)))
	return nil
}

// CheckSchema checks the key columns against a query's output columns
// and, in update mode over an aggregation (keys not nil), against its key
// columns (dataframe.Program.KeySchema): a group that leaves the result is
// a tombstone keyed by its group-by columns, and an upsert reader keeps a
// value per key. A job file's validation calls it; AddBatch checks the
// same of each batch.
func (k *Kafka) CheckSchema(out, keys *arrow.Schema, mode dataframe.OutputMode) error {
	return checkKeys(k.opts.Key, out, keys, mode)
}

// checkKeys checks key column names as CheckSchema describes.
func checkKeys(names []string, out, keys *arrow.Schema, mode dataframe.OutputMode) error {
	for _, n := range names {
		if len(out.FieldIndices(n)) == 0 {
			return fmt.Errorf("key column %q is not an output column (output: %s)", n, fieldNames(out))
		}
		if mode == dataframe.Update && keys != nil && len(keys.FieldIndices(n)) == 0 {
			return fmt.Errorf("key column %q is not a group-by column: in update mode a group that leaves the result (HAVING) is a tombstone keyed by its group-by columns, and a reader keeps one value per key (group by: %s)", n, fieldNames(keys))
		}
	}
	return nil
}

// LastCommitDuration is how long the last batch's Kafka transaction took
// to commit once its records were delivered (EndTxn and the markers the
// broker writes): what exactly-once adds to a batch over at-least-once's
// produce and flush. 0 before the first commit, and with at-least-once.
func (k *Kafka) LastCommitDuration() time.Duration { return time.Duration(k.lastCommit.Load()) }

// produce enqueues the rows, then the tombstones of the deleted keys.
func (k *Kafka) produce(ctx context.Context, out *engine.Output, enc *encoder) error {
	if k.rowsOff {
		return k.extra(ctx, k.p, out)
	}
	var key, val []byte
	for _, rec := range out.Records {
		keyCols := enc.keyCols(rec.Schema())
		for i := 0; i < int(rec.NumRows()); i++ {
			key = enc.keyOf(key[:0], rec, keyCols, i)
			val = enc.row(val[:0], rec, i)
			// librdkafka copies key and value at Produce.
			if err := k.p.Produce(ctx, k.opts.Topic, kafka.AnyPartition, key, val, enc.rowHdrs); err != nil {
				return err
			}
		}
	}
	if d := out.Deleted; d != nil && enc.keyed {
		keyCols := enc.keyCols(d.Schema())
		for i := 0; i < int(d.NumRows()); i++ {
			key = enc.keyOf(key[:0], d, keyCols, i)
			if err := k.p.Produce(ctx, k.opts.Topic, kafka.AnyPartition, key, nil, enc.rowHdrs); err != nil {
				return err
			}
		}
	}
	if k.extra != nil {
		return k.extra(ctx, k.p, out)
	}
	return nil
}

// Committed does nothing: the Kafka transaction committed in AddBatch.
func (k *Kafka) Committed(context.Context, int64) error { return nil }

// Close closes the producer, and waits for the clients Open closes.
func (k *Kafka) Close() error {
	if k.p != nil {
		k.p.Close()
		k.p = nil
	}
	k.closing.Wait()
	return nil
}

// encoder turns the rows of one batch into keys and values.
type encoder struct {
	format  string
	keyed   bool
	keyNs   []string       // key column names
	keyJSON [][]byte       // each key column name as a JSON string, for JSON keys
	headers []kafka.Header // the marker's
	rowHdrs []kafka.Header // the rows' and tombstones': headers, or none
}

func (k *Kafka) encoder(out *engine.Output) (*encoder, error) {
	e := &encoder{format: k.opts.Format, headers: []kafka.Header{
		{Key: "microbatch.job", Value: []byte(k.opts.Job)},
		{Key: "microbatch.batch", Value: []byte(strconv.FormatInt(out.BatchID, 10))},
	}}
	if !k.opts.OmitBatchHeaders {
		e.rowHdrs = e.headers
	}
	if k.rowsOff {
		return e, nil
	}
	e.keyNs = k.opts.Key
	if len(e.keyNs) == 0 && out.KeySchema != nil {
		for _, f := range out.KeySchema.Fields() {
			e.keyNs = append(e.keyNs, f.Name)
		}
	}
	e.keyed = len(e.keyNs) > 0
	for _, n := range e.keyNs {
		name, _ := json.Marshal(n) // a string always marshals
		e.keyJSON = append(e.keyJSON, name)
	}
	// out.KeySchema is the schema of out.Deleted: the tombstones' keys.
	if err := checkKeys(e.keyNs, out.Schema, out.KeySchema, out.Mode); err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	return e, nil
}

// keyCols returns the indices in s of the key columns.
func (e *encoder) keyCols(s *arrow.Schema) []int {
	out := make([]int, len(e.keyNs))
	for i, n := range e.keyNs {
		out[i] = s.FieldIndices(n)[0]
	}
	return out
}

// keyOf renders row i's key columns (nil when unkeyed) as the value format.
// A keyed row's key is never nil, so that a CSV key of one NULL or empty
// column is always the empty key, not Kafka's null key.
func (e *encoder) keyOf(dst []byte, rec arrow.Record, cols []int, i int) []byte {
	if !e.keyed {
		return nil
	}
	if dst == nil {
		dst = []byte{}
	}
	if e.format == FormatCSV {
		for j, c := range cols {
			if j > 0 {
				dst = append(dst, ',')
			}
			col := rec.Column(c)
			dst = dataframe.AppendCSVField(dst, dataframe.TextValue(col, i), col.IsNull(i))
		}
		return dst
	}
	dst = append(dst, '{')
	for j, c := range cols {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e.keyJSON[j]...)
		dst = append(dst, ':')
		dst = append(dst, dataframe.JSONValue(rec.Column(c), i)...)
	}
	return append(dst, '}')
}

func (e *encoder) row(dst []byte, rec arrow.Record, i int) []byte {
	if e.format == FormatCSV {
		return dataframe.AppendCSVRow(dst, rec, i)
	}
	return dataframe.AppendJSONRow(dst, rec, i)
}

func fieldNames(s *arrow.Schema) string {
	var ns []string
	for _, f := range s.Fields() {
		ns = append(ns, f.Name)
	}
	return strings.Join(ns, ", ")
}

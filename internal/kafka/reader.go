package kafka

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/microbatch/microbatch/offsets"
)

// Record is one Kafka record handed to a RangeReader callback. The
// RangeReader reuses the Record and its slices: they are valid only until the
// callback returns.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64 // milliseconds since the Unix epoch; -1 when the record has none
	Key       []byte
	Value     []byte
	Headers   []byte // encoded (DecodeHeaders); nil when the record has none
}

// ReaderConfig tunes a RangeReader.
type ReaderConfig struct {
	// FailOnDataLoss makes Read return an *offsets.DataLossError when offsets
	// of the range are no longer in the log (below the log start offset).
	// When false, Read skips to the log start and counts the skipped offsets
	// in ReadStats.SkippedOffsets. Spark's failOnDataLoss.
	FailOnDataLoss bool
	// StallTimeout fails a Read whose position has not advanced for this long
	// (a broker that is down, a transaction that never ends under
	// read_committed, a range planned beyond the end of the log). Default
	// DefaultStallTimeout.
	StallTimeout time.Duration
	// MaxStashRecords bounds the records of a partition other than the one
	// being read that a reader keeps in memory for a later read; above it
	// the partition is paused until it is read. Default 100,000
	// (defaultMaxStashRecords). (Keep and the end of a Read also limit how
	// far ahead a partition is stashed: see Keep.)
	MaxStashRecords int
	// MinAheadBytes is the least a partition holds, in key and value
	// bytes, past the end of its range before it is paused while other
	// partitions are read (see Keep): where its current run of records
	// ends, and at the latest at 1.5x MinAheadBytes. Default 4 MiB
	// (defaultMinAheadBytes).
	MinAheadBytes int64
	// Logger receives data-loss skips, transient client errors and
	// librdkafka's log lines. Default slog.Default().
	Logger *slog.Logger
}

// defaultMinAheadBytes is ReaderConfig.MinAheadBytes's default: four of
// librdkafka's per-partition fetches (max.partition.fetch.bytes, 1 MiB). A
// fetch brings a partition a whole producer batch, up to 1 MiB. Pausing a
// partition drops what librdkafka had queued for it, and a resume fetches
// again from the batch that holds the position, so every pause costs about
// one to two batches fetched, decompressed and parsed twice. The bound sets
// how often that happens: bench/, 10M records, 64 partitions, 1,562 records
// per partition per batch, librdkafka received 2.05x the records read with
// 2 MiB, 1.24x with 4 MiB and 1.16x with 8 MiB (and 1.22x against 1.00x at
// 16 partitions on a 1M-record topic). A full partition is paused where
// its run of records from one fetch ends, at a producer batch boundary (at
// the latest at 1.5x the bound): 1.24x -> 1.00x at 64 partitions, for up
// to a fetch more held per partition. The stashes live outside the Go
// heap, so the bound costs what it holds and no collector headroom.
const defaultMinAheadBytes = 4 << 20

// defaultMaxStashRecords is ReaderConfig.MaxStashRecords's default.
const defaultMaxStashRecords = 100000

// DefaultStallTimeout is ReaderConfig.StallTimeout's default.
const DefaultStallTimeout = 60 * time.Second

// ReadStats counts what one Read did.
type ReadStats struct {
	Records        int64 // records handed to the callback
	Bytes          int64 // key and value bytes handed to the callback
	SkippedOffsets int64 // offsets lost to retention and skipped (FailOnDataLoss=false)
	// Seeked is true when the read (re-)assigned the partition at From
	// instead of continuing the consumer's stream where the last read of the
	// partition ended.
	Seeked bool
}

// ErrReaderClosed is returned by a RangeReader after Close.
var ErrReaderClosed = errors.New("kafka: range reader is closed")

// StallError reports a Read that made no progress for ReaderConfig.StallTimeout.
type StallError struct {
	Range    offsets.OffsetRange
	Position int64 // the offset the read was waiting for
	Waited   time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("kafka: reading %s: no progress at offset %d for %s (broker down, open transaction under read_committed, or a range beyond the end of the log?)",
		e.Range, e.Position, e.Waited)
}

// RangeReader reads exact offset ranges [From, Until) with one
// confluent-kafka-go consumer. It only assigns partitions: it never
// subscribes, joins a group or commits. A RangeReader is used by one
// goroutine at a time.
//
// # Reading several partitions at once
//
// ReadRanges reads one range of each of several partitions from the
// consumer's one stream. That stream serves the partitions in runs, one
// producer batch of a partition after another's, in fetch order: a range
// read alone would have to hold every other partition's records polled
// before its own. Read together, every record polled belongs to a range
// being read, except those past a range's end.
//
// # Positions and prefetch
//
// The reader remembers, per partition, the offset where the last read of
// it ended. A read whose From equals it continues the consumer's stream
// without a seek, so records librdkafka prefetched (and records at or
// beyond the previous Until that the previous read polled but did not
// deliver, kept in a compact stash) are reused. Any other From re-assigns
// the partition at From.
//
// # End of range
//
// A range is finished when the partition's position reaches Until, not when
// the record at Until-1 is seen: offsets without records (transaction
// markers, aborted records under read_committed, compacted records) would
// otherwise hang the read. The position advances with every record polled,
// with partition EOF events (their offset is the fetch position at the end of
// the log, past trailing markers) and with the consumer's Position.
type RangeReader struct {
	c      *ckafka.Consumer
	cfg    ReaderConfig
	log    *slog.Logger
	parts  map[offsets.TopicPartition]*partState
	rec    Record // reused for every callback
	closed bool
	// stashed is the number of records in every partition's stash.
	stashed int
	pool    blockPool // the stashes' arena blocks
	// logsDone is closed when the goroutine writing the consumer's
	// librdkafka log lines to log exits, after the consumer's Close.
	logsDone chan struct{}
}

// partState is the reader's view of one assigned partition.
type partState struct {
	tp     offsets.TopicPartition
	topic  *string // shared by every librdkafka call for the partition
	paused bool
	// stale means the consumer's stream for the partition can no longer be
	// continued (an error was polled for it while another partition was
	// read): the next Read re-assigns it.
	stale bool
	// delivered is where the last Read of the partition ended: the From that
	// continues without a seek.
	delivered int64
	// fetched is the offset after the last record or EOF polled, or the
	// consumer's Position when larger. delivered <= fetched.
	fetched int64
	// stash holds records polled but not delivered, all in [delivered,
	// fetched), in offset order.
	stash stashQueue
	// ahead, when > 0, is how far the partition is fetched while another
	// one is read: past it the partition is paused until it is read.
	ahead int64
	// act is the range of the partition a ReadRanges call is reading, nil
	// when none is. While it is set the stash is empty.
	act *reading
}

// NewRangeReader creates a consumer from ConsumerDefaults overlaid with p.
// enable.partition.eof=true, auto.offset.reset=error and
// enable.auto.commit=false are forced: range reads depend on them.
func NewRangeReader(p Props, cfg ReaderConfig) (*RangeReader, error) {
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.MaxStashRecords <= 0 {
		cfg.MaxStashRecords = defaultMaxStashRecords
	}
	if cfg.MinAheadBytes <= 0 {
		cfg.MinAheadBytes = defaultMinAheadBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cm, err := configMap(ConsumerDefaults(), p)
	if err != nil {
		return nil, err
	}
	// What range reads rely on, whatever the job says (Spark's Kafka source
	// rejects these options for the same reason): EOF events end ranges
	// after trailing transaction markers, an out-of-range fetch must be
	// reported, never silently reset, and nothing is committed.
	(*cm)["enable.partition.eof"] = true
	(*cm)["auto.offset.reset"] = "error"
	(*cm)["enable.auto.commit"] = false
	typeGoProps(cm)
	// librdkafka's log lines go to the logs channel, not raw to stderr.
	(*cm)["go.logs.channel.enable"] = true
	c, err := ckafka.NewConsumer(cm)
	if err != nil {
		return nil, fmt.Errorf("kafka: consumer: %w", err)
	}
	rr := &RangeReader{c: c, cfg: cfg, log: cfg.Logger, parts: make(map[offsets.TopicPartition]*partState), logsDone: make(chan struct{})}
	go logLibrdkafka(c.Logs(), cfg.Logger, rr.logsDone)
	return rr, nil
}

// typeGoProps converts the confluent-kafka-go ("go.") properties of cm,
// which arrive as strings like every other property, to the bool and int
// values confluent-kafka-go insists on.
func typeGoProps(cm *ckafka.ConfigMap) {
	for k, v := range *cm {
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(k, "go.") {
			continue
		}
		if b, err := strconv.ParseBool(s); err == nil {
			(*cm)[k] = b
		} else if n, err := strconv.Atoi(s); err == nil {
			(*cm)[k] = n
		}
	}
}

// Close closes the consumer and frees what the reader holds (its stashes
// live outside the Go heap: a reader must be closed). It does not commit
// anything.
func (rr *RangeReader) Close() error {
	if rr.closed {
		return nil
	}
	rr.closed = true
	for _, st := range rr.parts {
		st.stash.reset(&rr.pool)
	}
	rr.pool.close()
	rr.parts, rr.stashed = nil, 0

	if err := rr.c.Close(); err != nil {
		return fmt.Errorf("kafka: close consumer: %w", err)
	}
	<-rr.logsDone // Close closed the logs channel
	return nil
}

// Assigned returns the partitions currently assigned to the reader, sorted.
func (rr *RangeReader) Assigned() []offsets.TopicPartition {
	out := make([]offsets.TopicPartition, 0, len(rr.parts))
	for tp := range rr.parts {
		out = append(out, tp)
	}
	offsets.SortPartitions(out)
	return out
}

// Position returns where the last Read of tp ended, and false when tp is not
// assigned to the reader.
func (rr *RangeReader) Position(tp offsets.TopicPartition) (int64, bool) {
	st, ok := rr.parts[tp]
	if !ok || st.stale {
		return 0, false
	}
	return st.delivered, true
}

// aheadOf is how far r's partition is fetched while other partitions are
// read: r's Until plus r's length again (and at least MinAheadBytes past
// where the partition was read to; see full).
func aheadOf(r offsets.OffsetRange) int64 {
	return r.Until + r.Count()
}

// full reports whether a partition that is not being read has stashed
// enough: MaxStashRecords records, or up to its ahead limit and at least
// MinAheadBytes.
func (rr *RangeReader) full(st *partState) bool {
	return st.stash.len() >= rr.cfg.MaxStashRecords ||
		(st.ahead > 0 && st.fetched >= st.ahead && st.stash.bytes >= rr.cfg.MinAheadBytes)
}

// overfull reports whether a full partition is paused at once rather than
// where its run ends: it holds MaxStashRecords records or half
// MinAheadBytes more than full asks.
func (rr *RangeReader) overfull(st *partState) bool {
	return st.stash.len() >= rr.cfg.MaxStashRecords || st.stash.bytes >= rr.cfg.MinAheadBytes+rr.cfg.MinAheadBytes/2
}

// wants reports whether a paused partition is to fetch again: it must, to
// reach until, or what it holds fell below half of what pauses it. A pause
// drops what librdkafka had fetched for the partition, and a resume fetches
// it again: resuming as soon as a read took a range off the stash paused
// and resumed every partition every batch (librdkafka received 2.48x the
// records read at 64 partitions on a 10M-record topic, 2.05x with this).
func (rr *RangeReader) wants(st *partState, until int64) bool {
	return st.fetched < until ||
		(st.stash.bytes < rr.cfg.MinAheadBytes/2 && st.stash.len() < rr.cfg.MaxStashRecords/2)
}

// Keep prepares the reads of the next ranges: it pauses every assigned
// partition without a range in keep, so that the consumer stops
// prefetching partitions the next reads do not need, and resumes the
// partitions with one that hold less than half of MinAheadBytes (and of
// MaxStashRecords; see wants), each to be fetched up to its range's Until
// plus the range's length again (and at least ReaderConfig.MinAheadBytes)
// while other partitions are read: what a batch reads and a batch more,
// not the whole backlog. (A read resumes a paused partition whose stash
// does not reach its range's Until.) Paused partitions keep their
// position: a later Read that continues where they stopped still needs no
// seek. A partition with several ranges in keep is bounded by the last.
func (rr *RangeReader) Keep(keep []offsets.OffsetRange) error {
	if rr.closed {
		return ErrReaderClosed
	}
	want := make(map[offsets.TopicPartition]bool, len(keep))
	for _, r := range keep {
		tp := r.TopicPartition()
		want[tp] = true
		if st, ok := rr.parts[tp]; ok {
			st.ahead = aheadOf(r)
		}
	}
	var pause, resume []ckafka.TopicPartition
	var paused, resumed []*partState
	for tp, st := range rr.parts {
		switch {
		case !want[tp] && !st.paused:
			pause = append(pause, st.ckTP(ckafka.OffsetInvalid))
			paused = append(paused, st)
		case want[tp] && st.paused && rr.wants(st, 0):
			resume = append(resume, st.ckTP(ckafka.OffsetInvalid))
			resumed = append(resumed, st)
		}
	}
	// The flags change only once librdkafka took the call: a partition
	// marked paused skips the stash bounds, one marked resumed is not
	// resumed by the next read.
	if len(pause) > 0 {
		if err := rr.c.Pause(pause); err != nil {
			return fmt.Errorf("kafka: pause %v: %w", pause, err)
		}
		for _, st := range paused {
			st.paused = true
		}
	}
	if len(resume) > 0 {
		if err := rr.c.Resume(resume); err != nil {
			return fmt.Errorf("kafka: resume %v: %w", resume, err)
		}
		for _, st := range resumed {
			st.paused = false
		}
	}
	return nil
}

// Release unassigns tp and forgets its position and stashed records.
func (rr *RangeReader) Release(tp offsets.TopicPartition) error {
	if rr.closed {
		return ErrReaderClosed
	}
	st, ok := rr.parts[tp]
	if !ok {
		return nil
	}
	delete(rr.parts, tp)
	rr.stashed -= st.stash.len()
	st.stash.reset(&rr.pool)
	if err := rr.c.IncrementalUnassign([]ckafka.TopicPartition{st.ckTP(ckafka.OffsetInvalid)}); err != nil {
		return fmt.Errorf("kafka: unassign %s: %w", tp, err)
	}
	return nil
}

func (st *partState) ckTP(off ckafka.Offset) ckafka.TopicPartition {
	return ckafka.TopicPartition{Topic: st.topic, Partition: st.tp.Partition, Offset: off}
}

// assign (re-)assigns every partition of tps at the offset of the same
// index in froms, dropping what was stashed for them, with one unassign,
// one assign and one resume call for all of them.
func (rr *RangeReader) assign(tps []offsets.TopicPartition, froms []int64) ([]*partState, error) {
	var old, assign []ckafka.TopicPartition
	sts := make([]*partState, len(tps))
	for i, tp := range tps {
		if o, ok := rr.parts[tp]; ok {
			delete(rr.parts, tp)
			rr.stashed -= o.stash.len()
			o.stash.reset(&rr.pool)
			old = append(old, o.ckTP(ckafka.OffsetInvalid))
		}
		topic := tp.Topic
		sts[i] = &partState{tp: tp, topic: &topic, delivered: froms[i], fetched: froms[i]}
		assign = append(assign, sts[i].ckTP(ckafka.Offset(froms[i])))
	}
	if len(old) > 0 {
		if err := rr.c.IncrementalUnassign(old); err != nil {
			return nil, fmt.Errorf("kafka: unassign %v: %w", old, err)
		}
	}
	if err := rr.c.IncrementalAssign(assign); err != nil {
		return nil, fmt.Errorf("kafka: assign %v: %w", assign, err)
	}
	resume := make([]ckafka.TopicPartition, len(sts))
	for i, st := range sts {
		rr.parts[st.tp] = st
		resume[i] = st.ckTP(ckafka.OffsetInvalid)
	}
	// librdkafka keeps a partition's pause flag across unassign and assign:
	// a partition paused before (by Keep or the stash bound) would stay
	// paused and never fetch.
	if err := rr.c.Resume(resume); err != nil {
		for _, st := range sts {
			st.stale = true // the next read assigns it again
		}
		return nil, fmt.Errorf("kafka: resume %v: %w", resume, err)
	}
	return sts, nil
}

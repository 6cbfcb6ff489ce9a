package kafka

import (
	"context"
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
	// the partition is paused until it is read. Default
	// DefaultMaxStashRecords. (Keep and the end of a Read also limit how
	// far ahead a partition is stashed: see Keep.)
	MaxStashRecords int
	// MinAheadBytes is the least a partition holds, in key and value
	// bytes, past the end of its range before it is paused while other
	// partitions are read (see Keep): where its current run of records
	// ends, and at the latest at 1.5x MinAheadBytes. Default
	// DefaultMinAheadBytes.
	MinAheadBytes int64
	// Logger receives data-loss skips and transient client errors. Default
	// slog.Default().
	Logger *slog.Logger
}

// DefaultMinAheadBytes is ReaderConfig.MinAheadBytes's default: four of
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
const DefaultMinAheadBytes = 4 << 20

// DefaultMaxStashRecords is ReaderConfig.MaxStashRecords's default.
const DefaultMaxStashRecords = 100000

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
		cfg.MaxStashRecords = DefaultMaxStashRecords
	}
	if cfg.MinAheadBytes <= 0 {
		cfg.MinAheadBytes = DefaultMinAheadBytes
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
	c, err := ckafka.NewConsumer(cm)
	if err != nil {
		return nil, fmt.Errorf("kafka: consumer: %w", err)
	}
	return &RangeReader{c: c, cfg: cfg, log: cfg.Logger, parts: make(map[offsets.TopicPartition]*partState)}, nil
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

// Stashed is the number of records the reader holds for later reads:
// records of other partitions polled during a read, and records at or
// beyond the end of a read's range.
func (rr *RangeReader) Stashed() int { return rr.stashed }

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

// pollMs bounds one Poll: how quickly a read notices ctx cancellation when
// no records arrive. Poll returns as soon as an event is ready, so it costs
// nothing while records flow.
const pollMs = 50

// checkEvery is how many polled events pass between ctx and stall checks
// while records flow (both cost more than a record).
const checkEvery = 1024

// Read hands every record of r to fn in offset order and returns when the
// partition's position reaches r.Until: ReadRanges of one range.
func (rr *RangeReader) Read(ctx context.Context, r offsets.OffsetRange, fn func(*Record) error) (stats ReadStats, err error) {
	_, err = rr.ReadRanges(ctx, []offsets.OffsetRange{r}, RangeHandler{
		Record: func(_ int, rec *Record) error { return fn(rec) },
		Done:   func(_ int, s ReadStats) error { stats = s; return nil },
	})
	return stats, err
}

// RangeHandler receives what ReadRanges reads, on ReadRanges' goroutine.
// An error from any of its functions stops the read and is returned
// unchanged.
type RangeHandler struct {
	// Record receives every record of range i, in offset order. The
	// records of different ranges interleave as the consumer delivers
	// them. The Record and its slices are valid until Record returns.
	Record func(i int, rec *Record) error
	// Done, when not nil, is called once for each range that was read to
	// its Until, after its last record.
	Done func(i int, stats ReadStats) error
	// Idle, when not nil, is called whenever a poll returned nothing:
	// about every 50 ms while no record arrives. A caller that batches
	// what Record receives hands on a partial batch there, so that records
	// do not wait for a slow or stalled partition.
	Idle func() error
}

// reading is a range of a ReadRanges call.
type reading struct {
	i     int
	r     offsets.OffsetRange
	st    *partState // nil for an empty range
	stats ReadStats
	done  bool
	// progressAt is st.fetched as it was at lastProgress, when it last
	// changed.
	progressAt   int64
	lastProgress time.Time
}

// ReadRanges reads every range of rs at once from the consumer's one
// stream, which interleaves the partitions as the brokers return them,
// and returns when each has been read to its Until: nothing polled for a
// range is held for another range's turn. The ranges must be of distinct
// partitions (empty ranges aside).
//
// On error it returns the index in rs of the range the error concerns (for
// an error of no one range, such as ctx's, the first range not yet done)
// and the error. The partitions of ranges not done are then re-assigned by
// their next read.
//
// Offsets of a range below its partition's log start return an
// *offsets.DataLossError (ReaderConfig.FailOnDataLoss) or are skipped and
// counted. A range whose position does not advance for
// ReaderConfig.StallTimeout returns a *StallError. ctx bounds the whole
// read; its cancellation is noticed within about 50 ms and returned as
// ctx.Err().
func (rr *RangeReader) ReadRanges(ctx context.Context, rs []offsets.OffsetRange, h RangeHandler) (failed int, err error) {
	if rr.closed {
		return 0, ErrReaderClosed
	}
	reads := make([]reading, len(rs))
	defer func() {
		// A handler that panicked left them pointing into a stash block,
		// which may be unmapped later.
		rr.rec.Key, rr.rec.Value = nil, nil
		for i := range reads {
			if rd := &reads[i]; rd.st != nil && rd.st.act == rd {
				rd.st.act = nil
				if !rd.done {
					rd.st.stale = true // a callback or the consumer failed (or panicked) mid-stream
				}
			}
		}
	}()
	if i, err := rr.start(rs, reads); err != nil {
		return i, err
	}
	open := 0
	finish := func(rd *reading) error {
		st := rd.st
		st.delivered = rd.r.Until
		// Prefetch for the next read while other partitions are read.
		st.ahead = aheadOf(rd.r)
		st.act, rd.done = nil, true
		open--
		if h.Done == nil {
			return nil
		}
		return h.Done(rd.i, rd.stats)
	}
	first := func() int { // the first range not done
		for i := range reads {
			if !reads[i].done {
				return i
			}
		}
		return 0
	}

	now := time.Now()
	for i := range reads {
		rd := &reads[i]
		if rd.st == nil {
			rd.done = true
			if h.Done != nil {
				if err := h.Done(i, rd.stats); err != nil {
					return i, err
				}
			}
			continue
		}
		rd.st.act = rd
		rd.progressAt, rd.lastProgress = rd.st.fetched, now
		open++
	}
	// What earlier reads stashed first. A range being read never holds a
	// stash: its records are delivered as they are polled, until one at
	// or beyond Until ends it.
	for i := range reads {
		rd := &reads[i]
		if rd.done {
			continue
		}
		st := rd.st
		for st.stash.len() > 0 {
			m := st.stash.front()
			if m.offset >= rd.r.Until {
				break
			}
			err := rr.deliver(rd, &m, h.Record)
			st.stash.pop(&rr.pool) // after deliver: its bytes were in use
			rr.stashed--
			if err != nil {
				return i, err
			}
		}
		if st.stash.len() > 0 || st.fetched >= rd.r.Until {
			if err := finish(rd); err != nil {
				return i, err
			}
		}
	}

	events := 0
	var last *partState // the last message's: messages come in runs of one partition
	// pending is a partition that is full, to be paused where its run ends:
	// a run of one partition's records is the rest of a fetch, whole
	// producer batches, and a partition paused inside a batch fetches it
	// again from its start on resume (librdkafka's statistics: 1.24x the
	// records read at 64 partitions on a 10M-record topic, 1.00x when
	// paused at the end of the run).
	// A partition still pending when the read returns is not paused: its
	// run goes on into librdkafka's queue (bounded by the consumer's queue)
	// and the next read stashes it and pauses it where the run ends.
	var pending *partState
	pause := func(ps *partState) error {
		if rr.parts[ps.tp] != ps || ps.paused {
			return nil // re-assigned or released since
		}
		if err := rr.c.Pause([]ckafka.TopicPartition{ps.ckTP(ckafka.OffsetInvalid)}); err != nil {
			return fmt.Errorf("kafka: pause %s: %w", ps.tp, err)
		}
		ps.paused = true
		return nil
	}
	for open > 0 {
		ev := rr.c.Poll(pollMs)
		events++
		idle := false
		switch e := ev.(type) {
		case *ckafka.Message:
			tpe := e.TopicPartition
			if tpe.Topic == nil {
				if tpe.Error != nil {
					rr.log.Warn("kafka: consumer error", "error", tpe.Error)
				}
				break
			}
			ps := last
			if ps == nil || tpe.Partition != ps.tp.Partition || *tpe.Topic != ps.tp.Topic {
				if pending != nil {
					if err := pause(pending); err != nil {
						return first(), err
					}
					pending = nil
				}
				if ps = rr.parts[offsets.TopicPartition{Topic: *tpe.Topic, Partition: tpe.Partition}]; ps == nil {
					break // released partition: outdated
				}
				last = ps
			}
			if tpe.Error != nil {
				last = nil // the partition may be re-assigned
				rd := ps.act
				if rd == nil {
					ps.stale = true
					rr.log.Warn("kafka: partition error while reading other partitions; it will be re-assigned when read",
						"partition", ps.tp.String(), "offset", int64(tpe.Offset), "error", tpe.Error)
					break
				}
				if err := rr.partitionError(ctx, rd, tpe.Error, finish); err != nil {
					return rd.i, err
				}
				break
			}
			off := int64(tpe.Offset)
			if off < ps.fetched {
				break // from before a re-assignment
			}
			ps.fetched = off + 1
			if rd := ps.act; rd != nil {
				if off < rd.r.Until {
					m := newStashRec(e)
					if err := rr.deliver(rd, &m, h.Record); err != nil {
						return rd.i, err
					}
				} else {
					rr.stash(ps, e)
				}
				if ps.fetched >= rd.r.Until {
					if err := finish(rd); err != nil {
						return rd.i, err
					}
				}
				break
			}
			rr.stash(ps, e)
			if !ps.paused && rr.full(ps) {
				if !rr.overfull(ps) {
					pending = ps // paused where its run ends
				} else if err := pause(ps); err != nil {
					return first(), err
				}
			}
		case ckafka.PartitionEOF:
			if e.Topic == nil {
				break
			}
			ps := rr.parts[offsets.TopicPartition{Topic: *e.Topic, Partition: e.Partition}]
			if ps == nil || int64(e.Offset) <= ps.fetched {
				break
			}
			ps.fetched = int64(e.Offset)
			if rd := ps.act; rd != nil && ps.fetched >= rd.r.Until {
				if err := finish(rd); err != nil {
					return rd.i, err
				}
			}
		case ckafka.Error:
			if c := e.Code(); c == ckafka.ErrAutoOffsetReset || c == ckafka.ErrOffsetOutOfRange {
				// auto.offset.reset=error: some assigned partition's fetch
				// position is out of range. The event does not say which.
				last = nil
				var rds []*reading
				for i := range reads {
					if !reads[i].done {
						rds = append(rds, &reads[i])
					}
				}
				if i, err := rr.outOfRange(ctx, rds, e, finish); err != nil {
					return i, err
				}
				break
			}
			if e.IsFatal() {
				i := first()
				return i, fmt.Errorf("kafka: reading %s at offset %d: %w", reads[i].r, reads[i].st.fetched, e)
			}
			rr.log.Warn("kafka: consumer error", "error", e)
		case nil:
			idle = true
			if pending != nil {
				if err := pause(pending); err != nil {
					return first(), err
				}
				pending = nil
			}
			// Offsets skipped by the client (transaction markers, aborted
			// records) move the consumer's position without a record.
			for i := range reads {
				rd := &reads[i]
				if rd.done {
					continue
				}
				if pos := rr.position(rd.st); pos > rd.st.fetched {
					rd.st.fetched = pos
					if pos >= rd.r.Until {
						if err := finish(rd); err != nil {
							return i, err
						}
					}
				}
			}
			if h.Idle != nil {
				if err := h.Idle(); err != nil {
					return first(), err
				}
			}
		}
		if open > 0 && (idle || events%checkEvery == 0) {
			if err := ctx.Err(); err != nil {
				return first(), err
			}
			now := time.Now()
			for i := range reads {
				rd := &reads[i]
				switch {
				case rd.done:
				case rd.st.fetched != rd.progressAt:
					rd.progressAt, rd.lastProgress = rd.st.fetched, now
				case now.Sub(rd.lastProgress) > rr.cfg.StallTimeout:
					return i, &StallError{Range: rd.r, Position: rd.st.fetched, Waited: now.Sub(rd.lastProgress)}
				}
			}
		}
	}
	return 0, nil
}

// start validates rs and prepares reads for them: it (re-)assigns, in one
// call, every partition whose stream cannot be continued at its range's
// From, and resumes the paused ones. An error comes with the index of the
// range it concerns (0 when it concerns them all).
func (rr *RangeReader) start(rs []offsets.OffsetRange, reads []reading) (int, error) {
	var seek []int
	var tps []offsets.TopicPartition
	var froms []int64
	var resume []*partState
	seen := make(map[offsets.TopicPartition]bool, len(rs))
	for i, r := range rs {
		reads[i] = reading{i: i, r: r}
		if r.Until <= r.From {
			continue
		}
		tp := r.TopicPartition()
		if seen[tp] {
			return i, fmt.Errorf("kafka: two ranges of %s in one read", tp)
		}
		seen[tp] = true
		st, ok := rr.parts[tp]
		switch {
		case !ok || st.stale || st.delivered != r.From:
			seek = append(seek, i)
			tps = append(tps, tp)
			froms = append(froms, r.From)
			continue
		case st.paused && rr.wants(st, r.Until):
			resume = append(resume, st)
		}
		reads[i].st = st
	}
	if len(seek) > 0 {
		sts, err := rr.assign(tps, froms)
		if err != nil {
			return 0, err
		}
		for k, i := range seek {
			reads[i].st = sts[k]
			reads[i].stats.Seeked = true
		}
	}
	if len(resume) > 0 {
		tps := make([]ckafka.TopicPartition, len(resume))
		for i, st := range resume {
			tps[i] = st.ckTP(ckafka.OffsetInvalid)
		}
		if err := rr.c.Resume(tps); err != nil {
			return 0, fmt.Errorf("kafka: resume %v: %w", tps, err)
		}
		for _, st := range resume {
			st.paused = false
		}
	}
	return 0, nil
}

// stash keeps m, a record of st's partition, for a later read.
func (rr *RangeReader) stash(st *partState, m *ckafka.Message) {
	st.stash.push(m, &rr.pool)
	rr.stashed++
}

func (rr *RangeReader) deliver(rd *reading, m *stashRec, fn func(int, *Record) error) error {
	rec := &rr.rec
	rec.Topic = rd.r.Topic
	rec.Partition = rd.r.Partition
	rec.Offset = m.offset
	rec.Timestamp = m.timestamp
	rec.Key = m.key
	rec.Value = m.value
	rd.stats.Records++
	rd.stats.Bytes += int64(len(m.key) + len(m.value))
	err := fn(rd.i, rec)
	rec.Key, rec.Value = nil, nil
	return err
}

// position is the consumer's position for st (the offset after the last
// record or skipped control record it returned), or -1.
func (rr *RangeReader) position(st *partState) int64 {
	ps, err := rr.c.Position([]ckafka.TopicPartition{st.ckTP(ckafka.OffsetInvalid)})
	if err != nil || len(ps) != 1 || ps[0].Error != nil {
		return -1
	}
	return int64(ps[0].Offset)
}

// partitionError handles an error polled for the partition of rd, a range
// being read.
func (rr *RangeReader) partitionError(ctx context.Context, rd *reading, perr error, finish func(*reading) error) error {
	var kerr ckafka.Error
	if errors.As(perr, &kerr) {
		switch {
		case kerr.Code() == ckafka.ErrAutoOffsetReset || kerr.Code() == ckafka.ErrOffsetOutOfRange:
			_, err := rr.outOfRange(ctx, []*reading{rd}, perr, finish)
			return err
		case kerr.IsFatal() || kerr.Code() == ckafka.ErrTopicAuthorizationFailed:
			return fmt.Errorf("kafka: reading %s at offset %d: %w", rd.r, rd.st.fetched, perr)
		}
	}
	rr.log.Warn("kafka: partition error", "range", rd.r.String(), "offset", rd.st.fetched, "error", perr)
	return nil
}

// outOfRange handles an out-of-range fetch (auto.offset.reset=error), which
// librdkafka may report without naming the partition; rds are the ranges
// being read whose partition it may concern. The first of them whose
// position is below its log start (or beyond its end) has lost data: that
// is returned or skipped per FailOnDataLoss. If none has, the error was
// another assigned partition's, or the log start moved back in range while
// we fetched: the other partitions are marked stale, so that each is
// re-assigned (and the error met again, then as a partition being read)
// when it is read, and the ranges' partitions are re-assigned where they
// are. It returns the index of the range an error concerns.
func (rr *RangeReader) outOfRange(ctx context.Context, rds []*reading, perr error, finish func(*reading) error) (int, error) {
	for _, rd := range rds {
		r, st := rd.r, rd.st
		at := st.fetched
		low, high, err := rr.c.QueryWatermarkOffsets(r.Topic, r.Partition, timeoutMs(ctx, 10*time.Second))
		if err != nil {
			return rd.i, fmt.Errorf("kafka: reading %s: offset %d is out of range (%v), and the watermark query failed: %w", r, at, perr, err)
		}
		var lostUntil int64
		reason := ""
		switch {
		case at < low:
			lostUntil = min(low, r.Until)
		case at > high:
			lostUntil = r.Until
			reason = fmt.Sprintf("offset %d is beyond the end of the log (%d): was the topic deleted and recreated?", at, high)
		default:
			continue
		}
		if rr.cfg.FailOnDataLoss {
			return rd.i, &offsets.DataLossError{Topic: r.Topic, Partition: r.Partition, From: at, Until: lostUntil, Reason: reason}
		}
		rd.stats.SkippedOffsets += lostUntil - at
		rr.log.Warn("kafka: data loss: skipping offsets no longer available (failOnDataLoss=false)",
			"partition", st.tp.String(), "from", at, "until", lostUntil, "log_start", low, "log_end", high)
		if lostUntil >= r.Until {
			// Nothing left to fetch in r; the consumer's fetcher for the
			// partition is stopped, so the next read re-assigns it.
			st.fetched = r.Until
			st.stale = true
			return rd.i, finish(rd)
		}
		return rd.i, rr.reassign([]*reading{rd}, []int64{lostUntil})
	}
	rr.log.Debug("kafka: out-of-range fetch; re-assigning", "error", perr)
	being := make(map[*partState]bool, len(rds))
	froms := make([]int64, len(rds))
	for i, rd := range rds {
		being[rd.st] = true
		froms[i] = rd.st.fetched
	}
	for _, ps := range rr.parts {
		if !being[ps] {
			ps.stale = true
		}
	}
	if err := rr.reassign(rds, froms); err != nil {
		return rds[0].i, err
	}
	return 0, nil
}

// reassign re-assigns the partitions of ranges being read at froms,
// keeping what the reads in progress need: delivered stays, so that each
// read ends at the same place.
func (rr *RangeReader) reassign(rds []*reading, froms []int64) error {
	if len(rds) == 0 {
		return nil
	}
	tps := make([]offsets.TopicPartition, len(rds))
	for i, rd := range rds {
		tps[i] = rd.st.tp
	}
	sts, err := rr.assign(tps, froms)
	if err != nil {
		return err
	}
	for i, rd := range rds {
		sts[i].delivered = rd.st.delivered
		sts[i].act = rd
		rd.st = sts[i]
	}
	return nil
}

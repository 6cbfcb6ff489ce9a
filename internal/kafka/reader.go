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
	// MinAhead is the least number of records a partition is fetched past
	// the end of its range while another partition is read (see Keep).
	// Default DefaultMinAhead.
	MinAhead int64
	// Logger receives data-loss skips and transient client errors. Default
	// slog.Default().
	Logger *slog.Logger
}

// DefaultMinAhead is ReaderConfig.MinAhead's default: with clickstream
// records, about a fetch response of one partition (1 MB): a smaller
// limit pauses partitions in the middle of data already fetched.
const DefaultMinAhead = 10000

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
// # Positions and prefetch
//
// The reader remembers, per partition, the offset where the last Read ended.
// A Read whose From equals it continues the consumer's stream without a seek,
// so records librdkafka prefetched (and records at or beyond the previous
// Until that the previous Read polled but did not deliver) are reused. Any
// other From re-assigns the partition at From.
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
	// fetched), in offset order; their bytes are copied into arena blocks
	// (a client Message costs several times its bytes).
	stash []stashRec
	arena []byte
	// ahead, when > 0, is how far the partition is fetched while another
	// one is read: past it the partition is paused until it is read.
	ahead int64
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
	if cfg.MinAhead <= 0 {
		cfg.MinAhead = DefaultMinAhead
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

// Close closes the consumer. It does not commit anything.
func (rr *RangeReader) Close() error {
	if rr.closed {
		return nil
	}
	rr.closed = true
	rr.parts = nil
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
// read: r's Until plus r's length again, at least MinAhead.
func (rr *RangeReader) aheadOf(r offsets.OffsetRange) int64 {
	return r.Until + max(r.Count(), rr.cfg.MinAhead)
}

// full reports whether a partition that is not being read has stashed
// enough: MaxStashRecords records, or up to its ahead limit.
func (rr *RangeReader) full(st *partState) bool {
	return len(st.stash) >= rr.cfg.MaxStashRecords || (st.ahead > 0 && st.fetched >= st.ahead)
}

// Keep prepares the reads of the next ranges: it pauses every assigned
// partition without a range in keep, so that the consumer stops
// prefetching partitions the next reads do not need, and resumes the
// partitions with one, each to be fetched up to its range's Until plus the
// range's length again (at least ReaderConfig.MinAhead records) while other
// partitions are read: what a batch reads and a batch more, not the whole
// backlog. Paused partitions keep their position: a later Read that
// continues where they stopped still needs no seek. A partition with
// several ranges in keep is bounded by the last.
func (rr *RangeReader) Keep(keep []offsets.OffsetRange) error {
	if rr.closed {
		return ErrReaderClosed
	}
	want := make(map[offsets.TopicPartition]bool, len(keep))
	for _, r := range keep {
		tp := r.TopicPartition()
		want[tp] = true
		if st, ok := rr.parts[tp]; ok {
			st.ahead = rr.aheadOf(r)
		}
	}
	var pause, resume []ckafka.TopicPartition
	for tp, st := range rr.parts {
		switch {
		case !want[tp] && !st.paused:
			pause = append(pause, st.ckTP(ckafka.OffsetInvalid))
			st.paused = true
		case want[tp] && st.paused && !rr.full(st):
			resume = append(resume, st.ckTP(ckafka.OffsetInvalid))
			st.paused = false
		}
	}
	if len(pause) > 0 {
		if err := rr.c.Pause(pause); err != nil {
			return fmt.Errorf("kafka: pause %v: %w", pause, err)
		}
	}
	if len(resume) > 0 {
		if err := rr.c.Resume(resume); err != nil {
			return fmt.Errorf("kafka: resume %v: %w", resume, err)
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
	rr.stashed -= len(st.stash)
	if err := rr.c.IncrementalUnassign([]ckafka.TopicPartition{st.ckTP(ckafka.OffsetInvalid)}); err != nil {
		return fmt.Errorf("kafka: unassign %s: %w", tp, err)
	}
	return nil
}

func (st *partState) ckTP(off ckafka.Offset) ckafka.TopicPartition {
	return ckafka.TopicPartition{Topic: st.topic, Partition: st.tp.Partition, Offset: off}
}

// assignAt (re-)assigns r's partition at from, dropping any stashed records.
func (rr *RangeReader) assignAt(tp offsets.TopicPartition, from int64) (*partState, error) {
	if old, ok := rr.parts[tp]; ok {
		delete(rr.parts, tp)
		rr.stashed -= len(old.stash)
		if err := rr.c.IncrementalUnassign([]ckafka.TopicPartition{old.ckTP(ckafka.OffsetInvalid)}); err != nil {
			return nil, fmt.Errorf("kafka: unassign %s: %w", tp, err)
		}
	}
	topic := tp.Topic
	st := &partState{tp: tp, topic: &topic, delivered: from, fetched: from}
	if err := rr.c.IncrementalAssign([]ckafka.TopicPartition{st.ckTP(ckafka.Offset(from))}); err != nil {
		return nil, fmt.Errorf("kafka: assign %s at offset %d: %w", tp, from, err)
	}
	// librdkafka keeps a partition's pause flag across unassign and assign:
	// a partition paused before (by Keep or the stash bound) would stay
	// paused and never fetch.
	if err := rr.c.Resume([]ckafka.TopicPartition{st.ckTP(ckafka.OffsetInvalid)}); err != nil {
		return nil, fmt.Errorf("kafka: resume %s: %w", tp, err)
	}
	rr.parts[tp] = st
	return st, nil
}

// pollMs bounds one Poll: how quickly Read notices ctx cancellation when no
// records arrive. Poll returns as soon as an event is ready, so it costs
// nothing while records flow.
const pollMs = 50

// checkEvery is how many polled events pass between ctx and stall checks
// while records flow (both cost more than a record).
const checkEvery = 1024

// Read hands every record of r to fn in offset order and returns when the
// partition's position reaches r.Until. Records at or beyond r.Until that
// the consumer already polled are kept for a Read that continues at
// r.Until. An error from fn stops the read and is returned unchanged; the
// partition is then re-assigned by the next Read.
//
// Offsets of r below the partition's log start return an
// *offsets.DataLossError (ReaderConfig.FailOnDataLoss) or are skipped and
// counted. A read without progress for ReaderConfig.StallTimeout returns a
// *StallError. ctx bounds the whole read; its cancellation is noticed within
// about 50 ms and returned as ctx.Err().
func (rr *RangeReader) Read(ctx context.Context, r offsets.OffsetRange, fn func(*Record) error) (stats ReadStats, err error) {
	return rr.ReadIdle(ctx, r, fn, nil)
}

// ReadIdle is Read that also calls onIdle, when not nil, whenever a poll
// returned nothing: about every 50 ms while no record arrives. A caller
// that batches what fn receives hands on a partial batch there, so that
// records do not wait for a slow or stalled partition. An error from onIdle
// stops the read like one from fn.
func (rr *RangeReader) ReadIdle(ctx context.Context, r offsets.OffsetRange, fn func(*Record) error, onIdle func() error) (stats ReadStats, err error) {
	if rr.closed {
		return stats, ErrReaderClosed
	}
	if r.Until <= r.From {
		return stats, nil
	}
	tp := r.TopicPartition()
	st, ok := rr.parts[tp]
	switch {
	case !ok || st.stale || st.delivered != r.From:
		if st, err = rr.assignAt(tp, r.From); err != nil {
			return stats, err
		}
		stats.Seeked = true
	case st.paused:
		if err := rr.c.Resume([]ckafka.TopicPartition{st.ckTP(ckafka.OffsetInvalid)}); err != nil {
			return stats, fmt.Errorf("kafka: resume %s: %w", tp, err)
		}
		st.paused = false
	}
	completed := false
	defer func() {
		if !completed {
			st.stale = true // fn or the consumer failed (or panicked) mid-stream
		}
	}()

	progressAt, lastProgress := st.fetched, time.Now()
	events := 0
	for {
		for len(st.stash) > 0 && st.stash[0].offset < r.Until {
			m := st.stash[0]
			st.stash[0] = stashRec{}
			st.stash = st.stash[1:]
			rr.stashed--
			if err := rr.deliver(st, m, fn, &stats); err != nil {
				return stats, err
			}
		}
		if len(st.stash) > 0 || st.fetched >= r.Until {
			st.delivered = r.Until
			// Prefetch for the next read while other partitions are
			// read.
			st.ahead = rr.aheadOf(r)
			if len(st.stash) == 0 {
				st.stash, st.arena = nil, nil // let the drained memory go
			}
			completed = true
			return stats, nil
		}

		ev := rr.c.Poll(pollMs)
		events++
		idle := false
		switch e := ev.(type) {
		case *ckafka.Message:
			if e.TopicPartition.Topic == nil {
				if e.TopicPartition.Error != nil {
					rr.log.Warn("kafka: consumer error", "range", r.String(), "offset", st.fetched, "error", e.TopicPartition.Error)
				}
				break
			}
			ps := st
			if e.TopicPartition.Partition != st.tp.Partition || *e.TopicPartition.Topic != st.tp.Topic {
				if ps = rr.parts[offsets.TopicPartition{Topic: *e.TopicPartition.Topic, Partition: e.TopicPartition.Partition}]; ps == nil {
					continue // released partition: outdated
				}
			}
			if e.TopicPartition.Error != nil {
				if ps != st {
					ps.stale = true
					rr.log.Warn("kafka: partition error while reading another partition; it will be re-assigned when read",
						"partition", ps.tp.String(), "offset", int64(e.TopicPartition.Offset), "error", e.TopicPartition.Error)
					continue
				}
				if st, err = rr.partitionError(ctx, st, r, e, &stats); err != nil {
					return stats, err
				}
				continue
			}
			off := int64(e.TopicPartition.Offset)
			if off < ps.fetched {
				continue // from before a re-assignment
			}
			ps.fetched = off + 1
			if ps == st && off < r.Until && len(st.stash) == 0 {
				if err := rr.deliver(st, newStashRec(e, nil), fn, &stats); err != nil {
					return stats, err
				}
				break
			}
			ps.stash = append(ps.stash, newStashRec(e, &ps.arena))
			rr.stashed++
			if ps != st && !ps.paused && rr.full(ps) {
				if err := rr.c.Pause([]ckafka.TopicPartition{ps.ckTP(ckafka.OffsetInvalid)}); err != nil {
					return stats, fmt.Errorf("kafka: pause %s: %w", ps.tp, err)
				}
				ps.paused = true
			}
		case ckafka.PartitionEOF:
			if e.Topic == nil {
				break
			}
			if ps := rr.parts[offsets.TopicPartition{Topic: *e.Topic, Partition: e.Partition}]; ps != nil && int64(e.Offset) > ps.fetched {
				ps.fetched = int64(e.Offset)
			}
		case ckafka.Error:
			if c := e.Code(); c == ckafka.ErrAutoOffsetReset || c == ckafka.ErrOffsetOutOfRange {
				// auto.offset.reset=error: some assigned partition's fetch
				// position is out of range. The event does not say which.
				if st, err = rr.outOfRange(ctx, st, r, e, &stats); err != nil {
					return stats, err
				}
				break
			}
			if e.IsFatal() {
				return stats, fmt.Errorf("kafka: reading %s at offset %d: %w", r, st.fetched, e)
			}
			rr.log.Warn("kafka: consumer error", "range", r.String(), "offset", st.fetched, "error", e)
		case nil:
			idle = true
			// Offsets skipped by the client (transaction markers, aborted
			// records) move the consumer's position without a record.
			if len(st.stash) == 0 {
				if pos := rr.position(st); pos > st.fetched {
					st.fetched = pos
				}
			}
			if onIdle != nil {
				if err := onIdle(); err != nil {
					return stats, err
				}
			}
		}
		if idle || events%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return stats, err
			}
			now := time.Now()
			if st.fetched != progressAt {
				progressAt, lastProgress = st.fetched, now
			} else if waited := now.Sub(lastProgress); waited > rr.cfg.StallTimeout {
				return stats, &StallError{Range: r, Position: st.fetched, Waited: waited}
			}
		}
	}
}

// stashRec is a polled record kept for a later read.
type stashRec struct {
	offset, timestamp int64
	key, value        []byte // nil when the record has none
}

// stashBlock is the size of a partition's arena blocks.
const stashBlock = 64 << 10

// newStashRec takes m's fields; with an arena, its key and value are copied
// into it (m's own slices are left to the garbage collector with m).
func newStashRec(m *ckafka.Message, arena *[]byte) stashRec {
	r := stashRec{offset: int64(m.TopicPartition.Offset), timestamp: -1, key: m.Key, value: m.Value}
	if m.TimestampType != ckafka.TimestampNotAvailable {
		r.timestamp = m.Timestamp.UnixMilli()
	}
	if arena != nil {
		r.key, r.value = arenaCopy(arena, m.Key), arenaCopy(arena, m.Value)
	}
	return r
}

// arenaCopy copies b into the arena's current block (a new one when it is
// full); nil stays nil and empty stays empty.
func arenaCopy(arena *[]byte, b []byte) []byte {
	switch {
	case b == nil:
		return nil
	case len(b) == 0:
		return []byte{}
	case len(b) > stashBlock/4:
		return append(make([]byte, 0, len(b)), b...)
	case cap(*arena)-len(*arena) < len(b):
		*arena = make([]byte, 0, stashBlock)
	}
	n := len(*arena)
	*arena = append(*arena, b...)
	return (*arena)[n:len(*arena):len(*arena)]
}

func (rr *RangeReader) deliver(st *partState, m stashRec, fn func(*Record) error, stats *ReadStats) error {
	rec := &rr.rec
	rec.Topic = st.tp.Topic
	rec.Partition = st.tp.Partition
	rec.Offset = m.offset
	rec.Timestamp = m.timestamp
	rec.Key = m.key
	rec.Value = m.value
	stats.Records++
	stats.Bytes += int64(len(m.key) + len(m.value))
	err := fn(rec)
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

// partitionError handles an error polled for the partition being read.
func (rr *RangeReader) partitionError(ctx context.Context, st *partState, r offsets.OffsetRange, m *ckafka.Message, stats *ReadStats) (*partState, error) {
	perr := m.TopicPartition.Error
	var kerr ckafka.Error
	if errors.As(perr, &kerr) {
		switch {
		case kerr.Code() == ckafka.ErrAutoOffsetReset || kerr.Code() == ckafka.ErrOffsetOutOfRange:
			return rr.outOfRange(ctx, st, r, perr, stats)
		case kerr.IsFatal() || kerr.Code() == ckafka.ErrTopicAuthorizationFailed:
			return st, fmt.Errorf("kafka: reading %s at offset %d: %w", r, st.fetched, perr)
		}
	}
	rr.log.Warn("kafka: partition error", "range", r.String(), "offset", st.fetched, "error", perr)
	return st, nil
}

// outOfRange handles an out-of-range fetch (auto.offset.reset=error), which
// librdkafka reports without naming the partition. If the partition being
// read is below its log start (or beyond its end), that is data loss: it is
// returned or skipped per FailOnDataLoss. Otherwise the error was another
// assigned partition's: those are marked stale, so that each is re-assigned
// (and the error met again, then as the partition being read) when it is
// read. It returns the state of the partition being read, which is new when
// it was re-assigned.
func (rr *RangeReader) outOfRange(ctx context.Context, st *partState, r offsets.OffsetRange, perr error, stats *ReadStats) (*partState, error) {
	at := st.fetched
	low, high, err := rr.c.QueryWatermarkOffsets(r.Topic, r.Partition, timeoutMs(ctx, 10*time.Second))
	if err != nil {
		return st, fmt.Errorf("kafka: reading %s: offset %d is out of range (%v), and the watermark query failed: %w", r, at, perr, err)
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
		// Not this partition's error, or the log start moved back in range
		// while we fetched. Restart every stream that may have stopped.
		rr.log.Debug("kafka: out-of-range fetch; re-assigning", "range", r.String(), "offset", at, "low", low, "high", high, "error", perr)
		for _, ps := range rr.parts {
			if ps != st {
				ps.stale = true
			}
		}
		return rr.reassign(st, at)
	}
	if rr.cfg.FailOnDataLoss {
		return st, &offsets.DataLossError{Topic: r.Topic, Partition: r.Partition, From: at, Until: lostUntil, Reason: reason}
	}
	stats.SkippedOffsets += lostUntil - at
	rr.log.Warn("kafka: data loss: skipping offsets no longer available (failOnDataLoss=false)",
		"partition", st.tp.String(), "from", at, "until", lostUntil, "log_start", low, "log_end", high)
	if lostUntil >= r.Until {
		// Nothing left to fetch in r; the consumer's fetcher for the
		// partition is stopped, so the next Read re-assigns it.
		st.fetched = r.Until
		st.stale = true
		return st, nil
	}
	return rr.reassign(st, lostUntil)
}

// reassign re-assigns st's partition at from, keeping what a Read in
// progress needs: delivered stays, so the Read ends at the same place.
func (rr *RangeReader) reassign(st *partState, from int64) (*partState, error) {
	delivered := st.delivered
	ns, err := rr.assignAt(st.tp, from)
	if err != nil {
		return st, err
	}
	ns.delivered = delivered
	return ns, nil
}

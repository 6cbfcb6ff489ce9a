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
	r := &rangesRead{rr: rr, ctx: ctx, h: h, reads: make([]reading, len(rs))}
	defer r.end()
	if i, err := rr.start(rs, r.reads); err != nil {
		return i, err
	}
	if i, err := r.begin(); err != nil {
		return i, err
	}
	if i, err := r.drainStashes(); err != nil {
		return i, err
	}
	return r.poll()
}

// rangesRead is one ReadRanges call: its ranges, and what its poll loop
// keeps from one event to the next. The RangeReader keeps what outlives
// the call (the partitions' positions and stashes). Each kind of event
// polled has a method; a method that fails returns the index of the range
// the error concerns.
type rangesRead struct {
	rr    *RangeReader
	ctx   context.Context
	h     RangeHandler
	reads []reading
	// open is the number of ranges not done: the poll loop runs while it
	// is > 0.
	open int
	// events counts the events polled, for checkEvery.
	events int
	// last is the last message's partition: messages come in runs of one
	// partition, and looking it up again costs a map access per record.
	last *partState
	// pending is a partition that is full, to be paused where its run ends:
	// a run of one partition's records is the rest of a fetch, whole
	// producer batches, and a partition paused inside a batch fetches it
	// again from its start on resume (librdkafka's statistics: 1.24x the
	// records read at 64 partitions on a 10M-record topic, 1.00x when
	// paused at the end of the run).
	// A partition still pending when the read returns is not paused: its
	// run goes on into librdkafka's queue (bounded by the consumer's queue)
	// and the next read stashes it and pauses it where the run ends.
	pending *partState
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

// end detaches the ranges from their partitions when the read returns,
// however it returns. A range not done leaves its partition stale: a
// callback or the consumer failed (or panicked) mid-stream.
func (r *rangesRead) end() {
	// A handler that panicked left them pointing into a stash block,
	// which may be unmapped later.
	r.rr.rec.Key, r.rr.rec.Value = nil, nil
	for i := range r.reads {
		if rd := &r.reads[i]; rd.st != nil && rd.st.act == rd {
			rd.st.act = nil
			if !rd.done {
				rd.st.stale = true
			}
		}
	}
}

// begin attaches every range to its partition and finishes the empty
// ones.
func (r *rangesRead) begin() (int, error) {
	now := time.Now()
	for i := range r.reads {
		rd := &r.reads[i]
		if rd.st == nil {
			rd.done = true
			if r.h.Done != nil {
				if err := r.h.Done(i, rd.stats); err != nil {
					return i, err
				}
			}
			continue
		}
		rd.st.act = rd
		rd.progressAt, rd.lastProgress = rd.st.fetched, now
		r.open++
	}
	return 0, nil
}

// drainStashes delivers what earlier reads stashed, and finishes the
// ranges it covers. A range being read never holds a stash: its records
// are delivered as they are polled, until one at or beyond Until ends it.
func (r *rangesRead) drainStashes() (int, error) {
	rr := r.rr
	for i := range r.reads {
		rd := &r.reads[i]
		if rd.done {
			continue
		}
		st := rd.st
		for st.stash.len() > 0 {
			m := st.stash.front()
			if m.offset >= rd.r.Until {
				break
			}
			err := r.deliver(rd, &m)
			st.stash.pop(&rr.pool) // after deliver: its bytes were in use
			rr.stashed--
			if err != nil {
				return i, err
			}
		}
		if st.stash.len() > 0 || st.fetched >= rd.r.Until {
			if err := r.finish(rd); err != nil {
				return i, err
			}
		}
	}
	return 0, nil
}

// poll polls the consumer until every range is done, handing each event to
// its method, and checks ctx and the stall timeout when a poll returned
// nothing and every checkEvery events.
func (r *rangesRead) poll() (int, error) {
	for r.open > 0 {
		ev := r.rr.c.Poll(pollMs)
		r.events++
		var i int
		var err error
		switch e := ev.(type) {
		case *ckafka.Message:
			i, err = r.onMessage(e)
		case ckafka.PartitionEOF:
			i, err = r.onPartitionEOF(e)
		case ckafka.Error:
			i, err = r.onError(e)
		case nil:
			i, err = r.onIdle()
		}
		if err != nil {
			return i, err
		}
		if r.open > 0 && (ev == nil || r.events%checkEvery == 0) {
			if i, err := r.check(time.Now()); err != nil {
				return i, err
			}
		}
	}
	return 0, nil
}

// onMessage handles a polled record, or an error the consumer reports in
// a message (for a partition or for none).
func (r *rangesRead) onMessage(e *ckafka.Message) (int, error) {
	rr := r.rr
	tpe := e.TopicPartition
	if tpe.Topic == nil {
		if tpe.Error != nil {
			rr.logClientError(tpe.Error)
		}
		return 0, nil
	}
	ps := r.last
	if ps == nil || tpe.Partition != ps.tp.Partition || *tpe.Topic != ps.tp.Topic {
		// A run of another partition begins: the pending one's ended.
		if err := r.pausePending(); err != nil {
			return r.first(), err
		}
		if ps = rr.parts[offsets.TopicPartition{Topic: *tpe.Topic, Partition: tpe.Partition}]; ps == nil {
			return 0, nil // released partition: outdated
		}
		r.last = ps
	}
	if tpe.Error != nil {
		return r.onPartitionError(ps, e)
	}
	off := int64(tpe.Offset)
	if off < ps.fetched {
		return 0, nil // from before a re-assignment
	}
	ps.fetched = off + 1
	if rd := ps.act; rd != nil {
		if off < rd.r.Until {
			m := newStashRec(e)
			if err := r.deliver(rd, &m); err != nil {
				return rd.i, err
			}
		} else {
			rr.stash(ps, e)
		}
		if ps.fetched >= rd.r.Until {
			if err := r.finish(rd); err != nil {
				return rd.i, err
			}
		}
		return 0, nil
	}
	// A record of a partition not being read (or past its range, polled
	// after the range was done): kept for a later read, within the bounds.
	rr.stash(ps, e)
	if !ps.paused && rr.full(ps) {
		if !rr.overfull(ps) {
			r.pending = ps // paused where its run ends
		} else if err := r.pause(ps); err != nil {
			return r.first(), err
		}
	}
	return 0, nil
}

// onPartitionError handles an error message for ps's partition.
func (r *rangesRead) onPartitionError(ps *partState, e *ckafka.Message) (int, error) {
	r.last = nil // the partition may be re-assigned
	rd := ps.act
	if rd == nil {
		ps.stale = true
		r.rr.log.Warn("kafka: partition error while reading other partitions; it will be re-assigned when read",
			"partition", ps.tp.String(), "offset", int64(e.TopicPartition.Offset), "error", e.TopicPartition.Error)
		return 0, nil
	}
	if err := r.partitionError(rd, e.TopicPartition.Error); err != nil {
		return rd.i, err
	}
	return 0, nil
}

// onPartitionEOF moves a partition's position to the end of its log,
// which is past trailing transaction markers, and finishes its range if
// that reaches Until.
func (r *rangesRead) onPartitionEOF(e ckafka.PartitionEOF) (int, error) {
	if e.Topic == nil {
		return 0, nil
	}
	ps := r.rr.parts[offsets.TopicPartition{Topic: *e.Topic, Partition: e.Partition}]
	if ps == nil || int64(e.Offset) <= ps.fetched {
		return 0, nil
	}
	ps.fetched = int64(e.Offset)
	if rd := ps.act; rd != nil && ps.fetched >= rd.r.Until {
		if err := r.finish(rd); err != nil {
			return rd.i, err
		}
	}
	return 0, nil
}

// onError handles a client-level error: an out-of-range fetch of some
// partition, a fatal error (returned), or a transient one (logged).
func (r *rangesRead) onError(e ckafka.Error) (int, error) {
	if c := e.Code(); c == ckafka.ErrAutoOffsetReset || c == ckafka.ErrOffsetOutOfRange {
		// auto.offset.reset=error: some assigned partition's fetch
		// position is out of range. The event does not say which.
		r.last = nil
		var rds []*reading
		for i := range r.reads {
			if !r.reads[i].done {
				rds = append(rds, &r.reads[i])
			}
		}
		return r.outOfRange(rds, e)
	}
	if e.IsFatal() {
		i := r.first()
		return i, fmt.Errorf("kafka: reading %s at offset %d: %w", r.reads[i].r, r.reads[i].st.fetched, e)
	}
	r.rr.logClientError(e)
	return 0, nil
}

// logClientError logs a transient error the consumer reported in an
// event, at Warn, except a broker connection failure: librdkafka's log
// reported that when it happened (see logLibrdkafka), while the event
// waits in the consumer's queue until the next read polls it, which may
// be long after the broker is back. It goes to Debug.
func (rr *RangeReader) logClientError(err error) {
	level := slog.LevelWarn
	var kerr ckafka.Error
	if errors.As(err, &kerr) {
		switch kerr.Code() {
		case ckafka.ErrTransport, ckafka.ErrAllBrokersDown, ckafka.ErrResolve:
			level = slog.LevelDebug
		}
	}
	rr.log.Log(context.Background(), level, "kafka: consumer error", "error", err)
}

// onIdle handles a poll that returned nothing: the pending partition's run
// has ended, and offsets skipped by the client (transaction markers,
// aborted records) may have moved a position without a record.
func (r *rangesRead) onIdle() (int, error) {
	if err := r.pausePending(); err != nil {
		return r.first(), err
	}
	for i := range r.reads {
		rd := &r.reads[i]
		if rd.done {
			continue
		}
		if pos := r.rr.position(rd.st); pos > rd.st.fetched {
			rd.st.fetched = pos
			if pos >= rd.r.Until {
				if err := r.finish(rd); err != nil {
					return i, err
				}
			}
		}
	}
	if r.h.Idle != nil {
		if err := r.h.Idle(); err != nil {
			return r.first(), err
		}
	}
	return 0, nil
}

// check returns ctx's error, or a *StallError for a range whose position
// has not moved for StallTimeout.
func (r *rangesRead) check(now time.Time) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return r.first(), err
	}
	for i := range r.reads {
		rd := &r.reads[i]
		switch {
		case rd.done:
		case rd.st.fetched != rd.progressAt:
			rd.progressAt, rd.lastProgress = rd.st.fetched, now
		case now.Sub(rd.lastProgress) > r.rr.cfg.StallTimeout:
			return i, &StallError{Range: rd.r, Position: rd.st.fetched, Waited: now.Sub(rd.lastProgress)}
		}
	}
	return 0, nil
}

// finish ends rd, whose partition's position reached its Until.
func (r *rangesRead) finish(rd *reading) error {
	st := rd.st
	st.delivered = rd.r.Until
	// Prefetch for the next read while other partitions are read.
	st.ahead = aheadOf(rd.r)
	st.act, rd.done = nil, true
	r.open--
	if r.h.Done == nil {
		return nil
	}
	return r.h.Done(rd.i, rd.stats)
}

// first is the index of the first range not done: the one an error of no
// one range is reported for.
func (r *rangesRead) first() int {
	for i := range r.reads {
		if !r.reads[i].done {
			return i
		}
	}
	return 0
}

// pausePending pauses the pending partition, if any.
func (r *rangesRead) pausePending() error {
	if r.pending == nil {
		return nil
	}
	ps := r.pending
	r.pending = nil
	return r.pause(ps)
}

// pause pauses ps's partition unless it was re-assigned or released since
// ps was polled, or is paused already.
func (r *rangesRead) pause(ps *partState) error {
	rr := r.rr
	if rr.parts[ps.tp] != ps || ps.paused {
		return nil
	}
	if err := rr.c.Pause([]ckafka.TopicPartition{ps.ckTP(ckafka.OffsetInvalid)}); err != nil {
		return fmt.Errorf("kafka: pause %s: %w", ps.tp, err)
	}
	ps.paused = true
	return nil
}

// deliver hands m, a record of rd's range, to the handler.
func (r *rangesRead) deliver(rd *reading, m *stashRec) error {
	rec := &r.rr.rec
	rec.Topic = rd.r.Topic
	rec.Partition = rd.r.Partition
	rec.Offset = m.offset
	rec.Timestamp = m.timestamp
	rec.Key = m.key
	rec.Value = m.value
	rec.Headers = m.headers
	rd.stats.Records++
	rd.stats.Bytes += int64(len(m.key) + len(m.value))
	err := r.h.Record(rd.i, rec)
	rec.Key, rec.Value, rec.Headers = nil, nil, nil
	return err
}

// partitionError handles an error polled for the partition of rd, a range
// being read.
func (r *rangesRead) partitionError(rd *reading, perr error) error {
	var kerr ckafka.Error
	if errors.As(perr, &kerr) {
		switch {
		case kerr.Code() == ckafka.ErrAutoOffsetReset || kerr.Code() == ckafka.ErrOffsetOutOfRange:
			_, err := r.outOfRange([]*reading{rd}, perr)
			return err
		case kerr.IsFatal() || kerr.Code() == ckafka.ErrTopicAuthorizationFailed:
			return fmt.Errorf("kafka: reading %s at offset %d: %w", rd.r, rd.st.fetched, perr)
		}
	}
	r.rr.log.Warn("kafka: partition error", "range", rd.r.String(), "offset", rd.st.fetched, "error", perr)
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
func (r *rangesRead) outOfRange(rds []*reading, perr error) (int, error) {
	rr := r.rr
	for _, rd := range rds {
		rg, st := rd.r, rd.st
		at := st.fetched
		low, high, err := rr.c.QueryWatermarkOffsets(rg.Topic, rg.Partition, timeoutMs(r.ctx, 10*time.Second))
		if err != nil {
			return rd.i, fmt.Errorf("kafka: reading %s: offset %d is out of range (%v), and the watermark query failed: %w", rg, at, perr, err)
		}
		var lostUntil int64
		reason := ""
		switch {
		case at < low:
			lostUntil = min(low, rg.Until)
		case at > high:
			lostUntil = rg.Until
			reason = fmt.Sprintf("offset %d is beyond the end of the log (%d): was the topic deleted and recreated?", at, high)
		default:
			continue
		}
		if rr.cfg.FailOnDataLoss {
			return rd.i, &offsets.DataLossError{Topic: rg.Topic, Partition: rg.Partition, From: at, Until: lostUntil, Reason: reason}
		}
		rd.stats.SkippedOffsets += lostUntil - at
		rr.log.Warn("kafka: data loss: skipping offsets no longer available (failOnDataLoss=false)",
			"partition", st.tp.String(), "from", at, "until", lostUntil, "log_start", low, "log_end", high)
		if lostUntil >= rg.Until {
			// Nothing left to fetch in rg; the consumer's fetcher for the
			// partition is stopped, so the next read re-assigns it.
			st.fetched = rg.Until
			st.stale = true
			return rd.i, r.finish(rd)
		}
		return rd.i, r.reassign([]*reading{rd}, []int64{lostUntil})
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
	if err := r.reassign(rds, froms); err != nil {
		return rds[0].i, err
	}
	return 0, nil
}

// reassign re-assigns the partitions of ranges being read at froms,
// keeping what the reads in progress need: delivered stays, so that each
// read ends at the same place.
func (r *rangesRead) reassign(rds []*reading, froms []int64) error {
	if len(rds) == 0 {
		return nil
	}
	tps := make([]offsets.TopicPartition, len(rds))
	for i, rd := range rds {
		tps[i] = rd.st.tp
	}
	sts, err := r.rr.assign(tps, froms)
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

// position is the consumer's position for st (the offset after the last
// record or skipped control record it returned), or -1.
func (rr *RangeReader) position(st *partState) int64 {
	ps, err := rr.c.Position([]ckafka.TopicPartition{st.ckTP(ckafka.OffsetInvalid)})
	if err != nil || len(ps) != 1 || ps[0].Error != nil {
		return -1
	}
	return int64(ps[0].Offset)
}

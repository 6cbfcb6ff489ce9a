package kafka

import "github.com/microbatch/microbatch/offsets"

// MappedBytes is what the reader's stashes and block pool hold outside the
// Go heap.
func (rr *RangeReader) MappedBytes() int64 { return rr.pool.mapped }

// Paused reports whether the reader has paused tp.
func (rr *RangeReader) Paused(tp offsets.TopicPartition) bool {
	st, ok := rr.parts[tp]
	return ok && st.paused
}

// Stashed is the number of records the reader holds for later reads:
// records of other partitions polled during a read, and records at or
// beyond the end of a read's range.
func (rr *RangeReader) Stashed() int { return rr.stashed }

// StashedBytes is the key and value bytes the reader holds for tp.
func (rr *RangeReader) StashedBytes(tp offsets.TopicPartition) int64 {
	if st, ok := rr.parts[tp]; ok {
		return st.stash.bytes
	}
	return 0
}

// TimeoutMs is timeoutMs.
var TimeoutMs = timeoutMs

// InFlight is the number of calls using the admin client, a metadata
// request that outlived its Topics call included.
func (a *Admin) InFlight() int { return int(a.calls.n.Load()) }

// InFlightAtClose is the number of calls that were using the admin client
// when Close destroyed it.
func (a *Admin) InFlightAtClose() int { return int(a.calls.atDestroy.Load()) }

// InFlight is the number of calls using the producer.
func (p *Producer) InFlight() int { return int(p.calls.n.Load()) }

// InFlightAtClose is the number of calls that were using the producer
// when Close destroyed it.
func (p *Producer) InFlightAtClose() int { return int(p.calls.atDestroy.Load()) }

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

// StashedBytes is the key and value bytes the reader holds for tp.
func (rr *RangeReader) StashedBytes(tp offsets.TopicPartition) int64 {
	if st, ok := rr.parts[tp]; ok {
		return st.stash.bytes
	}
	return 0
}

// TimeoutMs is timeoutMs.
var TimeoutMs = timeoutMs

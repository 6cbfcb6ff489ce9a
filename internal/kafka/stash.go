package kafka

import ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

// stashRec is a polled record kept for a later read.
type stashRec struct {
	offset, timestamp int64
	key, value        []byte // nil when the record has none
}

// newStashRec takes m's fields without copying them.
func newStashRec(m *ckafka.Message) stashRec {
	r := stashRec{offset: int64(m.TopicPartition.Offset), timestamp: -1, key: m.Key, value: m.Value}
	if m.TimestampType != ckafka.TimestampNotAvailable {
		r.timestamp = m.Timestamp.UnixMilli()
	}
	return r
}

// stashBlock is the size of the arena blocks that hold stashed bytes.
const stashBlock = 64 << 10

// maxFreeBlocks bounds the arena blocks a reader keeps for reuse (16 MiB).
const maxFreeBlocks = 256

// blockPool recycles a reader's arena blocks between its partitions'
// stashes: a stash drains at every read of its partition and fills again
// while the others are read, and fresh blocks would each be zeroed by the
// allocator and collected again.
type blockPool struct{ free [][]byte }

func (p *blockPool) get() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, stashBlock)
}

func (p *blockPool) put(b []byte) {
	if len(p.free) < maxFreeBlocks {
		p.free = append(p.free, b)
	}
}

// stashQueue holds one partition's records polled but not delivered, in
// offset order (a FIFO). Their key and value bytes are copied into arena
// blocks (a client Message costs several times its bytes); a block goes
// back to the pool once every record with bytes in it has been popped.
type stashQueue struct {
	recs  []stashRec // recs[head:] are queued
	head  int
	bytes int64 // key and value bytes queued
	// blocks hold the queued records' bytes, oldest first; the last one is
	// being filled. last[i] is the sequence number of the last record with
	// bytes in blocks[i].
	blocks [][]byte
	last   []int64
	pushed int64 // records ever pushed: the next record's sequence number
}

func (q *stashQueue) len() int { return len(q.recs) - q.head }

// front is the oldest queued record; the queue must not be empty.
func (q *stashQueue) front() *stashRec { return &q.recs[q.head] }

// push copies m's key and value into the arena and queues it.
func (q *stashQueue) push(m *ckafka.Message, pool *blockPool) {
	r := newStashRec(m)
	r.key, r.value = q.copy(r.key, pool), q.copy(r.value, pool)
	if len(q.recs) == cap(q.recs) && q.head > 0 && q.head >= len(q.recs)/2 {
		n := copy(q.recs, q.recs[q.head:])
		clear(q.recs[n:])
		q.recs, q.head = q.recs[:n], 0
	}
	q.recs = append(q.recs, r)
	q.bytes += int64(len(r.key) + len(r.value))
	q.pushed++
}

// copy copies b into the current block (a new one when it is full); nil
// stays nil and empty stays empty. Values above a quarter block get an
// allocation of their own.
func (q *stashQueue) copy(b []byte, pool *blockPool) []byte {
	switch {
	case b == nil:
		return nil
	case len(b) == 0:
		return []byte{}
	case len(b) > stashBlock/4:
		return append(make([]byte, 0, len(b)), b...)
	}
	k := len(q.blocks) - 1
	if k < 0 || cap(q.blocks[k])-len(q.blocks[k]) < len(b) {
		q.blocks = append(q.blocks, pool.get())
		q.last = append(q.last, 0)
		k++
	}
	blk := q.blocks[k]
	n := len(blk)
	blk = append(blk, b...)
	q.blocks[k] = blk
	q.last[k] = q.pushed
	return blk[n:len(blk):len(blk)]
}

// pop drops the front record, once its bytes are no longer used, and
// returns the blocks no queued record uses to the pool.
func (q *stashQueue) pop(pool *blockPool) {
	r := &q.recs[q.head]
	q.bytes -= int64(len(r.key) + len(r.value))
	*r = stashRec{}
	q.head++
	seq := q.pushed - int64(q.len()) - 1 // the popped record's
	if q.len() == 0 {
		q.reset(pool)
		return
	}
	n := 0
	for n < len(q.blocks)-1 && q.last[n] <= seq {
		pool.put(q.blocks[n])
		q.blocks[n] = nil
		n++
	}
	if n > 0 {
		q.blocks = append(q.blocks[:0], q.blocks[n:]...)
		q.last = append(q.last[:0], q.last[n:]...)
	}
}

// reset drops every queued record and returns the blocks to the pool. The
// record slots are kept for the next records.
func (q *stashQueue) reset(pool *blockPool) {
	clear(q.recs[q.head:])
	q.recs, q.head, q.bytes = q.recs[:0], 0, 0
	for i, b := range q.blocks {
		pool.put(b)
		q.blocks[i] = nil
	}
	q.blocks, q.last = q.blocks[:0], q.last[:0]
}

package kafka

import ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

// stashRec is a polled record kept for a later read.
type stashRec struct {
	offset, timestamp int64
	key, value        []byte // nil when the record has none
	headers           []byte // encoded (DecodeHeaders); nil when none
}

// newStashRec takes m's key and value without copying them; its headers,
// if any, are encoded into a new slice.
func newStashRec(m *ckafka.Message) stashRec {
	r := stashRec{offset: int64(m.TopicPartition.Offset), timestamp: -1, key: m.Key, value: m.Value}
	if len(m.Headers) > 0 {
		r.headers = appendHeaders(nil, m.Headers)
	}
	if m.TimestampType != ckafka.TimestampNotAvailable {
		r.timestamp = m.Timestamp.UnixMilli()
	}
	return r
}

// stashBlockSize is the size of the arena blocks that hold stashed bytes.
const stashBlockSize = 64 << 10

// maxFreeBlocks bounds the arena blocks a reader keeps for reuse (64 MiB).
const maxFreeBlocks = 1024

// blockPool hands out a reader's arena blocks (mapBlock: outside the Go
// heap) and recycles them between its partitions' stashes: a stash drains
// at every read of its partition and fills again while the others are
// read. Every block it hands out comes back through put, and close frees
// the ones it keeps.
type blockPool struct {
	free   [][]byte
	mapped int64 // bytes of the blocks handed out or pooled
}

// get returns an empty block of capacity n: a pooled or newly mapped one
// when n is stashBlockSize; a larger one (a record above a quarter block) on
// the Go heap, rather than a mapping per record.
func (p *blockPool) get(n int) []byte {
	if n != stashBlockSize {
		return make([]byte, 0, n)
	}
	if k := len(p.free); k > 0 {
		b := p.free[k-1]
		p.free[k-1] = nil
		p.free = p.free[:k-1]
		return b[:0]
	}
	p.mapped += stashBlockSize
	return mapBlock(stashBlockSize)
}

// put takes back a block of get; nothing may refer to it any more.
func (p *blockPool) put(b []byte) {
	switch {
	case cap(b) != stashBlockSize: // on the heap
	case len(p.free) < maxFreeBlocks:
		p.free = append(p.free, b)
	default:
		p.mapped -= stashBlockSize
		unmapBlock(b)
	}
}

// close frees the pooled blocks.
func (p *blockPool) close() {
	for i, b := range p.free {
		p.mapped -= int64(cap(b))
		unmapBlock(b)
		p.free[i] = nil
	}
	p.free = p.free[:0]
}

// stashQueue holds one partition's records polled but not delivered, in
// offset order (a FIFO). Their key and value bytes are copied into arena
// blocks (a client Message costs several times its bytes); a block goes
// back to the pool once every record with bytes in it has been popped. The
// queued entries hold no pointers, so the garbage collector does not scan
// them: at 64 partitions the stashes can hold a million records.
type stashQueue struct {
	recs  []stashEntry // recs[head:] are queued
	head  int
	bytes int64 // key and value bytes queued
	// blocks hold the queued records' bytes, oldest first; the last one is
	// being filled. blocks[i] has sequence number first+i.
	blocks []stashBlock
	first  int64
	pushed int64 // records ever pushed: the next record's sequence number
}

// stashBlock is a block of a stashQueue.
type stashBlock struct {
	b    []byte
	last int64 // the sequence number of the last record with bytes in b
}

// stashEntry is a queued record: its key at block[start:start+klen], its
// value right after it, then its encoded headers (hlen bytes, 0: none). A
// length of -1 is a nil key or value.
type stashEntry struct {
	offset, timestamp       int64
	block                   int64 // the block's sequence number
	start, klen, vlen, hlen int32
}

func (q *stashQueue) len() int { return len(q.recs) - q.head }

// front is the oldest queued record, its key and value in the arena: valid
// until it is popped. The queue must not be empty.
func (q *stashQueue) front() stashRec {
	e := &q.recs[q.head]
	r := stashRec{offset: e.offset, timestamp: e.timestamp}
	if e.klen < 0 && e.vlen < 0 && e.hlen == 0 {
		return r
	}
	b := q.blocks[e.block-q.first].b
	k := int(e.start) + max(int(e.klen), 0)
	if e.klen >= 0 {
		r.key = b[e.start:k:k]
	}
	v := k + max(int(e.vlen), 0)
	if e.vlen >= 0 {
		r.value = b[k:v:v]
	}
	if e.hlen > 0 {
		h := v + int(e.hlen)
		r.headers = b[v:h:h]
	}
	return r
}

// push copies m's key, value and encoded headers into the arena and
// queues it.
func (q *stashQueue) push(m *ckafka.Message, pool *blockPool) {
	r := newStashRec(m)
	e := stashEntry{offset: r.offset, timestamp: r.timestamp, klen: -1, vlen: -1, hlen: int32(len(r.headers))}
	if r.key != nil {
		e.klen = int32(len(r.key))
	}
	if r.value != nil {
		e.vlen = int32(len(r.value))
	}
	if n := len(r.key) + len(r.value) + len(r.headers); r.key != nil || r.value != nil || r.headers != nil {
		blk := q.block(n, pool)
		e.block, e.start = q.first+int64(len(q.blocks)-1), int32(len(blk.b))
		blk.b = append(append(append(blk.b, r.key...), r.value...), r.headers...)
		blk.last = q.pushed
	}
	if len(q.recs) == cap(q.recs) && q.head > 0 && q.head >= len(q.recs)/2 {
		n := copy(q.recs, q.recs[q.head:])
		q.recs, q.head = q.recs[:n], 0
	}
	q.recs = append(q.recs, e)
	q.bytes += int64(len(r.key) + len(r.value))
	q.pushed++
}

// block returns the block to append n bytes to: the current one, or a new
// one when they do not fit. A record of more than a quarter block gets a
// block of its own.
func (q *stashQueue) block(n int, pool *blockPool) *stashBlock {
	if k := len(q.blocks) - 1; k >= 0 && cap(q.blocks[k].b)-len(q.blocks[k].b) >= n {
		return &q.blocks[k]
	}
	size := stashBlockSize
	if n > stashBlockSize/4 {
		size = n
	}
	q.blocks = append(q.blocks, stashBlock{b: pool.get(size)})
	return &q.blocks[len(q.blocks)-1]
}

// pop drops the front record, once its bytes are no longer used, and
// returns the blocks no queued record uses to the pool.
func (q *stashQueue) pop(pool *blockPool) {
	q.bytes -= int64(max(q.recs[q.head].klen, 0) + max(q.recs[q.head].vlen, 0))
	q.head++
	seq := q.pushed - int64(q.len()) - 1 // the popped record's
	if q.len() == 0 {
		q.reset(pool)
		return
	}
	n := 0
	for n < len(q.blocks)-1 && q.blocks[n].last <= seq {
		pool.put(q.blocks[n].b)
		n++
	}
	if n > 0 {
		k := len(q.blocks)
		q.blocks = append(q.blocks[:0], q.blocks[n:]...)
		// No copy of a block's slice may outlive it: once unmapped, its
		// address range can become Go heap, and the collector would find
		// a bad pointer.
		clear(q.blocks[len(q.blocks):k])
		q.first += int64(n)
	}
}

// reset drops every queued record and returns the blocks to the pool. The
// record slots are kept for the next records.
func (q *stashQueue) reset(pool *blockPool) {
	q.recs, q.head, q.bytes = q.recs[:0], 0, 0
	for _, blk := range q.blocks {
		pool.put(blk.b)
	}
	clear(q.blocks)
	q.first += int64(len(q.blocks))
	q.blocks = q.blocks[:0]
}

package kafka

import (
	"bytes"
	"fmt"
	"testing"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// stashMsg is record off of a test stream: a key of its offset, and a value
// of a size that varies with it (some nil, some empty, some above a quarter
// block).
func stashMsg(off int64) *ckafka.Message {
	m := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Offset: ckafka.Offset(off)}, Key: []byte(fmt.Sprint(off))}
	switch {
	case off%97 == 0:
		m.Value = bytes.Repeat([]byte{byte(off)}, stashBlockSize/4+1)
	case off%5 == 1:
		m.Value = nil
	case off%5 == 2:
		m.Value = []byte{}
	default:
		m.Value = bytes.Repeat([]byte{byte(off)}, int(off%300)+1)
	}
	if off%7 == 3 { // some with headers, a null value among them
		m.Headers = []ckafka.Header{{Key: "h", Value: []byte(fmt.Sprint(off))}, {Key: "null"}}
	}
	return m
}

// stashHeaders renders r's headers as key=value (<nil> for null).
func stashHeaders(t *testing.T, enc []byte) string {
	t.Helper()
	hs, err := DecodeHeaders(enc)
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, h := range hs {
		v := string(h.Value)
		if h.Value == nil {
			v = "<nil>"
		}
		out += h.Key + "=" + v + ";"
	}
	return out
}

// The queue returns what was pushed, in order and byte for byte, while it
// is never drained: its blocks go back to the pool as their records are
// popped, so the blocks in use stay proportional to the records queued,
// and the pool's blocks are reused.
func TestStashQueueNeverDrained(t *testing.T) {
	var q stashQueue
	var pool blockPool
	next, popped := int64(0), int64(0)
	check := func() {
		t.Helper()
		want := stashMsg(popped)
		r := q.front()
		if r.offset != popped || !bytes.Equal(r.key, want.Key) || !bytes.Equal(r.value, want.Value) || (r.value == nil) != (want.Value == nil) {
			t.Fatalf("front: offset %d key %q value %d bytes (nil %v), want %d %q %d bytes (nil %v)",
				r.offset, r.key, len(r.value), r.value == nil, popped, want.Key, len(want.Value), want.Value == nil)
		}
		wantH := ""
		if popped%7 == 3 {
			wantH = fmt.Sprintf("h=%d;null=<nil>;", popped)
		}
		if got := stashHeaders(t, r.headers); got != wantH {
			t.Fatalf("offset %d headers %q, want %q", popped, got, wantH)
		}
		q.pop(&pool)
		popped++
	}
	maxBlocks := 0
	for round := 0; round < 200; round++ {
		for range 3000 { // about 450 KiB: 7 or 8 blocks
			q.push(stashMsg(next), &pool)
			next++
		}
		for q.len() > 1000 {
			check()
		}
		for range 500 { // a block freed by a pop is refilled at once
			check()
			q.push(stashMsg(next), &pool)
			next++
		}
		maxBlocks = max(maxBlocks, len(q.blocks))
		// Released blocks leave no slice behind in the queue's arrays.
		for i, b := range q.blocks[len(q.blocks):cap(q.blocks)] {
			if b.b != nil {
				t.Fatalf("round %d: slot %d past the %d blocks in use still holds a block", round, len(q.blocks)+i, len(q.blocks))
			}
		}
		if want := int(next - popped); q.len() != want {
			t.Fatalf("round %d: len %d, want %d", round, q.len(), want)
		}
	}
	// 4,000 records of at most 302 bytes, in 64 KiB blocks.
	if maxBlocks > 20 {
		t.Fatalf("%d blocks in use at most, want no more than 20: drained blocks are not released", maxBlocks)
	}
	if len(pool.free) == 0 || len(pool.free) > 20 {
		t.Fatalf("%d blocks in the pool, want some reused ones and no more than the queue ever used", len(pool.free))
	}
	if cap(q.recs) > 8192 {
		t.Fatalf("record slots grew to %d for at most 4,000 records", cap(q.recs))
	}
	for q.len() > 0 {
		check()
	}
	if popped != next || q.bytes != 0 || len(q.blocks) != 0 {
		t.Fatalf("drained: popped %d of %d, %d bytes and %d blocks left", popped, next, q.bytes, len(q.blocks))
	}
	pool.close()
	if pool.mapped != 0 {
		t.Fatalf("%d bytes still mapped after the pool's close", pool.mapped)
	}
}

// Reset drops the queue and returns its blocks; the queue is usable after.
func TestStashQueueReset(t *testing.T) {
	var q stashQueue
	var pool blockPool
	for off := range int64(2000) {
		q.push(stashMsg(off), &pool)
	}
	n := 0 // blocks of the pool's size (records above a quarter block have their own)
	for _, b := range q.blocks {
		if cap(b.b) == stashBlockSize {
			n++
		}
	}
	q.reset(&pool)
	if q.len() != 0 || q.bytes != 0 || len(q.blocks) != 0 || len(pool.free) != n {
		t.Fatalf("after reset: len %d, %d bytes, %d blocks, pool %d (want %d)", q.len(), q.bytes, len(q.blocks), len(pool.free), n)
	}
	q.push(stashMsg(7), &pool)
	if r := q.front(); r.offset != 7 || len(pool.free) != n-1 {
		t.Fatalf("after reset and push: offset %d, pool %d", r.offset, len(pool.free))
	}
}

// A block goes back to the pool only after the last record with bytes in
// it is popped: the record left in it keeps its bytes while the pool's
// blocks are handed out again.
func TestStashQueueBlockOutlivesItsRecords(t *testing.T) {
	var q stashQueue
	var pool blockPool
	msg := func(off int64) *ckafka.Message {
		return &ckafka.Message{TopicPartition: ckafka.TopicPartition{Offset: ckafka.Offset(off)}, Value: bytes.Repeat([]byte{byte(off)}, 1000)}
	}
	for off := range int64(66) { // 65 values fill the first block
		q.push(msg(off), &pool)
	}
	if len(q.blocks) != 2 {
		t.Fatalf("%d blocks for 66 values of 1000 bytes, want 2", len(q.blocks))
	}
	for range 64 {
		q.pop(&pool)
	}
	for off := int64(66); off < 200; off++ { // needs new blocks
		q.push(msg(off), &pool)
	}
	if r := q.front(); r.offset != 64 || !bytes.Equal(r.value, msg(64).Value) {
		t.Fatalf("offset %d: value starts %v, want 1000 bytes of 64", r.offset, r.value[:4])
	}
}

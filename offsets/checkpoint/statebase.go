package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// The state's base (see doc.go, "State storage and commit cost") is kept in
// statebase as chunks: runs of (key, value) pairs in ascending key order,
// about baseChunkSize bytes each, stored under the first key they hold. A
// compaction merges the log's changes into the chunks they fall in and
// writes those chunks again, a memory copy per pair, and leaves the other
// chunks as they are. Format 1 kept one bbolt key per state key (in the
// bucket "state"): a compaction was a B+tree insert per changed key, about
// 0.7 µs each, 3.8 s for 4M logged changes into a 1M-key base.
//
// A checkpoint of format 1 kept its base in "state"; the upgrade to format
// 3 (upgrade.go) reads it through baseIter and moves it to statebase, and
// "state" stays empty since. Either bucket holds the base, never both.

var bucketStateBase = []byte("statebase")

// baseChunkSize is the size at which a base chunk is cut: a compaction
// rewrites each chunk a change falls in, so smaller chunks rewrite less
// around sparse changes, larger ones have fewer B+tree entries.
const baseChunkSize = 64 << 10

// minChunkSize: a rewritten chunk smaller than this takes in the next
// chunk too, if the two fit in one.
const minChunkSize = baseChunkSize / 4

// chunkReader reads one base chunk: uvarint key length, key, uvarint value
// length, value, repeated; keys strictly ascending, the first equal to the
// chunk's bbolt key.
type chunkReader struct {
	k, v []byte // the chunk's bbolt key and value
	// after and limit, when not nil, bound the chunk's keys: above the
	// previous chunk's last key, below the next chunk's key.
	after, limit []byte
	off          int
	prev         []byte
	err          error // a *CorruptError once a pair failed to decode
}

// next returns the next pair, aliasing the chunk; ok is false at the end
// of the chunk or on an error (r.err).
func (r *chunkReader) next() (key, value []byte, ok bool) {
	if r.err != nil || r.off >= len(r.v) {
		if r.off == 0 && r.err == nil {
			r.err = r.corrupt(0, "empty chunk")
		}
		return nil, nil, false
	}
	at := r.off
	if key, r.off, r.err = r.field(r.off); r.err != nil {
		return nil, nil, false
	}
	if value, r.off, r.err = r.field(r.off); r.err != nil {
		return nil, nil, false
	}
	switch {
	case len(key) == 0:
		r.err = r.corrupt(at, "empty key")
	case at == 0 && !bytes.Equal(key, r.k):
		r.err = r.corrupt(at, "first key is not the chunk's key")
	case at > 0 && bytes.Compare(r.prev, key) >= 0:
		r.err = r.corrupt(at, "keys out of order")
	case at == 0 && r.after != nil && bytes.Compare(r.after, key) >= 0:
		r.err = r.corrupt(at, "the chunk overlaps the previous one")
	case r.limit != nil && bytes.Compare(key, r.limit) >= 0:
		r.err = r.corrupt(at, "a key reaches the next chunk's")
	}
	if r.err != nil {
		return nil, nil, false
	}
	r.prev = key
	return key, value, true
}

func (r *chunkReader) field(off int) ([]byte, int, error) {
	b, end, msg := lengthPrefixed(r.v, off)
	if msg != "" {
		return nil, 0, r.corrupt(off, msg)
	}
	return b, end, nil
}

func (r *chunkReader) corrupt(off int, msg string) error {
	k := r.k
	if len(k) > 64 {
		k = k[:64]
	}
	return &CorruptError{Bucket: string(bucketStateBase), Key: fmt.Sprintf("chunk %x", k), Err: fmt.Errorf("at byte %d: %s", off, msg)}
}

// baseIter iterates the base in ascending key order: format 1's bucket
// "state" while it has keys, else the chunks of statebase. Pairs alias the
// transaction's pages.
type baseIter struct {
	legacy *bbolt.Cursor
	chunks *bbolt.Cursor
	r      chunkReader
	begun  bool
	err    error
}

func newBaseIter(tx *bbolt.Tx) *baseIter {
	it := &baseIter{}
	chunks := tx.Bucket(bucketStateBase)
	if chunks != nil {
		it.chunks = chunks.Cursor()
	}
	if b := tx.Bucket(bucketState); b != nil {
		if k, _ := b.Cursor().First(); k != nil {
			it.legacy = b.Cursor()
			it.err = bothBases(chunks)
		}
	}
	return it
}

// bothBases returns the error of a base in format 1's bucket while chunks,
// if not nil, holds one too.
func bothBases(chunks *bbolt.Bucket) error {
	if chunks == nil {
		return nil
	}
	if k, _ := chunks.Cursor().First(); k != nil {
		return &CorruptError{Bucket: string(bucketStateBase), Key: fmt.Sprintf("chunk %x", k),
			Err: errors.New(`the base is in both "state" and "statebase"`)}
	}
	return nil
}

// next returns the next pair; ok is false at the end or on an error
// (it.err).
func (it *baseIter) next() (key, value []byte, ok bool) {
	if it.err != nil {
		return nil, nil, false
	}
	if it.legacy != nil {
		if !it.begun {
			it.begun = true
			key, value = it.legacy.First()
		} else {
			key, value = it.legacy.Next()
		}
		return key, value, key != nil
	}
	if it.chunks == nil {
		return nil, nil, false
	}
	for {
		if it.r.v != nil {
			if key, value, ok = it.r.next(); ok {
				return key, value, true
			}
			if it.err = it.r.err; it.err != nil {
				return nil, nil, false
			}
		}
		var k, v []byte
		if !it.begun {
			it.begun = true
			k, v = it.chunks.First()
		} else {
			k, v = it.chunks.Next()
		}
		if k == nil {
			return nil, nil, false
		}
		if v == nil {
			v = []byte{} // an empty value: next reports the empty chunk
		}
		it.r = chunkReader{k: k, v: v, after: it.r.prev}
	}
}

// chunkWriter cuts pairs into chunks of about baseChunkSize.
type chunkWriter struct {
	buf    []byte
	first  []byte // the first key in buf, a view of buf
	chunks []baseChunk
}

type baseChunk struct{ key, value []byte }

func (w *chunkWriter) add(key, value []byte) {
	need := len(key) + len(value) + 2*binary.MaxVarintLen64
	if len(w.buf) > 0 && len(w.buf)+need > baseChunkSize {
		w.flush()
	}
	if w.buf == nil {
		// bbolt keeps a put value until the commit: a buffer is never
		// reused.
		w.buf = make([]byte, 0, max(baseChunkSize, need))
	}
	w.buf = binary.AppendUvarint(w.buf, uint64(len(key)))
	n := len(w.buf)
	w.buf = append(w.buf, key...)
	if w.first == nil {
		w.first = w.buf[n:len(w.buf):len(w.buf)]
	}
	w.buf = binary.AppendUvarint(w.buf, uint64(len(value)))
	w.buf = append(w.buf, value...)
}

// flush ends the chunk being written, if any: the next pair starts a new
// one.
func (w *chunkWriter) flush() {
	if len(w.buf) > 0 {
		w.chunks = append(w.chunks, baseChunk{w.first, w.buf})
	}
	w.buf, w.first = nil, nil
}

// applyToBase applies ops (sorted by key, one per key) to the base, which
// holds baseKeys keys, and returns how many it holds after. Only the
// chunks that ops fall in are rewritten, ops below the second chunk's key
// falling in the first.
func applyToBase(tx *bbolt.Tx, ops []stateOp, baseKeys int64) (int64, error) {
	chunks := tx.Bucket(bucketStateBase)
	var w chunkWriter
	var stale [][]byte // rewritten chunks' keys
	c := chunks.Cursor()
	k, v := c.First()
	if k == nil {
		for _, op := range ops {
			if !op.del {
				w.add(op.key, op.value)
				baseKeys++
			}
		}
		w.flush()
		return baseKeys, putChunks(chunks, nil, w)
	}
	for i := 0; k != nil; {
		nk, nv := c.Next()
		j := len(ops)
		if nk != nil {
			j = i
			for j < len(ops) && bytes.Compare(ops[j].key, nk) < 0 {
				j++
			}
		}
		// An untouched chunk stays, and what follows starts a new one;
		// unless the rewritten chunks before it end in a small one
		// (deletes shrank them) that it fits in with: then it is
		// rewritten with them.
		if j == i && (len(w.buf) == 0 || len(w.buf) >= minChunkSize || len(w.buf)+len(v) > baseChunkSize) {
			w.flush()
		} else {
			r := &chunkReader{k: k, v: v, limit: nk}
			read, written, err := mergeInto(&w, r.next, func() error { return r.err }, ops[i:j])
			if err != nil {
				return 0, err
			}
			baseKeys += written - read
			stale = append(stale, k)
			i = j
		}
		k, v = nk, nv
	}
	w.flush()
	return max(baseKeys, 0), putChunks(chunks, stale, w)
}

// mergeInto writes the pairs of next with ops (sorted, one per key)
// applied to w; it returns how many pairs next gave and how many w
// received, and errOf's error (next's, once it ended).
func mergeInto(w *chunkWriter, next func() ([]byte, []byte, bool), errOf func() error, ops []stateOp) (read, written int64, err error) {
	key, value, ok := next()
	for _, op := range ops {
		for ok && bytes.Compare(key, op.key) < 0 {
			w.add(key, value)
			read, written = read+1, written+1
			key, value, ok = next()
		}
		if ok && bytes.Equal(key, op.key) {
			read++
			key, value, ok = next()
		}
		if !op.del {
			w.add(op.key, op.value)
			written++
		}
	}
	for ; ok; key, value, ok = next() {
		w.add(key, value)
		read, written = read+1, written+1
	}
	return read, written, errOf()
}

// putChunks deletes the stale chunks and puts w's.
func putChunks(b *bbolt.Bucket, stale [][]byte, w chunkWriter) error {
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("state base delete: %w", err)
		}
	}
	for _, ch := range w.chunks {
		if err := b.Put(ch.key, ch.value); err != nil {
			return fmt.Errorf("state base put: %w", err)
		}
	}
	return nil
}

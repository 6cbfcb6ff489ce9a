package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/offsets"
)

// FuzzDecodeBatchPlan: decoding an offsets record never panics; bad bytes
// give a *CorruptError naming the bucket and the batch; a record that
// decodes re-encodes to bytes that decode to the same plan.
func FuzzDecodeBatchPlan(f *testing.F) {
	good, _ := encodePlan(BatchPlan{ID: 3, Ranges: []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 5, Until: 10}}, Ends: map[offsets.TopicPartition]int64{tp("t", 0): 10, tp("t", 1): 2},
		PlannedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), DataLoss: []offsets.DataLossError{{Topic: "t", Partition: 0, From: 1, Until: 5, Reason: "r"}},
		Gone: []offsets.TopicPartition{tp("u", 0)}})
	f.Add(uint64(3), good)
	f.Add(uint64(4), good)
	f.Add(uint64(1)<<63, good)
	f.Add(uint64(0), []byte(`{"v":1,"id":0,"ranges":null,"ends":null}`))
	f.Add(uint64(0), []byte(`{"v":2,"id":0}`))
	f.Add(uint64(0), []byte(`{"v":1,"id":0,"ranges":[{"topic":"t","partition":0,"from":1,"until":2}],"ends":[{"topic":"t","partition":0,"offset":2},{"topic":"t","partition":0,"offset":2}]}`))
	f.Add(uint64(0), []byte(`nope`))
	f.Fuzz(func(t *testing.T, id uint64, data []byte) {
		k := batchKey(int64(id))
		p, err := decodePlan(k, data)
		if err != nil {
			checkCorrupt(t, err, "offsets", id)
			return
		}
		enc, err := encodePlan(p)
		if err != nil {
			t.Fatalf("decoded plan does not encode: %v", err)
		}
		p2, err := decodePlan(k, enc)
		if err != nil {
			t.Fatalf("re-encoded plan does not decode: %v", err)
		}
		enc2, _ := encodePlan(p2)
		if !bytes.Equal(enc, enc2) || !p.sameWork(p2) {
			t.Fatalf("round trip changed the plan:\n%s\n%s", enc, enc2)
		}
	})
}

// FuzzDecodeCommit: as FuzzDecodeBatchPlan, for commits records.
func FuzzDecodeCommit(f *testing.F) {
	good, _ := encodeCommit(CommitRecord{ID: 7, CommittedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), InputRows: 10, StateRows: 3, StateWrites: 2})
	f.Add(uint64(7), good)
	f.Add(uint64(8), good)
	f.Add(uint64(0), []byte(`{"v":1,"id":0,"committedAt":"x"}`))
	f.Fuzz(func(t *testing.T, id uint64, data []byte) {
		k := batchKey(int64(id))
		r, err := decodeCommit(k, data)
		if err != nil {
			checkCorrupt(t, err, "commits", id)
			return
		}
		enc, err := encodeCommit(r)
		if err != nil {
			return // a year outside [0, 9999] decodes but cannot be re-encoded by encoding/json
		}
		r2, err := decodeCommit(k, enc)
		if err != nil || r2.ID != r.ID || r2.InputRows != r.InputRows || !r2.CommittedAt.Equal(r.CommittedAt) {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", r, enc, r2, err)
		}
	})
}

func checkCorrupt(t *testing.T, err error, bucket string, id uint64) {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Bucket != bucket {
		t.Fatalf("error %v (%T) is not a *CorruptError of bucket %s", err, err, bucket)
	}
	want := fmt.Sprintf("batch %d", id)
	if id>>63 != 0 {
		want = fmt.Sprintf("%x", batchKey(int64(id)))
	}
	if ce.Key != want {
		t.Fatalf("error names %q, want %q", ce.Key, want)
	}
}

// FuzzDecodePosition: never panics; a position that decodes re-encodes to
// the same key and value.
func FuzzDecodePosition(f *testing.F) {
	f.Add(positionKey(tp("t", 3)), encodeOffset(42))
	f.Add(positionKey(tp("", 0)), encodeOffset(0))
	f.Add([]byte("t\x00\xff\xff\xff\xff"), encodeOffset(-1))
	f.Add([]byte("x"), []byte("y"))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		p, off, err := decodePosition(k, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(positionKey(p), k) || !bytes.Equal(encodeOffset(off), v) {
			t.Fatalf("round trip of %q=%x gave %+v %d", k, v, p, off)
		}
	})
}

// FuzzDecodeMeta: the meta bucket's JSON records and bbolt meta pages never
// panic the decoders; errors match ErrCorrupt.
func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"v":1,"offsets":[{"topic":"t","partition":0,"offset":5}]}`))
	f.Add([]byte(`{"v":1,"schema":"a INT","query":"q"}`))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := decodeInitial(data); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeInitial: %v", err)
		}
		if _, err := decodeFingerprint(data); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeFingerprint: %v", err)
		}
		_, _ = parseBoltMeta(data)
		_, _ = readBoltMeta(bytes.NewReader(data))
	})
}

// FuzzDecodeLogChunk: decoding a statelog chunk never panics; bad bytes
// give a *CorruptError naming the batch and chunk; a chunk that decodes is
// re-encoded (appendLog's format) to the same bytes.
func FuzzDecodeLogChunk(f *testing.F) {
	enc := func(ops ...stateOp) []byte {
		var v []byte
		for _, op := range ops {
			v = binary.AppendUvarint(v, uint64(len(op.key)))
			v = append(v, op.key...)
			if op.del {
				v = append(v, opDelete)
			} else {
				v = append(v, opPut)
				v = binary.AppendUvarint(v, uint64(len(op.value)))
				v = append(v, op.value...)
			}
		}
		return v
	}
	f.Add(logKey(3, 0), enc(stateOp{key: []byte("a"), value: []byte("1")}, stateOp{key: []byte("b"), del: true}))
	f.Add(logKey(3, 1), []byte{5, 'a'})
	f.Add([]byte("short"), []byte("X"))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		id, ops, err := decodeLogChunk(k, v)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Bucket != "statelog" {
				t.Fatalf("error %v is not a statelog *CorruptError", err)
			}
			if len(k) == 12 && k[0]&0x80 == 0 && ce.Key != fmt.Sprintf("batch %d chunk %d", id2(k), binary.BigEndian.Uint32(k[8:])) {
				t.Fatalf("error names %q", ce.Key)
			}
			return
		}
		if id != id2(k) || !bytes.Equal(enc(ops...), v) {
			t.Fatalf("chunk %x of batch %d re-encodes differently", v, id)
		}
	})
}

func id2(k []byte) int64 { return int64(binary.BigEndian.Uint64(k)) }

// FuzzDecodeBaseChunk: reading a statebase chunk never panics; bad bytes
// give a *CorruptError naming statebase and the chunk; a chunk that reads
// whole is written again (chunkWriter) to the same bytes.
func FuzzDecodeBaseChunk(f *testing.F) {
	f.Add([]byte("a"), []byte("\x01a\x011\x02ab\x00"))
	f.Add([]byte("a"), []byte("\x01a\x011\x01a\x00")) // repeated key
	f.Add([]byte("b"), []byte("\x01a\x00"))           // not the chunk's key
	f.Add([]byte("a"), []byte("\x81\x00a"))           // not minimal
	f.Fuzz(func(t *testing.T, k, v []byte) {
		r := chunkReader{k: k, v: v}
		var w chunkWriter
		for key, value, ok := r.next(); ok; key, value, ok = r.next() {
			w.add(key, value)
		}
		if r.err != nil {
			var ce *CorruptError
			if !errors.As(r.err, &ce) || ce.Bucket != "statebase" || !strings.HasPrefix(ce.Key, "chunk ") {
				t.Fatalf("error %v is not a statebase *CorruptError naming the chunk", r.err)
			}
			return
		}
		w.flush()
		if len(v) <= baseChunkSize && (len(w.chunks) != 1 || !bytes.Equal(w.chunks[0].key, k) || !bytes.Equal(w.chunks[0].value, v)) {
			t.Fatalf("chunk %x under %x is written again as %d chunks", v, k, len(w.chunks))
		}
	})
}

// FuzzDecodeMetaBlock: a commit record's meta block (the same decoder
// reads a plan's) never panics the decoder; bad bytes give a
// *CorruptError naming commits and the batch; a block that decodes
// re-encodes to one that decodes to the same facts, and encoding is then
// stable.
func FuzzDecodeMetaBlock(f *testing.F) {
	f.Add([]byte(`{"v":1,"watermark":"2026-01-02T03:04:05Z","rateLimit":100,"processingTime":"2026-01-02T03:04:06.5+01:00","emittedRows":7,"extra":{"late":{"n":1}}}`))
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"rateLimit":-1}`))
	f.Add([]byte(`{"v":1,"extra":{"a":null}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := append([]byte(`{"v":2,"id":0,"meta":`), data...)
		rec = append(rec, '}')
		r, err := decodeCommit(batchKey(0), rec)
		if err != nil {
			checkCorrupt(t, err, "commits", 0)
			return
		}
		enc, err := encodeCommit(r)
		if err != nil {
			return // a year outside [0, 9999] decodes but cannot be re-encoded by encoding/json
		}
		r2, err := decodeCommit(batchKey(0), enc)
		if err != nil {
			t.Fatalf("re-encoded meta %s does not decode: %v", enc, err)
		}
		m, m2 := r.Meta, r2.Meta
		if !m.Watermark.Equal(m2.Watermark) || !m.ProcessingTime.Equal(m2.ProcessingTime) || m.RateLimit != m2.RateLimit ||
			m.EmittedRows != m2.EmittedRows || len(m.Extra) != len(m2.Extra) {
			t.Fatalf("round trip: %+v -> %s -> %+v", m, enc, m2)
		}
		if enc2, _ := encodeCommit(r2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
	})
}

// FuzzSplitStoredKey: splitting a stored state key (a base chunk's or a
// log change's key) never panics; it fails exactly when the key has no
// byte after its namespace or its key group is out of range, and a key
// that splits is the stored form of its namespace and key.
func FuzzSplitStoredKey(f *testing.F) {
	f.Add(appendStoredKey(nil, Namespace{Operator: 1, KeyGroup: 127}, []byte("k")))
	f.Add([]byte("\x00\x01\x00\x80k"))
	f.Add([]byte("\x00\x01\x00\x05"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, k []byte) {
		ns, key, err := splitStoredKey(k)
		bad := len(k) <= nsPrefixLen || binary.BigEndian.Uint16(k[2:]) >= NumKeyGroups
		if (err != nil) != bad {
			t.Fatalf("splitStoredKey(%x): %v", k, err)
		}
		if err != nil {
			return
		}
		if ns.KeyGroup >= NumKeyGroups || len(key) == 0 || !bytes.Equal(appendStoredKey(nil, ns, key), k) {
			t.Fatalf("splitStoredKey(%x) = %v, %x", k, ns, key)
		}
	})
}

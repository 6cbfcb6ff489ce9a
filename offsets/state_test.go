package offsets

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"go.etcd.io/bbolt"
)

// TestStateLogAndCompaction drives the state through the log and several
// compactions against a map model: puts, overwrites, deletes, unsorted
// batches with repeated keys, a reopen. After every compaction and every
// fourth commit ForEachState (ascending, merged) and State equal the model;
// the log counter matches after every commit.
func TestStateLogAndCompaction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	c, err := Open(dir, Options{NoSync: true, Retain: 5})
	mustNoErr(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]string{}
	compactions := 0
	for id := int64(0); id < 40; id++ {
		if id == 20 {
			mustNoErr(t, c.Close())
			c = openTestAt(t, dir, Options{NoSync: true, Retain: 5})
		}
		mustNoErr(t, c.WriteAhead(plan1(id, []OffsetRange{{"t", 0, id, id + 1}}, nil)))
		// Batch 5 is large: it alone crosses the threshold.
		n := 1500
		if id == 5 {
			n = 30000
		}
		sorted := id%3 != 0
		type change struct {
			k, v string
			del  bool
		}
		var changes []change
		for range n {
			k := fmt.Sprintf("key%06d", rng.IntN(12000))
			if rng.IntN(8) == 0 {
				changes = append(changes, change{k: k, del: true})
			} else {
				changes = append(changes, change{k: k, v: fmt.Sprintf("b%d-%d", id, rng.IntN(1000))})
			}
		}
		if sorted {
			// Ascending, one change per key (the last one).
			slices.SortStableFunc(changes, func(a, b change) int { return bytes.Compare([]byte(a.k), []byte(b.k)) })
			dedup := changes[:0]
			for i, ch := range changes {
				if i+1 < len(changes) && changes[i+1].k == ch.k {
					continue
				}
				dedup = append(dedup, ch)
			}
			changes = dedup
		}
		before := logCount(t, c)
		var buf []byte
		mustNoErr(t, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
			for _, ch := range changes {
				buf = append(buf[:0], ch.k...) // reused buffer: must be copied
				if ch.del {
					if err := tx.DeleteState(buf); err != nil {
						return err
					}
					continue
				}
				if err := tx.PutState(buf, []byte(ch.v)); err != nil {
					return err
				}
			}
			return nil
		}))
		for _, ch := range changes {
			if ch.del {
				delete(model, ch.k)
			} else {
				model[ch.k] = ch.v
			}
		}
		after := logCount(t, c)
		if after < before {
			compactions++
		}
		if id%4 == 3 || after < before {
			assertState(t, c, model)
		}
		mustNoErr(t, c.db.View(func(tx *bbolt.Tx) error { return checkStateCounters(tx, id) }))
	}
	if compactions < 3 {
		t.Fatalf("%d compactions, want at least 3", compactions)
	}
	if logCount(t, c) == 0 {
		t.Fatal("the log is empty before the explicit Compact")
	}
	mustNoErr(t, c.Compact())
	if n := logCount(t, c); n != 0 {
		t.Fatalf("log counter after Compact = %d", n)
	}
	assertState(t, c, model)
	mustNoErr(t, c.Compact()) // nothing to do
}

// logCount is the state log's size from StateLog, which also says that a
// commit never leaves the log at or beyond its threshold.
func logCount(t *testing.T, c *Checkpoint) int64 {
	t.Helper()
	n, threshold, err := c.StateLog()
	mustNoErr(t, err)
	var stored int64
	mustNoErr(t, c.db.View(func(tx *bbolt.Tx) error {
		var err error
		stored, err = readCounter(tx.Bucket(bucketMeta), keyStateLogKeys)
		return err
	}))
	if n != stored || threshold < compactMin || n >= threshold {
		t.Fatalf("StateLog() = %d, %d; stored counter %d", n, threshold, stored)
	}
	return n
}

func assertState(t *testing.T, c *Checkpoint, model map[string]string) {
	t.Helper()
	var got []string
	mustNoErr(t, c.ForEachState(func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	}))
	keys := make([]string, 0, len(model))
	for k := range model {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := make([]string, len(keys))
	for i, k := range keys {
		want[i] = k + "=" + model[k]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("state has %d keys, model %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	for i, k := range []string{keys[0], keys[len(keys)/2], "key999999"} {
		v, err := c.State([]byte(k))
		mustNoErr(t, err)
		if w, ok := model[k]; string(v) != w || (v == nil) == ok {
			t.Fatalf("State(%s) #%d = %q, want %q", k, i, v, w)
		}
	}
	if n, _ := c.StateKeys(); n != int64(len(model)) {
		t.Fatalf("StateKeys = %d, want %d", n, len(model))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestStateKeyLimits(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	mustNoErr(t, c.WriteAhead(plan1(0, []OffsetRange{{"t", 0, 0, 1}}, nil)))
	err := c.Commit(CommitRecord{ID: 0}, func(tx *CommitTx) error { return tx.PutState(nil, []byte("v")) })
	if err == nil || err.Error() != "offsets: state key of 0 bytes: want 1 to 32760" {
		t.Fatalf("empty key: %v", err)
	}
	err = c.Commit(CommitRecord{ID: 0}, func(tx *CommitTx) error { return tx.DeleteState(make([]byte, 32761)) })
	if err == nil || err.Error() != "offsets: state key of 32761 bytes: want 1 to 32760" {
		t.Fatalf("long key: %v", err)
	}
}

// A batch whose changes exceed one log chunk is split over several, and
// reads back merged with the base.
func TestStateLogChunks(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	model := map[string]string{}
	commit := func(id int64, keys int, step int, tag string) {
		t.Helper()
		mustNoErr(t, c.WriteAhead(plan1(id, []OffsetRange{{"t", 0, id, id + 1}}, nil)))
		mustNoErr(t, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
			for i := 0; i < keys; i += step {
				k, v := fmt.Sprintf("key%07d", i), fmt.Sprintf("%s-value-%020d", tag, i)
				model[k] = v
				if err := tx.PutState([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	commit(0, 60000, 1, "base") // direct to the base
	commit(1, 60000, 3, "log")  // 20000 changes, ~860 KiB: log, 4 chunks
	var chunks int
	mustNoErr(t, c.db.View(func(tx *bbolt.Tx) error {
		chunks = tx.Bucket(bucketStateLog).Stats().KeyN
		return nil
	}))
	if chunks != 4 {
		t.Fatalf("batch 1 logged in %d chunks, want 4", chunks)
	}
	if n := logCount(t, c); n != 20000 {
		t.Fatalf("log counter = %d, want 20000", n)
	}
	assertState(t, c, model)
}

// TestReadLogMerge checks readLog, which merges the batches' sorted runs,
// against the latest change of every key in commit order, over many
// batches of overlapping puts and deletes, and a damaged batch whose chunk
// is out of key order.
func TestReadLogMerge(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "log.db"), 0o600, &bbolt.Options{NoSync: true})
	mustNoErr(t, err)
	defer db.Close()
	r := rand.New(rand.NewPCG(11, 12))
	want := map[string]stateOp{}
	mustNoErr(t, db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket(bucketStateLog)
		if err != nil {
			return err
		}
		for id := range int64(13) {
			ops := map[string]stateOp{}
			for range r.IntN(300) {
				k := fmt.Sprintf("k%04d", r.IntN(500))
				op := stateOp{key: []byte(k), del: r.IntN(4) == 0}
				if !op.del {
					op.value = fmt.Appendf(nil, "v%d-%s", id, k)
				}
				ops[k] = op
			}
			sorted := slices.SortedFunc(maps.Values(ops), func(a, b stateOp) int { return bytes.Compare(a.key, b.key) })
			for _, op := range sorted {
				want[string(op.key)] = op
			}
			if err := appendLog(b, id, sorted); err != nil {
				return err
			}
		}
		// Batch 13 is damaged: its keys descend, one twice (the later wins).
		damaged := []stateOp{{key: []byte("k0300"), value: []byte("x")}, {key: []byte("k0200"), del: true}, {key: []byte("k0200"), value: []byte("y")}}
		for _, op := range damaged {
			want[string(op.key)] = op
		}
		return appendLog(b, 13, damaged)
	}))
	mustNoErr(t, db.View(func(tx *bbolt.Tx) error {
		got, err := readLog(tx.Bucket(bucketStateLog))
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			t.Fatalf("readLog returned %d keys, want %d", len(got), len(want))
		}
		for i, op := range got {
			w := want[string(op.key)]
			if i > 0 && bytes.Compare(got[i-1].key, op.key) >= 0 {
				t.Fatalf("readLog: %q after %q", op.key, got[i-1].key)
			}
			if op.del != w.del || !bytes.Equal(op.value, w.value) {
				t.Fatalf("readLog: %q = %q (del %v), want %q (del %v)", op.key, op.value, op.del, w.value, w.del)
			}
		}
		return nil
	}))
}

// TestWriteState checks that a commit fn may write its state changes before
// it returns, then use the transaction further (a sink bucket), and that
// state changes after WriteState fail without spoiling the commit.
func TestWriteState(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	model := map[string]string{}
	for id := range int64(3) {
		mustNoErr(t, c.WriteAhead(plan1(id, []OffsetRange{{"t", 0, id, id + 1}}, nil)))
		mustNoErr(t, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
			for i := range 5000 {
				k, v := fmt.Sprintf("key%05d", i*int(id+1)), fmt.Sprintf("v%d", id)
				model[k] = v
				if err := tx.PutState([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
			if err := tx.WriteState(); err != nil {
				return err
			}
			if err := tx.WriteState(); err != nil {
				return fmt.Errorf("second WriteState: %w", err)
			}
			if err := tx.PutState([]byte("late"), []byte("x")); err == nil {
				return errors.New("PutState after WriteState succeeded")
			}
			if err := tx.DeleteState([]byte("key00000")); err == nil {
				return errors.New("DeleteState after WriteState succeeded")
			}
			b, err := tx.Bucket("sink")
			if err != nil {
				return err
			}
			return b.Put(batchKey(id), []byte("out"))
		}))
	}
	assertState(t, c, model)
}

package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/offsets"
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
		mustNoErr(t, c.WriteAhead(plan1(id, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: id, Until: id + 1}}, nil)))
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
					if err := tx.DeleteState(tns, buf); err != nil {
						return err
					}
					continue
				}
				if err := tx.PutState(tns, buf, []byte(ch.v)); err != nil {
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
	mustNoErr(t, c.ForEachState(func(_ Namespace, k, v []byte) error {
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
		v, err := c.state(tns, []byte(k))
		mustNoErr(t, err)
		if w, ok := model[k]; string(v) != w || (v == nil) == ok {
			t.Fatalf("State(%s) #%d = %q, want %q", k, i, v, w)
		}
	}
	if n, _ := c.stateKeys(); n != int64(len(model)) {
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
	mustNoErr(t, c.WriteAhead(plan1(0, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 0, Until: 1}}, nil)))
	err := c.Commit(CommitRecord{ID: 0}, func(tx *CommitTx) error { return tx.PutState(tns, nil, []byte("v")) })
	if err == nil || err.Error() != "checkpoint: state key of 0 bytes: want 1 to 32760" {
		t.Fatalf("empty key: %v", err)
	}
	err = c.Commit(CommitRecord{ID: 0}, func(tx *CommitTx) error { return tx.DeleteState(tns, make([]byte, 32761)) })
	if err == nil || err.Error() != "checkpoint: state key of 32761 bytes: want 1 to 32760" {
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
		mustNoErr(t, c.WriteAhead(plan1(id, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: id, Until: id + 1}}, nil)))
		mustNoErr(t, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
			for i := 0; i < keys; i += step {
				k, v := fmt.Sprintf("key%07d", i), fmt.Sprintf("%s-value-%020d", tag, i)
				model[k] = v
				if err := tx.PutState(tns, []byte(k), []byte(v)); err != nil {
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
		mustNoErr(t, c.WriteAhead(plan1(id, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: id, Until: id + 1}}, nil)))
		mustNoErr(t, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
			for i := range 5000 {
				k, v := fmt.Sprintf("key%05d", i*int(id+1)), fmt.Sprintf("v%d", id)
				model[k] = v
				if err := tx.PutState(tns, []byte(k), []byte(v)); err != nil {
					return err
				}
			}
			if err := tx.WriteState(); err != nil {
				return err
			}
			if err := tx.WriteState(); err != nil {
				return fmt.Errorf("second WriteState: %w", err)
			}
			if err := tx.PutState(tns, []byte("late"), []byte("x")); err == nil {
				return errors.New("PutState after WriteState succeeded")
			}
			if err := tx.DeleteState(tns, []byte("key00000")); err == nil {
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

// commitState commits batch id of c with puts of keys (in the order
// given), recording them in model.
func commitState(t *testing.T, c *Checkpoint, id int64, model map[string]string, kv ...string) {
	t.Helper()
	mustNoErr(t, c.WriteAhead(plan1(id, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: id, Until: id + 1}}, nil)))
	mustNoErr(t, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
		for i := 0; i < len(kv); i += 2 {
			model[kv[i]] = kv[i+1]
			if err := tx.PutState(tns, []byte(kv[i]), []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	}))
}

// baseChunks returns a copy of every chunk of the state base.
func baseChunks(t *testing.T, c *Checkpoint) map[string]string {
	t.Helper()
	chunks := map[string]string{}
	mustNoErr(t, c.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketStateBase).ForEach(func(k, v []byte) error {
			chunks[string(k)] = string(v)
			return nil
		})
	}))
	return chunks
}

// TestStateBaseRewritesTouchedChunks: a compaction rewrites exactly the
// base chunks its changes fall in, a change below the first chunk's key in
// the first chunk, and leaves every other chunk byte for byte.
func TestStateBaseRewritesTouchedChunks(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	model := map[string]string{}
	var kv []string
	for i := range 60000 {
		kv = append(kv, fmt.Sprintf("key%07d", 2*i+1), fmt.Sprintf("value-%020d", i))
	}
	commitState(t, c, 0, model, kv...) // alone over the threshold: the base
	before := baseChunks(t, c)
	if len(before) < 20 {
		t.Fatalf("the base has %d chunks, want at least 20 (of %d bytes)", len(before), baseChunkSize)
	}
	keys := slices.Sorted(maps.Keys(before))
	if keys[0] != sk("key0000001") {
		t.Fatalf("the first chunk's key is %q", keys[0])
	}
	// key0000000 sorts below every key: it falls in the first chunk. The
	// other change falls in the chunk of key0060001.
	commitState(t, c, 1, model, "key0000000", "new", "key0060002", "new")
	mustNoErr(t, c.Compact())
	after := baseChunks(t, c)
	var touched []string
	for _, k := range keys {
		if after[k] != before[k] {
			touched = append(touched, k)
		}
	}
	at := func(key string) int { // the chunk key was in
		i, found := slices.BinarySearch(keys, key)
		if !found {
			i = max(i-1, 0)
		}
		return i
	}
	second := at(sk("key0060002"))
	if want := []string{keys[0], keys[second]}; !slices.Equal(touched, want) {
		t.Fatalf("chunks rewritten: %q, want %q", touched, want)
	}
	// What replaced them lies in their key ranges.
	for k, v := range after {
		if before[k] == v {
			continue
		}
		if !(k < keys[1] || k >= keys[second] && k < keys[second+1]) {
			t.Fatalf("chunk %q written outside the rewritten chunks' ranges", k)
		}
	}
	if _, ok := after[sk("key0000000")]; !ok {
		t.Fatal("the first chunk is not stored under its new first key")
	}
	assertState(t, c, model)
}

// TestStateFormat1Upgrades: a format 1 checkpoint, whose base is one bbolt
// key per state key in "state" and whose keys have no namespace, is read
// read-only through an upgraded snapshot (the file untouched), and its
// writer's Open upgrades it to format 3: every key of the base and the
// log in the aggregation operator's namespace, in the base's chunks, with
// exact counters, "state" and the log empty.
func TestStateFormat1Upgrades(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	c := openTestAt(t, dir, Options{NoSync: true})
	commitState(t, c, 0, map[string]string{}, "x", "y") // a committed batch 0
	mustNoErr(t, c.Close())
	// Turn it into format 1: the base in "state", no statebase; a log
	// of batch 0 of keys without a namespace.
	model := map[string]string{}
	db, err := bbolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	mustNoErr(t, err)
	mustNoErr(t, db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketStateBase); err != nil {
			return err
		}
		b := tx.Bucket(bucketState)
		for i := range 5000 {
			k, v := fmt.Sprintf("key%02d-%04d", i%100, i), fmt.Sprintf("base%d", i)
			model[k] = v
			if err := b.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		if err := tx.DeleteBucket(bucketStateLog); err != nil {
			return err
		}
		log, err := tx.CreateBucket(bucketStateLog)
		if err != nil {
			return err
		}
		ops := []stateOp{{key: []byte("key00-0000"), del: true}, {key: []byte("key05"), value: []byte("logged")}, {key: []byte("key99"), value: []byte("logged")}}
		delete(model, "key00-0000")
		model["key05"], model["key99"] = "logged", "logged"
		if err := appendLog(log, 0, ops); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := writeCounter(meta, keyStateBaseKeys, 4990); err != nil { // format 1 estimated it
			return err
		}
		if err := writeCounter(meta, keyStateLogKeys, 3); err != nil {
			return err
		}
		return meta.Put(keyVersion, []byte("1"))
	}))
	mustNoErr(t, db.Close())
	before, err := os.ReadFile(filepath.Join(dir, dbFile))
	mustNoErr(t, err)
	want := upgradedList(model)

	ro, err := Open(dir, Options{ReadOnly: true})
	mustNoErr(t, err)
	if got := stateList(t, ro); !slices.Equal(got, want) {
		t.Fatalf("read-only: %d keys, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	if up := ro.Upgraded(); up == nil || up.From != 1 || up.StateKeys != int64(len(model)) {
		t.Fatalf("read-only Upgraded() = %+v", up)
	}
	mustNoErr(t, ro.Close())
	if after, _ := os.ReadFile(filepath.Join(dir, dbFile)); !bytes.Equal(after, before) {
		t.Fatal("the read-only Open changed the file")
	}

	c = openTestAt(t, dir, Options{NoSync: true})
	if up := c.Upgraded(); up == nil || up.From != 1 || up.StateKeys != int64(len(model)) {
		t.Fatalf("Upgraded() = %+v", up)
	}
	mustNoErr(t, c.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyVersion); string(v) != "3" {
			return fmt.Errorf("meta/version = %q after the writer's Open", v)
		}
		if k, _ := tx.Bucket(bucketState).Cursor().First(); k != nil {
			return fmt.Errorf("state still holds %q after the upgrade", k)
		}
		if k, _ := tx.Bucket(bucketStateLog).Cursor().First(); k != nil {
			return fmt.Errorf("the log still holds %x after the upgrade", k)
		}
		n, err := readCounter(meta, keyStateBaseKeys)
		if err == nil && n != int64(len(model)) {
			err = fmt.Errorf("base counter %d, want %d", n, len(model))
		}
		return err
	}))
	if got := stateList(t, c); !slices.Equal(got, want) {
		t.Fatalf("state has %d keys, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	v, err := c.state(NamespaceOf(AggregationOperator, []byte("key05")), []byte("key05"))
	if err != nil || string(v) != "logged" {
		t.Fatalf("State(key05) = %q, %v", v, err)
	}
}

// TestStateBaseCorrupt: a damaged base chunk fails ForEachState, State and
// the compaction with a *CorruptError naming statebase and the chunk.
func TestStateBaseCorrupt(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	model := map[string]string{}
	var kv []string
	for i := range 5000 {
		kv = append(kv, fmt.Sprintf("key%05d", i), "v")
	}
	commitState(t, c, 0, model, kv...)
	var good []byte
	mustNoErr(t, c.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketStateBase)
		good = bytes.Clone(b.Get([]byte(sk("key00000"))))
		// The chunk's second key repeats its first.
		bad := []byte("\x0c" + sk("key00000") + "\x01v\x0c" + sk("key00000") + "\x01v")
		return b.Put([]byte(sk("key00000")), bad)
	}))
	defer func() { // the checkpoint's invariants are checked at cleanup
		mustNoErr(t, c.db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketStateBase).Put([]byte(sk("key00000")), good)
		}))
	}()
	check := func(what string, err error) {
		t.Helper()
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Bucket != "statebase" || ce.Key != fmt.Sprintf("chunk %x", sk("key00000")) {
			t.Fatalf("%s: %v, want a statebase *CorruptError naming the chunk", what, err)
		}
	}
	check("ForEachState", c.ForEachState(func(_ Namespace, _, _ []byte) error { return nil }))
	_, err := c.state(tns, []byte("key00001")) // past the first pair
	check("State", err)
	commitState(t, c, 1, model, "key00000", "x")
	check("Compact", c.Compact())
}

// TestStateBaseOverlap: chunks whose keys overlap (a damaged file: the
// chunk "a" holds "z", beyond the chunk "m") fail ForEachState and the
// compaction that rewrites the chunk with a *CorruptError naming it; so
// does a base in both buckets.
func TestStateBaseOverlap(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	put := func(bucket []byte, kv ...string) {
		t.Helper()
		mustNoErr(t, c.db.Update(func(tx *bbolt.Tx) error {
			for i := 0; i < len(kv); i += 2 {
				if err := tx.Bucket(bucket).Put([]byte(kv[i]), []byte(kv[i+1])); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	del := func(bucket []byte, k string) {
		t.Helper()
		mustNoErr(t, c.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(k)) }))
	}
	check := func(what string, err error, chunk, msg string) {
		t.Helper()
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Bucket != "statebase" || ce.Key != fmt.Sprintf("chunk %x", chunk) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("%s: %v, want a statebase *CorruptError naming chunk %q: %s", what, err, chunk, msg)
		}
	}
	put(bucketStateBase, sk("a"), "\x05"+sk("a")+"\x011\x05"+sk("z")+"\x011", sk("m"), "\x05"+sk("m")+"\x011")
	check("ForEachState", c.ForEachState(func(_ Namespace, _, _ []byte) error { return nil }), sk("m"), "overlaps the previous one")
	model := map[string]string{}
	commitState(t, c, 0, model, "b", "2")
	check("Compact", c.Compact(), sk("a"), "reaches the next chunk's")
	del(bucketStateBase, sk("m"))
	mustNoErr(t, c.Compact())

	put(bucketState, "k", "v")
	check("ForEachState of both bases", c.ForEachState(func(_ Namespace, _, _ []byte) error { return nil }), sk("a"), `both "state" and "statebase"`)
	_, err := c.state(tns, []byte("k"))
	check("State of both bases", err, sk("a"), `both "state" and "statebase"`)
	del(bucketState, "k")
	// The chunks put by hand were not counted: the checkpoint's invariants
	// are checked at cleanup.
	mustNoErr(t, c.db.Update(func(tx *bbolt.Tx) error { return writeCounter(tx.Bucket(bucketMeta), keyStateBaseKeys, 3) }))
	var keys []string
	mustNoErr(t, c.ForEachState(func(_ Namespace, k, _ []byte) error { keys = append(keys, string(k)); return nil }))
	if !slices.Equal(keys, []string{"a", "b", "z"}) {
		t.Fatalf("state %q after the repair", keys)
	}
}

// TestStateBaseSmallChunksMerge: deletes shrink the chunks they fall in; a
// small rewritten chunk takes in the next chunk when the two fit in one,
// so small chunks do not pile up.
func TestStateBaseSmallChunksMerge(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	model := map[string]string{}
	var kv []string
	for i := range 60000 {
		kv = append(kv, fmt.Sprintf("key%07d", i), fmt.Sprintf("value-%020d", i))
	}
	commitState(t, c, 0, model, kv...)
	keys := slices.Sorted(maps.Keys(baseChunks(t, c)))
	// deleteMost deletes every key of chunk i but its first three: a
	// chunk is cut when the next pair (60 bytes here at most) would not
	// fit, so three pairs (126 bytes) never fit in a full chunk's slack.
	id := int64(1)
	deleteMost := func(i int) {
		t.Helper()
		var in []string
		for k := range model {
			if sk(k) > keys[i] && sk(k) < keys[i+1] {
				in = append(in, k)
			}
		}
		slices.Sort(in)
		if len(in) < 100 {
			t.Fatalf("chunk %d holds %d keys", i, len(in)+1)
		}
		mustNoErr(t, c.WriteAhead(plan1(id, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: id, Until: id + 1}}, nil)))
		mustNoErr(t, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
			for _, k := range in[2:] {
				delete(model, k)
				if err := tx.DeleteState(tns, []byte(k)); err != nil {
					return err
				}
			}
			return nil
		}))
		id++
		mustNoErr(t, c.Compact())
	}
	deleteMost(5) // its neighbours are full: it stays, small
	after := slices.Sorted(maps.Keys(baseChunks(t, c)))
	if !slices.Equal(after, keys) {
		t.Fatalf("chunks after shrinking chunk 5: %q, want %q", after, keys)
	}
	deleteMost(4) // small, before the small chunk 5: one chunk
	after = slices.Sorted(maps.Keys(baseChunks(t, c)))
	want := slices.Delete(slices.Clone(keys), 5, 6)
	if !slices.Equal(after, want) {
		t.Fatalf("chunks after shrinking chunk 4: %q, want %q", after, want)
	}
	assertState(t, c, model)
}

// TestCommitTxEncodesSorted: changes in ascending key order are encoded
// straight into log chunks, byte for byte as appendLog writes them; a
// change out of order after several chunks' worth turns them back into
// changes to sort, and the latest change of a repeated key wins.
func TestCommitTxEncodesSorted(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	model := map[string]string{}
	var base []string
	for i := range 20000 {
		base = append(base, fmt.Sprintf("base%05d", i), "b")
	}
	// Sorted, and alone over the log's threshold: decoded from its chunks
	// into the base. Batch 1 then stays below twice the base: the log.
	commitState(t, c, 0, model, base...)
	var ops []stateOp
	var kv []string
	for i := range 30000 {
		k, v := fmt.Sprintf("key%06d", 2*i), fmt.Sprintf("v%d", i)
		kv = append(kv, k, v)
		if i%7 == 0 {
			ops = append(ops, stateOp{key: []byte(k), del: true})
			continue
		}
		ops = append(ops, stateOp{key: []byte(k), value: []byte(v)})
	}
	mustNoErr(t, c.WriteAhead(plan1(1, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 1, Until: 2}}, nil)))
	mustNoErr(t, c.Commit(CommitRecord{ID: 1}, func(tx *CommitTx) error {
		for _, op := range ops {
			if op.del {
				if err := tx.DeleteState(tns, op.key); err != nil {
					return err
				}
				continue
			}
			if err := tx.PutState(tns, op.key, op.value); err != nil {
				return err
			}
		}
		return nil
	}))
	for _, op := range ops {
		if op.del {
			delete(model, string(op.key))
		} else {
			model[string(op.key)] = string(op.value)
		}
	}
	// What appendLog writes for the same changes.
	var want, got []string
	stored := make([]stateOp, len(ops))
	for i, op := range ops {
		stored[i] = stateOp{key: []byte(sk(string(op.key))), value: op.value, del: op.del}
	}
	mustNoErr(t, c.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("expected"))
		if err != nil {
			return err
		}
		if err := appendLog(b, 1, stored); err != nil {
			return err
		}
		if err := b.ForEach(func(k, v []byte) error { want = append(want, fmt.Sprintf("%x=%x", k, v)); return nil }); err != nil {
			return err
		}
		if err := tx.Bucket(bucketStateLog).ForEach(func(k, v []byte) error {
			if id, _, _ := decodeLogChunk(k, v); id == 1 {
				got = append(got, fmt.Sprintf("%x=%x", k, v))
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.DeleteBucket([]byte("expected"))
	}))
	if len(want) < 2 || !slices.Equal(got, want) {
		t.Fatalf("batch 1 logged %d chunks, appendLog writes %d; equal: %v", len(got), len(want), slices.Equal(got, want))
	}
	// Sorted for 20000 changes, then one below them and a repeat.
	kv = kv[:40000]
	for i := 0; i < len(kv); i += 2 {
		kv[i+1] = "w" + kv[i+1]
	}
	kv = append(kv, "key000003", "low", "key000010", "again")
	commitState(t, c, 2, model, kv...)
	assertState(t, c, model)
}

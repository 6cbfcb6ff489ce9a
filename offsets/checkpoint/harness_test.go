package checkpoint

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"go.etcd.io/bbolt"
)

// openTest opens a checkpoint in a fresh temp dir. At cleanup it closes the
// checkpoint (if the test did not) and checks the file's invariants with
// checkInvariants, like bbolt's internal/btesting.
func openTest(t testing.TB, opts Options) *Checkpoint {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ckpt")
	return openTestAt(t, dir, opts)
}

// openTestAt opens the checkpoint in dir with the same cleanup.
func openTestAt(t testing.TB, dir string, opts Options) *Checkpoint {
	t.Helper()
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if !opts.ReadOnly {
			checkInvariants(t, c.Path(), c.opts.Retain)
		}
	})
	return c
}

// checkInvariants opens a closed checkpoint file with bbolt directly and
// checks what every checkpoint must satisfy at rest:
//   - bbolt's own consistency check (tx.Check) passes;
//   - every offsets and commits record decodes (ids match their keys);
//   - every commit has its plan in offsets, commit ids are contiguous, and at
//     most one plan (the next id) is pending;
//   - at most retain commits are kept;
//   - every positions entry decodes, and the positions of the partitions of
//     the last committed plan equal that plan's ends;
//   - the log counter in meta matches the log, every log entry decodes and
//     belongs to a committed batch; the base's chunks decode, in key order,
//     and hold as many keys as the base counter says.
func checkInvariants(t testing.TB, path string, retain int) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Errorf("invariants: open %s: %v", path, err)
		return
	}
	defer db.Close()
	if err := db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("tx.Check: %w", err)
		}
		return checkRecords(tx, retain)
	}); err != nil {
		t.Errorf("invariants of %s: %v", path, err)
	}
}

func checkRecords(tx *bbolt.Tx, retain int) error {
	wal, commits, positions := tx.Bucket(bucketOffsets), tx.Bucket(bucketCommits), tx.Bucket(bucketPositions)
	if wal == nil || commits == nil || positions == nil || tx.Bucket(bucketState) == nil || tx.Bucket(bucketMeta) == nil {
		return fmt.Errorf("missing bucket")
	}
	if v := tx.Bucket(bucketMeta).Get(keyVersion); string(v) != strconv.Itoa(formatVersion) {
		return fmt.Errorf("meta/version = %q", v)
	}
	plans := map[int64]BatchPlan{}
	if err := wal.ForEach(func(k, v []byte) error {
		p, err := decodePlan(k, v)
		plans[p.ID] = p
		return err
	}); err != nil {
		return err
	}
	var ids []int64
	if err := commits.ForEach(func(k, v []byte) error {
		r, err := decodeCommit(k, v)
		if err != nil {
			return err
		}
		if _, ok := plans[r.ID]; !ok {
			return fmt.Errorf("commit %d has no plan", r.ID)
		}
		ids = append(ids, r.ID)
		return nil
	}); err != nil {
		return err
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			return fmt.Errorf("commit ids not contiguous: %v", ids)
		}
	}
	if len(ids) > retain {
		return fmt.Errorf("%d commits kept, retain is %d", len(ids), retain)
	}
	last := int64(-1)
	if len(ids) > 0 {
		last = ids[len(ids)-1]
	}
	for id := range plans {
		if id > last+1 {
			return fmt.Errorf("plan %d is beyond the next batch %d", id, last+1)
		}
		if len(ids) > 0 && id < ids[0] {
			return fmt.Errorf("plan %d kept but its commit was pruned", id)
		}
	}
	pos := map[offsets.TopicPartition]int64{}
	if err := positions.ForEach(func(k, v []byte) error {
		tp, off, err := decodePosition(k, v)
		pos[tp] = off
		return err
	}); err != nil {
		return err
	}
	if err := checkStateCounters(tx, last); err != nil {
		return err
	}
	if last >= 0 {
		for tp, end := range plans[last].Ends {
			if pos[tp] != end {
				return fmt.Errorf("position of %s is %d, last commit's plan ends at %d", tp, pos[tp], end)
			}
		}
	}
	return nil
}

// plan1 builds a BatchPlan from ranges; Ends are the ranges' untils plus
// the idle partitions given as extra ends.
func plan1(id int64, ranges []offsets.OffsetRange, idle map[offsets.TopicPartition]int64) BatchPlan {
	ends := map[offsets.TopicPartition]int64{}
	for tp, e := range idle {
		ends[tp] = e
	}
	for _, r := range ranges {
		ends[r.TopicPartition()] = r.Until
	}
	return BatchPlan{ID: id, Ranges: ranges, Ends: ends, PlannedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func checkStateCounters(tx *bbolt.Tx, lastCommit int64) error {
	meta := tx.Bucket(bucketMeta)
	baseKeys, err := readCounter(meta, keyStateBaseKeys)
	if err != nil {
		return err
	}
	logKeys, err := readCounter(meta, keyStateLogKeys)
	if err != nil {
		return err
	}
	if baseKeys < 0 {
		return fmt.Errorf("state base counter %d is negative", baseKeys)
	}
	var n int64
	if err := tx.Bucket(bucketStateLog).ForEach(func(k, v []byte) error {
		id, ops, err := decodeLogChunk(k, v)
		if err != nil {
			return err
		}
		if id > lastCommit {
			return fmt.Errorf("state log entry of batch %d, last commit is %d", id, lastCommit)
		}
		for i := 1; i < len(ops); i++ {
			if bytes.Compare(ops[i-1].key, ops[i].key) >= 0 {
				return fmt.Errorf("state log chunk %x is not in ascending key order", k)
			}
		}
		n += int64(len(ops))
		return nil
	}); err != nil {
		return err
	}
	if n != logKeys {
		return fmt.Errorf("state log has %d entries, counter says %d", n, logKeys)
	}
	return checkStateBase(tx, baseKeys)
}

// checkStateBase checks the base's chunks: each decodes, its keys ascend
// from the chunk's key and stay below the next chunk's, and they hold
// baseKeys keys in all. A base still in format 1's bucket leaves statebase
// empty.
func checkStateBase(tx *bbolt.Tx, baseKeys int64) error {
	chunks := tx.Bucket(bucketStateBase)
	if chunks == nil {
		return fmt.Errorf("missing bucket statebase")
	}
	if k, _ := tx.Bucket(bucketState).Cursor().First(); k != nil {
		if k, _ := chunks.Cursor().First(); k != nil {
			return fmt.Errorf("the base is in both state and statebase")
		}
		return nil
	}
	var n int64
	var prev []byte
	if err := chunks.ForEach(func(k, v []byte) error {
		r := chunkReader{k: k, v: v}
		for key, _, ok := r.next(); ok; key, _, ok = r.next() {
			if prev != nil && bytes.Compare(prev, key) >= 0 {
				return fmt.Errorf("state base key %x follows %x", key, prev)
			}
			prev = bytes.Clone(key)
			n++
		}
		return r.err
	}); err != nil {
		return err
	}
	if n != baseKeys {
		return fmt.Errorf("state base has %d keys, counter says %d", n, baseKeys)
	}
	return nil
}

func tp(topic string, p int32) offsets.TopicPartition {
	return offsets.TopicPartition{Topic: topic, Partition: p}
}

// tns is the namespace of the tests' state keys.
var tns = Namespace{Operator: 1, KeyGroup: 7}

// sk is the stored form of the test key k: in namespace tns.
func sk(k string) string { return string(appendStoredKey(nil, tns, []byte(k))) }

// stateList is the checkpoint's state as ForEachState gives it, one
// "operator/key group/key=value" line per key (key and value quoted).
func stateList(t testing.TB, c *Checkpoint) []string {
	t.Helper()
	var out []string
	mustNoErr(t, c.ForEachState(func(ns Namespace, k, v []byte) error {
		out = append(out, fmt.Sprintf("%d/%d/%q=%q", ns.Operator, ns.KeyGroup, k, v))
		return nil
	}))
	return out
}

// upgradedList is stateList's lines for the state model of a format 1 or 2
// checkpoint once upgraded: every key in the aggregation operator's
// namespace, sorted by stored key.
func upgradedList(model map[string]string) []string {
	type entry struct{ stored, line string }
	var es []entry
	for k, v := range model {
		ns := NamespaceOf(AggregationOperator, []byte(k))
		es = append(es, entry{string(appendStoredKey(nil, ns, []byte(k))), fmt.Sprintf("%d/%d/%q=%q", ns.Operator, ns.KeyGroup, k, v)})
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.stored, b.stored) })
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.line
	}
	return out
}

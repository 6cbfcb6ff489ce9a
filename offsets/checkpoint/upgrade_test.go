package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"go.etcd.io/bbolt"
)

// format2Fixture copies testdata/format2/checkpoint.db (written by the
// release at 5334ccb, see its README) into a new checkpointLocation and
// returns the directory.
func format2Fixture(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ckpt")
	mustNoErr(t, os.MkdirAll(dir, 0o755))
	src, err := os.Open(filepath.Join("testdata", "format2", dbFile))
	mustNoErr(t, err)
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(dir, dbFile), os.O_CREATE|os.O_WRONLY, 0o600)
	mustNoErr(t, err)
	_, err = io.Copy(dst, src)
	mustNoErr(t, err)
	mustNoErr(t, dst.Close())
	return dir
}

// format2Model is the state the fixture's README describes.
func format2Model() map[string]string {
	grp := func(i int) string { return fmt.Sprintf("grp|%05d", i) }
	m := map[string]string{}
	for i := range 4200 {
		m[grp(i)] = strconv.Itoa(3 * i)
	}
	// Batch 1.
	for _, i := range []int{0, 1, 4199} {
		delete(m, grp(i))
	}
	m["\x00\xffbin"], m[grp(10)], m[grp(20)], m["new|a"], m["new|b"] = "\x01\x02", "u1", "u1", "1", "2"
	// Batch 2.
	delete(m, "new|b")
	delete(m, grp(10))
	m[grp(1)], m["new|c"] = "back", "3"
	return m
}

func fixtureTime(s int) time.Time { return time.Date(2026, 1, 2, 3, 4, s, 0, time.UTC) }

// storedVersion reads meta/version of the closed checkpoint in dir.
func storedVersion(t *testing.T, dir string) string {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, dbFile), 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	mustNoErr(t, err)
	defer db.Close()
	var v string
	mustNoErr(t, db.View(func(tx *bbolt.Tx) error { v = string(tx.Bucket(bucketMeta).Get(keyVersion)); return nil }))
	return v
}

// TestUpgradeFormat2 opens a format-2 checkpoint written by the previous
// release: the writer's Open upgrades it to format 3 in place, every state
// key of its base chunks and its log in the aggregation operator's
// namespace; positions, the last commit (emitted rows from the old
// record) and the pending plan are as they were written, and the pending
// batch commits.
func TestUpgradeFormat2(t *testing.T) {
	dir := format2Fixture(t)
	// The fixture has what the upgrade must carry: base chunks, a log,
	// format 2.
	db, err := bbolt.Open(filepath.Join(dir, dbFile), 0o600, &bbolt.Options{ReadOnly: true})
	mustNoErr(t, err)
	mustNoErr(t, db.View(func(tx *bbolt.Tx) error {
		chunks := tx.Bucket(bucketStateBase).Stats().KeyN
		logged, _ := readCounter(tx.Bucket(bucketMeta), keyStateLogKeys)
		if v := tx.Bucket(bucketMeta).Get(keyVersion); string(v) != "2" || chunks < 1 || logged != 12 {
			return fmt.Errorf("fixture: version %q, %d base chunks, %d logged changes", v, chunks, logged)
		}
		return nil
	}))
	mustNoErr(t, db.Close())
	model := format2Model()
	want := upgradedList(model)

	// Read-only: an upgraded snapshot; the file stays format 2.
	before, err := os.ReadFile(filepath.Join(dir, dbFile))
	mustNoErr(t, err)
	ro, err := Open(dir, Options{ReadOnly: true})
	mustNoErr(t, err)
	if got := stateList(t, ro); !slices.Equal(got, want) {
		t.Fatalf("read-only state: %d keys, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	mustNoErr(t, ro.Close())
	if after, _ := os.ReadFile(filepath.Join(dir, dbFile)); !bytes.Equal(after, before) {
		t.Fatal("the read-only Open changed the file")
	}

	c := openTestAt(t, dir, Options{NoSync: true})
	up := c.Upgraded()
	if up == nil || up.From != 2 || up.StateKeys != 4200 || up.Took <= 0 {
		t.Fatalf("Upgraded() = %+v, want from 2, 4200 keys", up)
	}
	got := stateList(t, c)
	if !slices.Equal(got, want) {
		t.Fatalf("state: %d keys, want %d; first difference at %d:\n%q\n%q", len(got), len(want), firstDiff(got, want),
			got[min(firstDiff(got, want), len(got)-1)], want[min(firstDiff(got, want), len(want)-1)])
	}
	// The keys are spread over the key groups, each in its own.
	groups := map[uint16]bool{}
	mustNoErr(t, c.ForEachState(func(ns Namespace, k, _ []byte) error {
		if ns != NamespaceOf(1, k) {
			return fmt.Errorf("key %q in %v", k, ns)
		}
		groups[ns.KeyGroup] = true
		return nil
	}))
	if len(groups) != NumKeyGroups {
		t.Fatalf("the state is in %d key groups, want %d", len(groups), NumKeyGroups)
	}
	if v, err := c.state(NamespaceOf(1, []byte("\x00\xffbin")), []byte("\x00\xffbin")); err != nil || string(v) != "\x01\x02" {
		t.Fatalf("State(bin) = %q, %v", v, err)
	}
	if logged, _, err := c.StateLog(); err != nil || logged != 0 {
		t.Fatalf("StateLog() = %d, %v after the upgrade, want an empty log", logged, err)
	}

	tp0, tp1 := tp("t", 0), tp("t", 1)
	pos, err := c.Positions()
	mustNoErr(t, err)
	if !reflect.DeepEqual(pos, map[offsets.TopicPartition]int64{tp0: 150, tp1: 60}) {
		t.Fatalf("Positions() = %v", pos)
	}
	initial, ok, err := c.InitialOffsets()
	if err != nil || !ok || !reflect.DeepEqual(initial, map[offsets.TopicPartition]int64{tp0: 0, tp1: 5}) {
		t.Fatalf("InitialOffsets() = %v, %v, %v", initial, ok, err)
	}
	fp := Fingerprint{Schema: "page STRING", Query: "SELECT page, count(*) FROM t GROUP BY page", Source: "kafka:t", Format: "json", OutputMode: "update"}
	_, err = c.CheckFingerprint(fp, nil)
	mustNoErr(t, err)
	last, err := c.LastCommit()
	mustNoErr(t, err)
	wantLast := CommitRecord{ID: 2, CommittedAt: fixtureTime(12), InputRows: 10, OutputRows: 2, StateRows: 4200, StateWrites: 2, StateDeletes: 2,
		Meta: Meta{EmittedRows: 105}}
	if last == nil || !reflect.DeepEqual(*last, wantLast) {
		t.Fatalf("LastCommit() = %+v, want %+v", last, wantLast)
	}
	pending, err := c.Pending()
	mustNoErr(t, err)
	wantPlan := BatchPlan{ID: 3, PlannedAt: fixtureTime(3),
		Ranges: []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 150, Until: 170}, {Topic: "t", Partition: 1, From: 60, Until: 61}},
		Ends:   map[offsets.TopicPartition]int64{tp0: 170, tp1: 61}}
	if pending == nil || !reflect.DeepEqual(*pending, wantPlan) {
		t.Fatalf("Pending() = %+v, want %+v", pending, wantPlan)
	}
	batches, err := c.Batches()
	mustNoErr(t, err)
	if len(batches) != 4 || batches[0].Commit.Meta.EmittedRows != 100 || batches[1].Commit.Meta.EmittedRows != 103 || batches[3].Committed {
		t.Fatalf("Batches() = %+v", batches)
	}

	// The pending batch commits, with a put and a delete in namespaces.
	mustNoErr(t, c.WriteAhead(wantPlan)) // recovery writes it again: a no-op
	mustNoErr(t, c.Commit(CommitRecord{ID: 3, InputRows: 21, StateRows: 4200}, func(tx *CommitTx) error {
		if err := tx.DeleteState(NamespaceOf(1, []byte("grp|00002")), []byte("grp|00002")); err != nil {
			return err
		}
		if err := tx.PutState(NamespaceOf(1, []byte("new|d")), []byte("new|d"), []byte("4")); err != nil {
			return err
		}
		return tx.SetOutput(2, 107)
	}))
	delete(model, "grp|00002")
	model["new|d"] = "4"
	mustNoErr(t, c.Close())
	c = openTestAt(t, dir, Options{NoSync: true})
	if up := c.Upgraded(); up != nil {
		t.Fatalf("the second Open upgraded again: %+v", up)
	}
	if got, want := stateList(t, c), upgradedList(model); !slices.Equal(got, want) {
		t.Fatalf("state after batch 3: first difference at %d", firstDiff(got, want))
	}
	last, err = c.LastCommit()
	mustNoErr(t, err)
	if last.ID != 3 || last.Meta.EmittedRows != 107 || last.OutputRows != 2 || last.StateWrites != 1 || last.StateDeletes != 1 {
		t.Fatalf("LastCommit() after batch 3 = %+v", last)
	}
	if p, err := c.Pending(); p != nil || err != nil {
		t.Fatalf("Pending() after batch 3 = %v, %v", p, err)
	}
	pos, err = c.Positions()
	mustNoErr(t, err)
	if !reflect.DeepEqual(pos, map[offsets.TopicPartition]int64{tp0: 170, tp1: 61}) {
		t.Fatalf("Positions() after batch 3 = %v", pos)
	}
}

// TestUpgradeFormat2Corrupt: a format-2 checkpoint with a damaged base
// chunk fails the upgrade, writer or read-only, with a *CorruptError
// naming the chunk; the file is left byte for byte as it was, format 2.
func TestUpgradeFormat2Corrupt(t *testing.T) {
	dir := format2Fixture(t)
	path := filepath.Join(dir, dbFile)
	db, err := bbolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	var chunk []byte
	mustNoErr(t, db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketStateBase)
		k, v := b.Cursor().First()
		chunk = bytes.Clone(k)
		// Its last value loses its last 3 bytes: its length is wrong.
		return b.Put(chunk, bytes.Clone(v[:len(v)-3]))
	}))
	mustNoErr(t, db.Close())
	before, err := os.ReadFile(path)
	mustNoErr(t, err)
	for _, ro := range []bool{false, true} {
		_, err := Open(dir, Options{ReadOnly: ro, NoSync: true})
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Bucket != "statebase" || ce.Key != fmt.Sprintf("chunk %x", chunk) ||
			!bytes.Contains([]byte(err.Error()), []byte("bad length")) || !bytes.Contains([]byte(err.Error()), []byte(path)) {
			t.Fatalf("Open (ReadOnly %v) of a damaged format 2 checkpoint: %v", ro, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Fatalf("the failed upgrade (ReadOnly %v) changed the file", ro)
		}
	}
	if v := storedVersion(t, dir); v != "2" {
		t.Fatalf("meta/version = %q after the failed upgrade", v)
	}
}

// TestUpgradeRefusedBeforeWriting: an Options.BeforeUpgrade that refuses
// (a query the checkpoint does not accept) stops Open before anything is
// written: the format-2 file stays byte for byte as it was, so the release
// that wrote it can still run it, and the fingerprint compared there is
// the stored one, read from the old format.
func TestUpgradeRefusedBeforeWriting(t *testing.T) {
	dir := format2Fixture(t)
	path := filepath.Join(dir, dbFile)
	before, err := os.ReadFile(path)
	mustNoErr(t, err)
	other := Fingerprint{Schema: "page STRING", Query: "SELECT action, count(*) FROM t GROUP BY action", Source: "kafka:t", Format: "json", OutputMode: "update"}
	calls := 0
	_, err = Open(dir, Options{NoSync: true, BeforeUpgrade: func(c *Checkpoint) error {
		calls++
		_, err := c.CompareFingerprint(other, nil)
		return err
	}})
	if !errors.Is(err, ErrIncompatible) || calls != 1 || !strings.Contains(err.Error(), "SELECT action, count(*)") {
		t.Fatalf("Open with a refusing BeforeUpgrade: %v (%d calls), want the IncompatibleError", err, calls)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Fatal("a refused upgrade changed the file")
	}
	if v := storedVersion(t, dir); v != "2" {
		t.Fatalf("meta/version = %q after the refused upgrade", v)
	}
	// Accepted, it upgrades; a format-3 checkpoint never calls it.
	c, err := Open(dir, Options{NoSync: true, BeforeUpgrade: func(c *Checkpoint) error { calls++; return nil }})
	mustNoErr(t, err)
	if c.Upgraded() == nil || calls != 2 {
		t.Fatalf("Upgraded() = %v after %d calls", c.Upgraded(), calls)
	}
	mustNoErr(t, c.Close())
	c, err = Open(dir, Options{NoSync: true, BeforeUpgrade: func(c *Checkpoint) error { calls++; return nil }})
	mustNoErr(t, err)
	mustNoErr(t, c.Close())
	if calls != 2 {
		t.Fatalf("BeforeUpgrade ran for a format-3 checkpoint")
	}
}

// TestEmptyPlan: a plan without ranges (a no-data batch, run when the
// watermark moves without input) is written ahead, recovered as it was
// written, and committed; the positions stay as they were.
func TestEmptyPlan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	c := openTestAt(t, dir, Options{NoSync: true})
	tp0, tp1 := tp("t", 0), tp("t", 1)
	mustNoErr(t, c.WriteAhead(plan1(0, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 0, Until: 10}}, map[offsets.TopicPartition]int64{tp1: 3})))
	mustNoErr(t, c.Commit(CommitRecord{ID: 0}, nil))
	meta := Meta{Watermark: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), ProcessingTime: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), RateLimit: 100, EmittedRows: 4}
	empty := BatchPlan{ID: 1, Ends: map[offsets.TopicPartition]int64{tp0: 10, tp1: 3}, PlannedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Meta: meta}
	mustNoErr(t, c.WriteAhead(empty))
	mustNoErr(t, c.Close()) // a crash before the commit

	c = openTestAt(t, dir, Options{NoSync: true})
	p, err := c.Pending()
	mustNoErr(t, err)
	if p == nil || !reflect.DeepEqual(*p, empty) || p.offsetCount() != 0 {
		t.Fatalf("Pending() = %+v, want %+v", p, empty)
	}
	mustNoErr(t, c.WriteAhead(*p)) // recovery: the same plan again is a no-op
	mustNoErr(t, c.Commit(CommitRecord{ID: 1}, func(tx *CommitTx) error { return tx.SetOutput(1, 5) }))
	pos, err := c.Positions()
	mustNoErr(t, err)
	if !reflect.DeepEqual(pos, map[offsets.TopicPartition]int64{tp0: 10, tp1: 3}) {
		t.Fatalf("Positions() = %v after the empty batch", pos)
	}
	last, err := c.LastCommit()
	mustNoErr(t, err)
	wantMeta := meta
	wantMeta.EmittedRows = 5
	if last.ID != 1 || last.OutputRows != 1 || !reflect.DeepEqual(last.Meta, wantMeta) {
		t.Fatalf("LastCommit() = %+v, want meta %+v", last, wantMeta)
	}
	// An empty plan with no ends at all (no partitions yet) commits too.
	mustNoErr(t, c.WriteAhead(BatchPlan{ID: 2}))
	mustNoErr(t, c.Commit(CommitRecord{ID: 2}, nil))
	if pos, _ := c.Positions(); !reflect.DeepEqual(pos, map[offsets.TopicPartition]int64{tp0: 10, tp1: 3}) {
		t.Fatalf("Positions() = %v after the second empty batch", pos)
	}
}

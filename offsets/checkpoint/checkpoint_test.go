package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"go.etcd.io/bbolt"
)

func TestLifecycle(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	a0, a1 := tp("a", 0), tp("a", 1)

	if p, err := c.Pending(); err != nil || p != nil {
		t.Fatalf("Pending on a new checkpoint = %v, %v", p, err)
	}
	if r, err := c.LastCommit(); err != nil || r != nil {
		t.Fatalf("LastCommit on a new checkpoint = %v, %v", r, err)
	}

	p0 := plan1(0, []offsets.OffsetRange{{Topic: "a", Partition: 0, From: 0, Until: 100}, {Topic: "a", Partition: 1, From: 5, Until: 10}}, nil)
	mustNoErr(t, c.WriteAhead(p0))
	mustNoErr(t, c.WriteAhead(p0)) // identical: fine (recovery re-writes it)
	got, err := c.Pending()
	mustNoErr(t, err)
	if got == nil || !reflect.DeepEqual(*got, p0) {
		t.Fatalf("Pending = %+v, want %+v", got, p0)
	}

	at := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	mustNoErr(t, c.Commit(CommitRecord{ID: 0, CommittedAt: at, InputRows: 105, OutputRows: 1, StateRows: 2}, func(tx *CommitTx) error {
		mustNoErr(t, tx.SetOutput(2, 7)) // the output is known inside the commit
		mustNoErr(t, tx.PutState(tns, []byte("k1"), []byte("v1")))
		mustNoErr(t, tx.PutState(tns, []byte("k2"), []byte("v2")))
		return tx.DeleteState(tns, []byte("nope"))
	}))
	if p, _ := c.Pending(); p != nil {
		t.Fatalf("Pending after commit = %+v", p)
	}
	rec, err := c.LastCommit()
	mustNoErr(t, err)
	want := CommitRecord{ID: 0, CommittedAt: at, InputRows: 105, OutputRows: 2, StateRows: 2, StateWrites: 2, StateDeletes: 1, Meta: Meta{EmittedRows: 7}}
	if !reflect.DeepEqual(*rec, want) {
		t.Fatalf("LastCommit = %+v, want %+v", *rec, want)
	}
	pos, err := c.Positions()
	mustNoErr(t, err)
	if !reflect.DeepEqual(pos, map[offsets.TopicPartition]int64{a0: 100, a1: 10}) {
		t.Fatalf("Positions = %v", pos)
	}
	if v, _ := c.state(tns, []byte("k2")); string(v) != "v2" {
		t.Fatalf("State(k2) = %q", v)
	}

	// Order: batch 0 again, batch 2 before 1, commit without plan.
	if err := c.WriteAhead(plan1(0, nil, map[offsets.TopicPartition]int64{a0: 100})); !errors.Is(err, ErrBatchOrder) ||
		err.Error() != "write-ahead of batch 0: batch id out of order: the next batch is 1" {
		t.Fatalf("WriteAhead(0) again: %v", err)
	}
	if err := c.WriteAhead(plan1(2, nil, nil)); !errors.Is(err, ErrBatchOrder) {
		t.Fatalf("WriteAhead(2): %v", err)
	}
	if err := c.Commit(CommitRecord{ID: 1}, nil); !errors.Is(err, ErrBatchOrder) ||
		err.Error() != "commit of batch 1: batch id out of order: it has no write-ahead entry (the next batch is 1; call WriteAhead first)" {
		t.Fatalf("Commit(1) without plan: %v", err)
	}
	if err := c.Commit(CommitRecord{ID: 0}, nil); !errors.Is(err, ErrBatchOrder) ||
		err.Error() != "commit of batch 0: batch id out of order: already committed (last committed batch is 0)" {
		t.Fatalf("Commit(0) again: %v", err)
	}

	// Conflict: a different plan for the pending batch.
	p1 := plan1(1, []offsets.OffsetRange{{Topic: "a", Partition: 0, From: 100, Until: 150}}, map[offsets.TopicPartition]int64{a1: 10})
	mustNoErr(t, c.WriteAhead(p1))
	p1b := p1
	p1b.PlannedAt = p1.PlannedAt.Add(time.Hour) // the time does not matter
	mustNoErr(t, c.WriteAhead(p1b))
	other := plan1(1, []offsets.OffsetRange{{Topic: "a", Partition: 0, From: 100, Until: 160}}, map[offsets.TopicPartition]int64{a1: 10})
	err = c.WriteAhead(other)
	var pc *PlanConflictError
	if !errors.As(err, &pc) || !errors.Is(err, ErrPlanConflict) ||
		err.Error() != "batch 1 is already planned with ranges [a-0[100,150)]; refusing different ranges [a-0[100,160)] (recovery must re-run the recorded plan)" {
		t.Fatalf("conflicting WriteAhead: %v", err)
	}

	// Invalid plans are refused before touching the file.
	bad := plan1(1, []offsets.OffsetRange{{Topic: "a", Partition: 0, From: 100, Until: 150}}, nil)
	bad.Ends[a0] = 149
	if err := c.WriteAhead(bad); !errors.Is(err, offsets.ErrPlanInput) ||
		err.Error() != "batch 1: invalid plan input: range a-0[100,150) does not end at the partition's end 149" {
		t.Fatalf("invalid plan: %v", err)
	}

	infos, err := c.Batches()
	mustNoErr(t, err)
	if len(infos) != 2 || !infos[0].Committed || !reflect.DeepEqual(*infos[0].Commit, want) || infos[1].Committed || infos[1].Commit != nil ||
		!reflect.DeepEqual(infos[1].Plan, p1) {
		t.Fatalf("Batches = %+v", infos)
	}
}

// A crash between WriteAhead and Commit leaves the plan pending: the
// reopened checkpoint hands back exactly the recorded ranges.
func TestCrashBetweenWriteAheadAndCommit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	c, err := Open(dir, Options{})
	mustNoErr(t, err)
	p0 := plan1(0, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 0, Until: 10}}, nil)
	mustNoErr(t, c.WriteAhead(p0))
	mustNoErr(t, c.Commit(CommitRecord{ID: 0}, func(tx *CommitTx) error { return tx.PutState(tns, []byte("n"), []byte("10")) }))
	p1 := plan1(1, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 10, Until: 25}, {Topic: "t", Partition: 1, From: 0, Until: 3}}, nil)
	p1.DataLoss = []offsets.DataLossError{{Topic: "t", Partition: 1, From: 0, Until: 0, Reason: "x"}}
	mustNoErr(t, c.WriteAhead(p1))
	mustNoErr(t, c.Close()) // "crash": no commit

	c = openTestAt(t, dir, Options{})
	got, err := c.Pending()
	mustNoErr(t, err)
	if got == nil || !reflect.DeepEqual(*got, p1) {
		t.Fatalf("Pending after reopen = %+v, want %+v", got, p1)
	}
	pos, _ := c.Positions()
	if !reflect.DeepEqual(pos, map[offsets.TopicPartition]int64{tp("t", 0): 10}) {
		t.Fatalf("Positions after reopen = %v", pos)
	}
	if v, _ := c.state(tns, []byte("n")); string(v) != "10" {
		t.Fatalf("state after reopen = %q", v)
	}
	// The re-run commits the same batch.
	mustNoErr(t, c.WriteAhead(*got))
	mustNoErr(t, c.Commit(CommitRecord{ID: 1}, func(tx *CommitTx) error { return tx.PutState(tns, []byte("n"), []byte("28")) }))
	pos, _ = c.Positions()
	if !reflect.DeepEqual(pos, map[offsets.TopicPartition]int64{tp("t", 0): 25, tp("t", 1): 3}) {
		t.Fatalf("Positions after re-run = %v", pos)
	}
}

// A commit can carry the next batch's write-ahead: it is durable with the
// commit (Pending after a reopen), ready to be committed without a
// WriteAhead of its own, and rolled back with a failed commit. Only the
// next batch's plan is accepted.
func TestCommitWritesAheadNext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	c, err := Open(dir, Options{})
	mustNoErr(t, err)
	mustNoErr(t, c.WriteAhead(plan1(0, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 0, Until: 10}}, nil)))
	p1 := plan1(1, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 10, Until: 25}}, nil)
	p2 := plan1(2, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 25, Until: 30}}, nil)

	boom := errors.New("boom")
	err = c.Commit(CommitRecord{ID: 0}, func(tx *CommitTx) error {
		mustNoErr(t, tx.WriteAhead(p1))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Commit error = %v", err)
	}
	if p, _ := c.Pending(); p == nil || p.ID != 0 {
		t.Fatalf("pending after a rolled back commit that wrote batch 1 ahead = %+v, want batch 0", p)
	}
	err = c.Commit(CommitRecord{ID: 0}, func(tx *CommitTx) error { return tx.WriteAhead(p2) })
	if !errors.Is(err, ErrBatchOrder) {
		t.Fatalf("commit of batch 0 writing batch 2 ahead: %v, want ErrBatchOrder", err)
	}
	var leaked *CommitTx
	mustNoErr(t, c.Commit(CommitRecord{ID: 0}, func(tx *CommitTx) error {
		leaked = tx
		return tx.WriteAhead(p1)
	}))
	if err := leaked.WriteAhead(p2); err == nil || err.Error() != "offsets: CommitTx used outside its Commit" {
		t.Fatalf("WriteAhead after its Commit: %v, want the CommitTx's used-outside error", err)
	}
	mustNoErr(t, c.Close()) // "crash" before batch 1 commits

	c = openTestAt(t, dir, Options{})
	got, err := c.Pending()
	mustNoErr(t, err)
	if got == nil || !reflect.DeepEqual(*got, p1) {
		t.Fatalf("Pending after reopen = %+v, want %+v", got, p1)
	}
	if r, _ := c.LastCommit(); r == nil || r.ID != 0 {
		t.Fatalf("last commit after reopen = %+v, want batch 0", r)
	}
	mustNoErr(t, c.Commit(CommitRecord{ID: 1}, nil))
	pos, _ := c.Positions()
	if !reflect.DeepEqual(pos, map[offsets.TopicPartition]int64{tp("t", 0): 25}) {
		t.Fatalf("Positions after batch 1 = %v", pos)
	}
}

func TestCommitRollback(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	mustNoErr(t, c.WriteAhead(plan1(0, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 0, Until: 10}}, nil)))
	mustNoErr(t, c.Commit(CommitRecord{ID: 0}, func(tx *CommitTx) error { return tx.PutState(tns, []byte("a"), []byte("1")) }))
	mustNoErr(t, c.WriteAhead(plan1(1, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 10, Until: 20}}, nil)))

	var leaked *CommitTx
	boom := errors.New("boom")
	err := c.Commit(CommitRecord{ID: 1}, func(tx *CommitTx) error {
		leaked = tx
		mustNoErr(t, tx.PutState(tns, []byte("a"), []byte("2")))
		mustNoErr(t, tx.PutState(tns, []byte("b"), []byte("2")))
		b, err := tx.Bucket("console")
		mustNoErr(t, err)
		mustNoErr(t, b.Put([]byte("row"), []byte("x")))
		return fmt.Errorf("sink: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Commit error = %v", err)
	}
	assertUncommitted(t, c)
	if err := leaked.PutState(tns, []byte("c"), nil); err == nil || err.Error() != "offsets: CommitTx used outside its Commit" {
		t.Fatalf("PutState after Commit returned: %v", err)
	}

	func() {
		defer func() {
			if r := recover(); r != "engine bug" {
				t.Fatalf("recovered %v, want the panic to continue", r)
			}
		}()
		_ = c.Commit(CommitRecord{ID: 1}, func(tx *CommitTx) error {
			mustNoErr(t, tx.PutState(tns, []byte("a"), []byte("3")))
			mustNoErr(t, tx.DeleteState(tns, []byte("a")))
			panic("engine bug")
		})
	}()
	assertUncommitted(t, c)

	// Still usable after both.
	mustNoErr(t, c.Commit(CommitRecord{ID: 1}, func(tx *CommitTx) error { return tx.PutState(tns, []byte("a"), []byte("4")) }))
	if v, _ := c.state(tns, []byte("a")); string(v) != "4" {
		t.Fatalf("state a = %q", v)
	}
}

func assertUncommitted(t *testing.T, c *Checkpoint) {
	t.Helper()
	var keys []string
	mustNoErr(t, c.ForEachState(func(_ Namespace, k, v []byte) error { keys = append(keys, string(k)+"="+string(v)); return nil }))
	if !reflect.DeepEqual(keys, []string{"a=1"}) {
		t.Fatalf("state after rollback = %v", keys)
	}
	if r, _ := c.LastCommit(); r.ID != 0 {
		t.Fatalf("last commit after rollback = %d", r.ID)
	}
	if p, _ := c.Pending(); p == nil || p.ID != 1 {
		t.Fatalf("pending after rollback = %+v", p)
	}
	if pos, _ := c.Positions(); pos[tp("t", 0)] != 10 {
		t.Fatalf("positions after rollback = %v", pos)
	}
	mustNoErr(t, c.ViewSink("console", func(b *bbolt.Bucket) error {
		if b != nil {
			t.Fatalf("sink bucket survived the rollback")
		}
		return nil
	}))
}

func TestPositionsAcrossCommits(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	a0, a1, b0 := tp("a", 0), tp("a", 1), tp("b", 0)
	type m = map[offsets.TopicPartition]int64
	steps := []struct {
		plan BatchPlan
		want m
	}{
		{plan1(0, []offsets.OffsetRange{{Topic: "a", Partition: 0, From: 0, Until: 10}}, m{a1: 0}), m{a0: 10, a1: 0}},
		{plan1(1, []offsets.OffsetRange{{Topic: "a", Partition: 1, From: 0, Until: 4}}, m{a0: 10}), m{a0: 10, a1: 4}},
		// b-0 appears (new topic); a-1 is absent from this plan's ends: kept.
		{plan1(2, []offsets.OffsetRange{{Topic: "b", Partition: 0, From: 7, Until: 9}, {Topic: "a", Partition: 0, From: 10, Until: 12}}, nil), m{a0: 12, a1: 4, b0: 9}},
		// a-1 is gone: forgotten.
		{func() BatchPlan {
			p := plan1(3, []offsets.OffsetRange{{Topic: "a", Partition: 0, From: 12, Until: 13}}, m{b0: 9})
			p.Gone = []offsets.TopicPartition{a1}
			return p
		}(), m{a0: 13, b0: 9}},
	}
	for _, s := range steps {
		mustNoErr(t, c.WriteAhead(s.plan))
		mustNoErr(t, c.Commit(CommitRecord{ID: s.plan.ID}, nil))
		got, err := c.Positions()
		mustNoErr(t, err)
		if !reflect.DeepEqual(got, s.want) {
			t.Fatalf("after batch %d: Positions = %v, want %v", s.plan.ID, got, s.want)
		}
	}
}

func TestRetention(t *testing.T) {
	c := openTest(t, Options{NoSync: true, Retain: 3})
	for id := int64(0); id < 7; id++ {
		mustNoErr(t, c.WriteAhead(plan1(id, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: id * 10, Until: id*10 + 10}}, nil)))
		mustNoErr(t, c.Commit(CommitRecord{ID: id}, nil))
	}
	mustNoErr(t, c.WriteAhead(plan1(7, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 70, Until: 75}}, nil)))
	infos, err := c.Batches()
	mustNoErr(t, err)
	var got []string
	for _, b := range infos {
		got = append(got, fmt.Sprintf("%d:%v:%s", b.Plan.ID, b.Committed, b.Plan.Ranges[0]))
	}
	want := []string{"4:true:t-0[40,50)", "5:true:t-0[50,60)", "6:true:t-0[60,70)", "7:false:t-0[70,75)"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Batches = %v, want %v", got, want)
	}
	if pos, _ := c.Positions(); pos[tp("t", 0)] != 70 {
		t.Fatalf("positions = %v", pos)
	}
}

func TestFingerprint(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	fp := Fingerprint{Stateful: true, GroupKeys: []string{"page STRING", "user_id BIGINT"}, Aggregates: []string{"count(*)", "sum(price DOUBLE)"},
		Schema: "page STRING, user_id BIGINT, price DOUBLE", Query: "q1", Source: "subscribe=t", Format: "json", OutputMode: "complete"}
	if f, _ := c.storedFingerprint(); f != nil {
		t.Fatalf("stored fingerprint on a new checkpoint: %+v", f)
	}
	check := func(fp Fingerprint) ([]FieldChange, error) { return c.CheckFingerprint(fp, nil) }
	for range 2 {
		if ch, err := check(fp); err != nil || ch != nil {
			t.Fatalf("CheckFingerprint(same) = %v, %v", ch, err)
		}
	}
	want := fp
	want.Form = FingerprintForm
	if f, _ := c.storedFingerprint(); !reflect.DeepEqual(*f, want) {
		t.Fatalf("stored = %+v", f)
	}

	// Allowed: the query text (a new WHERE), the schema of unused
	// columns, the format. They are returned and stored.
	allowed := fp
	allowed.Query, allowed.Schema, allowed.Format = "q2", fp.Schema+", extra INT", "csv"
	ch, err := check(allowed)
	mustNoErr(t, err)
	if fmt.Sprint(ch) != `[schema changed from "page STRING, user_id BIGINT, price DOUBLE" to "page STRING, user_id BIGINT, price DOUBLE, extra INT" query changed from "q1" to "q2" format changed from "json" to "csv"]` {
		t.Fatalf("allowed changes = %v", ch)
	}
	if f, _ := c.storedFingerprint(); f.Query != "q2" || f.Format != "csv" {
		t.Fatalf("stored after an allowed change = %+v", f)
	}

	for _, tc := range []struct {
		name   string
		change func(f *Fingerprint)
		want   string
	}{
		{"group key", func(f *Fingerprint) { f.GroupKeys = []string{"page STRING", "user_id INT"} },
			"group key 2 changed from user_id BIGINT to user_id INT"},
		{"key removed", func(f *Fingerprint) { f.GroupKeys = []string{"user_id BIGINT"} },
			"group key page STRING removed"},
		{"key order", func(f *Fingerprint) { f.GroupKeys = []string{"user_id BIGINT", "page STRING"} },
			"group key order changed from page STRING, user_id BIGINT to user_id BIGINT, page STRING"},
		{"aggregate removed and added", func(f *Fingerprint) { f.Aggregates = []string{"max(price DOUBLE)", "count(*)", "min(page STRING)"} },
			"aggregate max(price DOUBLE) added; aggregate sum(price DOUBLE) removed; aggregate min(page STRING) added"},
		{"aggregate input type", func(f *Fingerprint) { f.Aggregates = []string{"count(*)", "sum(price BIGINT)"} },
			"aggregate 2 changed from sum(price DOUBLE) to sum(price BIGINT)"},
		{"source and mode", func(f *Fingerprint) { f.Source, f.OutputMode = "subscribe=t,u", "update" },
			`source changed from "subscribe=t" to "subscribe=t,u"; outputMode changed from "complete" to "update"`},
		{"aggregation removed", func(f *Fingerprint) { f.Stateful, f.GroupKeys, f.Aggregates = false, nil, nil },
			"aggregation changed from group by [page STRING, user_id BIGINT] [count(*), sum(price DOUBLE)] to none"},
	} {
		n := allowed
		tc.change(&n)
		_, err := check(n)
		want := fmt.Sprintf("checkpoint %s was written by a different query: %s; use a new checkpointLocation", c.Path(), tc.want)
		var ie *IncompatibleError
		if !errors.As(err, &ie) || !errors.Is(err, ErrIncompatible) || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, want)
		}
	}
	if f, _ := c.storedFingerprint(); f.Query != "q2" || f.Source != "subscribe=t" {
		t.Fatalf("a refused fingerprint was stored: %+v", f)
	}
}

func TestFingerprintStateless(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	fp := Fingerprint{Schema: "a STRING", Query: "q1", Source: "subscribe=t", Format: "json", OutputMode: "append"}
	_, err := c.CheckFingerprint(fp, nil)
	mustNoErr(t, err)
	n := Fingerprint{Schema: "b INT", Query: "q2", Source: "subscribePattern=t.*", Format: "csv", OutputMode: "update"}
	ch, err := c.CheckFingerprint(n, nil)
	mustNoErr(t, err)
	if len(ch) != 5 {
		t.Fatalf("changes = %v, want all five texts", ch)
	}
	n.Stateful, n.GroupKeys, n.Aggregates, n.OutputMode = true, []string{"b INT"}, []string{"count(*)"}, "complete"
	if _, err := c.CheckFingerprint(n, nil); err == nil || !strings.Contains(err.Error(), "aggregation changed from none to group by [b INT] [count(*)]") {
		t.Fatalf("aggregation added: %v", err)
	}
}

// TestFingerprintLegacy stores a fingerprint as the release before
// FingerprintForm wrote it.
func TestFingerprintLegacy(t *testing.T) {
	legacy := `{"v":1,"Schema":"a STRING","Query":"Source t [a STRING]\nAggregate [a] [count(*)]","Source":"subscribe=t","Format":"json","OutputMode":""}`
	open := func(t *testing.T) *Checkpoint {
		c := openTest(t, Options{NoSync: true})
		mustNoErr(t, c.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFingerprint, []byte(legacy)) }))
		return c
	}
	upgraded := func(old Fingerprint) (Fingerprint, error) {
		if old.Query != "Source t [a STRING]\nAggregate [a] [count(*)]" {
			return Fingerprint{}, fmt.Errorf("unexpected legacy %+v", old)
		}
		old.Stateful, old.GroupKeys, old.Aggregates, old.OutputMode = true, []string{"a STRING"}, []string{"count(*)"}, "complete"
		return old, nil
	}
	fp := Fingerprint{Stateful: true, GroupKeys: []string{"a STRING"}, Aggregates: []string{"count(*)"},
		Schema: "a STRING", Query: "Source t [a STRING]\nFilter (a = 'x')\nAggregate [a] [count(*)]", Source: "subscribe=t", Format: "json", OutputMode: "complete"}

	t.Run("upgraded", func(t *testing.T) {
		c := open(t)
		ch, err := c.CheckFingerprint(fp, upgraded)
		mustNoErr(t, err)
		if len(ch) != 1 || ch[0].Field != "query" {
			t.Fatalf("changes = %v", ch)
		}
		if f, _ := c.storedFingerprint(); f.Form != FingerprintForm || f.Query != fp.Query {
			t.Fatalf("stored = %+v, want the new form", f)
		}
		other := fp
		other.GroupKeys = []string{"b STRING"}
		if _, err := c.CheckFingerprint(other, upgraded); err == nil || !strings.Contains(err.Error(), "group key 1 changed from a STRING to b STRING") {
			t.Fatalf("different group key: %v", err)
		}
	})
	t.Run("refused when upgraded", func(t *testing.T) {
		c := open(t)
		other := fp
		other.GroupKeys = []string{"b STRING"}
		if _, err := c.CheckFingerprint(other, upgraded); err == nil || !strings.Contains(err.Error(), "group key 1 changed from a STRING to b STRING") {
			t.Fatalf("different group key: %v", err)
		}
		if f, _ := c.storedFingerprint(); f.Form != 0 {
			t.Fatalf("a refused check upgraded the stored fingerprint: %+v", f)
		}
	})
	t.Run("exact without upgrade", func(t *testing.T) {
		c := open(t)
		failing := func(Fingerprint) (Fingerprint, error) { return Fingerprint{}, errors.New("cannot compile") }
		if _, err := c.CheckFingerprint(fp, failing); !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), `query changed from "Source t`) {
			t.Fatalf("a different query text without upgrade: %v", err)
		}
		same := fp
		same.Query = "Source t [a STRING]\nAggregate [a] [count(*)]"
		ch, err := c.CheckFingerprint(same, failing)
		if err != nil || ch != nil {
			t.Fatalf("the same texts without upgrade: %v, %v", ch, err)
		}
		if f, _ := c.storedFingerprint(); f.Form != FingerprintForm || !f.Stateful {
			t.Fatalf("stored = %+v, want the new form", f)
		}
	})
}

func TestInitialOffsets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	c, err := Open(dir, Options{NoSync: true})
	mustNoErr(t, err)
	if _, ok, err := c.InitialOffsets(); ok || err != nil {
		t.Fatalf("InitialOffsets on a new checkpoint: %v %v", ok, err)
	}
	init := map[offsets.TopicPartition]int64{tp("a", 0): 500, tp("a", 1): 0}
	mustNoErr(t, c.SetInitialOffsets(init))
	mustNoErr(t, c.Close())

	c = openTestAt(t, dir, Options{NoSync: true})
	got, ok, err := c.InitialOffsets()
	if err != nil || !ok || !reflect.DeepEqual(got, init) {
		t.Fatalf("InitialOffsets after reopen = %v %v %v", got, ok, err)
	}
	mustNoErr(t, c.SetInitialOffsets(map[offsets.TopicPartition]int64{tp("a", 1): 0, tp("a", 0): 500}))
	if err := c.SetInitialOffsets(map[offsets.TopicPartition]int64{tp("a", 0): 900}); !errors.Is(err, ErrInitialOffsets) {
		t.Fatalf("second SetInitialOffsets: %v", err)
	}
	if err := c.SetInitialOffsets(map[offsets.TopicPartition]int64{tp("a", 0): offsets.Latest}); !errors.Is(err, offsets.ErrPlanInput) {
		t.Fatalf("unresolved SetInitialOffsets: %v", err)
	}
}

func TestClosedAndReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	if _, err := Open(dir, Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadOnly Open of a missing checkpoint: %v", err)
	}
	c, err := Open(dir, Options{NoSync: true})
	mustNoErr(t, err)
	mustNoErr(t, c.WriteAhead(plan1(0, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 0, Until: 1}}, nil)))
	mustNoErr(t, c.Close())
	mustNoErr(t, c.Close())
	if _, err := c.Pending(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Pending after Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, pidFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("pid file left after Close: %v", err)
	}

	r := openTestAt(t, dir, Options{ReadOnly: true})
	if p, err := r.Pending(); err != nil || p == nil || p.ID != 0 {
		t.Fatalf("read-only Pending = %+v, %v", p, err)
	}
	if err := r.WriteAhead(plan1(0, nil, nil)); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only WriteAhead: %v", err)
	}
	if err := r.Commit(CommitRecord{ID: 0}, nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only Commit: %v", err)
	}
	if _, err := r.CheckFingerprint(Fingerprint{Query: "q"}, nil); err != nil {
		t.Fatalf("read-only CheckFingerprint without a stored one: %v", err)
	}
	if !strings.HasPrefix(filepath.Base(r.snapshot), "microbatch-checkpoint-") {
		t.Fatalf("snapshot path %s", r.snapshot)
	}
}

func TestVersionMismatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	mustNoErr(t, os.MkdirAll(dir, 0o755))
	db, err := bbolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	mustNoErr(t, err)
	mustNoErr(t, db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keyVersion, []byte("9"))
	}))
	mustNoErr(t, db.Close())
	tmp := t.TempDir() // where the read-only Open copies the file
	t.Setenv("TMPDIR", tmp)
	for _, ro := range []bool{false, true} {
		_, err = Open(dir, Options{ReadOnly: ro})
		if !errors.Is(err, ErrVersion) || !strings.HasSuffix(err.Error(), `unsupported checkpoint format version "9" (this build reads 1, 2 and 3, and upgrades 1 and 2 to 3)`) {
			t.Fatalf("Open (ReadOnly %v) of a version 9 checkpoint: %v", ro, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Fatalf("the refused read-only Open left %v", left)
	}
}

func TestCorruptRecordNamesBatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	c, err := Open(dir, Options{NoSync: true})
	mustNoErr(t, err)
	mustNoErr(t, c.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketOffsets).Put(batchKey(0), []byte(`{"v":1,"id":0,"ranges":[{"topic":"t","partition":0,"from":5,"until":2}]}`))
	}))
	_, err = c.Pending()
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) ||
		err.Error() != "corrupt checkpoint record batch 0 in bucket offsets: range t-0[5,2) is empty or negative" {
		t.Fatalf("Pending over a corrupt plan: %v", err)
	}
	mustNoErr(t, c.Close())
}

func TestReadOnlyOfNonBboltFile(t *testing.T) {
	dir := t.TempDir()
	mustNoErr(t, os.WriteFile(filepath.Join(dir, dbFile), []byte(strings.Repeat("x", 9000)), 0o600))
	_, err := Open(dir, Options{ReadOnly: true})
	want := fmt.Sprintf("checkpoint %s: damaged checkpoint file: no valid bbolt meta page", filepath.Join(dir, dbFile))
	if err == nil || err.Error() != want {
		t.Fatalf("ReadOnly Open of a non-bbolt file: %v", err)
	}
}

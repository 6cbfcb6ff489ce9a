package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microbatch/microbatch/dataframe"
)

// lifecycleSink records the calls the engine makes, as "open N", "add N",
// "committed N" and "close", and fails the call named in failAt.
type lifecycleSink struct {
	mu     sync.Mutex // guards calls
	calls  []string
	failAt string
	rows   map[int64]string // the rows of every add, by batch
}

func (s *lifecycleSink) call(c string) error {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	if c == s.failAt {
		return errors.New("refused " + c)
	}
	return nil
}

func (s *lifecycleSink) Open(_ context.Context, last int64) error {
	return s.call(fmt.Sprintf("open %d", last))
}

func (s *lifecycleSink) AddBatch(_ context.Context, out *Output) error {
	s.mu.Lock()
	if s.rows == nil {
		s.rows = map[int64]string{}
	}
	if prev, ok := s.rows[out.BatchID]; ok && prev != string(outputBytes(out)) {
		s.mu.Unlock()
		return fmt.Errorf("batch %d delivered again with other rows", out.BatchID)
	}
	s.rows[out.BatchID] = string(outputBytes(out))
	s.mu.Unlock()
	return s.call(fmt.Sprintf("add %d", out.BatchID))
}

func (s *lifecycleSink) Committed(_ context.Context, id int64) error {
	return s.call(fmt.Sprintf("committed %d", id))
}

func (s *lifecycleSink) Close() error { return s.call("close") }

func (s *lifecycleSink) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Join(s.calls, ", ")
	s.calls = nil
	return out
}

// The engine calls Open with the last committed batch, AddBatch and
// Committed per batch, and Close at the end, also when a step fails; a
// batch whose AddBatch failed is not committed and is delivered again,
// with the same rows, by the next run.
func TestSinkLifecycle(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	sink := &lifecycleSink{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Allocator = checkedAlloc(t)
	cfg.Source.MaxRatePerPartition = 3 // batches [0,3) [3,6) [6,9) [9,10)
	run := func() error {
		q, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return q.Run(ctx)
	}
	steps := []struct {
		failAt, calls, err string
	}{
		{"add 1", "open -1, add 0, committed 0, add 1, close", "batch 1: sink: refused add 1"},
		{"open 0", "open 0, close", "sink: open: refused open 0"},
		{"committed 1", "open 0, add 1, committed 1, close", "batch 1: sink: committed: refused committed 1"},
		{"close", "open 1, add 2, committed 2, add 3, committed 3, close", "sink: close: refused close"},
		{"", "open 3, close", ""},
	}
	for _, st := range steps {
		sink.failAt = st.failAt
		err := run()
		if got := sink.take(); got != st.calls {
			t.Fatalf("failing %q: calls %q, want %q", st.failAt, got, st.calls)
		}
		if fmt.Sprint(err) != fmt.Sprint(st.err) && !(st.err == "" && err == nil) {
			t.Fatalf("failing %q: Run: %v, want %s", st.failAt, err, st.err)
		}
	}
}

// panicCloseSink panics in Close.
type panicCloseSink struct{ lifecycleSink }

func (s *panicCloseSink) Close() error { panic("boom in Close") }

// A panic in the sink's Close, which runs beside the closes of the
// consumers and the admin client, is raised again by Run on its own
// goroutine once the checkpoint is closed: the next Run opens it.
func TestSinkClosePanics(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q, err := New(testConfig(t, b.Addr, "clicks", dir, &panicCloseSink{}))
	if err != nil {
		t.Fatal(err)
	}
	var got any
	func() {
		defer func() { got = recover() }()
		_ = q.Run(ctx)
	}()
	if got != "boom in Close" {
		t.Fatalf("Run panicked with %v, want the sink's panic", got)
	}
	sink := &lifecycleSink{}
	q2, err := New(testConfig(t, b.Addr, "clicks", dir, sink))
	if err != nil {
		t.Fatal(err)
	}
	if err := q2.Run(ctx); err != nil {
		t.Fatalf("the next Run: %v", err)
	}
	if calls := sink.take(); calls != "open 0, close" {
		t.Fatalf("the next Run's sink calls: %q", calls)
	}
}

// memTxSink is a TxSink keeping "id=rows" per batch in its bucket.
type memTxSink struct {
	lifecycleSink
	kept *SinkBucket // the bucket of the last call, kept past it
}

func (s *memTxSink) Name() string { return "mem" }

func (s *memTxSink) AddBatch(context.Context, *Output) error {
	return errors.New("AddBatch called on a TxSink")
}

func (s *memTxSink) AddBatchTx(b *SinkBucket, out *Output) error {
	s.kept = b
	if err := s.call(fmt.Sprintf("add %d", out.BatchID)); err != nil {
		return err
	}
	return b.Put([]byte(fmt.Sprint(out.BatchID)), []byte(fmt.Sprint(out.NumRows())))
}

// A TxSink gets AddBatchTx with its bucket, never AddBatch; what it wrote
// is in the checkpoint (ReadSink), a failing AddBatchTx rolls the batch
// back, and its bucket is dead once the call returned.
func TestTxSink(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	sink := &memTxSink{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Allocator = checkedAlloc(t)
	cfg.Source.MaxRatePerPartition = 3
	// Stateless, so each batch outputs its rows: 3 3 3 1.
	cfg.Query = dataframe.Source("events", cfg.Schema).Select(dataframe.Col("_offset"))
	for _, st := range []struct{ failAt, calls, err, bucket string }{
		{"add 2", "open -1, add 0, committed 0, add 1, committed 1, add 2, close", "batch 2: commit: sink: refused add 2", "0=3 1=3"},
		{"", "open 1, add 2, committed 2, add 3, committed 3, close", "", "0=3 1=3 2=3 3=1"},
	} {
		sink.failAt = st.failAt
		q, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = q.Run(ctx)
		cancel()
		if fmt.Sprint(err) != st.err && !(st.err == "" && err == nil) {
			t.Fatalf("Run: %v, want %s", err, st.err)
		}
		if got := sink.take(); got != st.calls {
			t.Fatalf("calls %q, want %q", got, st.calls)
		}
		var kv []string
		if err := q.ReadSink("mem", func(b *SinkBucket) error {
			if err := b.Put([]byte("x"), nil); err == nil {
				t.Error("ReadSink's bucket took a write")
			}
			return b.ForEach(func(k, v []byte) error {
				kv = append(kv, string(k)+"="+string(v))
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(kv, " "); got != st.bucket {
			t.Fatalf("the sink's bucket holds %q, want %q", got, st.bucket)
		}
		if err := sink.kept.Put([]byte("late"), []byte("x")); !errors.Is(err, ErrSinkBucketDone) {
			t.Fatalf("Put on a bucket kept past AddBatchTx: %v, want ErrSinkBucketDone", err)
		}
		if v := sink.kept.Get([]byte("0")); v != nil {
			t.Fatalf("Get on a bucket kept past AddBatchTx returned %q", v)
		}
	}
}

// slowSink takes its time in AddBatch and records when each call starts
// and ends, next to the engine's commit-begin failpoint.
type slowSink struct {
	mu     sync.Mutex // guards events
	events []string
}

func (s *slowSink) event(e string) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *slowSink) AddBatch(_ context.Context, out *Output) error {
	s.event(fmt.Sprintf("add %d", out.BatchID))
	time.Sleep(100 * time.Millisecond)
	s.event(fmt.Sprintf("added %d", out.BatchID))
	return nil
}

// A slow sink does not hold the checkpoint's write transaction open: batch
// N's commit transaction begins only once AddBatch(N) has returned, so
// nothing else that writes the checkpoint (the next batch's write-ahead,
// a compaction) waits for the sink.
func TestSlowSinkHoldsNoTransaction(t *testing.T) {
	b, _ := clickTopic(t, 1, 10)
	sink := &slowSink{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Source.MaxRatePerPartition = 4 // batches [0,4) [4,8) [8,10)
	cfg.failpoint = func(name string, id int64) {
		if name == fpCommitBegin {
			sink.event(fmt.Sprintf("commit %d", id))
		}
	}
	var q *Query
	runFor(t, cfg, &q)
	got := strings.Join(sink.events, ", ")
	want := "add 0, added 0, commit 0, add 1, added 1, commit 1, add 2, added 2, commit 2"
	if got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}

package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
)

// produceN appends n records to every partition of topic, which must hold
// base records each, so that offset o of partition p holds value p<p>-<o>.
func produceN(t *testing.T, b *kafkatest.Broker, topic string, partitions int32, base, n int) {
	t.Helper()
	var recs []kafkatest.Record
	for p := range partitions {
		for i := base; i < base+n; i++ {
			recs = append(recs, kafkatest.Record{Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, i)})
		}
	}
	b.Produce(t, topic, recs)
}

func newReader(t *testing.T, p kafka.Props, cfg kafka.ReaderConfig) *kafka.RangeReader {
	t.Helper()
	rr, err := kafka.NewRangeReader(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rr.Close(); err != nil {
			t.Error(err)
		}
	})
	return rr
}

// read reads r and returns the offsets delivered, checking each value.
func read(t *testing.T, rr *kafka.RangeReader, r offsets.OffsetRange) ([]int64, kafka.ReadStats, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []int64
	st, err := rr.Read(ctx, r, func(rec *kafka.Record) error {
		if rec.Topic != r.Topic || rec.Partition != r.Partition {
			return fmt.Errorf("record of %s-%d in range %s", rec.Topic, rec.Partition, r)
		}
		if want := fmt.Sprintf("p%d-%d", rec.Partition, rec.Offset); string(rec.Value) != want && string(rec.Value) != "txn" {
			return fmt.Errorf("offset %d value %q, want %q", rec.Offset, rec.Value, want)
		}
		if rec.Timestamp <= 0 {
			return fmt.Errorf("offset %d timestamp %d", rec.Offset, rec.Timestamp)
		}
		got = append(got, rec.Offset)
		return nil
	})
	return got, st, err
}

func seq(from, until int64) []int64 {
	var out []int64
	for o := from; o < until; o++ {
		out = append(out, o)
	}
	return out
}

func TestRangeReaderExactRanges(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"t": 2})
	produceN(t, b, "t", 2, 0, 1000)
	rr := newReader(t, b.Props(), kafka.ReaderConfig{})
	for _, r := range []offsets.OffsetRange{
		{Topic: "t", Partition: 0, From: 0, Until: 30},
		{Topic: "t", Partition: 1, From: 0, Until: 1},
		{Topic: "t", Partition: 0, From: 30, Until: 31}, // continues: prefetched data reused
		{Topic: "t", Partition: 1, From: 1, Until: 500},
		{Topic: "t", Partition: 0, From: 31, Until: 999},
		{Topic: "t", Partition: 0, From: 10, Until: 20}, // backwards: re-assigned
		{Topic: "t", Partition: 0, From: 20, Until: 20}, // empty
		{Topic: "t", Partition: 0, From: 20, Until: 1000},
		{Topic: "t", Partition: 1, From: 500, Until: 1000}, // to the end
	} {
		got, st, err := read(t, rr, r)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if want := seq(r.From, r.Until); !slices.Equal(got, want) {
			t.Fatalf("%s: got %d offsets %v..., want %d", r, len(got), got[:min(len(got), 5)], len(want))
		}
		if st.Records != r.Count() || st.SkippedOffsets != 0 {
			t.Fatalf("%s: stats %+v", r, st)
		}
		if pos, ok := rr.Position(r.TopicPartition()); r.Count() > 0 && (!ok || pos != r.Until) {
			t.Fatalf("%s: position %d %v", r, pos, ok)
		}
	}
	if got := rr.Assigned(); len(got) != 2 {
		t.Fatalf("assigned %v", got)
	}
	// Paused partitions keep their position.
	if err := rr.Keep([]offsets.OffsetRange{{Topic: "t", Partition: 1, From: 1000, Until: 1010}}); err != nil {
		t.Fatal(err)
	}
	produceN(t, b, "t", 2, 1000, 10)
	got, st, err := read(t, rr, offsets.OffsetRange{Topic: "t", Partition: 0, From: 1000, Until: 1010})
	if err != nil || !slices.Equal(got, seq(1000, 1010)) || st.Seeked {
		t.Fatalf("after pause: %v %+v %v", got, st, err)
	}
	// A paused partition positioned elsewhere (librdkafka keeps the pause
	// flag across re-assignment).
	if err := rr.Keep(nil); err != nil {
		t.Fatal(err)
	}
	got, st, err = read(t, rr, offsets.OffsetRange{Topic: "t", Partition: 1, From: 500, Until: 510})
	if err != nil || !slices.Equal(got, seq(500, 510)) || !st.Seeked {
		t.Fatalf("paused and re-positioned: %v %+v %v", got, st, err)
	}
}

// txnProduce writes transactions of n records each to partition 0 of topic,
// committed or aborted, with franz-go's transactional producer. A
// transaction with open=true is left open.
type txn struct {
	n            int
	commit, open bool
}

func txnProduce(t *testing.T, addr, topic string, txns ...txn) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("tx-"+topic), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := false
	for _, x := range txns {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for range x.n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("txn")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if x.open {
			open = true
			break
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(x.commit)); err != nil {
			t.Fatal(err)
		}
	}
	if open {
		t.Cleanup(cl.Close) // closing aborts; keep the transaction open for the test
	} else {
		cl.Close()
	}
}

// Layout after txnProduce(5 commit, 3 abort, 2 commit, 2 abort):
// data 0-4, commit marker 5, aborted 6-8, abort marker 9, data 10-11,
// commit marker 12, aborted 13-14, abort marker 15; end 16.
var txnLayout = []txn{{n: 5, commit: true}, {n: 3}, {n: 2, commit: true}, {n: 2}}

func TestRangeReaderTransactionMarkers(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"tx": 1})
	txnProduce(t, b.Addr, "tx", txnLayout...)
	r := func(from, until int64) offsets.OffsetRange {
		return offsets.OffsetRange{Topic: "tx", Partition: 0, From: from, Until: until}
	}
	committed := []int64{0, 1, 2, 3, 4, 10, 11}
	cases := []struct {
		iso    string
		ranges []offsets.OffsetRange
		want   [][]int64
	}{
		{"read_committed", []offsets.OffsetRange{r(0, 16)}, [][]int64{committed}},
		// Ends after the commit marker at 12, with only aborted data after.
		{"read_committed", []offsets.OffsetRange{r(0, 13), r(13, 16)}, [][]int64{committed, nil}},
		// Ranges ending on and just after markers, and ranges of markers only.
		{"read_committed", []offsets.OffsetRange{r(0, 5), r(5, 6), r(6, 10), r(10, 12), r(12, 13), r(13, 16)},
			[][]int64{{0, 1, 2, 3, 4}, nil, nil, {10, 11}, nil, nil}},
		{"read_committed", []offsets.OffsetRange{r(6, 13)}, [][]int64{{10, 11}}},
		{"read_committed", []offsets.OffsetRange{r(12, 16)}, [][]int64{nil}},
		{"read_uncommitted", []offsets.OffsetRange{r(0, 16)}, [][]int64{{0, 1, 2, 3, 4, 6, 7, 8, 10, 11, 13, 14}}},
		{"read_uncommitted", []offsets.OffsetRange{r(0, 13), r(13, 16)}, [][]int64{{0, 1, 2, 3, 4, 6, 7, 8, 10, 11}, {13, 14}}},
		{"read_uncommitted", []offsets.OffsetRange{r(15, 16)}, [][]int64{nil}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d-%s", i, c.iso), func(t *testing.T) {
			p := b.Props()
			p["isolation.level"] = c.iso
			rr := newReader(t, p, kafka.ReaderConfig{StallTimeout: 10 * time.Second})
			for j, rg := range c.ranges {
				start := time.Now()
				got, st, err := read(t, rr, rg)
				if err != nil {
					t.Fatalf("%s: %v", rg, err)
				}
				if !slices.Equal(got, c.want[j]) || st.Records != int64(len(c.want[j])) {
					t.Fatalf("%s: got %v (%d records), want %v", rg, got, st.Records, c.want[j])
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Fatalf("%s took %s", rg, d)
				}
			}
		})
	}
}

// The properties range reads depend on cannot be overridden.
func TestRangeReaderForcedProps(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"tx": 1})
	txnProduce(t, b.Addr, "tx", txnLayout...)
	p := b.Props()
	p["enable.partition.eof"] = "false"
	p["auto.offset.reset"] = "earliest"
	rr := newReader(t, p, kafka.ReaderConfig{StallTimeout: 5 * time.Second})
	got, _, err := read(t, rr, offsets.OffsetRange{Topic: "tx", Partition: 0, From: 10, Until: 16})
	if err != nil || !slices.Equal(got, []int64{10, 11}) {
		t.Fatalf("[10,16): %v %v", got, err)
	}
}

func TestRangeReaderOpenTransactionLSO(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"tx": 1})
	txnProduce(t, b.Addr, "tx", txn{n: 3, commit: true}, txn{n: 2, open: true}) // data 0-2, marker 3, open 4-5
	a := b.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tp := offsets.TopicPartition{Topic: "tx", Partition: 0}
	lso, err := a.ListOffsets(ctx, []offsets.TopicPartition{tp}, offsets.Latest, true)
	if err != nil {
		t.Fatal(err)
	}
	if lso[tp] != 4 {
		t.Fatalf("LSO = %d, want 4", lso[tp])
	}
	rr := newReader(t, b.Props(), kafka.ReaderConfig{StallTimeout: 500 * time.Millisecond})
	got, _, err := read(t, rr, offsets.OffsetRange{Topic: "tx", Partition: 0, From: 0, Until: 4})
	if err != nil || !slices.Equal(got, []int64{0, 1, 2}) {
		t.Fatalf("[0,4): %v %v", got, err)
	}
	// Beyond the LSO the read cannot progress: a stall error, naming where.
	_, _, err = read(t, rr, offsets.OffsetRange{Topic: "tx", Partition: 0, From: 4, Until: 6})
	var se *kafka.StallError
	if !errors.As(err, &se) || se.Position != 4 {
		t.Fatalf("beyond LSO: %v", err)
	}
}

func TestRangeReaderDataLoss(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"t": 1})
	produceN(t, b, "t", 1, 0, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Admin(t).DeleteRecords(ctx, offsets.TopicPartition{Topic: "t", Partition: 0}, 40); err != nil {
		t.Fatal(err)
	}
	r := func(from, until int64) offsets.OffsetRange {
		return offsets.OffsetRange{Topic: "t", Partition: 0, From: from, Until: until}
	}

	fail := newReader(t, b.Props(), kafka.ReaderConfig{FailOnDataLoss: true})
	_, _, err := read(t, fail, r(10, 60))
	var dl *offsets.DataLossError
	if !errors.As(err, &dl) || dl.Topic != "t" || dl.Partition != 0 || dl.From != 10 || dl.Until != 40 {
		t.Fatalf("failOnDataLoss: %v", err)
	}
	// The reader is usable afterwards.
	if got, _, err := read(t, fail, r(40, 50)); err != nil || !slices.Equal(got, seq(40, 50)) {
		t.Fatalf("after data loss: %v %v", got, err)
	}

	skip := newReader(t, b.Props(), kafka.ReaderConfig{})
	for _, c := range []struct {
		r       offsets.OffsetRange
		want    []int64
		skipped int64
	}{
		{r(10, 60), seq(40, 60), 30},
		{r(0, 20), nil, 20}, // entirely lost
		{r(20, 45), seq(40, 45), 20},
		{r(45, 100), seq(45, 100), 0},
	} {
		got, st, err := read(t, skip, c.r)
		if err != nil || !slices.Equal(got, c.want) || st.SkippedOffsets != c.skipped || st.Records != int64(len(c.want)) {
			t.Fatalf("%s: got %v skipped %d err %v; want %d records skipped %d", c.r, got, st.SkippedOffsets, err, len(c.want), c.skipped)
		}
	}
}

func TestRangeReaderCancelAndStall(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"t": 1})
	produceN(t, b, "t", 1, 0, 10)
	rr := newReader(t, b.Props(), kafka.ReaderConfig{StallTimeout: 300 * time.Millisecond})
	r := offsets.OffsetRange{Topic: "t", Partition: 0, From: 0, Until: 20}

	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := rr.Read(ctx, r, func(*kafka.Record) error { n++; return nil })
	if !errors.Is(err, context.Canceled) || n != 10 {
		t.Fatalf("cancel: %v after %d records", err, n)
	}
	if d := time.Since(start); d > 290*time.Millisecond {
		t.Fatalf("cancel took %s", d)
	}

	_, _, err = read(t, rr, r)
	var se *kafka.StallError
	if !errors.As(err, &se) || se.Position != 10 || se.Range != r {
		t.Fatalf("stall: %v", err)
	}

	boom := errors.New("boom")
	_, err = rr.Read(context.Background(), r, func(rec *kafka.Record) error {
		if rec.Offset == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("callback error: %v", err)
	}
	if got, _, err := read(t, rr, offsets.OffsetRange{Topic: "t", Partition: 0, From: 3, Until: 10}); err != nil || !slices.Equal(got, seq(3, 10)) {
		t.Fatalf("after callback error: %v %v", got, err)
	}
}

// Records of a partition polled while another is read are kept (up to
// MaxStashRecords, then the partition is paused) and delivered by its next
// Read without a seek.
func TestRangeReaderStashBound(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"t": 2})
	produceN(t, b, "t", 2, 0, 2000)
	rr := newReader(t, b.Props(), kafka.ReaderConfig{MaxStashRecords: 10})
	r := func(p int32, from, until int64) offsets.OffsetRange {
		return offsets.OffsetRange{Topic: "t", Partition: p, From: from, Until: until}
	}
	for _, c := range []struct {
		r      offsets.OffsetRange
		seeked bool
	}{
		{r(0, 0, 10), true}, {r(1, 0, 10), true},
		{r(0, 10, 2000), false}, // p1 is stashed to 10 records, then paused
		{r(1, 10, 1000), false},
		{r(0, 2000, 2000), false},
		{r(1, 1000, 2000), false},
	} {
		got, st, err := read(t, rr, c.r)
		if err != nil || !slices.Equal(got, seq(c.r.From, c.r.Until)) || st.Seeked != c.seeked {
			t.Fatalf("%s: %d records, %+v, %v", c.r, len(got), st, err)
		}
	}
}

// A partition that is not being read is fetched only so far ahead: after
// its own read of n records, n more; after Keep of a range, to the range's
// Until plus its length. So what the reader holds follows the ranges read,
// not the backlog, and later reads are still exact and without a seek.
func TestRangeReaderStashAhead(t *testing.T) {
	// Records a fetch brought in past the limit before the pause took
	// effect.
	const maxFetchOvershoot = 200
	b := kafkatest.Start(t, map[string]int32{"t": 3})
	produceN(t, b, "t", 3, 0, 3000)

	// And at least MinAheadBytes: values p1-10 .. p1-349 are 2,000 bytes.
	// Past that the partition is paused where its fetch run ends (here the
	// whole partition comes in one run), at the latest at 3,000 bytes:
	// p1-10 .. p1-524.
	t.Run("bytes", func(t *testing.T) {
		rr := newReader(t, b.Props(), kafka.ReaderConfig{MinAheadBytes: 2000})
		for _, c := range []offsets.OffsetRange{{Topic: "t", Partition: 1, From: 0, Until: 10}, {Topic: "t", Partition: 0, From: 0, Until: 2000}} {
			if got, _, err := read(t, rr, c); err != nil || len(got) != int(c.Count()) {
				t.Fatalf("%s: %d records, %v", c, len(got), err)
			}
		}
		if n := rr.Stashed(); n < 515 || n > 515+maxFetchOvershoot {
			t.Fatalf("partition 1 holds %d records, want 515 (3,000 bytes) to %d", n, 515+maxFetchOvershoot)
		}
	})

	rr := newReader(t, b.Props(), kafka.ReaderConfig{MinAheadBytes: 1})
	r := func(p int32, from, until int64) offsets.OffsetRange {
		return offsets.OffsetRange{Topic: "t", Partition: p, From: from, Until: until}
	}
	check := func(c offsets.OffsetRange, seeked bool, maxHeld int) {
		t.Helper()
		got, st, err := read(t, rr, c)
		if err != nil || !slices.Equal(got, seq(c.From, c.Until)) || st.Seeked != seeked {
			t.Fatalf("%s: %d records, %+v, %v", c, len(got), st, err)
		}
		if n := rr.Stashed(); n > maxHeld {
			t.Fatalf("after %s the reader holds %d records, want at most %d", c, n, maxHeld)
		}
	}
	// Partitions 1 and 2 read 10 records each, so they are fetched to
	// offset 20 (the batch fetch may end a little beyond) while partition
	// 0 reads 2000.
	check(r(1, 0, 10), true, 3000)
	check(r(2, 0, 10), true, 3000)
	check(r(0, 0, 2000), true, 2*(10+maxFetchOvershoot))
	if err := rr.Keep([]offsets.OffsetRange{r(1, 10, 110), r(2, 10, 110)}); err != nil {
		t.Fatal(err)
	}
	check(r(1, 10, 110), false, 3000)
	check(r(2, 10, 110), false, 3000)
	// Now each may be fetched to 210 while partition 0 is read.
	check(r(0, 2000, 3000), false, 2*(100+maxFetchOvershoot))
	check(r(1, 110, 3000), false, 3000)
	check(r(2, 110, 3000), false, 3000)
}

// A paused partition is resumed only when it must fetch to complete a read,
// or when what it holds fell below half of MinAheadBytes: every resume
// fetches again the producer batch it was paused in.
func TestRangeReaderResumeBelowHalf(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"t": 2})
	produceN(t, b, "t", 2, 0, 3000)
	rr := newReader(t, b.Props(), kafka.ReaderConfig{MinAheadBytes: 2000})
	p1 := offsets.TopicPartition{Topic: "t", Partition: 1}
	r := func(p int32, from, until int64) offsets.OffsetRange {
		return offsets.OffsetRange{Topic: "t", Partition: p, From: from, Until: until}
	}
	step := func(c offsets.OffsetRange, keep bool, paused bool) {
		t.Helper()
		if keep {
			if err := rr.Keep([]offsets.OffsetRange{c}); err != nil {
				t.Fatal(err)
			}
		} else if got, _, err := read(t, rr, c); err != nil || !slices.Equal(got, seq(c.From, c.Until)) {
			t.Fatalf("%s: %d records, %v", c, len(got), err)
		}
		if rr.Paused(p1) != paused {
			t.Fatalf("after %s (keep %v): partition 1 paused %v, want %v; %d records held", c, keep, !paused, paused, rr.Stashed())
		}
	}
	// Values p1-10 .. p1-349 are 2,000 bytes: partition 1 holds them, and
	// a few more, once partition 0 is read, and is paused.
	step(r(1, 0, 10), false, false)
	step(r(0, 0, 2000), false, true)
	// Reads served by what it holds leave it paused while it holds 1,000
	// bytes or more; below that the next Keep resumes it.
	from, served := int64(10), 0
	for ; ; from += 10 {
		held := rr.StashedBytes(p1)
		if err := rr.Keep([]offsets.OffsetRange{r(1, from, from+10)}); err != nil {
			t.Fatal(err)
		}
		if rr.Paused(p1) != (held >= 1000) {
			t.Fatalf("Keep at %d with %d bytes held: paused %v", from, held, rr.Paused(p1))
		}
		if held < 1000 {
			break
		}
		step(r(1, from, from+10), false, true)
		served++
	}
	if served < 10 {
		t.Fatalf("%d reads served by what partition 1 held, want about 18 (1,000 bytes)", served)
	}
	step(r(1, from, 3000), false, false)
}

// ReadRanges calls Idle while it waits for records; an error from Idle
// ends the read, and the next Read re-assigns the partition.
func TestRangeReaderIdle(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"t": 1})
	produceN(t, b, "t", 1, 0, 10)
	rr := newReader(t, b.Props(), kafka.ReaderConfig{StallTimeout: 10 * time.Second})
	r := offsets.OffsetRange{Topic: "t", Partition: 0, From: 0, Until: 20} // beyond the end of the log

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	enough := errors.New("enough")
	n, idleAfter := 0, 0
	start := time.Now()
	_, err := rr.ReadRanges(ctx, []offsets.OffsetRange{r}, kafka.RangeHandler{
		Record: func(int, *kafka.Record) error { n++; return nil },
		Idle: func() error {
			if n == 10 {
				idleAfter++
			}
			if idleAfter == 3 {
				return enough
			}
			return nil
		}})
	if !errors.Is(err, enough) || n != 10 {
		t.Fatalf("idle: %v after %d records", err, n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("3 idle calls took %s", d)
	}
	got, st, err := read(t, rr, offsets.OffsetRange{Topic: "t", Partition: 0, From: 5, Until: 10})
	if err != nil || !slices.Equal(got, seq(5, 10)) || !st.Seeked {
		t.Fatalf("after idle error: %v %+v %v", got, st, err)
	}
}

// A stashed record keeps its key and value bytes, and nil stays distinct
// from empty.
func TestRangeReaderStashKeepsBytes(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"t": 2})
	var recs []kafkatest.Record
	for i := 0; i < 300; i++ {
		r := kafkatest.Record{Partition: int32(i % 2), Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(strings.Repeat("v", i))}
		switch i % 6 {
		case 2, 3:
			r.Key, r.Value = nil, nil
		case 4, 5:
			r.Key = []byte{}
		}
		recs = append(recs, r)
	}
	b.Produce(t, "t", recs)
	rr := newReader(t, b.Props(), kafka.ReaderConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Partition 1 is assigned by its first read, then stashed while
	// partition 0 is read.
	for _, c := range []offsets.OffsetRange{{Topic: "t", Partition: 1, From: 0, Until: 1},
		{Topic: "t", Partition: 0, From: 0, Until: 150}, {Topic: "t", Partition: 1, From: 1, Until: 150}} {
		if c.From == 1 && rr.Stashed() < 100 {
			t.Fatalf("%d records stashed before %s, want most of its 149", rr.Stashed(), c)
		}
		i := int(c.Partition) + 2*int(c.From)
		_, err := rr.Read(ctx, c, func(r *kafka.Record) error {
			want := recs[i]
			i += 2
			if !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) || (r.Key == nil) != (want.Key == nil) || (r.Value == nil) != (want.Value == nil) {
				return fmt.Errorf("offset %d: key %q value %d bytes (nil %v/%v), want %q %d bytes (nil %v/%v)", r.Offset,
					r.Key, len(r.Value), r.Key == nil, r.Value == nil, want.Key, len(want.Value), want.Key == nil, want.Value == nil)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The stash lives outside the Go heap: Close frees all of it.
	if rr.MappedBytes() == 0 {
		t.Fatal("nothing mapped after stashing 149 records")
	}
	if err := rr.Close(); err != nil {
		t.Fatal(err)
	}
	if n := rr.MappedBytes(); n != 0 {
		t.Fatalf("%d bytes still mapped after Close", n)
	}
}

// readAll reads rs at once and returns the offsets delivered per range, the
// stats Done gave per range (nil until Done) and the error with its index.
func readAll(t *testing.T, rr *kafka.RangeReader, rs []offsets.OffsetRange) ([][]int64, []*kafka.ReadStats, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make([][]int64, len(rs))
	done := make([]*kafka.ReadStats, len(rs))
	failed, err := rr.ReadRanges(ctx, rs, kafka.RangeHandler{
		Record: func(i int, rec *kafka.Record) error {
			r := rs[i]
			if rec.Topic != r.Topic || rec.Partition != r.Partition || rec.Offset < r.From || rec.Offset >= r.Until {
				return fmt.Errorf("record %s-%d@%d handed to range %d %s", rec.Topic, rec.Partition, rec.Offset, i, r)
			}
			if done[i] != nil {
				return fmt.Errorf("record of range %d after its Done", i)
			}
			if want := fmt.Sprintf("p%d-%d", rec.Partition, rec.Offset); string(rec.Value) != want {
				return fmt.Errorf("offset %d value %q, want %q", rec.Offset, rec.Value, want)
			}
			got[i] = append(got[i], rec.Offset)
			return nil
		},
		Done: func(i int, st kafka.ReadStats) error {
			if done[i] != nil {
				return fmt.Errorf("range %d done twice", i)
			}
			done[i] = &st
			return nil
		},
	})
	return got, done, failed, err
}

// ReadRanges reads several partitions' ranges at once, each exactly, and a
// later read continues each partition's stream without a seek.
func TestReadRangesAtOnce(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"t": 3})
	produceN(t, b, "t", 3, 0, 3000)
	rr := newReader(t, b.Props(), kafka.ReaderConfig{})
	r := func(p int32, from, until int64) offsets.OffsetRange {
		return offsets.OffsetRange{Topic: "t", Partition: p, From: from, Until: until}
	}
	for _, c := range []struct {
		rs     []offsets.OffsetRange
		seeked []bool
	}{
		{[]offsets.OffsetRange{r(0, 0, 300), r(1, 0, 10), r(2, 100, 2000), r(1, 5, 5)}, []bool{true, true, true, false}},
		// Continues every stream; partition 2 is not read, and is held.
		{[]offsets.OffsetRange{r(1, 10, 2500), r(0, 300, 301)}, []bool{false, false}},
		{[]offsets.OffsetRange{r(0, 301, 3000), r(2, 2000, 3000), r(1, 2500, 3000)}, []bool{false, false, false}},
		// Backwards: re-assigned.
		{[]offsets.OffsetRange{r(2, 0, 1), r(0, 2999, 3000)}, []bool{true, true}},
	} {
		got, done, failed, err := readAll(t, rr, c.rs)
		if err != nil {
			t.Fatalf("%v: range %d: %v", c.rs, failed, err)
		}
		for i, rg := range c.rs {
			if want := seq(rg.From, rg.Until); !slices.Equal(got[i], want) {
				t.Fatalf("%s: got %d offsets, want %d", rg, len(got[i]), len(want))
			}
			if st := done[i]; st == nil || st.Records != rg.Count() || st.Seeked != c.seeked[i] || st.SkippedOffsets != 0 {
				t.Fatalf("%s: stats %+v, want %d records, seeked %v", rg, st, rg.Count(), c.seeked[i])
			}
			if pos, ok := rr.Position(rg.TopicPartition()); rg.Count() > 0 && (!ok || pos != rg.Until) {
				t.Fatalf("%s: position %d %v", rg, pos, ok)
			}
		}
	}
	_, _, failed, err := readAll(t, rr, []offsets.OffsetRange{r(0, 0, 1), r(1, 0, 1), r(0, 1, 2)})
	if err == nil || failed != 2 || !strings.Contains(err.Error(), "two ranges of t-0") {
		t.Fatalf("two ranges of a partition: %d %v", failed, err)
	}
}

// A stalled range fails the read, named by its index, after the other
// ranges completed; the completed partitions continue without a seek and
// the stalled one is re-assigned.
func TestReadRangesStallAndLoss(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"t": 3})
	produceN(t, b, "t", 3, 0, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Admin(t).DeleteRecords(ctx, offsets.TopicPartition{Topic: "t", Partition: 2}, 40); err != nil {
		t.Fatal(err)
	}
	r := func(p int32, from, until int64) offsets.OffsetRange {
		return offsets.OffsetRange{Topic: "t", Partition: p, From: from, Until: until}
	}
	rr := newReader(t, b.Props(), kafka.ReaderConfig{StallTimeout: 300 * time.Millisecond})
	rs := []offsets.OffsetRange{r(0, 0, 50), r(1, 0, 120), r(2, 10, 60)}
	got, done, failed, err := readAll(t, rr, rs)
	var se *kafka.StallError
	if !errors.As(err, &se) || failed != 1 || se.Range != rs[1] || se.Position != 100 {
		t.Fatalf("stall: range %d: %v", failed, err)
	}
	// Partition 2 lost [10,40) and was read from 40 on (failOnDataLoss=false).
	if done[0] == nil || done[1] != nil || done[2] == nil || done[2].SkippedOffsets != 30 || done[2].Records != 20 ||
		!slices.Equal(got[0], seq(0, 50)) || !slices.Equal(got[1], seq(0, 100)) || !slices.Equal(got[2], seq(40, 60)) {
		t.Fatalf("before the stall: done %v %v %v, got %d %d %v", done[0], done[1], done[2], len(got[0]), len(got[1]), got[2])
	}
	got, done, _, err = readAll(t, rr, []offsets.OffsetRange{r(0, 50, 100), r(1, 0, 100), r(2, 60, 100)})
	if err != nil || done[0].Seeked || !done[1].Seeked || done[2].Seeked ||
		!slices.Equal(got[0], seq(50, 100)) || !slices.Equal(got[1], seq(0, 100)) || !slices.Equal(got[2], seq(60, 100)) {
		t.Fatalf("after the stall: %v, done %+v %+v %+v", err, done[0], done[1], done[2])
	}

	fail := newReader(t, b.Props(), kafka.ReaderConfig{FailOnDataLoss: true})
	_, _, failed, err = readAll(t, fail, []offsets.OffsetRange{r(0, 0, 100), r(2, 10, 60), r(1, 0, 100)})
	var dl *offsets.DataLossError
	if !errors.As(err, &dl) || failed != 1 || dl.Partition != 2 || dl.From != 10 || dl.Until != 40 {
		t.Fatalf("failOnDataLoss: range %d: %v", failed, err)
	}
}

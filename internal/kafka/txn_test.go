package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
)

// readCommitted returns every record of topic's partition 0 visible to a
// read_committed franz-go consumer, as "key=value" ("key=<nil>" for a
// tombstone) with headers.
func readCommitted(t *testing.T, addr, topic string, want int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out []string
	for len(out) < want+1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			v := "<nil>"
			if r.Value != nil {
				v = string(r.Value)
			}
			s := string(r.Key) + "=" + v
			for _, h := range r.Headers {
				s += fmt.Sprintf(" %s:%s", h.Key, h.Value)
			}
			out = append(out, s)
		})
	}
	return out
}

func TestTxnProducerCommitAbortFence(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"out": 1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p1, err := kafka.NewTxnProducer(b.Props(), "job-sink", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p1.Close()
	if err := p1.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	txn := func(p *kafka.TxnProducer, commit bool, recs ...string) error {
		if err := p.BeginTransaction(); err != nil {
			return err
		}
		for _, r := range recs {
			var v []byte
			if r != "" {
				v = []byte("v" + r)
			}
			if err := p.Produce(ctx, "out", kafka.AnyPartition, []byte("k"), v, []kafka.Header{{Key: "h", Value: []byte(r)}}); err != nil {
				return err
			}
		}
		if commit {
			return p.CommitTransaction(ctx)
		}
		return p.AbortTransaction(ctx)
	}
	if err := txn(p1, true, "1", "2"); err != nil {
		t.Fatal(err)
	}
	if err := txn(p1, false, "3"); err != nil {
		t.Fatal(err)
	}
	if err := txn(p1, true, "4", ""); err != nil {
		t.Fatal(err)
	}
	got := readCommitted(t, b.Addr, "out", 4)
	want := "[k=v1 h:1 k=v2 h:2 k=v4 h:4 k=<nil> h:]"
	if fmt.Sprint(got) != want {
		t.Fatalf("read_committed = %v, want %v", got, want)
	}

	// One reader for every read, as the Kafka sink's Open uses it.
	a, err := kafka.NewAdmin(b.Props(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	lr := kafka.NewLastRecordReader(a, b.Props(), nil)
	defer lr.Close()
	tp := offsets.TopicPartition{Topic: "out", Partition: 0}
	v, ok, err := lr.Read(ctx, tp, []byte("k"))
	if err != nil || !ok || len(v) != 0 { // the range reader does not tell a null value from an empty one
		t.Fatalf("LastRecord = %q, %v, %v; want the tombstone", v, ok, err)
	}
	if err := txn(p1, true, "5"); err != nil {
		t.Fatal(err)
	}
	v, ok, err = lr.Read(ctx, tp, []byte("k"))
	if err != nil || !ok || string(v) != "v5" {
		t.Fatalf("LastRecord = %q, %v, %v; want v5", v, ok, err)
	}
	if _, ok, err := lr.Read(ctx, tp, []byte("other")); err != nil || ok {
		t.Fatalf("LastRecord(other) = %v, %v; want none", ok, err)
	}

	// A second producer with the same id fences the first.
	p2, err := kafka.NewTxnProducer(b.Props(), "job-sink", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if err := p2.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	err = txn(p1, true, "6")
	if err == nil {
		t.Fatal("fenced producer committed")
	}
	if k := kafka.ClassifyTxnError(err); k != kafka.TxnFenced {
		t.Fatalf("fenced producer's error %v classified %d, want TxnFenced", err, k)
	}
	if err := txn(p2, true, "7"); err != nil {
		t.Fatal(err)
	}
	v, ok, err = lr.Read(ctx, tp, []byte("k"))
	if err != nil || !ok || string(v) != "v7" {
		t.Fatalf("LastRecord = %q, %v, %v; want v7", v, ok, err)
	}
}

func TestClassifyTxnError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want kafka.TxnErrorKind
	}{
		{ckafka.NewError(ckafka.ErrFenced, "fenced", true), kafka.TxnFenced},
		{fmt.Errorf("commit: %w", ckafka.NewError(ckafka.ErrProducerFenced, "fenced", false)), kafka.TxnFenced},
		{ckafka.NewError(ckafka.ErrInvalidProducerEpoch, "epoch", false), kafka.TxnFenced},
		{ckafka.NewError(ckafka.ErrUnknown, "boom", true), kafka.TxnFatal},
		{ckafka.NewError(ckafka.ErrTimedOut, "timeout", false), kafka.TxnAbortable},
		{context.Canceled, kafka.TxnFatal},
		{kafka.ErrProducerClosed, kafka.TxnFatal},
	} {
		if got := kafka.ClassifyTxnError(tc.err); got != tc.want {
			t.Errorf("ClassifyTxnError(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

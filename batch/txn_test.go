package batch

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// txn is one transaction written by txnProduce.
type txn struct {
	n      int
	commit bool
}

// Layout after txnProduce(txnLayout...): data 0-4, commit marker 5, aborted
// 6-8, abort marker 9, data 10-11, commit marker 12, aborted 13-14, abort
// marker 15; end 16.
var txnLayout = []txn{{n: 5, commit: true}, {n: 3}, {n: 2, commit: true}, {n: 2}}

// txnProduce writes transactions to partition 0 of topic with franz-go's
// transactional producer (test only; the product produces with
// confluent-kafka-go).
func txnProduce(t *testing.T, addr, topic string, txns ...txn) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("tx-"+topic), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, x := range txns {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for range x.n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("txn")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(x.commit)); err != nil {
			t.Fatal(err)
		}
	}
}

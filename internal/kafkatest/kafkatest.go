// Package kafkatest starts an in-process kfake broker for tests and talks to
// it over TCP with the product's own Kafka package, so tests exercise the
// real protocol and the real client.
package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/offsets"
)

// Broker is a running kfake cluster.
type Broker struct {
	Addr string
	// Cluster is the kfake cluster, for tests that inject faults
	// (Cluster.ControlKey).
	Cluster *kfake.Cluster
}

// Start starts a one-broker kfake cluster listening on loopback and stops it
// when the test ends. topics maps topic name to partition count.
func Start(t testing.TB, topics map[string]int32, opts ...kfake.Opt) *Broker {
	t.Helper()
	all := append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)
	for name, n := range topics {
		all = append(all, kfake.SeedTopics(n, name))
	}
	c, err := kfake.NewCluster(all...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &Broker{Addr: c.ListenAddrs()[0], Cluster: c}
}

// Props returns client properties pointing at the broker.
func (b *Broker) Props() kafka.Props { return kafka.Props{"bootstrap.servers": b.Addr} }

// Record is one record to produce.
type Record struct {
	Partition int32
	Key       []byte
	Value     []byte
}

// Produce writes records to topic with the product's producer and waits for
// every delivery.
func (b *Broker) Produce(t testing.TB, topic string, recs []Record) {
	t.Helper()
	p, err := kafka.NewProducer(b.Props())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, r := range recs {
		if err := p.Produce(ctx, topic, r.Partition, r.Key, r.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// Admin returns an admin client closed at test end.
func (b *Broker) Admin(t testing.TB) *kafka.Admin {
	t.Helper()
	a, err := kafka.NewAdmin(b.Props(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// EndOffsets returns the latest offsets of topic's partitions.
func (b *Broker) EndOffsets(t testing.TB, topic string) map[offsets.TopicPartition]int64 {
	t.Helper()
	a := b.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tps, err := a.Partitions(ctx, kafka.Subscription{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.ListOffsets(ctx, tps, offsets.Latest, false)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

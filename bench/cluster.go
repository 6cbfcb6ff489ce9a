package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/internal/kafka"
)

// cluster is where the bench's topic lives: an in-process kfake broker or
// the cluster given by -brokers.
type cluster struct {
	addr string
	fake *kfake.Cluster // nil with -brokers
}

// startCluster starts kfake unless brokers is set. close stops it.
func startCluster(brokers string) (*cluster, error) {
	if brokers != "" {
		return &cluster{addr: brokers}, nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, fmt.Errorf("kfake: %w", err)
	}
	return &cluster{addr: c.ListenAddrs()[0], fake: c}, nil
}

func (c *cluster) close() {
	if c.fake != nil {
		c.fake.Close()
	}
}

// createTopic creates topic with the product's admin client.
func (c *cluster) createTopic(ctx context.Context, topic string, partitions int) error {
	a, err := kafka.NewAdmin(kafka.Props{"bootstrap.servers": c.addr}, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.CreateTopic(ctx, topic, int32(partitions), nil)
}

// produceStats is what produce wrote.
type produceStats struct {
	records int64
	bytes   int64 // record values only
	elapsed time.Duration
}

// produce writes n records round-robin over partitions with franz-go
// (setup, not measured: the fastest producer at hand). rate > 0 paces the
// production at rate records/s (for the interval scenario); ctx stops it
// early.
func (c *cluster) produce(ctx context.Context, topic string, partitions int, n int64, rate float64, recs *records) (produceStats, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.addr),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MaxBufferedRecords(1<<18),
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.LeaderAck()),
	)
	if err != nil {
		return produceStats{}, err
	}
	defer cl.Close()

	var (
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
		st       produceStats
	)
	start := time.Now()
	promise := func(_ *kgo.Record, err error) {
		defer wg.Done()
		if err != nil {
			firstErr.CompareAndSwap(nil, &err)
		}
	}
	for i := int64(0); i < n; i++ {
		if rate > 0 && i%64 == 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		}
		if ctx.Err() != nil || firstErr.Load() != nil {
			break
		}
		k, v := recs.next()
		r := &kgo.Record{
			Topic:     topic,
			Partition: int32(i % int64(partitions)),
			Key:       append([]byte(nil), k...),
			Value:     append([]byte(nil), v...),
		}
		st.records++
		st.bytes += int64(len(v))
		wg.Add(1)
		cl.Produce(context.WithoutCancel(ctx), r, promise)
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	if p := firstErr.Load(); p != nil {
		return st, fmt.Errorf("produce: %w", *p)
	}
	return st, nil
}

// cpuNote qualifies a raw read's CPU time: in-process, with an in-process
// kfake broker, it includes the broker's.
func (c *cluster) cpuNote(cfg *config) string {
	if cfg.inProcess && c.fake != nil {
		return ", incl. the in-process broker"
	}
	return ""
}

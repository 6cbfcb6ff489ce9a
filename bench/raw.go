package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/internal/kafka"
)

// readStats is one plain read of the whole topic.
type readStats struct {
	records int64
	bytes   int64
	elapsed time.Duration
}

func (r readStats) msgsPerSec() float64 { return float64(r.records) / r.elapsed.Seconds() }
func (r readStats) mbPerSec() float64   { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// confluentProps are the raw reader's librdkafka settings: exactly the
// engine's consumer defaults (internal/kafka.ConsumerDefaults: short fetch
// queue backoff, bounded pre-fetch, partition EOF on) and read_committed, so the ratio measures the engine, not a tuning gap. A
// larger pre-fetch buffer, larger fetches and fetch.wait.max.ms=10 were
// tried (-confluent-props) and were not faster on kfake. extra overrides.
func confluentProps(addr string, extra map[string]string) ckafka.ConfigMap {
	cm := ckafka.ConfigMap{}
	for k, v := range kafka.ConsumerDefaults() {
		cm[k] = v
	}
	cm["bootstrap.servers"] = addr
	cm["isolation.level"] = "read_committed"
	for k, v := range extra {
		cm[k] = v
	}
	// The Go client's own go.* properties are typed.
	for k, v := range cm {
		if s, ok := v.(string); ok && strings.HasPrefix(k, "go.") {
			if b, err := strconv.ParseBool(s); err == nil {
				cm[k] = b
			}
		}
	}
	return cm
}

// readConfluent reads every partition of topic from the start to its end
// with consumers confluent-kafka-go consumers, each owning every
// consumers-th partition on its own goroutine, polling events (the fastest
// API: no channel hop). The clock runs from client creation to the last
// partition EOF; Close is not timed.
func readConfluent(ctx context.Context, addr, topic string, partitions, consumers int, extra map[string]string) (readStats, error) {
	consumers = min(max(consumers, 1), partitions)
	type out struct {
		records, bytes int64
		err            error
	}
	outs := make([]out, consumers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range consumers {
		wg.Add(1)
		go func() { // owned by readConfluent; ends at EOF of its partitions, an error, or ctx
			defer wg.Done()
			o := &outs[i]
			cm := confluentProps(addr, extra)
			c, err := ckafka.NewConsumer(&cm)
			if err != nil {
				o.err = err
				return
			}
			defer c.Close()
			var tps []ckafka.TopicPartition
			for p := i; p < partitions; p += consumers {
				tps = append(tps, ckafka.TopicPartition{Topic: &topic, Partition: int32(p), Offset: ckafka.OffsetBeginning})
			}
			// The log starts, in one ListOffsets request (timestamp -2 is
			// the earliest offset), then an assignment at those offsets,
			// as the engine assigns: assigned at OffsetBeginning,
			// librdkafka looks them up itself and the first message came
			// 0.5 s later (527 ms against 30 ms after client creation).
			tps, err = c.OffsetsForTimes(tps, 30000)
			if err != nil {
				o.err = fmt.Errorf("log start offsets: %w", err)
				return
			}
			for _, tp := range tps {
				if tp.Error != nil {
					o.err = fmt.Errorf("log start of %v: %w", tp, tp.Error)
					return
				}
			}
			if err := c.Assign(tps); err != nil {
				o.err = err
				return
			}
			left := len(tps)
			for left > 0 {
				if ctx.Err() != nil {
					o.err = ctx.Err()
					return
				}
				switch e := c.Poll(100).(type) {
				case *ckafka.Message:
					if e.TopicPartition.Error != nil {
						o.err = e.TopicPartition.Error
						return
					}
					o.records++
					o.bytes += int64(len(e.Value))
				case ckafka.PartitionEOF:
					left--
				case ckafka.Error:
					if e.IsFatal() || e.Code() != ckafka.ErrTransport {
						o.err = e
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	st := readStats{elapsed: time.Since(start)}
	var errs []error
	for _, o := range outs {
		st.records += o.records
		st.bytes += o.bytes
		errs = append(errs, o.err)
	}
	return st, errors.Join(errs...)
}

// readFranz reads every partition of topic from the start until want
// records arrived, with one franz-go client (ConsumePartitions, no group).
func readFranz(ctx context.Context, addr, topic string, partitions int, want int64) (readStats, error) {
	start := time.Now()
	assign := map[int32]kgo.Offset{}
	for p := range partitions {
		assign[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(8<<20),
		kgo.FetchMaxWait(10*time.Millisecond),
	)
	if err != nil {
		return readStats{}, err
	}
	defer cl.Close()
	var st readStats
	for st.records < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return st, fmt.Errorf("franz-go fetch %s/%d: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			st.records++
			st.bytes += int64(len(r.Value))
		})
	}
	st.elapsed = time.Since(start)
	return st, nil
}

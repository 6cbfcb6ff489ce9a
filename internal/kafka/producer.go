package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Producer writes records asynchronously. Delivery reports are drained by one
// goroutine owned by the Producer; the first delivery error is kept and
// returned by Flush and Close.
type Producer struct {
	p    *ckafka.Producer
	done chan struct{} // closed when the delivery-report goroutine exits

	errMu sync.Mutex // guards err
	err   error
}

// ProducerDefaults favour throughput for generators and tests.
func ProducerDefaults() Props {
	d := commonDefaults()
	d["linger.ms"] = "5"
	d["batch.num.messages"] = "10000"
	d["queue.buffering.max.messages"] = "1000000"
	d["go.delivery.report.fields"] = "none"
	return d
}

// NewProducer creates a producer.
func NewProducer(p Props) (*Producer, error) {
	cm, err := configMap(ProducerDefaults(), adminProps(p))
	if err != nil {
		return nil, err
	}
	pr, err := ckafka.NewProducer(cm)
	if err != nil {
		return nil, fmt.Errorf("kafka: producer: %w", err)
	}
	out := &Producer{p: pr, done: make(chan struct{})}
	go out.reports()
	return out, nil
}

func (p *Producer) reports() {
	defer close(p.done)
	for ev := range p.p.Events() {
		var err error
		switch e := ev.(type) {
		case *ckafka.Message:
			if e.TopicPartition.Error != nil {
				err = fmt.Errorf("kafka: delivery to %s: %w", e.TopicPartition, e.TopicPartition.Error)
			}
		case ckafka.Error:
			if e.IsFatal() {
				err = fmt.Errorf("kafka: producer: %w", e)
			}
		}
		if err != nil {
			p.errMu.Lock()
			if p.err == nil {
				p.err = err
			}
			p.errMu.Unlock()
		}
	}
}

// AnyPartition lets the partitioner choose (by key hash, or sticky without key).
const AnyPartition int32 = -1

// Produce enqueues one record. key may be nil. When librdkafka's queue is
// full it waits for room until ctx is done.
func (p *Producer) Produce(ctx context.Context, topic string, partition int32, key, value []byte) error {
	msg := &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: partition},
		Key:            key,
		Value:          value,
	}
	if partition == AnyPartition {
		msg.TopicPartition.Partition = ckafka.PartitionAny
	}
	for {
		err := p.p.Produce(msg, nil)
		if err == nil {
			return nil
		}
		var kerr ckafka.Error
		if errors.As(err, &kerr) && kerr.Code() == ckafka.ErrQueueFull {
			p.p.Flush(10)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		return fmt.Errorf("kafka: produce to %s: %w", topic, err)
	}
}

// Flush waits until every enqueued record is delivered or ctx is done, and
// returns the first delivery error seen so far.
func (p *Producer) Flush(ctx context.Context) error {
	for p.p.Len() > 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("kafka: flush: %d records undelivered: %w", p.p.Len(), ctx.Err())
		}
		p.p.Flush(100)
	}
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

// Close flushes (bounded by ctx), closes the client and waits for the
// delivery-report goroutine.
func (p *Producer) Close(ctx context.Context) error {
	err := p.Flush(ctx)
	p.p.Close()
	<-p.done
	return err
}

package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Producer writes records asynchronously. Delivery reports are drained by one
// goroutine owned by the Producer; the first delivery error is kept and
// returned by Flush and Close. Its methods may be called concurrently:
// Close waits for the calls in flight, and a call after Close returns
// ErrProducerClosed.
type Producer struct {
	producerCore
}

// producerCore is what Producer and TxnProducer share: the client, the
// goroutine draining its delivery reports, the first delivery error, and
// the count of calls in flight that keeps the client alive.
type producerCore struct {
	p        *ckafka.Producer
	done     chan struct{} // closed when the delivery-report goroutine exits
	logsDone chan struct{} // closed when the log goroutine exits
	// calls keeps p alive while a call uses it.
	calls inFlight

	errMu sync.Mutex // guards err
	err   error
}

// start creates the client of cm and starts draining its reports and its
// log (to log; nil: slog.Default()).
func (c *producerCore) start(cm *ckafka.ConfigMap, log *slog.Logger) error {
	// librdkafka's log lines ("%0|...|FATAL|..." when fenced) go to the
	// logs channel instead of raw to stderr.
	(*cm)["go.logs.channel.enable"] = true
	// confluent-kafka-go gives its Events and ProduceChannel channels a
	// million slots each by default: 24 MB per client, zeroed, the first
	// scanned by every GC. reports drains the events as they come, and
	// the produce channel is never used.
	for k, n := range map[string]int{"go.events.channel.size": 10000, "go.produce.channel.size": 1} {
		if _, ok := (*cm)[k]; !ok {
			(*cm)[k] = n
		}
	}
	typeGoProps(cm)
	pr, err := ckafka.NewProducer(cm)
	if err != nil {
		return fmt.Errorf("kafka: producer: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	c.p, c.done, c.logsDone = pr, make(chan struct{}), make(chan struct{})
	go c.reports()
	go logLibrdkafka(pr.Logs(), log, c.logsDone)
	return nil
}

// producerDefaults favour throughput for generators and tests.
func producerDefaults() Props {
	d := commonDefaults()
	d["linger.ms"] = "5"
	d["batch.num.messages"] = "10000"
	d["queue.buffering.max.messages"] = "1000000"
	d["go.delivery.report.fields"] = "none"
	return d
}

// NewProducer creates a producer.
// librdkafka's log goes to slog.Default().
func NewProducer(p Props) (*Producer, error) {
	cm, err := configMap(producerDefaults(), adminProps(p))
	if err != nil {
		return nil, err
	}
	out := &Producer{}
	if err := out.start(cm, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// reports keeps the first delivery error (or fatal client error) until
// the client is closed. A record purged by an aborted transaction is no
// error: its report may arrive after the next transaction began.
func (c *producerCore) reports() {
	defer close(c.done)
	for ev := range c.p.Events() {
		var err error
		switch e := ev.(type) {
		case *ckafka.Message:
			var kerr ckafka.Error
			if errors.As(e.TopicPartition.Error, &kerr) &&
				(kerr.Code() == ckafka.ErrPurgeQueue || kerr.Code() == ckafka.ErrPurgeInflight) {
				continue
			}
			if e.TopicPartition.Error != nil {
				err = fmt.Errorf("kafka: delivery to %s: %w", e.TopicPartition, e.TopicPartition.Error)
			}
		case ckafka.Error:
			if e.IsFatal() {
				err = fmt.Errorf("kafka: producer: %w", e)
			}
		}
		if err != nil {
			c.errMu.Lock()
			if c.err == nil {
				c.err = err
			}
			c.errMu.Unlock()
		}
	}
}

// deliveryErr is the first delivery error kept, nil if none; resetErr
// forgets it.
func (c *producerCore) deliveryErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

func (c *producerCore) resetErr() {
	c.errMu.Lock()
	c.err = nil
	c.errMu.Unlock()
}

// enter counts a call in, or says what failed once the producer is closed.
func (c *producerCore) enter(what string) error {
	if !c.calls.enter() {
		return fmt.Errorf("kafka: %s: %w", what, ErrProducerClosed)
	}
	return nil
}

// shut waits for the calls in flight, closes the client and waits for the
// report goroutine, once.
func (c *producerCore) shut() {
	c.calls.shut(func() {
		c.p.Close()
		<-c.done
		<-c.logsDone
	})
}

// ErrProducerClosed is returned by a Producer's methods after Close.
var ErrProducerClosed = errors.New("kafka: producer is closed")

// flushPoll is how often Flush, and Produce with librdkafka's queue full,
// look at the queue again. They wait rather than call confluent-kafka-go's
// Flush, which leaves a goroutine inside librdkafka's flush after it
// returns, a call that Close could not wait for. Delivery reports are
// polled by confluent-kafka-go's own goroutine either way; waiting only
// leaves linger.ms (5 ms by default) to pass before the last records are
// sent.
const flushPoll = 5 * time.Millisecond

// sleepCtx waits for d or until ctx is done, and returns ctx's error.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AnyPartition lets the partitioner choose (by key hash, or sticky without key).
const AnyPartition int32 = -1

// Produce enqueues one record. key may be nil. When librdkafka's queue is
// full it waits for room until ctx is done.
func (p *Producer) Produce(ctx context.Context, topic string, partition int32, key, value []byte) error {
	if !p.calls.enter() { // no "produce to "+topic built per record
		return fmt.Errorf("kafka: produce to %s: %w", topic, ErrProducerClosed)
	}
	defer p.calls.leave()
	msg := &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: partition},
		Key:            key,
		Value:          value,
	}
	if partition == AnyPartition {
		msg.TopicPartition.Partition = ckafka.PartitionAny
	}
	return produceQueued(ctx, p.p, msg, topic)
}

// Flush waits until every enqueued record is delivered or ctx is done, and
// returns the first delivery error seen so far.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.enter("flush"); err != nil {
		return err
	}
	defer p.calls.leave()
	return p.waitDelivered(ctx)
}

// waitDelivered waits until librdkafka's queue is empty or ctx is done,
// and returns the first delivery error kept.
func (c *producerCore) waitDelivered(ctx context.Context) error {
	for n := c.p.Len(); n > 0; n = c.p.Len() {
		if err := sleepCtx(ctx, flushPoll); err != nil {
			if n = c.p.Len(); n == 0 {
				break
			}
			return fmt.Errorf("kafka: flush: %d records undelivered: %w", n, err)
		}
	}
	return c.deliveryErr()
}

// Close flushes (bounded by ctx), waits for the calls in flight, closes the
// client and waits for the delivery-report goroutine. A second Close
// returns ErrProducerClosed.
func (p *Producer) Close(ctx context.Context) error {
	err := p.Flush(ctx)
	if errors.Is(err, ErrProducerClosed) {
		return err
	}
	p.shut()
	return err
}

// produceQueued enqueues msg, waiting (ctx permitting) while librdkafka's
// queue is full.
func produceQueued(ctx context.Context, p *ckafka.Producer, msg *ckafka.Message, topic string) error {
	for {
		err := p.Produce(msg, nil)
		if err == nil {
			return nil
		}
		var kerr ckafka.Error
		if errors.As(err, &kerr) && kerr.Code() == ckafka.ErrQueueFull {
			if err := sleepCtx(ctx, flushPoll); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("kafka: produce to %s: %w", topic, err)
	}
}

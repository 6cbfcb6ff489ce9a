package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/microbatch/microbatch/offsets"
)

// Admin lists topics, partitions and offsets. It is safe for concurrent
// use, Close included: Close waits for the calls in flight (see Close), and
// a call after Close returns ErrAdminClosed.
type Admin struct {
	client *ckafka.AdminClient
	// prod is the producer client holds the handle of: confluent-kafka-go
	// sends a handle's librdkafka log lines to a channel only for
	// producers and consumers.
	prod  producerCore
	props Props
	// calls keeps client alive while a call uses it, including a metadata
	// request that outlived its Topics call.
	calls inFlight
}

// ErrAdminClosed is returned by an Admin's methods after Close.
var ErrAdminClosed = errors.New("kafka: admin client is closed")

// NewAdmin connects an admin client. Connection happens lazily in librdkafka;
// errors about unreachable brokers surface on the first call. librdkafka's
// log lines go to log (nil: slog.Default()).
func NewAdmin(p Props, log *slog.Logger) (*Admin, error) {
	cm, err := configMap(commonDefaults(), adminProps(p))
	if err != nil {
		return nil, err
	}
	a := &Admin{props: p.Clone()}
	if err := a.prod.start(cm, log); err != nil {
		return nil, fmt.Errorf("kafka: admin client: %w", err)
	}
	if a.client, err = ckafka.NewAdminClientFromProducer(a.prod.p); err != nil {
		a.prod.shut()
		return nil, fmt.Errorf("kafka: admin client: %w", err)
	}
	return a, nil
}

// adminProps drops consumer-only properties librdkafka rejects on an admin
// (producer-type) handle, such as isolation.level.
func adminProps(p Props) Props {
	out := Props{}
	for k, v := range p {
		switch k {
		case "isolation.level", "group.id", "auto.offset.reset", "enable.auto.commit",
			"fetch.queue.backoff.ms", "queued.min.messages", "fetch.wait.max.ms",
			"fetch.min.bytes", "fetch.max.bytes", "max.partition.fetch.bytes",
			"enable.partition.eof", "enable.auto.offset.store", "session.timeout.ms",
			"queued.max.messages.kbytes", "check.crcs", "fetch.message.max.bytes":
			continue
		}
		out[k] = v
	}
	return out
}

// Close releases the client once no call uses it. It waits for the calls
// in flight, including a metadata request that Topics left running when
// its ctx ended: at most that request's timeout (10 s, or the deadline
// Topics' ctx had if sooner). The other calls end with their ctx.
// Calls made after Close return ErrAdminClosed.
func (a *Admin) Close() {
	a.calls.shut(func() {
		a.client.Close()
		a.prod.shut()
	})
}

// enter counts a call using the client until leave, or returns
// ErrAdminClosed after Close.
func (a *Admin) enter(what string) error {
	if !a.calls.enter() {
		return fmt.Errorf("kafka: %s: %w", what, ErrAdminClosed)
	}
	return nil
}

// timeoutMs is a request's timeout: limit, or less if ctx's deadline is
// sooner. A long deadline on ctx does not make one request wait for it:
// with the brokers down, the request fails after limit.
func timeoutMs(ctx context.Context, limit time.Duration) int {
	d := limit
	if dl, ok := ctx.Deadline(); ok {
		d = max(min(time.Until(dl), limit), time.Millisecond)
	}
	return int(d / time.Millisecond)
}

// Topics returns the partition count of every non-internal topic in the
// cluster. The metadata request times out after 10 s, or at ctx's deadline
// if sooner; cancelling ctx returns at once (the request itself ends by its
// timeout, and Close waits for it).
//
// A topic whose metadata carries an error (leader election, a broker not
// answering) is an error, not an absent topic: callers treat absent
// partitions as deleted, and a transient error must not look like that.
func (a *Admin) Topics(ctx context.Context) (map[string]int32, error) {
	type result struct {
		md  *ckafka.Metadata
		err error
	}
	if err := a.enter("metadata"); err != nil {
		return nil, err
	}
	ch := make(chan result, 1)
	timeout := timeoutMs(ctx, 10*time.Second)
	go func() { // ends when GetMetadata returns, within its timeout
		defer a.calls.leave() // Close waits for this, not for Topics
		md, err := a.client.GetMetadata(nil, true, timeout)
		ch <- result{md, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("kafka: metadata from %s: %w", a.props["bootstrap.servers"], ctx.Err())
	}
	if r.err != nil {
		return nil, fmt.Errorf("kafka: metadata from %s: %w", a.props["bootstrap.servers"], r.err)
	}
	out := make(map[string]int32, len(r.md.Topics))
	var errs []error
	for name, t := range r.md.Topics {
		if strings.HasPrefix(name, "__") {
			continue
		}
		switch t.Error.Code() {
		case ckafka.ErrNoError:
			out[name] = int32(len(t.Partitions))
		case ckafka.ErrUnknownTopicOrPart, ckafka.ErrUnknownTopic:
			// deleted: absent
		default:
			errs = append(errs, fmt.Errorf("kafka: metadata of topic %s: %w", name, t.Error))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Subscription selects partitions like Spark's Kafka source: exactly one of
// Topics (subscribe), Pattern (subscribePattern) or Assign.
type Subscription struct {
	Topics  []string
	Pattern *regexp.Regexp
	Assign  []offsets.TopicPartition
}

// Partitions resolves s against the cluster's current metadata and returns
// the matching partitions sorted by topic and partition. Subscribed topics
// that do not exist yet are simply absent; an assigned partition that does
// not exist is an error naming it.
func (a *Admin) Partitions(ctx context.Context, s Subscription) ([]offsets.TopicPartition, error) {
	topics, err := a.Topics(ctx)
	if err != nil {
		return nil, err
	}
	if len(s.Assign) > 0 {
		out := append([]offsets.TopicPartition(nil), s.Assign...)
		offsets.SortPartitions(out)
		for _, tp := range out {
			switch n, ok := topics[tp.Topic]; {
			case !ok:
				return nil, fmt.Errorf("kafka: assign: topic %q does not exist", tp.Topic)
			case tp.Partition >= n:
				return nil, fmt.Errorf("kafka: assign: partition %s does not exist: topic %s has %d partitions", tp, tp.Topic, n)
			}
		}
		return out, nil
	}
	var out []offsets.TopicPartition
	add := func(t string, n int32) {
		for p := int32(0); p < n; p++ {
			out = append(out, offsets.TopicPartition{Topic: t, Partition: p})
		}
	}
	if s.Pattern != nil {
		for t, n := range topics {
			if s.Pattern.MatchString(t) {
				add(t, n)
			}
		}
	} else {
		for _, t := range s.Topics {
			add(t, topics[t])
		}
	}
	offsets.SortPartitions(out)
	return out, nil
}

// ListOffsets returns, per partition, the earliest (which = offsets.Earliest)
// or latest (offsets.Latest) offset. With readCommitted the latest offset is
// the last stable offset, the end a read_committed consumer can reach.
// The request times out after 30 s, or at ctx's deadline if sooner.
func (a *Admin) ListOffsets(ctx context.Context, tps []offsets.TopicPartition, which int64, readCommitted bool) (map[offsets.TopicPartition]int64, error) {
	out := make(map[offsets.TopicPartition]int64, len(tps))
	if len(tps) == 0 {
		return out, nil
	}
	spec := ckafka.LatestOffsetSpec
	if which == offsets.Earliest {
		spec = ckafka.EarliestOffsetSpec
	}
	req := make(map[ckafka.TopicPartition]ckafka.OffsetSpec, len(tps))
	for _, tp := range tps {
		topic := tp.Topic
		req[ckafka.TopicPartition{Topic: &topic, Partition: tp.Partition}] = spec
	}
	iso := ckafka.IsolationLevelReadUncommitted
	if readCommitted {
		iso = ckafka.IsolationLevelReadCommitted
	}
	if err := a.enter("list offsets"); err != nil {
		return nil, err
	}
	defer a.calls.leave()
	// At most 30 s, however long ctx's deadline (see timeoutMs).
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := a.client.ListOffsets(ctx, req, ckafka.SetAdminIsolationLevel(iso))
	if err != nil {
		return nil, fmt.Errorf("kafka: list offsets: %w", err)
	}
	var errs []error
	for tp, info := range res.ResultInfos {
		key := offsets.TopicPartition{Topic: *tp.Topic, Partition: tp.Partition}
		if info.Error.Code() != ckafka.ErrNoError {
			errs = append(errs, fmt.Errorf("kafka: list offsets %s: %w", key, info.Error))
			continue
		}
		out[key] = int64(info.Offset)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// CreateTopic creates topic with the given partition count (replication 1).
// An existing topic is not an error.
func (a *Admin) CreateTopic(ctx context.Context, topic string, partitions int32, config map[string]string) error {
	return a.CreateTopicReplicated(ctx, topic, partitions, 1, config)
}

// CreateTopicReplicated creates topic with the given partition count and
// replication factor. An existing topic is not an error.
func (a *Admin) CreateTopicReplicated(ctx context.Context, topic string, partitions int32, replicationFactor int, config map[string]string) error {
	if err := a.enter("create topic " + topic); err != nil {
		return err
	}
	defer a.calls.leave()
	res, err := a.client.CreateTopics(ctx, []ckafka.TopicSpecification{{
		Topic: topic, NumPartitions: int(partitions), ReplicationFactor: replicationFactor, Config: config,
	}})
	if err != nil {
		return fmt.Errorf("kafka: create topic %s: %w", topic, err)
	}
	for _, r := range res {
		if c := r.Error.Code(); c != ckafka.ErrNoError && c != ckafka.ErrTopicAlreadyExists {
			return fmt.Errorf("kafka: create topic %s: %w", topic, r.Error)
		}
	}
	return nil
}

// CreatePartitions grows topic to total partitions.
func (a *Admin) CreatePartitions(ctx context.Context, topic string, total int32) error {
	if err := a.enter("create partitions " + topic); err != nil {
		return err
	}
	defer a.calls.leave()
	res, err := a.client.CreatePartitions(ctx, []ckafka.PartitionsSpecification{{Topic: topic, IncreaseTo: int(total)}})
	if err != nil {
		return fmt.Errorf("kafka: create partitions %s: %w", topic, err)
	}
	for _, r := range res {
		if r.Error.Code() != ckafka.ErrNoError {
			return fmt.Errorf("kafka: create partitions %s: %w", topic, r.Error)
		}
	}
	return nil
}

// DeleteRecords moves the log start offset of tp to before (retention's
// effect, on demand). Used by tests and by operators' tooling.
func (a *Admin) DeleteRecords(ctx context.Context, tp offsets.TopicPartition, before int64) error {
	if err := a.enter("delete records " + tp.String()); err != nil {
		return err
	}
	defer a.calls.leave()
	topic := tp.Topic
	res, err := a.client.DeleteRecords(ctx, []ckafka.TopicPartition{{Topic: &topic, Partition: tp.Partition, Offset: ckafka.Offset(before)}})
	if err != nil {
		return fmt.Errorf("kafka: delete records %s before %d: %w", tp, before, err)
	}
	for _, r := range res.DeleteRecordsResults {
		if r.TopicPartition.Error != nil {
			return fmt.Errorf("kafka: delete records %s before %d: %w", tp, before, r.TopicPartition.Error)
		}
	}
	return nil
}

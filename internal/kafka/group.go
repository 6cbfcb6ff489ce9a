package kafka

import (
	"context"
	"errors"
	"fmt"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/microbatch/microbatch/offsets"
)

// CommitGroupOffsets commits pos (the next offset to read of each
// partition, Kafka's convention) to consumer group as an admin
// (AlterConsumerGroupOffsets: an OffsetCommit outside any generation, as
// kafka-consumer-groups --reset-offsets does). The broker refuses it while
// the group has active members. The request ends with ctx. An error names
// every partition the broker refused.
func (a *Admin) CommitGroupOffsets(ctx context.Context, group string, pos map[offsets.TopicPartition]int64) error {
	if len(pos) == 0 {
		return nil
	}
	if err := a.enter("commit offsets of group " + group); err != nil {
		return err
	}
	defer a.calls.leave()
	tps := make([]offsets.TopicPartition, 0, len(pos))
	for tp := range pos {
		tps = append(tps, tp)
	}
	offsets.SortPartitions(tps)
	parts := make([]ckafka.TopicPartition, len(tps))
	for i, tp := range tps {
		topic := tp.Topic
		parts[i] = ckafka.TopicPartition{Topic: &topic, Partition: tp.Partition, Offset: ckafka.Offset(pos[tp])}
	}
	res, err := a.client.AlterConsumerGroupOffsets(ctx, []ckafka.ConsumerGroupTopicPartitions{{Group: group, Partitions: parts}})
	if err != nil {
		return fmt.Errorf("kafka: commit offsets of group %s: %w", group, err)
	}
	var errs []error
	for _, g := range res.ConsumerGroupsTopicPartitions {
		for _, p := range g.Partitions {
			if p.Error != nil {
				errs = append(errs, fmt.Errorf("%s: %w", offsets.TopicPartition{Topic: *p.Topic, Partition: p.Partition}, p.Error))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("kafka: commit offsets of group %s: %w", group, errors.Join(errs...))
	}
	return nil
}

package kafka

import (
	"sort"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// CheckProps asks librdkafka whether it accepts each property of p on a
// consumer (unknown names, invalid values) and returns one error per
// rejected property, by name. It connects nowhere: each property is set
// on a throwaway client without bootstrap servers, so job-file validation
// can point at the line of every bad property.
func CheckProps(p Props) map[string]error {
	out := map[string]error{}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cm := ckafka.ConfigMap{"group.id": "microbatch-check", "log_level": 0}
		cm[k] = p[k]
		c, err := ckafka.NewConsumer(&cm)
		if err != nil {
			out[k] = err
			continue
		}
		c.Close()
	}
	return out
}

// CheckProducerProps is CheckProps for a producer's properties (the Kafka
// sink's). All of p is tried on one throwaway producer first, the
// properties one by one only when it is refused: a producer takes up to
// 100 ms to close.
func CheckProducerProps(p Props) map[string]error {
	try := func(p Props) error {
		cm := ckafka.ConfigMap{"log_level": 0, "go.events.channel.size": 1, "go.produce.channel.size": 1}
		for k, v := range p {
			cm[k] = v
		}
		pr, err := ckafka.NewProducer(&cm)
		if err != nil {
			return err
		}
		pr.Close()
		return nil
	}
	out := map[string]error{}
	if len(p) == 0 || try(p) == nil {
		return out
	}
	for k, v := range p {
		if err := try(Props{k: v}); err != nil {
			out[k] = err
		}
	}
	return out
}

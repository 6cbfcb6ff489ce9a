package kafka

import (
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// CheckProps asks librdkafka whether it accepts each property of p on a
// consumer (unknown names, invalid values) and returns one error per
// rejected property, by name. It connects nowhere: the properties are set
// on a throwaway client without bootstrap servers, so job-file validation
// can point at the line of every bad property.
func CheckProps(p Props) map[string]error {
	return checkEach(p, func(p Props) error {
		cm := ckafka.ConfigMap{"group.id": "microbatch-check", "log_level": 0}
		for k, v := range p {
			cm[k] = v
		}
		c, err := ckafka.NewConsumer(&cm)
		if err != nil {
			return err
		}
		c.Close()
		return nil
	})
}

// CheckProducerProps is CheckProps for a producer's properties (the Kafka
// sink's).
func CheckProducerProps(p Props) map[string]error {
	return checkEach(p, func(p Props) error {
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
	})
}

// checkEach tries all of p on one throwaway client, and each property on
// its own only when that is refused (a producer takes up to 100 ms to
// close): the error of each refused property, by name.
func checkEach(p Props, try func(Props) error) map[string]error {
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

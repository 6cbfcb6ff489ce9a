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

package sinks

import (
	"fmt"

	"github.com/microbatch/microbatch/engine"
)

// The sinks describe themselves in progress records (engine.SinkDescriber,
// Spark's sink.description).

// Description names the topic and the delivery guarantee.
func (k *Kafka) Description() string {
	return fmt.Sprintf("KafkaSink[topic=%s, %s]", k.opts.Topic, k.opts.DeliveryGuarantee)
}

// Description names the directory and the format.
func (f *Files) Description() string {
	return fmt.Sprintf("FileSink[path=%s, format=%s]", f.opts.Path, f.opts.Format)
}

// Description names the table.
func (p *Postgres) Description() string {
	return fmt.Sprintf("PostgresSink[table=%s]", p.opts.Table)
}

// Description is the wrapped sink's, with the dead-letter topic.
func (s *deadLetterSink) Description() string {
	inner := fmt.Sprintf("%T", s.sink)
	if d, ok := s.sink.(engine.SinkDescriber); ok {
		inner = d.Description()
	}
	return fmt.Sprintf("%s+DeadLetters[topic=%s]", inner, s.opts.Topic)
}

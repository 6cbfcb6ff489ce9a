package kafka

import (
	"fmt"
	"strconv"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Props are librdkafka configuration properties ("bootstrap.servers",
// "security.protocol", "isolation.level", ...).
type Props map[string]string

// Clone returns a copy of p.
func (p Props) Clone() Props {
	out := make(Props, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// ReadCommitted reports whether p asks for isolation.level=read_committed.
// librdkafka's consumer default is read_committed; microbatch keeps it.
func (p Props) ReadCommitted() bool {
	v, ok := p["isolation.level"]
	return !ok || v == "read_committed"
}

// configMap builds a librdkafka ConfigMap from defaults overlaid with p.
func configMap(defaults, p Props) (*ckafka.ConfigMap, error) {
	if p["bootstrap.servers"] == "" {
		return nil, fmt.Errorf("kafka: bootstrap.servers is not set")
	}
	cm := ckafka.ConfigMap{}
	for k, v := range defaults {
		cm[k] = v
	}
	for k, v := range p {
		cm[k] = v
	}
	return &cm, nil
}

// commonDefaults apply to every client the product creates.
func commonDefaults() Props {
	return Props{
		// KIP-714 client metrics push is noise against brokers that do not
		// want it (kfake answers with an empty subscription).
		"enable.metrics.push": "false",
	}
}

// ConsumerDefaults are the consumer settings microbatch uses for range reads
// unless the job overrides them. DESIGN.md section 4: the default profile
// spends most of its time waiting; a 1 ms fetch queue backoff roughly
// doubles one consumer's throughput. The pre-fetch queue is kept moderate
// (50k messages or 16 MiB per partition): bench/ measured the engine at
// 1.02x raw confluent with it, against 0.75x with queued.min.messages=1M,
// whose deep pre-fetch past each range's end cost memory (785 MB peak RSS
// against 237 MB on a 10M-record topic) and time. The executors lower the
// 16 MiB per partition for a consumer of many partitions (ScalePrefetch).
func ConsumerDefaults() Props {
	d := commonDefaults()
	d["group.id"] = "microbatch" // required by librdkafka; never used: no subscribe, no commits
	d["enable.auto.commit"] = "false"
	d["enable.auto.offset.store"] = "false"
	d["auto.offset.reset"] = "error" // out-of-range is data loss, reported, never silently reset
	d["enable.partition.eof"] = "true"
	d["fetch.queue.backoff.ms"] = "1"
	d["queued.min.messages"] = "50000"
	d["queued.max.messages.kbytes"] = "16384"
	// A range that ends at the log end completes when a fetch comes back
	// empty at the high watermark (the EOF event): the broker holds that
	// fetch up to fetch.wait.max.ms, and a slot reads its partitions' ranges
	// in turn, so this wait is paid once per partition per batch. bench/
	// measured 64 partitions at 0.97x raw confluent with 10 ms, 0.48x with
	// 100 ms.
	d["fetch.wait.max.ms"] = "10"
	return d
}

// PrefetchBudgetKB is what one range-reading consumer may pre-fetch, over
// all its partitions, unless queued.max.messages.kbytes is set: librdkafka
// bounds the pre-fetch queue per partition, so a consumer of many
// partitions would otherwise hold up to 16 MiB for each.
const PrefetchBudgetKB = 64 << 10

// ScalePrefetch returns p with queued.max.messages.kbytes set so that a
// consumer reading the given number of partitions pre-fetches about
// PrefetchBudgetKB in all (between 1 MiB and ConsumerDefaults' 16 MiB per
// partition). A value the job sets is kept.
func ScalePrefetch(p Props, partitions int) Props {
	if _, ok := p["queued.max.messages.kbytes"]; ok || partitions <= 0 {
		return p
	}
	out := p.Clone()
	out["queued.max.messages.kbytes"] = strconv.Itoa(min(max(PrefetchBudgetKB/partitions, 1024), 16384))
	return out
}

package kafka

import (
	"fmt"
	"strconv"
	"strings"

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
// (50k messages or 16 MiB per consumer): bench/ measured the engine at
// 1.02x raw confluent with it, against 0.75x with queued.min.messages=1M,
// whose deep pre-fetch past each range's end cost memory (785 MB peak RSS
// against 237 MB on a 10M-record topic) and time. The executors lower the
// 16 MiB for a consumer of many partitions (ScalePrefetch).
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
	// fetch up to fetch.wait.max.ms. When a slot read its partitions'
	// ranges in turn this wait was paid once per partition per batch
	// (bench/ measured 64 partitions at 0.97x raw confluent with 10 ms,
	// 0.48x with 100 ms); read at once, once per batch.
	d["fetch.wait.max.ms"] = "10"
	return d
}

// prefetchBudgetKB sets, with ScalePrefetch, how much one range-reading
// consumer pre-fetches unless queued.max.messages.kbytes is set.
const prefetchBudgetKB = 64 << 10

// ScalePrefetch returns p with queued.max.messages.kbytes set for a
// consumer reading the given number of partitions: 64 MiB
// (prefetchBudgetKB) over the partitions, between 1 MiB and
// ConsumerDefaults' 16 MiB. A value the job sets is kept.
//
// librdkafka applies the bound to the consumer's one queue, not to each
// partition (librdkafka issue #2853), and caps fetch.max.bytes at it unless
// that is set, so a fetch response holds about that much: one producer
// batch of each of a few partitions. At many partitions a small bound
// keeps the responses small, and with them what a pause drops (a paused
// partition's queued records are discarded and fetched again on resume):
// bench/ measured 64 partitions (32 per consumer) with 2 MiB against
// 16 MiB at 7.6-7.9 s against 9.1-9.9 s of engine CPU for 3M records, and
// 309-323 MB against 681-728 MB peak RSS.
func ScalePrefetch(p Props, partitions int) Props {
	if _, ok := p["queued.max.messages.kbytes"]; ok || partitions <= 0 {
		return p
	}
	out := p.Clone()
	out["queued.max.messages.kbytes"] = strconv.Itoa(min(max(prefetchBudgetKB/partitions, 1024), 16384))
	return out
}

// connectionPrefixes name the properties a client needs to reach and
// authenticate to the cluster, whatever its role.
var connectionPrefixes = []string{
	"bootstrap.servers", "metadata.broker.list", "security.protocol", "ssl.", "sasl.", "oauthbearer.",
	"https.", "enable.ssl.", "enable.sasl.", "socket.", "broker.", "client.id", "client.rack",
	"client.dns.lookup", "api.version.", "connections.max.idle.ms", "reconnect.", "topic.metadata.",
	"metadata.", "debug", "log_level", "log.",
}

// connectionProps keeps the properties of p that say how to reach and
// authenticate to the cluster (bootstrap.servers, security.protocol,
// sasl.*, ssl.*, socket.*, debug, ...): what a client made for another
// role than p's (the Kafka sink's marker reader, a consumer, from the
// sink's producer properties) needs, without the properties librdkafka
// would warn about as the wrong role's.
func connectionProps(p Props) Props {
	out := Props{}
	for k, v := range p {
		for _, pre := range connectionPrefixes {
			if strings.HasPrefix(k, pre) {
				out[k] = v
				break
			}
		}
	}
	return out
}

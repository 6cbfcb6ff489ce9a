package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/microbatch/microbatch/internal/kafka"
)

// rawProduceRun is what -mode raw-produce prints: the sink's floor, raw
// confluent-kafka-go producing the rows -sink kafka's query outputs.
type rawProduceRun struct {
	Records      int64 `json:"records"`
	Bytes        int64 `json:"bytes"`
	Transactions int   `json:"transactions"`
	// Seconds and CPUSeconds are the wall and process CPU time of the
	// transactions (begin, produce, commit), summed: the rows of each are
	// generated before its clock starts, while librdkafka is idle.
	Seconds      float64 `json:"seconds"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	StartSeconds float64 `json:"start_seconds"` // client creation and InitTransactions
	// ChildCPUSeconds and BrokerCPUSeconds are set by the parent: the
	// whole child's CPU time (generating the rows included) and the
	// in-process broker's while it ran.
	ChildCPUSeconds  float64 `json:"child_cpu_seconds"`
	BrokerCPUSeconds float64 `json:"broker_cpu_seconds"`
}

// measureRawProduce runs -mode raw-produce in a child process, as the
// engine runs, and returns its run.
func measureRawProduce(ctx context.Context, cfg *config, addr string) (rawProduceRun, error) {
	var r rawProduceRun
	cpu, err := runChild(ctx, []string{"-mode", "raw-produce", "-brokers", addr, "-topic", cfg.topic,
		"-partitions", strconv.Itoa(cfg.partitions), "-messages", strconv.FormatInt(cfg.messages, 10),
		"-max-rate", strconv.FormatInt(cfg.batchCap(), 10), "-seed", strconv.FormatInt(cfg.seed, 10),
		"-keys", strconv.Itoa(cfg.keys), "-users", strconv.Itoa(cfg.users), "-guarantee", cfg.guarantee, "-sink-headers=" + strconv.FormatBool(cfg.sinkHeaders),
		"-producer-props", cfg.producerProps}, &r)
	if err != nil {
		return r, fmt.Errorf("raw produce %w", err)
	}
	r.ChildCPUSeconds, r.BrokerCPUSeconds = cpu.child.Seconds(), cpu.parent.Seconds()
	return r, nil
}

// rawProduceChild is -mode raw-produce: it regenerates the bench's
// records, keeps those -sink kafka's query keeps (a /products/ page),
// and produces each as the JSON object of its timestamp, userid and
// page, with the sink's two headers (unless -sink-headers=false), to a
// new topic of -partitions partitions, without a key and partitioned by
// librdkafka as the sink's rows are (its sticky partitioner). With -guarantee exactly-once every batch's
// worth of input (-max-rate records of each partition, as the engine's
// batches) is one transaction, with the sink's producer settings;
// at-least-once, an idempotent producer flushed at those boundaries.
func rawProduceChild(ctx context.Context, cfg *config) error {
	topic := cfg.topic + ".raw-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	a, err := kafka.NewAdmin(kafka.Props{"bootstrap.servers": cfg.brokers}, nil)
	if err != nil {
		return err
	}
	err = a.CreateTopic(ctx, topic, int32(cfg.partitions), nil)
	a.Close()
	if err != nil {
		return err
	}
	txn := cfg.guarantee == "exactly-once"
	// As the sink's producer (internal/kafka): delivery reports for failed
	// records only, passed as a string, which confluent-kafka-go hands to
	// librdkafka (its Go-side check refuses a bool true, for the reports
	// of records produced with a delivery channel, which none is here);
	// Go channels of 10k events and 1 produce request, not a million each.
	cm := ckafka.ConfigMap{"bootstrap.servers": cfg.brokers, "enable.idempotence": true, "linger.ms": 5,
		"delivery.report.only.error": "true", "go.delivery.report.fields": "none", "log_level": 4,
		"go.events.channel.size": 10000, "go.produce.channel.size": 1}
	if txn {
		cm["transactional.id"] = topic
	}
	for k, v := range cfg.prodProps {
		cm[k] = v
	}
	start := time.Now()
	p, err := ckafka.NewProducer(&cm)
	if err != nil {
		return err
	}
	defer p.Close()
	go func() { // owned by rawProduceChild: ends when Close closes Events
		for e := range p.Events() {
			if m, ok := e.(*ckafka.Message); ok && m.TopicPartition.Error != nil {
				fmt.Fprintln(os.Stderr, "bench: raw produce:", m.TopicPartition.Error)
				os.Exit(1)
			}
		}
	}()
	if txn {
		if err := p.InitTransactions(ctx); err != nil {
			return err
		}
	}
	recs, err := newRecordsUsers(cfg.seed, cfg.keys, cfg.users, "json")
	if err != nil {
		return err
	}
	run := rawProduceRun{StartSeconds: time.Since(start).Seconds()}
	perBatch := cfg.maxRate * int64(cfg.partitions)
	msg := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic}}
	batchHdr := []byte(nil)
	if cfg.sinkHeaders {
		msg.Headers = []ckafka.Header{{Key: "microbatch.job", Value: []byte("bench")}, {Key: "microbatch.batch"}}
	}
	var fields [4][]byte
	var buf []byte // this transaction's values, back to back
	var ends []int // where each ends in buf
	for lo := int64(0); lo < cfg.messages; lo += perBatch {
		buf, ends = buf[:0], ends[:0]
		for i := lo; i < min(lo+perBatch, cfg.messages); i++ {
			_, v := recs.next()
			if err := splitClick(v, &fields); err != nil {
				return err
			}
			if !bytes.HasPrefix(fields[2], []byte("/products/")) {
				continue
			}
			buf = append(append(append(append(append(append(append(buf,
				`{"timestamp":"`...), fields[0]...), `","userid":"`...), fields[1]...), `","page":"`...), fields[2]...), `"}`...)
			ends = append(ends, len(buf))
		}
		if msg.Headers != nil {
			batchHdr = strconv.AppendInt(batchHdr[:0], int64(run.Transactions), 10)
			msg.Headers[1].Value = batchHdr
		}
		t0, cpu0 := time.Now(), processCPU()
		if txn {
			if err := p.BeginTransaction(); err != nil {
				return err
			}
		}
		from := 0
		for _, end := range ends {
			msg.Value = buf[from:end]
			from = end
			msg.TopicPartition.Partition = ckafka.PartitionAny
			for {
				err := p.Produce(msg, nil)
				if err == nil {
					break
				}
				if e, ok := err.(ckafka.Error); !ok || e.Code() != ckafka.ErrQueueFull {
					return err
				}
				p.Flush(10)
			}
			run.Records++
			run.Bytes += int64(len(msg.Value))
		}
		if txn {
			if err := p.CommitTransaction(ctx); err != nil {
				return err
			}
		} else {
			for p.Flush(1000) > 0 {
			}
		}
		run.Seconds += time.Since(t0).Seconds()
		run.CPUSeconds += (processCPU() - cpu0).Seconds()
		run.Transactions++
	}
	return json.NewEncoder(os.Stdout).Encode(run)
}

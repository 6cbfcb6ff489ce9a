package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/microbatch/microbatch/internal/broker"
)

func newBrokerCmd(stopSignals func()) *cobra.Command {
	var (
		cfg    broker.Config
		topics []string
	)
	cmd := &cobra.Command{
		Use:   "broker --listen ADDR [--data-dir DIR] [--topic NAME:PARTITIONS]... [--default-partitions N] [--auto-create-topics=false]",
		Short: "Run a Kafka-protocol broker for local work (kfake); prints its address",
		Long: `Run a one-node Kafka-protocol broker (kfake) until SIGINT or SIGTERM.

Once it accepts connections it prints exactly one line on stdout:
  listening on HOST:PORT
With --data-dir, topics and records survive restarts.

A topic that does not exist is created, with --default-partitions
partitions, when a client asks for it, as Kafka does with
auto.create.topics.enable: when a metadata request names it and allows
auto-creation. Producers allow it by default (librdkafka, so kcat -P, and
the Java client); librdkafka consumers do not, and franz-go clients only
with kgo.AllowAutoTopicCreation. An auto-created topic is kept in
--data-dir at once, like a --topic one. --default-partitions is also the
count of a topic created by a CreateTopics request that gives none (Kafka's
num.partitions). --auto-create-topics=false turns auto-creation off: asking
for a missing topic then fails with "Unknown topic or partition".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg.DefaultPartitions < 1 || cfg.DefaultPartitions > 100000 {
				return usagef(cmd, "--default-partitions must be between 1 and 100000, got %d", cfg.DefaultPartitions)
			}
			for _, t := range topics {
				tp, err := broker.ParseTopic(t)
				if err != nil {
					return usagef(cmd, "--topic: %v", err)
				}
				cfg.Topics = append(cfg.Topics, tp)
			}
			ctx := cmd.Context()
			b, err := broker.Start(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "listening on %s\n", b.Addr())
			<-ctx.Done()
			stopSignals()
			return b.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:9092", "address to listen on, HOST:PORT (port 0 picks a free one)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "keep topics and records in this directory across restarts (default: in memory)")
	f.BoolVar(&cfg.SyncWrites, "sync-writes", false, "fsync every produced batch (with --data-dir)")
	f.StringArrayVar(&topics, "topic", nil, "create topic NAME with PARTITIONS partitions unless it exists (repeatable)")
	f.BoolVar(&cfg.AutoCreateTopics, "auto-create-topics", true, "create a missing topic when a client's metadata request asks for it (Kafka's auto.create.topics.enable)")
	f.Int32Var(&cfg.DefaultPartitions, "default-partitions", 1, "partitions of an auto-created topic, or of one created without a count (Kafka's num.partitions)")
	return cmd
}

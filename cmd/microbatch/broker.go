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
		Use:   "broker --listen ADDR [--data-dir DIR] [--topic NAME:PARTITIONS]...",
		Short: "Run a Kafka-protocol broker for local work (kfake); prints its address",
		Long: `Run a one-node Kafka-protocol broker (kfake) until SIGINT or SIGTERM.

Once it accepts connections it prints exactly one line on stdout:
  listening on HOST:PORT
With --data-dir, topics and records survive restarts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
	return cmd
}

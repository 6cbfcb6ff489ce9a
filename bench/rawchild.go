package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// rawRun is one raw read as a child process (-mode raw-confluent or
// raw-franz) prints it.
type rawRun struct {
	Records int64   `json:"records"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

// measureRaw runs one raw read, which is "confluent" or "franz", in a child
// process like the engine's, unless -in-process: a reader in the broker's
// process shares one Go runtime with it, which a reader in another process
// (the engine, or any real deployment) cannot. It returns the read and its
// CPU time: the child's, or in-process this process's (broker included).
func measureRaw(ctx context.Context, cfg *config, addr, which string) (readStats, time.Duration, error) {
	if cfg.inProcess {
		cpu0 := processCPU()
		st, err := rawRead(ctx, cfg, addr, which)
		return st, processCPU() - cpu0, err
	}
	var r rawRun
	cpu, err := runChild(ctx, []string{"-mode", "raw-" + which, "-brokers", addr, "-topic", cfg.topic,
		"-partitions", strconv.Itoa(cfg.partitions), "-messages", strconv.FormatInt(cfg.messages, 10),
		"-consumers", strconv.Itoa(cfg.consumers), "-confluent-props", cfg.confluentProps}, &r)
	if err != nil {
		return readStats{}, 0, fmt.Errorf("raw %s %w", which, err)
	}
	return readStats{records: r.Records, bytes: r.Bytes, elapsed: time.Duration(r.Seconds * float64(time.Second))}, cpu.child, nil
}

func rawRead(ctx context.Context, cfg *config, addr, which string) (readStats, error) {
	switch which {
	case "confluent":
		return readConfluent(ctx, addr, cfg.topic, cfg.partitions, cfg.consumers, cfg.rdkProps)
	case "franz":
		return readFranz(ctx, addr, cfg.topic, cfg.partitions, cfg.messages)
	}
	return readStats{}, fmt.Errorf("unknown raw reader %q", which)
}

// rawChild is -mode raw-confluent and raw-franz: one raw read of -topic at
// -brokers, printed as JSON.
func rawChild(ctx context.Context, cfg *config) error {
	st, err := rawRead(ctx, cfg, cfg.brokers, strings.TrimPrefix(cfg.mode, "raw-"))
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(rawRun{Records: st.records, Bytes: st.bytes, Seconds: st.elapsed.Seconds()})
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"github.com/microbatch/microbatch/dataframe"
)

// engineRun is one engine measurement. It is what an engine child process
// prints as JSON.
type engineRun struct {
	Rows       int64   `json:"rows"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"` // Run's wall time: open checkpoint to return
	MsgsPerSec float64 `json:"msgs_per_sec"`
	StateRows  int64   `json:"state_rows"`
	OutputRows int64   `json:"output_rows"` // rows the query output (Progress.OutputRows)
	SinkTopic  string  `json:"sink_topic,omitempty"`
	PeakRSS    int64   `json:"peak_rss_bytes"` // VmHWM of the child; 0 in-process
	// GoPeakBytes is the most memory the Go runtime held from the OS
	// (runtime.MemStats.Sys minus HeapReleased) after any batch: the rest
	// of PeakRSS is librdkafka's (C) memory.
	GoPeakBytes int64 `json:"go_peak_bytes"`
	// CPUSeconds is the child's user plus system CPU time, set by the
	// parent; 0 in-process.
	CPUSeconds float64 `json:"cpu_seconds"`
	// ParentCPUSeconds is the bench process's CPU time while the child
	// ran, set by the parent: the in-process broker's work for the run.
	ParentCPUSeconds float64 `json:"parent_cpu_seconds,omitempty"`

	BatchMs    []float64            `json:"batch_ms"`
	OverheadMs []float64            `json:"driver_overhead_ms"`
	PhaseMs    map[string][]float64 `json:"phase_ms"`
	StartedAt  []time.Time          `json:"started_at"` // trigger time of every batch
	Lag        []int64              `json:"lag"`
	Rows1      []int64              `json:"batch_rows"`
	// Scrapes is how many times /metrics was fetched (-ui scrape).
	Scrapes int `json:"scrapes,omitempty"`
	// Estimates are -query distinct's last result rows, "page=users".
	Estimates []string `json:"estimates,omitempty"`
}

// engineOptions are the knobs of one engine run.
type engineOptions struct {
	addr, topic, format string
	outputMode          dataframe.OutputMode
	maxRate             int64
	executors           int
	noSync              bool
	props               string // k=v,k=v librdkafka properties
	// processingTime 0 is availableNow (the whole topic, then return).
	processingTime time.Duration
	// sink "kafka" runs appendQuery into a Kafka topic with guarantee
	// (exactly-once or at-least-once), or with noSinkRun into a sink that
	// discards; "" or "none" runs clickQuery into a sink that discards.
	sink, guarantee string
	sinkHeaders     bool // the Kafka sink's rows carry the batch headers
	noSinkRun       bool
	partitions      int // of the sink's topic
	// joinTable, when set, runs joinQuery over it instead of clickQuery.
	joinTable *dataframe.StaticTable
	// ui is -ui: "off", "on" (the web UI and /metrics served and fed every
	// batch) or "scrape" (on, and /metrics fetched every second).
	ui     string
	query  string // "window": windowQuery in append mode
	policy string // -watermark-policy: global | perPartition
}

// engineOptions are the availableNow engine run's options from the
// command line; noSinkRun is the -sink run's baseline.
func (c *config) engineOptions(addr string, noSinkRun bool) engineOptions {
	return engineOptions{addr: addr, topic: c.topic, format: c.format, outputMode: c.outputMode, maxRate: c.batchCap(),
		executors: c.executors, noSync: c.noSync, props: c.engProps,
		sink: c.sink, guarantee: c.guarantee, sinkHeaders: c.sinkHeaders, noSinkRun: noSinkRun, partitions: c.partitions, ui: c.ui, query: c.query, policy: c.policy}
}

// measureEngine runs the availableNow engine measurement, in a child
// process (so that its peak RSS is its own) unless -in-process.
// noSinkRun is -sink's baseline: the same query into a sink that
// discards (never profiled).
func measureEngine(ctx context.Context, cfg *config, addr string, run int, noSinkRun bool) (engineRun, error) {
	profile := cfg.cpuProfile
	if noSinkRun {
		profile = ""
	}
	if cfg.inProcess {
		stopProf, err := startProfileOnce(profile, run)
		if err != nil {
			return engineRun{}, err
		}
		defer stopProf()
		return runEngine(ctx, cfg.engineOptions(addr, noSinkRun))
	}
	args := []string{"-mode", "engine", "-brokers", addr, "-topic", cfg.topic, "-format", cfg.format, "-output-mode", cfg.outputMode.String(),
		"-partitions", strconv.Itoa(cfg.partitions), "-messages", strconv.FormatInt(cfg.messages, 10),
		"-max-rate", strconv.FormatInt(cfg.batchCap(), 10), "-executors", strconv.Itoa(cfg.executors),
		"-nosync=" + strconv.FormatBool(cfg.noSync), "-engine-props", cfg.engProps,
		"-sink", cfg.sink, "-guarantee", cfg.guarantee, "-sink-headers=" + strconv.FormatBool(cfg.sinkHeaders), "-nosink-run=" + strconv.FormatBool(noSinkRun), "-ui", cfg.ui, "-query", cfg.query,
		"-watermark-policy", cfg.policy}
	if profile != "" && run == 0 {
		args = append(args, "-cpuprofile", profile)
	}
	var er engineRun
	cpu, err := runChild(ctx, args, &er)
	if err != nil {
		return engineRun{}, fmt.Errorf("engine %w", err)
	}
	er.CPUSeconds, er.ParentCPUSeconds = cpu.child.Seconds(), cpu.parent.Seconds()
	return er, nil
}

// runChild runs this binary with args (a -mode), which prints its result
// as JSON, decodes that into out and returns the CPU time it took.
func runChild(ctx context.Context, args []string, out any) (childCPU, error) {
	self, err := os.Executable()
	if err != nil {
		return childCPU{}, err
	}
	cmd := exec.CommandContext(ctx, self, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	parent0 := processCPU()
	if err := cmd.Run(); err != nil {
		return childCPU{}, fmt.Errorf("child: %w", err)
	}
	cpu := childCPU{child: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), parent: processCPU() - parent0}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return childCPU{}, fmt.Errorf("child output: %w", err)
	}
	return cpu, nil
}

// childCPU is the CPU time a child process took (user plus system), and
// what this process took while it ran: with the in-process kfake broker,
// the broker's work for the child, as this process only waits otherwise.
type childCPU struct{ child, parent time.Duration }

// startProfileOnce profiles only the first run.
func startProfileOnce(path string, run int) (func(), error) {
	if run != 0 {
		return func() {}, nil
	}
	return startProfile(path)
}

// batchSpanMs is the time covered by at least one batch: batch i runs
// from starts[i] for ms[i]. With fetch-ahead a batch starts while the one
// before it finishes, so the batches' own sum counts that time twice.
func batchSpanMs(starts []time.Time, ms []float64) float64 {
	type span struct{ from, to time.Time }
	spans := make([]span, 0, len(ms))
	for i, d := range ms {
		if i < len(starts) {
			spans = append(spans, span{starts[i], starts[i].Add(time.Duration(d * float64(time.Millisecond)))})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	var total time.Duration
	var end time.Time
	for _, s := range spans {
		if s.from.After(end) {
			total += s.to.Sub(s.from)
		} else if s.to.After(end) {
			total += s.to.Sub(end)
		}
		if s.to.After(end) {
			end = s.to
		}
	}
	return float64(total) / float64(time.Millisecond)
}

// summariseEngine fills res from the engine runs: the median rate, and
// batch and overhead percentiles over every batch of every run.
func summariseEngine(res *Result, runs []engineRun) {
	var rates, batches, overheads, outside, cpus []float64
	phases := map[string][]float64{}
	for _, r := range runs {
		rates = append(rates, r.MsgsPerSec)
		cpus = append(cpus, r.CPUSeconds)
		outside = append(outside, r.Seconds*1000-batchSpanMs(r.StartedAt, r.BatchMs))
		batches = append(batches, r.BatchMs...)
		overheads = append(overheads, r.OverheadMs...)
		for k, v := range r.PhaseMs {
			phases[k] = append(phases[k], v...)
		}
		res.EnginePeakRSSBytes = max(res.EnginePeakRSSBytes, r.PeakRSS)
		res.EngineGoPeakBytes = max(res.EngineGoPeakBytes, r.GoPeakBytes)
		res.EngineStateRows = r.StateRows
	}
	res.AllRuns["engine"] = rates
	res.EngineMsgsPerSec = median(rates)
	res.EngineCPUSeconds = median(cpus)
	res.EngineOutsideBatchesMs = median(outside)
	res.EngineBatches = len(runs[0].BatchMs)
	res.FirstRunBatchMs, res.FirstRunPhaseMs = runs[0].BatchMs, runs[0].PhaseMs
	res.BatchP50Ms = percentile(batches, 50)
	res.BatchP99Ms = percentile(batches, 99)
	res.DriverOverheadP50Ms = percentile(overheads, 50)
	res.DriverOverheadP99Ms = percentile(overheads, 99)
	res.PhaseP50Ms = map[string]float64{}
	for k, v := range phases {
		res.PhaseP50Ms[k] = percentile(v, 50)
	}
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is the bench JSON (DESIGN.md section 3: the first block of fields
// is a fixed contract; the rest are extensions). Rates are medians over the
// interleaved runs.
type Result struct {
	Messages     int64 `json:"messages"`
	Partitions   int   `json:"partitions"`
	MessageBytes int   `json:"message_bytes"` // mean record value size

	RawConfluentMsgsPerSec float64 `json:"raw_confluent_msgs_per_sec"`
	RawFranzMsgsPerSec     float64 `json:"raw_franz_msgs_per_sec"`
	EngineMsgsPerSec       float64 `json:"engine_msgs_per_sec"`
	EngineVsRawConfluent   float64 `json:"engine_vs_raw_confluent"`
	BatchP50Ms             float64 `json:"batch_p50_ms"`
	BatchP99Ms             float64 `json:"batch_p99_ms"`
	DriverOverheadP50Ms    float64 `json:"driver_overhead_p50_ms"`
	PeakRSSBytes           int64   `json:"peak_rss_bytes"`
	JSONDecodeVsArrow      float64 `json:"json_decode_vs_arrow"`
	CSVDecodeVsArrow       float64 `json:"csv_decode_vs_arrow"`

	// Extensions.
	Scenario            string             `json:"scenario"`
	Format              string             `json:"format"`
	OutputMode          string             `json:"output_mode,omitempty"` // the engine's; "" in files from before the flag: complete
	Keys                int                `json:"keys"`                  // distinct pages; 0 = internal/gen's own (~1.1k)
	Runs                int                `json:"runs"`
	Consumers           int                `json:"raw_confluent_consumers"`
	EngineProps         string             `json:"engine_props,omitempty"` // -engine-props
	MaxRatePerPartition int64              `json:"max_rate_per_partition"`
	EngineBatches       int                `json:"engine_batches"`
	EngineStateRows     int64              `json:"engine_state_rows"`
	EngineVsRawFranz    float64            `json:"engine_vs_raw_franz"`
	DriverOverheadP99Ms float64            `json:"driver_overhead_p99_ms"`
	PhaseP50Ms          map[string]float64 `json:"phase_p50_ms,omitempty"`
	// EngineOutsideBatchesMs is Run's wall time minus the time its batches
	// cover, overlapping batches counted once (median over runs): checkpoint
	// open, admin and consumer start, offset listing before the first
	// batch, closing.
	EngineOutsideBatchesMs float64              `json:"engine_outside_batches_ms"`
	FirstRunBatchMs        []float64            `json:"engine_first_run_batch_ms,omitempty"`
	FirstRunPhaseMs        map[string][]float64 `json:"engine_first_run_phase_ms,omitempty"`
	EnginePeakRSSBytes     int64                `json:"engine_peak_rss_bytes"` // the engine's child process alone; 0 if in-process
	EngineGoPeakBytes      int64                `json:"engine_go_peak_bytes"`  // of which the Go runtime's (the rest is librdkafka's)
	// EngineCPUSeconds is the engine child's user plus system CPU time
	// (median over runs; 0 in-process): what the engine costs, less
	// sensitive than its rate to other load on the machine.
	EngineCPUSeconds float64 `json:"engine_cpu_seconds"`
	// RawConfluentCPUSeconds is the CPU time of each raw confluent read:
	// its child process's, or with -in-process the bench process's (the
	// in-process broker's included).
	RawConfluentCPUSeconds []float64            `json:"raw_confluent_cpu_seconds,omitempty"`
	PeakRSSNote            string               `json:"peak_rss_note"`
	Decode                 *DecodeResult        `json:"decode,omitempty"`
	AllRuns                map[string][]float64 `json:"all_runs_msgs_per_sec,omitempty"`
	Interval               *IntervalResult      `json:"interval,omitempty"`
	State                  *StateResult         `json:"state,omitempty"`
	LoadAvg                string               `json:"load_avg"`
	GOMAXPROCS             int                  `json:"gomaxprocs"`
	Started                time.Time            `json:"started"`
	ProduceSeconds         float64              `json:"produce_seconds"`
	Notes                  []string             `json:"notes,omitempty"`

	// -sink kafka: the engine figures above are appendQuery's into a Kafka
	// topic; these compare them with the same query into a sink that
	// discards, run right after each of them.
	Sink                     string  `json:"sink,omitempty"`      // none | kafka; "" in files from before the flag: none
	Guarantee                string  `json:"guarantee,omitempty"` // of -sink kafka
	EngineOutputRows         int64   `json:"engine_output_rows,omitempty"`
	EngineNoSinkMsgsPerSec   float64 `json:"engine_nosink_msgs_per_sec,omitempty"`
	SinkVsNoSink             float64 `json:"sink_vs_nosink,omitempty"`
	EngineNoSinkCPUSeconds   float64 `json:"engine_nosink_cpu_seconds,omitempty"`
	EngineNoSinkPeakRSSBytes int64   `json:"engine_nosink_peak_rss_bytes,omitempty"`
	// SinkP50Ms and SinkP99Ms are over every batch of every run of
	// Durations.Sink, the sink's AddBatch: with exactly-once the batch's
	// whole Kafka transaction (produce, progress marker, commit), with
	// at-least-once produce and flush.
	SinkP50Ms float64 `json:"sink_p50_ms,omitempty"`
	SinkP99Ms float64 `json:"sink_p99_ms,omitempty"`
	// RawProduce* are -sink kafka's floor, medians over runs: raw
	// confluent-kafka-go producing the same rows, with the sink's headers
	// and producer settings, one transaction per engine batch (-mode
	// raw-produce, a child process). Seconds from InitTransactions done to
	// the last commit; StartSeconds client creation and InitTransactions;
	// CPU the child's while it produced (not while it generated the rows:
	// files from before 2026-12-06 counted both, and the generation in
	// Seconds too); BrokerCPU the in-process broker's while it ran.
	RawProduceMsgsPerSec       float64 `json:"raw_produce_msgs_per_sec,omitempty"`
	RawProduceSeconds          float64 `json:"raw_produce_seconds,omitempty"`
	RawProduceStartSeconds     float64 `json:"raw_produce_start_seconds,omitempty"`
	RawProduceCPUSeconds       float64 `json:"raw_produce_cpu_seconds,omitempty"`
	RawProduceBrokerCPUSeconds float64 `json:"raw_produce_broker_cpu_seconds,omitempty"`
	EngineSecondsMedian        float64 `json:"engine_seconds,omitempty"`
	EngineNoSinkSecondsMedian  float64 `json:"engine_nosink_seconds,omitempty"`
	// Engine(NoSink)BrokerCPUSeconds are the in-process broker's CPU time
	// during the engine runs with and without the sink (medians).
	EngineBrokerCPUSeconds       float64 `json:"engine_broker_cpu_seconds,omitempty"`
	EngineNoSinkBrokerCPUSeconds float64 `json:"engine_nosink_broker_cpu_seconds,omitempty"`
	// SinkFloorSeconds is the CPU time of the run with the sink (median,
	// the broker's included) over the CPUs: the least time the run could
	// take, every core busy all along, without less work per row.
	// SinkBatchHeaders is -sink-headers.
	SinkFloorSeconds float64 `json:"sink_floor_seconds,omitempty"`
	SinkBatchHeaders *bool   `json:"sink_batch_headers,omitempty"`
}

// percentile returns the p-th percentile (0..100) of xs by the
// nearest-rank method; 0 for no data. xs is not modified.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// median is the middle value (mean of the two middle ones for even n).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// peakRSS reads VmHWM (the high-water mark of resident memory) of this
// process from /proc/self/status; 0 where unavailable.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	return parseVmHWM(f)
}

func parseVmHWM(r io.Reader) int64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmHWM:") {
			continue
		}
		fs := strings.Fields(strings.TrimPrefix(line, "VmHWM:"))
		if len(fs) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// loadAvg is /proc/loadavg's first three fields, to say how busy the
// machine was.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fs := strings.Fields(string(b))
	if len(fs) < 3 {
		return ""
	}
	return strings.Join(fs[:3], " ")
}

// writeJSON writes v indented to path ("-" = stdout).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// row is one line of the printed table.
type row struct {
	name   string
	msgs   float64 // msgs/s (or rows/s)
	mbytes float64 // MB/s of record values
}

// printTable prints rows with their ratio to raw confluent and raw franz.
func printTable(w io.Writer, rows []row, confluent, franz float64) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-28s %14s %10s %10s %10s\n", "measurement", "msgs/s", "MB/s", "/confluent", "/franz")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-28s %14s %10.1f %10s %10s\n", r.name, human(r.msgs), r.mbytes,
			fmtRatio(ratio(r.msgs, confluent)), fmtRatio(ratio(r.msgs, franz)))
	}
	w.Write(b.Bytes())
}

func fmtRatio(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

// human formats n with thousands separators.
func human(n float64) string {
	s := strconv.FormatInt(int64(math.Round(n)), 10)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

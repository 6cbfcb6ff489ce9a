package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/microbatch/microbatch/dataframe"
)

// setupTopic starts (or connects to) the cluster, creates a fresh topic and
// fills it. The caller closes the cluster.
func setupTopic(ctx context.Context, cfg *config, res *Result) (*cluster, error) {
	cl, err := startCluster(cfg.brokers)
	if err != nil {
		return nil, err
	}
	if cfg.topic == "" {
		cfg.topic = fmt.Sprintf("bench-%d", time.Now().UnixNano())
	}
	if err := cl.createTopic(ctx, cfg.topic, cfg.partitions); err != nil {
		cl.close()
		return nil, err
	}
	recs, err := newRecordsUsers(cfg.seed, cfg.keys, cfg.users, cfg.format)
	if err != nil {
		cl.close()
		return nil, err
	}
	logf("producing %d %s records to %s (%d partitions, keys=%d, users=%d) at %s", cfg.messages, cfg.format, cfg.topic, cfg.partitions, cfg.keys, cfg.users, cl.addr)
	ps, err := cl.produce(ctx, cfg.topic, cfg.partitions, cfg.messages, 0, recs)
	if err != nil {
		cl.close()
		return nil, err
	}
	logf("produced in %s (%.0f msgs/s)", ps.elapsed.Round(time.Millisecond), float64(ps.records)/ps.elapsed.Seconds())
	res.MessageBytes = int(ps.bytes / max(ps.records, 1))
	res.ProduceSeconds = ps.elapsed.Seconds()
	return cl, nil
}

// processCPU is the user plus system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// throughput is the default scenario: raw confluent, raw franz-go and the
// engine on one topic, interleaved, cfg.runs times; then the decoders.
func throughput(ctx context.Context, cfg *config) error {
	res := &Result{
		Scenario: "throughput", Messages: cfg.messages, Partitions: cfg.partitions,
		Format: cfg.format, OutputMode: outputModeOf(cfg), Keys: cfg.keys, Runs: cfg.runs, Consumers: min(cfg.consumers, cfg.partitions),
		MaxRatePerPartition: cfg.batchCap(), Sink: cfg.sink,
		Guarantee: guaranteeOf(cfg), EngineProps: cfg.engProps, GOMAXPROCS: runtime.GOMAXPROCS(0), Started: time.Now().UTC(),
		AllRuns: map[string][]float64{},
	}
	if cfg.sink == "kafka" {
		res.SinkBatchHeaders = &cfg.sinkHeaders
	}
	cl, err := setupTopic(ctx, cfg, res)
	if err != nil {
		return err
	}
	defer cl.close()

	var confluent, franz []readStats
	var engines, noSinks []engineRun
	var rawProduces []rawProduceRun
	for i := range cfg.runs {
		if !cfg.skip["confluent"] {
			st, cpu, err := measureRaw(ctx, cfg, cl.addr, "confluent")
			if err != nil {
				return fmt.Errorf("raw confluent: %w", err)
			}
			if st.records != cfg.messages {
				return fmt.Errorf("raw confluent read %d records, want %d", st.records, cfg.messages)
			}
			res.RawConfluentCPUSeconds = append(res.RawConfluentCPUSeconds, cpu.Seconds())
			logf("run %d raw confluent: %.0f msgs/s (%s, CPU %.2f s%s)", i+1, st.msgsPerSec(), st.elapsed.Round(time.Millisecond), cpu.Seconds(), cl.cpuNote(cfg))
			confluent = append(confluent, st)
		}
		if !cfg.skip["franz"] {
			st, _, err := measureRaw(ctx, cfg, cl.addr, "franz")
			if err != nil {
				return fmt.Errorf("raw franz-go: %w", err)
			}
			logf("run %d raw franz-go: %.0f msgs/s (%s)", i+1, st.msgsPerSec(), st.elapsed.Round(time.Millisecond))
			franz = append(franz, st)
		}
		if !cfg.skip["engine"] {
			er, err := measureEngine(ctx, cfg, cl.addr, i, false)
			if err != nil {
				return fmt.Errorf("engine: %w", err)
			}
			if er.Rows != cfg.messages {
				return fmt.Errorf("engine read %d records, want %d", er.Rows, cfg.messages)
			}
			logf("run %d engine%s: %.0f msgs/s (%s, %d batches, state %d rows, %d rows out, child peak RSS %d MB, CPU %.2f s)",
				i+1, sinkLabel(cfg), er.MsgsPerSec, time.Duration(er.Seconds*float64(time.Second)).Round(time.Millisecond),
				len(er.BatchMs), er.StateRows, er.OutputRows, er.PeakRSS>>20, er.CPUSeconds)
			if len(er.Estimates) > 0 {
				logf("run %d engine: distinct users estimated %s", i+1, strings.Join(er.Estimates, ", "))
			}
			engines = append(engines, er)
			if cfg.sink != "none" || comparesQueries(cfg) {
				nr, err := measureEngine(ctx, cfg, cl.addr, i, true)
				if err != nil {
					return fmt.Errorf("engine %s: %w", baselineLabel(cfg), err)
				}
				if nr.Rows != cfg.messages || nr.OutputRows != er.OutputRows {
					return fmt.Errorf("engine %s read %d records and output %d rows, want %d and %d", baselineLabel(cfg), nr.Rows, nr.OutputRows, cfg.messages, er.OutputRows)
				}
				logf("run %d engine, %s: %.0f msgs/s (%s, child peak RSS %d MB, CPU %.2f s)",
					i+1, baselineLabel(cfg), nr.MsgsPerSec, time.Duration(nr.Seconds*float64(time.Second)).Round(time.Millisecond), nr.PeakRSS>>20, nr.CPUSeconds)
				noSinks = append(noSinks, nr)
			}
			if cfg.sink == "kafka" && !cfg.skip["produce"] {
				rp, err := measureRawProduce(ctx, cfg, cl.addr)
				if err != nil {
					return err
				}
				if rp.Records != er.OutputRows {
					return fmt.Errorf("raw produce wrote %d records, the engine output %d rows", rp.Records, er.OutputRows)
				}
				logf("run %d raw confluent-kafka-go producer, the same %d rows in %d transactions: %.0f rows/s (%.3f s, start %.3f s, CPU %.2f s, broker CPU %.2f s)",
					i+1, rp.Records, rp.Transactions, float64(rp.Records)/rp.Seconds, rp.Seconds, rp.StartSeconds, rp.CPUSeconds, rp.BrokerCPUSeconds)
				rawProduces = append(rawProduces, rp)
			}
		}
	}

	var rows []row
	rate := func(name string, sts []readStats) float64 {
		var xs, mbs []float64
		for _, s := range sts {
			xs = append(xs, s.msgsPerSec())
			mbs = append(mbs, s.mbPerSec())
		}
		res.AllRuns[name] = xs
		if len(xs) > 0 {
			rows = append(rows, row{name, median(xs), median(mbs)})
		}
		return median(xs)
	}
	res.RawConfluentMsgsPerSec = rate("raw confluent-kafka-go", confluent)
	res.RawFranzMsgsPerSec = rate("raw franz-go", franz)
	if len(engines) > 0 {
		summariseEngine(res, engines)
		rows = append(rows, row{"engine (" + queryLabel(cfg) + ")", res.EngineMsgsPerSec,
			res.EngineMsgsPerSec * float64(res.MessageBytes) / 1e6})
	}
	if len(noSinks) > 0 {
		summariseNoSink(res, engines, noSinks)
		rows = append(rows, row{"engine (" + baselineLabel(cfg) + ")", res.EngineNoSinkMsgsPerSec,
			res.EngineNoSinkMsgsPerSec * float64(res.MessageBytes) / 1e6})
	}
	if len(rawProduces) > 0 {
		var rates, secs, starts, cpus, bcpus, es, ns []float64
		for _, r := range rawProduces {
			rates = append(rates, float64(r.Records)/r.Seconds)
			secs = append(secs, r.Seconds)
			starts = append(starts, r.StartSeconds)
			cpus = append(cpus, r.CPUSeconds)
			bcpus = append(bcpus, r.BrokerCPUSeconds)
		}
		for _, r := range engines {
			es = append(es, r.Seconds)
		}
		for _, r := range noSinks {
			ns = append(ns, r.Seconds)
		}
		res.AllRuns["raw_produce_rows"] = rates
		res.RawProduceMsgsPerSec, res.RawProduceSeconds, res.RawProduceStartSeconds = median(rates), median(secs), median(starts)
		res.RawProduceCPUSeconds, res.RawProduceBrokerCPUSeconds = median(cpus), median(bcpus)
		res.EngineSecondsMedian, res.EngineNoSinkSecondsMedian = median(es), median(ns)
		// The CPU time the run with the sink took, the broker's included,
		// over the cores: it could not take less time unless its work per
		// row went down.
		res.SinkFloorSeconds = (res.EngineCPUSeconds + res.EngineBrokerCPUSeconds) / float64(runtime.NumCPU())
	}
	res.EngineVsRawConfluent = ratio(res.EngineMsgsPerSec, res.RawConfluentMsgsPerSec)
	res.EngineVsRawFranz = ratio(res.EngineMsgsPerSec, res.RawFranzMsgsPerSec)

	if !cfg.skip["decode"] {
		d, err := measureDecoders(cfg)
		if err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		res.Decode = d
		res.JSONDecodeVsArrow = d.JSONVsArrow
		res.CSVDecodeVsArrow = d.CSVVsArrow
	}
	res.PeakRSSBytes = peakRSS()
	if res.PeakRSSBytes < res.EnginePeakRSSBytes {
		res.PeakRSSBytes = res.EnginePeakRSSBytes
	}
	res.PeakRSSNote = "peak_rss_bytes: VmHWM of the bench process (in-process kfake broker holding the whole topic, producer, raw readers, decoders) " +
		"or of the engine child if larger; engine_peak_rss_bytes: VmHWM of the engine's child process alone (max over runs)"
	res.LoadAvg = loadAvg()

	fmt.Printf("\n%d x %d-byte %s records, %d partitions, keys=%d, runs=%d (median), engine output mode %s, load %s\n",
		res.Messages, res.MessageBytes, res.Format, res.Partitions, res.Keys, res.Runs, res.OutputMode, res.LoadAvg)
	printTable(os.Stdout, rows, res.RawConfluentMsgsPerSec, res.RawFranzMsgsPerSec)
	if len(engines) > 0 {
		fmt.Printf("engine: %d batches (maxRatePerPartition %d), batch p50 %.1f ms p99 %.1f ms, driver overhead p50 %.2f ms p99 %.2f ms, engine peak RSS %d MB (Go runtime %d MB)\n",
			res.EngineBatches, res.MaxRatePerPartition, res.BatchP50Ms, res.BatchP99Ms,
			res.DriverOverheadP50Ms, res.DriverOverheadP99Ms, res.EnginePeakRSSBytes>>20, res.EngineGoPeakBytes>>20)
		fmt.Printf("engine phases p50 (ms): %s; outside batches %.0f ms\n", formatPhases(res.PhaseP50Ms), res.EngineOutsideBatchesMs)
	}
	if len(noSinks) > 0 && comparesQueries(cfg) {
		fmt.Printf("%s costs %.2fx %s in time (%.0f against %.0f msgs/s) and %.2fx in CPU (%.2f s against %.2f s); peak RSS %d MB against %d MB\n",
			queryLabel(cfg), res.EngineNoSinkMsgsPerSec/res.EngineMsgsPerSec, baselineLabel(cfg), res.EngineMsgsPerSec, res.EngineNoSinkMsgsPerSec,
			res.EngineCPUSeconds/res.EngineNoSinkCPUSeconds, res.EngineCPUSeconds, res.EngineNoSinkCPUSeconds,
			res.EnginePeakRSSBytes>>20, res.EngineNoSinkPeakRSSBytes>>20)
	} else if len(noSinks) > 0 {
		fmt.Printf("sink %s: %d rows out, sink (AddBatch) p50 %.1f ms p99 %.1f ms; %.2fx the same query with no sink (%.0f msgs/s, peak RSS %d MB, CPU %.2f s against %.2f s)\n",
			strings.TrimSpace(cfg.sink+" "+res.Guarantee), res.EngineOutputRows, res.SinkP50Ms, res.SinkP99Ms, res.SinkVsNoSink, res.EngineNoSinkMsgsPerSec,
			res.EngineNoSinkPeakRSSBytes>>20, res.EngineNoSinkCPUSeconds, res.EngineCPUSeconds)
	}
	if res.RawProduceSeconds > 0 {
		fmt.Printf("raw confluent-kafka-go producer, the sink's %d rows alone: %.0f rows/s, %.2f s (+%.2f s start), CPU %.2f s, broker CPU %.2f s; "+
			"the engine takes %.2f s with the sink, %.2f s without (0.8x would leave the sink %.2f s), %.2f s for both runs one after the other\n",
			res.EngineOutputRows, res.RawProduceMsgsPerSec, res.RawProduceSeconds, res.RawProduceStartSeconds, res.RawProduceCPUSeconds, res.RawProduceBrokerCPUSeconds,
			res.EngineSecondsMedian, res.EngineNoSinkSecondsMedian, res.EngineNoSinkSecondsMedian/0.8-res.EngineNoSinkSecondsMedian,
			res.EngineNoSinkSecondsMedian+res.RawProduceSeconds+res.RawProduceStartSeconds)
		ncpu := float64(runtime.NumCPU())
		added := res.EngineCPUSeconds + res.EngineBrokerCPUSeconds - res.EngineNoSinkCPUSeconds - res.EngineNoSinkBrokerCPUSeconds
		budget := ncpu*res.EngineNoSinkSecondsMedian/0.8 - res.EngineNoSinkCPUSeconds - res.EngineNoSinkBrokerCPUSeconds
		rows := float64(max(res.EngineOutputRows, 1))
		fmt.Printf("CPU: without a sink engine %.2f s + broker %.2f s, with it %.2f s + %.2f s: the sink adds %.2f s, %.2f µs per row out; "+
			"over %.0f CPUs the run with the sink cannot take less than %.2f s (%.2fx the run without it) at that cost; "+
			"0.8x would leave the sink %.2f µs of CPU per row\n",
			res.EngineNoSinkCPUSeconds, res.EngineNoSinkBrokerCPUSeconds, res.EngineCPUSeconds, res.EngineBrokerCPUSeconds,
			added, added/rows*1e6, ncpu, res.SinkFloorSeconds, ratio(res.EngineNoSinkSecondsMedian, res.SinkFloorSeconds), budget/rows*1e6)
	}
	if res.Decode != nil {
		printDecode(os.Stdout, res.Decode)
	}
	fmt.Printf("peak RSS (bench process incl. broker) %d MB\n", peakRSS()>>20)
	if cfg.jsonOut != "" {
		return writeJSON(cfg.jsonOut, res)
	}
	return nil
}

// sinkLabel names the engine run's sink in the log.
func sinkLabel(cfg *config) string {
	if cfg.sink == "kafka" {
		return " into kafka (" + cfg.guarantee + ")"
	}
	if cfg.sink == "files" {
		return " into parquet files"
	}
	return ""
}

// guaranteeOf is -guarantee when it applies (-sink kafka), else "".
func guaranteeOf(cfg *config) string {
	if cfg.sink == "kafka" {
		return cfg.guarantee
	}
	return ""
}

// outputModeOf is the engine query's output mode: append with -sink
// kafka, else -output-mode.
func outputModeOf(cfg *config) string {
	if cfg.sink != "none" || cfg.query == "window" || cfg.query == "functions" {
		return dataframe.Append.String()
	}
	return cfg.outputMode.String()
}

// queryLabel names the engine's query in the table.
func queryLabel(cfg *config) string {
	if cfg.sink == "kafka" {
		return "product pages, append, into kafka " + cfg.guarantee
	}
	if cfg.sink == "files" {
		return "product pages, append, into parquet files"
	}
	if cfg.query == "window" {
		return "view count by page and 1-minute window, 10 s watermark"
	}
	if cfg.query == "distinct" {
		return "approx_count_distinct(userid) of views by page"
	}
	if cfg.query == "functions" {
		return "product views with lower, startswith, split_part, date_trunc"
	}
	return "view count by page"
}

// comparesQueries reports whether each engine run is followed by a run
// of a baseline query on the same records (-query distinct, functions).
func comparesQueries(cfg *config) bool {
	return cfg.sink == "none" && (cfg.query == "distinct" || cfg.query == "functions")
}

// baselineLabel names what each engine run is compared with: the view
// count by page for -query distinct, the same query without functions
// for -query functions, else the same query into a sink that discards.
func baselineLabel(cfg *config) string {
	switch {
	case cfg.sink == "none" && cfg.query == "distinct":
		return "view count by page"
	case cfg.sink == "none" && cfg.query == "functions":
		return "the same query without functions"
	}
	return "same query, no sink"
}

// summariseNoSink fills res's sink figures from the -sink runs and their
// baselines (the same query into a sink that discards).
func summariseNoSink(res *Result, runs, noSinks []engineRun) {
	var rates, cpus, bcpus, sinkBcpus, sinkMs []float64
	for _, r := range noSinks {
		rates = append(rates, r.MsgsPerSec)
		cpus = append(cpus, r.CPUSeconds)
		bcpus = append(bcpus, r.ParentCPUSeconds)
		res.EngineNoSinkPeakRSSBytes = max(res.EngineNoSinkPeakRSSBytes, r.PeakRSS)
	}
	for _, r := range runs {
		sinkMs = append(sinkMs, r.PhaseMs["sink"]...)
		sinkBcpus = append(sinkBcpus, r.ParentCPUSeconds)
		res.EngineOutputRows = r.OutputRows
	}
	res.EngineBrokerCPUSeconds, res.EngineNoSinkBrokerCPUSeconds = median(sinkBcpus), median(bcpus)
	res.AllRuns["engine_nosink"] = rates
	res.EngineNoSinkMsgsPerSec = median(rates)
	res.EngineNoSinkCPUSeconds = median(cpus)
	res.SinkVsNoSink = ratio(res.EngineMsgsPerSec, res.EngineNoSinkMsgsPerSec)
	res.SinkP50Ms = percentile(sinkMs, 50)
	res.SinkP99Ms = percentile(sinkMs, 99)
}

// phaseOrder is the order of a batch's phases, as they happen.
var phaseOrder = []string{"plan", "wal", "wal_wait", "fetch_decode", "fetch_wait", "aggregate", "sink", "txn_commit", "commit"}

// formatPhases renders phase figures as "plan 0.41, wal 0.12, ..." in
// phaseOrder, then any other phase by name.
func formatPhases(m map[string]float64) string {
	var parts []string
	seen := map[string]bool{}
	for _, k := range append(phaseOrder, slices.Sorted(maps.Keys(m))...) {
		if v, ok := m[k]; ok && !seen[k] {
			seen[k] = true
			parts = append(parts, fmt.Sprintf("%s %.2f", k, v))
		}
	}
	return strings.Join(parts, ", ")
}

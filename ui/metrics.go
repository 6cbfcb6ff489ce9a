package ui

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/microbatch/microbatch/engine"
)

// metrics are the Prometheus metrics of one query, fed by observe (every
// committed batch) and, for failed batches and the state of the run, by
// the query's status at scrape time.
type metrics struct {
	reg *prometheus.Registry

	committed atomic.Int64 // batches committed (microbatch_batches_total)

	inputRecords  *prometheus.CounterVec
	outputRows    prometheus.Counter
	corrupt       prometheus.Counter
	dropped       prometheus.Counter
	skipped       prometheus.Counter
	deadLetters   prometheus.Counter
	batchDuration prometheus.Histogram
	schedDelay    prometheus.Histogram
	phaseDuration *prometheus.HistogramVec
	rateLimit     prometheus.Gauge
	bpRate        prometheus.Gauge
	watermark     prometheus.Gauge
	late          prometheus.Counter
	stateRows     prometheus.Gauge
	lag           *prometheus.GaugeVec
	lastBatch     prometheus.Gauge
	group         string
}

// durationBuckets are a batch's and its phases' durations, 1 ms to 2 min.
var durationBuckets = prometheus.ExponentialBucketsRange(0.001, 120, 18)

func newMetrics(group string, status func() engine.Status) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), group: group}
	m.inputRecords = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "microbatch_input_records_total",
		Help: "Kafka records read, by topic."}, []string{"topic"})
	m.outputRows = prometheus.NewCounter(prometheus.CounterOpts{Name: "microbatch_output_rows_total", Help: "Rows the sink received."})
	m.corrupt = prometheus.NewCounter(prometheus.CounterOpts{Name: "microbatch_corrupt_records_total",
		Help: "Malformed records kept with null fields (mode PERMISSIVE)."})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "microbatch_dropped_records_total",
		Help: "Malformed records dropped (mode DROPMALFORMED)."})
	m.skipped = prometheus.NewCounter(prometheus.CounterOpts{Name: "microbatch_skipped_offsets_total",
		Help: "Offsets lost to retention and skipped (failOnDataLoss: false)."})
	m.deadLetters = prometheus.NewCounter(prometheus.CounterOpts{Name: "microbatch_dead_letters_total",
		Help: "Malformed records sent to the dead-letter topic."})
	m.batchDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "microbatch_batch_duration_seconds",
		Help: "A batch's time from trigger to commit.", Buckets: durationBuckets})
	m.schedDelay = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "microbatch_scheduling_delay_seconds",
		Help: "How late a batch was triggered after its scheduled time (processingTime triggers).", Buckets: append([]float64{0}, durationBuckets...)})
	m.phaseDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "microbatch_batch_phase_duration_seconds",
		Help: "A batch's phases: plan, wal_wait, fetch_wait, aggregate, sink, commit.", Buckets: durationBuckets}, []string{"phase"})
	m.rateLimit = prometheus.NewGauge(prometheus.GaugeOpts{Name: "microbatch_rate_limit_records_per_second",
		Help: "The cap in force per partition, in records per second of trigger interval (0: none)."})
	m.bpRate = prometheus.NewGauge(prometheus.GaugeOpts{Name: "microbatch_backpressure_rate_records_per_second",
		Help: "The rate backpressure planned the last batch with, records per second over all partitions (0: off)."})
	m.watermark = prometheus.NewGauge(prometheus.GaugeOpts{Name: "microbatch_watermark_seconds",
		Help: "The event-time watermark the last batch used, seconds since the Unix epoch (0: none)."})
	m.late = prometheus.NewCounter(prometheus.CounterOpts{Name: "microbatch_rows_dropped_by_watermark_total",
		Help: "Input rows dropped because every window they fall in had ended by the watermark."})
	m.stateRows = prometheus.NewGauge(prometheus.GaugeOpts{Name: "microbatch_state_rows", Help: "Groups in the aggregate state."})
	m.lastBatch = prometheus.NewGauge(prometheus.GaugeOpts{Name: "microbatch_last_committed_batch", Help: "The id of the last committed batch."})
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kafka_consumergroup_group_lag",
		Help: "Offsets behind the partition's end when the last batch was planned (kafka-lag-exporter's name; group is the job name)."},
		[]string{"group", "topic", "partition"})
	m.reg.MustRegister(m.inputRecords, m.outputRows, m.corrupt, m.dropped, m.skipped, m.deadLetters, m.batchDuration, m.schedDelay,
		m.phaseDuration, m.rateLimit, m.bpRate, m.watermark, m.late, m.stateRows, m.lastBatch, m.lag,
		&batchesCollector{m: m, status: status},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(p engine.Progress) {
	m.committed.Add(1)
	for _, s := range p.Sources {
		m.inputRecords.WithLabelValues(s.Topic).Add(float64(s.NumInputRows))
		m.lag.WithLabelValues(m.group, s.Topic, strconv.Itoa(int(s.Partition))).Set(float64(s.Lag))
	}
	m.outputRows.Add(float64(p.OutputRows))
	m.corrupt.Add(float64(p.CorruptRecords))
	m.dropped.Add(float64(p.DroppedRecords))
	m.skipped.Add(float64(p.SkippedOffsets))
	m.deadLetters.Add(float64(p.DeadLetters))
	d := p.Durations
	m.batchDuration.Observe(d.Total.Seconds())
	m.schedDelay.Observe(p.SchedulingDelay.Seconds())
	for phase, v := range map[string]float64{"plan": d.Plan.Seconds(), "wal_wait": d.WALWait.Seconds(), "fetch_wait": d.FetchWait.Seconds(),
		"aggregate": d.Aggregate.Seconds(), "sink": d.Sink.Seconds(), "commit": d.Commit.Seconds()} {
		m.phaseDuration.WithLabelValues(phase).Observe(v)
	}
	m.rateLimit.Set(float64(p.RateLimitPerPartition))
	m.bpRate.Set(p.BackpressureRate)
	if e := p.EventTime; e != nil {
		m.watermark.Set(float64(e.Watermark.UnixMicro()) / 1e6)
	}
	m.late.Add(float64(p.NumRowsDroppedByWatermark))
	m.stateRows.Set(float64(p.StateRows))
	m.lastBatch.Set(float64(p.BatchID))
}

// batchesCollector is microbatch_batches_total{status}: committed from
// the batches observed, failed from the query's status.
type batchesCollector struct {
	m      *metrics
	status func() engine.Status
}

var batchesDesc = prometheus.NewDesc("microbatch_batches_total", "Batches run, by status: committed or failed.", []string{"status"}, nil)

func (c *batchesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- batchesDesc }

func (c *batchesCollector) Collect(ch chan<- prometheus.Metric) {
	var failed int64
	if c.status != nil {
		failed = c.status().FailedBatches
	}
	ch <- prometheus.MustNewConstMetric(batchesDesc, prometheus.CounterValue, float64(c.m.committed.Load()), "committed")
	ch <- prometheus.MustNewConstMetric(batchesDesc, prometheus.CounterValue, float64(failed), "failed")
}

package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// progressJSON is a Progress in Spark's StreamingQueryProgress JSON. Its
// durationMs has Spark's phases: latestOffset (Plan), walCommit (WAL),
// getBatch (FetchWait), addBatch (Aggregate + Sink, what Spark's
// addBatch runs after the read), commitOffsets (Commit) and
// triggerExecution (Total). Everything Spark has no field for is under
// "microbatch".
type progressJSON struct {
	ID                     string              `json:"id"`
	RunID                  string              `json:"runId"`
	Name                   string              `json:"name"`
	Timestamp              string              `json:"timestamp"`
	BatchID                int64               `json:"batchId"`
	NumInputRows           int64               `json:"numInputRows"`
	InputRowsPerSecond     float64             `json:"inputRowsPerSecond"`
	ProcessedRowsPerSecond float64             `json:"processedRowsPerSecond"`
	DurationMs             map[string]int64    `json:"durationMs"`
	StateOperators         []stateOperatorJSON `json:"stateOperators"`
	Sources                []sourceJSON        `json:"sources"`
	Sink                   sinkJSON            `json:"sink"`
	// EventTime is Spark's {min, max, avg, watermark}, for a query with a
	// watermark.
	EventTime  map[string]string `json:"eventTime,omitempty"`
	Microbatch extraJSON         `json:"microbatch"`
}

type stateOperatorJSON struct {
	OperatorName    string `json:"operatorName"`
	NumRowsTotal    int64  `json:"numRowsTotal"`
	NumRowsUpdated  int64  `json:"numRowsUpdated"`
	NumRowsRemoved  int64  `json:"numRowsRemoved"`
	MemoryUsedBytes int64  `json:"memoryUsedBytes"`
	CommitTimeMs    int64  `json:"commitTimeMs"`
	// NumRowsDroppedByWatermark counts input rows every window of which
	// had ended by the watermark.
	NumRowsDroppedByWatermark int64 `json:"numRowsDroppedByWatermark"`
}

// kafkaOffsets is Spark's Kafka offset JSON: {"topic":{"0":42}}.
type kafkaOffsets map[string]map[string]int64

type sourceJSON struct {
	Description            string       `json:"description"`
	StartOffset            kafkaOffsets `json:"startOffset"`
	EndOffset              kafkaOffsets `json:"endOffset"`
	LatestOffset           kafkaOffsets `json:"latestOffset"`
	NumInputRows           int64        `json:"numInputRows"`
	InputRowsPerSecond     float64      `json:"inputRowsPerSecond"`
	ProcessedRowsPerSecond float64      `json:"processedRowsPerSecond"`
	// Metrics are strings, as in Spark (a map[String, String]).
	Metrics map[string]string `json:"metrics,omitempty"`
}

type sinkJSON struct {
	Description   string `json:"description"`
	NumOutputRows int64  `json:"numOutputRows"`
}

// extraJSON is what Spark's progress has no field for.
type extraJSON struct {
	Recovered bool `json:"recovered"`
	// PhaseDurationMs is every phase of Durations in milliseconds (to the
	// microsecond): plan, wal, walWait, fetchDecode, fetchWait,
	// aggregate, sink, commit, total.
	PhaseDurationMs       map[string]float64 `json:"phaseDurationMs"`
	SchedulingDelayMs     float64            `json:"schedulingDelayMs"`
	TriggerIntervalMs     float64            `json:"triggerIntervalMs"`
	RateLimitPerPartition int64              `json:"rateLimitPerPartition"`
	// BackpressureRate is the rate backpressure planned the batch with,
	// records per second over all partitions.
	BackpressureRate float64 `json:"backpressureRate,omitempty"`
	InputBytes       int64   `json:"inputBytes"`
	CorruptRecords   int64   `json:"corruptRecords"`
	DroppedRecords   int64   `json:"droppedRecords"`
	SkippedOffsets   int64   `json:"skippedOffsets"`
	DeadLetters      int64   `json:"deadLetters"`
	// PartitionRows is the records read per partition: {"topic":{"0":10}}.
	PartitionRows kafkaOffsets `json:"partitionRows"`
	// StaticTables are the joined static tables: name, path, rows,
	// memoryBytes, hash.
	StaticTables []staticTableJSON `json:"staticTables,omitempty"`
}

type staticTableJSON struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	Rows        int64  `json:"rows"`
	MemoryBytes int64  `json:"memoryBytes"`
	Hash        string `json:"hash"`
}

// sparkTime is Spark's timestamp format (UTC, milliseconds).
const sparkTime = "2006-01-02T15:04:05.000Z"

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fromMs(v float64) time.Duration { return time.Duration(math.Round(v*1000)) * time.Microsecond }

// finite keeps NaN and infinities, which JSON cannot carry, out.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func (d Durations) phases() map[string]float64 {
	return map[string]float64{"plan": ms(d.Plan), "wal": ms(d.WAL), "walWait": ms(d.WALWait), "fetchDecode": ms(d.FetchDecode),
		"fetchWait": ms(d.FetchWait), "aggregate": ms(d.Aggregate), "sink": ms(d.Sink), "commit": ms(d.Commit), "total": ms(d.Total)}
}

// MarshalJSON writes p as Spark's StreamingQueryProgress (see progressJSON).
func (p Progress) MarshalJSON() ([]byte, error) {
	d := p.Durations
	j := progressJSON{
		ID: p.ID, RunID: p.RunID, Name: p.Name, Timestamp: p.Timestamp.UTC().Format(sparkTime), BatchID: p.BatchID,
		NumInputRows: p.NumInputRows, InputRowsPerSecond: finite(p.InputRowsPerSecond), ProcessedRowsPerSecond: finite(p.ProcessedRowsPerSecond),
		DurationMs: map[string]int64{"latestOffset": d.Plan.Milliseconds(), "walCommit": d.WAL.Milliseconds(), "getBatch": d.FetchWait.Milliseconds(),
			"addBatch": (d.Aggregate + d.Sink).Milliseconds(), "commitOffsets": d.Commit.Milliseconds(), "triggerExecution": d.Total.Milliseconds()},
		StateOperators: []stateOperatorJSON{},
		Sink:           sinkJSON{Description: p.Sink, NumOutputRows: p.OutputRows},
		Microbatch: extraJSON{Recovered: p.Recovered, PhaseDurationMs: d.phases(), SchedulingDelayMs: ms(p.SchedulingDelay),
			TriggerIntervalMs: ms(p.TriggerInterval), RateLimitPerPartition: p.RateLimitPerPartition, InputBytes: p.InputBytes,
			CorruptRecords: p.CorruptRecords, DroppedRecords: p.DroppedRecords, SkippedOffsets: p.SkippedOffsets, DeadLetters: p.DeadLetters,
			PartitionRows: kafkaOffsets{}, BackpressureRate: finite(p.BackpressureRate)},
	}
	for _, t := range p.StaticTables {
		j.Microbatch.StaticTables = append(j.Microbatch.StaticTables, staticTableJSON(t))
	}
	if e := p.EventTime; e != nil {
		j.EventTime = map[string]string{"watermark": e.Watermark.UTC().Format(sparkTime)}
		if !e.Max.IsZero() {
			j.EventTime["min"], j.EventTime["max"], j.EventTime["avg"] = e.Min.UTC().Format(sparkTime), e.Max.UTC().Format(sparkTime), e.Avg.UTC().Format(sparkTime)
		}
	}
	if p.Stateful {
		j.StateOperators = append(j.StateOperators, stateOperatorJSON{OperatorName: "stateStoreSave", NumRowsTotal: p.StateRows,
			NumRowsUpdated: p.StateRowsUpdated, NumRowsRemoved: p.StateRowsRemoved, CommitTimeMs: d.Commit.Milliseconds(),
			NumRowsDroppedByWatermark: p.NumRowsDroppedByWatermark})
	}
	src := sourceJSON{Description: p.Source, StartOffset: kafkaOffsets{}, EndOffset: kafkaOffsets{}, LatestOffset: kafkaOffsets{},
		NumInputRows: p.NumInputRows, InputRowsPerSecond: j.InputRowsPerSecond, ProcessedRowsPerSecond: j.ProcessedRowsPerSecond}
	var lagMin, lagMax, lagSum int64
	for i, s := range p.Sources {
		part := strconv.Itoa(int(s.Partition))
		src.StartOffset.set(s.Topic, part, s.StartOffset)
		src.EndOffset.set(s.Topic, part, s.EndOffset)
		src.LatestOffset.set(s.Topic, part, s.LatestOffset)
		j.Microbatch.PartitionRows.set(s.Topic, part, s.NumInputRows)
		if i == 0 || s.Lag < lagMin {
			lagMin = s.Lag
		}
		lagMax = max(lagMax, s.Lag)
		lagSum += s.Lag
	}
	if len(p.Sources) > 0 {
		// Spark's Kafka source metrics, strings as Spark writes them.
		src.Metrics = map[string]string{
			"minOffsetsBehindLatest": strconv.FormatInt(lagMin, 10),
			"maxOffsetsBehindLatest": strconv.FormatInt(lagMax, 10),
			"avgOffsetsBehindLatest": strconv.FormatFloat(float64(lagSum)/float64(len(p.Sources)), 'f', 1, 64),
		}
	}
	j.Sources = []sourceJSON{src}
	return json.Marshal(j)
}

func (o kafkaOffsets) set(topic, partition string, v int64) {
	m := o[topic]
	if m == nil {
		m = map[string]int64{}
		o[topic] = m
	}
	m[partition] = v
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Progress) UnmarshalJSON(b []byte) error {
	var j progressJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	ts, err := time.Parse(time.RFC3339Nano, j.Timestamp)
	if err != nil {
		return fmt.Errorf("progress timestamp: %w", err)
	}
	x := j.Microbatch
	ph := x.PhaseDurationMs
	*p = Progress{ID: j.ID, RunID: j.RunID, Name: j.Name, BatchID: j.BatchID, Timestamp: ts, Recovered: x.Recovered,
		NumInputRows: j.NumInputRows, InputRowsPerSecond: j.InputRowsPerSecond, ProcessedRowsPerSecond: j.ProcessedRowsPerSecond,
		InputBytes: x.InputBytes,
		Durations: Durations{Plan: fromMs(ph["plan"]), WAL: fromMs(ph["wal"]), WALWait: fromMs(ph["walWait"]), FetchDecode: fromMs(ph["fetchDecode"]),
			FetchWait: fromMs(ph["fetchWait"]), Aggregate: fromMs(ph["aggregate"]), Sink: fromMs(ph["sink"]), Commit: fromMs(ph["commit"]), Total: fromMs(ph["total"])},
		SchedulingDelay: fromMs(x.SchedulingDelayMs), TriggerInterval: fromMs(x.TriggerIntervalMs), RateLimitPerPartition: x.RateLimitPerPartition,
		CorruptRecords: x.CorruptRecords, DroppedRecords: x.DroppedRecords, SkippedOffsets: x.SkippedOffsets, DeadLetters: x.DeadLetters,
		OutputRows: j.Sink.NumOutputRows, Sink: j.Sink.Description, BackpressureRate: x.BackpressureRate,
	}
	for _, t := range x.StaticTables {
		p.StaticTables = append(p.StaticTables, StaticTableProgress(t))
	}
	if _, ok := j.EventTime["watermark"]; ok {
		e := &EventTimeProgress{}
		for _, f := range []struct {
			name string
			dst  *time.Time
		}{{"watermark", &e.Watermark}, {"min", &e.Min}, {"max", &e.Max}, {"avg", &e.Avg}} {
			v, ok := j.EventTime[f.name]
			if !ok {
				continue
			}
			if *f.dst, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return fmt.Errorf("progress eventTime.%s %q: %w", f.name, v, err)
			}
		}
		p.EventTime = e
	}
	if len(j.StateOperators) > 0 {
		s := j.StateOperators[0]
		p.Stateful, p.StateRows, p.StateRowsUpdated, p.StateRowsRemoved = true, s.NumRowsTotal, s.NumRowsUpdated, s.NumRowsRemoved
		p.NumRowsDroppedByWatermark = s.NumRowsDroppedByWatermark
	}
	if len(j.Sources) > 0 {
		s := j.Sources[0]
		p.Source = s.Description
		for topic, parts := range s.EndOffset {
			for part, end := range parts {
				n, err := strconv.ParseInt(part, 10, 32)
				if err != nil {
					return fmt.Errorf("progress endOffset: topic %q: partition %q: %w", topic, part, err)
				}
				latest := s.LatestOffset[topic][part]
				p.Sources = append(p.Sources, PartitionProgress{Topic: topic, Partition: int32(n), StartOffset: s.StartOffset[topic][part],
					EndOffset: end, LatestOffset: latest, Lag: max(latest-end, 0), NumInputRows: x.PartitionRows[topic][part]})
			}
		}
		sortPartitions(p.Sources)
	}
	return nil
}

// sourceDescription is Spark's description of a Kafka source:
// KafkaV2[Subscribe[a,b]], KafkaV2[SubscribePattern[re]],
// KafkaV2[Assign[t-0, t-1]].
func sourceDescription(s *KafkaSource) string {
	switch {
	case len(s.Subscribe) > 0:
		return fmt.Sprintf("KafkaV2[Subscribe[%s]]", strings.Join(s.Subscribe, ","))
	case s.SubscribePattern != "":
		return fmt.Sprintf("KafkaV2[SubscribePattern[%s]]", s.SubscribePattern)
	default:
		parts := make([]string, len(s.Assign))
		for i, tp := range s.Assign {
			parts[i] = tp.String()
		}
		return fmt.Sprintf("KafkaV2[Assign[%s]]", strings.Join(parts, ", "))
	}
}

// sinkDescription is the sink's Description, else its type.
func sinkDescription(s Sink) string {
	if d, ok := s.(SinkDescriber); ok {
		return d.Description()
	}
	return fmt.Sprintf("%T", s)
}

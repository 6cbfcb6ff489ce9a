package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleProgress() Progress {
	return Progress{
		ID: "3f1c2b9a-1b2c-4d5e-8f90-0123456789ab", RunID: "0a1b2c3d-4e5f-4a0b-9c1d-2e3f4a5b6c7d", Name: "funnel",
		BatchID: 7, Timestamp: time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC), Recovered: true,
		NumInputRows: 30, InputRowsPerSecond: 15, ProcessedRowsPerSecond: 60, InputBytes: 3000,
		Durations: Durations{Plan: 1500 * time.Microsecond, WAL: 2 * time.Millisecond, WALWait: 250 * time.Microsecond,
			FetchDecode: 100 * time.Millisecond, FetchWait: 90 * time.Millisecond, Aggregate: 10 * time.Millisecond,
			Sink: 20 * time.Millisecond, Commit: 7*time.Millisecond + 900*time.Microsecond, Total: 500 * time.Millisecond},
		SchedulingDelay: 40 * time.Millisecond, TriggerInterval: time.Second, RateLimitPerPartition: 100,
		CorruptRecords: 1, DroppedRecords: 2, SkippedOffsets: 3, DeadLetters: 3, OutputRows: 4,
		Stateful: true, StateRows: 9, StateRowsUpdated: 4, Source: "KafkaV2[Subscribe[a,b]]", Sink: "ConsoleSink",
		Sources: []PartitionProgress{
			{Topic: "a", Partition: 0, StartOffset: 10, EndOffset: 20, LatestOffset: 25, Lag: 5, NumInputRows: 10},
			{Topic: "a", Partition: 1, StartOffset: 0, EndOffset: 0, LatestOffset: 0, Lag: 0, NumInputRows: 0},
			{Topic: "b", Partition: 0, StartOffset: 100, EndOffset: 120, LatestOffset: 130, Lag: 10, NumInputRows: 20},
		},
	}
}

// The JSON is Spark's StreamingQueryProgress, byte for byte in its shape.
func TestProgressJSONSparkShape(t *testing.T) {
	b, err := json.Marshal(sampleProgress())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "3f1c2b9a-1b2c-4d5e-8f90-0123456789ab", "runId": "0a1b2c3d-4e5f-4a0b-9c1d-2e3f4a5b6c7d", "name": "funnel",
		"timestamp": "2024-05-06T07:08:09.123Z", "batchId": 7.0, "numInputRows": 30.0,
		"inputRowsPerSecond": 15.0, "processedRowsPerSecond": 60.0,
		"durationMs": map[string]any{"latestOffset": 1.0, "walCommit": 2.0, "getBatch": 90.0, "addBatch": 30.0,
			"commitOffsets": 7.0, "triggerExecution": 500.0},
		"stateOperators": []any{map[string]any{"operatorName": "stateStoreSave", "numRowsTotal": 9.0, "numRowsUpdated": 4.0,
			"numRowsRemoved": 0.0, "memoryUsedBytes": 0.0, "commitTimeMs": 7.0, "numRowsDroppedByWatermark": 0.0}},
		"sources": []any{map[string]any{
			"description":  "KafkaV2[Subscribe[a,b]]",
			"startOffset":  map[string]any{"a": map[string]any{"0": 10.0, "1": 0.0}, "b": map[string]any{"0": 100.0}},
			"endOffset":    map[string]any{"a": map[string]any{"0": 20.0, "1": 0.0}, "b": map[string]any{"0": 120.0}},
			"latestOffset": map[string]any{"a": map[string]any{"0": 25.0, "1": 0.0}, "b": map[string]any{"0": 130.0}},
			"numInputRows": 30.0, "inputRowsPerSecond": 15.0, "processedRowsPerSecond": 60.0,
			"metrics": map[string]any{"minOffsetsBehindLatest": "0", "maxOffsetsBehindLatest": "10", "avgOffsetsBehindLatest": "5.0"},
		}},
		"sink": map[string]any{"description": "ConsoleSink", "numOutputRows": 4.0},
		"microbatch": map[string]any{
			"recovered": true,
			"phaseDurationMs": map[string]any{"plan": 1.5, "wal": 2.0, "walWait": 0.25, "fetchDecode": 100.0, "fetchWait": 90.0,
				"aggregate": 10.0, "sink": 20.0, "commit": 7.9, "total": 500.0},
			"schedulingDelayMs": 40.0, "triggerIntervalMs": 1000.0, "rateLimitPerPartition": 100.0, "inputBytes": 3000.0,
			"corruptRecords": 1.0, "droppedRecords": 2.0, "skippedOffsets": 3.0, "deadLetters": 3.0,
			"partitionRows": map[string]any{"a": map[string]any{"0": 10.0, "1": 0.0}, "b": map[string]any{"0": 20.0}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("progress JSON\n%s\nis not Spark's shape with our extras", gb)
	}
}

func TestProgressJSONRoundTrip(t *testing.T) {
	p := sampleProgress()
	// With a watermark and backpressure (Spark's eventTime block, the
	// state operator's late rows, our rate).
	at := func(s int) time.Time { return time.Date(2024, 5, 6, 7, 8, s, 0, time.UTC) }
	p.EventTime = &EventTimeProgress{Min: at(1), Max: at(9), Avg: at(5), Watermark: at(0)}
	p.NumRowsDroppedByWatermark, p.BackpressureRate = 2, 1234.5
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Progress
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, p)
	}
}

// A stateless query has no state operator; a batch with no partition (and
// rates that are not numbers) still writes valid JSON.
func TestProgressJSONStatelessEmpty(t *testing.T) {
	b, err := json.Marshal(Progress{Name: "q", ProcessedRowsPerSecond: 0 * 1 / zero()})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"stateOperators":[]`, `"processedRowsPerSecond":0,`, `"startOffset":{}`} {
		if !strings.Contains(s, want) {
			t.Fatalf("%s lacks %s", s, want)
		}
	}
	if strings.Contains(s, `"metrics"`) {
		t.Fatalf("%s has metrics with no partition", s)
	}
}

func zero() float64 { return 0 }

func TestSourceDescription(t *testing.T) {
	for _, c := range []struct {
		src  KafkaSource
		want string
	}{
		{KafkaSource{Subscribe: []string{"a", "b"}}, "KafkaV2[Subscribe[a,b]]"},
		{KafkaSource{SubscribePattern: "eco.*"}, "KafkaV2[SubscribePattern[eco.*]]"},
	} {
		if got := sourceDescription(&c.src); got != c.want {
			t.Errorf("%+v: %q, want %q", c.src, got, c.want)
		}
	}
}

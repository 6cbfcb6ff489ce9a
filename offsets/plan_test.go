package offsets

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestMaxOffsets(t *testing.T) {
	a0, a1 := tp("a", 0), tp("a", 1)
	r := RateLimit{MaxRatePerPartition: 1000, PerPartition: map[TopicPartition]int64{a1: 0}}
	tests := []struct {
		name     string
		r        RateLimit
		tp       TopicPartition
		interval time.Duration
		want     int64
	}{
		{"no rate", RateLimit{}, a0, time.Second, 0},
		{"1s", r, a0, time.Second, 1000},
		{"fractional", r, a0, 1500 * time.Millisecond, 1500},
		{"rounds down", RateLimit{MaxRatePerPartition: 3}, a0, 500 * time.Millisecond, 1},
		{"at least 1", RateLimit{MaxRatePerPartition: 1}, a0, time.Millisecond, 1},
		{"zero interval", r, a0, 0, 1},
		{"override 0 = uncapped", r, a1, time.Second, 0},
		{"override", RateLimit{MaxRatePerPartition: 10, PerPartition: map[TopicPartition]int64{a1: 7}}, a1, 2 * time.Second, 14},
		{"negative rate = uncapped", RateLimit{MaxRatePerPartition: -5}, a0, time.Second, 0},
		{"exact, no float", RateLimit{MaxRatePerPartition: 333333333}, a0, 3 * time.Second, 999999999},
		{"big but fits", RateLimit{MaxRatePerPartition: 1_000_000}, a0, 10000 * time.Hour, 36_000_000_000_000},
		{"saturates", RateLimit{MaxRatePerPartition: math.MaxInt64}, a0, time.Hour, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := tt.r.MaxOffsets(tt.tp, tt.interval); got != tt.want {
			t.Errorf("%s: MaxOffsets = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestPlan(t *testing.T) {
	a0, a1, b0 := tp("a", 0), tp("a", 1), tp("b", 0)
	type m = map[TopicPartition]int64
	tests := []struct {
		name string
		in   PlanInput
		want PlanOutput
	}{
		{
			name: "uncapped: from start to latest, idle partition has no range",
			in: PlanInput{Partitions: []TopicPartition{b0, a1, a0}, Start: m{a0: 100, a1: 50, b0: 7},
				Earliest: m{a0: 0, a1: 0, b0: 0}, Latest: m{a0: 250, a1: 50, b0: 9}},
			want: PlanOutput{Ranges: []OffsetRange{{"a", 0, 100, 250}, {"b", 0, 7, 9}}, Ends: m{a0: 250, a1: 50, b0: 9}},
		},
		{
			name: "capped at rate x interval, never past latest",
			in: PlanInput{Partitions: []TopicPartition{a0, a1}, Start: m{a0: 100, a1: 0},
				Earliest: m{a0: 0, a1: 0}, Latest: m{a0: 100000, a1: 30},
				Limit: RateLimit{MaxRatePerPartition: 20}, Interval: 2500 * time.Millisecond},
			want: PlanOutput{Ranges: []OffsetRange{{"a", 0, 100, 150}, {"a", 1, 0, 30}}, Ends: m{a0: 150, a1: 30}},
		},
		{
			name: "first batch after a long stop is capped like any other",
			in: PlanInput{Partitions: []TopicPartition{a0}, Start: m{a0: 0},
				Earliest: m{a0: 0}, Latest: m{a0: 50_000_000},
				Limit: RateLimit{MaxRatePerPartition: 5000}, Interval: time.Second},
			want: PlanOutput{Ranges: []OffsetRange{{"a", 0, 0, 5000}}, Ends: m{a0: 5000}},
		},
		{
			name: "new partition starts at earliest",
			in: PlanInput{Partitions: []TopicPartition{a0, a1}, Start: m{a0: 10},
				Earliest: m{a0: 0, a1: 40}, Latest: m{a0: 10, a1: 45}},
			want: PlanOutput{Ranges: []OffsetRange{{"a", 1, 40, 45}}, Ends: m{a0: 10, a1: 45}},
		},
		{
			name: "new partition is capped too",
			in: PlanInput{Partitions: []TopicPartition{b0}, Start: m{},
				Earliest: m{b0: 3}, Latest: m{b0: 1000},
				Limit: RateLimit{PerPartition: map[TopicPartition]int64{b0: 10}}, Interval: time.Second},
			want: PlanOutput{Ranges: []OffsetRange{{"b", 0, 3, 13}}, Ends: m{b0: 13}},
		},
		{
			name: "below log start, skipped: from = earliest, loss recorded",
			in: PlanInput{Partitions: []TopicPartition{a0}, Start: m{a0: 100},
				Earliest: m{a0: 180}, Latest: m{a0: 300}, Limit: RateLimit{MaxRatePerPartition: 50}, Interval: time.Second},
			want: PlanOutput{Ranges: []OffsetRange{{"a", 0, 180, 230}}, Ends: m{a0: 230},
				DataLoss: []DataLossError{{Topic: "a", Partition: 0, From: 100, Until: 180, Reason: reasonBelowLogStart}}},
		},
		{
			name: "went backwards (recreated), skipped: from = new earliest, loss is [latest, from)",
			in: PlanInput{Partitions: []TopicPartition{a0}, Start: m{a0: 383},
				Earliest: m{a0: 0}, Latest: m{a0: 28}},
			want: PlanOutput{Ranges: []OffsetRange{{"a", 0, 0, 28}}, Ends: m{a0: 28},
				DataLoss: []DataLossError{{Topic: "a", Partition: 0, From: 28, Until: 383, Reason: reasonBackwards}}},
		},
		{
			name: "partition gone, skipped: loss recorded, partition listed in Gone",
			in: PlanInput{Partitions: []TopicPartition{a0}, Start: m{a0: 5, b0: 77},
				Earliest: m{a0: 0}, Latest: m{a0: 5}},
			want: PlanOutput{Ends: m{a0: 5}, Gone: []TopicPartition{b0},
				DataLoss: []DataLossError{{Topic: "b", Partition: 0, From: 77, Until: 77, Reason: reasonGone}}},
		},
		{
			name: "start equal to latest: idle, no range",
			in:   PlanInput{Partitions: []TopicPartition{a0, a0}, Start: m{a0: 9}, Earliest: m{a0: 9}, Latest: m{a0: 9}},
			want: PlanOutput{Ends: m{a0: 9}},
		},
		{
			name: "losses sorted by partition",
			in: PlanInput{Partitions: []TopicPartition{b0, a1}, Start: m{a1: 1, b0: 2},
				Earliest: m{a1: 5, b0: 6}, Latest: m{a1: 5, b0: 6}},
			want: PlanOutput{Ends: m{a1: 5, b0: 6}, DataLoss: []DataLossError{
				{Topic: "a", Partition: 1, From: 1, Until: 5, Reason: reasonBelowLogStart},
				{Topic: "b", Partition: 0, From: 2, Until: 6, Reason: reasonBelowLogStart}}},
		},
	}
	for _, tt := range tests {
		got, err := Plan(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestPlanFailOnDataLoss(t *testing.T) {
	a0, b0 := tp("a", 0), tp("b", 0)
	type m = map[TopicPartition]int64
	tests := []struct {
		name string
		in   PlanInput
		want DataLossError
		msg  string
	}{
		{
			name: "below log start",
			in:   PlanInput{Partitions: []TopicPartition{a0}, Start: m{a0: 100}, Earliest: m{a0: 180}, Latest: m{a0: 300}},
			want: DataLossError{Topic: "a", Partition: 0, From: 100, Until: 180, Reason: reasonBelowLogStart},
			msg:  "data loss on a-0: offsets [100, 180) are no longer available: offsets are below the partition's log start offset (deleted by retention?); set failOnDataLoss: false to skip them",
		},
		{
			name: "backwards",
			in:   PlanInput{Partitions: []TopicPartition{a0}, Start: m{a0: 383}, Earliest: m{a0: 0}, Latest: m{a0: 28}},
			want: DataLossError{Topic: "a", Partition: 0, From: 28, Until: 383, Reason: reasonBackwards},
			msg:  "data loss on a-0: offsets [28, 383) are no longer available: the partition's end offset went below the resume offset (topic deleted and recreated?); skipping reads it again from its log start; set failOnDataLoss: false to skip them",
		},
		{
			name: "gone",
			in:   PlanInput{Partitions: []TopicPartition{a0}, Start: m{a0: 0, b0: 4}, Earliest: m{a0: 0}, Latest: m{a0: 0}},
			want: DataLossError{Topic: "b", Partition: 0, From: 4, Until: 4, Reason: reasonGone},
			msg:  "data loss on b-0: offsets [4, 4) are no longer available: the partition is no longer in the subscription (topic or partition deleted?); unread records may be lost; set failOnDataLoss: false to skip them",
		},
	}
	for _, tt := range tests {
		tt.in.FailOnDataLoss = true
		out, err := Plan(tt.in)
		var dl *DataLossError
		if !errors.As(err, &dl) || !errors.Is(err, ErrDataLoss) {
			t.Errorf("%s: err = %v (%T), want *DataLossError", tt.name, err, err)
			continue
		}
		if *dl != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, *dl, tt.want)
		}
		if err.Error() != tt.msg {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, err, tt.msg)
		}
		if out.Ends != nil || out.Ranges != nil {
			t.Errorf("%s: a plan came with the error: %+v", tt.name, out)
		}
	}
}

func TestPlanInputErrors(t *testing.T) {
	a0 := tp("a", 0)
	type m = map[TopicPartition]int64
	tests := []struct {
		in  PlanInput
		msg string
	}{
		{PlanInput{Partitions: []TopicPartition{a0}, Earliest: m{a0: 0}}, "invalid plan input: no earliest or latest offset listed for a-0"},
		{PlanInput{Partitions: []TopicPartition{a0}, Earliest: m{a0: 5}, Latest: m{a0: 4}}, "invalid plan input: a-0 has log start 5 and end 4"},
		{PlanInput{Partitions: []TopicPartition{a0}, Start: m{a0: -1}, Earliest: m{a0: 0}, Latest: m{a0: 4}}, "invalid plan input: a-0 resumes at negative offset -1"},
	}
	for _, tt := range tests {
		_, err := Plan(tt.in)
		if err == nil || err.Error() != tt.msg || !errors.Is(err, ErrPlanInput) {
			t.Errorf("Plan(%+v) = %v, want %s", tt.in, err, tt.msg)
		}
	}
}

package offsets

import (
	"maps"
	"testing"
	"time"
)

// TestPlanSplitsCaps checks the caps that split a total across partitions
// in proportion to their lag: backpressure's rate (Spark Streaming's
// maxMessagesPerPartition) and maxOffsetsPerTrigger (Structured
// Streaming's rateLimit), alone and with the static rate limit.
func TestPlanSplitsCaps(t *testing.T) {
	a0, a1, a2 := tp("a", 0), tp("a", 1), tp("a", 2)
	parts := []TopicPartition{a0, a1, a2}
	type m = map[TopicPartition]int64
	zero := m{a0: 0, a1: 0, a2: 0}
	for _, c := range []struct {
		name   string
		latest m
		in     PlanInput // Partitions, Start, Earliest and Latest are filled in
		want   m         // the ends
	}{
		{"rate split by lag", m{a0: 300, a1: 100, a2: 0},
			PlanInput{Rate: 100, Interval: time.Second}, m{a0: 75, a1: 25, a2: 0}},
		{"rate x interval", m{a0: 300, a1: 100, a2: 0},
			PlanInput{Rate: 100, Interval: 2 * time.Second}, m{a0: 150, a1: 50, a2: 0}},
		{"rate share capped by maxRatePerPartition", m{a0: 300, a1: 100, a2: 0},
			PlanInput{Rate: 100, Interval: time.Second, Limit: RateLimit{MaxRatePerPartition: 50}}, m{a0: 50, a1: 25, a2: 0}},
		{"rate share capped by an override", m{a0: 300, a1: 100, a2: 0},
			PlanInput{Rate: 100, Interval: time.Second, Limit: RateLimit{PerPartition: map[TopicPartition]int64{a0: 10}}}, m{a0: 10, a1: 25, a2: 0}},
		{"a share below one offset reads the minimum, 1", m{a0: 1000, a1: 1, a2: 0},
			PlanInput{Rate: 10, Interval: time.Second}, m{a0: 9, a1: 1, a2: 0}},
		{"minRatePerPartition is offsets per batch, as in Spark", m{a0: 1000, a1: 100, a2: 0},
			PlanInput{Rate: 10, Interval: 100 * time.Millisecond, MinRatePerPartition: 5}, m{a0: 5, a1: 5, a2: 0}},
		{"the minimum never reads past latest", m{a0: 1000, a1: 2, a2: 0},
			PlanInput{Rate: 10, Interval: time.Second, MinRatePerPartition: 5}, m{a0: 9, a1: 2, a2: 0}},
		{"no lag anywhere: nothing to read", m{a0: 0, a1: 0, a2: 0},
			PlanInput{Rate: 100, Interval: time.Second, MaxOffsetsPerTrigger: 10}, m{a0: 0, a1: 0, a2: 0}},
		{"minRatePerPartition lifts the static cap", m{a0: 1000, a1: 1000, a2: 0},
			PlanInput{Limit: RateLimit{MaxRatePerPartition: 10}, Interval: 100 * time.Millisecond, MinRatePerPartition: 5}, m{a0: 5, a1: 5, a2: 0}},
		{"maxOffsetsPerTrigger split by lag, rounded down", m{a0: 30, a1: 10, a2: 0},
			PlanInput{MaxOffsetsPerTrigger: 10}, m{a0: 7, a1: 2, a2: 0}},
		{"maxOffsetsPerTrigger: a share below one rounds up", m{a0: 1000, a1: 1, a2: 0},
			PlanInput{MaxOffsetsPerTrigger: 10}, m{a0: 9, a1: 1, a2: 0}},
		{"maxOffsetsPerTrigger above the lag reads it all", m{a0: 30, a1: 10, a2: 5},
			PlanInput{MaxOffsetsPerTrigger: 1000}, m{a0: 30, a1: 10, a2: 5}},
		{"the smallest cap wins", m{a0: 3000, a1: 1000, a2: 0},
			PlanInput{MaxOffsetsPerTrigger: 400, Limit: RateLimit{MaxRatePerPartition: 200}, Interval: time.Second}, m{a0: 200, a1: 100, a2: 0}},
		{"backpressure and maxOffsetsPerTrigger", m{a0: 3000, a1: 1000, a2: 0},
			PlanInput{Rate: 1000, MaxOffsetsPerTrigger: 400, Interval: time.Second}, m{a0: 300, a1: 100, a2: 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.Partitions, in.Start, in.Earliest, in.Latest = parts, zero, zero, c.latest
			out, err := Plan(in)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(out.Ends, c.want) {
				t.Errorf("ends = %v, want %v", out.Ends, c.want)
			}
			for _, r := range out.Ranges {
				if r.From != 0 || r.Until != c.want[TopicPartition{r.Topic, r.Partition}] || r.Until <= r.From {
					t.Errorf("range %v does not match the ends %v", r, c.want)
				}
			}
		})
	}
}

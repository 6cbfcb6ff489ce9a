package kafka_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
)

func TestAdminPartitionsAndOffsets(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 2, "orders": 1})
	var recs []kafkatest.Record
	for i := 0; i < 30; i++ {
		recs = append(recs, kafkatest.Record{Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))})
	}
	b.Produce(t, "clicks", recs)
	a := b.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	tps, err := a.Partitions(ctx, kafka.Subscription{Pattern: regexp.MustCompile("^cl.*")})
	if err != nil {
		t.Fatal(err)
	}
	want := []offsets.TopicPartition{{Topic: "clicks", Partition: 0}, {Topic: "clicks", Partition: 1}}
	if fmt.Sprint(tps) != fmt.Sprint(want) {
		t.Fatalf("partitions = %v, want %v", tps, want)
	}
	latest, err := a.ListOffsets(ctx, tps, offsets.Latest, true)
	if err != nil {
		t.Fatal(err)
	}
	if latest[want[0]] != 15 || latest[want[1]] != 15 {
		t.Fatalf("latest = %v, want 15 each", latest)
	}
	if err := a.DeleteRecords(ctx, want[0], 10); err != nil {
		t.Fatal(err)
	}
	earliest, err := a.ListOffsets(ctx, tps, offsets.Earliest, true)
	if err != nil {
		t.Fatal(err)
	}
	if earliest[want[0]] != 10 || earliest[want[1]] != 0 {
		t.Fatalf("earliest = %v, want 10 and 0", earliest)
	}
	if err := a.CreatePartitions(ctx, "orders", 3); err != nil {
		t.Fatal(err)
	}
	tps, err = a.Partitions(ctx, kafka.Subscription{Topics: []string{"orders", "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tps) != 3 {
		t.Fatalf("orders partitions = %v, want 3", tps)
	}
	tps, err = a.Partitions(ctx, kafka.Subscription{Assign: []offsets.TopicPartition{{Topic: "orders", Partition: 2}, {Topic: "clicks", Partition: 0}}})
	if err != nil || fmt.Sprint(tps) != "[clicks-0 orders-2]" {
		t.Fatalf("assigned partitions = %v, %v", tps, err)
	}
	for _, tc := range []struct {
		tp   offsets.TopicPartition
		want string
	}{
		{offsets.TopicPartition{Topic: "nosuch", Partition: 0}, `kafka: assign: topic "nosuch" does not exist`},
		{offsets.TopicPartition{Topic: "clicks", Partition: 2}, "kafka: assign: partition clicks-2 does not exist: topic clicks has 2 partitions"},
	} {
		if _, err := a.Partitions(ctx, kafka.Subscription{Assign: []offsets.TopicPartition{tc.tp}}); err == nil || err.Error() != tc.want {
			t.Errorf("assign %s: %v, want %s", tc.tp, err, tc.want)
		}
	}
}

// A request's timeout is its limit, or ctx's deadline if sooner: a long
// deadline does not make a request against a down cluster wait for it.
func TestRequestTimeout(t *testing.T) {
	limit := 10 * time.Second
	if got := kafka.TimeoutMs(context.Background(), limit); got != 10000 {
		t.Errorf("no deadline: %d ms, want 10000", got)
	}
	long, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	if got := kafka.TimeoutMs(long, limit); got != 10000 {
		t.Errorf("150 s deadline: %d ms, want 10000", got)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if got := kafka.TimeoutMs(short, limit); got < 2900 || got > 3000 {
		t.Errorf("3 s deadline: %d ms, want 2900-3000", got)
	}
	past, cancel3 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel3()
	if got := kafka.TimeoutMs(past, limit); got != 1 {
		t.Errorf("past deadline: %d ms, want 1", got)
	}
}

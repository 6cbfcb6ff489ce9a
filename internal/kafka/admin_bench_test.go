package kafka_test

import (
	"context"
	"sync"
	"testing"

	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
)

// BenchmarkPlanCalls times the admin calls a driver makes to plan a batch of
// 64 partitions: the metadata request, one ListOffsets, and the two run
// concurrently.
func BenchmarkPlanCalls(b *testing.B) {
	br := kafkatest.Start(b, map[string]int32{"clicks": 64})
	a := br.Admin(b)
	ctx := context.Background()
	sub := kafka.Subscription{Topics: []string{"clicks"}}
	tps, err := a.Partitions(ctx, sub)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("metadata", func(b *testing.B) {
		for range b.N {
			if _, err := a.Partitions(ctx, sub); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("latest", func(b *testing.B) {
		for range b.N {
			if _, err := a.ListOffsets(ctx, tps, offsets.Latest, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("metadata+latest", func(b *testing.B) {
		for range b.N {
			if _, err := a.Partitions(ctx, sub); err != nil {
				b.Fatal(err)
			}
			if _, err := a.ListOffsets(ctx, tps, offsets.Latest, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("metadata||latest", func(b *testing.B) {
		for range b.N {
			var wg sync.WaitGroup
			var merr error
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, merr = a.Partitions(ctx, sub)
			}()
			_, err := a.ListOffsets(ctx, tps, offsets.Latest, true)
			wg.Wait()
			if err != nil || merr != nil {
				b.Fatal(err, merr)
			}
		}
	})
}

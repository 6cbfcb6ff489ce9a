package engine

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/offsets"
)

// groupOffsets reads group's committed offsets of topic with franz-go.
func groupOffsets(t *testing.T, addr, group string) map[offsets.TopicPartition]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatal(err)
	}
	out := map[offsets.TopicPartition]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		out[offsets.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.At
	})
	return out
}

// The positions of every committed batch reach the consumer group: while
// the query runs (a batch's positions are there before a later batch is
// planned, at the latest a few batches later) and, exactly, the last
// batch's once Run returned.
func TestCommitOffsetsToGroup(t *testing.T) {
	b, _ := clickTopic(t, 3, 3000)
	ends := b.EndOffsets(t, "clicks")
	var buf bytes.Buffer // read once Run returned: its goroutines are done
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), &collector{})
	cfg.Source.CommitOffsetsToGroup = "lag-tools"
	cfg.Source.MaxRatePerPartition = 100 // 10 batches
	cfg.Logger = warnLogger(&lockedWriter{&buf, &sync.Mutex{}})
	var seen []map[offsets.TopicPartition]int64
	cfg.OnProgress = func(p Progress) {
		if p.BatchID == 5 {
			// Batch 2's positions or later are in the group by now.
			deadline := time.Now().Add(10 * time.Second)
			for {
				got := groupOffsets(t, b.Addr, "lag-tools")
				if len(got) == 3 && got[offsets.TopicPartition{Topic: "clicks", Partition: 0}] >= 300 {
					seen = append(seen, got)
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("batch 5: the group holds %v, want batch 2's positions or later", got)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	q := runQuery(t, cfg)
	if len(seen) != 1 {
		t.Fatalf("the group was checked %d times during the run, want 1", len(seen))
	}
	got := groupOffsets(t, b.Addr, "lag-tools")
	if len(got) != len(ends) {
		t.Fatalf("group offsets %v, want %v", got, ends)
	}
	for tp, end := range ends {
		if got[tp] != end {
			t.Errorf("group offset of %s = %d, want the last batch's end %d", tp, got[tp], end)
		}
	}
	checkContiguous(t, q, ends)
	if buf.String() != "" {
		t.Errorf("warnings: %s", buf.String())
	}
}

// A group the broker refuses commits to (it has an active member) is
// logged once and never fails a batch.
func TestCommitOffsetsToGroupFailureIsLogged(t *testing.T) {
	b, want := clickTopic(t, 2, 1000)
	member, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumerGroup("busy"), kgo.ConsumeTopics("clicks"),
		kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	// Wait until the member joined (its first poll returns records).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if fs := member.PollRecords(ctx, 1); fs.Err0() != nil {
		t.Fatal(fs.Err0())
	}

	var buf bytes.Buffer // read once Run returned: its goroutines are done
	sink := &collector{}
	cfg := testConfig(t, b.Addr, "clicks", t.TempDir(), sink)
	cfg.Source.CommitOffsetsToGroup = "busy"
	cfg.Source.MaxRatePerPartition = 100 // 5 batches
	cfg.Logger = warnLogger(&lockedWriter{&buf, &sync.Mutex{}})
	runQuery(t, cfg)
	sameCounts(t, countsOf(t, sink.last(t).rows), want)
	logs := buf.String()
	if n := strings.Count(logs, "committing positions to the consumer group failed"); n != 1 {
		t.Fatalf("%d warnings, want 1 (the same error is logged once):\n%s", n, logs)
	}
	if !strings.Contains(logs, "group=busy") {
		t.Errorf("the warning does not name the group: %s", logs)
	}
	if got := groupOffsets(t, b.Addr, "busy"); len(got) != 0 {
		t.Errorf("the busy group's offsets changed: %v", got)
	}
}

package sinks_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/sinks"
)

// A broker failure during batch 1's transaction: the batch succeeds (the
// client retries a request, or the sink aborts and retries the
// transaction) and the topic holds every batch's rows once, in order.
//
// kfake keeps its log in memory, so a real broker restart would lose the
// topic; the outage is simulated with kfake's fault hooks instead:
//   - Cluster.Fault answers a request with an error code: before the broker
//     acted, or (REQUEST_TIMED_OUT on Produce) after it appended, which is
//     a produce whose answer was lost: the idempotent retry must not
//     duplicate;
//   - Cluster.ControlKey returning an error closes the client's connection
//     before the broker acted on the request; kept for a while on every
//     request (key -1), it is a broker unreachable for that long.
//
// What kfake cannot simulate: a request the broker applied whose
// connection then dropped (a control answers instead of the broker, never
// after it), in particular an EndTxn committed by the coordinator whose
// answer was lost (REQUEST_TIMED_OUT is applied-then-answered only for
// Produce, WriteTxnMarkers and other non-transactional requests); a
// coordinator failover with state kept (one broker, no replication of the
// transaction state); and a restart that keeps the log (kfake persists
// with a data dir, but a restart on the same port under a running client
// is not supported by kafkatest).
func TestKafkaSinkBrokerFailureMidTransaction(t *testing.T) {
	for _, tc := range []struct {
		name string
		// aborts: the sink aborts the first attempt and retries: its
		// marker is in the progress topic's log, aborted.
		aborts bool
		// fail installs the fault on the cluster once batch 1 begins and
		// returns how many requests it hit so far.
		fail func(c *kfake.Cluster) (hits func() int)
	}{
		{"produce answer lost after append", false, func(c *kfake.Cluster) func() int {
			h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.RequestTimedOut})
			return h.Hits
		}},
		{"produce connection dropped", false, func(c *kfake.Cluster) func() int {
			return dropOnce(c, kmsg.Produce)
		}},
		{"produce refused: transaction aborted and retried", true, func(c *kfake.Cluster) func() int {
			h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.InvalidRecord})
			return h.Hits
		}},
		{"add partitions: coordinator not available", false, func(c *kfake.Cluster) func() int {
			h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.AddPartitionsToTxn}, Err: kerr.CoordinatorNotAvailable, Count: 2})
			return h.Hits
		}},
		{"add partitions connection dropped", false, func(c *kfake.Cluster) func() int {
			return dropOnce(c, kmsg.AddPartitionsToTxn)
		}},
		{"end txn: coordinator load in progress", false, func(c *kfake.Cluster) func() int {
			h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.CoordinatorLoadInProgress, Count: 2})
			return h.Hits
		}},
		{"end txn connection dropped", false, func(c *kfake.Cluster) func() int {
			return dropOnce(c, kmsg.EndTxn)
		}},
		{"broker unreachable for 1.5s from the first produce", false, func(c *kfake.Cluster) func() int {
			var hits atomic.Int64
			var until atomic.Int64
			c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
				until.Store(time.Now().Add(1500 * time.Millisecond).UnixNano())
				c.ControlKey(-1, func(kmsg.Request) (kmsg.Response, error, bool) {
					if time.Now().UnixNano() > until.Load() {
						return nil, nil, false // the broker is back: dropped
					}
					c.KeepControl()
					hits.Add(1)
					return nil, errors.New("broker down"), true
				})
				hits.Add(1)
				return nil, errors.New("broker down"), true
			})
			return func() int { return int(hits.Load()) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			b := kafkatest.Start(t, map[string]int32{"out": 1})
			k := open(t, sinks.KafkaOptions{Props: b.Props(), Topic: "out", Job: "pv"}, -1)
			var want []string
			for id := int64(0); id < 3; id++ {
				var hits func() int
				if id == 1 {
					hits = tc.fail(b.Cluster)
				}
				r := pageRec(mem, []string{fmt.Sprint("p", id), fmt.Sprint("q", id)}, []int64{id, id + 10}, []float64{1, 2})
				start := time.Now()
				add(t, k, &engine.Output{BatchID: id, Mode: dataframe.Append, Schema: pageSchema, Records: []arrow.Record{r}})
				r.Release()
				if hits != nil {
					if hits() == 0 {
						t.Fatalf("the fault hit no request")
					}
					t.Logf("batch 1 took %v, %d requests failed", time.Since(start).Round(time.Millisecond), hits())
				}
				want = append(want,
					fmt.Sprintf(`|{"page":"p%d","views":%d,"ratio":1}|microbatch.job=pv,microbatch.batch=%d`, id, id, id),
					fmt.Sprintf(`|{"page":"q%d","views":%d,"ratio":2}|microbatch.job=pv,microbatch.batch=%d`, id, id+10, id))
			}
			if got := readTopic(t, b.Addr, "out", len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("out =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if got := readTopic(t, b.Addr, "out.microbatch-progress", 3); len(got) != 3 {
				t.Fatalf("markers = %q, want batches 0, 1, 2 once each", got)
			}
			if n := len(readTopicAt(t, b.Addr, "out.microbatch-progress", 3, kgo.ReadUncommitted())); tc.aborts != (n > 3) {
				t.Fatalf("the progress topic's log holds %d markers: the sink aborted and retried: %v, want %v", n, n > 3, tc.aborts)
			}
		})
	}
}

// dropOnce closes the connection of the next request of key, before the
// broker acts on it; the returned func counts the drops.
func dropOnce(c *kfake.Cluster, key kmsg.Key) func() int {
	var hits atomic.Int64
	c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		hits.Add(1)
		return nil, errors.New("connection dropped"), true
	})
	return func() int { return int(hits.Load()) }
}

package sinks_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/sinks"
	"github.com/microbatch/microbatch/sql"
)

// updateQuery keeps a key while its sum is not negative: a key whose sum
// turns negative leaves the result, a tombstone in the Kafka sink.
const updateQuery = "SELECT k, count(*) AS c, sum(v) AS s FROM events GROUP BY k HAVING sum(v) >= 0"

// updateChild runs updateQuery in update mode into the Kafka sink (topic
// "out"), killing itself at envKillAt of batch envKillBatch as crashChild.
func updateChild() error {
	schema, err := dataframe.ParseSchema("k STRING, v BIGINT")
	if err != nil {
		return err
	}
	plan, err := sql.Compile(updateQuery, "events", schema)
	if err != nil {
		return err
	}
	addr, at := os.Getenv(envAddr), os.Getenv(envKillAt)
	batch, _ := strconv.ParseInt(os.Getenv(envKillBatch), 10, 64)
	k, err := sinks.NewKafka(sinks.KafkaOptions{Props: map[string]string{"bootstrap.servers": addr}, Topic: "out", Job: "crash"})
	if err != nil {
		return err
	}
	if at == "before-kafka-commit" {
		killBeforeCommit(k, batch)
	}
	return runChildQuery(engine.Config{
		Source: engine.KafkaSource{BootstrapServers: addr, Subscribe: []string{"in"}, StartingOffsets: "earliest", MaxRatePerPartition: 10},
		Format: dataframe.FormatJSON, Schema: schema, Query: plan, OutputMode: dataframe.Update,
		Sink: killAround{k, at, batch},
	})
}

// A process running updateQuery in update mode killed with SIGKILL in
// batch 2 before its Kafka commit, between its Kafka commit and its bbolt
// commit, or after both, and restarted: the last value per key read from
// the topic (a null value deleting the key) equals the query's result
// computed here from the input, tombstones occurred, and no batch wrote a
// key twice.
func TestKafkaSinkCrashUpdateMode(t *testing.T) {
	for _, at := range []string{"before-kafka-commit", "after-kafka-commit", "after-bbolt-commit"} {
		t.Run(at, func(t *testing.T) {
			b := kafkatest.Start(t, map[string]int32{"in": 1, "out": 2})
			var recs []kafkatest.Record
			count, sum := map[string]int64{}, map[string]int64{}
			for i := 0; i < 60; i++ {
				k, v := fmt.Sprint("k", i%5), int64((i*7)%11-5)
				recs = append(recs, kafkatest.Record{Value: []byte(fmt.Sprintf(`{"k":%q,"v":%d}`, k, v))})
				count[k]++
				sum[k] += v
			}
			want := map[string]string{}
			for k, s := range sum {
				if s >= 0 {
					want[fmt.Sprintf(`{"k":%q}`, k)] = fmt.Sprintf(`{"k":%q,"c":%d,"s":%d}`, k, count[k], s)
				}
			}
			if len(want) == 0 || len(want) == len(sum) {
				t.Fatalf("the input should leave some keys in the result and some out: %v", sum)
			}
			b.Produce(t, "in", recs)
			dir := filepath.Join(t.TempDir(), "ckpt")
			if err := runChildKind(t, "update", b.Addr, dir, at, 2); !errors.Is(err, errKilled) {
				t.Fatalf("first run: %v, want killed", err)
			}
			if err := runChildKind(t, "update", b.Addr, dir, "", -1); err != nil {
				t.Fatalf("restart: %v", err)
			}
			recsOut := readTopic(t, b.Addr, "out", 1)
			last, tombstones := map[string]string{}, 0
			lastBatch := map[string]int{} // a key's batches: each at most once, in order
			for _, r := range recsOut {
				f := strings.Split(r, "|")
				batch, err := strconv.Atoi(strings.TrimPrefix(f[2], "microbatch.job=crash,microbatch.batch="))
				if err != nil {
					t.Fatalf("record %s: no batch header: %v", r, err)
				}
				if p, ok := lastBatch[f[0]]; ok && p >= batch {
					t.Fatalf("key %s written by batch %d after batch %d: a batch wrote twice\n%s", f[0], batch, p, strings.Join(recsOut, "\n"))
				}
				lastBatch[f[0]] = batch
				if f[1] == "<nil>" {
					delete(last, f[0])
					tombstones++
				} else {
					last[f[0]] = f[1]
				}
			}
			if tombstones == 0 {
				t.Fatalf("no tombstone among the %d records:\n%s", len(recsOut), strings.Join(recsOut, "\n"))
			}
			if !maps.Equal(last, want) {
				ks := slices.Sorted(maps.Keys(sum))
				t.Fatalf("last value per key = %v\nwant %v (sums %v of %v)\nrecords:\n%s", last, want, sum, ks, strings.Join(recsOut, "\n"))
			}
		})
	}
}

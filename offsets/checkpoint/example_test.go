package checkpoint_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// The batch protocol: resume, plan, write ahead, run, commit.
func Example() {
	dir, err := os.MkdirTemp("", "example-checkpoint")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ckpt, err := checkpoint.Open(dir, checkpoint.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer ckpt.Close()

	fp := checkpoint.Fingerprint{Stateful: true, GroupKeys: []string{"page STRING"}, Aggregates: []string{"count(*)"},
		Query: "SELECT page, count(*) FROM events GROUP BY page", Format: "json", OutputMode: "complete"}
	if _, err := ckpt.CheckFingerprint(fp, nil); err != nil {
		log.Fatal(err) // a different query: use a new checkpointLocation
	}
	p0 := offsets.TopicPartition{Topic: "clicks", Partition: 0}
	earliest := map[offsets.TopicPartition]int64{p0: 0}
	latest := map[offsets.TopicPartition]int64{p0: 12_000}

	// First start: resolve startingOffsets once and record them.
	spec, _ := offsets.ParseStartingOffsets(`{"clicks":{"0":2000}}`)
	initial, err := spec.Resolve([]offsets.TopicPartition{p0}, earliest, latest)
	if err != nil {
		log.Fatal(err)
	}
	if err := ckpt.SetInitialOffsets(initial); err != nil {
		log.Fatal(err)
	}

	// A crash leaves a pending batch: re-run it before planning a new one.
	if pending, _ := ckpt.Pending(); pending != nil {
		log.Fatalf("re-run batch %d", pending.ID)
	}
	start, _ := ckpt.Positions() // empty until the first commit
	if len(start) == 0 {
		start = initial
	}
	out, err := offsets.Plan(offsets.PlanInput{
		Partitions: []offsets.TopicPartition{p0}, Start: start, Earliest: earliest, Latest: latest,
		Limit: offsets.RateLimit{MaxRatePerPartition: 5000}, Interval: time.Second, FailOnDataLoss: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	plan := checkpoint.NewBatchPlan(0, out, time.Now())
	if err := ckpt.WriteAhead(plan); err != nil {
		log.Fatal(err)
	}
	fmt.Println("batch 0 reads", plan.Ranges)

	// ... read the ranges, aggregate, write sinks ...
	var rows int64
	for _, r := range plan.Ranges {
		rows += r.Count() // one row per record here
	}
	err = ckpt.Commit(checkpoint.CommitRecord{ID: 0, InputRows: rows}, func(tx *checkpoint.CommitTx) error {
		key := []byte("/home")
		return tx.PutState(checkpoint.NamespaceOf(1, key), key, []byte("5000"))
	})
	if err != nil {
		log.Fatal(err)
	}
	pos, _ := ckpt.Positions()
	fmt.Println("clicks-0 resumes at", pos[p0])
	// Output:
	// batch 0 reads [clicks-0[2000,7000)]
	// clicks-0 resumes at 7000
}

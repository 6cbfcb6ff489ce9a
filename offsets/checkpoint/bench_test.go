package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/microbatch/microbatch/offsets"
)

const benchStateKeys = 1_000_000

// stateKey is a 16-byte group key: a prefix and a big-endian index, so the
// index order is the key order.
func stateKey(buf []byte, i int) []byte {
	buf = append(buf[:0], "grp:key:"...)
	return binary.BigEndian.AppendUint64(buf, uint64(i))
}

// loadState fills c with n keys in one batch (batch id 0, applied to the
// base directly: the log starts empty) and returns the next batch id.
func loadState(b *testing.B, c *Checkpoint, n int) int64 {
	b.Helper()
	var kb, vb []byte
	mustNoErr(b, c.WriteAhead(plan1(0, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 0, Until: int64(n)}}, nil)))
	mustNoErr(b, c.Commit(CommitRecord{ID: 0}, func(tx *CommitTx) error {
		for i := range n {
			kb = stateKey(kb, i)
			vb = binary.BigEndian.AppendUint64(vb[:0], 1)
			vb = binary.BigEndian.AppendUint64(vb, uint64(i))
			if err := tx.PutState(tns, kb, vb); err != nil {
				return err
			}
		}
		return nil
	}))
	return 1
}

// BenchmarkCommit commits batches that change k keys, spread evenly over a
// 1M-key state (the worst case for a B+tree: every k/1M-th page), in sorted
// order, with fsync. keys/s is amortised over all commits, compactions
// included; fast-keys/s is k over the median commit (a commit that only
// appends to the state log); max-ms is the slowest commit (a compaction).
func BenchmarkCommit(b *testing.B) {
	for _, changed := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("changed=%d", changed), func(b *testing.B) {
			c := openTest(b, Options{Retain: 10, NoSync: os.Getenv("BENCH_NOSYNC") != ""})
			id := loadState(b, c, benchStateKeys)
			stride := benchStateKeys / changed
			var kb, vb []byte
			var times []time.Duration
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				mustNoErr(b, c.WriteAhead(plan1(id, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: int64(id) * 10, Until: int64(id)*10 + 10}}, nil)))
				start := time.Now()
				mustNoErr(b, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
					for i := 0; i < benchStateKeys; i += stride {
						kb = stateKey(kb, i)
						vb = binary.BigEndian.AppendUint64(vb[:0], uint64(n+2))
						vb = binary.BigEndian.AppendUint64(vb, uint64(i))
						if err := tx.PutState(tns, kb, vb); err != nil {
							return err
						}
					}
					return nil
				}))
				times = append(times, time.Since(start))
				id++
			}
			b.StopTimer()
			reportCommitTimes(b, changed, times)
		})
	}
}

func reportCommitTimes(b *testing.B, changed int, times []time.Duration) {
	var total time.Duration
	for _, d := range times {
		total += d
	}
	slices.Sort(times)
	median := times[len(times)/2]
	b.ReportMetric(float64(changed)*float64(len(times))/total.Seconds(), "keys/s")
	b.ReportMetric(float64(changed)/median.Seconds(), "fast-keys/s")
	b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkCommitAppend commits batches of 100k keys above every existing
// key (time-ordered keys): a compaction rewrites only the last chunk of the
// base and appends new ones.
func BenchmarkCommitAppend(b *testing.B) {
	c := openTest(b, Options{Retain: 10})
	id := loadState(b, c, 100_000)
	next := 100_000
	var kb, vb []byte
	var times []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		mustNoErr(b, c.WriteAhead(plan1(id, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: int64(id) * 10, Until: int64(id)*10 + 10}}, nil)))
		start := time.Now()
		mustNoErr(b, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
			for range 100_000 {
				kb = stateKey(kb, next)
				vb = binary.BigEndian.AppendUint64(vb[:0], uint64(next))
				next++
				if err := tx.PutState(tns, kb, vb); err != nil {
					return err
				}
			}
			return nil
		}))
		times = append(times, time.Since(start))
		id++
	}
	b.StopTimer()
	reportCommitTimes(b, 100_000, times)
}

// BenchmarkBatchCycle is the checkpoint's share of the driver overhead of
// one batch at 64 partitions, as the engine does it: WriteAhead of a
// 64-range plan, then a Commit that changes 1,100 state keys (the
// clickstream query's page counts) and the 64 positions, fsync on.
// wal-ms and commit-ms are the medians.
func BenchmarkBatchCycle(b *testing.B) {
	const parts, keys = 64, 1100
	c := openTest(b, Options{NoSync: os.Getenv("BENCH_NOSYNC") != ""})
	var kb, vb []byte
	var wal, commit []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		id := int64(n)
		ranges := make([]offsets.OffsetRange, parts)
		for p := range ranges {
			ranges[p] = offsets.OffsetRange{Topic: "clicks", Partition: int32(p), From: id * 1500, Until: id*1500 + 1500}
		}
		t0 := time.Now()
		mustNoErr(b, c.WriteAhead(plan1(id, ranges, nil)))
		t1 := time.Now()
		mustNoErr(b, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
			for i := range keys {
				kb = stateKey(kb, i)
				vb = binary.BigEndian.AppendUint64(vb[:0], uint64(n))
				if err := tx.PutState(tns, kb, vb); err != nil {
					return err
				}
			}
			return nil
		}))
		wal, commit = append(wal, t1.Sub(t0)), append(commit, time.Since(t1))
	}
	b.StopTimer()
	med := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	var sum time.Duration
	for i := range wal {
		sum += wal[i] + commit[i]
	}
	b.ReportMetric(float64(sum.Microseconds())/1000/float64(len(wal)), "mean-cycle-ms")
	b.ReportMetric(med(wal), "wal-ms")
	b.ReportMetric(med(commit), "commit-ms")
}

// BenchmarkCommitGrowing commits the bench's 1M-key query as the engine
// does (go run ./bench -keys 1000000): 10 batches, each putting the counts
// of 75k new pages scattered over the key order, in key order, fsync on.
// One op is the 10 commits on a fresh checkpoint; commit-ms is their sum,
// max-ms the slowest (a compaction), median-ms the median (a log append).
func BenchmarkCommitGrowing(b *testing.B) {
	const keys, batches, changed = 1_000_000, 10, 75_000
	perm := rand.New(rand.NewPCG(3, 4)).Perm(keys)
	batchKeys := make([][][]byte, batches)
	for i := range batchKeys {
		for _, p := range perm[i*changed : (i+1)*changed] {
			batchKeys[i] = append(batchKeys[i], []byte("\x01/p/"+strconv.Itoa(p)+"\x00\x01"))
		}
		slices.SortFunc(batchKeys[i], bytes.Compare)
	}
	var total, slowest time.Duration
	var times []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		c := openTest(b, Options{NoSync: os.Getenv("BENCH_NOSYNC") != ""})
		b.StartTimer()
		var vb []byte
		for id, ks := range batchKeys {
			mustNoErr(b, c.WriteAhead(plan1(int64(id), []offsets.OffsetRange{{Topic: "t", Partition: 0, From: int64(id) * 10, Until: int64(id)*10 + 10}}, nil)))
			start := time.Now()
			mustNoErr(b, c.Commit(CommitRecord{ID: int64(id)}, func(tx *CommitTx) error {
				if os.Getenv("BENCH_NOGROW") == "" { // A/B of GrowState
					tx.GrowState(len(ks))
				}
				for _, k := range ks {
					vb = binary.AppendUvarint(append(vb[:0], 1, 1), uint64(id+1))
					if err := tx.PutState(tns, k, vb); err != nil {
						return err
					}
				}
				return nil
			}))
			d := time.Since(start)
			total += d
			slowest = max(slowest, d)
			times = append(times, d)
			if os.Getenv("BENCH_VERBOSE") != "" {
				b.Logf("batch %d: %v", id, d)
			}
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "commit-ms")
	b.ReportMetric(float64(slowest.Microseconds())/1000, "max-ms")
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
}

// BenchmarkCommitDeletes compares a commit that deletes 100k keys of a
// 1M-key state with one that puts as many (the same keys, spread evenly),
// with fsync, and the compaction that applies each such batch to the base
// (compact-ms): a delete should cost what a put costs. Each delete batch
// deletes keys that exist while b.N <= 10.
func BenchmarkCommitDeletes(b *testing.B) {
	const changed = 100_000
	for _, op := range []string{"put", "delete"} {
		b.Run("op="+op, func(b *testing.B) {
			c := openTest(b, Options{Retain: 10, NoSync: os.Getenv("BENCH_NOSYNC") != ""})
			id := loadState(b, c, benchStateKeys)
			stride := benchStateKeys / changed
			var kb, vb []byte
			var times []time.Duration
			var compact time.Duration
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				mustNoErr(b, c.WriteAhead(plan1(id, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: int64(id) * 10, Until: int64(id)*10 + 10}}, nil)))
				start := time.Now()
				mustNoErr(b, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
					for i := n % stride; i < benchStateKeys; i += stride {
						kb = stateKey(kb, i)
						if op == "delete" {
							if err := tx.DeleteState(tns, kb); err != nil {
								return err
							}
							continue
						}
						vb = binary.BigEndian.AppendUint64(vb[:0], uint64(n+2))
						if err := tx.PutState(tns, kb, vb); err != nil {
							return err
						}
					}
					return nil
				}))
				times = append(times, time.Since(start))
				start = time.Now()
				mustNoErr(b, c.Compact())
				compact += time.Since(start)
				id++
			}
			b.StopTimer()
			reportCommitTimes(b, changed, times)
			b.ReportMetric(float64(compact.Microseconds())/1000/float64(b.N), "compact-ms")
		})
	}
}

package offsets

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"
)

const benchStateKeys = 1_000_000

// stateKey is a 16-byte group key: a prefix and a big-endian index, so the
// index order is the key order.
func stateKey(buf []byte, i int) []byte {
	buf = append(buf[:0], "grp:key:"...)
	return binary.BigEndian.AppendUint64(buf, uint64(i))
}

// loadState fills c with n keys in batches of 100k (batch ids from 0) and
// returns the next batch id.
func loadState(b *testing.B, c *Checkpoint, n int) int64 {
	b.Helper()
	var id int64
	var kb, vb []byte
	for lo := 0; lo < n; lo += 100_000 {
		hi := min(lo+100_000, n)
		mustNoErr(b, c.WriteAhead(plan1(id, []OffsetRange{{"t", 0, int64(lo), int64(hi)}}, nil)))
		mustNoErr(b, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
			for i := lo; i < hi; i++ {
				kb = stateKey(kb, i)
				vb = binary.BigEndian.AppendUint64(vb[:0], 1)
				vb = binary.BigEndian.AppendUint64(vb, uint64(i))
				if err := tx.PutState(kb, vb); err != nil {
					return err
				}
			}
			return nil
		}))
		id++
	}
	return id
}

// BenchmarkCommit commits batches that change k keys, spread evenly over a
// 1M-key state (the worst case: every k/1M-th leaf page is touched), in
// sorted order, with fsync. keys/s is the figure to watch.
func BenchmarkCommit(b *testing.B) {
	for _, changed := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("changed=%d", changed), func(b *testing.B) {
			c := openTest(b, Options{Retain: 10, NoSync: os.Getenv("BENCH_NOSYNC") != ""})
			id := loadState(b, c, benchStateKeys)
			var fnTime time.Duration
			stride := benchStateKeys / changed
			var kb, vb []byte
			var commitTime time.Duration
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				mustNoErr(b, c.WriteAhead(plan1(id, []OffsetRange{{"t", 0, int64(id) * 10, int64(id)*10 + 10}}, nil)))
				start := time.Now()
				mustNoErr(b, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
					defer func(t0 time.Time) { fnTime += time.Since(t0) }(time.Now())
					for i := 0; i < benchStateKeys; i += stride {
						kb = stateKey(kb, i)
						vb = binary.BigEndian.AppendUint64(vb[:0], uint64(n+2))
						vb = binary.BigEndian.AppendUint64(vb, uint64(i))
						if err := tx.PutState(kb, vb); err != nil {
							return err
						}
					}
					return nil
				}))
				commitTime += time.Since(start)
				id++
			}
			b.StopTimer()
			b.ReportMetric(float64(changed)*float64(b.N)/commitTime.Seconds(), "keys/s")
			b.ReportMetric(fnTime.Seconds()/float64(b.N)*1000, "put-ms/op")
			b.ReportMetric(commitTime.Seconds()/float64(b.N)*1000, "commit-ms/op")
		})
	}
}

// BenchmarkCommitAppend commits batches of 100k keys above every existing
// key (time-ordered keys), where the state bucket's fill percent is raised.
func BenchmarkCommitAppend(b *testing.B) {
	c := openTest(b, Options{Retain: 10})
	id := loadState(b, c, 100_000)
	next := 100_000
	var kb, vb []byte
	var commitTime time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		mustNoErr(b, c.WriteAhead(plan1(id, []OffsetRange{{"t", 0, int64(id) * 10, int64(id)*10 + 10}}, nil)))
		start := time.Now()
		mustNoErr(b, c.Commit(CommitRecord{ID: id}, func(tx *CommitTx) error {
			for range 100_000 {
				kb = stateKey(kb, next)
				vb = binary.BigEndian.AppendUint64(vb[:0], uint64(next))
				next++
				if err := tx.PutState(kb, vb); err != nil {
					return err
				}
			}
			return nil
		}))
		commitTime += time.Since(start)
		id++
	}
	b.StopTimer()
	b.ReportMetric(100_000*float64(b.N)/commitTime.Seconds(), "keys/s")
}

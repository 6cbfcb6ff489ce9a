package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// StateResult is the state-growth scenario: a running count of
// cfg.stateKeys keys committed through the checkpoint (checkpoint.Checkpoint:
// WriteAhead + Commit with PutState, one bbolt transaction per batch, as
// the engine commits), driven directly without Kafka.
type StateResult struct {
	Keys     int  `json:"keys"`
	NoSync   bool `json:"nosync"`
	KeyBytes int  `json:"key_bytes"`
	// Load: batches of LoadBatch new keys (ascending, as appended groups)
	// while the state grows from 0 to Keys.
	LoadBatch      int           `json:"load_batch_keys"`
	LoadCommitMs   []float64     `json:"load_commit_ms"`
	LoadKeysPerSec float64       `json:"load_keys_per_sec"`
	Updates        []StateUpdate `json:"updates"`
	// PutsVsDeletes, at the final size: batches that put Changed random
	// existing keys, then batches that delete as many (deleted keys are
	// not picked again). A delete should cost what a put costs.
	PutsVsDeletes []StateUpdate `json:"puts_vs_deletes"`
	DBBytes       int64         `json:"db_bytes"`
	TotalSeconds  float64       `json:"total_seconds"`
}

// StateUpdate is batches that each change Changed random existing keys
// (sorted, as the engine should hand them to PutState), at a state size.
// The checkpoint logs changes and compacts the log into the base now and
// then (offsets/checkpoint/doc.go): a commit that compacts is an outlier, visible in
// CommitMsAll and LoadCommitMs.
type StateUpdate struct {
	StateKeys   int       `json:"state_keys"`
	Changed     int       `json:"changed_keys"`
	CommitMs    float64   `json:"commit_ms"` // median of the repetitions
	CommitMsAll []float64 `json:"commit_ms_all"`
	Op          string    `json:"op,omitempty"` // puts_vs_deletes: "put" or "delete"
	KeysPerSec  float64   `json:"keys_per_sec"`
	MsPer1kKeys float64   `json:"ms_per_1k_keys"`
}

// stateKey is the bench's state key: a page-like string, fixed width so
// that ascending numbers are ascending keys.
func stateKey(b []byte, n int) []byte {
	b = append(b[:0], "/p/"...)
	s := strconv.Itoa(n)
	for range 9 - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// stateCommitter commits batches to a checkpoint.
type stateCommitter struct {
	ck   *checkpoint.Checkpoint
	next int64
	key  []byte
	val  [8]byte
}

// commit writes one batch changing keys (by number, in the given order)
// and returns the Commit call's duration.
func (s *stateCommitter) commit(keys []int, count uint64) (time.Duration, error) {
	return s.commitOp(keys, count, false)
}

// commitOp is commit, deleting the keys instead when del.
func (s *stateCommitter) commitOp(keys []int, count uint64, del bool) (time.Duration, error) {
	id := s.next
	s.next++
	tp := offsets.TopicPartition{Topic: "state", Partition: 0}
	plan := checkpoint.BatchPlan{
		ID:     id,
		Ranges: []offsets.OffsetRange{{Topic: "state", Partition: 0, From: id, Until: id + 1}},
		Ends:   map[offsets.TopicPartition]int64{tp: id + 1},
	}
	if err := s.ck.WriteAhead(plan); err != nil {
		return 0, err
	}
	binary.BigEndian.PutUint64(s.val[:], count)
	start := time.Now()
	err := s.ck.Commit(checkpoint.CommitRecord{ID: id, InputRows: int64(len(keys))}, func(tx *checkpoint.CommitTx) error {
		for _, k := range keys {
			s.key = stateKey(s.key, k)
			ns := checkpoint.Namespace{Operator: checkpoint.AggregationOperator}
			if del {
				if err := tx.DeleteState(ns, s.key); err != nil {
					return err
				}
				continue
			}
			if err := tx.PutState(ns, s.key, s.val[:]); err != nil {
				return err
			}
		}
		return nil
	})
	return time.Since(start), err
}

func stateScenario(cfg *config) error {
	var changed []int
	for _, f := range strings.Split(cfg.stateBatch, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-state-changed: %q", f)
		}
		changed = append(changed, min(n, cfg.stateKeys))
	}
	dir, err := os.MkdirTemp("", "microbatch-bench-state-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ck, err := checkpoint.Open(dir, checkpoint.Options{NoSync: cfg.noSync})
	if err != nil {
		return err
	}
	defer ck.Close()
	stopProf, err := startProfile(cfg.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProf()
	sc := &stateCommitter{ck: ck}
	sr := &StateResult{Keys: cfg.stateKeys, NoSync: cfg.noSync, KeyBytes: len(stateKey(nil, 0)), LoadBatch: min(1_000_000, cfg.stateKeys)}
	rng := rand.New(rand.NewPCG(uint64(cfg.seed), 7))
	begin := time.Now()

	// Measure updates at 10% of the final size and at the final size: the
	// commit cost should follow the changed keys, not the state size.
	checkpoints := []int{max(cfg.stateKeys/10, sr.LoadBatch), cfg.stateKeys}
	loaded := 0
	var loadTime time.Duration
	keys := make([]int, 0, sr.LoadBatch)
	for _, target := range checkpoints {
		for loaded < target {
			keys = keys[:0]
			for k := loaded; k < min(loaded+sr.LoadBatch, target); k++ {
				keys = append(keys, k)
			}
			d, err := sc.commit(keys, 1)
			if err != nil {
				return fmt.Errorf("load: %w", err)
			}
			loaded += len(keys)
			loadTime += d
			sr.LoadCommitMs = append(sr.LoadCommitMs, ms(d))
			logf("state load: %d keys, commit of %d new keys %s", loaded, len(keys), d.Round(time.Millisecond))
		}
		for _, n := range changed {
			var ds []float64
			for range 3 {
				keys = randomKeys(keys, rng, loaded, n, nil)
				d, err := sc.commit(keys, 2)
				if err != nil {
					return fmt.Errorf("update: %w", err)
				}
				ds = append(ds, ms(d))
			}
			u := StateUpdate{StateKeys: loaded, Changed: n, CommitMs: median(ds), CommitMsAll: ds}
			u.KeysPerSec = float64(n) / (u.CommitMs / 1000)
			u.MsPer1kKeys = u.CommitMs / float64(n) * 1000
			sr.Updates = append(sr.Updates, u)
			logf("state %d keys: commit of %d changed keys %.1f ms (%.0f keys/s)", loaded, n, u.CommitMs, u.KeysPerSec)
		}
	}
	// Puts, then deletes, of as many random existing keys.
	n := min(100_000, loaded/10)
	deleted := map[int]bool{}
	for _, del := range []bool{false, true} {
		var ds []float64
		for range 3 {
			keys = randomKeys(keys, rng, loaded, n, deleted)
			d, err := sc.commitOp(keys, 3, del)
			if err != nil {
				return fmt.Errorf("puts vs deletes: %w", err)
			}
			if del {
				for _, k := range keys {
					deleted[k] = true
				}
			}
			ds = append(ds, ms(d))
		}
		u := StateUpdate{StateKeys: loaded, Changed: n, CommitMs: median(ds), CommitMsAll: ds, Op: "put"}
		if del {
			u.Op = "delete"
		}
		u.KeysPerSec = float64(n) / (u.CommitMs / 1000)
		u.MsPer1kKeys = u.CommitMs / float64(n) * 1000
		sr.PutsVsDeletes = append(sr.PutsVsDeletes, u)
		logf("state %d keys: commit of %d %ss %.1f ms (%.0f keys/s)", loaded, n, u.Op, u.CommitMs, u.KeysPerSec)
	}
	sr.LoadKeysPerSec = float64(loaded) / loadTime.Seconds()
	sr.TotalSeconds = time.Since(begin).Seconds()
	if fi, err := os.Stat(ck.Path()); err == nil {
		sr.DBBytes = fi.Size()
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "\nstate: %d keys (%d-byte keys, 8-byte values), fsync=%v, load %.0f keys/s, db %d MB\n",
		sr.Keys, sr.KeyBytes, !sr.NoSync, sr.LoadKeysPerSec, sr.DBBytes>>20)
	fmt.Fprintf(&b, "load commits (ms, %d new keys each): %.0f\n", sr.LoadBatch, sr.LoadCommitMs)
	fmt.Fprintf(&b, "%12s %12s %12s %14s %12s  %s\n", "state keys", "changed", "commit ms", "keys/s", "ms/1k keys", "all (ms)")
	for _, u := range sr.Updates {
		fmt.Fprintf(&b, "%12d %12d %12.1f %14s %12.3f  %.1f\n", u.StateKeys, u.Changed, u.CommitMs, human(u.KeysPerSec), u.MsPer1kKeys, u.CommitMsAll)
	}
	fmt.Fprintf(&b, "puts vs deletes of random existing keys:\n%12s %12s %8s %12s %12s  %s\n", "state keys", "changed", "op", "commit ms", "ms/1k keys", "all (ms)")
	for _, u := range sr.PutsVsDeletes {
		fmt.Fprintf(&b, "%12d %12d %8s %12.1f %12.3f  %.1f\n", u.StateKeys, u.Changed, u.Op, u.CommitMs, u.MsPer1kKeys, u.CommitMsAll)
	}
	os.Stdout.Write(b.Bytes())
	res := &Result{Scenario: "state", State: sr, GOMAXPROCS: runtime.GOMAXPROCS(0), Started: begin.UTC(),
		PeakRSSBytes: peakRSS(), PeakRSSNote: "bench process: the checkpoint (bbolt mmap of the state file) and key buffers, no broker",
		LoadAvg: loadAvg()}
	if cfg.jsonOut != "" {
		return writeJSON(cfg.jsonOut, res)
	}
	return nil
}

// randomKeys sets keys to n distinct random keys below loaded that skip
// does not hold, sorted (as the engine hands changes to the checkpoint).
func randomKeys(keys []int, rng *rand.Rand, loaded, n int, skip map[int]bool) []int {
	keys = keys[:0]
	seen := map[int]bool{}
	for len(keys) < n {
		k := rng.IntN(loaded)
		if !seen[k] && !skip[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

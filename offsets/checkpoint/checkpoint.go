package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"
)

// File names inside a checkpointLocation.
const (
	// DBFile is the bbolt file holding the whole checkpoint.
	DBFile = "checkpoint.db"
	// PIDFile records the process id of the writer holding the lock, for
	// the ErrLocked message. It is advisory.
	PIDFile = "checkpoint.pid"
)

// Options configure Open. The zero value is a durable writer.
type Options struct {
	// ReadOnly opens a consistent snapshot that works while a writer holds
	// the checkpoint (see doc.go, "Reading a running job's checkpoint").
	// Writes return ErrReadOnly.
	ReadOnly bool
	// LockTimeout bounds the wait for the file lock. Default 100ms.
	LockTimeout time.Duration
	// Retain is how many committed batches keep their offsets and commits
	// records (for `microbatch offsets`). Default 100; at least 1.
	Retain int
	// NoSync skips fsync on commit. For tests and benchmarks only: a crash
	// may lose or corrupt the checkpoint.
	NoSync bool
}

// Default option values.
const (
	DefaultLockTimeout = 100 * time.Millisecond
	DefaultRetain      = 100
)

// Checkpoint is a job's checkpointLocation: one bbolt file with the
// write-ahead log of planned batches, commit records, positions, state and
// sink buckets. Its methods are safe for concurrent use; bbolt serialises
// writers.
type Checkpoint struct {
	dir, path string
	opts      Options
	db        *bbolt.DB
	// snapshot is the temporary copy a ReadOnly checkpoint reads, removed
	// by Close.
	snapshot string
	// locks coordinate the writer with snapshot readers (snapshot.go).
	locks  snapshotLocks
	closed atomic.Bool
	// written is the plan the last WriteAhead stored, with its encoding:
	// Commit uses it instead of decoding the write-ahead entry again when
	// the stored bytes are these.
	written atomic.Pointer[writtenPlan]
}

type writtenPlan struct {
	plan BatchPlan
	val  []byte
}

// Open opens (creating it if needed) the checkpoint in dir. A second writer
// on the same checkpoint, in this process or another, fails after
// LockTimeout with a *LockedError (errors.Is(err, ErrLocked)) naming the path
// and the pid of the holder. With opts.ReadOnly, Open copies a consistent
// snapshot instead of locking, and fails if the checkpoint does not exist
// (fs.ErrNotExist).
func Open(dir string, opts Options) (*Checkpoint, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Retain == 0 {
		opts.Retain = DefaultRetain
	}
	opts.Retain = max(opts.Retain, 1)
	c := &Checkpoint{dir: dir, path: filepath.Join(dir, DBFile), opts: opts}
	if opts.ReadOnly {
		if err := c.openSnapshot(); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	db, err := bbolt.Open(c.path, 0o600, &bbolt.Options{
		Timeout:         opts.LockTimeout,
		NoSync:          opts.NoSync,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: initialMmapSize(),
	})
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, &LockedError{Path: c.path, PID: readPID(dir), Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", c.path, err)
	}
	c.db = db
	c.locks = openSnapshotLocks(dir, true)
	// Advisory: lets a refused second writer name us.
	_ = os.WriteFile(filepath.Join(dir, PIDFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	if err := db.Update(initBuckets); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("checkpoint %s: %w", c.path, err)
	}
	return c, nil
}

// initialMmapSize is the address space bbolt maps at Open. When a commit
// outgrows the mapping, bbolt maps the file again, and first copies every
// key and value of the B+tree nodes the transaction has touched out of the
// old mapping: a commit that writes 75k state keys to a small checkpoint
// spent 50-130 ms in those copies (the mapping doubles from 32 KiB, so one
// commit may remap several times), 5-13 ms with the mapping reserved. It
// reserves address space only; the file still grows as it is written,
// except on Windows, where bbolt sizes the file to the mapping (so there,
// and where address space is scarce, it is left to bbolt).
func initialMmapSize() int {
	if runtime.GOOS == "windows" || strconv.IntSize < 64 {
		return 0
	}
	return 1 << 30
}

func initBuckets(tx *bbolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if err := checkVersion(tx); err != nil {
		return err
	}
	// Format 1 differs only in where the state base is: see statebase.go.
	if err := meta.Put(keyVersion, []byte(strconv.Itoa(formatVersion))); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketOffsets, bucketCommits, bucketPositions, bucketState, bucketStateBase, bucketStateLog, bucketSinks} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// checkVersion refuses a checkpoint whose format this build does not
// read: it reads 1 and formatVersion, and a new file has none.
func checkVersion(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return nil
	}
	switch v := meta.Get(keyVersion); {
	case v == nil, bytes.Equal(v, []byte("1")), bytes.Equal(v, []byte(strconv.Itoa(formatVersion))):
		return nil
	default:
		return fmt.Errorf("%w %q (this build reads 1 and %d)", ErrVersion, v, formatVersion)
	}
}

func readPID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, PIDFile))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// Close releases the lock (or removes the read-only snapshot). It waits for
// running transactions. Calling it twice is harmless.
func (c *Checkpoint) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	var err error
	if c.db != nil {
		if !c.opts.ReadOnly {
			// Remove the pid file only if it is still ours.
			pidPath := filepath.Join(c.dir, PIDFile)
			if readPID(c.dir) == os.Getpid() {
				_ = os.Remove(pidPath)
			}
		}
		err = c.db.Close()
	}
	c.locks.close()
	if c.snapshot != "" {
		if rerr := os.Remove(c.snapshot); err == nil && rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: close: %w", c.path, err)
	}
	return nil
}

// Dir is the checkpointLocation.
func (c *Checkpoint) Dir() string { return c.dir }

// Path is the bbolt file of the checkpoint.
func (c *Checkpoint) Path() string { return c.path }

// ReadOnly reports whether the checkpoint is a read-only snapshot.
func (c *Checkpoint) ReadOnly() bool { return c.opts.ReadOnly }

func (c *Checkpoint) view(fn func(tx *bbolt.Tx) error) error {
	if c.closed.Load() {
		return fmt.Errorf("checkpoint %s: %w", c.path, ErrClosed)
	}
	return c.db.View(fn)
}

func (c *Checkpoint) update(fn func(tx *bbolt.Tx) error) error {
	return c.updateHanded(func(tx *bbolt.Tx, _ *writerHand) error { return fn(tx) })
}

// writerHand lets a write transaction leave the snapshot lock while it
// waits for something outside it, and enter it again (CommitTx.Await).
type writerHand struct {
	leave func()
	enter func()
}

// updateHanded is update whose fn may hand the snapshot lock over.
func (c *Checkpoint) updateHanded(fn func(tx *bbolt.Tx, h *writerHand) error) error {
	if c.closed.Load() {
		return fmt.Errorf("checkpoint %s: %w", c.path, ErrClosed)
	}
	if c.opts.ReadOnly {
		return fmt.Errorf("checkpoint %s: %w", c.path, ErrReadOnly)
	}
	leave := c.locks.writerEnter()
	defer func() { leave() }()
	h := &writerHand{
		leave: func() { leave(); leave = func() {} },
		enter: func() { leave = c.locks.writerEnter() },
	}
	return c.db.Update(func(tx *bbolt.Tx) error { return fn(tx, h) })
}

// InitialOffsets returns the offsets recorded at the query's first start,
// and whether any are recorded.
func (c *Checkpoint) InitialOffsets() (map[offsets.TopicPartition]int64, bool, error) {
	var out map[offsets.TopicPartition]int64
	err := c.view(func(tx *bbolt.Tx) error {
		v := getKey(tx, bucketMeta, keyInitialOffsets)
		if v == nil {
			return nil
		}
		m, err := decodeInitial(v)
		out = m
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, out != nil, nil
}

// SetInitialOffsets records the resolved starting offsets once, at the
// query's first start, so startingOffsets=latest is resolved exactly once
// (Spark writes sources/0/0). Recording the same offsets again is a no-op;
// different ones fail with ErrInitialOffsets.
func (c *Checkpoint) SetInitialOffsets(m map[offsets.TopicPartition]int64) error {
	for tp, off := range m {
		if off < 0 || tp.Partition < 0 {
			return fmt.Errorf("%w: initial offset %d of %s is not a resolved offset", offsets.ErrPlanInput, off, tp)
		}
	}
	return c.update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyInitialOffsets); v != nil {
			old, err := decodeInitial(v)
			if err != nil {
				return err
			}
			if !maps.Equal(old, m) {
				return fmt.Errorf("checkpoint %s: %w", c.path, ErrInitialOffsets)
			}
			return nil
		}
		b, err := json.Marshal(initialJSON{V: recordVersion, Offsets: positionsToJSON(m)})
		if err != nil {
			return err
		}
		return meta.Put(keyInitialOffsets, b)
	})
}

// getKey reads bucket/key, nil when either is absent (a snapshot taken while
// the checkpoint was being created has no buckets yet).
func getKey(tx *bbolt.Tx, bucket, key []byte) []byte {
	b := tx.Bucket(bucket)
	if b == nil {
		return nil
	}
	return b.Get(key)
}

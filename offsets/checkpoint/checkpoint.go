package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
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
	// dbFile is the bbolt file holding the whole checkpoint.
	dbFile = "checkpoint.db"
	// pidFile records the process id of the writer holding the lock, for
	// the ErrLocked message. It is advisory.
	pidFile = "checkpoint.pid"
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
	// BeforeUpgrade, if set, runs when a writer's Open finds a checkpoint
	// of format 1 or 2, before anything is written: c reads it as it is
	// (CompareFingerprint, InitialOffsets, ...), and an error stops Open
	// with that error, leaving the file untouched. An engine compares the
	// query's fingerprint there, so that a query the checkpoint refuses
	// does not upgrade it out of reach of the release that wrote it.
	BeforeUpgrade func(c *Checkpoint) error
	// NoSync skips fsync on commit. For tests and benchmarks only: a crash
	// may lose or corrupt the checkpoint.
	NoSync bool
}

// Default option values.
const (
	defaultLockTimeout = 100 * time.Millisecond
	defaultRetain      = 100
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
	// upgraded is what Open's upgrade did, nil if none.
	upgraded *Upgrade
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
//
// A checkpoint of format 1 or 2 is upgraded to format 3 in one transaction
// (a read-only Open upgrades its snapshot only); Upgraded says what it
// did. A checkpoint of a later format fails with an error wrapping
// ErrVersion, and a file that is not bbolt's, is truncated or has a
// damaged page with one wrapping ErrDamaged; neither is written. See
// doc.go, "Formats 1 and 2" and "A damaged file".
func Open(dir string, opts Options) (*Checkpoint, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = defaultLockTimeout
	}
	if opts.Retain == 0 {
		opts.Retain = defaultRetain
	}
	opts.Retain = max(opts.Retain, 1)
	c := &Checkpoint{dir: dir, path: filepath.Join(dir, dbFile), opts: opts}
	if opts.ReadOnly {
		if err := c.openSnapshot(); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if err := checkFileSize(c.path); err != nil {
		return nil, err
	}
	db, err := openBolt(c.path, c.path, &bbolt.Options{
		Timeout:         opts.LockTimeout,
		NoSync:          opts.NoSync,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: initialMmapSize(),
	})
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, &LockedError{Path: c.path, PID: readPID(dir), Err: err}
	}
	if err != nil {
		return nil, err
	}
	c.db = db
	c.locks = openSnapshotLocks(dir, true)
	// Advisory: lets a refused second writer name us.
	_ = os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	// The version is checked in a read transaction first, so that a
	// checkpoint this build refuses is not written at all.
	var version int
	err = c.view(func(tx *bbolt.Tx) (err error) {
		version, err = readVersion(tx)
		return err
	})
	if err == nil && (version == 1 || version == 2) && opts.BeforeUpgrade != nil {
		// Nothing is written yet: a refusal leaves the old format, which
		// its own release can still run.
		err = opts.BeforeUpgrade(c)
	}
	start := time.Now()
	if err == nil {
		err = c.update(func(tx *bbolt.Tx) error {
			if err := initBuckets(tx); err != nil {
				return err
			}
			if version == 1 || version == 2 {
				up, err := upgrade(tx, version)
				c.upgraded = up
				return err
			}
			return nil
		})
	}
	if c.upgraded != nil {
		c.upgraded.Took = time.Since(start)
	}
	if err != nil {
		c.upgraded = nil
		_ = c.Close()
		if errors.Is(err, ErrDamaged) || errors.Is(err, ErrIncompatible) { // name the file already
			return nil, err
		}
		return nil, fmt.Errorf("checkpoint %s: %w", c.path, err)
	}
	return c, nil
}

// openBolt opens the bbolt file path, named name in errors (a snapshot's
// copy is named for the checkpoint). A file that is not a bbolt file, or
// whose meta pages are damaged, gives an error wrapping ErrDamaged and
// bbolt's error; a bbolt panic on a damaged page is recovered as one.
func openBolt(path, name string, opts *bbolt.Options) (db *bbolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, damaged(name, p)
		}
	}()
	db, err = bbolt.Open(path, 0o600, opts)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, bberrors.ErrInvalid), errors.Is(err, bberrors.ErrChecksum), errors.Is(err, bberrors.ErrVersionMismatch),
		// A file shorter than its meta pages: bbolt has no sentinel for it.
		strings.HasPrefix(err.Error(), "file size too small"):
		return nil, fmt.Errorf("checkpoint %s: %w: %w", name, ErrDamaged, err)
	case errors.Is(err, bberrors.ErrTimeout):
		return nil, err
	default:
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
}

// checkFileSize refuses a bbolt file shorter than its newest valid meta
// page says it is (a truncated file): bbolt would map the missing pages
// and fault on the first read of one. A missing or empty file is a new
// checkpoint, and a file without a valid meta page is left to bbolt to
// refuse.
func checkFileSize(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if fi.Size() == 0 {
		// bbolt would initialise it as a new checkpoint: the query would
		// start over from startingOffsets without a word. A crash inside
		// bbolt's creation of the file could leave it empty too, which
		// only the user can tell from a checkpoint that lost its content.
		return fmt.Errorf("checkpoint %s: %w: the file is empty (0 bytes); if the query never committed a batch, remove it to start the query from startingOffsets", path, ErrDamaged)
	}
	m, err := readBoltMeta(f)
	if err != nil {
		return nil
	}
	if need := int64(m.pgid) * int64(m.pageSize); fi.Size() < need {
		return fmt.Errorf("checkpoint %s: %w: truncated: the file has %d bytes, its last transaction (%d) needs %d (%d pages of %d bytes)",
			path, ErrDamaged, fi.Size(), m.txid, need, m.pgid, m.pageSize)
	}
	return nil
}

// damaged is the error of a bbolt panic p on the file path: a page that
// does not decode as bbolt wrote it (or, with SetPanicOnFault, that lies
// beyond the file).
func damaged(path string, p any) error {
	if err, ok := p.(error); ok {
		return fmt.Errorf("checkpoint %s: %w: bbolt: %w", path, ErrDamaged, err)
	}
	return fmt.Errorf("checkpoint %s: %w: bbolt: %v", path, ErrDamaged, p)
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

// initBuckets creates the buckets of a format 3 checkpoint that are
// missing, and sets the version. The caller has checked the version.
func initBuckets(tx *bbolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if err := meta.Put(keyVersion, []byte(strconv.Itoa(formatVersion))); err != nil {
		return err
	}
	// "state" is format 1's base, always empty since: kept so that a
	// format 1 build finds its buckets and refuses the version.
	for _, name := range [][]byte{bucketOffsets, bucketCommits, bucketPositions, bucketState, bucketStateBase, bucketStateLog, bucketSinks} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// readVersion returns the checkpoint's format version, 0 for a new file
// (or a snapshot taken while it was being created), or an error wrapping
// ErrVersion for a format this build does not read: it reads 1, 2 and
// formatVersion, and upgrades 1 and 2.
func readVersion(tx *bbolt.Tx) (int, error) {
	v := getKey(tx, bucketMeta, keyVersion)
	switch string(v) {
	case "":
		return 0, nil
	case "1", "2", strconv.Itoa(formatVersion):
		return int(v[0] - '0'), nil
	}
	return 0, fmt.Errorf("%w %q (this build reads 1, 2 and %d, and upgrades 1 and 2 to %d)", ErrVersion, v, formatVersion, formatVersion)
}

func readPID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
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
			pidPath := filepath.Join(c.dir, pidFile)
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

// Path is the bbolt file of the checkpoint.
func (c *Checkpoint) Path() string { return c.path }

func (c *Checkpoint) view(fn func(tx *bbolt.Tx) error) error {
	return c.viewCalling(func(tx *bbolt.Tx, _ *userCalls) error { return fn(tx) })
}

// viewCalling is view whose fn calls the caller's code through u.
func (c *Checkpoint) viewCalling(fn func(tx *bbolt.Tx, u *userCalls) error) (err error) {
	if c.closed.Load() {
		return fmt.Errorf("checkpoint %s: %w", c.path, ErrClosed)
	}
	u := &userCalls{}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer u.recoverDamage(c.path, &err)
	return c.db.View(func(tx *bbolt.Tx) error { return fn(tx, u) })
}

// userCalls marks the caller's code that a transaction runs (a Commit's
// fn, ForEachState's): a panic there is the caller's and goes on, while
// one elsewhere in the transaction is bbolt's, on a damaged page, and
// becomes an error (ErrDamaged).
type userCalls struct{ in bool }

// call runs f as the caller's code. Not deferred: a panic leaves in set.
func (u *userCalls) call(f func() error) error {
	u.in = true
	err := f()
	u.in = false
	return err
}

// recoverDamage, deferred, turns a panic outside the caller's code into
// *err. It must be the deferred function itself for recover to work, so
// it recovers and panics again for the caller's panics.
func (u *userCalls) recoverDamage(path string, err *error) {
	p := recover()
	if p == nil {
		return
	}
	if u.in {
		panic(p)
	}
	*err = damaged(path, p)
}

func (c *Checkpoint) update(fn func(tx *bbolt.Tx) error) error {
	return c.updateHanded(func(tx *bbolt.Tx, _ *writerHand, _ *userCalls) error { return fn(tx) })
}

// writerHand lets a write transaction leave the snapshot lock while it
// waits for something outside it, and enter it again (CommitTx.Await).
type writerHand struct {
	leave func()
	enter func()
}

// updateHanded is update whose fn may hand the snapshot lock over, and
// calls the caller's code through u.
func (c *Checkpoint) updateHanded(fn func(tx *bbolt.Tx, h *writerHand, u *userCalls) error) (err error) {
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
	u := &userCalls{}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer u.recoverDamage(c.path, &err)
	return c.db.Update(func(tx *bbolt.Tx) error { return fn(tx, h, u) })
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

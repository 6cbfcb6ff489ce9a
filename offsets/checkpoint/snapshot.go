package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// A read-only checkpoint is a snapshot: a copy of the bbolt file taken while
// no commit completed, opened read-only. bbolt's flock cannot be shared with
// a running writer, and a plain copy of a file being written can be torn.
// The copy is consistent because of how bbolt commits (copy-on-write):
//
//   - A commit writes its new pages to free pages or past the end of the
//     file, fsyncs, and only then writes its meta page (txid T+1) over the
//     older of the two meta pages (page (T+1)%2).
//   - The pages reachable from the newest meta (txid T) are never written
//     while T is the newest: pages that commit T freed are reused from T+1
//     on, but T's own tree is only freed by T+1 and reused from T+2.
//
// So if the newest valid meta has the same txid T before and after the copy,
// every page of T's tree and T's meta page were stable during the copy, and
// the copy opens at T (a meta page torn by T+1 would change the "after"
// txid). Otherwise the copy is retried. lock_test.go checks snapshots with
// tx.Check while another process keeps committing.
//
// A writer that commits more often than the file copies would starve the
// reader, so the two also coordinate through two flock files (snapshotLocks):
// the reader closes a gate, waits for the commit in flight, copies, and
// reopens the gate; the writer waits at the gate before each transaction, at
// most writerMaxPause, so a stuck reader cannot stop the job (the txid check
// still guards the copy then). The locks are a liveness device; the txid
// check alone is what makes the copy correct.

// bbolt's on-disk meta layout (go.etcd.io/bbolt internal/common): a 16-byte
// page header, then magic, version, pageSize, flags (uint32 each), root
// bucket (pgid, sequence), freelist pgid, high-water pgid, txid, checksum
// (uint64 each, native byte order); the checksum is FNV-64a over the meta
// bytes before it.
const (
	boltPageHeader = 16
	boltMetaSize   = 64
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64 // high-water mark: pages [0, pgid) hold the tree
	txid     uint64
}

// parseBoltMeta decodes and validates a meta page body (64 bytes).
func parseBoltMeta(b []byte) (boltMeta, bool) {
	if len(b) < boltMetaSize {
		return boltMeta{}, false
	}
	ne := binary.NativeEndian
	if ne.Uint32(b[0:]) != boltMagic || ne.Uint32(b[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != ne.Uint64(b[56:]) {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: ne.Uint32(b[8:]), pgid: ne.Uint64(b[40:]), txid: ne.Uint64(b[48:])}, true
}

// readBoltMeta returns the newest valid meta of the bbolt file f.
func readBoltMeta(f io.ReaderAt) (boltMeta, error) {
	buf := make([]byte, boltMetaSize)
	read := func(off int64) (boltMeta, bool) {
		if _, err := f.ReadAt(buf, off+boltPageHeader); err != nil {
			return boltMeta{}, false
		}
		return parseBoltMeta(buf)
	}
	m0, ok0 := read(0)
	pageSize := int64(os.Getpagesize())
	if ok0 {
		pageSize = int64(m0.pageSize)
	}
	m1, ok1 := read(pageSize)
	if ok1 && int64(m1.pageSize) != pageSize {
		ok1 = false
	}
	switch {
	case ok0 && ok1:
		if m1.txid > m0.txid {
			return m1, nil
		}
		return m0, nil
	case ok0:
		return m0, nil
	case ok1:
		return m1, nil
	}
	return boltMeta{}, errors.New("no valid bbolt meta page")
}

// Snapshot retry budget: a writer that commits faster than the file can be
// copied would starve the reader.
const (
	snapshotAttempts = 50
	snapshotBackoff  = 20 * time.Millisecond
)

// Lock files coordinating snapshots with the writer.
const (
	// gateFile is flocked exclusively by a snapshot reader to hold back
	// the writer's next transaction.
	gateFile = "snapshot.gate"
	// commitLockFile is flocked shared by the writer during each
	// transaction; a snapshot reader takes it exclusively to wait for the
	// transaction in flight.
	commitLockFile = "snapshot.lock"
)

const (
	// writerMaxPause bounds how long a write transaction waits for a
	// snapshot copy.
	writerMaxPause = 5 * time.Second
	// readerMaxWait bounds how long a snapshot waits for the gate and for
	// the transaction in flight (a large commit).
	readerMaxWait = 30 * time.Second
)

// snapshotLocks are the two flock files; the zero value (files missing,
// or no flock on this platform) coordinates nothing.
type snapshotLocks struct {
	gate, commit *os.File
}

func openSnapshotLocks(dir string, create bool) snapshotLocks {
	open := func(name string) *os.File {
		flag := os.O_RDONLY
		if create {
			flag |= os.O_CREATE
		}
		f, err := os.OpenFile(filepath.Join(dir, name), flag, 0o644)
		if err != nil {
			return nil
		}
		return f
	}
	l := snapshotLocks{gate: open(gateFile), commit: open(commitLockFile)}
	if l.gate == nil || l.commit == nil {
		l.close()
		return snapshotLocks{}
	}
	return l
}

func (l snapshotLocks) close() {
	if l.gate != nil {
		l.gate.Close()
	}
	if l.commit != nil {
		l.commit.Close()
	}
}

// writerEnter is called before each write transaction; the returned func
// after it. It waits (bounded) while a snapshot holds the gate.
func (l snapshotLocks) writerEnter() func() {
	if l.gate == nil {
		return func() {}
	}
	gated, _ := flockWait(l.gate, lockShared, writerMaxPause, time.Millisecond)
	held, _ := flockWait(l.commit, lockShared, writerMaxPause, time.Millisecond)
	if gated {
		funlock(l.gate)
	}
	return func() {
		if held {
			funlock(l.commit)
		}
	}
}

// readerAcquire closes the gate and waits for the transaction in flight.
func (l snapshotLocks) readerAcquire() func() {
	if l.gate == nil {
		return func() {}
	}
	gated, _ := flockWait(l.gate, lockExclusive, readerMaxWait, 2*time.Millisecond)
	held := false
	if gated {
		held, _ = flockWait(l.commit, lockExclusive, readerMaxWait, 2*time.Millisecond)
	}
	return func() {
		if held {
			funlock(l.commit)
		}
		if gated {
			funlock(l.gate)
		}
	}
}

func (c *Checkpoint) openSnapshot() error {
	src, err := os.Open(c.path)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", c.path, err)
	}
	defer src.Close()
	if fi, err := src.Stat(); err == nil && fi.Size() == 0 {
		return checkFileSize(c.path) // says why an empty file is refused
	}
	locks := openSnapshotLocks(c.dir, false)
	defer locks.close()
	tmp, err := os.CreateTemp("", "microbatch-checkpoint-*.db")
	if err != nil {
		// Not %w: a missing TMPDIR is not a missing checkpoint.
		return fmt.Errorf("checkpoint %s: snapshot: a temporary copy in %s ($TMPDIR): %v", c.path, os.TempDir(), err)
	}
	c.snapshot = tmp.Name()
	release := locks.readerAcquire()
	ok, err := copyConsistent(src, tmp)
	if errors.Is(err, ErrDamaged) {
		err = fmt.Errorf("checkpoint %s: %w", c.path, err)
	}
	release()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && !ok {
		err = fmt.Errorf("%w: no consistent copy after %d attempts: the writer commits faster than the file copies", ErrLocked, snapshotAttempts)
	}
	if err == nil {
		err = c.openCopy()
	}
	if err != nil {
		if c.db != nil {
			_ = c.Close()
		}
		os.Remove(c.snapshot)
		if errors.Is(err, ErrDamaged) || errors.Is(err, ErrVersion) {
			return err
		}
		return fmt.Errorf("checkpoint %s: snapshot: %w", c.path, err)
	}
	return nil
}

// openCopy opens the snapshot's copy read-only, after upgrading it if it
// is of an older format (the file itself is never written).
func (c *Checkpoint) openCopy() error {
	ro := &bbolt.Options{ReadOnly: true, Timeout: c.opts.LockTimeout}
	db, err := openBolt(c.snapshot, c.path, ro)
	if err != nil {
		return err
	}
	c.db = db
	var version int
	if err := c.view(func(tx *bbolt.Tx) (err error) { version, err = readVersion(tx); return err }); err != nil {
		if errors.Is(err, ErrDamaged) {
			return err
		}
		return fmt.Errorf("checkpoint %s: %w", c.path, err)
	}
	if version != 1 && version != 2 {
		return nil
	}
	c.db = nil
	if err := db.Close(); err != nil {
		return err
	}
	if c.upgraded, err = upgradeCopy(c.snapshot, c.path, version); err != nil {
		if errors.Is(err, ErrDamaged) {
			return err
		}
		return fmt.Errorf("checkpoint %s: %w", c.path, err)
	}
	c.db, err = openBolt(c.snapshot, c.path, ro)
	return err
}

// copyConsistent copies src to dst until the newest meta txid is the same
// before and after the copy; see the comment at the top of the file. It
// returns false if no attempt succeeded, with the meta error if the file
// never had a valid meta page.
func copyConsistent(src *os.File, dst *os.File) (bool, error) {
	buf := make([]byte, 1<<20)
	var metaErr error
	for attempt := range snapshotAttempts {
		if attempt > 0 {
			time.Sleep(snapshotBackoff)
		}
		before, err := readBoltMeta(src)
		if err != nil {
			// Being created, or not a bbolt file: bbolt creates a file
			// with its first 4 pages, meta pages included, in one write.
			metaErr = fmt.Errorf("%w: %w", ErrDamaged, err)
			if fi, serr := src.Stat(); serr == nil && fi.Size() >= 4*int64(os.Getpagesize()) {
				return false, metaErr
			}
			continue
		}
		metaErr = nil
		if err := dst.Truncate(0); err != nil {
			return false, err
		}
		n, err := copySparse(dst, src, buf)
		if err != nil {
			return false, err
		}
		after, err := readBoltMeta(src)
		if err != nil || after.txid != before.txid {
			continue
		}
		if uint64(n) < before.pgid*uint64(before.pageSize) {
			// bbolt grows the file before it writes the meta page
			// that counts the pages: the same meta before and after,
			// with fewer bytes than it counts, is a truncated file.
			return false, fmt.Errorf("%w: truncated: the file has %d bytes, its last transaction (%d) needs %d (%d pages of %d bytes)",
				ErrDamaged, n, before.txid, before.pgid*uint64(before.pageSize), before.pgid, before.pageSize)
		}
		return true, nil
	}
	return false, metaErr
}

// copySparse copies src to dst (from offset 0, dst already empty) and
// returns the bytes copied. Runs of buf's size that are all zero are not
// written: bbolt's file grows by whole steps of unused pages, and the
// copy stays as sparse as the file (a checkpoint of 16 MB holds about
// 1 MB of data when small).
func copySparse(dst, src *os.File, buf []byte) (int64, error) {
	var off int64
	for {
		n, err := src.ReadAt(buf, off)
		if n > 0 {
			if !allZero(buf[:n]) {
				if _, werr := dst.WriteAt(buf[:n], off); werr != nil {
					return off, werr
				}
			}
			off += int64(n)
		}
		if errors.Is(err, io.EOF) {
			return off, dst.Truncate(off)
		}
		if err != nil {
			return off, err
		}
	}
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

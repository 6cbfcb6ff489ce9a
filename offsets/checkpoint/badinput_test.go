package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/offsets"
	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"
)

// writtenCheckpoint writes a checkpoint with a few committed batches of
// state in dir, closes it and returns its file.
func writtenCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	c, err := Open(dir, Options{NoSync: true})
	mustNoErr(t, err)
	model := map[string]string{}
	for id := range int64(3) {
		var kv []string
		for i := range 3000 {
			kv = append(kv, fmt.Sprintf("key%d-%05d", id, i), strings.Repeat("v", 40))
		}
		commitState(t, c, id, model, kv...)
	}
	mustNoErr(t, c.Close())
	return filepath.Join(dir, dbFile)
}

// refused opens dir as a writer and read-only, and checks that both fail
// with an error matching target and naming the file, that neither
// changes it, and that the read-only Open leaves no temporary copy.
func refused(t *testing.T, dir string, target error, msg string) {
	t.Helper()
	path := filepath.Join(dir, dbFile)
	before, err := os.ReadFile(path)
	mustNoErr(t, err)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, ro := range []bool{false, true} {
		c, err := Open(dir, Options{ReadOnly: ro, NoSync: true})
		if err == nil {
			c.Close()
			t.Fatalf("Open (ReadOnly %v) accepted it", ro)
		}
		if !errors.Is(err, target) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("Open (ReadOnly %v): %v; want %v naming %s: %s", ro, err, target, path, msg)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Fatalf("the refused Open (ReadOnly %v) changed the file", ro)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Fatalf("the refused read-only Open left %v", left)
	}
}

// TestFutureVersionRefused: a checkpoint of a later format is refused
// with its version and the ones this build reads, and left as it is.
func TestFutureVersionRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	path := writtenCheckpoint(t, dir)
	db, err := bbolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	mustNoErr(t, db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte("4")) }))
	mustNoErr(t, db.Close())
	refused(t, dir, ErrVersion, `unsupported checkpoint format version "4" (this build reads 1, 2 and 3, and upgrades 1 and 2 to 3)`)
	if v := storedVersion(t, dir); v != "4" {
		t.Fatalf("meta/version = %q", v)
	}
}

// TestTruncatedRefused: a checkpoint file cut short is refused as damaged,
// with its size and the size its last transaction needs, never mapped
// (bbolt would fault on a missing page), down to one meta page.
func TestTruncatedRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	path := writtenCheckpoint(t, dir)
	fi, err := os.Stat(path)
	mustNoErr(t, err)
	f, err := os.Open(path)
	mustNoErr(t, err)
	m, err := readBoltMeta(f)
	f.Close()
	mustNoErr(t, err)
	need := int64(m.pgid) * int64(m.pageSize)
	if fi.Size() < need || m.pgid < 8 {
		t.Fatalf("the file has %d bytes, %d pages in use", fi.Size(), m.pgid)
	}
	cut := need - int64(m.pageSize) - 100
	mustNoErr(t, os.Truncate(path, cut))
	refused(t, dir, ErrDamaged, fmt.Sprintf("damaged checkpoint file: truncated: the file has %d bytes, its last transaction (%d) needs %d", cut, m.txid, need))

	mustNoErr(t, os.Truncate(path, 5000)) // meta page 0 only
	refused(t, dir, ErrDamaged, "damaged checkpoint file: truncated: the file has 5000 bytes, its last transaction")

	// Empty, bbolt would start a new checkpoint: the query would silently
	// start over from startingOffsets.
	mustNoErr(t, os.Truncate(path, 0))
	refused(t, dir, ErrDamaged, "damaged checkpoint file: the file is empty (0 bytes)")
}

// TestGarbageRefused: a file that is not bbolt's is refused with bbolt's
// error; a checkpoint whose data pages are overwritten with garbage is
// refused (or its reads fail) with an error, never a panic.
func TestGarbageRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	mustNoErr(t, os.MkdirAll(dir, 0o755))
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	mustNoErr(t, os.WriteFile(filepath.Join(dir, dbFile), garbage, 0o600))
	refused(t, dir, ErrDamaged, "damaged checkpoint file")
	if _, err := Open(dir, Options{}); !errors.Is(err, bberrors.ErrInvalid) {
		t.Fatalf("Open of garbage: %v, want bbolt's ErrInvalid wrapped", err)
	}

	// Valid meta pages over garbage: the root, the freelist, every page.
	for _, what := range []string{"root", "freelist", "data"} {
		t.Run(what, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ckpt")
			path := writtenCheckpoint(t, dir)
			b, err := os.ReadFile(path)
			mustNoErr(t, err)
			m, _ := parseBoltMeta(b[boltPageHeader:])
			m1, _ := parseBoltMeta(b[int(m.pageSize)+boltPageHeader:])
			if m1.txid > m.txid {
				m = m1
			}
			ps := int(m.pageSize)
			meta := b[boltPageHeader:] // the fields, native byte order
			if m1.txid > m.txid || m == m1 {
				meta = b[ps+boltPageHeader:]
			}
			var pages []int
			switch what {
			case "root":
				pages = []int{int(binary.NativeEndian.Uint64(meta[16:]))}
			case "freelist":
				pages = []int{int(binary.NativeEndian.Uint64(meta[32:]))}
			default:
				for p := 2; p < int(m.pgid); p++ {
					pages = append(pages, p)
				}
			}
			for _, p := range pages {
				for i := p * ps; i < (p+1)*ps && i < len(b); i++ {
					b[i] = byte(rng.Uint32())
				}
			}
			mustNoErr(t, os.WriteFile(path, b, 0o600))
			// Open may refuse it, or a read of the damaged pages fails:
			// every path returns an error naming the file.
			for _, ro := range []bool{false, true} {
				c, err := Open(dir, Options{ReadOnly: ro, NoSync: true})
				if err == nil {
					err = errors.Join(c.ForEachState(func(Namespace, []byte, []byte) error { return nil }), c.Close())
				}
				if err == nil && ro && what == "freelist" {
					continue // a read-only bbolt never reads the freelist
				}
				if err == nil || !strings.Contains(err.Error(), path) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open (ReadOnly %v) of a checkpoint with garbage %s pages: %v", ro, what, err)
				}
				t.Logf("ReadOnly %v: %v", ro, err)
			}
		})
	}
}

// TestUserPanicGoesOn: a panic in the caller's code inside a transaction
// (a Commit's fn, ForEachState's) is the caller's, not a damaged file: it
// goes on, and the checkpoint stays usable.
func TestUserPanicGoesOn(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	commitState(t, c, 0, map[string]string{}, "a", "1")
	catch := func(f func()) (p any) {
		defer func() { p = recover() }()
		f()
		return nil
	}
	mustNoErr(t, c.WriteAhead(plan1(1, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: 1, Until: 2}}, nil)))
	if p := catch(func() { _ = c.Commit(CommitRecord{ID: 1}, func(*CommitTx) error { panic("mine") }) }); p != "mine" {
		t.Fatalf("Commit's fn panic: recovered %v", p)
	}
	if p := catch(func() { _ = c.ForEachState(func(Namespace, []byte, []byte) error { panic("mine too") }) }); p != "mine too" {
		t.Fatalf("ForEachState's fn panic: recovered %v", p)
	}
	mustNoErr(t, c.Commit(CommitRecord{ID: 1}, nil))
}

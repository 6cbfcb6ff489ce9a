package checkpoint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/offsets"
	"go.etcd.io/bbolt"
)

// The test binary re-executes itself as a helper process to prove the lock
// and the snapshot across processes: with helperEnv=dir and helperModeEnv
// set, TestMain runs the helper instead of the tests.
const (
	helperEnv     = "MICROBATCH_OFFSETS_HELPER_DIR"
	helperModeEnv = "MICROBATCH_OFFSETS_HELPER_MODE"
	exitLocked    = 3
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(runHelper(dir, os.Getenv(helperModeEnv)))
	}
	os.Exit(m.Run())
}

// runHelper modes:
//   - hold: open the checkpoint, print "ready", keep it until stdin closes.
//   - commit: like hold, but commit batches (writerBatch) until stdin closes.
//   - open: try to open once; print the error; exit exitLocked on ErrLocked.
func runHelper(dir, mode string) int {
	c, err := Open(dir, Options{})
	if mode == "open" {
		if err != nil {
			fmt.Println(err)
			if errors.Is(err, ErrLocked) {
				return exitLocked
			}
			return 1
		}
		c.Close()
		return 0
	}
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer c.Close()
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	if mode == "commit" {
		if err := writerBatch(c, 0); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	fmt.Println("ready")
	for id := int64(1); ; id++ {
		select {
		case <-stop:
			return 0
		default:
		}
		if mode != "commit" {
			<-stop
			return 0
		}
		if err := writerBatch(c, id); err != nil {
			fmt.Println(err)
			return 1
		}
	}
}

// startHelper runs the test binary as a helper in mode on dir and waits
// for it to print "ready". Closing the returned stdin stops it; wait
// returns its exit error.
func startHelper(t *testing.T, dir, mode string) (pid int, stdin io.WriteCloser, wait func() error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, helperModeEnv+"="+mode)
	stdin, err := cmd.StdinPipe()
	mustNoErr(t, err)
	out, err := cmd.StdoutPipe()
	mustNoErr(t, err)
	cmd.Stderr = os.Stderr
	mustNoErr(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		stdin.Close()
		_ = cmd.Wait()
		t.Fatalf("helper %s: %q, %v", mode, line, err)
	}
	go io.Copy(io.Discard, out)
	done := false
	wait = func() error {
		if done {
			return nil
		}
		done = true
		stdin.Close()
		return cmd.Wait()
	}
	t.Cleanup(func() { _ = wait() })
	return cmd.Process.Pid, stdin, wait
}

// writerBatch plans and commits batch id: 300 new keys, 50 hot keys
// overwritten, the "batch" key set to id, partition t-0 advanced by 10.
func writerBatch(c *Checkpoint, id int64) error {
	p := plan1(id, []offsets.OffsetRange{{Topic: "t", Partition: 0, From: id * 10, Until: id*10 + 10}}, nil)
	if err := c.WriteAhead(p); err != nil {
		return err
	}
	val := []byte(strconv.FormatInt(id, 10))
	return c.Commit(CommitRecord{ID: id, InputRows: 10}, func(tx *CommitTx) error {
		if err := tx.PutState(tns, []byte("batch"), val); err != nil {
			return err
		}
		for j := range 50 {
			if err := tx.PutState(tns, fmt.Appendf(nil, "hot%02d", j), val); err != nil {
				return err
			}
		}
		for j := range int64(300) {
			if err := tx.PutState(tns, fmt.Appendf(nil, "k%09d", id*300+j), val); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkWriterSnapshot checks that a read-only checkpoint holds exactly the
// state of one commit of writerBatch, and passes bbolt's tx.Check.
func checkWriterSnapshot(t *testing.T, r *Checkpoint) int64 {
	t.Helper()
	mustNoErr(t, r.db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return checkRecords(tx, defaultRetain)
	}))
	rec, err := r.LastCommit()
	mustNoErr(t, err)
	if rec == nil {
		t.Fatal("snapshot has no commit")
	}
	id := rec.ID
	want := strconv.FormatInt(id, 10)
	var hot, ks int64
	mustNoErr(t, r.ForEachState(func(_ Namespace, k, v []byte) error {
		switch {
		case string(k) == "batch", strings.HasPrefix(string(k), "hot"):
			if string(v) != want {
				return fmt.Errorf("key %s = %s, last commit is %s", k, v, want)
			}
			if k[0] == 'h' {
				hot++
			}
		default:
			ks++
		}
		return nil
	}))
	if hot != 50 || ks != (id+1)*300 {
		t.Fatalf("snapshot at batch %d: %d hot keys, %d new keys; want 50, %d", id, hot, ks, (id+1)*300)
	}
	pos, err := r.Positions()
	mustNoErr(t, err)
	if pos[tp("t", 0)] != (id+1)*10 {
		t.Fatalf("snapshot at batch %d: position %d", id, pos[tp("t", 0)])
	}
	return id
}

func TestLockSameProcess(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	start := time.Now()
	_, err := Open(c.dir, Options{LockTimeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v (%T)", err, err)
	}
	want := fmt.Sprintf("checkpoint %s is locked by process %d (another query running on the same checkpointLocation?)", c.Path(), os.Getpid())
	if err.Error() != want {
		t.Fatalf("second Open:\n got %s\nwant %s", err, want)
	}
	if elapsed < 100*time.Millisecond || elapsed > time.Second {
		t.Fatalf("second Open failed after %v, want about the 200ms LockTimeout", elapsed)
	}
}

func TestLockAcrossProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	pid, _, wait := startHelper(t, dir, "hold")

	start := time.Now()
	_, err := Open(dir, Options{})
	elapsed := time.Since(start)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != pid || le.Path != filepath.Join(dir, dbFile) {
		t.Fatalf("Open while helper %d holds the lock: %v", pid, err)
	}
	if elapsed > 600*time.Millisecond {
		t.Fatalf("Open waited %v, want about the 100ms default LockTimeout", elapsed)
	}
	mustNoErr(t, wait())

	// Released with the process: now we hold it, and the helper is refused.
	c := openTestAt(t, dir, Options{NoSync: true})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, helperModeEnv+"=open")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitLocked {
		t.Fatalf("helper open while we hold the lock: %v, output %q", err, out)
	}
	want := fmt.Sprintf("checkpoint %s is locked by process %d (another query running on the same checkpointLocation?)\n", c.Path(), os.Getpid())
	if string(out) != want {
		t.Fatalf("helper said %q, want %q", out, want)
	}
}

// The CLI reads a running job's checkpoint: a read-only snapshot taken while
// another process holds the lock and keeps committing is consistent.
func TestSnapshotWhileOtherProcessCommits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	_, _, wait := startHelper(t, dir, "commit")
	var ids []int64
	for range 8 {
		r, err := Open(dir, Options{ReadOnly: true})
		mustNoErr(t, err)
		ids = append(ids, checkWriterSnapshot(t, r))
		mustNoErr(t, r.Close())
		time.Sleep(20 * time.Millisecond)
	}
	mustNoErr(t, wait())
	if ids[len(ids)-1] <= ids[0] {
		t.Fatalf("the writer did not advance between snapshots: %v", ids)
	}
	t.Logf("snapshots at batches %v", ids)
	checkInvariants(t, filepath.Join(dir, dbFile), defaultRetain)
}

// The same in one process, with a writer goroutine committing without fsync
// (the fastest writer, the hardest case for the copy).
func TestSnapshotWhileWriterCommits(t *testing.T) {
	c := openTest(t, Options{NoSync: true})
	mustNoErr(t, writerBatch(c, 0))
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		for id := int64(1); ; id++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := writerBatch(c, id); err != nil {
				done <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for range 8 {
		r, err := Open(c.dir, Options{ReadOnly: true})
		mustNoErr(t, err)
		checkWriterSnapshot(t, r)
		mustNoErr(t, r.Close())
	}
	close(stop)
	mustNoErr(t, <-done)
}

// The snapshot copy skips runs of zeros, which stay holes of the same
// length: the copy reads back byte for byte.
func TestCopySparse(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 5<<20+123)
	copy(data, "head")
	copy(data[4<<20+7:], "middle")
	copy(data[len(data)-4:], "tail")
	srcPath := filepath.Join(dir, "src")
	if err := os.WriteFile(srcPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(dir, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	dst.WriteString("stale bytes from an earlier attempt")
	if err := dst.Truncate(0); err != nil {
		t.Fatal(err)
	}
	n, err := copySparse(dst, src, make([]byte, 1<<20))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("copied %d, %v; want %d", n, err, len(data))
	}
	got, err := os.ReadFile(dst.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the copy differs from the source")
	}
}

// A snapshot that cannot make its temporary copy says so, and does not
// read as a missing checkpoint (errors.Is(os.ErrNotExist)).
func TestSnapshotWithoutTempDir(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	t.Setenv("TMPDIR", filepath.Join(dir, "nonexistent"))
	_, err = Open(dir, Options{ReadOnly: true})
	want := fmt.Sprintf("checkpoint %s: snapshot: a temporary copy in %s ($TMPDIR): ", filepath.Join(dir, dbFile), filepath.Join(dir, "nonexistent"))
	if err == nil || !strings.HasPrefix(err.Error(), want) || errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open read-only without a temp dir: %v, want %q... not matching os.ErrNotExist", err, want)
	}
}

//go:build unix

package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive advisory lock on dir/.microbatch-broker.lock.
// The lock is released when the returned file is closed or the process
// exits, so a crash never leaves a stale lock behind.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: data dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".microbatch-broker.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("broker: data dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			// The holder wrote its pid into the lock file.
			b, _ := os.ReadFile(f.Name())
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				return nil, fmt.Errorf("broker: %s: %w (process %d)", dir, errDataDirLocked, pid)
			}
			return nil, fmt.Errorf("broker: %s: %w", dir, errDataDirLocked)
		}
		return nil, fmt.Errorf("broker: lock %s: %w", dir, err)
	}
	// Best effort: the pid only makes the error of a second broker clearer.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

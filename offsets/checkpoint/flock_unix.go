//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package checkpoint

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// flockWait takes a flock (syscall.LOCK_SH or LOCK_EX) on f, polling every
// poll until timeout. It reports whether it got the lock.
func flockWait(f *os.File, how int, timeout, poll time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return false, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(poll)
	}
}

func funlock(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

const (
	lockShared    = syscall.LOCK_SH
	lockExclusive = syscall.LOCK_EX
)

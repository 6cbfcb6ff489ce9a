//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package checkpoint

import (
	"os"
	"time"
)

// Without flock, snapshots rely on the txid check alone (see snapshot.go).
func flockWait(f *os.File, how int, timeout, poll time.Duration) (bool, error) { return false, nil }

func funlock(f *os.File) {}

const (
	lockShared    = 1
	lockExclusive = 2
)

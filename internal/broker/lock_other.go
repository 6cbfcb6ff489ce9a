//go:build !unix

package broker

import (
	"fmt"
	"os"
)

// lockDir only creates dir on platforms without flock: two brokers on one
// data directory are not detected there.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: data dir: %w", err)
	}
	return nil, nil
}

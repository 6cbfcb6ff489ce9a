//go:build unix

package kafka

import "syscall"

// mapBlock returns an empty slice of capacity n over memory of its own,
// outside the Go heap: the stashes hold up to MinAheadBytes per partition,
// and on the heap the garbage collector's headroom would double that in
// the process's resident size. unmapBlock must free it, exactly once, when
// nothing refers to it.
func mapBlock(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]byte, 0, n) // unmapBlock leaves it to the collector
	}
	return b[:0]
}

// unmapBlock frees a block of mapBlock. syscall.Munmap frees only what
// syscall.Mmap mapped: for a heap fallback it does nothing.
func unmapBlock(b []byte) {
	_ = syscall.Munmap(b[:cap(b)])
}

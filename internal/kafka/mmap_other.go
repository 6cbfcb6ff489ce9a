//go:build !unix

package kafka

func mapBlock(n int) []byte { return make([]byte, 0, n) }

func unmapBlock([]byte) {}

package batch

import "errors"

// ErrClosed is returned by Run after Close, and is the cancellation cause of
// a Run that Close interrupted.
var ErrClosed = errors.New("batch: executor is closed")

// errPipelineFailed is the cancellation cause of a slot's read when its
// pipeline goroutine failed; the slot returns the pipeline's error instead.
var errPipelineFailed = errors.New("batch: pipeline failed")

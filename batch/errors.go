package batch

import "errors"

// ErrClosed is returned by Run after Close, and is the cancellation cause of
// a Run that Close interrupted.
var ErrClosed = errors.New("batch: executor is closed")

package broker

import "errors"

// ErrDataDirLocked is returned by Start when another broker (in this or
// another process) uses the data directory.
var ErrDataDirLocked = errors.New("data directory is in use by another broker")

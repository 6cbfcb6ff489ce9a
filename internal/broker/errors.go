package broker

import "errors"

// errDataDirLocked is returned by Start when another broker (in this or
// another process) uses the data directory.
var errDataDirLocked = errors.New("data directory is in use by another broker")

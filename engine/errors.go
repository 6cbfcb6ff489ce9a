package engine

import "errors"

// ErrInvalidConfig is matched by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("invalid query config")

// ErrRunning is returned by Run when the query is already running.
var ErrRunning = errors.New("query is already running")

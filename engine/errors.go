package engine

import "errors"

// ErrInvalidConfig is matched by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("invalid query config")

// ErrRunning is returned by Run when the query is already running.
var ErrRunning = errors.New("query is already running")

// ErrTooManyMalformed fails a batch with more malformed records than
// KafkaSource.DeadLetter allows.
var ErrTooManyMalformed = errors.New("too many malformed records")

// ConfigError is one problem New found in a Config. New returns every
// problem at once, joined (errors.Join); errors.As finds the first, and
// ranging over the joined errors finds each. Every ConfigError matches
// ErrInvalidConfig.
type ConfigError struct {
	// Field is the path of the field in Config, as written in Go:
	// "Source.MaxRatePerPartition", "Trigger", "Query". A problem between
	// fields names the struct that holds them ("Source" for the
	// subscription, "Trigger").
	Field string
	// Reason says what is wrong, without the field's name.
	Reason string
	// Err is the underlying error, if any (a query that does not
	// compile: a *dataframe error).
	Err error
}

func (e *ConfigError) Error() string {
	return ErrInvalidConfig.Error() + ": " + e.Field + ": " + e.Reason
}

// Is makes every ConfigError match ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

package checkpoint

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of the package. Every error returned by this package
// matches one of them with errors.Is (or offsets.ErrPlanInput for a plan
// that breaks its invariants); the typed errors below carry the details.
var (
	// ErrLocked is matched by *LockedError: another process (or another
	// Open in this process) holds the checkpoint.
	ErrLocked = errors.New("checkpoint is locked by another writer")

	// ErrIncompatible is matched by *IncompatibleError: the checkpoint was
	// written by a different query.
	ErrIncompatible = errors.New("checkpoint was written by a different query")

	// ErrPlanConflict is matched by *PlanConflictError: WriteAhead was given
	// a plan that differs from the pending plan with the same batch id.
	ErrPlanConflict = errors.New("a different plan is already written ahead for this batch")

	// ErrBatchOrder is returned (wrapped) when a batch id is not the next one:
	// WriteAhead of an id other than last committed + 1, Commit of an id with
	// no write-ahead entry or one already committed.
	ErrBatchOrder = errors.New("batch id out of order")

	// ErrReadOnly is returned (wrapped) by writes to a checkpoint opened with
	// Options.ReadOnly.
	ErrReadOnly = errors.New("checkpoint is open read-only")

	// ErrClosed is returned (wrapped) by every method after Close.
	ErrClosed = errors.New("checkpoint is closed")

	// ErrCorrupt is matched by *CorruptError: a record in the checkpoint
	// could not be decoded or breaks an invariant.
	ErrCorrupt = errors.New("corrupt checkpoint record")

	// ErrDamaged is returned (wrapped, with the file's path and bbolt's
	// error) when checkpoint.db is not a bbolt file, is truncated, or has
	// a page bbolt cannot read: the file was damaged outside this package
	// (a disk error, a partial copy, an edit by hand).
	ErrDamaged = errors.New("damaged checkpoint file")

	// ErrVersion is returned (wrapped) when the checkpoint was written in a
	// format version this build does not know.
	ErrVersion = errors.New("unsupported checkpoint format version")

	// ErrInitialOffsets is returned (wrapped) by SetInitialOffsets when
	// different initial offsets are already recorded.
	ErrInitialOffsets = errors.New("initial offsets are already recorded")
)

// LockedError reports a checkpoint held by another writer.
type LockedError struct {
	Path string
	// PID is the process id recorded by the holder, 0 if unknown. It is
	// advisory: it is written just after the lock is taken.
	PID int
	// Err is the underlying error (bbolt's lock timeout).
	Err error
}

func (e *LockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = fmt.Sprintf("process %d", e.PID)
	}
	return fmt.Sprintf("checkpoint %s is locked by %s (another query running on the same checkpointLocation?)", e.Path, holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Unwrap returns the underlying lock error.
func (e *LockedError) Unwrap() error { return e.Err }

// FieldChange is one difference between the stored fingerprint and the
// running query's (see Fingerprint.Compare).
type FieldChange struct {
	// Field is a Fingerprint text field (schema, query, source, format,
	// outputMode), "aggregation", "group key N" or "aggregate N" (N counts
	// from 1), "group key" or "aggregate" for one added or removed, or
	// "group key order" or "aggregate order".
	Field string
	// Old is empty for an added key or aggregate, New for a removed one.
	Old, New string
}

// String says what changed: "group key 2 changed from page STRING to
// user_id BIGINT", "aggregate sum(price DOUBLE) removed", `query changed
// from "..." to "..."` (texts are quoted).
func (c FieldChange) String() string {
	switch c.Field {
	case "schema", "query", "source", "format", "outputMode":
		return fmt.Sprintf("%s changed from %q to %q", c.Field, c.Old, c.New)
	}
	switch {
	case c.Old == "":
		return fmt.Sprintf("%s %s added", c.Field, c.New)
	case c.New == "":
		return fmt.Sprintf("%s %s removed", c.Field, c.Old)
	}
	return fmt.Sprintf("%s changed from %s to %s", c.Field, c.Old, c.New)
}

// IncompatibleError reports a checkpoint written by a different query: a
// change that alters what its state means.
type IncompatibleError struct {
	Path    string
	Changes []FieldChange // the refused changes, in Fingerprint field order
}

func (e *IncompatibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checkpoint %s was written by a different query: ", e.Path)
	for i, c := range e.Changes {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.String())
	}
	b.WriteString("; use a new checkpointLocation")
	return b.String()
}

// Is makes errors.Is(err, ErrIncompatible) true.
func (e *IncompatibleError) Is(target error) bool { return target == ErrIncompatible }

// PlanConflictError reports a WriteAhead whose plan differs from the pending
// plan already recorded for the same batch id. Recovery must re-run the
// recorded plan, never a new one.
type PlanConflictError struct {
	ID          int64
	Stored, New string // short descriptions of the two plans' ranges
}

func (e *PlanConflictError) Error() string {
	return fmt.Sprintf("batch %d is already planned with ranges %s; refusing different ranges %s (recovery must re-run the recorded plan)",
		e.ID, e.Stored, e.New)
}

// Is makes errors.Is(err, ErrPlanConflict) true.
func (e *PlanConflictError) Is(target error) bool { return target == ErrPlanConflict }

// CorruptError reports a checkpoint record that cannot be decoded or breaks
// an invariant.
type CorruptError struct {
	Bucket string // offsets, commits, positions, statelog, meta
	Key    string // e.g. "batch 3", "batch 3 chunk 0", "initialOffsets", a partition key
	Err    error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt checkpoint record %s in bucket %s: %v", e.Key, e.Bucket, e.Err)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the decoding error.
func (e *CorruptError) Unwrap() error { return e.Err }

package dataframe

import "errors"

// Sentinel errors. Every error the package returns wraps one of these (or is
// a *MalformedRecordError), so callers can test with errors.Is.
var (
	// ErrSchema: a schema DDL string could not be parsed or is invalid.
	ErrSchema = errors.New("dataframe: invalid schema")
	// ErrUnknownType: a type name is not one of the supported SQL types.
	ErrUnknownType = errors.New("unknown type")
	// ErrOptions: DecoderOptions, a format, a mode or an output mode is invalid.
	ErrOptions = errors.New("dataframe: invalid option")
	// ErrUnknownColumn: an expression names a column that does not exist; the
	// message lists the columns that do.
	ErrUnknownColumn = errors.New("dataframe: unknown column")
	// ErrPlan: an expression or DataFrame operation is invalid (type
	// mismatch, aggregate misuse, ...).
	ErrPlan = errors.New("dataframe: invalid plan")
	// ErrUnsupported: Compile refused a plan that is valid but not runnable as
	// a stream in the requested output mode.
	ErrUnsupported = errors.New("dataframe: unsupported streaming query")
	// ErrState: a persisted state entry could not be decoded, or a State and
	// Task do not belong together.
	ErrState = errors.New("dataframe: invalid state")
)

// SchemaError is a schema DDL string ParseSchema refused. It matches
// ErrSchema; Err says what is wrong and where, such as `field 3 ("page"):
// unknown type ...`.
type SchemaError struct {
	Err error
}

func (e *SchemaError) Error() string { return ErrSchema.Error() + ": " + e.Err.Error() }

// Is makes errors.Is(err, ErrSchema) true.
func (e *SchemaError) Is(target error) bool { return target == ErrSchema }

// Unwrap returns Err.
func (e *SchemaError) Unwrap() error { return e.Err }

package jobfile

import (
	"fmt"
	"strings"
)

// Error is one problem in a job file.
type Error struct {
	File string
	Line int // 1-based; 0 when unknown
	// Column is 1-based; 0 when the problem is the whole value. Set for
	// problems inside the query text.
	Column int
	Key    string // key path such as "source.kafka.subscribe"; empty for file-level problems
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a job file, in file order. Its Error
// method puts one problem per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Errorf returns an Error located at the value of key, a path in
// j.Positions (line 0 if the key is not in the file). For checks made
// after Load, such as parsing the schema.
func (j *Job) Errorf(key, format string, args ...any) *Error {
	return &Error{File: j.File, Line: j.Positions[key].Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// QueryErrorf returns an Error located at line and col (1-based) of the
// query text, mapped to the file by queryPosition: exact for a literal
// block (query: |) and a single-line query; for a folded or multi-line
// flow scalar, whose lines YAML joins, the line of the query's value.
func (j *Job) QueryErrorf(line, col int, format string, args ...any) *Error {
	p := j.queryPosition(line, col)
	e := &Error{File: j.File, Line: p.Line, Key: "query", Msg: fmt.Sprintf(format, args...)}
	if j.queryBlock.exact {
		e.Column = p.Column
	}
	return e
}

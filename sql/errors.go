package sql

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/textdist"
)

// Error is a problem with a query, at a position in its text. Line and
// Column are 1-based; Column counts characters (not bytes) from the start of
// the line. When the problem was found by the dataframe package, Unwrap
// returns its error, so errors.Is(err, dataframe.ErrPlan) and the like work.
type Error struct {
	Line, Column int
	Msg          string

	err error // the dataframe error behind Msg, if any
}

// Error returns "line L, column C: msg".
func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Unwrap returns the dataframe error the message was made from, or nil.
func (e *Error) Unwrap() error { return e.err }

// errAt returns an *Error at byte offset off of query q. Offsets out of range
// are clamped, so a bad location from the parser still gives a usable
// position.
func errAt(q string, off int, format string, args ...any) *Error {
	line, col := position(q, off)
	return &Error{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// position converts a byte offset into q to a 1-based line and column, the
// column counted in characters.
func position(q string, off int) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > len(q) {
		off = len(q)
	}
	line, col = 1, 1
	for _, r := range q[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// charOffset converts a 1-based character index (PostgreSQL's error cursor)
// into a byte offset of q.
func charOffset(q string, cursor int) int {
	if cursor <= 1 {
		return 0
	}
	n := 1
	for i := range q {
		if n == cursor {
			return i
		}
		n++
	}
	return len(q)
}

// planError turns an error of the dataframe package into an *Error at byte
// offset off, keeping only the part of the message that speaks about the
// query: the dataframe's operation names and sentinel prefixes are
// implementation detail to a SQL user.
func planError(q string, off int, err error) *Error {
	e := errAt(q, off, "%s", cleanMessage(err))
	e.err = err
	return e
}

// sentinels are the dataframe errors whose text planError strips.
var sentinels = []error{
	dataframe.ErrPlan, dataframe.ErrUnknownColumn, dataframe.ErrUnsupported,
	dataframe.ErrSchema, dataframe.ErrOptions,
}

func cleanMessage(err error) string {
	msg := err.Error()
	for _, s := range sentinels {
		if !errors.Is(err, s) {
			continue
		}
		if i := strings.LastIndex(msg, s.Error()); i >= 0 {
			rest := strings.TrimLeft(msg[i+len(s.Error()):], ": ")
			if s == dataframe.ErrUnknownColumn {
				rest = "unknown column " + rest
			}
			if rest != "" {
				return rest
			}
		}
	}
	return msg
}

// unknownColumn is the message for a column that name resolution could not
// find: it lists the columns that exist and suggests the closest one.
func unknownColumn(name string, cols []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "unknown column %s", quoteIdent(name))
	if s := suggest(name, cols); s != "" {
		fmt.Fprintf(&b, " (did you mean %s?)", quoteIdent(s))
	}
	b.WriteString("; columns: ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c))
	}
	return b.String()
}

// quoteIdent renders a name for a message: bare when it is made of letters,
// digits, underscores and dots, else in backquotes.
func quoteIdent(name string) string {
	plain := name != ""
	for _, r := range name {
		if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// suggest returns the candidate closest to name, or "" when none is close: a
// case-insensitive edit distance of at most (len+1)/3 (capped at 3), or a
// candidate whose last dotted part is name (page for data.page).
func suggest(name string, candidates []string) string {
	lname := strings.ToLower(name)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if i := strings.LastIndexByte(lc, '.'); i >= 0 && lc[i+1:] == lname {
			return c
		}
	}
	if best, d := textdist.Nearest(name, candidates); d >= 0 && d <= min((utf8.RuneCountInString(name)+1)/3, 3) {
		return best
	}
	return ""
}

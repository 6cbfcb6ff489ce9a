package engine

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/microbatch/microbatch/dataframe"
)

// ConsoleOptions mirror Spark's console sink options. As in Config, a zero
// field is its default and Off switches a setting off.
type ConsoleOptions struct {
	// NumRows is how many rows each batch prints. Default 20, like Spark;
	// Off: every row.
	NumRows int
	// Truncate is the width beyond which cells are shortened (to
	// Truncate-3 characters and "..."), right-aligning every cell as
	// Spark's truncate does. Default 20, Spark's truncate=true; Off:
	// cells are printed whole, left-aligned (Spark's truncate=false).
	Truncate int
	// Writer defaults to os.Stdout.
	Writer io.Writer
	// TimeZone is the wall clock TIMESTAMPs are shown on, as Spark's show()
	// uses the session time zone; nil is UTC.
	TimeZone *time.Location
}

// DefaultConsoleOptions are Spark's defaults: 20 rows, cells cut at 20
// characters, on stdout.
func DefaultConsoleOptions() ConsoleOptions {
	return ConsoleOptions{NumRows: 20, Truncate: 20, Writer: os.Stdout}
}

// ConsoleSink prints each batch as a table in the layout of Spark's console
// sink (Dataset.show). It is at-least-once: a batch re-run after a crash is
// printed again.
type ConsoleSink struct {
	opts ConsoleOptions
	mu   sync.Mutex // serialises writes to opts.Writer
}

// NewConsoleSink returns a console sink; zero fields of opts take their
// defaults (DefaultConsoleOptions).
func NewConsoleSink(opts ConsoleOptions) *ConsoleSink {
	d := DefaultConsoleOptions()
	opts.NumRows = setting(opts.NumRows, d.NumRows)
	if opts.NumRows == 0 {
		opts.NumRows = math.MaxInt
	}
	opts.Truncate = setting(opts.Truncate, d.Truncate)
	if opts.Writer == nil {
		opts.Writer = d.Writer
	}
	return &ConsoleSink{opts: opts}
}

// Description says how many rows a batch prints (progress's sink
// description).
func (s *ConsoleSink) Description() string {
	return fmt.Sprintf("ConsoleSink[numRows=%d, truncate=%v]", s.opts.NumRows, s.opts.Truncate > 0)
}

// AddBatch prints out.
func (s *ConsoleSink) AddBatch(_ context.Context, out *Output) error {
	var b strings.Builder
	b.WriteString("-------------------------------------------\n")
	fmt.Fprintf(&b, "Batch: %d\n", out.BatchID)
	b.WriteString("-------------------------------------------\n")
	writeTable(&b, out.Schema, out.Records, s.opts.NumRows, s.opts.Truncate, s.opts.TimeZone)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := io.WriteString(s.opts.Writer, b.String())
	return err
}

// WriteTable writes up to numRows rows of recs (numRows <= 0: all) as a
// table in the layout of Spark's Dataset.show, cells shortened to truncate
// characters (truncate <= 0: whole).
func WriteTable(w io.Writer, schema *arrow.Schema, recs []arrow.Record, numRows, truncate int) error {
	var b strings.Builder
	if numRows <= 0 {
		numRows = math.MaxInt
	}
	writeTable(&b, schema, recs, numRows, max(truncate, 0), nil)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable renders up to numRows rows like Spark's showString: cells
// longer than truncate cut and right-aligned when truncate > 0, whole and
// left-aligned otherwise; "null" for nulls; a trailer when rows were cut.
// Unlike Spark, control characters are escaped (escapeControl), so a
// value over lines (a raw _corrupt_record) stays in its cell.
func writeTable(b *strings.Builder, schema *arrow.Schema, recs []arrow.Record, numRows, truncate int, loc *time.Location) {
	fields := schema.Fields()
	rows := [][]string{make([]string, len(fields))}
	for i, f := range fields {
		rows[0][i] = cell(escapeControl(f.Name), truncate)
	}
	var total int64
	for _, rec := range recs {
		total += rec.NumRows()
	}
	for _, rec := range recs {
		for r := 0; r < int(rec.NumRows()) && len(rows)-1 < numRows; r++ {
			row := make([]string, len(fields))
			for c := range fields {
				row[c] = cell(escapeControl(formatValue(rec.Column(c), r, loc)), truncate)
			}
			rows = append(rows, row)
		}
	}
	widths := make([]int, len(fields))
	for i := range widths {
		widths[i] = 3 // Spark's minimum column width
	}
	for _, row := range rows {
		for i, v := range row {
			if n := utf8.RuneCountInString(v); n > widths[i] {
				widths[i] = n
			}
		}
	}
	sep := "+"
	for _, w := range widths {
		sep += strings.Repeat("-", w) + "+"
	}
	b.WriteString(sep + "\n")
	for i, row := range rows {
		b.WriteString("|")
		for c, v := range row {
			pad := strings.Repeat(" ", widths[c]-utf8.RuneCountInString(v))
			if truncate > 0 {
				b.WriteString(pad + v)
			} else {
				b.WriteString(v + pad)
			}
			b.WriteString("|")
		}
		b.WriteString("\n")
		if i == 0 {
			b.WriteString(sep + "\n")
		}
	}
	b.WriteString(sep + "\n")
	if total > int64(numRows) {
		fmt.Fprintf(b, "only showing top %d rows\n", numRows)
	}
	b.WriteString("\n")
}

// escapeControl writes the control characters of s as escapes: \n, \r
// and \t as those two characters, others as \xNN (C0, DEL) or \u00NN
// (C1). A backslash is kept as it is.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cell shortens s to truncate characters (Spark: the first truncate-3 and
// "..."; truncate < 4: the first truncate); truncate 0 keeps it whole.
func cell(s string, truncate int) string {
	if truncate > 0 && utf8.RuneCountInString(s) > truncate {
		r := []rune(s)
		if truncate < 4 {
			return string(r[:truncate])
		}
		return string(r[:truncate-3]) + "..."
	}
	return s
}

// formatValue renders one value the way Spark's show does, a TIMESTAMP on
// loc's wall clock (nil: UTC).
func formatValue(col arrow.Array, i int, loc *time.Location) string {
	if col.IsNull(i) {
		return "null"
	}
	switch a := col.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return dataframe.FormatTimestampIn(a.Value(i).ToTime(unit).UnixMicro(), loc)
	case *array.Float64:
		return dataframe.FormatDouble(a.Value(i))
	case *array.Date32:
		return a.Value(i).FormattedString() // yyyy-MM-dd
	default:
		return col.ValueStr(i)
	}
}

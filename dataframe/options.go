package dataframe

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Format is the encoding of record values.
type Format uint8

// The record formats.
const (
	FormatJSON Format = iota + 1 // one JSON object per record
	FormatCSV                    // one CSV line per record
)

// ParseFormat parses "json" or "csv" (case-insensitive).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "json":
		return FormatJSON, nil
	case "csv":
		return FormatCSV, nil
	}
	return 0, fmt.Errorf("%w: format %q (want json or csv)", ErrOptions, s)
}

// String returns "json" or "csv".
func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatCSV:
		return "csv"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Mode is what a decoder does with a malformed record, as Spark's "mode"
// option.
type Mode uint8

// The parse modes.
const (
	Permissive    Mode = iota + 1 // keep a row with every schema column NULL; count it in Stats().Corrupt
	DropMalformed                 // drop the record; count it in Stats().Dropped
	FailFast                      // Append returns a *MalformedRecordError
)

// ParseMode parses PERMISSIVE, DROPMALFORMED or FAILFAST (case-insensitive).
func ParseMode(s string) (Mode, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "PERMISSIVE":
		return Permissive, nil
	case "DROPMALFORMED":
		return DropMalformed, nil
	case "FAILFAST":
		return FailFast, nil
	}
	return 0, fmt.Errorf("%w: mode %q (want PERMISSIVE, DROPMALFORMED or FAILFAST)", ErrOptions, s)
}

// String returns the Spark name of m.
func (m Mode) String() string {
	switch m {
	case Permissive:
		return "PERMISSIVE"
	case DropMalformed:
		return "DROPMALFORMED"
	case FailFast:
		return "FAILFAST"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// DecoderOptions configures NewDecoder.
type DecoderOptions struct {
	Format Format // required
	Mode   Mode   // default Permissive
	// Columns are the output columns, in order: schema fields and/or
	// metadata columns. nil means every schema field then the metadata
	// columns (_corrupt_record only in PERMISSIVE mode); an empty non-nil slice means none (rows are still counted).
	// Fields not listed are skipped without being type-checked (projection
	// pushdown; feed it Program.InputColumns).
	Columns []string
	// CSVHeader: a record equal to the header line (the schema field names
	// in order) is skipped rather than counted malformed.
	CSVHeader bool
	// CSVDelimiter separates CSV fields; default ','.
	CSVDelimiter byte
	// OnMalformed, when set, is called in PERMISSIVE and DROPMALFORMED mode
	// for each malformed record, during the Append that decodes it, with
	// the record's position, the column being decoded and the reason. (In
	// FAILFAST mode Append returns that error instead.)
	OnMalformed func(*MalformedRecordError)
	// EventTime names the query's event-time column (a TIMESTAMP schema
	// field among Columns), or is "": a record whose event time is NULL or
	// absent is malformed, handled per Mode like a value that does not
	// parse (a watermark cannot place it).
	EventTime string
	// TimeZone is the zone of a TIMESTAMP value that gives no offset
	// ("2024-07-01 12:00:00"): Spark's timeZone option of its JSON and CSV
	// sources, which defaults to the session time zone; nil is UTC. A
	// value with an offset or Z, or epoch milliseconds, is an instant in
	// any zone.
	TimeZone *time.Location
}

// NewDecoder returns a Decoder of records in opts.Format into Arrow records
// with the columns opts.Columns of schema (plus metadata), allocated from
// mem.
func NewDecoder(mem memory.Allocator, schema *Schema, opts DecoderOptions) (Decoder, error) {
	if mem == nil {
		return nil, fmt.Errorf("%w: nil allocator", ErrOptions)
	}
	if err := checkSource("decoder", schema); err != nil {
		return nil, err
	}
	if opts.Mode == 0 {
		opts.Mode = Permissive
	}
	if opts.Mode > FailFast {
		return nil, fmt.Errorf("%w: invalid mode %v", ErrOptions, opts.Mode)
	}
	if opts.CSVDelimiter == 0 {
		opts.CSVDelimiter = ','
	}
	switch opts.CSVDelimiter {
	case '"', '\n', '\r':
		return nil, fmt.Errorf("%w: CSV delimiter %q", ErrOptions, opts.CSVDelimiter)
	}
	cols, err := resolveColumns(schema, opts.Columns)
	if err != nil {
		return nil, err
	}
	if opts.Columns == nil && opts.Mode != Permissive {
		cols = cols[:len(cols)-1] // every column there is: no _corrupt_record
	}
	for _, c := range cols {
		if c.meta != metaCorrupt {
			continue
		}
		if opts.Mode != Permissive {
			return nil, fmt.Errorf("%w: column %s exists only in PERMISSIVE mode, not in %s (a malformed record is %s)",
				ErrOptions, ColCorruptRecord, opts.Mode, map[Mode]string{DropMalformed: "dropped", FailFast: "an error"}[opts.Mode])
		}
		// A record is corrupt when any schema field fails to decode, read
		// or not: the fields the query does not read are decoded into
		// hidden columns, which Flush drops.
		read := map[int]bool{}
		for _, c := range cols {
			read[c.field] = true
		}
		for i, f := range schema.Fields {
			if !read[i] {
				cols = append(cols, outColumn{name: f.Name, typ: f.Type, field: i, meta: -1, hidden: true})
			}
		}
		break
	}
	base := newDecoderBase(mem, schema, opts, cols)
	if opts.EventTime != "" {
		i := lookupName(len(cols), func(i int) string { return cols[i].name }, opts.EventTime)
		if i < 0 || cols[i].field < 0 || cols[i].typ != Timestamp || cols[i].hidden {
			base.Release()
			return nil, fmt.Errorf("%w: EventTime %s is not a TIMESTAMP schema field among the decoded columns", ErrOptions, quoteName(opts.EventTime))
		}
		base.eventOut = i
	}
	switch opts.Format {
	case FormatJSON:
		return newJSONDecoder(base), nil
	case FormatCSV:
		return newCSVDecoder(base), nil
	}
	base.Release()
	return nil, fmt.Errorf("%w: invalid format %v (want FormatJSON or FormatCSV)", ErrOptions, opts.Format)
}

// outColumn is one decoder output column: a schema field (field >= 0) or a
// metadata column (meta >= 0).
type outColumn struct {
	name  string
	typ   Type
	field int
	meta  int
	// hidden: decoded to check it, not output (see ColCorruptRecord). Hidden
	// columns come after the others.
	hidden bool
}

func resolveColumns(schema *Schema, names []string) ([]outColumn, error) {
	all := make([]outColumn, 0, len(schema.Fields)+len(MetadataFields()))
	for i, f := range schema.Fields {
		all = append(all, outColumn{f.Name, f.Type, i, -1, false})
	}
	for i, f := range MetadataFields() {
		all = append(all, outColumn{f.Name, f.Type, -1, i, false})
	}
	if names == nil {
		return all, nil
	}
	cols := make([]outColumn, 0, len(names))
	seen := map[int]bool{}
	for _, n := range names {
		i := lookupName(len(all), func(i int) string { return all[i].name }, n)
		if i < 0 {
			avail := make([]string, len(all))
			for j, c := range all {
				avail[j] = quoteName(c.name)
			}
			return nil, fmt.Errorf("%w %s in DecoderOptions.Columns (columns: %s)", ErrUnknownColumn, quoteName(n), strings.Join(avail, ", "))
		}
		if seen[i] {
			return nil, fmt.Errorf("%w: column %s listed twice in DecoderOptions.Columns", ErrOptions, quoteName(n))
		}
		seen[i] = true
		cols = append(cols, all[i])
	}
	return cols, nil
}

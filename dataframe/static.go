package dataframe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/microbatch/microbatch/internal/textdist"
)

// ErrTable: a static table (TableOptions) could not be loaded: a missing
// file, a malformed row in FAILFAST mode, a duplicate key, a Parquet column
// of the wrong type. The message names the file (and the line).
var ErrTable = errors.New("dataframe: static table")

// ErrTableChanged: a batch re-run after a restart recorded a static table's
// content hash that is not the table's content now. See OnChange.
var ErrTableChanged = errors.New("dataframe: static table changed since the batch was planned")

// TableFormat is the encoding of a static table's file.
type TableFormat uint8

// The static table formats.
const (
	TableCSV     TableFormat = iota + 1 // one record per line, schema order
	TableJSON                           // one JSON object per line
	TableParquet                        // read with Arrow's pqarrow
)

// ParseTableFormat parses "csv", "json" or "parquet" (case-insensitive).
func ParseTableFormat(s string) (TableFormat, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "csv":
		return TableCSV, nil
	case "json":
		return TableJSON, nil
	case "parquet":
		return TableParquet, nil
	}
	return 0, fmt.Errorf("%w: table format %q (want csv, json or parquet)", ErrOptions, s)
}

// TableFormatOf returns the format a file name's extension says (.csv,
// .json, .jsonl, .ndjson, .parquet), or 0.
func TableFormatOf(path string) TableFormat {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return TableCSV
	case ".json", ".jsonl", ".ndjson":
		return TableJSON
	case ".parquet":
		return TableParquet
	}
	return 0
}

func (f TableFormat) String() string {
	switch f {
	case TableCSV:
		return "csv"
	case TableJSON:
		return "json"
	case TableParquet:
		return "parquet"
	}
	return fmt.Sprintf("TableFormat(%d)", uint8(f))
}

// OnChange says what a batch re-run after a restart does when a static
// table's content is not what the batch's first run used.
type OnChange uint8

// The OnChange policies.
const (
	// OnChangeFail refuses to re-run the batch (ErrTableChanged): its output
	// could differ from what a sink already holds. The default.
	OnChangeFail OnChange = iota
	// OnChangeUseCurrent re-runs the batch with the table as it is now.
	OnChangeUseCurrent
)

// ParseOnChange parses "fail" or "useCurrent" (case-insensitive).
func ParseOnChange(s string) (OnChange, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "fail":
		return OnChangeFail, nil
	case "usecurrent":
		return OnChangeUseCurrent, nil
	}
	return 0, fmt.Errorf("%w: onChange %q (want fail or useCurrent)", ErrOptions, s)
}

func (o OnChange) String() string {
	if o == OnChangeUseCurrent {
		return "useCurrent"
	}
	return "fail"
}

// TableOptions describes a static table: a file loaded into Arrow that a
// streaming query joins with (DataFrame.Join).
type TableOptions struct {
	Path   string      // required
	Format TableFormat // default: by Path's extension
	Schema *Schema     // required; Parquet columns are found by name
	// Header: the first line of a CSV file is a header and is skipped.
	Header bool
	// Mode is what a malformed CSV or JSON line does, as the source's mode:
	// PERMISSIVE keeps a row of NULLs, DROPMALFORMED drops it, FAILFAST
	// fails the load naming the file and line. Default PERMISSIVE.
	Mode Mode
	// Key, when set, names the columns that are unique in the table: a load
	// with a duplicate (or NULL) key fails naming both lines. Without it a
	// key may repeat, and a join then outputs one row per match, as in
	// Spark.
	Key []string
	// RefreshInterval, when > 0, lets the engine reload the file, between
	// batches, when it changed and at least this long after the last check.
	RefreshInterval time.Duration
	// OnChange: see OnChange.
	OnChange OnChange
	// TimeZone reads a CSV or JSON TIMESTAMP that gives no offset, as the
	// stream's decoder does (DecoderOptions.TimeZone): pass the query's
	// session time zone. nil is UTC.
	TimeZone *time.Location
}

// StaticTable is a static table loaded into memory. It is safe for
// concurrent use: Reload swaps in a new snapshot while batches keep using
// the one they pinned.
type StaticTable struct {
	name string
	opts TableOptions
	mem  memory.Allocator

	mu      sync.Mutex // guards cur and checked
	cur     *tableSnap
	checked time.Time // the last Reload that read the file
}

// tableSnap is one load of the file, shared by the batches that pinned it.
type tableSnap struct {
	refs   atomic.Int64
	rec    arrow.Record
	cols   []*vector
	lines  []int32 // the file line of each row (Parquet: row number)
	hash   string  // sha256 of the file's bytes, hex
	size   int64   // Arrow bytes
	bad    int64   // malformed lines kept (PERMISSIVE) or dropped
	badAt  string  // the first malformed line: "path:line: column c: reason"
	idxMu  sync.Mutex
	idx    map[string]*tableIndex // by key column list
	loaded time.Time
}

func (s *tableSnap) retain() *tableSnap { s.refs.Add(1); return s }

func (s *tableSnap) release() {
	if s.refs.Add(-1) == 0 {
		s.rec.Release()
	}
}

// LoadTable loads the static table name as opts says, into Arrow memory
// from mem.
func LoadTable(mem memory.Allocator, name string, opts TableOptions) (*StaticTable, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if name == "" {
		return nil, fmt.Errorf("%w: empty table name", ErrOptions)
	}
	if opts.Path == "" {
		return nil, fmt.Errorf("%w: table %s: no path", ErrOptions, quoteName(name))
	}
	if opts.Format == 0 {
		if opts.Format = TableFormatOf(opts.Path); opts.Format == 0 {
			return nil, fmt.Errorf("%w: table %s: cannot tell the format of %s by its extension: set the format (csv, json or parquet)", ErrOptions, quoteName(name), opts.Path)
		}
	}
	if err := checkSource(name, opts.Schema); err != nil {
		return nil, fmt.Errorf("table %s: %w", quoteName(name), err)
	}
	if opts.Mode == 0 {
		opts.Mode = Permissive
	}
	for _, k := range opts.Key {
		if _, ok := opts.Schema.Field(k); !ok {
			msg := fmt.Sprintf("table %s: key column %s is not in its schema [%s]", quoteName(name), quoteName(k), opts.Schema)
			var names []string
			for _, f := range opts.Schema.Fields {
				names = append(names, f.Name)
			}
			if sg, ok := textdist.Closest(k, names); ok {
				msg += fmt.Sprintf(" (did you mean %s?)", quoteName(sg))
			}
			return nil, &TableKeyError{msg: msg}
		}
	}
	t := &StaticTable{name: name, opts: opts, mem: mem}
	data, err := os.ReadFile(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrTable, quoteName(name), err)
	}
	s, err := t.load(data)
	if err != nil {
		return nil, err
	}
	t.cur, t.checked = s, time.Now()
	return t, nil
}

// Name returns the table's name.
func (t *StaticTable) Name() string { return t.name }

// Options returns the options the table was loaded with (Format and Mode
// resolved).
func (t *StaticTable) Options() TableOptions { return t.opts }

// Schema returns the table's schema.
func (t *StaticTable) Schema() *Schema { return t.opts.Schema }

// TableKeyError is LoadTable's error for a key column (TableOptions.Key)
// that is not in the table's schema; it wraps ErrOptions.
type TableKeyError struct{ msg string }

func (e *TableKeyError) Error() string { return ErrOptions.Error() + ": " + e.msg }
func (e *TableKeyError) Unwrap() error { return ErrOptions }

// TableInfo describes a static table's current snapshot.
type TableInfo struct {
	Name        string
	Path        string
	Rows        int64
	MemoryBytes int64  // Arrow buffers plus the join indexes built so far
	Hash        string // sha256 of the file content, hex
	Malformed   int64  // lines kept as NULLs (PERMISSIVE) or dropped (DROPMALFORMED)
	// FirstMalformed is the first of them, "path:line: column c: reason";
	// "" when none.
	FirstMalformed string
	LoadedAt       time.Time
}

// Info returns the current snapshot's description.
func (t *StaticTable) Info() TableInfo {
	t.mu.Lock()
	s := t.cur
	t.mu.Unlock()
	info := TableInfo{Name: t.name, Path: t.opts.Path, Rows: s.rec.NumRows(), MemoryBytes: s.size,
		Hash: s.hash, Malformed: s.bad, FirstMalformed: s.badAt, LoadedAt: s.loaded}
	s.idxMu.Lock()
	for _, ix := range s.idx {
		info.MemoryBytes += ix.bytes()
	}
	s.idxMu.Unlock()
	return info
}

// Hash returns the current content hash.
func (t *StaticTable) Hash() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur.hash
}

// Reload reads the file again when RefreshInterval has passed since the
// last check (or always, when force is set) and swaps in the new content
// when its hash differs. Batches that pinned the old snapshot keep it. It
// reports whether the content changed. A file that cannot be read or
// loaded leaves the table as it was and returns the error.
func (t *StaticTable) Reload(force bool) (bool, error) {
	t.mu.Lock()
	due := force || t.opts.RefreshInterval > 0 && time.Since(t.checked) >= t.opts.RefreshInterval
	cur := t.cur.hash
	if due {
		t.checked = time.Now() // a failed check waits for the next interval too
	}
	t.mu.Unlock()
	if !due {
		return false, nil
	}
	data, err := os.ReadFile(t.opts.Path)
	if err != nil {
		return false, fmt.Errorf("%w %s: reload: %w", ErrTable, quoteName(t.name), err)
	}
	if contentHash(data) == cur {
		return false, nil
	}
	s, err := t.load(data)
	if err != nil {
		return false, err
	}
	t.mu.Lock()
	old := t.cur
	t.cur = s
	t.mu.Unlock()
	old.release()
	return true, nil
}

// Release drops the table's current snapshot; batches that pinned it keep
// it until they end.
func (t *StaticTable) Release() {
	t.mu.Lock()
	s := t.cur
	t.cur = nil
	t.mu.Unlock()
	if s != nil {
		s.release()
	}
}

// pin returns the current snapshot, retained.
func (t *StaticTable) pin() *tableSnap {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur.retain()
}

func contentHash(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// load decodes data, the file's content, into a snapshot.
func (t *StaticTable) load(data []byte) (*tableSnap, error) {
	s := &tableSnap{hash: contentHash(data), loaded: time.Now(), idx: map[string]*tableIndex{}}
	var err error
	if t.opts.Format == TableParquet {
		s.rec, err = t.loadParquet(data)
		if err == nil {
			s.lines = make([]int32, s.rec.NumRows())
			for i := range s.lines {
				s.lines[i] = int32(i + 1)
			}
		}
	} else {
		s.rec, s.lines, s.bad, s.badAt, err = t.loadLines(data)
	}
	if err != nil {
		return nil, err
	}
	s.refs.Store(1)
	s.cols = make([]*vector, s.rec.NumCols())
	for i, f := range t.opts.Schema.Fields {
		if s.cols[i], err = fromArrow(s.rec.Column(i), f.Type); err != nil {
			s.rec.Release()
			return nil, fmt.Errorf("%w %s: %s: column %s: %w", ErrTable, quoteName(t.name), t.opts.Path, quoteName(f.Name), err)
		}
		for _, b := range s.rec.Column(i).Data().Buffers() {
			if b != nil {
				s.size += int64(b.Len())
			}
		}
	}
	if len(t.opts.Key) > 0 {
		if err := t.checkUnique(s); err != nil {
			s.rec.Release()
			return nil, err
		}
	}
	return s, nil
}

// loadLines decodes a CSV or JSON-lines file with the source decoders, one
// record per line; a malformed line is handled per the mode.
func (t *StaticTable) loadLines(data []byte) (rec arrow.Record, lines []int32, bad int64, firstBad string, err error) {
	names := make([]string, len(t.opts.Schema.Fields))
	for i, f := range t.opts.Schema.Fields {
		names[i] = f.Name
	}
	format := FormatCSV
	if t.opts.Format == TableJSON {
		format = FormatJSON
	}
	dec, err := NewDecoder(t.mem, t.opts.Schema, DecoderOptions{Format: format, Mode: t.opts.Mode, Columns: names, TimeZone: t.opts.TimeZone,
		OnMalformed: func(m *MalformedRecordError) {
			if bad++; firstBad == "" {
				firstBad = t.malformedAt(int(m.Offset), m)
			}
		}})
	if err != nil {
		return nil, nil, 0, "", fmt.Errorf("table %s: %w", quoteName(t.name), err)
	}
	defer dec.Release()
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		l = bytes.TrimSuffix(l, []byte{'\r'})
		if line == 1 && t.opts.Header && format == FormatCSV || len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		before := dec.Len()
		if err := dec.Append(&RecordMeta{Offset: int64(line)}, l); err != nil {
			var m *MalformedRecordError
			if errors.As(err, &m) {
				return nil, nil, 0, "", fmt.Errorf("%w %s: %s (mode FAILFAST)", ErrTable, quoteName(t.name), t.malformedAt(line, m))
			}
			return nil, nil, 0, "", fmt.Errorf("%w %s: %s:%d: %w", ErrTable, quoteName(t.name), t.opts.Path, line, err)
		}
		if dec.Len() > before {
			lines = append(lines, int32(line))
		}
	}
	rec = dec.Flush()
	if rec == nil {
		rec = emptyRecord(t.mem, t.opts.Schema)
	}
	return rec, lines, bad, firstBad, nil
}

// malformedAt renders a malformed line of the table's file as
// "path:line: column c: reason".
func (t *StaticTable) malformedAt(line int, m *MalformedRecordError) string {
	col := ""
	if m.Column != "" {
		col = " column " + quoteName(m.Column) + ":"
	}
	return fmt.Sprintf("%s:%d:%s %s", t.opts.Path, line, col, m.Reason)
}

func emptyRecord(mem memory.Allocator, s *Schema) arrow.Record {
	arrs := make([]arrow.Array, len(s.Fields))
	for i, f := range s.Fields {
		arrs[i] = array.MakeArrayOfNull(mem, f.Type.Arrow(), 0)
	}
	rec := array.NewRecord(s.Arrow(), arrs, 0)
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// loadParquet reads the schema's columns of a Parquet file by name, each
// of the schema's Arrow type.
func (t *StaticTable) loadParquet(data []byte) (arrow.Record, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s: %s", ErrTable, quoteName(t.name), t.opts.Path, fmt.Sprintf(format, args...))
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, fail("not a Parquet file: %v", err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, t.mem)
	if err != nil {
		return nil, fail("%v", err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, fail("%v", err)
	}
	defer tbl.Release()
	fs := tbl.Schema()
	arrs := make([]arrow.Array, 0, len(t.opts.Schema.Fields))
	defer func() {
		for _, a := range arrs {
			a.Release()
		}
	}()
	for _, f := range t.opts.Schema.Fields {
		i := lookupName(int(tbl.NumCols()), func(i int) string { return fs.Field(i).Name }, f.Name)
		if i < 0 {
			return nil, fail("no column %s (the file has %s)", quoteName(f.Name), parquetNames(fs))
		}
		if !arrow.TypeEqual(fs.Field(i).Type, f.Type.Arrow()) {
			return nil, fail("column %s is %s in the file, the schema says %s (%s)", quoteName(f.Name), fs.Field(i).Type, f.Type, f.Type.Arrow())
		}
		chunks := tbl.Column(i).Data().Chunks()
		var a arrow.Array
		if len(chunks) == 0 {
			a = array.MakeArrayOfNull(t.mem, f.Type.Arrow(), 0)
		} else if a, err = array.Concatenate(chunks, t.mem); err != nil {
			return nil, fail("column %s: %v", quoteName(f.Name), err)
		}
		arrs = append(arrs, a)
	}
	return array.NewRecord(t.opts.Schema.Arrow(), arrs, tbl.NumRows()), nil
}

func parquetNames(s *arrow.Schema) string {
	names := make([]string, s.NumFields())
	for i := range names {
		names[i] = quoteName(s.Field(i).Name)
	}
	return strings.Join(names, ", ")
}

// checkUnique refuses a snapshot with a NULL or repeated TableOptions.Key.
func (t *StaticTable) checkUnique(s *tableSnap) error {
	cols := make([]int, len(t.opts.Key))
	for i, k := range t.opts.Key {
		cols[i] = lookupName(len(t.opts.Schema.Fields), func(j int) string { return t.opts.Schema.Fields[j].Name }, k)
	}
	ix := s.index(cols)
	for row, next := range ix.next {
		if next >= 0 {
			return fmt.Errorf("%w %s: %s:%d: duplicate key %s (first at line %d); the table's key is %s",
				ErrTable, quoteName(t.name), t.opts.Path, s.lines[next], ix.keyText(s, int32(row)), s.lines[row], strings.Join(t.opts.Key, ", "))
		}
	}
	for row := range s.lines {
		for _, c := range cols {
			if s.cols[c].null(int32(row)) {
				return fmt.Errorf("%w %s: %s:%d: key column %s is NULL; the table's key is %s",
					ErrTable, quoteName(t.name), t.opts.Path, s.lines[row], quoteName(t.opts.Schema.Fields[c].Name), strings.Join(t.opts.Key, ", "))
			}
		}
	}
	return nil
}

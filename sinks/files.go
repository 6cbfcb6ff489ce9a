package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/compress"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
)

// FormatParquet is the file sink's Parquet format (FormatJSON and
// FormatCSV are its JSON lines and CSV formats).
const FormatParquet = "parquet"

// The file sink's compression codecs.
const (
	CompressionSnappy = "snappy"
	CompressionZstd   = "zstd"
	CompressionGzip   = "gzip"
	CompressionNone   = "none"
)

// commitLogRetain is how many batches' entries the file sink's commit log
// keeps: only the latest is needed (it is the marker, and the one whose
// renames a restart completes); the others are there to look at.
const commitLogRetain = 100

// FilesOptions configure a file sink (NewFiles).
type FilesOptions struct {
	// Path is the output directory, created when missing (Spark: path).
	Path string
	// Format is FormatParquet (default), FormatJSON (one JSON object per
	// line, as `microbatch state --format jsonl`) or FormatCSV (a header
	// line, then rows as `microbatch state --format csv`).
	Format string
	// PartitionBy names output columns to partition by: each row goes
	// under Path/col=value/..., Hive-style (Spark: partitionBy). The
	// columns are left out of the files, as Spark and Hive do.
	PartitionBy []string
	// Compression is CompressionSnappy (default for Parquet),
	// CompressionZstd, CompressionGzip or CompressionNone (default for
	// JSON and CSV, which take gzip or none).
	Compression string
	// MaxRecordsPerFile caps the rows of one file; 0 = no cap (Spark:
	// maxRecordsPerFile).
	MaxRecordsPerFile int64
	// Allocator allocates the Parquet writer's buffers and the rows
	// gathered per partition; nil = memory.DefaultAllocator.
	Allocator memory.Allocator
}

// Files is the file sink: each batch's rows as Parquet, JSON lines or CSV
// files in a directory, exactly once for a reader that lists the
// directory and skips names beginning with "_" or "." (as Spark, Hive and
// Trino do). Append mode only.
//
// Protocol, for batch N (README "Exactly-once, per sink"):
//
//  1. AddBatch writes N's files under _microbatch/staging/N/, fsyncs
//     each and the directory. They are named part-<N>-<n>.<ext>, the
//     same names in a re-run. Invisible to readers.
//  2. It writes the commit log entry _microbatch/commits/N listing the
//     files (a temporary name, fsync, rename, fsync of the directory):
//     the commit point of N in the output directory.
//  3. It renames each file into place (Path/[col=value/]part-<N>-<n>)
//     and fsyncs the directories. A reader sees each file whole or not
//     at all; a row is in one file only.
//  4. bbolt commits N; Committed(N) deletes the commit log entry of
//     N-100.
//
// Open(lastCommitted) completes the renames of the latest entry (a crash
// in step 3 left some in staging) and deletes every staged file (those of
// a batch without an entry, which will be written again). A batch at or
// below the latest entry is not written again: AddBatch skips it.
type Files struct {
	opts  FilesOptions
	ext   string
	codec compress.Compression
	mem   memory.Allocator
	// last is the latest batch of the commit log, -1 for none.
	last int64
	// hook, set by tests, is called at each step of the protocol.
	hook func(point string, batchID int64)
}

// NewFiles returns a file sink, checking opts.
func NewFiles(opts FilesOptions) (*Files, error) {
	if opts.Path == "" {
		return nil, errors.New("files sink: path is required")
	}
	if opts.Format == "" {
		opts.Format = FormatParquet
	}
	s := &Files{opts: opts, last: -1, mem: opts.Allocator}
	if s.mem == nil {
		s.mem = memory.DefaultAllocator
	}
	switch opts.Format {
	case FormatParquet:
		if s.opts.Compression == "" {
			s.opts.Compression = CompressionSnappy
		}
		codecs := map[string]compress.Compression{CompressionSnappy: compress.Codecs.Snappy, CompressionZstd: compress.Codecs.Zstd,
			CompressionGzip: compress.Codecs.Gzip, CompressionNone: compress.Codecs.Uncompressed}
		c, ok := codecs[s.opts.Compression]
		if !ok {
			return nil, fmt.Errorf("files sink: compression %q: want snappy, zstd, gzip or none", s.opts.Compression)
		}
		s.codec, s.ext = c, ".parquet"
	case FormatJSON, FormatCSV:
		switch s.opts.Compression {
		case "", CompressionNone:
			s.opts.Compression, s.ext = CompressionNone, "."+opts.Format
		case CompressionGzip:
			s.ext = "." + opts.Format + ".gz"
		default:
			return nil, fmt.Errorf("files sink: compression %q: format %s takes gzip or none (snappy and zstd are for parquet)", s.opts.Compression, opts.Format)
		}
	default:
		return nil, fmt.Errorf("files sink: format %q: want parquet, json or csv", opts.Format)
	}
	if opts.MaxRecordsPerFile < 0 {
		return nil, fmt.Errorf("files sink: maxRecordsPerFile %d: want 0 (no cap) or more", opts.MaxRecordsPerFile)
	}
	seen := map[string]bool{}
	for _, c := range opts.PartitionBy {
		if c == "" || seen[c] {
			return nil, fmt.Errorf("files sink: partitionBy %q: empty or repeated column", c)
		}
		seen[c] = true
	}
	return s, nil
}

// CheckSchema says whether the sink can write rows of schema in mode:
// append mode, and every partitionBy column in schema, with at least one
// column left for the files. It is what AddBatch checks; validation calls
// it before any batch.
func (s *Files) CheckSchema(schema *arrow.Schema, mode dataframe.OutputMode) error {
	if mode != dataframe.Append {
		return fmt.Errorf("output mode %s: the files sink writes append mode only, as Spark's file sink: a file once written is never changed, so rows that change (update) or the whole result each batch (complete) cannot be written to it", mode)
	}
	for _, c := range s.opts.PartitionBy {
		if len(schema.FieldIndices(c)) == 0 {
			var names []string
			for _, f := range schema.Fields() {
				names = append(names, f.Name)
			}
			return fmt.Errorf("partitionBy column %q is not an output column (%s)", c, strings.Join(names, ", "))
		}
	}
	if len(s.opts.PartitionBy) >= schema.NumFields() {
		return errors.New("partitionBy names every output column: the files would have none")
	}
	return nil
}

func (s *Files) meta(parts ...string) string {
	return filepath.Join(append([]string{s.opts.Path, "_microbatch"}, parts...)...)
}

func (s *Files) point(p string, id int64) {
	if s.hook != nil {
		s.hook(p, id)
	}
}

// commitEntry is one batch's commit log entry.
type commitEntry struct {
	Batch int64 `json:"batch"`
	// Files are the batch's files, relative to the output directory, in
	// slash form; their staged names are _microbatch/staging/<batch>/<base>.
	Files []string `json:"files"`
}

// Open completes the latest committed batch's renames and deletes staged
// files of later ones (see Files). It refuses a commit log ahead of
// lastCommitted+1: another query writes to the directory, or the
// checkpoint was reset, and skipping its batches would lose rows.
func (s *Files) Open(ctx context.Context, lastCommitted int64) error {
	if err := os.MkdirAll(s.meta("commits"), 0o755); err != nil {
		return fmt.Errorf("files sink: %w", err)
	}
	if err := os.MkdirAll(s.meta("staging"), 0o755); err != nil {
		return fmt.Errorf("files sink: %w", err)
	}
	ids, err := s.commitIDs()
	if err != nil {
		return err
	}
	s.last = -1
	if len(ids) > 0 {
		s.last = ids[len(ids)-1]
	}
	if s.last > lastCommitted+1 {
		return fmt.Errorf("files sink: the commit log of %s is at batch %d, ahead of the checkpoint's last committed batch %d: another query writes to this path, or the checkpoint was reset; use another path or remove the directory", s.opts.Path, s.last, lastCommitted)
	}
	if s.last >= 0 {
		e, err := s.readEntry(s.last)
		if err != nil {
			return err
		}
		if err := s.publish(e); err != nil {
			return err
		}
	}
	staged, err := os.ReadDir(s.meta("staging"))
	if err != nil {
		return fmt.Errorf("files sink: %w", err)
	}
	for _, d := range staged {
		if err := os.RemoveAll(s.meta("staging", d.Name())); err != nil {
			return fmt.Errorf("files sink: removing files of an uncommitted batch: %w", err)
		}
	}
	for _, id := range ids {
		if id <= s.last-commitLogRetain {
			if err := os.Remove(s.meta("commits", strconv.FormatInt(id, 10))); err != nil {
				return fmt.Errorf("files sink: %w", err)
			}
		}
	}
	return syncDir(s.meta("staging"))
}

// commitIDs lists the batches of the commit log in order, removing the
// temporary file of an entry a crash cut short.
func (s *Files) commitIDs() ([]int64, error) {
	ents, err := os.ReadDir(s.meta("commits"))
	if err != nil {
		return nil, fmt.Errorf("files sink: %w", err)
	}
	var ids []int64
	for _, d := range ents {
		if strings.HasPrefix(d.Name(), ".") {
			if err := os.Remove(s.meta("commits", d.Name())); err != nil {
				return nil, fmt.Errorf("files sink: %w", err)
			}
			continue
		}
		id, err := strconv.ParseInt(d.Name(), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("files sink: %s: not a commit log entry (a batch id)", s.meta("commits", d.Name()))
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

func (s *Files) readEntry(id int64) (*commitEntry, error) {
	name := s.meta("commits", strconv.FormatInt(id, 10))
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("files sink: %w", err)
	}
	var e commitEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Batch != id {
		return nil, fmt.Errorf("files sink: %s: corrupt commit log entry (%v)", name, err)
	}
	return &e, nil
}

// publish renames e's staged files into place, those a crash left in
// staging included, and fsyncs the directories they went to. A file
// already in place is left alone, so it can run again.
func (s *Files) publish(e *commitEntry) error {
	dirs := map[string]bool{}
	for i, f := range e.Files {
		final := filepath.Join(s.opts.Path, filepath.FromSlash(f))
		staged := s.meta("staging", strconv.FormatInt(e.Batch, 10), filepath.Base(final))
		if _, err := os.Stat(staged); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(final); err != nil {
				return fmt.Errorf("files sink: batch %d: %s is neither staged nor in place: %w", e.Batch, f, err)
			}
			continue
		}
		dir := filepath.Dir(final)
		if !dirs[dir] {
			if err := s.mkdirs(dir, dirs); err != nil {
				return err
			}
		}
		if err := os.Rename(staged, final); err != nil {
			return fmt.Errorf("files sink: batch %d: publishing %s: %w", e.Batch, f, err)
		}
		if i == 0 {
			s.point("mid-rename", e.Batch)
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return syncDir(s.meta("staging"))
}

// mkdirs creates dir and the directories between it and the output
// directory, adding to dirs every one whose entries must be fsynced.
func (s *Files) mkdirs(dir string, dirs map[string]bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("files sink: %w", err)
	}
	root := filepath.Clean(s.opts.Path)
	for d := dir; ; d = filepath.Dir(d) {
		dirs[d] = true
		if d == root || len(d) <= len(root) {
			return nil
		}
	}
}

// AddBatch writes out's rows to staged files, commits them in the commit
// log and renames them into place (see Files). A batch at or below the
// commit log's latest entry was written before a crash: it is skipped. A
// batch without rows writes nothing.
func (s *Files) AddBatch(ctx context.Context, out *engine.Output) error {
	if err := s.CheckSchema(out.Schema, out.Mode); err != nil {
		return fmt.Errorf("files sink: %w", err)
	}
	if out.BatchID <= s.last || out.NumRows() == 0 {
		return nil
	}
	id := strconv.FormatInt(out.BatchID, 10)
	stage := s.meta("staging", id)
	if err := os.RemoveAll(stage); err != nil {
		return fmt.Errorf("files sink: %w", err)
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return fmt.Errorf("files sink: %w", err)
	}
	files, err := s.writeBatch(ctx, out, stage)
	if err != nil {
		return fmt.Errorf("files sink: batch %d: %w", out.BatchID, err)
	}
	if err := syncDir(stage); err != nil {
		return err
	}
	s.point("before-log", out.BatchID)
	e := &commitEntry{Batch: out.BatchID, Files: files}
	if err := s.writeEntry(e); err != nil {
		return err
	}
	if err := s.publish(e); err != nil {
		return err
	}
	s.last = out.BatchID
	if err := os.Remove(stage); err != nil {
		return fmt.Errorf("files sink: %w", err)
	}
	return nil
}

// writeEntry makes e durable in the commit log: the batch's commit point.
func (s *Files) writeEntry(e *commitEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	id := strconv.FormatInt(e.Batch, 10)
	tmp := s.meta("commits", "."+id+".tmp")
	if err := writeSynced(tmp, b); err != nil {
		return fmt.Errorf("files sink: commit log: %w", err)
	}
	if err := os.Rename(tmp, s.meta("commits", id)); err != nil {
		return fmt.Errorf("files sink: commit log: %w", err)
	}
	return syncDir(s.meta("commits"))
}

// Committed deletes the commit log entry that fell out of the last
// commitLogRetain batches.
func (s *Files) Committed(ctx context.Context, batchID int64) error {
	err := os.Remove(s.meta("commits", strconv.FormatInt(batchID-commitLogRetain, 10)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("files sink: %w", err)
	}
	return nil
}

func writeSynced(name string, b []byte) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs directory dir, making the names created, renamed or
// removed in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("files sink: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("files sink: fsync %s: %w", dir, err)
	}
	return nil
}

package sinks

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
)

// hiveDefaultPartition is the directory value of a NULL or empty
// partition value, as in Hive and Spark.
const hiveDefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// maxRowGroupRows caps a Parquet row group: the writer buffers one.
const maxRowGroupRows = 1 << 20

// writeBatch writes out's rows into files in directory stage and returns
// their paths relative to the output directory, in slash form. The
// partitions are written in the order of their directory names and a
// file's rows in the batch's order, so a re-run batch writes the same
// files.
func (s *Files) writeBatch(ctx context.Context, out *engine.Output, stage string) ([]string, error) {
	parts, err := s.partition(ctx, out)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, p := range parts {
			for _, r := range p.recs {
				r.Release()
			}
		}
	}()
	var files []string
	for _, p := range parts {
		var f *stagedFile
		for _, rec := range p.recs {
			for off := int64(0); off < rec.NumRows(); {
				if err := ctx.Err(); err != nil {
					f.abort()
					return nil, err
				}
				if f == nil {
					name := fmt.Sprintf("part-%05d-%05d%s", out.BatchID, len(files), s.ext)
					files = append(files, path.Join(p.dir, name))
					if f, err = s.create(filepath.Join(stage, name), p.schema); err != nil {
						return nil, err
					}
				}
				n := rec.NumRows() - off
				if max := s.opts.MaxRecordsPerFile; max > 0 && f.rows+n > max {
					n = max - f.rows
				}
				if err := f.write(rec, off, n); err != nil {
					f.abort()
					return nil, err
				}
				off += n
				if s.hook != nil && len(files) == 1 && f.rows == n {
					f.buf.Flush() // part of the first file on disk
					s.point("mid-file", out.BatchID)
				}
				if f.rows == s.opts.MaxRecordsPerFile {
					if err := f.finish(); err != nil {
						return nil, err
					}
					f = nil
				}
			}
		}
		if f != nil {
			if err := f.finish(); err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

// partitionRows are the rows of one partition directory.
type partitionRows struct {
	dir    string // "" or "col=value/col2=value2", escaped
	schema *arrow.Schema
	recs   []arrow.Record
}

// partition splits out's records by the partitionBy columns' values,
// dropping those columns, in the order of the directory names. The caller
// releases the records.
func (s *Files) partition(ctx context.Context, out *engine.Output) ([]*partitionRows, error) {
	if len(s.opts.PartitionBy) == 0 {
		p := &partitionRows{schema: out.Schema}
		for _, r := range out.Records {
			r.Retain()
			p.recs = append(p.recs, r)
		}
		return []*partitionRows{p}, nil
	}
	var keyCols, dataCols []int
	var dataFields []arrow.Field
	for _, c := range s.opts.PartitionBy {
		keyCols = append(keyCols, out.Schema.FieldIndices(c)[0])
	}
	for i, f := range out.Schema.Fields() {
		if !slices.Contains(keyCols, i) {
			dataCols, dataFields = append(dataCols, i), append(dataFields, f)
		}
	}
	schema := arrow.NewSchema(dataFields, nil)
	byDir := map[string]*partitionRows{}
	var release []arrow.Record
	defer func() {
		for _, r := range release {
			r.Release()
		}
	}()
	ctx = compute.WithAllocator(ctx, s.mem)
	for _, rec := range out.Records {
		rows := map[string][]int64{}
		var order []string
		var b strings.Builder
		for i := range int(rec.NumRows()) {
			b.Reset()
			for j, c := range keyCols {
				if j > 0 {
					b.WriteByte('/')
				}
				b.WriteString(escapePartition(out.Schema.Field(c).Name))
				b.WriteByte('=')
				col := rec.Column(c)
				if v := dataframe.TextValue(col, i); col.IsNull(i) || v == "" {
					b.WriteString(hiveDefaultPartition)
				} else {
					b.WriteString(escapePartition(v))
				}
			}
			k := b.String()
			if _, ok := rows[k]; !ok {
				order = append(order, k)
			}
			rows[k] = append(rows[k], int64(i))
		}
		var cols []arrow.Array
		for _, c := range dataCols {
			cols = append(cols, rec.Column(c))
		}
		data := array.NewRecord(schema, cols, rec.NumRows())
		release = append(release, data)
		for _, k := range order {
			taken, err := take(ctx, s.mem, data, rows[k])
			if err != nil {
				return nil, err
			}
			p := byDir[k]
			if p == nil {
				p = &partitionRows{dir: k, schema: schema}
				byDir[k] = p
			}
			p.recs = append(p.recs, taken)
		}
	}
	var parts []*partitionRows
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range byDir {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, byDir[k])
	}
	return parts, nil
}

// take returns the rows of rec at indices, with Arrow's take kernel.
func take(ctx context.Context, mem memory.Allocator, rec arrow.Record, indices []int64) (arrow.Record, error) {
	b := array.NewInt64Builder(mem)
	b.AppendValues(indices, nil)
	idx := b.NewArray()
	b.Release()
	defer idx.Release()
	v, i := compute.NewDatum(rec), compute.NewDatum(idx)
	defer v.Release()
	defer i.Release()
	res, err := compute.Take(ctx, *compute.DefaultTakeOptions(), v, i)
	if err != nil {
		return nil, fmt.Errorf("partitioning rows: %w", err)
	}
	return res.(*compute.RecordDatum).Value, nil
}

// escapePartition escapes a partition column name or value as Hive's
// FileUtils.escapePathName does: control characters and
// "#%'*/:=?\{[]^ and DEL as %XX.
func escapePartition(s string) string {
	const special = "\"#%'*/:=?\\{[]^\x7f"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || strings.IndexByte(special, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// stagedFile is one output file being written.
type stagedFile struct {
	f    *os.File
	buf  *bufio.Writer
	gz   *gzip.Writer // json and csv with gzip
	w    io.Writer    // buf or gz
	pq   *pqarrow.FileWriter
	csv  bool
	line []byte
	rows int64
}

func (s *Files) create(name string, schema *arrow.Schema) (*stagedFile, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	sf := &stagedFile{f: f, buf: bufio.NewWriterSize(f, 1<<20)}
	sf.w = sf.buf
	switch {
	case s.opts.Format == FormatParquet:
		props := []parquet.WriterProperty{parquet.WithCompression(s.codec), parquet.WithAllocator(s.mem),
			parquet.WithMaxRowGroupLength(maxRowGroupRows), parquet.WithCreatedBy("microbatch")}
		for _, f := range schema.Fields() {
			if f.Type.ID() == arrow.TIMESTAMP {
				// Timestamps rarely repeat: dictionary-encoding them
				// costs most of the writer's time and falls back to
				// plain encoding anyway.
				props = append(props, parquet.WithDictionaryFor(f.Name, false))
			}
		}
		sf.pq, err = pqarrow.NewFileWriter(schema, sf.buf, parquet.NewWriterProperties(props...), pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(s.mem), pqarrow.WithStoreSchema()))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("parquet writer: %w", err)
		}
	case s.opts.Compression == CompressionGzip:
		sf.gz = gzip.NewWriter(sf.buf)
		sf.w = sf.gz
	}
	if s.opts.Format == FormatCSV {
		sf.csv = true
		sf.line = append(dataframe.AppendCSVHeader(sf.line, schema), '\n')
		if _, err := sf.w.Write(sf.line); err != nil {
			sf.abort()
			return nil, err
		}
	}
	return sf, nil
}

// write appends rows [off, off+n) of rec.
func (sf *stagedFile) write(rec arrow.Record, off, n int64) error {
	sf.rows += n
	if sf.pq != nil {
		r := rec
		if off != 0 || n != rec.NumRows() {
			r = rec.NewSlice(off, off+n)
			defer r.Release()
		}
		return sf.pq.WriteBuffered(r)
	}
	for i := int(off); i < int(off+n); i++ {
		if sf.csv {
			sf.line = dataframe.AppendCSVRow(sf.line[:0], rec, i)
		} else {
			sf.line = dataframe.AppendJSONRow(sf.line[:0], rec, i)
		}
		sf.line = append(sf.line, '\n')
		if _, err := sf.w.Write(sf.line); err != nil {
			return err
		}
	}
	return nil
}

// finish completes the file's format, flushes and fsyncs it.
func (sf *stagedFile) finish() error {
	var err error
	switch {
	case sf.pq != nil:
		err = sf.pq.Close()
	case sf.gz != nil:
		err = sf.gz.Close()
	}
	if err == nil {
		err = sf.buf.Flush()
	}
	if err == nil {
		err = sf.f.Sync()
	}
	if cerr := sf.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// abort closes the file after a failure; Open deletes what is staged.
func (sf *stagedFile) abort() {
	if sf == nil {
		return
	}
	if sf.pq != nil {
		sf.pq.Close()
	}
	sf.f.Close()
}

package jobfile

import (
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// FilesSink configures the file sink (sinks.FilesOptions).
type FilesSink struct {
	// Path is the absolute output directory (key sink.files.path,
	// required; relative paths are resolved against Job.Dir).
	Path string
	// Format is parquet, json or csv (key sink.files.format).
	Format string
	// PartitionBy are the partition columns (key sink.files.partitionBy).
	PartitionBy []string
	// Compression is snappy, zstd, gzip, none or "" for the format's
	// default (key sink.files.compression).
	Compression string
	// MaxRecordsPerFile caps a file's rows; 0 = no cap (key
	// sink.files.maxRecordsPerFile).
	MaxRecordsPerFile int64
}

func (l *loader) filesSink(n *yaml.Node) *FilesSink {
	const path = "sink.files"
	f := &FilesSink{Format: "parquet"}
	m := l.mapping(n, path)
	if m == nil {
		return f
	}
	if l.require(m, path, "path") {
		if p, ok := l.nonEmpty(m["path"], path+".path"); ok {
			if !filepath.IsAbs(p) {
				p = filepath.Join(l.dir, p)
			}
			f.Path = filepath.Clean(p)
		}
	}
	if v := m["format"]; v != nil {
		f.Format, _ = l.enum(v, path+".format", "parquet", "json", "csv")
	}
	if v := m["partitionBy"]; v != nil {
		f.PartitionBy = l.columnList(v, path+".partitionBy")
	}
	if v := m["compression"]; v != nil {
		if c, ok := l.enum(v, path+".compression", "snappy", "zstd", "gzip", "none"); ok {
			if f.Format != "parquet" && (c == "snappy" || c == "zstd") {
				l.errorf(deref(v).Line, path+".compression", "format %s takes gzip or none (snappy and zstd are for parquet)", f.Format)
			}
			f.Compression = c
		}
	}
	if v := m["maxRecordsPerFile"]; v != nil {
		f.MaxRecordsPerFile, _ = l.integer(v, path+".maxRecordsPerFile", 0)
	}
	return f
}

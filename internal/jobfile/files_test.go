package jobfile_test

import (
	"fmt"
	"testing"

	"github.com/microbatch/microbatch/internal/jobfile"
)

func TestFilesSink(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want jobfile.FilesSink
	}{
		{"sink:\n  files: {path: out/pv}\n", jobfile.FilesSink{Path: "/jobs/out/pv", Format: "parquet"}},
		{"sink:\n  files:\n    path: /data/pv\n    format: json\n    partitionBy: [day, page]\n    compression: gzip\n    maxRecordsPerFile: 1000\n",
			jobfile.FilesSink{Path: "/data/pv", Format: "json", PartitionBy: []string{"day", "page"}, Compression: "gzip", MaxRecordsPerFile: 1000}},
		{"sink:\n  files: {path: ../pv, partitionBy: 'day, page', compression: zstd}\n",
			jobfile.FilesSink{Path: "/pv", Format: "parquet", PartitionBy: []string{"day", "page"}, Compression: "zstd"}},
	} {
		j, err := parse(t, replace(t, minimal, "checkpointLocation", c.yaml+"checkpointLocation"))
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		if got := j.Sink.Files; got == nil || fmt.Sprint(*got) != fmt.Sprint(c.want) || j.Sink.Console != nil {
			t.Errorf("%q: %+v, want %+v", c.yaml, got, c.want)
		}
	}
}

func TestFilesSinkErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"sink:\n  files: {format: json}\n", "job.yaml:9: sink.files.path: required key is missing"},
		{"sink:\n  files: {path: o, format: orc}\n", `job.yaml:9: sink.files.format: invalid value "orc" (want parquet, json or csv)`},
		{"sink:\n  files: {path: o, compression: lz4}\n", `job.yaml:9: sink.files.compression: invalid value "lz4" (want snappy, zstd, gzip or none)`},
		{"sink:\n  files: {path: o, format: csv, compression: snappy}\n", "job.yaml:9: sink.files.compression: format csv takes gzip or none (snappy and zstd are for parquet)"},
		{"sink:\n  files: {path: o, maxRecordsPerFile: -1}\n", "job.yaml:9: sink.files.maxRecordsPerFile: must be at least 0, got -1"},
	} {
		_, err := parse(t, replace(t, minimal, "checkpointLocation", c.yaml+"checkpointLocation"))
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: %v\nwant %s", c.yaml, err, c.want)
		}
	}
}

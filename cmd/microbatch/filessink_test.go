package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/internal/kafkatest"
)

// run with sink.files: the path is relative to the job file, rows land in
// their partition's directory; validate refuses a query that is not in
// append mode and a partition column the output lacks, naming the key.
func TestRunFilesSink(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1})
	b.Produce(t, "clicks", []kafkatest.Record{
		{Value: []byte(`{"page":"a","n":1}`)}, {Value: []byte(`{"page":"b","n":2}`)}, {Value: []byte(`{"page":"a","n":3}`)},
	})
	dir := t.TempDir()
	write := func(query, files string) string {
		job := fmt.Sprintf(`name: pv
source:
  kafka:
    bootstrap.servers: %s
    subscribe: clicks
    startingOffsets: earliest
  format: json
  schema: "page STRING, n BIGINT"
trigger:
  availableNow: true
query: %s
sink:
  files: {path: out, format: json, %s}
checkpointLocation: ckpt
`, b.Addr, query, files)
		path := filepath.Join(dir, "job.yaml")
		if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	r := cli(t, "validate", write("SELECT page, count(*) AS views FROM events GROUP BY page", "partitionBy: page"))
	if r.code != 2 || !strings.Contains(r.stderr, "job.yaml:13: sink.files: output mode complete: the files sink writes append mode only") {
		t.Fatalf("complete mode: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = cli(t, "validate", write("SELECT n FROM events", "partitionBy: page"))
	if r.code != 2 || !strings.Contains(r.stderr, `job.yaml:13: sink.files: partitionBy column "page" is not an output column (n)`) {
		t.Fatalf("missing column: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = cli(t, "run", write("SELECT page, n FROM events", "partitionBy: page"))
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("run: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for f, want := range map[string]string{"page=a/part-00000-00000.json": "{\"n\":1}\n{\"n\":3}\n", "page=b/part-00000-00001.json": "{\"n\":2}\n"} {
		got, err := os.ReadFile(filepath.Join(dir, "out", f))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", f, got, err, want)
		}
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs examples/clickstream/job.yaml as `make demo` does (the
// embedded broker fed by the generator), with its broker data and
// checkpoint moved into a temporary directory: it prints result tables
// until SIGINT, exits 0, and a second run resumes where the first stopped.
func TestDemo(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../../examples/clickstream/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	job := string(src)
	for old, dst := range map[string]string{
		"dataDir: ../../.demo/broker":                             "dataDir: " + filepath.Join(dir, "broker"),
		"checkpointLocation: ../../.demo/checkpoints/clickstream": "checkpointLocation: " + filepath.Join(dir, "checkpoint"),
	} {
		if strings.Count(job, old) != 1 {
			t.Fatalf("examples/clickstream/job.yaml has no line %q to redirect", old)
		}
		job = strings.Replace(job, old, dst, 1)
	}
	path := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}

	startRE := regexp.MustCompile(`\Aembedded broker listening on 127\.0\.0\.1:\d+ \(data in ` + regexp.QuoteMeta(filepath.Join(dir, "broker")) + `\)
generator clickstream writing 2000 records/s to clickstream
`)
	var next int64
	for i, tables := range []int{2, 1} {
		run := startProc(t, "run", path)
		run.waitFor(false, regexp.MustCompile(fmt.Sprintf(`(?m)^Batch: %d$`, next+int64(tables)-1)))
		if code := run.stop(os.Interrupt); code != 0 {
			t.Fatalf("run %d: exit %d after SIGINT, stderr:\n%s", i, code, run.stderr.String())
		}
		stdout, stderr := run.stdout.String(), run.stderr.String()
		ids := batchHeaders(stdout)
		if len(ids) < tables || fmt.Sprint(ids) != fmt.Sprint(seq(next, next+int64(len(ids)))) {
			t.Fatalf("run %d: tables for batches %v, want %d or more from batch %d on\n%s", i, ids, tables, next, stdout)
		}
		progress := regexp.MustCompile(`(?m)^batch (\d+): \d+ rows, .*$`).FindAllStringSubmatch(stderr, -1)
		if !startRE.MatchString(stderr) || len(progress) != len(ids) || progress[0][1] != fmt.Sprint(next) {
			t.Fatalf("run %d: stderr:\n%s\nwant the broker and generator lines, then one line per batch from batch %d on", i, stderr, next)
		}
		next += int64(len(ids))
	}
}

// TestExamplesValidate keeps every example job file valid.
func TestExamplesValidate(t *testing.T) {
	t.Parallel()
	jobs, err := filepath.Glob("../../examples/*/job.yaml")
	if err != nil || len(jobs) < 3 {
		t.Fatalf("example job files: %v, %v", jobs, err)
	}
	for _, job := range jobs {
		if got := mustCLI(t, "validate", job); got != job+": ok\n" {
			t.Errorf("validate %s: %q", job, got)
		}
	}
}

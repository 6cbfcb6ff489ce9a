package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// run --progress appends Spark's progress JSON, one batch a line, across
// runs; its offsets are the checkpoint's.
func TestRunProgressFile(t *testing.T) {
	t.Parallel()
	addr, _ := startBroker(t)
	dir := t.TempDir()
	job := jobSpec{brokers: addr, topic: "clicks", maxRate: 1500, format: "json", schema: clickSchema,
		trigger: "availableNow: true", query: pageViewsSQL, checkpoint: filepath.Join(dir, "checkpoint")}.write(t, dir)
	file := filepath.Join(dir, "progress.jsonl")
	produceRecords(t, addr, "clicks", "clickstream", 8000, 1)
	if r := cli(t, "run", job, "--ui", "off", "--progress", file); r.code != 0 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	produceRecords(t, addr, "clicks", "clickstream", 2000, 2)
	if r := cli(t, "run", job, "--ui", "off", "--progress", file); r.code != 0 {
		t.Fatalf("second run: %d %s", r.code, r.stderr)
	}

	type source struct {
		Description            string
		StartOffset, EndOffset map[string]map[string]int64
		NumInputRows           int64
	}
	type record struct {
		ID, RunID, Name string
		BatchID         int64
		NumInputRows    int64
		DurationMs      map[string]int64
		StateOperators  []struct{ NumRowsTotal int64 }
		Sources         []source
		Sink            struct{ Description string }
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v: %s", len(recs)+1, err, sc.Bytes())
		}
		recs = append(recs, r)
	}
	// The checkpoint's ranges, batch by batch.
	type rng struct {
		Batch       int64
		Topic       string
		Partition   int
		From, Until int64
	}
	byBatch := map[int64][]rng{}
	for _, l := range strings.Split(strings.TrimSpace(mustCLI(t, "offsets", job, "--format", "jsonl")), "\n") {
		var r rng
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		byBatch[r.Batch] = append(byBatch[r.Batch], r)
	}
	if len(recs) != len(byBatch) || len(recs) < 3 {
		t.Fatalf("%d progress lines, %d batches in the checkpoint; want one line a batch, at least 3", len(recs), len(byBatch))
	}
	var total int64
	for i, r := range recs {
		if r.BatchID != int64(i) || r.Name != "e2e" || r.ID != recs[0].ID || r.ID == "" || len(r.Sources) != 1 ||
			r.Sources[0].Description != "KafkaV2[Subscribe[clicks]]" || r.Sink.Description != "ConsoleSink[numRows=5, truncate=true]" ||
			len(r.StateOperators) != 1 || r.DurationMs["triggerExecution"] <= 0 {
			t.Fatalf("line %d: %+v", i+1, r)
		}
		var rows int64
		for _, c := range byBatch[r.BatchID] {
			p := strconv.Itoa(c.Partition)
			if s := r.Sources[0]; s.StartOffset["clicks"][p] != c.From || s.EndOffset["clicks"][p] != c.Until {
				t.Fatalf("batch %d partition %s: progress %d..%d, checkpoint %d..%d", r.BatchID, p, s.StartOffset["clicks"][p], s.EndOffset["clicks"][p], c.From, c.Until)
			}
			rows += c.Until - c.From
		}
		if r.NumInputRows != rows || r.Sources[0].NumInputRows != rows {
			t.Fatalf("batch %d: %d rows, the checkpoint's ranges hold %d", r.BatchID, r.NumInputRows, rows)
		}
		total += rows
	}
	if total != 10000 {
		t.Fatalf("progress counts %d rows, want 10000", total)
	}
	if recs[len(recs)-1].RunID == recs[0].RunID {
		t.Fatal("two runs, one run id")
	}
}

func TestRunProgressAndUIUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	job := jobSpec{brokers: "127.0.0.1:1", topic: "t", format: "json", schema: clickSchema,
		trigger: "availableNow: true", query: pageViewsSQL, checkpoint: filepath.Join(dir, "checkpoint")}.write(t, dir)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--progress", "-"}, "microbatch run: --progress -: stdout carries the console sink's tables; write the progress to a file\n"},
		{[]string{"--ui", "0.0.0.0:4040"}, "microbatch run: --ui 0.0.0.0:4040 is reachable from other hosts: set --ui-token or MICROBATCH_UI_TOKEN\n"},
	} {
		r := cli(t, append([]string{"run", job}, c.args...)...)
		if want := c.want + "Run 'microbatch run --help' for usage.\n"; r.code != 2 || r.stderr != want {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, want)
		}
	}
}

var uiRE = regexp.MustCompile(`web UI and metrics at (http://\S+/)\n`)

// run serves the UI at the address it prints; /metrics has the job's lag
// as kafka-lag-exporter names it.
func TestRunServesUI(t *testing.T) {
	t.Parallel()
	addr, _ := startBroker(t)
	dir := t.TempDir()
	job := jobSpec{brokers: addr, topic: "clicks", maxRate: 1000, format: "json", schema: clickSchema,
		trigger: "processingTime: 100ms", query: pageViewsSQL, checkpoint: filepath.Join(dir, "checkpoint")}.write(t, dir)
	produceRecords(t, addr, "clicks", "clickstream", 4000, 1)
	p := startProc(t, "run", job, "--ui", "127.0.0.1:0")
	url := p.waitFor(true, uiRE)[1]
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url + "metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `microbatch_input_records_total{topic="clicks"} 4000`) {
			if !strings.Contains(string(b), `kafka_consumergroup_group_lag{group="e2e",partition="3",topic="clicks"} 0`) {
				t.Fatalf("/metrics lacks the lag of partition 3:\n%s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never counted 4000 records:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.cmd.Process.Signal(os.Interrupt)
	<-p.exited
}

// --log-format json makes every line of stderr a JSON record, the
// per-batch and web UI lines included; at debug each batch is logged once.
func TestRunLogFormatJSON(t *testing.T) {
	t.Parallel()
	addr, _ := startBroker(t)
	dir := t.TempDir()
	job := jobSpec{brokers: addr, topic: "clicks", maxRate: 1000, format: "json", schema: clickSchema,
		trigger: "availableNow: true", query: pageViewsSQL, checkpoint: filepath.Join(dir, "checkpoint")}.write(t, dir)
	produceRecords(t, addr, "clicks", "clickstream", 8000, 1)
	r := cli(t, "run", job, "--ui", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug")
	if r.code != 0 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	var msgs []string
	committed := map[int64]int{}
	for _, l := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
		var rec struct {
			Level, Msg string
			Batch      *int64
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("a stderr line is not JSON (%v): %q", err, l)
		}
		if rec.Msg == "batch committed" {
			committed[*rec.Batch]++
			if rec.Level != "DEBUG" {
				t.Errorf("batch line at %s: %s", rec.Level, l)
			}
			continue
		}
		if !strings.HasPrefix(rec.Msg, "librdkafka: ") {
			msgs = append(msgs, rec.Msg)
		}
	}
	batches := regexp.MustCompile(`batch (\d+): \d+ rows, `).FindAllStringSubmatch(strings.Join(msgs, "\n"), -1)
	if len(batches) < 2 || len(committed) != len(batches) {
		t.Errorf("batch committed records per batch: %v, want one for each of the %d batches", committed, len(batches))
	}
	for id, n := range committed {
		if n != 1 || id >= int64(len(batches)) {
			t.Errorf("batch %d logged %d times", id, n)
		}
	}
	want := regexp.MustCompile(`^web UI and metrics at http://127\.0\.0\.1:\d+/ query started (batch \d+: \d+ rows, [^ ]+ rows/s, \S+, lag \d+ )+available data processed query stopped$`)
	if got := strings.Join(msgs, " "); !want.MatchString(got) {
		t.Errorf("messages %q, want to match %s", got, want)
	}
	if r := cli(t, "run", job, "--log-format", "yaml"); r.code != 2 || !strings.Contains(r.stderr, `invalid --log-format "yaml" (want text or json)`) {
		t.Errorf("--log-format yaml: exit %d, stderr %q", r.code, r.stderr)
	}
}

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// During a broker outage, librdkafka's log lines reach stderr only as slog
// lines (never raw "%3|...|FAIL|" lines), each distinct message at most
// once per 10 s, and once the broker is back no connection error is
// logged.
func TestRunBrokerOutageLogs(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	addr, stopBroker := startBroker(t, "--data-dir", data, "--topic", "clicks:4")
	produceRecords(t, addr, "clicks", "clickstream", 2000, 1)
	dir := t.TempDir()
	job := jobSpec{
		brokers: addr, topic: "clicks", maxRate: 1000,
		format: "json", schema: clickSchema,
		trigger: "processingTime: 200ms", query: pageViewsSQL,
		checkpoint: filepath.Join(dir, "checkpoint"),
	}.write(t, dir)
	run := startProc(t, "run", job, "--ui", "off")
	run.waitFor(true, regexp.MustCompile(`(?m)^batch 2: `))

	if code, stderr := stopBroker(os.Interrupt); code != 0 {
		t.Fatalf("broker stop: exit %d, %s", code, stderr)
	}
	// The outage: the job's clients fail to connect.
	run.waitFor(true, regexp.MustCompile(`Connection refused`))
	time.Sleep(3 * time.Second)
	outage := len(run.stderr.String())

	back := startProc(t, "broker", "--listen", addr, "--data-dir", data, "--topic", "clicks:4")
	back.waitFor(false, listeningRE)
	produceRecords(t, addr, "clicks", "clickstream", 2000, 2)
	// Batches read the new records: the job reconnected.
	m := run.waitFor(true, regexp.MustCompile(`(?m)^batch (\d+): [1-9]\d* rows, `))
	_ = m
	reconnected := strings.Index(run.stderr.String()[outage:], "\nbatch ")
	time.Sleep(3 * time.Second) // time for stale lines to show up
	if code := run.stop(os.Interrupt); code != 0 {
		t.Fatalf("run after SIGINT: exit %d, stderr:\n%s", code, run.stderr.String())
	}
	back.stop(os.Interrupt)

	stderr := run.stderr.String()
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "%") {
			t.Errorf("a raw librdkafka line on stderr: %q", l)
		}
	}
	// Each distinct connection error at most once in the 3 s outage.
	seen := map[string]int{}
	for _, l := range regexp.MustCompile(`(?m)^.*Connection refused.*$`).FindAllString(stderr[:outage], -1) {
		if !strings.Contains(l, `msg="librdkafka: `) {
			t.Errorf("a connection error not from librdkafka's log: %q", l)
			continue
		}
		k := regexp.MustCompile(`^time=\S+ |client=\S+ |\(after \d+ms in state \w+[^)]*\)`).ReplaceAllString(l, "")
		if seen[k]++; seen[k] == 2 {
			t.Errorf("logged twice within 10 s: %q", k)
		}
	}
	if len(seen) == 0 {
		t.Errorf("no connection error was logged during the outage:\n%s", stderr)
	}
	after := stderr[outage:]
	if reconnected >= 0 {
		after = after[reconnected:]
	}
	if strings.Contains(after, "Connection refused") || strings.Contains(after, "brokers are down") {
		t.Errorf("connection errors logged after the job reconnected:\n%s", after)
	}
	t.Logf("stderr:\n%s", stderr)
}

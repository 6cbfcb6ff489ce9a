package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestQueryEvolution changes a job's query between runs on one checkpoint:
// a new WHERE, alias and select order run on with the state and are
// logged; a new group key is refused with exit 1 and the change named.
func TestQueryEvolution(t *testing.T) {
	addr, _ := startBroker(t)
	dir := t.TempDir()
	produceRecords(t, addr, "clicks", "clickstream", 2000, 7)
	job := jobSpec{brokers: addr, topic: "clicks", maxRate: 10000, format: "json", schema: clickSchema,
		trigger: "availableNow: true", query: pageViewsSQL, outputMode: "complete", checkpoint: filepath.Join(dir, "checkpoint")}
	path := job.write(t, dir)
	if r := cli(t, "run", path); r.code != 0 {
		t.Fatalf("first run: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	counts := func(col string) string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(mustCLI(t, "state", path, "--format", "jsonl")), "\n") {
			var row map[string]any
			if err := json.Unmarshal([]byte(l), &row); err != nil {
				t.Fatalf("state line %q: %v", l, err)
			}
			out = append(out, fmt.Sprintf("%v=%v", row["page"], row[col]))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	before := counts("views")
	if before == "" || !strings.Contains(before, "=") {
		t.Fatalf("state after the first run: %q", before)
	}

	// Another WHERE (which keeps the same rows here), another alias and
	// order, in other case: the state carries on.
	job.query = "select COUNT(*) as n, Page from events where action = 'view' and page is not null group by PAGE"
	path = job.write(t, dir)
	r := cli(t, "run", path)
	if r.code != 0 || !strings.Contains(r.stderr, "query changed since the checkpoint's last run; the checkpoint's offsets and state are kept") ||
		!strings.Contains(r.stderr, "field=query") {
		t.Fatalf("run with a new WHERE: exit %d, stderr:\n%s\nwant exit 0 and the change logged", r.code, r.stderr)
	}
	if after := counts("n"); after != before {
		t.Fatalf("state after the change: %s, want the state before it: %s", after, before)
	}

	job.query = "SELECT action, count(*) AS n FROM events GROUP BY action"
	path = job.write(t, dir)
	r = cli(t, "run", path)
	if r.code != 1 || !strings.Contains(r.stderr, "group key 1 changed from page STRING to action STRING") {
		t.Fatalf("run with a new group key: exit %d, stderr:\n%s\nwant exit 1 naming the group key", r.code, r.stderr)
	}
}

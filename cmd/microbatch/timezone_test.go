package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/internal/kafkatest"
)

// sessionTimeZone: events counted per New York day. 03:00Z on Jan 1 is
// Dec 31 in New York; a source timestamp without an offset is New York
// time (22:00 there is 03:00Z on Jan 2, still Jan 1 locally); in UTC the
// same job counts the three on Jan 1 and one on Jan 2. date_format
// renders the local hour of the latest one; the console shows the first
// on the zone's wall clock, the state (jsonl) as an instant.
func TestRunSessionTimeZone(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"events": 1})
	b.Produce(t, "events", []kafkatest.Record{
		{Value: []byte(`{"ts":"2024-01-01T03:00:00Z"}`)},
		{Value: []byte(`{"ts":"2024-01-01T12:00:00Z"}`)},
		{Value: []byte(`{"ts":"2024-01-01 22:00:00"}`)},
		{Value: []byte(`{"ts":"2024-01-02T12:00:00Z"}`)},
	})
	for _, c := range []struct{ zone, want, console string }{
		{"America/New_York", `{"day":"2023-12-31","n":1,"last":"22:00 EST","first":"2024-01-01T03:00:00Z"}` + "\n" +
			`{"day":"2024-01-01","n":2,"last":"22:00 EST","first":"2024-01-01T12:00:00Z"}` + "\n" +
			`{"day":"2024-01-02","n":1,"last":"07:00 EST","first":"2024-01-02T12:00:00Z"}` + "\n", "|2023-12-31 22:00:00|"},
		{"UTC", `{"day":"2024-01-01","n":3,"last":"22:00 UTC","first":"2024-01-01T03:00:00Z"}` + "\n" +
			`{"day":"2024-01-02","n":1,"last":"12:00 UTC","first":"2024-01-02T12:00:00Z"}` + "\n", "|2024-01-01 03:00:00|"},
	} {
		t.Run(c.zone, func(t *testing.T) {
			dir := t.TempDir()
			job := fmt.Sprintf(`name: tz
source:
  kafka:
    bootstrap.servers: %s
    subscribe: events
    startingOffsets: earliest
  format: json
  schema: "ts TIMESTAMP"
sessionTimeZone: %s
trigger:
  availableNow: true
query: >
  SELECT date_format(ts, 'yyyy-MM-dd') AS day, count(*) AS n,
         date_format(max(ts), 'HH:mm z') AS last, min(ts) AS first
  FROM events GROUP BY date_format(ts, 'yyyy-MM-dd') ORDER BY day
sink:
  console: {}
checkpointLocation: ckpt
`, b.Addr, c.zone)
			path := filepath.Join(dir, "job.yaml")
			if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
				t.Fatal(err)
			}
			r := cli(t, "run", "--progress", filepath.Join(dir, "progress.jsonl"), path)
			if r.code != 0 {
				t.Fatalf("run: exit %d, stderr:\n%s", r.code, r.stderr)
			}
			st := cli(t, "state", "--format", "jsonl", path)
			if st.code != 0 {
				t.Fatalf("state: exit %d, stderr:\n%s", st.code, st.stderr)
			}
			// the console shows TIMESTAMPs on the zone's wall clock, as
			// Spark's show() does
			if !strings.Contains(r.stdout, c.console) {
				t.Errorf("console output lacks %q:\n%s", c.console, r.stdout)
			}
			if got := st.stdout; got != c.want {
				t.Errorf("result\n got %s\nwant %s\n(run stdout:\n%s)", got, c.want, r.stdout)
			}
			if c.zone == "UTC" {
				return
			}
			// Another zone regroups the days: the checkpoint's state
			// refuses it.
			if err := os.WriteFile(path, []byte(strings.Replace(job, "sessionTimeZone: "+c.zone, "sessionTimeZone: UTC", 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			r = cli(t, "run", path)
			if r.code == 0 || !strings.Contains(r.stderr, "group key 1 changed from date_format(ts TIMESTAMP AT TIME ZONE 'America/New_York', 'yyyy-MM-dd') AT TIME ZONE 'America/New_York' to date_format(ts TIMESTAMP, 'yyyy-MM-dd')") {
				t.Fatalf("changed zone: exit %d, stderr:\n%s", r.code, r.stderr)
			}
		})
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/internal/pgtest"
)

// pgJob writes a job file reading clicks from b into sink.postgres with
// url (as written: ${PGURL} stays for run to expand) and returns its path.
func pgJob(t *testing.T, b *kafkatest.Broker, url string) string {
	t.Helper()
	dir := t.TempDir()
	job := fmt.Sprintf(`name: pv
source:
  kafka:
    bootstrap.servers: %s
    subscribe: clicks
    startingOffsets: earliest
  format: json
  schema: "page STRING"
trigger:
  availableNow: true
query: SELECT page, count(*) AS views FROM events GROUP BY page
outputMode: update
sink:
  postgres:
    url: %s
    table: page_views
checkpointLocation: %s
`, b.Addr, url, filepath.Join(dir, "ckpt"))
	path := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// run with sink.postgres and url: ${PGURL}: the table is created and holds
// the counts; the progress row names the job.
func TestRunPostgresSink(t *testing.T) {
	url := pgtest.DB(t)
	b := kafkatest.Start(t, map[string]int32{"clicks": 1})
	b.Produce(t, "clicks", []kafkatest.Record{
		{Value: []byte(`{"page":"a"}`)}, {Value: []byte(`{"page":"b"}`)}, {Value: []byte(`{"page":"a"}`)},
	})
	t.Setenv("PGURL", url)
	r := cli(t, "run", pgJob(t, b, "${PGURL}"))
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("run: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT page || '=' || views FROM page_views UNION ALL SELECT job || ' ' || sink || ' ' || batch_id FROM microbatch_progress")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if want := "[a=2 b=1 pv page_views 0]"; fmt.Sprint(got) != want {
		t.Fatalf("tables = %v, want %s", got, want)
	}
}

// validate refuses an unknown sslmode at its line, without the password;
// run with a wrong password fails naming the user and host, not the
// password.
func TestPostgresSinkJobErrors(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 1})
	path := pgJob(t, b, "postgres://u:pw-secret@127.0.0.1/db?sslmode=maybe")
	r := cli(t, "validate", path)
	want := path + ":15: sink.postgres.url: cannot parse `postgres://u:xxxxx@127.0.0.1/db?sslmode=maybe`: failed to configure TLS (sslmode is invalid)\n"
	if r.code != 2 || r.stderr != want {
		t.Fatalf("validate: exit %d, stderr:\n%s\nwant exit 2 and\n%s", r.code, r.stderr, want)
	}

	srv := pgtest.Start(t)
	path = pgJob(t, b, fmt.Sprintf("postgres://%s:pw-secret@127.0.0.1:%d/postgres?sslmode=disable", pgtest.User, srv.Port))
	r = cli(t, "run", path)
	if r.code == 0 || strings.Contains(r.stderr, "pw-secret") ||
		!strings.Contains(r.stderr, fmt.Sprintf(`connect to 127.0.0.1:%d as user "microbatch"`, srv.Port)) ||
		!strings.Contains(r.stderr, "password authentication failed") {
		t.Fatalf("run with a wrong password: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

package jobfile_test

import (
	"strings"
	"testing"

	"github.com/microbatch/microbatch/internal/jobfile"
)

func TestPostgresSink(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want jobfile.PostgresSink
	}{
		{"sink:\n  postgres:\n    url: postgres://u@h/db?sslmode=disable\n    table: funnel\n",
			jobfile.PostgresSink{URL: "postgres://u@h/db?sslmode=disable", Table: "funnel", CreateTable: true}},
		{"sink:\n  postgres: {url: '${PGURL}', table: analytics.funnel, createTable: false}\n",
			jobfile.PostgresSink{URL: "postgres://mb:pw@db:5432/analytics", Table: "analytics.funnel"}},
	} {
		j, err := parseEnv(t, minimal+c.yaml, map[string]string{"PGURL": "postgres://mb:pw@db:5432/analytics"})
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		if j.Sink.Postgres == nil || *j.Sink.Postgres != c.want || j.Sink.Console != nil {
			t.Errorf("%q: %+v, want %+v", c.yaml, j.Sink.Postgres, c.want)
		}
	}
}

func TestPostgresSinkErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"sink:\n  postgres: {table: t}\n", "job.yaml:10: sink.postgres.url: required key is missing"},
		{"sink:\n  postgres: {url: 'postgres://u:pw@h/db?sslmode=often', table: t}\n",
			"job.yaml:10: sink.postgres.url: cannot parse `postgres://u:xxxxx@h/db?sslmode=often`: failed to configure TLS (sslmode is invalid)"},
		{"sink:\n  postgres: {url: 'postgres://h:99999/db', table: t}\n", "job.yaml:10: sink.postgres.url: cannot parse `postgres://h:99999/db`: invalid port"},
		{"sink:\n  postgres: {url: '${PGURL}', table: t}\n", "job.yaml:10: sink.postgres.url: environment variable PGURL is not set (write ${PGURL:default} to give a default)"},
		{"sink:\n  postgres: {url: 'postgres://h/db', table: a.b.c}\n", `job.yaml:10: sink.postgres.table: "a.b.c": want name or schema.name`},
		{"sink:\n  postgres: {url: 'postgres://h/db', table: t, createTable: maybe}\n", `job.yaml:10: sink.postgres.createTable: expected true or false, got "maybe"`},
	} {
		_, err := parseEnv(t, minimal+c.yaml, nil)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v\nwant %s", c.yaml, err, c.want)
		}
	}
}

func parseEnv(t *testing.T, src string, env map[string]string) (*jobfile.Job, error) {
	t.Helper()
	return jobfile.Parse("job.yaml", []byte(src), jobfile.Options{
		Dir: "/jobs",
		Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
}

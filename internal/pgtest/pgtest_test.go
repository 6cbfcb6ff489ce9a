package pgtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/microbatch/microbatch/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// A database of its own answers a query, and again after a restart of the
// server, with its data kept.
func TestDBSurvivesRestart(t *testing.T) {
	u := pgtest.DB(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE t (n bigint); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	pgtest.Start(t).Restart(t)
	c, err = pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, "SELECT n FROM t").Scan(&n); err != nil || n != 42 {
		t.Fatalf("n = %d, %v; want 42", n, err)
	}
}

// CPU counts a live backend's work: a query of about half a second's CPU
// moves it by well over a tenth of a second.
func TestCPUCountsBackends(t *testing.T) {
	u := pgtest.DB(t)
	s := pgtest.Start(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	before, err := s.CPU()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	if err := c.QueryRow(ctx, "SELECT sum(x) FROM generate_series(1, 5000000) x").Scan(&sum); err != nil || sum != 12500002500000 {
		t.Fatalf("sum = %d, %v", sum, err)
	}
	after, err := s.CPU()
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 100*time.Millisecond {
		t.Fatalf("CPU moved by %s over a 5M-row sum; want >= 100ms", d)
	}
}

package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/internal/pgtest"
	"github.com/microbatch/microbatch/sinks"
	"github.com/microbatch/microbatch/sql"
)

// The crash test's child process runs the query with the Kafka sink and
// kills itself with SIGKILL at a point of batch envKillBatch's lifecycle.
const (
	envChild     = "SINKS_CRASH_CHILD"
	envAddr      = "SINKS_CRASH_ADDR"
	envDir       = "SINKS_CRASH_DIR"
	envKillAt    = "SINKS_CRASH_AT" // before-kafka-commit | after-kafka-commit | after-bbolt-commit
	envKillBatch = "SINKS_CRASH_BATCH"
	envKind      = "SINKS_CRASH_KIND" // "" (append) | deadletter-own | deadletter-shared | update | pg | files
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		run := map[string]func() error{"": crashChild, "deadletter-own": deadLetterChild, "deadletter-shared": deadLetterChild, "update": updateChild, "pg": pgCrashChild, "files": filesCrashChild}[os.Getenv(envKind)]
		if run == nil {
			fmt.Fprintln(os.Stderr, "unknown", envKind, os.Getenv(envKind))
			os.Exit(3)
		}
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(pgtest.Run(m))
}

// killAround kills the process after sink's AddBatch of one batch (its
// Kafka transaction is committed, bbolt's commit has not begun) or in
// Committed (bbolt's commit is durable), at at ("after-kafka-commit",
// "after-bbolt-commit"); it passes Open, Committed and Close on.
type killAround struct {
	engine.Sink
	at    string
	batch int64
}

func (s killAround) Open(ctx context.Context, lastCommitted int64) error {
	if o, ok := s.Sink.(engine.SinkOpener); ok {
		return o.Open(ctx, lastCommitted)
	}
	return nil
}

func (s killAround) AddBatch(ctx context.Context, out *engine.Output) error {
	if err := s.Sink.AddBatch(ctx, out); err != nil {
		return err
	}
	if (s.at == "after-kafka-commit" || s.at == "after-pg-commit") && out.BatchID == s.batch {
		killSelf(0)
	}
	return nil
}

func (s killAround) Committed(ctx context.Context, id int64) error {
	if s.at == "after-bbolt-commit" && id == s.batch {
		killSelf(0)
	}
	if c, ok := s.Sink.(engine.SinkCommitter); ok {
		return c.Committed(ctx, id)
	}
	return nil
}

func (s killAround) Close() error {
	if c, ok := s.Sink.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// killBeforeCommit makes k kill the process before batch's Kafka commit,
// its records produced.
func killBeforeCommit(k *sinks.Kafka, batch int64) {
	sinks.SetBeforeCommit(k, func(id int64) {
		if id == batch {
			killSelf(100 * time.Millisecond) // let the records reach the broker
		}
	})
}

// killSelf sends the process SIGKILL after wait (letting produced records
// reach the broker) and never returns.
func killSelf(wait time.Duration) {
	time.Sleep(wait)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func crashChild() error {
	schema, err := dataframe.ParseSchema("n BIGINT")
	if err != nil {
		return err
	}
	plan, err := sql.Compile("SELECT n, n * 10 AS m FROM events WHERE n % 3 <> 1", "events", schema)
	if err != nil {
		return err
	}
	k, err := sinks.NewKafka(sinks.KafkaOptions{Props: map[string]string{"bootstrap.servers": os.Getenv(envAddr)}, Topic: "out", Job: "crash"})
	if err != nil {
		return err
	}
	batch, _ := strconv.ParseInt(os.Getenv(envKillBatch), 10, 64)
	if os.Getenv(envKillAt) == "before-kafka-commit" {
		killBeforeCommit(k, batch)
	}
	return runChildQuery(engine.Config{
		Source: engine.KafkaSource{BootstrapServers: os.Getenv(envAddr), Subscribe: []string{"in"}, StartingOffsets: "earliest", MaxRatePerPartition: 10},
		Format: dataframe.FormatJSON, Schema: schema, Query: plan, OutputMode: dataframe.Append,
		Sink: killAround{k, os.Getenv(envKillAt), batch},
	})
}

// runChildQuery runs cfg as the query "crash", availableNow, checkpointed
// in envDir, for a minute at most.
func runChildQuery(cfg engine.Config) error {
	cfg.Name, cfg.Trigger, cfg.CheckpointLocation = "crash", engine.Trigger{AvailableNow: true}, os.Getenv(envDir)
	q, err := engine.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return q.Run(ctx)
}

var errKilled = errors.New("killed")

// runCrashChild runs the crash child with env (NAME=value) added.
func runCrashChild(t *testing.T, addr, dir, at string, batch int64, env ...string) error {
	t.Helper()
	return runChildKind(t, "", addr, dir, at, batch, env...)
}

// runChildKind runs the child of kind (envKind) killing itself at at in
// batch, with env (NAME=value) added; errKilled when it was.
func runChildKind(t *testing.T, kind, addr, dir, at string, batch int64, env ...string) error {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envKind+"="+kind, envAddr+"="+addr, envDir+"="+dir, envKillAt+"="+at, envKillBatch+"="+strconv.FormatInt(batch, 10))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				return errKilled
			}
		}
		return fmt.Errorf("child: %w\n%s", err, out)
	}
	return nil
}

// A process killed with SIGKILL inside batch 2's Kafka transaction (rows
// and marker produced, not committed), between its Kafka commit and its
// bbolt commit, or after its bbolt commit, and restarted: the output holds
// every row exactly once, in order.
func TestKafkaSinkCrashExactlyOnce(t *testing.T) {
	for _, at := range []string{"before-kafka-commit", "after-kafka-commit", "after-bbolt-commit"} {
		t.Run(at, func(t *testing.T) {
			b := kafkatest.Start(t, map[string]int32{"in": 1, "out": 1})
			var recs []kafkatest.Record
			var want []string
			for i := 0; i < 60; i++ {
				recs = append(recs, kafkatest.Record{Value: []byte(fmt.Sprintf(`{"n":%d}`, i))})
				if i%3 != 1 {
					want = append(want, fmt.Sprintf(`{"n":%d,"m":%d}`, i, i*10))
				}
			}
			b.Produce(t, "in", recs)
			dir := filepath.Join(t.TempDir(), "ckpt")
			if err := runCrashChild(t, b.Addr, dir, at, 2); !errors.Is(err, errKilled) {
				t.Fatalf("first run: %v, want killed", err)
			}
			if err := runCrashChild(t, b.Addr, dir, "", -1); err != nil {
				t.Fatalf("restart: %v", err)
			}
			var got []string
			for _, r := range readTopic(t, b.Addr, "out", len(want)) {
				got = append(got, strings.Split(r, "|")[1])
			}
			if at == "before-kafka-commit" {
				// The killed transaction's rows are in the log, aborted.
				if n := len(readTopicAt(t, b.Addr, "out", len(want)+1, kgo.ReadUncommitted())); n <= len(want) {
					t.Fatalf("read_uncommitted sees %d records, want more than the %d committed", n, len(want))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("out (%d records) =\n%s\nwant (%d)\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
			}
		})
	}
}

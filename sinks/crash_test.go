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
	envSink      = "SINKS_CRASH_SINK" // "files": filesCrashChild; else the Kafka sink
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		if err := crashChild(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// killingSink kills the process after the Kafka sink's AddBatch (the
// Kafka transaction is committed, bbolt's commit has not begun) or in
// Committed (bbolt's commit is durable) of one batch.
type killingSink struct {
	*sinks.Kafka
	at    string
	batch int64
}

func (s killingSink) AddBatch(ctx context.Context, out *engine.Output) error {
	if err := s.Kafka.AddBatch(ctx, out); err != nil {
		return err
	}
	if s.at == "after-kafka-commit" && out.BatchID == s.batch {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return nil
}

func (s killingSink) Committed(ctx context.Context, id int64) error {
	if s.at == "after-bbolt-commit" && id == s.batch {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return s.Kafka.Committed(ctx, id)
}

func crashChild() error {
	if os.Getenv(envSink) == "files" {
		return filesCrashChild()
	}
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
		sinks.SetBeforeCommit(k, func(id int64) {
			if id == batch {
				time.Sleep(100 * time.Millisecond) // let the records reach the broker
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		})
	}
	q, err := engine.New(engine.Config{
		Name:   "crash",
		Source: engine.KafkaSource{BootstrapServers: os.Getenv(envAddr), Subscribe: []string{"in"}, StartingOffsets: "earliest", MaxRatePerPartition: 10},
		Format: dataframe.FormatJSON, Schema: schema, Query: plan, OutputMode: dataframe.Append,
		Trigger: engine.Trigger{AvailableNow: true}, Sink: killingSink{k, os.Getenv(envKillAt), batch},
		CheckpointLocation: os.Getenv(envDir),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return q.Run(ctx)
}

var errKilled = errors.New("killed")

func runCrashChild(t *testing.T, addr, dir, at string, batch int64) error {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envAddr+"="+addr, envDir+"="+dir, envKillAt+"="+at, envKillBatch+"="+strconv.FormatInt(batch, 10))
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

package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/sinks"
	"github.com/microbatch/microbatch/sql"
)

const envFilesOut = "SINKS_CRASH_OUT" // the file sink's directory

func kill() {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// killingFiles kills the process after the file sink's AddBatch of one
// batch (its files in place, bbolt's commit not begun) or in Committed
// (bbolt's commit durable).
type killingFiles struct {
	*sinks.Files
	at    string
	batch int64
}

func (s killingFiles) AddBatch(ctx context.Context, out *engine.Output) error {
	if err := s.Files.AddBatch(ctx, out); err != nil {
		return err
	}
	if s.at == "after-sink" && out.BatchID == s.batch {
		kill()
	}
	return nil
}

func (s killingFiles) Committed(ctx context.Context, id int64) error {
	if s.at == "after-bbolt-commit" && id == s.batch {
		kill()
	}
	return s.Files.Committed(ctx, id)
}

// filesCrashChild runs n, n*10 AS m, n%4 AS k of the rows with n%3 <> 1
// into Parquet files partitioned by k, at most 2 rows a file, and kills
// itself at envKillAt of batch envKillBatch.
func filesCrashChild() error {
	schema, err := dataframe.ParseSchema("n BIGINT")
	if err != nil {
		return err
	}
	plan, err := sql.Compile("SELECT n, n * 10 AS m, n % 4 AS k FROM events WHERE n % 3 <> 1", "events", schema)
	if err != nil {
		return err
	}
	f, err := sinks.NewFiles(sinks.FilesOptions{Path: os.Getenv(envFilesOut), PartitionBy: []string{"k"}, MaxRecordsPerFile: 2})
	if err != nil {
		return err
	}
	at := os.Getenv(envKillAt)
	batch, _ := strconv.ParseInt(os.Getenv(envKillBatch), 10, 64)
	sinks.SetFilesHook(f, func(point string, id int64) {
		if point == at && id == batch {
			kill()
		}
	})
	q, err := engine.New(engine.Config{
		Name:   "crash",
		Source: engine.KafkaSource{BootstrapServers: os.Getenv(envAddr), Subscribe: []string{"in"}, StartingOffsets: "earliest", MaxRatePerPartition: 10},
		Format: dataframe.FormatJSON, Schema: schema, Query: plan, OutputMode: dataframe.Append,
		Trigger: engine.Trigger{AvailableNow: true}, Sink: killingFiles{f, at, batch},
		CheckpointLocation: os.Getenv(envDir),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return q.Run(ctx)
}

type nm struct {
	N int64 `parquet:"n"`
	M int64 `parquet:"m"`
}

// readParquetDir reads every Parquet file a Hive-style reader sees under
// dir with parquet-go, as "n,m,k" rows (k from the k=V directory), sorted.
func readParquetDir(t *testing.T, dir string) []string {
	t.Helper()
	var rows []string
	for _, f := range listFiles(t, dir) {
		k, ok := strings.CutPrefix(filepath.Dir(f), "k=")
		if !ok || !strings.HasSuffix(f, ".parquet") {
			t.Fatalf("%s: not k=V/*.parquet", f)
		}
		got, err := parquet.ReadFile[nm](filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(got) == 0 || len(got) > 2 {
			t.Fatalf("%s holds %d rows, want 1 or 2 (maxRecordsPerFile 2)", f, len(got))
		}
		for _, r := range got {
			rows = append(rows, fmt.Sprintf("%d,%d,%s", r.N, r.M, k))
		}
	}
	slices.Sort(rows)
	return rows
}

// A process killed with SIGKILL at each step of the file sink's protocol
// in batch 2 (mid-file, every file staged before the commit log, between
// two renames after the commit log, after all renames before bbolt's
// commit, after bbolt's commit) and restarted: right after the kill a
// reader sees no row twice and none that should not be there; after the
// restart it sees every row exactly once, each in its partition, read
// with parquet-go; no file in place before the restart was written again,
// and nothing is left in staging.
func TestFilesSinkCrashExactlyOnce(t *testing.T) {
	for _, at := range []string{"mid-file", "before-log", "mid-rename", "after-sink", "after-bbolt-commit"} {
		t.Run(at, func(t *testing.T) {
			b := kafkatest.Start(t, map[string]int32{"in": 1})
			var recs []kafkatest.Record
			var want []string
			for i := 0; i < 60; i++ {
				recs = append(recs, kafkatest.Record{Value: []byte(fmt.Sprintf(`{"n":%d}`, i))})
				if i%3 != 1 {
					want = append(want, fmt.Sprintf("%d,%d,%d", i, i*10, i%4))
				}
			}
			slices.Sort(want)
			b.Produce(t, "in", recs)
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			t.Setenv(envFilesOut, out)
			if err := runChildKind(t, "files", b.Addr, filepath.Join(dir, "ckpt"), at, 2); !errors.Is(err, errKilled) {
				t.Fatalf("first run: %v, want killed", err)
			}
			seen := readParquetDir(t, out)
			if len(seen) == 0 || len(seen) >= len(want) || len(slices.Compact(slices.Clone(seen))) != len(seen) {
				t.Fatalf("after the kill a reader sees %d rows (%d distinct), want some of the %d, none twice", len(seen), len(slices.Compact(slices.Clone(seen))), len(want))
			}
			for _, r := range seen {
				if _, ok := slices.BinarySearch(want, r); !ok {
					t.Fatalf("after the kill a reader sees row %s, not in the output", r)
				}
			}
			before := map[string]os.FileInfo{}
			for _, f := range listFiles(t, out) {
				before[f], _ = os.Stat(filepath.Join(out, f))
			}
			if err := runChildKind(t, "files", b.Addr, filepath.Join(dir, "ckpt"), "", -1); err != nil {
				t.Fatalf("restart: %v", err)
			}
			if got := readParquetDir(t, out); !slices.Equal(got, want) {
				t.Fatalf("rows (%d) =\n%s\nwant (%d)\n%s", len(got), strings.Join(got, " "), len(want), strings.Join(want, " "))
			}
			for f, fi := range before {
				if now, err := os.Stat(filepath.Join(out, f)); err != nil || !os.SameFile(fi, now) {
					t.Errorf("%s, in place after the kill, was written again by the restart (%v)", f, err)
				}
			}
			if ents, err := os.ReadDir(filepath.Join(out, "_microbatch", "staging")); err != nil || len(ents) != 0 {
				t.Fatalf("staging after the restart: %d entries, %v", len(ents), err)
			}
		})
	}
}

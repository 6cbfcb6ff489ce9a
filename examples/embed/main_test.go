package main

import (
	"context"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/internal/gen"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/internal/kafkatest"
)

// produceClicks writes the first n records of the clickstream generator
// with seed 1 to topic, partitioned as `microbatch produce --generator
// clickstream --seed 1 --count n` does (by key, Java's murmur2). skip
// records of the sequence are generated first and not written, so two
// calls can write one sequence in two parts.
func produceClicks(t *testing.T, addr, topic string, skip, n int) {
	t.Helper()
	g, err := gen.New("clickstream", 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(kafka.Props{"bootstrap.servers": addr, "partitioner": "murmur2_random"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var r gen.Record
	for i := 0; i < skip+n; i++ {
		g.Next(&r)
		if i < skip {
			continue
		}
		if err := p.Produce(ctx, topic, kafka.AnyPartition, r.Key, r.Value); err != nil {
			p.Close(ctx)
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil { // waits for every delivery
		t.Fatal(err)
	}
}

// The program's output is deterministic: the generator's seed fixes the
// records, their keys fix the partitions, and maxRatePerPartition fixes the
// batches. README.md shows this output.
func TestRun(t *testing.T) {
	b := kafkatest.Start(t, map[string]int32{"clicks": 2})
	produceClicks(t, b.Addr, "clicks", 0, 10000)

	o := options{brokers: b.Addr, topic: "clicks", checkpoint: t.TempDir(), logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, o, &out); err != nil {
		t.Fatal(err)
	}
	want := `batch 0: read 4000 records
  /products/1    317
  /              265
  /cart          234
batch 1: read 4000 records
  /products/1    604
  /              571
  /cart          487
batch 2: read 2000 records
  /products/1    744
  /              714
  /cart          602
`
	if got := out.String(); got != want {
		t.Fatalf("first run:\n%s\nwant:\n%s", got, want)
	}

	// A second run with the same checkpoint reads only what was written
	// since, and its counts continue from the first run's.
	produceClicks(t, b.Addr, "clicks", 10000, 1000)
	out.Reset()
	if err := run(ctx, o, &out); err != nil {
		t.Fatal(err)
	}
	want = `batch 3: read 1000 records
  /products/1    814
  /              780
  /cart          658
`
	if got := out.String(); got != want {
		t.Fatalf("resumed run:\n%s\nwant:\n%s", got, want)
	}

	// Without -checkpoint a run uses a temporary directory, which it
	// removes: every run starts over from the earliest offsets.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	o.checkpoint = ""
	out.Reset()
	if err := run(ctx, o, &out); err != nil {
		t.Fatal(err)
	}
	want = `batch 0: read 4000 records
  /products/1    317
  /              265
  /cart          234
batch 1: read 4000 records
  /products/1    604
  /              571
  /cart          487
batch 2: read 3000 records
  /products/1    814
  /              780
  /cart          658
`
	if got := out.String(); got != want {
		t.Fatalf("run with a temporary checkpoint:\n%s\nwant:\n%s", got, want)
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Fatalf("temporary checkpoint left behind in %s: %v %v", tmp, left, err)
	}
}

// The program is what an embedder outside this module can write: of this
// module's packages it imports engine, dataframe and sql only (Go refuses
// internal packages to other modules).
func TestImportsOnlyPublicPackages(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/microbatch/microbatch/"
	allowed := map[string]bool{module + "engine": true, module + "dataframe": true, module + "sql": true}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if strings.HasPrefix(path, module) && !allowed[path] {
			t.Errorf("main.go imports %s; an embedder has engine, dataframe and sql", path)
		}
	}
}

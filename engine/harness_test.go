package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/offsets"
)

// clickPages are the pages of the test clickstream; page i is viewed with
// a frequency that depends on i so counts differ per key.
var clickPages = []string{"/home", "/cart", "/p/1", "/p/2", "/p/3", "/checkout", "/search"}

// clicks returns n clickstream JSON records spread over partitions, and
// the number of "view" actions per page among them, computed from the
// generating loop (not by decoding the JSON).
func clicks(n, partitions, seed int) ([]kafkatest.Record, map[string]int64) {
	recs := make([]kafkatest.Record, 0, n)
	views := map[string]int64{}
	for i := 0; i < n; i++ {
		k := i + seed
		page := clickPages[(k*k+3*k)%len(clickPages)]
		action := "view"
		if k%3 == 0 {
			action = "click"
		} else {
			views[page]++
		}
		v := fmt.Sprintf(`{"timestamp":"2024-01-01T00:%02d:%02dZ","userid":"u%d","page":%q,"action":%q}`, (k/60)%60, k%60, k%97, page, action)
		recs = append(recs, kafkatest.Record{Partition: int32(i % partitions), Value: []byte(v)})
	}
	return recs, views
}

func addCounts(dst, src map[string]int64) {
	for k, v := range src {
		dst[k] += v
	}
}

const clickSchema = "timestamp TIMESTAMP, userid STRING, page STRING, action STRING"

// pageViews is the canonical test query: views per page.
func pageViews(t testing.TB) (*dataframe.Schema, *dataframe.DataFrame) {
	t.Helper()
	schema, df, err := pageViewsPlan()
	if err != nil {
		t.Fatal(err)
	}
	return schema, df
}

func pageViewsPlan() (*dataframe.Schema, *dataframe.DataFrame, error) {
	schema, err := dataframe.ParseSchema(clickSchema)
	if err != nil {
		return nil, nil, err
	}
	df := dataframe.Source("events", schema).
		Filter(dataframe.Col("action").Eq(dataframe.Lit("view"))).
		GroupBy(dataframe.Col("page")).
		Agg(dataframe.Count().As("views"))
	return schema, df, df.Err()
}

// collector is a sink that keeps a copy of every batch's rows as strings.
type collector struct {
	mu      sync.Mutex // guards batches
	batches []collected
}

type collected struct {
	id   int64
	rows [][]string
}

func (c *collector) AddBatch(_ context.Context, out *Output) error {
	var rows [][]string
	for _, rec := range out.Records {
		rows = append(rows, recordRows(rec)...)
	}
	c.mu.Lock()
	c.batches = append(c.batches, collected{out.BatchID, rows})
	c.mu.Unlock()
	return nil
}

func (c *collector) all() []collected {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]collected(nil), c.batches...)
}

func (c *collector) last(t testing.TB) collected {
	t.Helper()
	b := c.all()
	if len(b) == 0 {
		t.Fatal("no batch was emitted")
	}
	return b[len(b)-1]
}

// recordRows renders each row of rec as strings (ValueStr, "null").
func recordRows(rec arrow.Record) [][]string {
	rows := make([][]string, rec.NumRows())
	for r := range rows {
		row := make([]string, rec.NumCols())
		for c := range row {
			col := rec.Column(c)
			if col.IsNull(r) {
				row[c] = "null"
			} else {
				row[c] = col.ValueStr(r)
			}
		}
		rows[r] = row
	}
	return rows
}

// countsOf turns (key, count) rows into a map.
func countsOf(t testing.TB, rows [][]string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range rows {
		var n int64
		if _, err := fmt.Sscan(r[1], &n); err != nil {
			t.Fatalf("row %v: %v", r, err)
		}
		if _, dup := out[r[0]]; dup {
			t.Fatalf("key %q appears twice in one result", r[0])
		}
		out[r[0]] = n
	}
	return out
}

func sameCounts(t testing.TB, got, want map[string]int64) {
	t.Helper()
	if fmt.Sprint(sortedCounts(got)) != fmt.Sprint(sortedCounts(want)) {
		t.Fatalf("counts differ\n got: %v\nwant: %v", sortedCounts(got), sortedCounts(want))
	}
}

func sortedCounts(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return out
}

// testConfig is a query over topic with the page-views plan, an
// availableNow trigger and a collector sink.
func testConfig(t testing.TB, addr, topic, dir string, sink Sink) Config {
	schema, df := pageViews(t)
	return baseConfig(schema, df, addr, topic, dir, sink)
}

func baseConfig(schema *dataframe.Schema, df *dataframe.DataFrame, addr, topic, dir string, sink Sink) Config {
	return Config{
		Name: "test",
		Source: KafkaSource{
			BootstrapServers: addr,
			Subscribe:        []string{topic},
			StartingOffsets:  "earliest",
		},
		Format:             dataframe.FormatJSON,
		Schema:             schema,
		Query:              df,
		Trigger:            Trigger{AvailableNow: true},
		Sink:               sink,
		CheckpointLocation: dir,
		Executors:          2,
		NoSync:             true,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// checkedAlloc returns an allocator that fails the test if anything
// allocated through it is still live when the test ends.
func checkedAlloc(t *testing.T) memory.Allocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func runQuery(t testing.TB, cfg Config) *Query {
	t.Helper()
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := q.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return q
}

// checkContiguous asserts that the committed batches of the checkpoint
// read every partition from 0 (or its first from) up to ends without a gap
// or an overlap.
func checkContiguous(t testing.TB, q *Query, ends map[offsets.TopicPartition]int64) {
	t.Helper()
	infos, err := q.Batches()
	if err != nil {
		t.Fatal(err)
	}
	pos := map[offsets.TopicPartition]int64{}
	for i, b := range infos {
		if b.Plan.ID != int64(i) && i == 0 && b.Plan.ID != 0 {
			t.Fatalf("first batch id %d, want 0", b.Plan.ID)
		}
		if !b.Committed {
			t.Fatalf("batch %d planned but not committed after a clean run", b.Plan.ID)
		}
		for _, r := range b.Plan.Ranges {
			tp := r.TopicPartition()
			if r.From != pos[tp] {
				t.Fatalf("batch %d %v starts at %d, previous batches ended at %d", b.Plan.ID, r, r.From, pos[tp])
			}
			pos[tp] = r.Until
		}
	}
	var probs []string
	for tp, end := range ends {
		if pos[tp] != end {
			probs = append(probs, fmt.Sprintf("%s read up to %d, log end %d", tp, pos[tp], end))
		}
	}
	if len(probs) > 0 {
		sort.Strings(probs)
		t.Fatal(strings.Join(probs, "; "))
	}
}

// warnLogger logs warnings and errors to w without their time, for tests
// that compare log lines.
func warnLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// clickTopic starts a broker with a topic "clicks" of partitions
// partitions holding n generated clicks (clicks(n, partitions, 0)), and
// returns it with the views per page.
func clickTopic(t *testing.T, partitions, n int) (*kafkatest.Broker, map[string]int64) {
	t.Helper()
	b := kafkatest.Start(t, map[string]int32{"clicks": int32(partitions)})
	recs, want := clicks(n, partitions, 0)
	b.Produce(t, "clicks", recs)
	return b, want
}

// runFor makes cfg's query into *q, which cfg's hooks may use (to stop
// it), and runs it for at most a minute, failing the test on an error.
func runFor(t *testing.T, cfg Config, q **Query) {
	t.Helper()
	var err error
	if *q, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := (*q).Run(ctx); err != nil {
		t.Fatal(err)
	}
}

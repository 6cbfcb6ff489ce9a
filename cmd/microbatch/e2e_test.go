package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/microbatch/microbatch/dataframe"
)

// End-to-end tests: `microbatch broker`, `produce`, `run`, `state` and
// `offsets` as a user runs them, checked against results computed here
// from the records themselves.

// jobSpec is a job file written by a test.
type jobSpec struct {
	brokers    string // bootstrap.servers
	topic      string
	maxRate    int64  // maxRatePerPartition
	extra      string // lines after source.kafka's keys: indent 4 for more kafka keys, 2 for source keys
	format     string
	schema     string
	trigger    string // the line under trigger:, e.g. "availableNow: true"
	query      string
	outputMode string // "" leaves the key out
	sink       string // the lines under sink:, indented 2; "" for the console
	checkpoint string
}

// write writes the job to dir/job.yaml and returns the path. The query
// starts on line 13 when extra is empty.
func (j jobSpec) write(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: e2e\nsource:\n  kafka:\n    bootstrap.servers: %s\n    subscribe: %s\n    startingOffsets: earliest\n    maxRatePerPartition: %d\n",
		j.brokers, j.topic, j.maxRate)
	b.WriteString(j.extra)
	fmt.Fprintf(&b, "  format: %s\n  schema: %q\ntrigger:\n  %s\nquery: |\n", j.format, j.schema, j.trigger)
	for _, l := range strings.Split(strings.TrimSuffix(j.query, "\n"), "\n") {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	if j.outputMode != "" {
		fmt.Fprintf(&b, "outputMode: %s\n", j.outputMode)
	}
	sink := j.sink
	if sink == "" {
		sink = "  console:\n    numRows: 5\n"
	}
	fmt.Fprintf(&b, "sink:\n%scheckpointLocation: %s\n", sink, j.checkpoint)
	path := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const clickSchema = "timestamp TIMESTAMP, userid STRING, page STRING, action STRING"

const pageViewsSQL = `SELECT page, count(*) AS views
FROM events
WHERE action = 'view'
GROUP BY page
ORDER BY views DESC, page`

// pageViews is pageViewsSQL's result over clickstream records, as
// `state --format jsonl` and `--format csv` print it.
func pageViews(t *testing.T, values []string) (jsonl, csvText string) {
	t.Helper()
	views := map[string]int64{}
	for _, v := range values {
		var ev struct{ Page, Action string }
		if err := json.Unmarshal([]byte(v), &ev); err != nil {
			t.Fatalf("record %s: %v", v, err)
		}
		if ev.Action == "view" {
			views[ev.Page]++
		}
	}
	pages := make([]string, 0, len(views))
	for p := range views {
		pages = append(pages, p)
	}
	sort.Slice(pages, func(i, j int) bool {
		a, b := pages[i], pages[j]
		return views[a] > views[b] || views[a] == views[b] && a < b
	})
	var jl strings.Builder
	rows := [][]string{{"page", "views"}}
	for _, p := range pages {
		name, _ := json.Marshal(p)
		fmt.Fprintf(&jl, "{\"page\":%s,\"views\":%d}\n", name, views[p])
		rows = append(rows, []string{p, strconv.FormatInt(views[p], 10)})
	}
	return jl.String(), csvOf(t, rows)
}

const ecommerceSchema = "event_time TIMESTAMP, event_type STRING, product_id BIGINT, category_id BIGINT, category_code STRING, brand STRING, price DOUBLE, user_id BIGINT, user_session STRING"

const brandFunnelSQL = `SELECT brand,
       sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END) AS views,
       sum(CASE WHEN event_type = 'cart' THEN 1 ELSE 0 END) AS carts,
       sum(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) AS purchases,
       sum(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) * 1.0
         / sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END) AS conversion
FROM events
WHERE brand IS NOT NULL
GROUP BY brand
ORDER BY purchases DESC, brand`

// brandFunnel is brandFunnelSQL's result over e-commerce CSV records. An
// unquoted empty CSV field is NULL, so products without a brand drop out.
func brandFunnel(t *testing.T, values []string) (jsonl, csvText string) {
	t.Helper()
	type funnel struct{ views, carts, purchases int64 }
	byBrand := map[string]*funnel{}
	for _, v := range values {
		f, err := csv.NewReader(strings.NewReader(v)).Read()
		if err != nil || len(f) != 9 {
			t.Fatalf("record %q: %d fields, %v", v, len(f), err)
		}
		brand, event := f[5], f[1]
		if brand == "" {
			continue
		}
		b := byBrand[brand]
		if b == nil {
			b = &funnel{}
			byBrand[brand] = b
		}
		switch event {
		case "view":
			b.views++
		case "cart":
			b.carts++
		case "purchase":
			b.purchases++
		default:
			t.Fatalf("record %q: event_type %q", v, event)
		}
	}
	brands := make([]string, 0, len(byBrand))
	for b := range byBrand {
		brands = append(brands, b)
	}
	sort.Slice(brands, func(i, j int) bool {
		a, b := byBrand[brands[i]], byBrand[brands[j]]
		return a.purchases > b.purchases || a.purchases == b.purchases && brands[i] < brands[j]
	})
	var jl strings.Builder
	rows := [][]string{{"brand", "views", "carts", "purchases", "conversion"}}
	for _, name := range brands {
		b := byBrand[name]
		if b.views == 0 {
			t.Fatalf("brand %s has no views; the reference does not model division by zero", name)
		}
		x := float64(b.purchases) * 1.0 / float64(b.views)
		conv := strconv.FormatFloat(x, 'g', -1, 64)
		fmt.Fprintf(&jl, "{\"brand\":%q,\"views\":%d,\"carts\":%d,\"purchases\":%d,\"conversion\":%s}\n", name, b.views, b.carts, b.purchases, conv)
		// CSV writes doubles as Spark's CSV writer does: 0.0, 9.0E-4.
		rows = append(rows, []string{name, fmt.Sprint(b.views), fmt.Sprint(b.carts), fmt.Sprint(b.purchases), dataframe.FormatDouble(x)})
	}
	return jl.String(), csvOf(t, rows)
}

func csvOf(t *testing.T, rows [][]string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// mustCLI runs the binary and returns its stdout; it fails the test unless
// the command exits 0 with nothing on stderr.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	r := cli(t, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("%v: exit %d, stderr:\n%s", args, r.code, r.stderr)
	}
	return r.stdout
}

// produceRecords writes count generated records to topic (created with 4
// partitions if missing).
func produceRecords(t *testing.T, addr, topic, generator string, count, seed int) {
	t.Helper()
	mustCLI(t, "produce", "--brokers", addr, "--topic", topic, "--generator", generator,
		"--count", fmt.Sprint(count), "--seed", fmt.Sprint(seed), "--partitions", "4")
}

// topicValues reads the whole topic (want records) and returns its values
// per partition, in offset order.
func topicValues(t *testing.T, addr, topic string, want int) [][]string {
	t.Helper()
	out := make([][]string, 4)
	for p, rs := range consume(t, addr, topic, want) {
		for _, r := range rs {
			out[p] = append(out[p], r.value)
		}
	}
	return out
}

// prefixes returns the values below each partition's offset in until.
func prefixes(parts [][]string, until []int64) []string {
	var out []string
	for p, vs := range parts {
		out = append(out, vs[:until[p]]...)
	}
	return out
}

// availableNowBatches returns how many batches an availableNow run plans,
// the lines `offsets --format jsonl` prints for them and a pattern of what
// `run` prints on stderr. Every partition advances from `from` to `ends` by
// at most maxRate records per batch (maxRatePerPartition times the 1 s rate
// interval); a partition with nothing left has no range. from is updated
// to ends.
func availableNowBatches(firstID int64, topic string, from []int64, ends []int64, maxRate int64) (batches int64, offsetLines []string, progress *regexp.Regexp) {
	var re strings.Builder
	re.WriteString(`\A`)
	for id := firstID; ; id++ {
		var rows, lag int64
		n := 0
		for p := range from {
			until := min(ends[p], from[p]+maxRate)
			if until > from[p] {
				offsetLines = append(offsetLines, fmt.Sprintf(`{"batch":%d,"topic":%q,"partition":%d,"from":%d,"until":%d,"committed":true}`, id, topic, p, from[p], until))
				rows += until - from[p]
				n++
			}
			lag += ends[p] - until
			from[p] = until
		}
		if n == 0 {
			break
		}
		batches++
		fmt.Fprintf(&re, `batch %d: %d rows, \d+ rows/s, [0-9.]+[µm]?s, lag %d\n`, id, rows, lag)
	}
	re.WriteString(`\z`)
	return batches, offsetLines, regexp.MustCompile(re.String())
}

var batchHeaderRE = regexp.MustCompile(`(?m)^Batch: (\d+)$`)

// batchHeaders returns the ids of the "Batch: N" tables on a console
// sink's stdout.
func batchHeaders(stdout string) []int64 {
	var ids []int64
	for _, m := range batchHeaderRE.FindAllStringSubmatch(stdout, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
	}
	return ids
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestRunEndToEnd runs a query over generated data in capped availableNow
// batches, checks every batch line, the offset ranges and the state
// against results computed from the topic itself, then produces more and
// runs again: batch ids continue and the state accumulates exactly.
func TestRunEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		topic, generator, format, schema, query string
		want                                    func(*testing.T, []string) (string, string)
	}{
		{"clicks", "clickstream", "json", clickSchema, pageViewsSQL, pageViews},
		{"ecommerce", "ecommerce", "csv", ecommerceSchema, brandFunnelSQL, brandFunnel},
	} {
		t.Run(tc.generator, func(t *testing.T) {
			t.Parallel()
			addr, stopBroker := startBroker(t)
			dir := t.TempDir()
			const maxRate = 2000
			job := jobSpec{
				brokers: addr, topic: tc.topic, maxRate: maxRate,
				format: tc.format, schema: tc.schema,
				trigger: "availableNow: true", query: tc.query, outputMode: "complete",
				checkpoint: filepath.Join(dir, "checkpoint"),
			}.write(t, dir)

			from := make([]int64, 4)
			var wantOffsets []string
			var nextID int64
			total := 0
			for i, count := range []int{20000, 10000} {
				produceRecords(t, addr, tc.topic, tc.generator, count, 3+i)
				total += count
				parts := topicValues(t, addr, tc.topic, total)
				ends := make([]int64, 4)
				for p := range parts {
					ends[p] = int64(len(parts[p]))
				}
				firstID := nextID
				n, lines, progress := availableNowBatches(firstID, tc.topic, from, ends, maxRate)
				wantOffsets = append(wantOffsets, lines...)
				nextID = firstID + n
				if n < 2 {
					t.Fatalf("run %d plans %d batches; the test wants several", i, n)
				}

				r := cli(t, "run", job, "--ui", "off")
				if r.code != 0 || !progress.MatchString(r.stderr) {
					t.Fatalf("run %d: exit %d, stderr:\n%s\nwant exit 0 and stderr matching\n%s", i, r.code, r.stderr, progress)
				}
				if got, want := batchHeaders(r.stdout), seq(firstID, nextID); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("run %d: stdout has tables for batches %v, want %v", i, got, want)
				}
				if got, want := mustCLI(t, "offsets", job, "--format", "jsonl"), strings.Join(wantOffsets, "\n")+"\n"; got != want {
					t.Fatalf("run %d: offsets --format jsonl:\n%s\nwant:\n%s", i, got, want)
				}
				wantJSONL, wantCSV := tc.want(t, prefixes(parts, ends))
				if got := mustCLI(t, "state", job, "--format", "jsonl"); got != wantJSONL {
					t.Fatalf("run %d: state --format jsonl:\n%s\nwant:\n%s", i, got, wantJSONL)
				}
				if got := mustCLI(t, "state", job, "--format", "csv"); got != wantCSV {
					t.Fatalf("run %d: state --format csv:\n%s\nwant:\n%s", i, got, wantCSV)
				}
			}
			if code, stderr := stopBroker(os.Interrupt); code != 0 {
				t.Fatalf("broker: exit %d, %s", code, stderr)
			}
		})
	}
}

// TestRunStopsGracefullyOnSIGINT interrupts a job with a processingTime
// trigger while it works through a backlog in small batches: run exits 0,
// the batch in flight is committed (no uncommitted batch in the
// checkpoint, a progress line for every batch) and the state is exactly
// the result over the committed ranges. A second run on the same
// checkpoint meanwhile fails: the checkpoint is locked.
func TestRunStopsGracefullyOnSIGINT(t *testing.T) {
	t.Parallel()
	addr, _ := startBroker(t)
	const total = 20000
	produceRecords(t, addr, "clicks", "clickstream", total, 3)
	dir := t.TempDir()
	// 20000 records/s per partition over a 10ms interval: 200 per
	// partition per batch, about 25 batches for the whole topic. Batches
	// take longer than 10ms, so they run back to back and the signal
	// almost always arrives while one is in flight.
	job := jobSpec{
		brokers: addr, topic: "clicks", maxRate: 20000,
		format: "json", schema: clickSchema,
		trigger: "processingTime: 10ms", query: pageViewsSQL,
		checkpoint: filepath.Join(dir, "checkpoint"),
	}.write(t, dir)

	run := startProc(t, "run", job, "--log-level", "info")
	run.waitFor(true, regexp.MustCompile(`(?m)^batch 2: `))
	// The checkpoint has one writer at a time.
	second := cli(t, "run", job, "--ui", "off")
	locked := fmt.Sprintf("microbatch run: checkpoint %s is locked by process %d (another query running on the same checkpointLocation?)\n",
		filepath.Join(dir, "checkpoint", "checkpoint.db"), run.cmd.Process.Pid)
	if second.code != 1 || second.stderr != locked {
		t.Errorf("a second run on the same checkpoint: exit %d, stderr %q; want 1 and %q", second.code, second.stderr, locked)
	}
	if code := run.stop(os.Interrupt); code != 0 {
		t.Fatalf("run after SIGINT: exit %d, stderr:\n%s", code, run.stderr.String())
	}

	until := make([]int64, 4)
	var last int64 = -1
	for _, l := range strings.Split(strings.TrimSpace(mustCLI(t, "offsets", job, "--format", "jsonl")), "\n") {
		var r struct {
			Batch     int64
			Partition int
			From      int64
			Until     int64
			Committed bool
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("offsets line %q: %v", l, err)
		}
		if !r.Committed {
			t.Fatalf("batch %d is not committed after a graceful stop", r.Batch)
		}
		if r.From != until[r.Partition] || r.Until <= r.From {
			t.Fatalf("batch %d partition %d reads [%d, %d), want it to start at %d", r.Batch, r.Partition, r.From, r.Until, until[r.Partition])
		}
		until[r.Partition] = r.Until
		last = max(last, r.Batch)
	}
	progress := regexp.MustCompile(`(?m)^batch (\d+): \d+ rows, `).FindAllStringSubmatch(run.stderr.String(), -1)
	if len(progress) != int(last)+1 || progress[len(progress)-1][1] != fmt.Sprint(last) {
		t.Fatalf("the checkpoint has batches 0 to %d committed; run printed:\n%s", last, run.stderr.String())
	}
	// --log-level info: a line at start and one at the graceful stop.
	lifecycle := regexp.MustCompile(`(?m)^time=\S+ level=INFO msg="query (started|stopped)" query=\S+ next_batch=(\d+)`).FindAllStringSubmatch(run.stderr.String(), -1)
	if len(lifecycle) != 2 || lifecycle[0][1] != "started" || lifecycle[0][2] != "0" || lifecycle[1][1] != "stopped" || lifecycle[1][2] != fmt.Sprint(last+1) {
		t.Fatalf("with --log-level info, want a start line (next_batch=0) and a stop line (next_batch=%d); run printed:\n%s", last+1, run.stderr.String())
	}
	t.Logf("stopped after batch %d at offsets %v", last, until)
	want, _ := pageViews(t, prefixes(topicValues(t, addr, "clicks", total), until))
	if got := mustCLI(t, "state", job, "--format", "jsonl"); got != want {
		t.Fatalf("state:\n%s\nwant the result over the committed ranges %v:\n%s", got, until, want)
	}
}

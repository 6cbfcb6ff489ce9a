package ui_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/kafkatest"
	"github.com/microbatch/microbatch/ui"
)

// chromium returns the headless browser's path. Without one the test is
// skipped, except on CI (CI=true), where it fails.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on this CI machine (.ci/run installs it: apt-get install -y chromium)")
	}
	t.Skip("no chromium: install it (apt-get install -y chromium) to run the browser test")
	return ""
}

// runJob runs a stateful query over 3 partitions of 200 records each,
// capped at 50 records a partition a batch (4 batches), feeding srv; it
// returns the progress records.
func runJob(t *testing.T, opts ui.Options) (*ui.Server, []engine.Progress) {
	t.Helper()
	b := kafkatest.Start(t, map[string]int32{"clicks": 3})
	var recs []kafkatest.Record
	pages := []string{"/home", "/cart", "/p/1", "/p/2", "/checkout"}
	for i := 0; i < 600; i++ {
		v := fmt.Sprintf(`{"page":%q,"action":"view"}`, pages[(i*i)%len(pages)])
		if i%7 == 0 {
			v = `{"page":` // malformed: counted as corrupt
		}
		recs = append(recs, kafkatest.Record{Partition: int32(i % 3), Value: []byte(v)})
	}
	b.Produce(t, "clicks", recs)
	schema, err := dataframe.ParseSchema("page STRING, action STRING")
	if err != nil {
		t.Fatal(err)
	}
	df := dataframe.Source("events", schema).GroupBy(dataframe.Col("page")).Agg(dataframe.Count().As("views"))
	opts.Query = "SELECT page, count(*) AS views FROM events GROUP BY page"
	opts.Settings = []ui.Setting{{Key: "source.kafka.subscribe", Value: "clicks"}, {Key: "trigger.processingTime", Value: "200ms"}}
	return runServed(t, engine.Config{
		Name:    "clicks-per-page",
		Source:  engine.KafkaSource{BootstrapServers: b.Addr, Subscribe: []string{"clicks"}, StartingOffsets: "earliest", MaxRatePerPartition: 250},
		Format:  dataframe.FormatJSON,
		Schema:  schema,
		Query:   df,
		Trigger: engine.Trigger{ProcessingTime: 200 * time.Millisecond},
	}, opts, 4)
}

// runServed runs cfg (with a sink that discards, a fresh checkpoint and
// no log) feeding a UI server started with opts until n batches
// committed, and returns the server and the progress records.
func runServed(t *testing.T, cfg engine.Config, opts ui.Options, n int) (*ui.Server, []engine.Progress) {
	t.Helper()
	var srv *ui.Server
	var mu sync.Mutex // guards progress
	var progress []engine.Progress
	var q *engine.Query
	cfg.Sink = engine.SinkFunc(func(context.Context, *engine.Output) error { return nil })
	cfg.CheckpointLocation = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.OnProgress = func(p engine.Progress) {
		srv.Observe(p)
		mu.Lock()
		progress = append(progress, p)
		k := len(progress)
		mu.Unlock()
		if k == n {
			q.Stop()
		}
	}
	q, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts.Status, opts.Name = q.Status, cfg.Name
	if srv, err = ui.Start(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := q.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(progress) != n {
		t.Fatalf("%d batches, want %d", len(progress), n)
	}
	return srv, progress
}

// pathInfo is an SVG path the page drew.
type pathInfo struct{ D, Stroke, Fill, Dash string }

// vertices counts the points of an SVG path.
func vertices(d string) int {
	return strings.Count(d, "M") + strings.Count(d, "L") + strings.Count(d, "C")
}

// page is what a test reads from the page once it refreshed twice.
type page struct {
	paths   map[string][]pathInfo
	rows    [][]string
	summary map[string]string
	hidden  map[string]bool
	shot    []byte
	jsErrs  []string
}

// openPage opens srv's page in headless Chromium and reads it.
func openPage(t *testing.T, exe string, srv *ui.Server) page {
	t.Helper()
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1400, 1500))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var jsErrMu sync.Mutex
	var pg page
	if err := chromedp.Listen(ctx, func(ev any) {
		jsErrMu.Lock()
		defer jsErrMu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			pg.jsErrs = append(pg.jsErrs, fmt.Sprintf("%s %+v", ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				pg.jsErrs = append(pg.jsErrs, fmt.Sprintf("console.error %v", ev.Args))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	run(t, ctx, chromedp.Navigate(srv.URL()))
	run(t, ctx, chromedp.Poll[bool](`window.mbRefreshes >= 2`, chromedp.WithPollingTimeout(30*time.Second)))
	pg.paths = run(t, ctx, chromedp.Evaluate[map[string][]pathInfo](`(() => { const o = {}; for (const el of document.querySelectorAll(".chart")) o[el.id] = [...el.querySelectorAll("svg path")].map(p => ({D: p.getAttribute("d") || "", Stroke: p.getAttribute("stroke") || "", Fill: p.getAttribute("fill") || "", Dash: p.getAttribute("stroke-dasharray") || ""})); return o })()`))
	pg.rows = run(t, ctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll("#batch-table tbody tr")].map(tr => [...tr.cells].map(td => td.textContent))`))
	pg.summary = run(t, ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(["batches","last-batch","input-rows","state-rows","lag","name","query","bp-rate","watermark","late-rows"].map(id => [id, document.getElementById(id).textContent]))`))
	pg.hidden = run(t, ctx, chromedp.Evaluate[map[string]bool](`Object.fromEntries(["fig-backpressure","fig-watermark","bp-rate","watermark"].map(id => [id, document.getElementById(id).offsetParent === null]))`))
	pg.shot = run(t, ctx, chromedp.FullScreenshot(100))
	jsErrMu.Lock()
	defer jsErrMu.Unlock()
	pg.jsErrs = append([]string(nil), pg.jsErrs...)
	return pg
}

// lineThrough counts the lines of chart drawn in color ("": any) through
// n points.
func (pg page) lineThrough(chart, color string, n int) int {
	k := 0
	for _, p := range pg.paths[chart] {
		if p.Fill == "none" && (color == "" || strings.EqualFold(p.Stroke, color)) && vertices(p.D) == n {
			k++
		}
	}
	return k
}

func TestPageInChromium(t *testing.T) {
	exe := chromium(t)
	srv, progress := runJob(t, ui.Options{Addr: "127.0.0.1:0"})
	pg := openPage(t, exe, srv)
	paths, rows, summary, shot := pg.paths, pg.rows, pg.summary, pg.shot
	if dir := os.Getenv("MICROBATCH_UI_SCREENSHOT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "ui.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Without backpressure or a watermark their charts stay hidden.
	for _, id := range []string{"fig-backpressure", "fig-watermark", "bp-rate", "watermark"} {
		if !pg.hidden[id] {
			t.Errorf("#%s is shown for a job without backpressure or watermark", id)
		}
	}

	n := len(progress)
	// Every chart has drawn its data: a line through every batch, a bar
	// per batch and phase.
	lineThrough := func(chart, color string) int { return pg.lineThrough(chart, color, n) }
	for _, c := range []struct {
		chart, color string
		want         int
	}{
		{"chart-rates", "#5470c6", 1}, {"chart-rates", "#ee6666", 1},
		{"chart-delay", "#fc8452", 1}, {"chart-state", "#3ba272", 1},
		{"chart-lag", "", 3}, // one line per partition
	} {
		if got := lineThrough(c.chart, c.color); got < c.want {
			t.Errorf("%s: %d lines of %s through the %d batches, want %d; paths %+v", c.chart, got, c.color, n, c.want, paths[c.chart])
		}
	}
	bar := regexp.MustCompile(`^M[0-9.]+ [0-9.]+l[-0-9.]+ 0l0 [-0-9.]+l[-0-9.]+ 0Z$`)
	bars := 0
	for _, p := range paths["chart-duration"] {
		if strings.EqualFold(p.Fill, "#5470c6") && bar.MatchString(p.D) { // the fetch phase
			bars++
		}
	}
	interval := lineThrough("chart-duration", "#888888")
	if bars != n || interval != 1 {
		t.Errorf("duration chart: %d fetch bars, %d trigger-interval lines; want %d and 1: %+v", bars, interval, n, paths["chart-duration"])
	}

	// The table shows every batch, newest first, with the progress's
	// numbers.
	if len(rows) != n {
		t.Fatalf("table has %d rows, want %d: %v", len(rows), n, rows)
	}
	var total int64
	for i, p := range progress {
		row := rows[n-1-i]
		var ranges []string
		for _, s := range p.Sources {
			if s.EndOffset > s.StartOffset {
				ranges = append(ranges, fmt.Sprintf("%s-%d [%d, %d)", s.Topic, s.Partition, s.StartOffset, s.EndOffset))
			}
		}
		want := []string{strconv.FormatInt(p.BatchID, 10), p.Timestamp.UTC().Format("2006-01-02 15:04:05.000"),
			strconv.FormatInt(p.NumInputRows, 10), strconv.FormatInt(p.OutputRows, 10)}
		if !equal(row[:4], want) || row[6] != strings.Join(ranges, " ") ||
			row[7] != fmt.Sprintf("%d / %d / %d", p.CorruptRecords, p.DroppedRecords, p.SkippedOffsets) {
			t.Errorf("row %v, want %v, ranges %q, malformed %d", row, want, ranges, p.CorruptRecords)
		}
		if ms, err := strconv.ParseFloat(row[4], 64); err != nil || time.Duration(math.Round(ms*1000))*time.Microsecond != p.Durations.Total.Truncate(time.Microsecond) {
			t.Errorf("batch %d: duration %q, progress %v", p.BatchID, row[4], p.Durations.Total)
		}
		total += p.NumInputRows
	}
	last := progress[n-1]
	wantSummary := map[string]string{"batches": strconv.Itoa(n), "last-batch": strconv.FormatInt(last.BatchID, 10),
		"input-rows": strconv.FormatInt(total, 10), "state-rows": strconv.FormatInt(last.StateRows, 10),
		"lag": strconv.FormatInt(last.TotalLag(), 10), "name": "clicks-per-page",
		"query": "SELECT page, count(*) AS views FROM events GROUP BY page"}
	for k, v := range wantSummary {
		if summary[k] != v {
			t.Errorf("page %s %q, want %q", k, summary[k], v)
		}
	}
	// i*i mod 5 is 0, 1 or 4: three pages, and the malformed records'
	// null page.
	if total != 600 || last.StateRows != 4 {
		t.Errorf("the job read %d rows into %d groups, want 600 and 4", total, last.StateRows)
	}
	if len(pg.jsErrs) > 0 {
		t.Fatalf("JavaScript errors: %v", pg.jsErrs)
	}
}

// run runs a browser action and returns its value.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func equal(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// runEventJob runs a windowed count with a 5 s watermark and backpressure
// (initialRate 100 records/s, a 200 ms trigger, at most 50 records a
// batch: maxRatePerPartition 250) over one partition of
// records one event-time second apart, every tenth a minute late; it stops
// after 8 batches and returns the progress records.
func runEventJob(t *testing.T, opts ui.Options) (*ui.Server, []engine.Progress) {
	t.Helper()
	b := kafkatest.Start(t, map[string]int32{"events": 1})
	var recs []kafkatest.Record
	for i := 0; i < 1000; i++ {
		sec := 1000 + i
		if i%10 == 9 {
			sec -= 60
		}
		v := fmt.Sprintf(`{"eventTime":%q,"v":%d}`, time.Unix(int64(sec), 0).UTC().Format(time.RFC3339), i)
		recs = append(recs, kafkatest.Record{Value: []byte(v)})
	}
	b.Produce(t, "events", recs)
	schema, err := dataframe.ParseSchema("eventTime TIMESTAMP, v BIGINT")
	if err != nil {
		t.Fatal(err)
	}
	df := dataframe.Source("events", schema).WithWatermark("eventTime", 5*time.Second).
		GroupBy(dataframe.Window(dataframe.Col("eventTime"), 10*time.Second, 0, 0)).
		Agg(dataframe.Count().As("count")).
		Select(dataframe.Col("window.start"), dataframe.Col("count"))
	return runServed(t, engine.Config{
		Name:         "events-per-window",
		Source:       engine.KafkaSource{BootstrapServers: b.Addr, Subscribe: []string{"events"}, StartingOffsets: "earliest", MaxRatePerPartition: 250},
		Format:       dataframe.FormatJSON,
		Schema:       schema,
		Query:        df,
		OutputMode:   dataframe.Append,
		Trigger:      engine.Trigger{ProcessingTime: 200 * time.Millisecond},
		Backpressure: engine.Backpressure{Enabled: true, InitialRate: 100},
	}, opts, 8)
}

// With backpressure on and a watermark, the page draws the rate
// backpressure planned each batch with and the watermark with the late
// rows, and its numbers are the progress records'.
func TestPageBackpressureAndWatermark(t *testing.T) {
	exe := chromium(t)
	srv, progress := runEventJob(t, ui.Options{Addr: "127.0.0.1:0"})
	pg := openPage(t, exe, srv)
	n := len(progress)
	for _, id := range []string{"fig-backpressure", "fig-watermark", "bp-rate", "watermark"} {
		if pg.hidden[id] {
			t.Errorf("#%s is hidden", id)
		}
	}
	var late int64
	withWM := 0
	for _, p := range progress {
		if p.BackpressureRate <= 0 {
			t.Fatalf("batch %d has no backpressure rate: %+v", p.BatchID, p)
		}
		if p.EventTime != nil {
			withWM++
		}
		late += p.NumRowsDroppedByWatermark
	}
	if late == 0 || withWM == 0 {
		t.Fatalf("the job dropped %d late rows, %d batches have a watermark; the test wants both", late, withWM)
	}
	if got := pg.lineThrough("chart-backpressure", "#9a60b4", n); got != 1 {
		t.Errorf("backpressure chart: %d rate lines through the %d batches, want 1: %+v", got, n, pg.paths["chart-backpressure"])
	}
	if got := pg.lineThrough("chart-watermark", "#3ba272", withWM); got != 1 {
		t.Errorf("watermark chart: %d watermark lines through the %d batches with one, want 1: %+v", got, withWM, pg.paths["chart-watermark"])
	}
	bars := 0
	for _, p := range pg.paths["chart-watermark"] {
		if strings.EqualFold(p.Fill, "#ee6666") {
			bars++
		}
	}
	if bars == 0 {
		t.Errorf("watermark chart: no late-row bars: %+v", pg.paths["chart-watermark"])
	}
	last := progress[n-1]
	want := map[string]string{
		"bp-rate":   commas(int64(math.Round(last.BackpressureRate))),
		"watermark": last.EventTime.Watermark.UTC().Format("2006-01-02 15:04:05.000"),
		"late-rows": commas(late),
		"batches":   strconv.Itoa(n),
	}
	for k, v := range want {
		if pg.summary[k] != v {
			t.Errorf("page %s %q, want %q", k, pg.summary[k], v)
		}
	}
	if len(pg.jsErrs) > 0 {
		t.Fatalf("JavaScript errors: %v", pg.jsErrs)
	}
}

// commas formats n as the page does (en-US grouping).
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

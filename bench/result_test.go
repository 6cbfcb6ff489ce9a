package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPercentileAndMedian(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for _, c := range []struct{ p, want float64 }{{0, 1}, {20, 1}, {50, 3}, {99, 5}, {100, 5}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if xs[0] != 5 {
		t.Error("percentile sorted its input")
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
	if percentile(nil, 50) != 0 || median(nil) != 0 || ratio(1, 0) != 0 {
		t.Error("empty inputs must give 0")
	}
}

func TestParseVmHWM(t *testing.T) {
	in := "Name:\tbench\nVmPeak:\t 2000 kB\nVmHWM:\t  1234 kB\nVmRSS:\t 1000 kB\n"
	if got := parseVmHWM(strings.NewReader(in)); got != 1234*1024 {
		t.Errorf("parseVmHWM = %d", got)
	}
	if got := parseVmHWM(strings.NewReader("VmRSS: 1 kB\n")); got != 0 {
		t.Errorf("missing VmHWM = %d", got)
	}
}

func TestSchedDelaysAndSlope(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	iv := 100 * time.Millisecond
	// The first batch started 2 ms late; batch 2 found no data (not
	// reported); batch 3 started 7 ms late.
	starts := []time.Time{t0.Add(2 * time.Millisecond), t0.Add(100 * time.Millisecond), t0.Add(307 * time.Millisecond)}
	got := schedDelays(starts, iv)
	want := []float64{2, 0, 7}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Fatalf("schedDelays = %v, want %v", got, want)
		}
	}
	if s := slope([]float64{1, 3, 5, 7}); math.Abs(s-2) > 1e-9 {
		t.Errorf("slope = %v, want 2", s)
	}
	if s := slope([]float64{4, 4, 4}); s != 0 {
		t.Errorf("flat slope = %v", s)
	}
}

func TestRecordsKeysAndCSV(t *testing.T) {
	r, err := newRecords(1, 10, "csv")
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]bool{}
	for range 100 {
		_, v := r.next()
		f := strings.Split(string(v), ",")
		if len(f) != 4 || !strings.HasPrefix(f[2], "/p/") {
			t.Fatalf("bad CSV record %q", v)
		}
		pages[f[2]] = true
	}
	if len(pages) != 10 {
		t.Errorf("%d distinct pages, want 10", len(pages))
	}
	j, err := newRecords(1, 0, "json")
	if err != nil {
		t.Fatal(err)
	}
	_, v := j.next()
	var m map[string]string
	if err := json.Unmarshal(v, &m); err != nil || m["page"] == "" || m["action"] == "" {
		t.Errorf("bad JSON record %q: %v", v, err)
	}
}

// -users n: every n consecutive JSON records hold n distinct user ids,
// and the pages are left as generated.
func TestRecordsUsers(t *testing.T) {
	r, err := newRecordsUsers(1, 0, 7, "json")
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]int{}
	for range 70 {
		_, v := r.next()
		var m map[string]string
		if err := json.Unmarshal(v, &m); err != nil || !strings.HasPrefix(m["page"], "/") || strings.HasPrefix(m["page"], "/p/") {
			t.Fatalf("bad JSON record %q: %v", v, err)
		}
		users[m["userid"]]++
	}
	if len(users) != 7 {
		t.Fatalf("%d distinct users, want 7: %v", len(users), users)
	}
	for u, n := range users {
		if n != 10 {
			t.Errorf("user %s appears %d times, want 10", u, n)
		}
	}
}

// TestResultContract checks the bench JSON has every field DESIGN.md
// section 3 fixes.
func TestResultContract(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if err := writeJSON(path, &Result{Messages: 3, EngineVsRawConfluent: 0.5}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"messages", "partitions", "message_bytes", "raw_confluent_msgs_per_sec",
		"raw_franz_msgs_per_sec", "engine_msgs_per_sec", "engine_vs_raw_confluent", "batch_p50_ms",
		"batch_p99_ms", "driver_overhead_p50_ms", "peak_rss_bytes", "json_decode_vs_arrow", "csv_decode_vs_arrow"} {
		if _, ok := m[k]; !ok {
			t.Errorf("bench JSON lacks %q", k)
		}
	}
	if m["messages"] != 3.0 || m["engine_vs_raw_confluent"] != 0.5 {
		t.Errorf("values not written: %v", m)
	}
}

func TestHumanAndShort(t *testing.T) {
	if got := human(1234567.4); got != "1,234,567" {
		t.Errorf("human = %q", got)
	}
	for v, want := range map[float64]string{10: "10", 10000: "10k", 1e6: "1M", 3.3e6: "3.3M"} {
		if got := short(v); got != want {
			t.Errorf("short(%v) = %q, want %q", v, got, want)
		}
	}
	if niceCeil(340000) != 500000 || niceCeil(1e6) != 1e6 {
		t.Errorf("niceCeil: %v %v", niceCeil(340000), niceCeil(1e6))
	}
}

func TestModeLabel(t *testing.T) {
	for mode, want := range map[string]string{"": "", "complete": "", "update": ", update"} {
		if got := modeLabel(mode); got != want {
			t.Errorf("modeLabel(%q) = %q, want %q", mode, got, want)
		}
	}
}

// Overlapping batches (fetch-ahead) count once in the time batches cover.
func TestBatchSpanMs(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// [0,100) [80,180) [300,350) [310,320): 180 + 50.
	starts := []time.Time{at(0), at(80), at(300), at(310)}
	if got := batchSpanMs(starts, []float64{100, 100, 50, 10}); got != 230 {
		t.Errorf("span %v ms, want 230", got)
	}
	if got := batchSpanMs(nil, nil); got != 0 {
		t.Errorf("no batches: %v ms", got)
	}
}

func TestParseFlagsRefusesBadValues(t *testing.T) {
	for args, want := range map[string]string{
		"-skip foo":         `-skip "foo": want confluent, franz, engine, decode or produce`,
		"-max-rate -5":      "-max-rate -5: want -1 (about 10 batches), 0 (uncapped) or a cap",
		"-keys -1":          "-keys -1: want 0 (the generator's pages) or a count",
		"-format xml":       `-format "xml": want json or csv`,
		"-executors -2":     "-executors -2: want 0 (GOMAXPROCS) or a count",
		"-output-mode tail": `-output-mode "tail": want complete or update`,
		"-runs 0":           "partitions, messages and runs must be >= 1",
	} {
		if _, _, err := parseFlags(strings.Fields(args)); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", args, err, want)
		}
	}
	if c, _, err := parseFlags(strings.Fields("-skip franz,decode -max-rate 0")); err != nil || !c.skip["franz"] || !c.skip["decode"] || c.maxRate != 0 {
		t.Errorf("good flags: %+v, %v", c, err)
	}
}

func TestFormatPhases(t *testing.T) {
	got := formatPhases(map[string]float64{"commit": 1.234, "plan": 0.4, "zeta": 2, "aggregate": 0.1049})
	if want := "plan 0.40, aggregate 0.10, commit 1.23, zeta 2.00"; got != want {
		t.Errorf("formatPhases = %q, want %q", got, want)
	}
}

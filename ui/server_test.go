package ui

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microbatch/microbatch/engine"
)

func progress(id int64) engine.Progress {
	return engine.Progress{ID: "q", Name: "job", BatchID: id, NumInputRows: 10 * (id + 1), OutputRows: 2, StateRows: 5 + id, Stateful: true,
		Timestamp: time.Date(2024, 1, 1, 0, 0, int(id), 0, time.UTC), RateLimitPerPartition: 50, CorruptRecords: 1, DeadLetters: 1,
		Durations:       engine.Durations{Total: 250 * time.Millisecond, Sink: 100 * time.Millisecond},
		SchedulingDelay: 30 * time.Millisecond,
		Sources: []engine.PartitionProgress{
			{Topic: "t", Partition: 0, StartOffset: 0, EndOffset: 4, LatestOffset: 9, Lag: 5, NumInputRows: 4},
			{Topic: "t", Partition: 1, StartOffset: 0, EndOffset: 6, LatestOffset: 6, NumInputRows: 6 + 10*id},
		}}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestMetricsAndAPI(t *testing.T) {
	st := engine.Status{Running: true, BatchInFlight: 3, FailedBatches: 1}
	s := start(t, Options{Addr: "127.0.0.1:0", Name: "job", Status: func() engine.Status { return st }, Query: "SELECT 1",
		Settings: []Setting{{"name", "job"}}})
	for id := int64(0); id < 3; id++ {
		s.Observe(progress(id))
	}
	base := "http://" + s.Addr()
	code, body := get(t, base+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`microbatch_batches_total{status="committed"} 3`,
		`microbatch_batches_total{status="failed"} 1`,
		`microbatch_input_records_total{topic="t"} 60`, // 4+6, 4+16, 4+26
		`microbatch_output_rows_total 6`,
		`microbatch_batch_duration_seconds_count 3`,
		`microbatch_batch_duration_seconds_sum 0.75`,
		`microbatch_scheduling_delay_seconds_sum 0.09`,
		`microbatch_batch_phase_duration_seconds_sum{phase="sink"} 0.3`,
		`microbatch_rate_limit_records_per_second 50`,
		`microbatch_state_rows 7`,
		`microbatch_corrupt_records_total 3`,
		`microbatch_dead_letters_total 3`,
		`kafka_consumergroup_group_lag{group="job",partition="0",topic="t"} 5`,
		`kafka_consumergroup_group_lag{group="job",partition="1",topic="t"} 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}

	code, body = get(t, base+"/api/v1/progress?n=2", "")
	var recs []engine.Progress
	if err := json.Unmarshal([]byte(body), &recs); code != 200 || err != nil || len(recs) != 2 || recs[0].BatchID != 1 || recs[1].BatchID != 2 || recs[1].NumInputRows != 30 {
		t.Fatalf("/api/v1/progress?n=2: %d %v %s", code, err, body)
	}
	if _, body = get(t, base+"/api/v1/progress", ""); strings.Count(body, `"batchId"`) != 3 {
		t.Fatalf("/api/v1/progress: %s", body)
	}
	if code, _ = get(t, base+"/api/v1/progress?n=x", ""); code != 400 {
		t.Fatalf("n=x: %d", code)
	}
	code, body = get(t, base+"/api/v1/status", "")
	want := `{"running":true,"batchInFlight":3,"failedBatches":1,"name":"job","query":"SELECT 1","settings":[{"key":"name","value":"job"}]}` + "\n"
	if code != 200 || body != want {
		t.Fatalf("/api/v1/status: %d %s, want %s", code, body, want)
	}
	if code, body = get(t, base+"/", ""); code != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("/: %d %.200s", code, body)
	}
	resp, err := http.Post(base+"/api/v1/status", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d, want 405 (read-only)", resp.StatusCode)
	}
}

func TestToken(t *testing.T) {
	if _, err := Start(Options{Addr: "0.0.0.0:0"}); !errors.Is(err, ErrTokenRequired) {
		t.Fatalf("non-loopback without a token: %v", err)
	}
	s := start(t, Options{Addr: "0.0.0.0:0", Token: "s3cret"})
	_, port, _ := net.SplitHostPort(s.Addr())
	base := "http://127.0.0.1:" + port
	for _, path := range []string{"/", "/metrics", "/api/v1/status", "/api/v1/progress"} {
		if code, _ := get(t, base+path, ""); code != 401 {
			t.Errorf("%s without token: %d, want 401", path, code)
		}
		if code, _ := get(t, base+path, "wrong"); code != 401 {
			t.Errorf("%s with a wrong token: %d, want 401", path, code)
		}
		if code, _ := get(t, base+path, "s3cret"); code != 200 {
			t.Errorf("%s with the token: %d, want 200", path, code)
		}
		if code, _ := get(t, base+path+"?access_token=s3cret", ""); code != 200 {
			t.Errorf("%s with access_token: %d, want 200", path, code)
		}
	}
}

// A taken port moves the server to the next free one, as Spark's UI does.
func TestNextFreePort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	s := start(t, Options{Addr: ln.Addr().String()})
	_, got, _ := net.SplitHostPort(s.Addr())
	if g, _ := strconv.Atoi(got); g <= p || g > p+portRetries {
		t.Fatalf("port %s taken: listening on %s, want one of the next %d", port, got, portRetries)
	}
}

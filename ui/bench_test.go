package ui

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/microbatch/microbatch/engine"
)

// The UI's cost to a running job, measured directly rather than as a
// difference of two noisy throughputs: what Observe adds to every batch,
// and the CPU one scrape of /metrics or one poll of the page's
// /api/v1/progress costs the process (each happens about once a second).

func benchProgress(id int64) engine.Progress {
	p := engine.Progress{Name: "bench", BatchID: id, Timestamp: time.Unix(id, 0), NumInputRows: 100_000, OutputRows: 1000,
		Stateful: true, StateRows: 1024, StateRowsUpdated: 1024, SchedulingDelay: time.Millisecond,
		Durations: engine.Durations{Plan: time.Millisecond, FetchDecode: 100 * time.Millisecond, Aggregate: time.Millisecond,
			Sink: time.Millisecond, Commit: 2 * time.Millisecond, Total: 110 * time.Millisecond}}
	for part := range int32(4) {
		p.Sources = append(p.Sources, engine.PartitionProgress{Topic: "clicks", Partition: part, StartOffset: id * 25_000,
			EndOffset: (id + 1) * 25_000, LatestOffset: (id + 2) * 25_000, Lag: 25_000, NumInputRows: 25_000})
	}
	return p
}

// full returns a server that has observed a full history of batches.
func full(b *testing.B) *Server {
	s, err := New(Options{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range int64(1000) {
		s.Observe(benchProgress(i))
	}
	return s
}

func BenchmarkObserve(b *testing.B) {
	s := full(b)
	p := benchProgress(1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Observe(p)
	}
}

func benchGet(b *testing.B, path string) {
	s := full(b)
	h := s.Handler()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 {
			b.Fatalf("GET %s: %d", path, w.Code)
		}
	}
}

func BenchmarkScrapeMetrics(b *testing.B) { benchGet(b, "/metrics") }

func BenchmarkPollProgress(b *testing.B) { benchGet(b, "/api/v1/progress") }

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// scrapeEverySecond fetches url (the UI's /metrics) every second, as
// Prometheus would, counting the fetches in *n, until the returned stop
// is called; stop waits for the goroutine.
func scrapeEverySecond(url string, n *int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				resp, err := http.Get(url)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				*n++
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// uiScenario measures what the web UI and /metrics cost the engine: the
// availableNow run with them off, on (the server fed every batch), and on
// with /metrics scraped every second, interleaved run by run so that the
// machine's load falls on the three alike. It reports the median rate and
// batch time of each and the differences against off.
func uiScenario(ctx context.Context, cfg *config) error {
	res := &Result{Scenario: "ui", Messages: cfg.messages, Partitions: cfg.partitions, Format: cfg.format,
		OutputMode: outputModeOf(cfg), Runs: cfg.runs, MaxRatePerPartition: cfg.batchCap(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Started: time.Now().UTC(), AllRuns: map[string][]float64{}}
	cl, err := setupTopic(ctx, cfg, res)
	if err != nil {
		return err
	}
	defer cl.close()
	modes := []string{"off", "on", "scrape"}
	rates := map[string][]float64{}
	batches := map[string][]float64{}
	cpus := map[string][]float64{} // the engine child's CPU seconds per million records
	loadBefore := loadAvg()
	for i := range cfg.runs {
		// Each run starts with another mode, so that no mode always runs
		// first or last of the three.
		for j := range modes {
			m := modes[(i+j)%len(modes)]
			c := *cfg
			c.ui = m
			er, err := measureEngine(ctx, &c, cl.addr, i, false)
			if err != nil {
				return fmt.Errorf("engine, ui %s: %w", m, err)
			}
			if er.Rows != cfg.messages {
				return fmt.Errorf("engine, ui %s, read %d records, want %d", m, er.Rows, cfg.messages)
			}
			rates[m] = append(rates[m], er.MsgsPerSec)
			batches[m] = append(batches[m], er.BatchMs...)
			cpus[m] = append(cpus[m], er.CPUSeconds/float64(er.Rows)*1e6)
			logf("run %d ui %s: %.0f msgs/s (%s, %d batches, batch p50 %.1f ms, %d scrapes, CPU %.2f s)", i+1, m, er.MsgsPerSec,
				time.Duration(er.Seconds*float64(time.Second)).Round(time.Millisecond), len(er.BatchMs), percentile(er.BatchMs, 50), er.Scrapes, er.CPUSeconds)
		}
	}
	res.AllRuns = rates
	res.LoadAvg = loadBefore + " -> " + loadAvg()
	off, offBatch, offCPU := median(rates["off"]), percentile(batches["off"], 50), median(cpus["off"])
	fmt.Printf("load average %s\n", res.LoadAvg)
	fmt.Printf("%-8s %12s %9s %14s %9s %16s %9s\n", "ui", "msgs/s", "vs off", "batch p50 ms", "vs off", "CPU s/1M records", "vs off")
	for _, m := range modes {
		r, b, c := median(rates[m]), percentile(batches[m], 50), median(cpus[m])
		fmt.Printf("%-8s %12.0f %+8.1f%% %14.1f %+8.1f%% %16.3f %+8.1f%%\n", m, r, 100*(r/off-1), b, 100*(b/offBatch-1), c, 100*(c/offCPU-1))
	}
	if cfg.jsonOut != "" {
		return writeJSON(cfg.jsonOut, res)
	}
	return nil
}

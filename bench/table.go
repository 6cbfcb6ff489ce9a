package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// tableScenario prints the results files as the Markdown tables of
// bench/README.md.
func tableScenario(w io.Writer, files []string) error {
	var rs []*Result
	names := map[*Result]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		rs = append(rs, &r)
		names[&r] = filepath.Base(f)
	}
	sort.SliceStable(rs, func(i, j int) bool { return names[rs[i]] < names[rs[j]] })

	fmt.Fprintln(w, "| file | partitions | keys | format | raw confluent msgs/s | raw franz-go msgs/s | engine msgs/s | engine / confluent | engine / franz | batches | batch p50 / p99 ms | driver overhead p50 / p99 ms | engine peak RSS MB | load avg |")
	fmt.Fprintln(w, "| --- | --: | --: | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |")
	for _, r := range rs {
		if r.Scenario != "throughput" {
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %d | %.0f / %.0f | %.1f / %.1f | %d | %s |\n",
			names[r], r.Partitions, keysLabel(r.Keys), r.Format+modeLabel(r.OutputMode)+propsLabel(r.EngineProps), num(r.RawConfluentMsgsPerSec), num(r.RawFranzMsgsPerSec),
			num(r.EngineMsgsPerSec), num2(r.EngineVsRawConfluent), num2(r.EngineVsRawFranz), r.EngineBatches, r.BatchP50Ms, r.BatchP99Ms,
			r.DriverOverheadP50Ms, r.DriverOverheadP99Ms, r.EnginePeakRSSBytes>>20, r.LoadAvg)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| file | JSON engine rows/s (projected) | Arrow JSONReader rows/s | JSON ratio | CSV engine rows/s (projected) | arrow/csv rows/s | CSV ratio |")
	fmt.Fprintln(w, "| --- | --: | --: | --: | --: | --: | --: |")
	for _, r := range rs {
		if d := r.Decode; d != nil {
			fmt.Fprintf(w, "| %s | %s (%s) | %s | %.2fx | %s (%s) | %s | %.2fx |\n", names[r],
				human(d.JSONEngine), human(d.JSONEngineProject), human(d.JSONArrow), d.JSONVsArrow,
				human(d.CSVEngine), human(d.CSVEngineProject), human(d.CSVArrow), d.CSVVsArrow)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| file | interval | input msgs/s | batches (expected) | sched delay p50 / p99 / max ms | delay slope ms/batch | start gap - interval p99 / max ms | batch p50 / p99 ms | overruns | driver overhead p50 ms | lag max | load avg |")
	fmt.Fprintln(w, "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |")
	for _, r := range rs {
		if i := r.Interval; i != nil {
			fmt.Fprintf(w, "| %s | %.0f ms | %s | %d (%d) | %.1f / %.1f / %.1f | %.3f | %.1f / %.1f | %.0f / %.0f | %d | %.1f | %d | %s |\n", names[r],
				i.IntervalMs, human(i.InputRate), i.Batches, i.ExpectedBatches, i.SchedDelayP50Ms, i.SchedDelayP99Ms, i.SchedDelayMaxMs,
				i.SchedDelaySlopeMs, i.GapExcessP99Ms, i.GapExcessMaxMs, i.BatchP50Ms, i.BatchP99Ms, i.Overruns, i.DriverOverheadP50Ms, i.LagMax, r.LoadAvg)
		}
	}
	for _, r := range rs {
		s := r.State
		if s == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d keys, fsync %v, load %s new keys/s overall; load commits (ms per %d new keys): %.0f\n\n",
			names[r], s.Keys, !s.NoSync, human(s.LoadKeysPerSec), s.LoadBatch, s.LoadCommitMs)
		fmt.Fprintln(w, "| state keys | changed keys | commit ms (median of 3) | changed keys/s | ms per 1k keys | all commits ms |")
		fmt.Fprintln(w, "| --: | --: | --: | --: | --: | --- |")
		for _, u := range s.Updates {
			fmt.Fprintf(w, "| %s | %s | %.1f | %s | %.2f | %.1f |\n", human(float64(u.StateKeys)), human(float64(u.Changed)),
				u.CommitMs, human(u.KeysPerSec), u.MsPer1kKeys, u.CommitMsAll)
		}
	}
	return nil
}

func keysLabel(k int) string {
	if k == 0 {
		return "gen (~1.1k)"
	}
	return human(float64(k))
}

func propsLabel(p string) string {
	if p == "" {
		return ""
	}
	return " (" + p + ")"
}

// num is human(v), or "-" for a measurement that was skipped.
func num(v float64) string {
	if v == 0 {
		return "-"
	}
	return human(v)
}

func num2(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// modeLabel marks an engine run in update mode (complete is the default,
// and what files from before -output-mode measured).
func modeLabel(mode string) string {
	if mode == "" || mode == "complete" {
		return ""
	}
	return ", " + mode
}

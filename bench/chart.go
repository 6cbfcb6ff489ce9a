package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// chartScenario reads throughput result files and writes an SVG with two
// panels: msgs/s against partitions (files with -keys 0) and against
// distinct keys (files with -keys > 0).
func chartScenario(cfg *config, files []string) error {
	if len(files) == 0 {
		var err error
		if files, err = filepath.Glob("bench/results/*.json"); err != nil {
			return err
		}
	}
	byParts := map[int]*Result{}
	byKeys := map[int]*Result{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if r.Scenario != "throughput" || r.EngineProps != "" || r.Format != "json" {
			continue
		}
		m, x := byParts, r.Partitions
		if r.Keys > 0 {
			m, x = byKeys, r.Keys
		}
		if old, ok := m[x]; !ok || r.Started.After(old.Started) {
			m[x] = &r
		}
	}
	if len(byParts)+len(byKeys) == 0 {
		return fmt.Errorf("no throughput results among %d files", len(files))
	}
	var svg bytes.Buffer
	const w, h = 960, 420
	fmt.Fprintf(&svg, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&svg, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	panel(&svg, 0, "msgs/s by partitions (keys: generator pages)", "partitions", byParts)
	panel(&svg, w/2, "msgs/s by distinct group keys", "distinct keys", byKeys)
	svg.WriteString("</svg>\n")
	if err := os.WriteFile(cfg.svgOut, svg.Bytes(), 0o644); err != nil {
		return err
	}
	logf("wrote %s (%d + %d points)", cfg.svgOut, len(byParts), len(byKeys))
	return nil
}

// series of the chart, with colours.
var chartSeries = []struct {
	name  string
	color string
	value func(*Result) float64
}{
	{"raw franz-go", "#2ca02c", func(r *Result) float64 { return r.RawFranzMsgsPerSec }},
	{"raw confluent-kafka-go", "#1f77b4", func(r *Result) float64 { return r.RawConfluentMsgsPerSec }},
	{"engine", "#d62728", func(r *Result) float64 { return r.EngineMsgsPerSec }},
}

// panel draws one 480x420 line chart at x offset ox, categorical x axis.
func panel(svg *bytes.Buffer, ox int, title, xlabel string, pts map[int]*Result) {
	const pw, ph, left, top, bottom = 480, 420, 70, 40, 60
	plotW, plotH := pw-left-20, ph-top-bottom
	fmt.Fprintf(svg, `<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", ox+left, title)
	xs := make([]int, 0, len(pts))
	for x := range pts {
		xs = append(xs, x)
	}
	sort.Ints(xs)
	ymax := 0.0
	for _, r := range pts {
		for _, s := range chartSeries {
			ymax = max(ymax, s.value(r))
		}
	}
	if len(xs) == 0 || ymax == 0 {
		fmt.Fprintf(svg, `<text x="%d" y="%d">no data</text>`+"\n", ox+left+20, top+plotH/2)
		return
	}
	ymax = niceCeil(ymax)
	px := func(i int) float64 {
		if len(xs) == 1 {
			return float64(ox+left) + float64(plotW)/2
		}
		return float64(ox+left) + float64(i)*float64(plotW)/float64(len(xs)-1)
	}
	py := func(v float64) float64 { return float64(top+plotH) - v/ymax*float64(plotH) }
	// Axes, grid and labels.
	for i := 0; i <= 5; i++ {
		v := ymax * float64(i) / 5
		y := py(v)
		fmt.Fprintf(svg, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", ox+left, y, ox+left+plotW, y)
		fmt.Fprintf(svg, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", ox+left-6, y+4, short(v))
	}
	for i, x := range xs {
		fmt.Fprintf(svg, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(i), top+plotH+18, short(float64(x)))
	}
	fmt.Fprintf(svg, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", ox+left+plotW/2, top+plotH+38, xlabel)
	// Series.
	for si, s := range chartSeries {
		var path bytes.Buffer
		for i, x := range xs {
			v := s.value(pts[x])
			if v == 0 {
				continue
			}
			cmd := "L"
			if path.Len() == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, px(i), py(v))
			fmt.Fprintf(svg, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(i), py(v), s.color)
			fmt.Fprintf(svg, `<text x="%.1f" y="%.1f" font-size="10" fill="%s" text-anchor="middle">%s</text>`+"\n", px(i), py(v)-6, s.color, short(v))
		}
		if path.Len() > 0 {
			fmt.Fprintf(svg, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", path.String(), s.color)
		}
		ly := top + 8 + si*16
		fmt.Fprintf(svg, `<rect x="%d" y="%d" width="12" height="3" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			ox+pw-190, ly, s.color, ox+pw-172, ly+5, s.name)
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// short formats 1234567 as 1.2M.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 2, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

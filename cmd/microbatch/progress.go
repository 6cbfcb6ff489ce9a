package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports a growing record count on w: a progress bar when w is a
// terminal, otherwise a plain line every interval. One goroutine, owned by
// the progress value, renders; Stop ends it and waits for it.
type progress struct {
	n    atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func startProgress(w io.Writer, total int64, interval time.Duration) *progress {
	p := &progress{stop: make(chan struct{}), done: make(chan struct{})}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		max := total
		if max == 0 {
			max = -1 // unknown: a spinner
		}
		bar := progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("producing"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("records"),
			progressbar.OptionSetSpinnerChangeInterval(0), // no goroutine of its own
			progressbar.OptionClearOnFinish(),
		)
		go p.loop(200*time.Millisecond, func(n int64, _ time.Duration) { bar.Set64(n) }, func() { bar.Clear() })
		return p
	}
	go p.loop(interval, func(n int64, el time.Duration) {
		rate := float64(n) / max(el.Seconds(), 1e-9)
		if total > 0 {
			fmt.Fprintf(w, "produced %d/%d records (%.0f records/s)\n", n, total, rate)
		} else {
			fmt.Fprintf(w, "produced %d records (%.0f records/s)\n", n, rate)
		}
	}, func() {})
	return p
}

func (p *progress) loop(every time.Duration, show func(n int64, elapsed time.Duration), clear func()) {
	defer close(p.done)
	t := time.NewTicker(every)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-p.stop:
			clear()
			return
		case <-t.C:
			show(p.n.Load(), time.Since(start))
		}
	}
}

// Set records the current count.
func (p *progress) Set(n int64) {
	if p != nil {
		p.n.Store(n)
	}
}

// Stop ends reporting and waits for the rendering goroutine.
func (p *progress) Stop() {
	close(p.stop)
	<-p.done
}

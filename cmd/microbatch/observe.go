package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/internal/jobfile"
	"github.com/microbatch/microbatch/ui"
)

// runOpts are run's options besides the job.
type runOpts struct {
	// stderr receives the log; say the other lines of stderr (the web
	// UI's address, the per-batch line): stderr itself, or with
	// --log-format json each line as a JSON log record (jsonLines).
	stdout, stderr, say io.Writer
	// logJSON is --log-format json.
	logJSON bool
	// progress is --progress: a file the progress records are appended
	// to as JSON lines, "-" for stdout, "" for none.
	progress string
	// uiAddr is --ui: the web UI's address, "off" for none; uiToken its
	// bearer token.
	uiAddr, uiToken string
	// uiDefault: --ui was not given; failing to listen on the default
	// address then only warns.
	uiDefault bool
}

// progressWriter appends progress records to a file (or stdout) as JSON
// lines: Spark's StreamingQueryProgress JSON, one record a line.
type progressWriter struct {
	mu  sync.Mutex // guards w and err: OnProgress runs on the driver goroutine, close on Run's
	w   io.Writer
	f   *os.File // nil for stdout
	err error    // the first write error
}

// openProgress opens --progress path; "-" is stdout.
func openProgress(path string, stdout io.Writer) (*progressWriter, error) {
	if path == "-" { // run refused it with the console sink
		return &progressWriter{w: stdout}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--progress: %w", err)
	}
	return &progressWriter{w: f, f: f}, nil
}

func (p *progressWriter) write(pr engine.Progress) {
	b, err := json.Marshal(pr)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil && p.err == nil {
		_, err = p.w.Write(append(b, '\n'))
	}
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("--progress: %w", err)
	}
}

// close closes the file and returns the first error writing to it.
func (p *progressWriter) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		if err := p.f.Close(); err != nil && p.err == nil {
			p.err = fmt.Errorf("--progress: %w", err)
		}
	}
	return p.err
}

// startUI starts the web UI of q at --ui (with --ui-token or
// MICROBATCH_UI_TOKEN); nil when it is off.
func startUI(o runOpts, job *jobfile.Job, status func() engine.Status) (*ui.Server, error) {
	if o.uiAddr == "off" {
		return nil, nil
	}
	s, err := ui.Start(ui.Options{Addr: o.uiAddr, Token: o.uiToken, Name: job.Name,
		Status: status, Query: job.Query, Settings: jobSettings(job)})
	if err != nil {
		if o.uiDefault && !errors.Is(err, ui.ErrTokenRequired) {
			fmt.Fprintf(o.say, "web UI off: %v (pick an address with --ui)\n", err)
			return nil, nil
		}
		return nil, err
	}
	fmt.Fprintf(o.say, "web UI and metrics at %s\n", s.URL())
	return s, nil
}

// jobSettings are the settings the UI shows. librdkafka properties that
// may hold secrets show only their key.
func jobSettings(job *jobfile.Job) []ui.Setting {
	k := job.Source.Kafka.Engine()
	var out []ui.Setting
	add := func(key, value string) {
		if value != "" {
			out = append(out, ui.Setting{Key: key, Value: value})
		}
	}
	add("name", job.Name)
	add("source.kafka.bootstrap.servers", k.BootstrapServers)
	add("source.kafka.subscribe", strings.Join(k.Subscribe, ","))
	add("source.kafka.subscribePattern", k.SubscribePattern)
	var assign []string
	for _, tp := range k.Assign {
		assign = append(assign, tp.String())
	}
	add("source.kafka.assign", strings.Join(assign, ","))
	add("source.kafka.startingOffsets", k.StartingOffsets)
	if k.MaxRatePerPartition > 0 {
		add("source.kafka.maxRatePerPartition", strconv.FormatInt(k.MaxRatePerPartition, 10))
	}
	add("source.kafka.failOnDataLoss", strconv.FormatBool(k.OnDataLoss == engine.FailOnDataLoss))
	keys := make([]string, 0, len(k.Properties))
	for key := range k.Properties {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		v := k.Properties[key]
		if secret(key) {
			v = "(hidden)"
		}
		add("source.kafka."+key, v)
	}
	add("source.format", job.Source.Format)
	add("source.schema", job.Source.Schema)
	add("source.mode", job.Source.Mode)
	switch t := job.Trigger; {
	case t.AvailableNow:
		add("trigger.availableNow", "true")
	case t.ProcessingTime > 0:
		add("trigger.processingTime", t.ProcessingTime.String())
	default:
		add("trigger", "back to back")
	}
	add("outputMode", job.OutputMode)
	switch {
	case job.Sink.Console != nil:
		add("sink", "console")
	case job.Sink.Kafka != nil:
		add("sink", "kafka")
	}
	add("checkpointLocation", job.CheckpointLocation)
	return out
}

// secret reports whether a librdkafka property may hold a secret.
func secret(key string) bool {
	for _, s := range []string{"password", "secret", "jaas", "token", "key"} {
		if strings.Contains(key, s) {
			return true
		}
	}
	return false
}

// jsonLines writes each line written to it as a JSON log record at INFO
// (msg: the line), so that with --log-format json every line of stderr is
// JSON. Lines are written whole: each Write holds whole lines.
type jsonLines struct{ log *slog.Logger }

func newJSONLines(w io.Writer) jsonLines { return jsonLines{slog.New(slog.NewJSONHandler(w, nil))} }

func (j jsonLines) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimSuffix(string(p), "\n"), "\n") {
		j.log.Info(l)
	}
	return len(p), nil
}

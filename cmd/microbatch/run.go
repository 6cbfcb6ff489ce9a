package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/microbatch/microbatch/internal/jobfile"
	"github.com/microbatch/microbatch/internal/kafka"
	"github.com/microbatch/microbatch/ui"
)

// The engine behind the commands. Each is called with a validated job;
// they are variables so the CLI tests can observe the wiring.
var (
	// checkJob loads the job file at path and checks it the way run
	// would: the job file's keys, then the schema DDL, the SQL against
	// the schema, the librdkafka properties and the output mode against
	// the query, each as far as the keys it needs are right, so one run
	// reports every problem it can. Problems are jobfile.Errors, printed
	// as FILE:LINE[:COL]: KEY: message with exit code 2.
	checkJob = func(path string) (*jobfile.Job, error) {
		job, err := loadJob(path)
		var problems jobfile.Errors
		if err != nil && (job == nil || !errors.As(err, &problems)) {
			return nil, err
		}
		var engineErrs jobfile.Errors
		if err := checkEngine(job); err != nil && !errors.As(err, &engineErrs) {
			return nil, err
		}
		if err := joinChecks(problems, checkProps(job), engineErrs); err != nil {
			return nil, err
		}
		return job, nil
	}

	// runJob runs job until ctx is done (SIGINT/SIGTERM: graceful stop,
	// exit 0) or, with trigger.availableNow, until the data present at
	// start is processed.
	runJob = runJobEngine

	// showState prints the latest committed result table of job in
	// format (table, jsonl or csv; DESIGN.md section 3).
	showState = showStateEngine

	// showOffsets prints the batches, ranges and commit status in job's
	// checkpoint in format (table or jsonl).
	showOffsets = showOffsetsEngine
)

// checkProps asks librdkafka about every pass-through property: the
// source's on a consumer, the Kafka sink's on a producer.
func checkProps(job *jobfile.Job) jobfile.Errors {
	var out jobfile.Errors
	for k, err := range kafka.CheckProps(job.Source.Kafka.Properties) {
		out = append(out, job.Errorf("source.kafka."+k, "rejected by librdkafka: %v", err))
	}
	if s := job.Sink.Kafka; s != nil {
		for k, err := range kafka.CheckProducerProps(s.Properties) {
			out = append(out, job.Errorf("sink.kafka."+k, "rejected by librdkafka: %v", err))
		}
	}
	return out
}

// joinChecks merges problem lists in file order (on one line, in the
// order of the lists); nil if there are none.
func joinChecks(lists ...jobfile.Errors) error {
	var all jobfile.Errors
	for _, l := range lists {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return nil
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Line < all[j].Line })
	return all
}

func newRunCmd(stopSignals func()) *cobra.Command {
	var logLevel, logFormat string
	o := runOpts{}
	cmd := &cobra.Command{
		Use:   "run JOB.yaml",
		Short: "Run a job until stopped (SIGINT/SIGTERM = graceful stop)",
		Args:  jobArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef(cmd, "invalid --log-level %q (want debug, info, warn or error)", logLevel)
			}
			if logFormat != "text" && logFormat != "json" {
				return usagef(cmd, "invalid --log-format %q (want text or json)", logFormat)
			}
			job, err := checkJob(args[0])
			if err != nil {
				return err
			}
			if o.progress == "-" && job.Sink.Console != nil {
				return usagef(cmd, "--progress -: stdout carries the console sink's tables; write the progress to a file")
			}
			if o.uiToken == "" {
				o.uiToken = os.Getenv("MICROBATCH_UI_TOKEN")
			}
			if o.uiAddr != "off" && o.uiToken == "" && !ui.Loopback(o.uiAddr) {
				return usagef(cmd, "--ui %s is reachable from other hosts: set --ui-token or MICROBATCH_UI_TOKEN", o.uiAddr)
			}
			o.stdout, o.stderr, o.say = cmd.OutOrStdout(), cmd.ErrOrStderr(), cmd.ErrOrStderr()
			if o.logJSON = logFormat == "json"; o.logJSON {
				o.say = newJSONLines(o.stderr)
			}
			o.uiDefault = !cmd.Flags().Changed("ui")
			ctx := cmd.Context()
			// After the first signal (graceful stop), restore default
			// signal handling so a second one kills the process at once.
			done := make(chan struct{})
			defer close(done)
			go func() {
				select {
				case <-ctx.Done():
					stopSignals()
				case <-done:
				}
			}()
			if job.Source.Kafka.Embedded {
				addr, stop, err := startEmbedded(context.WithoutCancel(ctx), job, o.say)
				if err != nil {
					return err
				}
				job.Source.Kafka.BootstrapServers = addr
				err = runJob(ctx, job, o, level)
				return errors.Join(err, stop())
			}
			return runJob(ctx, job, o, level)
		},
	}
	cmd.Flags().StringVar(&o.progress, "progress", "", "append every batch's progress (Spark's StreamingQueryProgress JSON) to this file as JSON lines; - for stdout (not with the console sink)")
	cmd.Flags().StringVar(&o.uiAddr, "ui", "127.0.0.1:4040", "address of the web UI, /metrics and /api/v1 (the next free port if taken), or off")
	cmd.Flags().StringVar(&o.uiToken, "ui-token", "", "bearer token every UI request must carry; required for a non-loopback --ui (default ${MICROBATCH_UI_TOKEN})")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "log level on stderr: debug (adds a line per batch), info (adds start, stop, recovery and compaction lines), warn or error")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format on stderr: text (slog's key=value) or json (one JSON object per line, the per-batch and status lines included)")
	return cmd
}

func formatFlag(cmd *cobra.Command, format *string, allowed ...string) func() error {
	cmd.Flags().StringVar(format, "format", allowed[0], "output format: "+joinOr(allowed))
	return func() error {
		for _, a := range allowed {
			if *format == a {
				return nil
			}
		}
		return usagef(cmd, "invalid --format %q (want %s)", *format, joinOr(allowed))
	}
}

func joinOr(vs []string) string {
	s := ""
	for i, v := range vs {
		switch {
		case i == 0:
		case i == len(vs)-1:
			s += " or "
		default:
			s += ", "
		}
		s += v
	}
	return s
}

func newStateCmd() *cobra.Command {
	return newCheckpointCmd("state JOB.yaml", "Print the latest committed result table of a job, from its checkpoint",
		showState, "table", "jsonl", "csv")
}

func newOffsetsCmd() *cobra.Command {
	return newCheckpointCmd("offsets JOB.yaml", "Print the batches, offset ranges and commit status in a job's checkpoint",
		showOffsets, "table", "jsonl")
}

// newCheckpointCmd is a command that reads a job's checkpoint with show,
// in one of formats (the first is the default).
func newCheckpointCmd(use, short string, show func(context.Context, *jobfile.Job, string, io.Writer) error, formats ...string) *cobra.Command {
	var format string
	cmd := &cobra.Command{Use: use, Short: short, Args: jobArg}
	check := formatFlag(cmd, &format, formats...)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := check(); err != nil {
			return err
		}
		job, err := loadJob(args[0])
		if err != nil {
			return err
		}
		return show(cmd.Context(), job, format, cmd.OutOrStdout())
	}
	return cmd
}

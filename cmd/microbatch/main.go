package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // sessionTimeZone names load on hosts without /usr/share/zoneinfo

	"github.com/spf13/cobra"

	"github.com/microbatch/microbatch/internal/jobfile"
)

// Exit codes (DESIGN.md section 3).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks bad command lines: exit code 2 and a pointer to --help.
type usageError struct {
	cmd string // the command path, "microbatch produce"
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: cmd.CommandPath(), err: fmt.Errorf(format, args...)}
}

// run executes the command line args and returns the exit code. ctx is
// cancelled by SIGINT/SIGTERM; stopSignals restores the default signal
// behaviour, so a second Ctrl-C kills a command that is slow to stop.
func run(ctx context.Context, stopSignals func(), args []string, stdout, stderr io.Writer) int {
	root := newRoot(stopSignals, stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var jerrs jobfile.Errors
	var uerr *usageError
	switch {
	case errors.As(err, &jerrs):
		for _, e := range jerrs {
			fmt.Fprintln(stderr, e)
		}
		return exitUsage
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", uerr.cmd, err, uerr.cmd)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
		return exitFailure
	}
}

func newRoot(stopSignals func(), stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "microbatch",
		Short:         "Micro-batch stream processing over Kafka",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Unknown commands reach RunE (cobra's own check returns plain
		// text); without a command: help, and usage exit code.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
				}
				return usagef(cmd, "%s", msg)
			}
			cmd.SetOut(stderr)
			cmd.Help()
			return usagef(cmd, "missing command")
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SuggestionsMinimumDistance = 2
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd.CommandPath(), err: err}
	})
	root.AddCommand(
		newRunCmd(stopSignals),
		newBrokerCmd(stopSignals),
		newProduceCmd(stopSignals),
		newStateCmd(),
		newOffsetsCmd(),
		newValidateCmd(),
	)
	return root
}

// jobArg is the Args check of commands that take one job file.
func jobArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef(cmd, "want exactly one job file, got %d arguments", len(args))
	}
	return nil
}

// loadJob loads and validates the job file; its errors are jobfile.Errors
// (exit code 2), returned with the job as far as it was read (see
// jobfile.Load), which only checkJob uses.
func loadJob(path string) (*jobfile.Job, error) {
	return jobfile.Load(path)
}

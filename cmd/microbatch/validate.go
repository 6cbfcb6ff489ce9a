package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate JOB.yaml",
		Short: "Parse and check a job file; exit 0 or print every error",
		Long: `Parse and check a job file. Prints "JOB.yaml: ok" and exits 0, or prints
one "JOB.yaml:LINE: KEY: problem" line per problem on stderr and exits 2.
The schema and the query are checked whenever their own keys are right,
so their problems show in the same run as those of other keys.`,
		Args: jobArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := checkJob(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	}
}

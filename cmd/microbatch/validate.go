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
one "JOB.yaml:LINE: KEY: problem" line per problem on stderr and exits 2.`,
		Args: jobArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			job, err := loadJob(args[0])
			if err != nil {
				return err
			}
			if err := checkJob(job); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	}
}

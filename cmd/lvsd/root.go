package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a specific exit status (e.g. 2 for an invalid config)
// out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "lvsd",
		Short:         "LVS director manager: IPVS, health checks and VRRP from one HCL file",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd())
	root.AddCommand(newValidateCmd())
	root.AddCommand(newImportCmd())
	root.AddCommand(newPlanCmd())
	root.AddCommand(newRunCmd())
	root.SetArgs(singleDashVar(os.Args[1:]))
	return root
}

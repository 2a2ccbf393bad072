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
	cobra.EnableCommandSorting = false // the order below is the order of use
	root := &cobra.Command{
		Use:   "lvsd",
		Short: "LVS director manager: IPVS, health checks and VRRP from one HCL file",
		Long: `lvsd programs the kernel's IPVS table from an HCL configuration,
health-checks the real servers, and moves the virtual addresses between
directors with VRRP. lvsd run is the daemon; status, drain, enable, disable,
reload and failover talk to a running one over its control socket.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddGroup(
		&cobra.Group{ID: "config", Title: "Configuration and the daemon:"},
		&cobra.Group{ID: "operate", Title: "Operating a running daemon:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("config", newValidateCmd(), newPlanCmd(), newRunCmd(), newImportCmd())
	add("operate", newStatusCmd(), newOverrideCmd("drain"), newOverrideCmd("disable"), newOverrideCmd("enable"),
		newReloadCmd(), newFailoverCmd())
	root.AddCommand(newVersionCmd(), newCompletionCmd(), newGenDocsCmd())
	root.SetArgs(singleDashVar(os.Args[1:]))
	return root
}

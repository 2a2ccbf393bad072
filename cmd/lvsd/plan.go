package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/ipvs"
)

func newPlanCmd() *cobra.Command {
	var (
		flags     configFlags
		offline   bool
		detailed  bool
		netns     string
		stateFile string
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what `lvsd run` would change in the kernel's IPVS table now, changing nothing",
		Long: `Plan reads the configuration and the kernel's IPVS table and prints the
operations lvsd run would apply on its first sync, one per line in ipvsadm's
notation (ipvsadm -R reads them), then a summary line starting with '#'.
Nothing is changed: not the kernel, not the state file.

Plan assumes every real server is healthy: it does not run the checks. A
real server a running daemon has taken out for failing its checks therefore
shows as added. Services lvsd owns (from the state file) that the
configuration no longer declares show as deleted, and real servers that would
drain show as set to weight 0 first, as run does. Services lvsd does not own
are never shown.

--offline plans against an empty table (no root, no kernel needed): the
operations that would program a fresh kernel.

Exit status: 0 success, 1 error, 2 invalid configuration. With
--detailed-exitcode (as terraform plan): 0 no changes, 1 error or invalid
configuration, 2 changes to make.`,
		Example: `  lvsd plan -c /etc/lvsd/lvsd.hcl
  lvsd plan -c lvsd.hcl --offline
  lvsd plan -c lvsd.hcl --detailed-exitcode || echo "changes pending"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ops, err := plan(cmd.Context(), &flags, offline, netns, stateFile, cmd.ErrOrStderr())
			if err != nil {
				var ee *exitError
				if detailed && errors.As(err, &ee) && ee.code == 2 {
					ee.code = 1
				}
				return err
			}
			writePlan(cmd.OutOrStdout(), ops)
			if detailed && len(ops) > 0 {
				return &exitError{code: 2, err: errSilent}
			}
			return nil
		},
	}
	flags.register(cmd.Flags())
	cmd.Flags().BoolVar(&offline, "offline", false, "plan against an empty IPVS table instead of the kernel's")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when there is nothing to change, 2 when there is, 1 on error")
	cmd.Flags().StringVar(&netns, "netns", "", "read the IPVS table of this network namespace (`path` /run/netns/NAME)")
	cmd.Flags().StringVar(&stateFile, "state-file", DefaultStateFile, "`file` recording the services lvsd owns, as lvsd run's (read only)")
	return cmd
}

// errSilent is an exitError's error that main does not print.
var errSilent = errors.New("")

// plan computes the operations run's first sync would apply.
func plan(ctx context.Context, flags *configFlags, offline bool, netns, stateFile string, stderr io.Writer) ([]ipvs.Op, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := flags.load(stderr)
	if err != nil {
		return nil, err
	}
	desired := director.Desired(cfg, director.Inputs{})

	var actual ipvs.Table
	if !offline {
		k, err := ipvs.New(netns)
		if err != nil {
			return nil, fmt.Errorf("%w (lvsd plan --offline plans against an empty table)", err)
		}
		defer k.Close()
		if actual, err = k.Dump(ctx); err != nil {
			return nil, err
		}
	}

	// Run the Reconciler's own first sync against a copy of the table and
	// of the state file, so the plan is what run would do (ownership,
	// adoption, drains) and nothing real changes.
	state := ""
	if stateFile != "" && !offline {
		b, err := os.ReadFile(stateFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read the state file: %w", err)
		default:
			dir, err := os.MkdirTemp("", "lvsd-plan")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(dir)
			state = filepath.Join(dir, "owned")
			if err := os.WriteFile(state, b, 0o600); err != nil {
				return nil, err
			}
		}
	}
	rec, err := ipvs.NewReconciler(ipvs.NewMemory(actual), ipvs.ReconcilerOptions{StateFile: state})
	if err != nil {
		return nil, err
	}
	rep, err := rec.Sync(ctx, desired)
	if err != nil {
		return nil, err
	}
	return rep.Ops, nil
}

func writePlan(w io.Writer, ops []ipvs.Op) {
	if len(ops) == 0 {
		fmt.Fprintln(w, "# no changes: the kernel's IPVS table matches the configuration")
		return
	}
	counts := map[string]int{}
	for _, op := range ops {
		fmt.Fprintln(w, op.String())
		switch op.Kind {
		case ipvs.AddService, ipvs.AddDestination:
			counts["add"]++
		case ipvs.UpdateService, ipvs.UpdateDestination:
			counts["change"]++
		default:
			counts["delete"]++
		}
	}
	fmt.Fprintf(w, "# %s: %d to add, %d to change, %d to delete\n", plural(len(ops), "operation"), counts["add"], counts["change"], counts["delete"])
}

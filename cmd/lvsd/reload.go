package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/control"
)

func newReloadCmd() *cobra.Command {
	var flags clientFlags
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Reload the running daemon's configuration and show what it changed",
		Long: `Reload makes the running daemon read its configuration again (the same -c
and -var it was started with), as SIGHUP and systemctl reload do, and waits
for the answer: the kernel operations it made (in ipvsadm notation) and the
warnings, or, for an invalid configuration, its errors with the offending
lines. A refused reload changes nothing: the daemon keeps running the
configuration it had.

Operator overrides (drain, disable) survive reloads and restarts; checks
whose definition did not change keep their state.` + "\n" + `
Exit status: 0 reloaded, 2 refused (invalid configuration), 1 other
errors, 3 lvsd is not running, 4 permission denied on the socket.`,
		Example: `  lvsd reload
  vi /etc/lvsd/lvsd.hcl && lvsd validate && lvsd reload`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, cancel := flags.client(cmd)
			defer cancel()
			defer c.Close()
			res, err := c.Reload(ctx)
			var re *control.ReloadError
			if errors.As(err, &re) {
				printDiagnostics(cmd.ErrOrStderr(), re.Response)
				return &exitError{code: 2, err: fmt.Errorf("reload refused, nothing changed: %s", re.Response.Error)}
			}
			if err != nil {
				return clientError(err)
			}
			printDiagnostics(cmd.ErrOrStderr(), res)
			out := cmd.OutOrStdout()
			for _, op := range res.Ops {
				fmt.Fprintln(out, op)
			}
			hash := res.Hash
			if len(hash) > 12 {
				hash = hash[:12]
			}
			what := "unchanged"
			if res.Changed {
				what = "changed"
			}
			fmt.Fprintf(out, "# reloaded: configuration %s (%s), %s, %s\n", hash, what, plural(len(res.Ops), "operation"), plural(int(res.Writes), "kernel write"))
			if res.Error != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "lvsd: the configuration is in force, but the kernel sync failed (it is retried): %s\n", res.Error)
			}
			return nil
		},
	}
	flags.register(cmd.Flags())
	return cmd
}

// printDiagnostics writes a reload's errors and warnings as validate does.
func printDiagnostics(w io.Writer, r control.ReloadResponse) {
	if r.Text != "" {
		fmt.Fprint(w, r.Text)
		return
	}
	for _, d := range r.Diagnostics {
		fmt.Fprintf(w, "%s: %s: %s\n", d.At, d.Severity, d.Summary)
	}
}

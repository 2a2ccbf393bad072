package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/control"
)

func newFailoverCmd() *cobra.Command {
	var (
		flags clientFlags
		hold  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "failover [INSTANCE]",
		Short: "Hand the VIPs to the backup: step this node's VRRP instance down for a while",
		Long: `Failover makes this node's VRRP instance (every instance it is MASTER of,
without INSTANCE) leave MASTER at once: it sends a priority 0 advert, so the
backup takes over within about a second (Skew_Time), releases the virtual
addresses, and stays out of MASTER for --for. Then it competes again with its
usual priority (and, if it preempts, takes the addresses back).

Use it to test failover, or to move traffic off a director before working on
it; for longer work, stop the daemon (systemctl stop lvsd) instead.` + exitStatusHelp,
		Example: `  lvsd failover
  lvsd failover VI_1 --for 5m`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: completeFromStatus(&flags, func(st control.Status) []string {
			var out []string
			for _, in := range st.VRRP.Instances {
				out = append(out, in.Name)
			}
			return out
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			if hold <= 0 {
				return fmt.Errorf("--for %v: want a positive duration", hold)
			}
			req := control.FailoverRequest{For: hold.String()}
			if len(args) == 1 {
				req.Instance = args[0]
			}
			c, ctx, cancel := flags.client(cmd)
			defer cancel()
			defer c.Close()
			res, err := c.Failover(ctx, req)
			if err != nil {
				return clientError(err)
			}
			if len(res.Instances) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to do: this node is MASTER of no VRRP instance")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s stepped down until %s (%s)\n", strings.Join(res.Instances, ", "),
				res.Until.Local().Format("15:04:05"), hold)
			return nil
		},
	}
	flags.register(cmd.Flags())
	cmd.Flags().DurationVar(&hold, "for", control.DefaultFailoverHold, "how long the instance stays out of MASTER")
	return cmd
}

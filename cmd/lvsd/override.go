package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/control"
)

// overrideDoc describes each override command.
var overrideDoc = map[string]struct{ short, long, example string }{
	"drain": {
		short: "Drain real servers: weight 0, established connections go on",
		long: `Drain sets the real server's weight to 0 in every service of its virtual
server: the kernel sends it no new connection and keeps forwarding the
established ones. Use it before maintenance: wait for its connections to end
(lvsd status shows ActConn/InActConn), then work on the server.`,
		example: `  lvsd drain web/web1
  lvsd drain 10.0.1.11:80
  lvsd drain 10.0.1.11 --all         # every virtual server this backend serves`,
	},
	"disable": {
		short: "Disable real servers: removed from the table as if they had failed",
		long: `Disable takes the real server out of the kernel's table as a failed check
would: weight 0 at once, then deleted when its connections end or its
virtual server's drain_timeout passes. inhibit_on_failure does not keep it.`,
		example: `  lvsd disable web/web3
  lvsd disable 10.0.1.13 --all`,
	},
	"enable": {
		short: "Clear a drain or disable: the health checks decide again",
		long: `Enable clears the operator override of the real server: it goes back to its
configured weight if its checks pass, and stays out if they do not. It also
clears the override of a real server the configuration no longer has.`,
		example: `  lvsd enable web/web1
  lvsd enable 10.0.1.11 --all`,
	},
}

const overrideCommon = `

RS names a real server: its ID VS/NAME as lvsd status shows it (web/web1),
or anything that names exactly one: its name (web1), its address with or
without port (10.0.1.11:80, 10.0.1.11), or those under a virtual server
(web/10.0.1.11). An address the backend has under several virtual servers is
ambiguous: name one, or give --all for all of them.

The override is applied at once (one kernel write per service), shown in
lvsd status, logged with who asked, and kept across reloads (SIGHUP, lvsd
reload) and restarts of the daemon (in the overrides file, lvsd run
--overrides-file) until lvsd enable clears it.`

func newOverrideCmd(verb string) *cobra.Command {
	var (
		flags clientFlags
		all   bool
	)
	doc := overrideDoc[verb]
	cmd := &cobra.Command{
		Use:               verb + " RS...",
		Short:             doc.short,
		Long:              doc.long + overrideCommon + "\n" + exitStatusHelp,
		Example:           doc.example,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeFromStatus(&flags, realServerIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, cancel := flags.client(cmd)
			defer cancel()
			defer c.Close()
			for _, ref := range args {
				res, err := c.Override(ctx, control.OverrideRequest{RealServer: ref, Override: verb, All: all})
				if err != nil {
					var api *control.APIError
					if errors.As(err, &api) && len(api.Candidates) > 0 {
						return fmt.Errorf("%s: %q matches %s; name one (lvsd %s %s) or give --all", verb, ref, strings.Join(api.Candidates, ", "), verb, api.Candidates[0])
					}
					return clientError(err)
				}
				for _, ch := range res.Changed {
					switch {
					case ch.Was == ch.Now:
						fmt.Fprintf(cmd.OutOrStdout(), "%s: %s already\n", ch.RealServer, overrideWord(ch.Now))
					default:
						fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (was %s)\n", ch.RealServer, overrideWord(ch.Now), overrideWord(ch.Was))
					}
				}
			}
			return nil
		},
	}
	flags.register(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "apply to every real server RS matches (e.g. one backend under several virtual servers)")
	return cmd
}

func overrideWord(o string) string {
	switch o {
	case "none", "":
		return "enabled"
	case "disable":
		return "disabled"
	case "drain":
		return "drained"
	}
	return o
}

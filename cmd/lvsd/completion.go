package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Completion prints the completion script for your shell. It completes
commands and flags, and asks the running daemon for real server IDs
(lvsd drain <TAB>), virtual server names (lvsd status <TAB>) and VRRP
instances (lvsd failover <TAB>) when its socket is readable.

make install puts the scripts where bash-completion, zsh and fish look for
them; to load one by hand:

  bash:  source <(lvsd completion bash)
         or: lvsd completion bash > /etc/bash_completion.d/lvsd
  zsh:   lvsd completion zsh > "${fpath[1]}/_lvsd"   (then start a new shell)
  fish:  lvsd completion fish > ~/.config/fish/completions/lvsd.fish`,
		Example: `  source <(lvsd completion bash)
  lvsd completion zsh > /usr/local/share/zsh/site-functions/_lvsd`,
		Args:                  cobra.ExactArgs(1),
		ValidArgs:             []string{"bash", "zsh", "fish"},
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return fmt.Errorf("unknown shell %q: want bash, zsh or fish", args[0])
		},
	}
}

package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set with -ldflags "-X main.version=v1.2.3" by make build; when
// it is not, the module version from the build info is used (go install).
var version = ""

// versionNumber is lvsd's version alone: "v0.3.0", "(devel)".
func versionNumber() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok && info.Main.Version != "" {
		v = info.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	return v
}

func versionString() string {
	goVersion := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		goVersion = info.GoVersion
	}
	return fmt.Sprintf("lvsd %s (%s)", versionNumber(), goVersion)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of lvsd",
		Long: `Version prints lvsd's version (set at build time by make build, or the
module version for go install) and the Go version it was built with. A
running daemon reports its own in lvsd status and in the lvsd_build_info
metric.`,
		Example: `  lvsd version`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), versionString())
			return nil
		},
	}
}

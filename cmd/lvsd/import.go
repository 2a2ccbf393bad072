package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/kaconf"
)

// Exit statuses of lvsd import besides 0 (converted) and 1 (an I/O error).
const (
	exitInvalid = 2 // the keepalived file cannot be read, or lvsd refuses the result
	exitStrict  = 3 // --strict and there are warnings
)

func newImportCmd() *cobra.Command {
	var (
		output   string
		strict   bool
		notes    bool
		configID string
	)
	cmd := &cobra.Command{
		Use:   "import [flags] KEEPALIVED.CONF",
		Short: "Convert a keepalived configuration to lvsd HCL",
		Long: `Import reads a keepalived configuration (with the files it includes) and
writes the equivalent lvsd HCL to standard output, or to -o FILE.

Everything lvsd does differently or not at all is reported on standard
error as a warning with its file:line; notes report what changed form but
behaves the same. keepalived's defaults are written out wherever lvsd's
differ (VRRP version 2, priorities, check intervals and timeouts, UDP for a
virtual server without protocol), so the converted node behaves as the
keepalived one, on the wire too. The result is validated as lvsd validate
would; lvsd's own warnings on it are printed too.

Exit status: 0 converted (warnings allowed), 2 the keepalived file cannot be
read or lvsd refuses the result, 3 --strict and there are warnings.`,
		Example: `  lvsd import /etc/keepalived/keepalived.conf > lvsd.hcl
  lvsd import -o /etc/lvsd/lvsd.hcl --config-id lb1 /etc/keepalived/keepalived.conf
  lvsd import --strict --notes=false keepalived.conf >/dev/null   # just the warnings`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := args[0]
			if !cmd.Flags().Changed("config-id") {
				configID = kaconf.DefaultConfigID()
			}
			if output != "" && sameFile(output, in) {
				return &exitError{code: exitInvalid, err: fmt.Errorf("-o %s would overwrite the keepalived configuration", output)}
			}
			stderr := cmd.ErrOrStderr()
			res, err := kaconf.Import(in, kaconf.ParseOptions{ConfigID: configID})
			nwarn, nnote := printWarnings(stderr, res.Warnings, notes)
			if err != nil {
				var list kaconf.ErrorList
				if errors.As(err, &list) {
					for _, e := range list {
						fmt.Fprintf(stderr, "%s: error: %s\n", e.Pos, e.Msg)
					}
					return &exitError{code: exitInvalid, err: fmt.Errorf("%s: cannot be read as keepalived reads it (%s)", in, plural(len(list), "error"))}
				}
				return err
			}

			outName := output
			if outName == "" {
				outName = "(standard output)"
			}
			if len(res.Diags) > 0 {
				width, color := terminal(stderr)
				fmt.Fprintf(stderr, "lvsd validate on the converted configuration:\n")
				if err := director.WriteDiagnostics(stderr, res.Diags, map[string][]byte{kaconf.OutputName: res.HCL}, width, color); err != nil {
					return fmt.Errorf("write diagnostics: %w", err)
				}
			}
			summary := fmt.Sprintf("%s: %s, %s", in, plural(nwarn, "warning"), plural(nnote, "note"))
			if res.Config != nil {
				summary += fmt.Sprintf("; %s, %s, %s",
					plural(len(res.Config.VirtualServers), "virtual server"),
					plural(res.Config.RealServerCount(), "real server"),
					plural(len(res.Config.VRRPInstances), "vrrp instance"))
			}
			if strict && nwarn > 0 {
				fmt.Fprintln(stderr, "lvsd import:", summary)
				return &exitError{code: exitStrict, err: fmt.Errorf("%s: %s with --strict; nothing written", in, plural(nwarn, "warning"))}
			}
			if err := writeOutput(cmd.OutOrStdout(), output, res.HCL); err != nil {
				return err
			}
			fmt.Fprintln(stderr, "lvsd import:", summary, "->", outName)
			if res.Diags.HasErrors() {
				return &exitError{code: exitInvalid, err: fmt.Errorf("the converted configuration does not validate (%s): fix it by hand (the messages above point into %s)", countDiags(res.Diags), kaconf.OutputName)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the HCL to `FILE` instead of standard output")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail (exit 3, write nothing) when anything does not map")
	cmd.Flags().BoolVar(&notes, "notes", true, "print notes (what changed form but behaves the same) besides warnings")
	cmd.Flags().StringVar(&configID, "config-id", "", "keepalived's -i: which @ID conditional lines to keep (default: the host name, as keepalived)")
	return cmd
}

func printWarnings(w io.Writer, warns []kaconf.Warning, notes bool) (nwarn, nnote int) {
	for _, x := range warns {
		if x.Note {
			nnote++
			if !notes {
				continue
			}
		} else {
			nwarn++
		}
		fmt.Fprintln(w, x.String())
	}
	return nwarn, nnote
}

// writeOutput writes the HCL to stdout, or atomically to path.
func writeOutput(stdout io.Writer, path string, b []byte) error {
	if path == "" {
		_, err := stdout.Write(b)
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

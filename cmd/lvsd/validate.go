package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lvsd/lvsd/director"
)

// DefaultConfigPath is where lvsd looks for its configuration without -c.
const DefaultConfigPath = "/etc/lvsd/lvsd.hcl"

// varEnvPrefix: LVSD_VAR_name=value sets variable name, like Terraform's
// TF_VAR_name; a -var flag wins over it.
const varEnvPrefix = "LVSD_VAR_"

// configFlags are the flags of every command that reads the configuration
// (validate, plan, run): -c and -var.
type configFlags struct {
	path string
	vars []string
}

func (f *configFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.path, "config", "c", DefaultConfigPath, "configuration `file`, or a directory whose *.hcl files are read in name order")
	fs.StringArrayVar(&f.vars, "var", nil, "set a variable, `name=value` (repeatable; also LVSD_VAR_name=value in the environment)")
}

// values returns the variable values: LVSD_VAR_* from environ, then the
// -var flags over them.
func (f *configFlags) values(environ []string) (map[string]string, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		if name, value, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, varEnvPrefix) && len(name) > len(varEnvPrefix) {
			vars[strings.TrimPrefix(name, varEnvPrefix)] = value
		}
	}
	for _, kv := range f.vars {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-var %q: want name=value", kv)
		}
		vars[name] = value
	}
	return vars, nil
}

// load reads and validates the configuration. It writes the diagnostics
// (warnings included) to diagOut and returns an exitError with status 2
// when the configuration is invalid.
func (f *configFlags) load(diagOut io.Writer) (*director.Config, error) {
	vars, err := f.values(os.Environ())
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	cfg, diags := director.LoadConfig(f.path, vars)
	if len(diags) > 0 {
		width, color := terminal(diagOut)
		if err := director.WriteDiagnostics(diagOut, diags, nil, width, color); err != nil {
			return nil, fmt.Errorf("write diagnostics: %w", err)
		}
	}
	if diags.HasErrors() {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s: invalid configuration (%s)", f.path, countDiags(diags))}
	}
	return cfg, nil
}

func countDiags(diags hcl.Diagnostics) string {
	e, w := len(diags.Errs()), len(diags)-len(diags.Errs())
	s := plural(e, "error")
	if w > 0 {
		s += ", " + plural(w, "warning")
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// terminal returns a wrapping width and whether to use colour for w: only
// for a terminal, and no colour when NO_COLOR is set.
func terminal(w io.Writer) (uint, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return 0, false
	}
	return 100, os.Getenv("NO_COLOR") == ""
}

// singleDashVar lets -var and -var=x (Terraform's and Packer's spelling)
// mean --var: pflag would read "-var" as the shorthands -v -a -r.
func singleDashVar(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		if a == "-var" || strings.HasPrefix(a, "-var=") {
			a = "-" + a
		}
		out[i] = a
	}
	return out
}

func newValidateCmd() *cobra.Command {
	var flags configFlags
	var print bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a configuration without applying it (no root, no kernel needed)",
		Long: `Validate decodes the configuration as the daemon would, evaluates its
variables, locals and dynamic blocks, and checks it. It prints every error
and warning with its file:line:col and source line, and exits 2 if there is
an error. A valid configuration prints a one-line summary and exits 0.`,
		Example: `  lvsd validate -c /etc/lvsd/lvsd.hcl
  lvsd validate -c /etc/lvsd/ -var node=lb2
  lvsd validate -c lvsd.hcl --print | jq '.VirtualServers[].Name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if print {
				b, err := cfg.JSON()
				if err != nil {
					return err
				}
				_, err = out.Write(b)
				return err
			}
			_, err = fmt.Fprintf(out, "%s: valid: %s, %s, %s (hash %s)\n", flags.path,
				plural(len(cfg.VirtualServers), "virtual server"),
				plural(cfg.RealServerCount(), "real server"),
				plural(len(cfg.VRRPInstances), "vrrp instance"),
				cfg.Hash()[:12])
			return err
		},
	}
	flags.register(cmd.Flags())
	cmd.Flags().BoolVar(&print, "print", false, "print the effective configuration (defaults applied, expressions evaluated) as JSON")
	return cmd
}

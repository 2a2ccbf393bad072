package checkers

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/checkers/hook"
)

// ExecSpec runs a command: exit 0 is up, anything else down. With
// DynamicWeight, exit codes 2..255 are up and set the real server's weight
// to the code minus 2, and exit 0 keeps the weight in force. The command
// runs in its own process group, which is killed on timeout. The
// environment carries LVSD_CHECK_ADDRESS and LVSD_CHECK_PORT (the target).
// (keepalived: MISC_CHECK with misc_path, misc_timeout, misc_dynamic.)
type ExecSpec struct {
	// Command is the program and its arguments. A program name without a
	// slash is looked up in PATH.
	Command []string
	// Env adds "KEY=value" entries to the environment.
	Env []string `json:",omitempty"`
	// DynamicWeight: see above.
	DynamicWeight bool `json:",omitempty"`
	// User runs the command as this user (a name or a numeric id), with
	// its primary and supplementary groups. Default: lvsd's own user.
	User string `json:",omitempty"`
}

func (ExecSpec) Kind() Kind { return KindExec }

func (s ExecSpec) normalized() Spec {
	if len(s.Env) == 0 {
		s.Env = nil
	}
	return s
}

func (s ExecSpec) Validate() error {
	if len(s.Command) == 0 || s.Command[0] == "" {
		return errors.New("no command")
	}
	for _, e := range s.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("environment entry %q is not KEY=value", e)
		}
	}
	return nil
}

func (s ExecSpec) build(t netip.AddrPort, set Settings, _ *Env) (Check, error) {
	var cred *syscall.Credential
	if s.User != "" {
		c, err := hook.LookupUser(s.User)
		if err != nil {
			return nil, err
		}
		cred = c
	}
	env := append([]string{
		"LVSD_CHECK_ADDRESS=" + t.Addr().String(),
		"LVSD_CHECK_PORT=" + strconv.Itoa(int(t.Port())),
	}, s.Env...)
	return &execCheck{
		dynamic: s.DynamicWeight,
		cmd: hook.Command{
			Path:       s.Command[0],
			Args:       s.Command[1:],
			Env:        env,
			Timeout:    set.Timeout,
			Credential: cred,
		},
	}, nil
}

type execCheck struct {
	dynamic bool
	cmd     hook.Command
}

func (c *execCheck) Check(ctx context.Context) Result {
	start := time.Now()
	r := hook.Run(ctx, c.cmd)
	res := Result{Reason: r.String(), Latency: time.Since(start)}
	switch {
	case r.Err != nil || r.TimedOut || r.Cancelled || r.ExitCode < 0:
	case r.ExitCode == 0:
		res.OK = true
	case c.dynamic && r.ExitCode >= 2 && r.ExitCode <= 255:
		res.OK = true
		res.Weight, res.HasWeight = r.ExitCode-2, true
	}
	return res
}

package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/control"
)

// Exit statuses of the commands that talk to a running daemon (status,
// drain, enable, disable, reload, failover). 2 is "invalid configuration"
// as for validate, plan and run.
const (
	exitNotRunning = 3 // no socket, or nothing answers on it
	exitDenied     = 4 // the socket's permissions keep this user out
)

// socketEnv overrides the default socket path for every client command.
const socketEnv = "LVSD_SOCKET"

// clientFlags are the flags of every command that talks to the daemon.
type clientFlags struct {
	socket  string
	timeout time.Duration
}

func (f *clientFlags) register(fs *pflag.FlagSet) {
	def := director.DefaultControlSocket
	if s := os.Getenv(socketEnv); s != "" {
		def = s
	}
	fs.StringVar(&f.socket, "socket", def, "the daemon's control `socket` (control.socket in its configuration; also "+socketEnv+")")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up after this long")
}

// client returns a client and a context bounded by --timeout.
func (f *clientFlags) client(cmd *cobra.Command) (*control.Client, context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	return control.NewClient(f.socket), ctx, cancel
}

// clientError gives errors reaching the daemon their exit status.
func clientError(err error) error {
	var de *control.DialError
	if errors.As(err, &de) {
		switch de.Reach {
		case control.NotRunning:
			return &exitError{code: exitNotRunning, err: err}
		case control.Denied:
			return &exitError{code: exitDenied, err: err}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("no answer from lvsd within --timeout")
	}
	return err
}

// exitStatusHelp is the part of each client command's help about exit
// statuses.
const exitStatusHelp = `
Exit status: 0 done, 1 error (e.g. no such real server), 3 lvsd is not
running (no socket, or nothing answers on it), 4 permission denied on the
socket (it is mode 0600 by default: run as root, or see control.mode).`

// completeFromStatus completes arguments from the running daemon's status
// (real server IDs, virtual server names, VRRP instances); nothing when it
// cannot be reached.
func completeFromStatus(flags *clientFlags, pick func(control.Status) []string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c := control.NewClient(flags.socket)
		defer c.Close()
		st, err := c.Status(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, s := range pick(st) {
			if len(toComplete) <= len(s) && s[:len(toComplete)] == toComplete {
				out = append(out, s)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func realServerIDs(st control.Status) []string {
	var out []string
	for _, vs := range st.VirtualServers {
		for _, rs := range vs.RealServers {
			out = append(out, rs.ID)
		}
	}
	return out
}

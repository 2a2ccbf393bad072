// Package hook runs external commands for lvsd: exec health checks, and the
// commands run when a real server goes up or down or a virtual server gains
// or loses quorum. A command runs in a process group of its own, with a
// time limit; on timeout or cancellation the whole group is killed, and
// whatever the command left running in its group when it exits is killed
// too, so nothing it started is left behind. (A process that moves itself
// to another group or session, as daemons do with setsid, escapes this.)
package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Command is one command to run.
type Command struct {
	// Path is the program; a name without a slash is looked up in PATH.
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Env is added to lvsd's own environment ("KEY=value"); a key given
	// here wins.
	Env []string
	// Dir is the working directory. Default: lvsd's.
	Dir string
	// Credential runs the command as another user and group (lvsd must
	// be root). Default: lvsd's own. LookupUser fills one in from a name.
	Credential *syscall.Credential
	// Timeout limits the run. Zero means no limit other than ctx.
	Timeout time.Duration
	// KillGrace is how long the group has between SIGTERM and SIGKILL on
	// timeout. Zero kills with SIGKILL at once.
	KillGrace time.Duration
	// OutputLimit caps the combined stdout and stderr kept in the result.
	// Default 4096 bytes; the rest is read and dropped.
	OutputLimit int
}

// Result is how a command ended.
type Result struct {
	// ExitCode is the exit status, or -1 if the command did not exit on
	// its own (not started, killed by a signal).
	ExitCode int
	// Signal is the signal that ended the command, if one did.
	Signal syscall.Signal
	// TimedOut is set when lvsd killed the command for running too long;
	// Cancelled when ctx was cancelled first.
	TimedOut  bool
	Cancelled bool
	// Err is set when the command could not be started.
	Err error
	// Output is the start of the combined stdout and stderr.
	Output []byte
	// Duration is how long it ran.
	Duration time.Duration
}

// OK reports an exit status of 0.
func (r Result) OK() bool { return r.Err == nil && r.ExitCode == 0 }

// String describes how the command ended: "exit 1: no backend",
// "timeout after 2s (killed)", "killed by signal 9", "start: ...".
func (r Result) String() string {
	var s string
	switch {
	case r.Err != nil:
		s = "start: " + r.Err.Error()
	case r.TimedOut:
		s = "timeout after " + r.timeoutText() + " (process group killed)"
	case r.Cancelled:
		s = "cancelled (process group killed)"
	case r.ExitCode >= 0:
		s = fmt.Sprintf("exit %d", r.ExitCode)
	default:
		s = fmt.Sprintf("killed by signal %d (%s)", int(r.Signal), r.Signal)
	}
	if line := firstLine(r.Output); line != "" && r.Err == nil {
		s += ": " + line
	}
	return s
}

// timeoutText is filled from the command's Timeout by Run.
func (r Result) timeoutText() string { return r.Duration.Round(time.Millisecond).String() }

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// Run runs c and waits for it and its process group. It never returns
// while a process of the group it killed is still running.
func Run(ctx context.Context, c Command) Result {
	start := time.Now()
	res := Result{ExitCode: -1}
	if c.Path == "" {
		res.Err = errors.New("no command")
		return res
	}
	limit := c.OutputLimit
	if limit <= 0 {
		limit = 4096
	}
	out := &capWriter{limit: limit}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Dir = c.Dir
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.Credential}
	// Output copying must not outlive a killed group by much: a process
	// that escaped the group could hold the pipe open forever.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		res.Err = err
		res.Duration = time.Since(start)
		return res
	}
	pid := cmd.Process.Pid

	exited := make(chan struct{})
	go func() {
		waitExit(pid)
		close(exited)
	}()

	var timeout <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-exited:
	case <-timeout:
		res.TimedOut = true
		killGroup(pid, c.KillGrace, exited)
	case <-ctx.Done():
		res.Cancelled = true
		killGroup(pid, c.KillGrace, exited)
	}
	// The leader has exited but is not reaped yet, so its pid still names
	// the group: whatever it left behind dies with it.
	_ = unix.Kill(-pid, unix.SIGKILL)
	err := cmd.Wait()
	res.Duration = time.Since(start)
	res.Output = out.bytes()
	if res.TimedOut {
		res.Duration = c.Timeout
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.ExitCode = 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal()
		} else {
			res.ExitCode = ee.ExitCode()
		}
	case errors.Is(err, exec.ErrWaitDelay):
		// Exited, but a process outside the group kept its output open.
		res.ExitCode = cmd.ProcessState.ExitCode()
	default:
		res.Err = err
	}
	return res
}

// killGroup sends SIGTERM (if there is a grace period) then SIGKILL to the
// process group, and waits for the leader to exit.
func killGroup(pid int, grace time.Duration, exited <-chan struct{}) {
	if grace > 0 {
		_ = unix.Kill(-pid, unix.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-exited:
			return
		case <-t.C:
		}
	}
	_ = unix.Kill(-pid, unix.SIGKILL)
	<-exited
}

// waitExit returns when process pid has exited, without reaping it, so the
// caller can still signal its process group safely. It waits on a pidfd in
// the runtime's poller where the kernel has them (no thread blocked per
// command), else in a blocking waitid.
func waitExit(pid int) {
	if pidfd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err == nil {
		f := os.NewFile(uintptr(pidfd), "pidfd")
		defer f.Close()
		if rc, err := f.SyscallConn(); err == nil {
			// A pidfd becomes readable when the process exits.
			if rc.Read(func(fd uintptr) bool { return exitedNoHang(pid) }) == nil {
				return
			}
		}
	}
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

func exitedNoHang(pid int) bool {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return true // nothing to wait for
		}
		// With WNOHANG and no exited child the kernel reports nothing:
		// the zeroed siginfo stays zero.
		return info.Signo != 0
	}
}

// LookupUser returns the credential of a user given by name or numeric
// id: its uid, primary gid and supplementary groups.
func LookupUser(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var uerr error
		if u, uerr = user.LookupId(name); uerr != nil {
			return nil, fmt.Errorf("user %q: %w", name, err)
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return cred, nil
}

// capWriter keeps the first limit bytes written to it.
type capWriter struct {
	mu    sync.Mutex
	limit int
	buf   bytes.Buffer
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.limit - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (w *capWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes())
}

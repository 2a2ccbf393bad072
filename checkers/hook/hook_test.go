package hook

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// gone waits (bounded) until pid no longer runs: absent, or a zombie
// waiting for its new parent to reap it.
func gone(t *testing.T, pid int) bool {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		// pid (comm) S ...: the state follows the last ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

func TestRunExit(t *testing.T) {
	tests := []struct {
		body     string
		env      []string
		args     []string
		code     int
		ok       bool
		str      string
		contains string
	}{
		{body: "exit 0", code: 0, ok: true, str: "exit 0"},
		{body: "echo backend gone >&2; exit 1", code: 1, str: "exit 1: backend gone"},
		{body: "exit 7", code: 7, str: "exit 7"},
		{body: `echo "$GREETING $1"`, env: []string{"GREETING=hello"}, args: []string{"world"}, code: 0, ok: true, str: "exit 0: hello world"},
		{body: "kill -9 $$", code: -1, str: "killed by signal 9 (killed)"},
	}
	for _, tt := range tests {
		r := Run(context.Background(), Command{Path: script(t, tt.body), Args: tt.args, Env: tt.env, Timeout: 5 * time.Second})
		if r.ExitCode != tt.code || r.OK() != tt.ok || r.String() != tt.str {
			t.Errorf("%q: exit %d ok %v %q, want %d %v %q", tt.body, r.ExitCode, r.OK(), r.String(), tt.code, tt.ok, tt.str)
		}
	}
	r := Run(context.Background(), Command{Path: "/nonexistent/hook"})
	if r.Err == nil || r.OK() || !strings.HasPrefix(r.String(), "start: ") {
		t.Errorf("missing program: %+v %q", r, r.String())
	}
	r = Run(context.Background(), Command{Path: script(t, "head -c 100000 /dev/zero"), OutputLimit: 10})
	if !r.OK() || len(r.Output) != 10 {
		t.Errorf("output cap: ok %v, %d bytes kept, want 10", r.OK(), len(r.Output))
	}
}

// A hook that hangs is killed at its timeout together with the child it
// started; neither is left behind.
func TestRunTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	p := script(t, "sleep 1000 &\necho $! > "+dir+"/child\necho $$ > "+dir+"/parent\nwait\n")
	start := time.Now()
	r := Run(context.Background(), Command{Path: p, Timeout: 300 * time.Millisecond})
	took := time.Since(start)
	if !r.TimedOut || r.OK() {
		t.Fatalf("result %+v, want a timeout", r)
	}
	if r.String() != "timeout after 300ms (process group killed)" {
		t.Errorf("String() = %q", r.String())
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("Run returned after %v for a 300ms timeout", took)
	}
	for _, f := range []string{"parent", "child"} {
		pid := readPid(t, filepath.Join(dir, f))
		if !gone(t, pid) {
			t.Errorf("%s process %d still runs after the timeout", f, pid)
		}
	}
}

// Whatever a command leaves running in its group when it exits is killed.
func TestRunKillsLeftovers(t *testing.T) {
	dir := t.TempDir()
	p := script(t, "sleep 1000 &\necho $! > "+dir+"/child\nexit 0\n")
	r := Run(context.Background(), Command{Path: p, Timeout: 5 * time.Second})
	if !r.OK() {
		t.Fatalf("result %+v", r)
	}
	if pid := readPid(t, filepath.Join(dir, "child")); !gone(t, pid) {
		t.Errorf("background child %d survived its parent", pid)
	}
}

func TestRunCancel(t *testing.T) {
	dir := t.TempDir()
	p := script(t, "echo $$ > "+dir+"/parent\nsleep 1000\n")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		readPid(t, filepath.Join(dir, "parent"))
		cancel()
	}()
	r := Run(ctx, Command{Path: p, Timeout: time.Minute})
	if !r.Cancelled || r.OK() {
		t.Fatalf("result %+v, want cancelled", r)
	}
	if pid := readPid(t, filepath.Join(dir, "parent")); !gone(t, pid) {
		t.Errorf("process %d survived cancellation", pid)
	}
}

// With a grace period the group gets SIGTERM first and can clean up.
func TestRunKillGrace(t *testing.T) {
	dir := t.TempDir()
	p := script(t, "trap 'echo cleaned > "+dir+"/term; exit 3' TERM\necho $$ > "+dir+"/parent\nwhile :; do sleep 0.05; done\n")
	r := Run(context.Background(), Command{Path: p, Timeout: 300 * time.Millisecond, KillGrace: 2 * time.Second})
	if !r.TimedOut {
		t.Fatalf("result %+v, want a timeout", r)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "term")); err != nil || strings.TrimSpace(string(b)) != "cleaned" {
		t.Errorf("TERM trap did not run: %q, %v", b, err)
	}
	if pid := readPid(t, filepath.Join(dir, "parent")); !gone(t, pid) {
		t.Errorf("process %d survived", pid)
	}
}

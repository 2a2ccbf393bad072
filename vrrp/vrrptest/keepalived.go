package vrrptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/test/nstest"
)

// Keepalived is keepalived (the Debian package, 2.2.7 here) running as a
// peer in a namespace, VRRP only, as in vrrp-facts.md: -n -l -D -G -P with
// its own pid files and a configuration the test gives.
type Keepalived struct {
	t      testing.TB
	name   string
	conf   string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	once   sync.Once
}

// RequireKeepalived skips t when keepalived is not installed.
func RequireKeepalived(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived is not installed (make deps installs it)")
	}
}

// StartKeepalived runs keepalived with configuration conf in ns until the
// test ends (or Stop, Kill).
func StartKeepalived(t testing.TB, name string, ns *nstest.NS, conf string) *Keepalived {
	t.Helper()
	RequireKeepalived(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("keepalived", "-n", "-l", "-D", "-G", "-P", "-f", path,
		"-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"))
	k := &Keepalived{t: t, name: name, conf: conf, cmd: cmd, out: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = k.out, k.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := ns.Start(cmd); err != nil {
		t.Fatalf("start keepalived in %s: %v", name, err)
	}
	go func() { cmd.Wait(); close(k.exited) }()
	t.Cleanup(func() {
		k.Kill()
		if t.Failed() || os.Getenv("LVSD_TEST_LOGS") != "" {
			t.Logf("keepalived %s config:\n%s\nlog:\n%s", name, conf, tail(k.out.String(), 40))
		}
	})
	return k
}

var kaState = regexp.MustCompile(`\(([^)]+)\) Entering (MASTER|BACKUP|FAULT) STATE`)

// State is keepalived's last "(instance) Entering X STATE" for instance,
// or INIT.
func (k *Keepalived) State(instance string) string {
	s := "INIT"
	for _, m := range kaState.FindAllStringSubmatch(k.out.String(), -1) {
		if m[1] == instance {
			s = m[2]
		}
	}
	return s
}

// WaitState waits until instance is in state.
func (k *Keepalived) WaitState(d time.Duration, instance, state string) {
	k.t.Helper()
	deadline := time.Now().Add(d)
	for k.State(instance) != state {
		if time.Now().After(deadline) {
			k.t.Fatalf("keepalived %s: %s is %s after %v, want %s", k.name, instance, k.State(instance), d, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Transitions lists instance's states in order.
func (k *Keepalived) Transitions(instance string) []string {
	var out []string
	for _, m := range kaState.FindAllStringSubmatch(k.out.String(), -1) {
		if m[1] == instance {
			out = append(out, m[2])
		}
	}
	return out
}

// Stop is a graceful stop (SIGTERM to the parent).
func (k *Keepalived) Stop() {
	k.t.Helper()
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(10 * time.Second):
		k.t.Fatalf("keepalived %s did not stop within 10s", k.name)
	}
}

// Kill is SIGKILL to the whole process group: parent and VRRP child die at
// once, without a priority 0 advert (killing only the parent would be a
// graceful stop: the child notices and shuts down).
func (k *Keepalived) Kill() {
	k.once.Do(func() {
		_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
	})
	select {
	case <-k.exited:
	case <-time.After(10 * time.Second):
	}
}

// Log is keepalived's output so far.
func (k *Keepalived) Log() string { return k.out.String() }

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

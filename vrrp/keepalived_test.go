package vrrp

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// keepalived 2.2.7 (Debian) as a peer node, run per namespace as in
// vrrp-facts.md: -n -l -D -G -P with its own pid files and a config the
// test writes.

type kaSpec struct {
	Prio         uint8
	Version      uint8
	Interval     time.Duration
	AuthPass     string
	Peers        []netip.Addr
	Src          netip.Addr
	NoPreempt    bool
	PreemptDelay time.Duration
	IPv6         bool
	Excluded     []netip.Prefix // virtual_ipaddress_excluded
	Group        netip.Addr     // mcast_dst_ip
}

type kaNode struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	once   sync.Once
}

func requireKeepalived(t testing.TB) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived is not installed (make deps installs it)")
	}
}

func (s kaSpec) config(node string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id %s\n}\n", node)
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n")
	fmt.Fprintf(&b, "  priority %d\n  advert_int %s\n  version %d\n", s.Prio, strconv.FormatFloat(s.Interval.Seconds(), 'f', -1, 64), s.Version)
	if s.NoPreempt {
		b.WriteString("  nopreempt\n")
	}
	if s.PreemptDelay > 0 {
		fmt.Fprintf(&b, "  preempt_delay %s\n", strconv.FormatFloat(s.PreemptDelay.Seconds(), 'f', -1, 64))
	}
	if s.AuthPass != "" {
		fmt.Fprintf(&b, "  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", s.AuthPass)
	}
	if s.Group.IsValid() {
		fmt.Fprintf(&b, "  mcast_dst_ip %v\n", s.Group)
	}
	if len(s.Peers) > 0 {
		fmt.Fprintf(&b, "  unicast_src_ip %v\n  unicast_peer {\n", s.Src)
		for _, p := range s.Peers {
			fmt.Fprintf(&b, "    %v\n", p)
		}
		b.WriteString("  }\n")
	}
	vip := labVIP4
	if s.IPv6 {
		vip = labVIP6
	}
	fmt.Fprintf(&b, "  virtual_ipaddress {\n    %v dev eth0\n  }\n", vip)
	if len(s.Excluded) > 0 {
		b.WriteString("  virtual_ipaddress_excluded {\n")
		for _, p := range s.Excluded {
			fmt.Fprintf(&b, "    %v dev eth0\n", p)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func (l *lab) startKeepalived(node string, s kaSpec) *kaNode {
	l.t.Helper()
	requireKeepalived(l.t)
	dir := l.t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(s.config(node)), 0o644); err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command("keepalived", "-n", "-l", "-D", "-G", "-P", "-f", conf,
		"-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"))
	k := &kaNode{t: l.t, name: node, cmd: cmd, out: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = k.out, k.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := l.Node(node).NS.Start(cmd); err != nil {
		l.t.Fatalf("start keepalived in %s: %v", node, err)
	}
	go func() { cmd.Wait(); close(k.exited) }()
	l.t.Cleanup(func() {
		k.kill()
		if l.t.Failed() || os.Getenv("LVSD_TEST_LOGS") != "" {
			l.t.Logf("keepalived %s config:\n%s\nlog:\n%s", node, s.config(node), tail(k.out.String(), 40))
		}
	})
	return k
}

var kaState = regexp.MustCompile(`Entering (MASTER|BACKUP|FAULT) STATE`)

// state is keepalived's last "Entering X STATE", or INIT.
func (k *kaNode) state() string {
	m := kaState.FindAllStringSubmatch(k.out.String(), -1)
	if len(m) == 0 {
		return "INIT"
	}
	return m[len(m)-1][1]
}

func (k *kaNode) waitState(d time.Duration, state string) {
	k.t.Helper()
	deadline := time.Now().Add(d)
	for k.state() != state {
		if time.Now().After(deadline) {
			k.t.Fatalf("keepalived %s is %s after %v, want %s", k.name, k.state(), d, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop is a graceful stop (SIGTERM to the parent).
func (k *kaNode) stop() {
	k.t.Helper()
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(10 * time.Second):
		k.t.Fatalf("keepalived %s did not stop within 10s", k.name)
	}
}

// kill is SIGKILL to the whole process group: parent and VRRP child die
// at once, without a priority 0 advert (killing only the parent would be
// a graceful stop: the child notices and shuts down).
func (k *kaNode) kill() {
	k.once.Do(func() {
		_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
	})
	select {
	case <-k.exited:
	case <-time.After(10 * time.Second):
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/vrrp"
	"github.com/lvsd/lvsd/vrrp/vrrptest"
)

// VRRP through the daemon: `lvsd run` processes (this test binary
// re-executed as lvsd, see TestMain) in the node namespaces of a
// vrrptest.Lab, configured in HCL. Without virtual servers the daemon
// needs no IPVS, so these run on the host; the TestKernel* ones need the
// lab VM.

// vmargin is the slack allowed over an RFC time on a loaded two-core host
// (as the vrrp package's namespace tests): 60ms + 10%.
func vmargin(rfc time.Duration) time.Duration { return 60*time.Millisecond + rfc/10 }

// requireWithin fails unless want-early <= got <= want+vmargin(want).
func requireWithin(t *testing.T, what string, got, want, early time.Duration) {
	t.Helper()
	if got < want-early || got > want+vmargin(want) {
		t.Fatalf("%s took %v, want %v (-%v/+%v)", what, got, want, early, vmargin(want))
	}
	t.Logf("%s: %v (RFC %v)", what, got.Round(100*time.Microsecond), want.Round(100*time.Microsecond))
}

// vnode is one lvsd process on a lab node.
type vnode struct {
	*lvsdProc
	t    *testing.T
	lab  *vrrptest.Lab
	node *vrrptest.Node
	path string // its configuration file
}

// startNode writes hcl to a file and runs `lvsd run` on it in node's
// namespace, and waits until it is ready.
func startNode(t *testing.T, l *vrrptest.Lab, node, hcl string) *vnode {
	t.Helper()
	n := &vnode{t: t, lab: l, node: l.Node(node), path: filepath.Join(t.TempDir(), node+".hcl")}
	writeFile(t, n.path, hcl)
	n.lvsdProc = startLVSD(t, "-c", n.path, "--state-file", "", "--netns", n.node.NS.Path())
	return n
}

// restart runs the node again (after a stop or a kill), on its file.
func (n *vnode) restart() {
	n.t.Helper()
	n.lvsdProc = startLVSD(n.t, "-c", n.path, "--state-file", "", "--netns", n.node.NS.Path())
}

// reload writes hcl and sends SIGHUP; it returns the log mark before.
func (n *vnode) reload(hcl string) int {
	n.t.Helper()
	mark, notes := n.mark(), n.notesMark()
	writeFile(n.t, n.path, hcl)
	n.signal(syscall.SIGHUP)
	n.waitNote(notes, 10*time.Second, "READY=1")
	return mark
}

// transitions lists instance's states from the log, from mark on.
func (n *vnode) transitions(from int, instance string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, l := range n.lines[from:] {
		if strings.HasPrefix(l.msg(), "entering ") && l.str("instance") == instance {
			out = append(out, l.str("state"))
		}
	}
	return out
}

// state is instance's state by the log.
func (n *vnode) state(instance string) string {
	tr := n.transitions(0, instance)
	if len(tr) == 0 {
		return "INIT"
	}
	return tr[len(tr)-1]
}

// waitState waits until instance is in state, by the log.
func (n *vnode) waitState(d time.Duration, instance, state string) {
	n.t.Helper()
	deadline := time.Now().Add(d)
	for n.state(instance) != state {
		if time.Now().After(deadline) {
			n.t.Fatalf("lvsd %s: %s is %s after %v, want %s (went through %v)", n.node.Name, instance, n.state(instance), d, state, n.transitions(0, instance))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop is SIGTERM, and a clean exit.
func (n *vnode) stop() {
	n.t.Helper()
	n.signal(syscall.SIGTERM)
	if err := n.wait(10 * time.Second); err != nil {
		n.t.Fatalf("lvsd %s exited with %v after SIGTERM", n.node.Name, err)
	}
}

// kill is SIGKILL.
func (n *vnode) kill() {
	n.t.Helper()
	n.signal(syscall.SIGKILL)
	n.wait(10 * time.Second)
}

// vrrpHCL is a node configuration with instance VI_1 (vrid 51, the lab's
// VIP 10.200.0.100/24 on eth0) and extra text inside the instance and
// after it.
func vrrpHCL(prio int, interval, inside, after string) string {
	return fmt.Sprintf(`logging {
  level = "debug"
}
vrrp_instance "VI_1" {
  interface         = "eth0"
  vrid              = 51
  priority          = %d
  advert_interval   = %q
  virtual_addresses = ["%s"]
%s}
%s`, prio, interval, vrrptest.VIP4, inside, after)
}

// pairUp starts n1 (priority 150) and n2 (100) on cfg and waits until n1
// is master, holds the VIP and answers the client.
func pairUp(t *testing.T, l *vrrptest.Lab, cfg func(prio int) string, intv time.Duration) (*vnode, *vnode) {
	t.Helper()
	n1 := startNode(t, l, "n1", cfg(150))
	n2 := startNode(t, l, "n2", cfg(100))
	vip := vrrptest.VIP4.Addr()
	n1.waitState(vrrp.MasterDownInterval(3, 150, intv)+3*time.Second, "VI_1", "MASTER")
	l.WaitHolders(time.Second, vip, "n1")
	if l.Probe == nil {
		l.StartProbe(vip, 2*time.Millisecond)
	}
	l.Probe.WaitAnswer(t, 2*time.Second, "n1")
	if s := n2.state("VI_1"); s != "BACKUP" {
		t.Fatalf("n2 is %s, want BACKUP", s)
	}
	return n1, n2
}

// readLines reads a file written by hooks.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

package vrrp

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/vrrp/vrrptest"
)

// The VRRP lab is vrrptest's: a bridge namespace, node namespaces n1..nN
// and a client namespace that probes the virtual address and sniffs ARP,
// VRRP and neighbour adverts. Here the nodes run lvsd VRRP node processes.

var (
	labVIP4 = vrrptest.VIP4
	labVIP6 = vrrptest.VIP6
)

type lab struct {
	*vrrptest.Lab
	t testing.TB
}

func newLab(t testing.TB, n int) *lab { return &lab{Lab: vrrptest.New(t, n), t: t} }

// ---- lvsd node processes ----

type procNode struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	log  *lockedBuffer

	mu     sync.Mutex
	lines  []nodeLine
	exited chan struct{}
	waitE  error
}

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

// labConfig is a node config for the lab: interface eth0, vrid 51,
// advert interval intv, version v, VIP by family.
func labConfig(name string, prio uint8, v uint8, intv time.Duration, ipv6 bool) Config {
	vip := labVIP4
	if ipv6 {
		vip = labVIP6
	}
	return Config{Name: "VI_1", Interface: "eth0", VRID: 51, Priority: prio, Version: v, AdvertInterval: intv,
		VIPs: []VIP{{Prefix: vip}}}
}

// startLvsd runs an lvsd VRRP node process in node's namespace and waits
// until it has opened its sockets.
func (l *lab) startLvsd(node string, spec nodeSpec) *procNode {
	l.t.Helper()
	n := l.Node(node)
	exe, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), nodeEnv+"="+string(raw))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &procNode{t: l.t, name: node, cmd: cmd, log: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := n.NS.Start(cmd); err != nil {
		l.t.Fatalf("start lvsd node in %s: %v", node, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var nl nodeLine
			if json.Unmarshal(sc.Bytes(), &nl) == nil {
				p.mu.Lock()
				p.lines = append(p.lines, nl)
				p.mu.Unlock()
			}
		}
		p.waitE = cmd.Wait()
		close(p.exited)
	}()
	l.t.Cleanup(func() {
		p.kill()
		if l.t.Failed() || os.Getenv("LVSD_TEST_LOGS") != "" {
			l.t.Logf("log of lvsd %s:\n%s", node, tail(p.log.String(), 60))
		}
	})
	p.waitLine(5*time.Second, func(nl nodeLine) bool { return nl.Ev == "ready" || nl.Ev == "exit" })
	if e := p.lastExit(); e != nil {
		l.t.Fatalf("lvsd node %s failed to start: %s\n%s", node, e.Err, p.log.String())
	}
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// readyAt is when the node had opened its sockets and was about to start.
func (p *procNode) readyAt() time.Time {
	p.t.Helper()
	return time.Unix(0, p.waitLine(time.Second, func(nl nodeLine) bool { return nl.Ev == "ready" }).T)
}

func (p *procNode) lastExit() *nodeLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.lines {
		if p.lines[i].Ev == "exit" {
			return &p.lines[i]
		}
	}
	return nil
}

func (p *procNode) waitLine(d time.Duration, f func(nodeLine) bool) nodeLine {
	p.t.Helper()
	deadline := time.Now().Add(d)
	seen := 0
	for {
		p.mu.Lock()
		for ; seen < len(p.lines); seen++ {
			if f(p.lines[seen]) {
				l := p.lines[seen]
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			p.t.Fatalf("lvsd %s: timed out after %v; lines %+v", p.name, d, p.lines)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// state is the node's current state by its events.
func (p *procNode) state() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := "INIT"
	for _, l := range p.lines {
		if l.Ev == "state" {
			s = l.State
		}
	}
	return s
}

// lastStateAt is when the node last reported entering state.
func (p *procNode) lastStateAt(state string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var at time.Time
	for _, l := range p.lines {
		if l.Ev == "state" && l.State == state {
			at = time.Unix(0, l.T)
		}
	}
	return at
}

// transitions lists the node's states in order.
func (p *procNode) transitions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.lines {
		if l.Ev == "state" {
			out = append(out, l.State)
		}
	}
	return out
}

// waitState waits until the node's current state is state.
func (p *procNode) waitState(d time.Duration, state string) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for p.state() != state {
		if time.Now().After(deadline) {
			p.t.Fatalf("lvsd %s is %s after %v, want %s (went through %v)", p.name, p.state(), d, state, p.transitions())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (p *procNode) signal(s syscall.Signal) {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, s)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *procNode) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitE != nil {
			p.t.Fatalf("lvsd %s exited with %v", p.name, p.waitE)
		}
	case <-time.After(10 * time.Second):
		p.t.Fatalf("lvsd %s did not stop within 10s of SIGTERM", p.name)
	}
}

// kill sends SIGKILL (no goodbye) and reaps the process.
func (p *procNode) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
	}
}

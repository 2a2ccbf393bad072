package vrrp

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/test/nstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The VRRP lab: a bridge namespace, node namespaces n1..nN and a client
// namespace, as in vrrp-facts.md. Nodes are 10.200.0.1N/24 and
// fd00:200::1N/64, the client .50 / ::50, the virtual address .100 / ::100.
// Every node runs a UDP echo responder (standing in for the service behind
// the VIP); the client probes the VIP and sniffs ARP, VRRP and neighbour
// adverts with kernel timestamps.

var (
	labVIP4 = netip.MustParsePrefix("10.200.0.100/24")
	labVIP6 = netip.MustParsePrefix("fd00:200::100/64")
)

const echoPort = 7777

type lab struct {
	t      testing.TB
	sw     *nstest.NS
	nodes  []*labNode
	client *nstest.NS
	sniff  *sniffer
	probe  *prober
}

type labNode struct {
	name  string
	ns    *nstest.NS
	port  string // the bridge port in sw
	addr4 netip.Addr
	addr6 netip.Addr
	mac   net.HardwareAddr
	addrs *addrWatch
}

func newLab(t testing.TB, n int) *lab {
	t.Helper()
	if testing.Short() {
		t.Skip("namespace test skipped in -short mode (make test runs it)")
	}
	l := &lab{t: t}
	l.sw = nstest.New(t, "sw")
	// The bridge comes first so the switch-side veth ends get other
	// interface indexes than the node-side ends (2 in every namespace).
	// The kernel treats a carrier change of a veth whose index equals its
	// peer's as non-urgent and reports it up to a second late; real links
	// and unequal indexes are handled at once.
	if err := l.sw.Netlink().LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatalf("bridge in %s: %v", l.sw.Name, err)
	}
	ports := []string{}
	for i := 1; i <= n; i++ {
		ns := nstest.New(t, fmt.Sprintf("n%d", i))
		noDAD(t, ns)
		port := fmt.Sprintf("p%d", i)
		nstest.Veth(t, ns, "eth0", l.sw, port)
		ln := &labNode{
			name:  fmt.Sprintf("n%d", i),
			ns:    ns,
			port:  port,
			addr4: netip.AddrFrom4([4]byte{10, 200, 0, byte(10 + i)}),
			addr6: netip.MustParseAddr(fmt.Sprintf("fd00:200::%x", 0x10+i)),
		}
		ns.Addr(t, "eth0", ln.addr4.String()+"/24")
		ns.Addr(t, "eth0", ln.addr6.String()+"/64")
		link, err := ns.Netlink().LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		ln.mac = link.Attrs().HardwareAddr
		ln.addrs = watchAddrs(t, ns)
		startEcho(t, ns, ln.name)
		l.nodes = append(l.nodes, ln)
		ports = append(ports, port)
	}
	l.client = nstest.New(t, "c1")
	noDAD(t, l.client)
	nstest.Veth(t, l.client, "eth0", l.sw, "pc")
	l.client.Addr(t, "eth0", "10.200.0.50/24")
	l.client.Addr(t, "eth0", "fd00:200::50/64")
	br, err := l.sw.Netlink().LinkByName("br0")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(ports, "pc") {
		pl, err := l.sw.Netlink().LinkByName(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.sw.Netlink().LinkSetMaster(pl, br); err != nil {
			t.Fatalf("enslave %s: %v", p, err)
		}
	}
	if err := l.sw.LinkUp("br0"); err != nil {
		t.Fatal(err)
	}
	// The bridge forwards at once (no STP listening delay on new ports).
	for _, p := range append(ports, "pc") {
		waitLinkUp(t, l.sw, p)
	}
	l.sniff = startSniffer(t, l.client, "eth0")
	return l
}

func noDAD(t testing.TB, ns *nstest.NS) {
	for _, k := range []string{"net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"} {
		ns.Sysctl(t, k, "0")
	}
}

func waitLinkUp(t testing.TB, ns *nstest.NS, dev string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := ns.Netlink().LinkByName(dev)
		if err == nil && l.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s not up: %v", dev, ns.Name, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holders lists the nodes that have vip on eth0.
func (l *lab) holders(vip netip.Addr) []string {
	var out []string
	for _, n := range l.nodes {
		as, err := n.ns.Addrs("eth0")
		if err != nil {
			l.t.Fatal(err)
		}
		for _, a := range as {
			if a.Addr() == vip {
				out = append(out, n.name)
			}
		}
	}
	return out
}

func (l *lab) requireHolders(vip netip.Addr, want ...string) {
	l.t.Helper()
	if got := l.holders(vip); !slices.Equal(got, want) {
		l.t.Fatalf("%v is held by %v, want %v", vip, got, want)
	}
}

// waitHolders polls until vip is held by exactly want.
func (l *lab) waitHolders(d time.Duration, vip netip.Addr, want ...string) {
	l.t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := l.holders(vip)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("after %v %v is held by %v, want %v", d, vip, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *lab) node(name string) *labNode {
	for _, n := range l.nodes {
		if n.name == name {
			return n
		}
	}
	l.t.Fatalf("no node %s", name)
	return nil
}

// cutLink takes node's bridge port down: its cable is pulled (the node
// sees no carrier).
func (l *lab) cutLink(node string) {
	if err := l.sw.LinkDown(l.node(node).port); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) mendLink(node string) {
	if err := l.sw.LinkUp(l.node(node).port); err != nil {
		l.t.Fatal(err)
	}
}

// partition drops all traffic between the nodes' bridge ports, both ways,
// keeping the client reachable from every node.
func (l *lab) partition() {
	var rules strings.Builder
	for _, a := range l.nodes {
		for _, b := range l.nodes {
			if a != b {
				fmt.Fprintf(&rules, "  iifname %q oifname %q drop\n", a.port, b.port)
			}
		}
	}
	l.nft("table bridge lvsdpart {\n chain filt {\n  type filter hook forward priority 0;\n" + rules.String() + " }\n}\n")
}

func (l *lab) heal() { l.nft("delete table bridge lvsdpart\n") }

func (l *lab) nft(script string) {
	l.t.Helper()
	f := filepath.Join(l.t.TempDir(), "rules.nft")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := l.sw.Output(ctx, "nft", "-f", f); err != nil {
		l.t.Fatalf("nft: %v: %s", err, out)
	}
}

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
	n := l.node(node)
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
	if err := n.ns.Start(cmd); err != nil {
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

// ---- UDP echo responders and the client prober ----

func startEcho(t testing.TB, ns *nstest.NS, name string) {
	var pc net.PacketConn
	if err := ns.Do(func() (err error) {
		pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", echoPort))
		return err
	}); err != nil {
		t.Fatalf("echo responder in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { pc.Close() })
	bigBuffers(t, pc)
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n >= 8 {
				reply := append(append([]byte(nil), buf[:8]...), name...)
				pc.WriteTo(reply, from)
			}
		}
	}()
}

// bigBuffers gives a harness socket 8MB of buffers, so a moment when
// the test process is not scheduled delays replies instead of dropping them
// (which would count as an outage of the daemon under test).
func bigBuffers(t testing.TB, pc net.PacketConn) {
	rc, err := pc.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	rc.Control(func(fd uintptr) {
		for _, o := range []int{unix.SO_RCVBUFFORCE, unix.SO_SNDBUFFORCE} {
			if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o, 8<<20); err != nil {
				serr = err
			}
		}
	})
	if serr != nil {
		t.Fatalf("socket buffers: %v", serr)
	}
}

// prober sends a UDP probe to the VIP every interval and records which
// node answered when.
type prober struct {
	pc       net.PacketConn
	dst      *net.UDPAddr
	interval time.Duration
	stop     chan struct{}
	done     sync.WaitGroup

	mu      sync.Mutex
	replies []probeReply
	sends   []time.Time // by sequence number - 1
}

type probeReply struct {
	at   time.Time
	seq  uint64
	node string
}

func (l *lab) startProbe(vip netip.Addr, interval time.Duration) *prober {
	l.t.Helper()
	p := &prober{dst: &net.UDPAddr{IP: vip.AsSlice(), Port: echoPort}, interval: interval, stop: make(chan struct{})}
	if err := l.client.Do(func() (err error) {
		p.pc, err = net.ListenPacket("udp", ":0")
		return err
	}); err != nil {
		l.t.Fatal(err)
	}
	bigBuffers(l.t, p.pc)
	p.done.Add(2)
	go func() {
		defer p.done.Done()
		buf := make([]byte, 64)
		for {
			n, _, err := p.pc.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now()
			if n < 8 {
				continue
			}
			p.mu.Lock()
			p.replies = append(p.replies, probeReply{at: now, seq: binary.BigEndian.Uint64(buf), node: string(buf[8:n])})
			p.mu.Unlock()
		}
	}()
	go func() {
		defer p.done.Done()
		tk := time.NewTicker(interval)
		defer tk.Stop()
		var seq uint64
		msg := make([]byte, 8)
		for {
			select {
			case <-p.stop:
				return
			case <-tk.C:
			}
			seq++
			binary.BigEndian.PutUint64(msg, seq)
			p.mu.Lock()
			p.sends = append(p.sends, time.Now())
			p.mu.Unlock()
			p.pc.WriteTo(msg, p.dst)
		}
	}()
	l.t.Cleanup(p.close)
	l.probe = p
	return p
}

func (p *prober) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.pc.Close()
	p.done.Wait()
}

// outage is the client's longest loss of service in [from, to]: for each
// run of unanswered probes, from the send time of the last answered probe
// before it to the send time of the first answered one after (a stall of
// the prober itself loses no probe and counts nothing). It waits until to
// has passed, and returns the node answering at the end.
func (p *prober) outage(from, to time.Time) (time.Duration, string) {
	time.Sleep(time.Until(to.Add(20 * time.Millisecond)))
	p.mu.Lock()
	defer p.mu.Unlock()
	answered := map[uint64]string{}
	for _, r := range p.replies {
		answered[r.seq] = r.node
	}
	var worst time.Duration
	var lastOK time.Time
	node := ""
	lost := false
	for k, at := range p.sends {
		if at.Before(from) {
			if _, ok := answered[uint64(k+1)]; ok {
				lastOK = at
			}
			continue
		}
		if at.After(to) {
			break
		}
		n, ok := answered[uint64(k+1)]
		if !ok {
			lost = true
			continue
		}
		if lost && !lastOK.IsZero() {
			worst = max(worst, at.Sub(lastOK))
		}
		lost, lastOK, node = false, at, n
	}
	if lost && !lastOK.IsZero() {
		worst = max(worst, to.Sub(lastOK))
	}
	return worst, node
}

// answered reports whether node answers a probe within d.
func (p *prober) answered(d time.Duration, node string) bool {
	start := time.Now()
	for time.Since(start) < d {
		p.mu.Lock()
		for k := len(p.replies) - 1; k >= 0 && !p.replies[k].at.Before(start); k-- {
			if p.replies[k].node == node {
				p.mu.Unlock()
				return true
			}
		}
		p.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// waitAnswer waits until node answers a probe sent after now.
func (p *prober) waitAnswer(t testing.TB, d time.Duration, node string) time.Time {
	t.Helper()
	start := time.Now()
	for {
		p.mu.Lock()
		for _, r := range p.replies {
			if !r.at.Before(start) && r.node == node {
				p.mu.Unlock()
				return r.at
			}
		}
		p.mu.Unlock()
		if time.Since(start) > d {
			t.Fatalf("no probe answered by %s within %v", node, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---- client-side sniffer: ARP, VRRP and neighbour adverts ----

type sniffed struct {
	at      time.Time
	srcMAC  net.HardwareAddr
	kind    string // garp, vrrp, na
	src     netip.Addr
	target  netip.Addr // garp: target IP; na: target address
	prio    uint8      // vrrp
	version uint8
}

type sniffer struct {
	fd   int
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	pkts []sniffed
}

func startSniffer(t testing.TB, ns *nstest.NS, dev string) *sniffer {
	s := &sniffer{stop: make(chan struct{}), done: make(chan struct{})}
	var ifindex int
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		ifindex = ifi.Index
		proto := int(htons(unix.ETH_P_ALL))
		s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		if err := unix.Bind(s.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return err
		}
		return unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	}); err != nil {
		t.Fatalf("sniffer in %s: %v", ns.Name, err)
	}
	go s.loop()
	t.Cleanup(s.close)
	return s
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *sniffer) close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	<-s.done
	unix.Close(s.fd)
}

func (s *sniffer) loop() {
	defer close(s.done)
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		n, oobn, _, from, err := unix.Recvmsg(s.fd, buf, oob, 0)
		if err != nil {
			continue // timeout: check stop
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		at := time.Now()
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range cms {
				if cm.Header.Level == unix.SOL_SOCKET && cm.Header.Type == unix.SO_TIMESTAMPNS && len(cm.Data) >= 16 {
					sec := int64(binary.NativeEndian.Uint64(cm.Data[0:8]))
					nsec := int64(binary.NativeEndian.Uint64(cm.Data[8:16]))
					at = time.Unix(sec, nsec)
				}
			}
		}
		if p, ok := parseSniffed(buf[:n]); ok {
			p.at = at
			s.mu.Lock()
			s.pkts = append(s.pkts, p)
			s.mu.Unlock()
		}
	}
}

func parseSniffed(f []byte) (sniffed, bool) {
	var p sniffed
	if len(f) < 14 {
		return p, false
	}
	p.srcMAC = append(net.HardwareAddr(nil), f[6:12]...)
	et := binary.BigEndian.Uint16(f[12:14])
	b := f[14:]
	switch et {
	case 0x0806:
		if len(b) < 28 || binary.BigEndian.Uint16(b[6:8]) != 1 {
			return p, false
		}
		p.src = netip.AddrFrom4([4]byte(b[14:18]))
		p.target = netip.AddrFrom4([4]byte(b[24:28]))
		if p.src != p.target {
			return p, false // an ordinary request, not gratuitous
		}
		p.kind = "garp"
		return p, true
	case 0x0800:
		if len(b) < 20 || b[9] != Protocol {
			return p, false
		}
		ihl := int(b[0]&0x0f) * 4
		if len(b) < ihl+8 {
			return p, false
		}
		p.kind, p.src = "vrrp", netip.AddrFrom4([4]byte(b[12:16]))
		p.version, p.prio = b[ihl]>>4, b[ihl+2]
		return p, true
	case 0x86dd:
		if len(b) < 40+8 {
			return p, false
		}
		p.src = netip.AddrFrom16([16]byte(b[8:24]))
		switch b[6] {
		case Protocol:
			p.kind = "vrrp"
			p.version, p.prio = b[40]>>4, b[42]
			return p, true
		case 58:
			if b[40] != 136 || len(b) < 40+24 {
				return p, false
			}
			p.kind = "na"
			p.target = netip.AddrFrom16([16]byte(b[48:64]))
			return p, true
		}
	}
	return p, false
}

// find returns the packets matching f, in order.
func (s *sniffer) find(f func(sniffed) bool) []sniffed {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sniffed
	for _, p := range s.pkts {
		if f(p) {
			out = append(out, p)
		}
	}
	return out
}

// lastAdvert is the last advert with priority > 0 from src seen before t.
func (s *sniffer) lastAdvert(src netip.Addr, before time.Time) time.Time {
	var last time.Time
	for _, p := range s.find(func(p sniffed) bool { return p.kind == "vrrp" && p.src == src && p.prio > 0 }) {
		if p.at.After(before) {
			break
		}
		last = p.at
	}
	return last
}

// garps are the gratuitous ARPs / neighbour adverts for vip from mac at or
// after t.
func (s *sniffer) announcements(vip netip.Addr, mac net.HardwareAddr, after time.Time) []sniffed {
	return s.find(func(p sniffed) bool {
		return (p.kind == "garp" || p.kind == "na") && p.target == vip && p.srcMAC.String() == mac.String() && !p.at.Before(after)
	})
}

// waitNextAdvert waits for an advert from src (priority > 0) that arrives
// after t, polling every 100µs.
func (s *sniffer) waitNextAdvert(t testing.TB, src netip.Addr, after time.Time, d time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s.mu.Lock()
		for k := len(s.pkts) - 1; k >= 0 && s.pkts[k].at.After(after); k-- {
			if p := s.pkts[k]; p.kind == "vrrp" && p.src == src && p.prio > 0 {
				s.mu.Unlock()
				return p.at
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no advert from %v within %v", src, d)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// takeover is when node's first announcement of vip after t reached the
// client (kernel timestamp): the moment the new master owns the address
// and says so. Waits up to 5s.
func (l *lab) takeover(node string, vip netip.Addr, after time.Time) time.Time {
	l.t.Helper()
	return l.sniff.waitAnnouncement(l.t, 5*time.Second, vip, l.node(node).mac, after).at
}

// waitAnnouncement waits for a first announcement of vip from mac after t.
func (s *sniffer) waitAnnouncement(t testing.TB, d time.Duration, vip netip.Addr, mac net.HardwareAddr, after time.Time) sniffed {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if a := s.announcements(vip, mac, after); len(a) > 0 {
			return a[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no gratuitous ARP / neighbour advert for %v from %v within %v", vip, mac, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---- address events in a node namespace ----

type addrWatch struct {
	mu     sync.Mutex
	events []addrEvent
}

type addrEvent struct {
	at   time.Time
	addr netip.Addr
	add  bool
}

func watchAddrs(t testing.TB, ns *nstest.NS) *addrWatch {
	w := &addrWatch{}
	ch := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	if err := ns.Do(func() error { return netlink.AddrSubscribe(ch, done) }); err != nil {
		t.Fatalf("address subscription in %s: %v", ns.Name, err)
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for u := range ch {
			a, ok := netip.AddrFromSlice(u.LinkAddress.IP)
			if !ok {
				continue
			}
			w.mu.Lock()
			w.events = append(w.events, addrEvent{at: time.Now(), addr: a.Unmap(), add: u.NewAddr})
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		close(done)
		select {
		case <-finished:
		case <-time.After(2 * time.Second):
		}
	})
	return w
}

// added is when vip was first added at or after t (zero if not).
func (w *addrWatch) added(vip netip.Addr, after time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.add && e.addr == vip && !e.at.Before(after) {
			return e.at
		}
	}
	return time.Time{}
}

// removed is when vip was first removed at or after t (zero if not).
func (w *addrWatch) removed(vip netip.Addr, after time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if !e.add && e.addr == vip && !e.at.Before(after) {
			return e.at
		}
	}
	return time.Time{}
}

func (w *addrWatch) waitAdded(t testing.TB, d time.Duration, vip netip.Addr, after time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if at := w.added(vip, after); !at.IsZero() {
			return at
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v not added within %v", vip, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

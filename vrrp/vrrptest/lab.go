// Package vrrptest is a network lab for VRRP tests: a LAN of node
// namespaces joined by a bridge, a client namespace that probes a virtual
// address and sniffs ARP, VRRP and neighbour adverts with kernel
// timestamps, link cuts and partitions, and keepalived as a peer. The
// daemons under test are the caller's (lvsd processes, keepalived); the lab
// only builds the network and watches it. It needs root (nstest) and cleans
// up after the test.
//
// Nodes are n1..nN with eth0 at 10.200.0.1N/24 and fd00:200::1N/64, the
// client c1 at .50 / ::50, as in ../shared/notes/vrrp-facts.md. Every node
// runs a UDP echo responder on port 7777 answering with its name, so the
// client sees which node holds the address it probes.
package vrrptest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lvsd/test/nstest"
)

// The lab's usual virtual addresses.
var (
	VIP4 = netip.MustParsePrefix("10.200.0.100/24")
	VIP6 = netip.MustParsePrefix("fd00:200::100/64")
)

// EchoPort is the UDP port of the nodes' echo responders.
const EchoPort = 7777

// Lab is a LAN of nodes and a client.
type Lab struct {
	t      testing.TB
	sw     *nstest.NS
	Nodes  []*Node
	Client *nstest.NS
	Sniff  *Sniffer
	Probe  *Prober
}

// Node is one node namespace on the LAN.
type Node struct {
	Name  string
	NS    *nstest.NS
	Port  string // its port on the bridge
	Addr4 netip.Addr
	Addr6 netip.Addr
	MAC   net.HardwareAddr
	Addrs *AddrWatch
}

// New builds a lab of n nodes. It skips in -short mode.
func New(t testing.TB, n int) *Lab {
	t.Helper()
	if testing.Short() {
		t.Skip("namespace test skipped in -short mode (make test runs it)")
	}
	l := &Lab{t: t}
	l.sw = nstest.New(t, "sw")
	// The bridge comes first so the switch-side veth ends get other
	// interface indexes than the node-side ends (2 in every namespace).
	// The kernel treats a carrier change of a veth whose index equals its
	// peer's as non-urgent and reports it up to a second late; real links
	// and unequal indexes are handled at once.
	if err := l.sw.Netlink().LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatalf("bridge in %s: %v", l.sw.Name, err)
	}
	var ports []string
	for i := 1; i <= n; i++ {
		ns := nstest.New(t, fmt.Sprintf("n%d", i))
		noDAD(t, ns)
		port := fmt.Sprintf("p%d", i)
		nstest.Veth(t, ns, "eth0", l.sw, port)
		nd := &Node{
			Name:  fmt.Sprintf("n%d", i),
			NS:    ns,
			Port:  port,
			Addr4: netip.AddrFrom4([4]byte{10, 200, 0, byte(10 + i)}),
			Addr6: netip.MustParseAddr(fmt.Sprintf("fd00:200::%x", 0x10+i)),
		}
		ns.Addr(t, "eth0", nd.Addr4.String()+"/24")
		ns.Addr(t, "eth0", nd.Addr6.String()+"/64")
		link, err := ns.Netlink().LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		nd.MAC = link.Attrs().HardwareAddr
		nd.Addrs = WatchAddrs(t, ns)
		StartEcho(t, ns, nd.Name)
		l.Nodes = append(l.Nodes, nd)
		ports = append(ports, port)
	}
	l.Client = nstest.New(t, "c1")
	noDAD(t, l.Client)
	nstest.Veth(t, l.Client, "eth0", l.sw, "pc")
	l.Client.Addr(t, "eth0", "10.200.0.50/24")
	l.Client.Addr(t, "eth0", "fd00:200::50/64")
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
		WaitLinkUp(t, l.sw, p)
	}
	l.Sniff = StartSniffer(t, l.Client, "eth0")
	return l
}

func noDAD(t testing.TB, ns *nstest.NS) {
	for _, k := range []string{"net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"} {
		ns.Sysctl(t, k, "0")
	}
}

// WaitLinkUp waits until dev in ns is operationally up.
func WaitLinkUp(t testing.TB, ns *nstest.NS, dev string) {
	t.Helper()
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

// Node returns the node called name.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes {
		if n.Name == name {
			return n
		}
	}
	l.t.Fatalf("no node %s", name)
	return nil
}

// Holders lists the nodes that have vip on eth0 (a node whose eth0 was
// deleted holds nothing).
func (l *Lab) Holders(vip netip.Addr) []string {
	var out []string
	for _, n := range l.Nodes {
		if _, err := n.NS.Netlink().LinkByName("eth0"); err != nil {
			continue
		}
		as, err := n.NS.Addrs("eth0")
		if err != nil {
			l.t.Fatal(err)
		}
		for _, a := range as {
			if a.Addr() == vip {
				out = append(out, n.Name)
			}
		}
	}
	return out
}

// RequireHolders fails unless vip is held by exactly want.
func (l *Lab) RequireHolders(vip netip.Addr, want ...string) {
	l.t.Helper()
	if got := l.Holders(vip); !slices.Equal(got, want) {
		l.t.Fatalf("%v is held by %v, want %v", vip, got, want)
	}
}

// WaitHolders polls until vip is held by exactly want.
func (l *Lab) WaitHolders(d time.Duration, vip netip.Addr, want ...string) {
	l.t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := l.Holders(vip)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("after %v %v is held by %v, want %v", d, vip, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// CutLink takes node's bridge port down: its cable is pulled (the node
// sees no carrier).
func (l *Lab) CutLink(node string) {
	l.t.Helper()
	if err := l.sw.LinkDown(l.Node(node).Port); err != nil {
		l.t.Fatal(err)
	}
}

// MendLink puts node's cable back.
func (l *Lab) MendLink(node string) {
	l.t.Helper()
	if err := l.sw.LinkUp(l.Node(node).Port); err != nil {
		l.t.Fatal(err)
	}
}

// Partition drops all traffic between the nodes' bridge ports, both ways,
// keeping the client reachable from every node.
func (l *Lab) Partition() {
	l.t.Helper()
	var rules strings.Builder
	for _, a := range l.Nodes {
		for _, b := range l.Nodes {
			if a != b {
				fmt.Fprintf(&rules, "  iifname %q oifname %q drop\n", a.Port, b.Port)
			}
		}
	}
	l.nft("table bridge lvsdpart {\n chain filt {\n  type filter hook forward priority 0;\n" + rules.String() + " }\n}\n")
}

// Heal ends a Partition.
func (l *Lab) Heal() {
	l.t.Helper()
	l.nft("delete table bridge lvsdpart\n")
}

func (l *Lab) nft(script string) {
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

// Takeover is when node's first announcement of vip after t reached the
// client (kernel timestamp): the moment the new master owns the address
// and says so. It waits up to 5s.
func (l *Lab) Takeover(node string, vip netip.Addr, after time.Time) time.Time {
	l.t.Helper()
	return l.Sniff.WaitAnnouncement(l.t, 5*time.Second, vip, l.Node(node).MAC, after).At
}

// StartProbe probes vip from the client every interval.
func (l *Lab) StartProbe(vip netip.Addr, interval time.Duration) *Prober {
	l.t.Helper()
	l.Probe = StartProber(l.t, l.Client, vip, interval)
	return l.Probe
}

// WaitPortUp waits until node's bridge port is up again after MendLink.
func (l *Lab) WaitPortUp(node string) {
	l.t.Helper()
	WaitLinkUp(l.t, l.sw, l.Node(node).Port)
}

// DeleteLink deletes node's eth0 (and its bridge port with it), as when an
// interface goes away under a running daemon.
func (l *Lab) DeleteLink(node string) {
	l.t.Helper()
	n := l.Node(node)
	link, err := n.NS.Netlink().LinkByName("eth0")
	if err != nil {
		l.t.Fatal(err)
	}
	if err := n.NS.Netlink().LinkDel(link); err != nil {
		l.t.Fatalf("delete eth0 of %s: %v", node, err)
	}
}

// RestoreLink makes node's eth0 again, with its addresses, on the bridge
// (a new interface: new index, new MAC, which Node.MAC then holds).
func (l *Lab) RestoreLink(node string) {
	l.t.Helper()
	n := l.Node(node)
	nstest.Veth(l.t, n.NS, "eth0", l.sw, n.Port)
	n.NS.Addr(l.t, "eth0", n.Addr4.String()+"/24")
	n.NS.Addr(l.t, "eth0", n.Addr6.String()+"/64")
	link, err := n.NS.Netlink().LinkByName("eth0")
	if err != nil {
		l.t.Fatal(err)
	}
	n.MAC = link.Attrs().HardwareAddr
	br, err := l.sw.Netlink().LinkByName("br0")
	if err != nil {
		l.t.Fatal(err)
	}
	pl, err := l.sw.Netlink().LinkByName(n.Port)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.sw.Netlink().LinkSetMaster(pl, br); err != nil {
		l.t.Fatalf("enslave %s: %v", n.Port, err)
	}
	WaitLinkUp(l.t, l.sw, n.Port)
}

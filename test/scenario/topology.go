package scenario

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// Mode is the IPVS forwarding method the lab runs.
type Mode string

const (
	NAT Mode = "nat"
	DR  Mode = "dr"
	TUN Mode = "tun"
)

// ParseMode reads "nat", "dr" or "tun".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(s)); m {
	case NAT, DR, TUN:
		return m, nil
	}
	return "", fmt.Errorf("mode %q: want nat, dr or tun", s)
}

// The address plan. Every mode has the clients' network (front) with the
// client, both directors and the VIP; NAT and TUN add a servers' network
// (back) behind the directors.
var (
	FrontNet  = netip.MustParsePrefix("10.100.0.0/24")
	BackNet   = netip.MustParsePrefix("10.0.1.0/24")
	VIP       = netip.MustParseAddr("10.100.0.10")
	ClientIP  = netip.MustParseAddr("10.100.0.50")
	RouterIP  = netip.MustParseAddr("10.100.0.1") // TUN: the router's front leg
	BackGW    = netip.MustParseAddr("10.0.1.1")   // NAT: the inside VIP; TUN: the router's back leg
	VIPPort   = 80
	ServerNum = 3
)

// DirectorNames are the two directors; lb1 has the higher priority.
var DirectorNames = []string{"lb1", "lb2"}

// DirectorFront is director i's (0 or 1) own address on the front network.
func DirectorFront(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 100, 0, byte(11 + i)}) }

// DirectorBack is director i's own address on the back network (NAT, TUN).
func DirectorBack(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 1, byte(251 + i)}) }

// ServerNames are the web real servers; the sorry server is "sorry".
func ServerNames() []string {
	out := make([]string, ServerNum)
	for i := range out {
		out[i] = fmt.Sprintf("web%d", i+1)
	}
	return out
}

// ServerAddr is a real server's address in mode m (i: 0.. for web1..,
// -1 for the sorry server).
func ServerAddr(m Mode, i int) netip.Addr {
	if m == DR {
		if i < 0 {
			return netip.AddrFrom4([4]byte{10, 100, 0, 29})
		}
		return netip.AddrFrom4([4]byte{10, 100, 0, byte(21 + i)})
	}
	if i < 0 {
		return netip.AddrFrom4([4]byte{10, 0, 1, 99})
	}
	return netip.AddrFrom4([4]byte{10, 0, 1, byte(11 + i)})
}

// Topology is the lab's network: a switch (a namespace holding the
// bridges), the client, two directors, the web servers, a sorry server
// and, for TUN, a router between the networks.
type Topology struct {
	Mode      Mode
	Switch    *Node
	Client    *Node
	Directors []*Node
	Servers   []*Node // web1..
	Sorry     *Node
	Router    *Node // TUN only

	nodes []*Node
	ports map[string][]string // node name -> its ports on the switch
	cut   map[string]bool     // nodes whose cables are pulled
	split bool
}

// Build makes the topology for mode m. On error, what was made is removed.
func Build(ctx context.Context, m Mode) (t *Topology, err error) {
	t = &Topology{Mode: m, ports: map[string][]string{}, cut: map[string]bool{}}
	defer func() {
		if err != nil {
			t.Close()
			t = nil
		}
	}()
	mk := func(name string) (*Node, error) {
		n, err := newNode(name)
		if err == nil {
			t.nodes = append(t.nodes, n)
		}
		return n, err
	}
	if t.Switch, err = mk("sw"); err != nil {
		return nil, err
	}
	// The bridges come first so that the switch's ends of the veth pairs
	// get other interface indexes than the nodes' ends (2, 3 in every new
	// namespace): the kernel reports a carrier change of a veth whose index
	// equals its peer's up to a second late, which would blur a link cut.
	for _, br := range []string{"front", "back"} {
		if err := t.Switch.bridge(br); err != nil {
			return nil, err
		}
	}
	plug := func(n *Node, dev, br string) error {
		port := fmt.Sprintf("%s-%s", n.Name, dev)
		if err := veth(t.Switch, port, n, dev); err != nil {
			return err
		}
		t.ports[n.Name] = append(t.ports[n.Name], port)
		return t.Switch.enslave(port, br)
	}
	pfx := func(a netip.Addr, net netip.Prefix) netip.Prefix { return netip.PrefixFrom(a, net.Bits()) }

	if t.Client, err = mk("client"); err != nil {
		return nil, err
	}
	if err := plug(t.Client, "eth0", "front"); err != nil {
		return nil, err
	}
	if err := t.Client.AddAddr("eth0", pfx(ClientIP, FrontNet)); err != nil {
		return nil, err
	}

	if m == TUN {
		if t.Router, err = mk("router"); err != nil {
			return nil, err
		}
		if err := plug(t.Router, "eth0", "front"); err != nil {
			return nil, err
		}
		if err := plug(t.Router, "eth1", "back"); err != nil {
			return nil, err
		}
		for _, e := range []struct {
			dev string
			p   netip.Prefix
		}{{"eth0", pfx(RouterIP, FrontNet)}, {"eth1", pfx(BackGW, BackNet)}} {
			if err := t.Router.AddAddr(e.dev, e.p); err != nil {
				return nil, err
			}
		}
		// Replies from the real servers come from the VIP, on the back leg:
		// a strict reverse-path filter would drop them.
		for _, k := range []string{"net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.eth1.rp_filter=0"} {
			kv := strings.SplitN(k, "=", 2)
			if err := t.Router.Sysctl(kv[0], kv[1]); err != nil {
				return nil, err
			}
		}
	}

	for i, name := range DirectorNames {
		d, err := mk(name)
		if err != nil {
			return nil, err
		}
		t.Directors = append(t.Directors, d)
		if err := plug(d, "eth0", "front"); err != nil {
			return nil, err
		}
		if err := d.AddAddr("eth0", pfx(DirectorFront(i), FrontNet)); err != nil {
			return nil, err
		}
		if m != DR {
			if err := plug(d, "eth1", "back"); err != nil {
				return nil, err
			}
			if err := d.AddAddr("eth1", pfx(DirectorBack(i), BackNet)); err != nil {
				return nil, err
			}
		}
		if err := d.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
			return nil, err
		}
	}

	names := append(ServerNames(), "sorry")
	for i, name := range names {
		idx := i
		if name == "sorry" {
			idx = -1
		}
		s, err := mk(name)
		if err != nil {
			return nil, err
		}
		if name == "sorry" {
			t.Sorry = s
		} else {
			t.Servers = append(t.Servers, s)
		}
		if err := t.setupServer(s, ServerAddr(m, idx), plug); err != nil {
			return nil, err
		}
	}
	// New bridge ports forward at once (no STP); wait for their carrier.
	for _, ports := range t.ports {
		for _, p := range ports {
			if err := t.waitOperUp(ctx, p); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

func (t *Topology) setupServer(s *Node, addr netip.Addr, plug func(*Node, string, string) error) error {
	vip := netip.PrefixFrom(VIP, 32)
	switch t.Mode {
	case NAT:
		if err := plug(s, "eth0", "back"); err != nil {
			return err
		}
		if err := s.AddAddr("eth0", netip.PrefixFrom(addr, BackNet.Bits())); err != nil {
			return err
		}
		// Replies go back through the director that holds the inside VIP.
		return s.AddRoute("default", BackGW)
	case DR:
		if err := plug(s, "eth0", "front"); err != nil {
			return err
		}
		if err := s.AddAddr("eth0", netip.PrefixFrom(addr, FrontNet.Bits())); err != nil {
			return err
		}
		// The VIP on lo, never answered for in ARP (docs: examples/dr-web.hcl).
		for _, kv := range [][2]string{{"net.ipv4.conf.all.arp_ignore", "1"}, {"net.ipv4.conf.all.arp_announce", "2"}} {
			if err := s.Sysctl(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return s.AddAddr("lo", vip)
	case TUN:
		if err := plug(s, "eth0", "back"); err != nil {
			return err
		}
		if err := s.AddAddr("eth0", netip.PrefixFrom(addr, BackNet.Bits())); err != nil {
			return err
		}
		if err := s.AddRoute("default", BackGW); err != nil {
			return err
		}
		// IPIP packets from the director are decapsulated on tunl0, which
		// holds the VIP; the reply leaves by eth0 through the router.
		if _, err := s.nl.LinkByName("tunl0"); err != nil {
			if err := s.nl.LinkAdd(&netlink.Iptun{LinkAttrs: netlink.LinkAttrs{Name: "tunl0"}}); err != nil {
				return fmt.Errorf("tunl0 on %s: %w", s.Name, err)
			}
		}
		if err := s.LinkUp("tunl0"); err != nil {
			return err
		}
		if err := s.AddAddr("tunl0", vip); err != nil {
			return err
		}
		for _, kv := range [][2]string{
			{"net.ipv4.conf.all.arp_ignore", "1"}, {"net.ipv4.conf.all.arp_announce", "2"},
			{"net.ipv4.conf.all.rp_filter", "0"}, {"net.ipv4.conf.tunl0.rp_filter", "0"},
		} {
			if err := s.Sysctl(kv[0], kv[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *Topology) waitOperUp(ctx context.Context, port string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		l, err := t.Switch.nl.LinkByName(port)
		if err == nil && l.Attrs().OperState == netlink.OperUp {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("switch port %s not up: %v", port, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Node returns the node called name.
func (t *Topology) Node(name string) *Node {
	for _, n := range t.nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// CutLinks pulls every cable of node: its switch ports go down (the node
// sees no carrier; nothing in or out).
func (t *Topology) CutLinks(node string) error {
	var errs []error
	for _, p := range t.ports[node] {
		errs = append(errs, t.Switch.LinkDown(p))
	}
	t.cut[node] = true
	return errors.Join(errs...)
}

// IsCut says whether node's cables are pulled.
func (t *Topology) IsCut(node string) bool { return t.cut[node] }

// RestoreLinks plugs node's cables back in.
func (t *Topology) RestoreLinks(ctx context.Context, node string) error {
	for _, p := range t.ports[node] {
		if err := t.Switch.LinkUp(p); err != nil {
			return err
		}
	}
	delete(t.cut, node)
	for _, p := range t.ports[node] {
		if err := t.waitOperUp(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// Split cuts the directors off from each other, not from anyone else:
// each drops every packet from the other's addresses (VRRP adverts, sync
// messages, everything), as when the link between two switches breaks.
func (t *Topology) Split(ctx context.Context) error {
	for i, d := range t.Directors {
		peer := 1 - i
		addrs := []string{DirectorFront(peer).String()}
		if t.Mode != DR {
			addrs = append(addrs, DirectorBack(peer).String())
		}
		script := fmt.Sprintf("table inet lvsdlab_split {\n  chain in {\n    type filter hook input priority -300; policy accept;\n    ip saddr { %s } drop\n  }\n}\n", strings.Join(addrs, ", "))
		if err := d.Nft(ctx, script); err != nil {
			return fmt.Errorf("split the directors: %w", err)
		}
	}
	t.split = true
	return nil
}

// Heal undoes Split.
func (t *Topology) Heal(ctx context.Context) error {
	if !t.split {
		return nil
	}
	for _, d := range t.Directors {
		if err := d.Nft(ctx, "delete table inet lvsdlab_split\n"); err != nil {
			return fmt.Errorf("heal the directors' link: %w", err)
		}
	}
	t.split = false
	return nil
}

// Close deletes every namespace. Processes must be stopped first.
func (t *Topology) Close() {
	for i := len(t.nodes) - 1; i >= 0; i-- {
		t.nodes[i].close()
	}
	t.nodes = nil
}

// Diagram draws the topology of mode m.
func Diagram(m Mode) string {
	switch m {
	case NAT:
		return `
      client 10.100.0.50
          |                  front 10.100.0.0/24     VIP 10.100.0.10 (VRRP)
   +------+-------+
  lb1 .11       lb2 .12      directors: IPVS NAT, checks, VRRP, sync daemon
   |   .251        |  .252
   +------+-------+          back 10.0.1.0/24        VIP 10.0.1.1 (their gateway)
          |
   web1 .11  web2 .12  web3 .13  sorry .99
`
	case DR:
		return `
      client 10.100.0.50
          |                  one network 10.100.0.0/24   VIP 10.100.0.10 (VRRP)
   +------+-------+-----------+----------+----------+
  lb1 .11       lb2 .12     web1 .21   web2 .22   web3 .23   sorry .29
   directors: IPVS DR         real servers: VIP on lo, arp_ignore=1,
   (rewrite the MAC only)     answer the client directly
`
	default:
		return `
      client 10.100.0.50         router .1 (front) / 10.0.1.1 (back)
          |                          |
   +------+-------+------------------+   front 10.100.0.0/24   VIP 10.100.0.10 (VRRP)
  lb1 .11       lb2 .12
   |   .251        |  .252        directors: IPVS TUN (IPIP to the real servers)
   +------+-------+------------------+   back 10.0.1.0/24
          |
   web1 .11  web2 .12  web3 .13  sorry .99   VIP on tunl0; replies via the router
`
	}
}

package scenario

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/lvsd/lvsd/internal/nsdo"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Node is one machine of the lab: a named network namespace. The lab's
// programs (directors, servers, the client) run in it as processes or as
// goroutines whose sockets were opened inside it.
type Node struct {
	// Name is the machine's name in the lab ("lb1", "web2", "client").
	Name string
	// NS is the namespace's name under /run/netns.
	NS string
	h  netns.NsHandle
	nl *netlink.Handle
}

var nodeSeq atomic.Int64

// newNode creates the namespace lvsdlab-<name>-<pid>-<n> with lo up. The
// pid keeps parallel runs (and other helpers' tests) apart.
func newNode(name string) (*Node, error) {
	ns := fmt.Sprintf("lvsdlab-%s-%d-%d", name, os.Getpid(), nodeSeq.Add(1))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(ns)
	if err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	if err := netns.Set(orig); err != nil {
		// The thread is stuck in the new namespace: never hand it back.
		runtime.LockOSThread()
		return nil, fmt.Errorf("return from namespace %s: %w", ns, err)
	}
	nl, err := netlink.NewHandleAt(h, unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		_ = netns.DeleteNamed(ns)
		return nil, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	n := &Node{Name: name, NS: ns, h: h, nl: nl}
	if err := n.LinkUp("lo"); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// close deletes the namespace. Processes still inside keep it alive until
// they exit; the lab stops them first.
func (n *Node) close() {
	if n.nl != nil {
		n.nl.Close()
		n.nl = nil
	}
	n.h.Close()
	_ = netns.DeleteNamed(n.NS)
}

// Path is the namespace's bind mount (what `lvsd run --netns` takes).
func (n *Node) Path() string { return filepath.Join("/run/netns", n.NS) }

// Do runs fn on an OS thread inside the namespace. Sockets fn opens stay in
// the namespace; goroutines it starts do not inherit it.
func (n *Node) Do(fn func() error) error { return nsdo.Do(n.h, n.Name, fn) }

// Start starts cmd inside the namespace (a child forked from a thread in
// the namespace inherits it).
func (n *Node) Start(cmd *exec.Cmd) error { return n.Do(cmd.Start) }

// Output runs a command in the namespace and returns its combined output;
// the error carries the output too.
func (n *Node) Output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var b strings.Builder
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := n.Start(cmd); err != nil {
		return "", fmt.Errorf("%s on %s: %w", name, n.Name, err)
	}
	if err := cmd.Wait(); err != nil {
		return b.String(), fmt.Errorf("%s %s on %s: %w: %s", name, strings.Join(args, " "), n.Name, err, strings.TrimSpace(b.String()))
	}
	return b.String(), nil
}

// Dial opens a TCP connection from inside the namespace.
func (n *Node) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp4", addr)
		return err
	})
	return c, err
}

// Listen opens a TCP listener inside the namespace.
func (n *Node) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.Do(func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	return ln, err
}

func (n *Node) link(dev string) (netlink.Link, error) {
	l, err := n.nl.LinkByName(dev)
	if err != nil {
		return nil, fmt.Errorf("link %s on %s: %w", dev, n.Name, err)
	}
	return l, nil
}

// LinkUp sets dev up.
func (n *Node) LinkUp(dev string) error {
	l, err := n.link(dev)
	if err != nil {
		return err
	}
	if err := n.nl.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up on %s: %w", dev, n.Name, err)
	}
	return nil
}

// LinkDown sets dev down.
func (n *Node) LinkDown(dev string) error {
	l, err := n.link(dev)
	if err != nil {
		return err
	}
	if err := n.nl.LinkSetDown(l); err != nil {
		return fmt.Errorf("set %s down on %s: %w", dev, n.Name, err)
	}
	return nil
}

// AddAddr adds p ("10.0.0.1/24") to dev.
func (n *Node) AddAddr(dev string, p netip.Prefix) error {
	l, err := n.link(dev)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := n.nl.AddrAdd(l, a); err != nil {
		return fmt.Errorf("add %s to %s on %s: %w", p, dev, n.Name, err)
	}
	return nil
}

// Addrs lists the addresses on dev.
func (n *Node) Addrs(dev string) ([]netip.Prefix, error) {
	l, err := n.link(dev)
	if err != nil {
		return nil, err
	}
	as, err := n.nl.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s on %s: %w", dev, n.Name, err)
	}
	out := make([]netip.Prefix, 0, len(as))
	for _, a := range as {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out, nil
}

// HasAddr says whether dev holds a.
func (n *Node) HasAddr(dev string, a netip.Addr) (bool, error) {
	ps, err := n.Addrs(dev)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.Addr() == a {
			return true, nil
		}
	}
	return false, nil
}

// AddRoute adds a route to dst (a prefix, or "default") via gw.
func (n *Node) AddRoute(dst string, gw netip.Addr) error {
	r := &netlink.Route{Gw: gw.AsSlice()}
	if dst != "default" {
		p, err := netip.ParsePrefix(dst)
		if err != nil {
			return err
		}
		r.Dst = &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
	}
	if err := n.nl.RouteAdd(r); err != nil {
		return fmt.Errorf("route %s via %s on %s: %w", dst, gw, n.Name, err)
	}
	return nil
}

// Sysctl writes a sysctl ("net.ipv4.ip_forward") inside the namespace.
func (n *Node) Sysctl(key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	return n.Do(func() error {
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s on %s: %w", key, value, n.Name, err)
		}
		return nil
	})
}

// veth joins a (interface aName) and b (bName) with a veth pair, both up.
func veth(a *Node, aName string, b *Node, bName string) error {
	la := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: aName},
		PeerName:      bName,
		PeerNamespace: netlink.NsFd(int(b.h)),
	}
	if err := a.nl.LinkAdd(la); err != nil {
		return fmt.Errorf("veth %s/%s - %s/%s: %w", a.Name, aName, b.Name, bName, err)
	}
	if err := a.LinkUp(aName); err != nil {
		return err
	}
	return b.LinkUp(bName)
}

// bridge creates bridge dev on n, up, with no ports yet.
func (n *Node) bridge(dev string) error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: dev}}
	if err := n.nl.LinkAdd(br); err != nil {
		return fmt.Errorf("bridge %s on %s: %w", dev, n.Name, err)
	}
	return n.LinkUp(dev)
}

// enslave puts port into bridge dev.
func (n *Node) enslave(port, dev string) error {
	br, err := n.link(dev)
	if err != nil {
		return err
	}
	p, err := n.link(port)
	if err != nil {
		return err
	}
	if err := n.nl.LinkSetMaster(p, br); err != nil {
		return fmt.Errorf("put %s into %s on %s: %w", port, dev, n.Name, err)
	}
	return nil
}

// Nft loads an nftables script inside the namespace.
func (n *Node) Nft(ctx context.Context, script string) error {
	f, err := os.CreateTemp("", "lvsdlab-*.nft")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		f.Close()
		return err
	}
	f.Close()
	_, err = n.Output(ctx, "nft", "-f", f.Name())
	return err
}

// MAC is dev's hardware address.
func (n *Node) MAC(dev string) (net.HardwareAddr, error) {
	l, err := n.link(dev)
	if err != nil {
		return nil, err
	}
	return l.Attrs().HardwareAddr, nil
}

// Neighbor is the hardware address n's neighbour table holds for a (nil
// when it has none, or an incomplete or failed entry).
func (n *Node) Neighbor(a netip.Addr) (net.HardwareAddr, error) {
	ns, err := n.nl.NeighList(0, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("neighbours on %s: %w", n.Name, err)
	}
	for _, e := range ns {
		ip, ok := netip.AddrFromSlice(e.IP)
		if ok && ip.Unmap() == a && e.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) == 0 && len(e.HardwareAddr) > 0 {
			return e.HardwareAddr, nil
		}
	}
	return nil, nil
}

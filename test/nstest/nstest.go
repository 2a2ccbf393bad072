// Package nstest builds network-namespace topologies for tests: named
// namespaces, veth pairs, bridges, addresses, routes and sysctls, and runs
// code or commands inside a namespace. It works the same on the host and in
// the kernel lab VM. Everything a test creates is removed by t.Cleanup.
//
// Namespace names carry the test process id so that tests running in
// parallel processes never collide.
package nstest

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lvsd/lvsd/internal/nsdo"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Skip skips t, with the reason, unless namespaces can be created here.
func Skip(t testing.TB) {
	t.Helper()
	if reason := unavailable(); reason != "" {
		t.Skip(reason)
	}
}

func unavailable() string {
	if os.Geteuid() != 0 {
		return "needs root to create network namespaces (make test runs as root)"
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return "this kernel has no network namespaces"
	}
	return ""
}

var seq atomic.Int64

// NS is a named network namespace, /run/netns/<Name>.
type NS struct {
	Name   string
	handle netns.NsHandle
	nl     *netlink.Handle
}

// New creates a namespace named lvsd-<label>-<pid>-<n> with lo up. It is
// deleted when the test ends.
func New(t testing.TB, label string) *NS {
	t.Helper()
	Skip(t)
	name := fmt.Sprintf("lvsd-%s-%d-%d", label, os.Getpid(), seq.Add(1))
	if len(name) > 60 {
		name = name[:60]
	}
	ns, err := create(name)
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(ns.Close)
	if err := ns.LinkUp("lo"); err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
	return ns
}

func create(name string) (*NS, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if err != nil {
		return nil, err
	}
	if err := netns.Set(orig); err != nil {
		// The thread is stuck in the new namespace; never hand it back.
		runtime.LockOSThread()
		return nil, fmt.Errorf("return to original namespace: %w", err)
	}
	nl, err := netlink.NewHandleAt(h, unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		_ = netns.DeleteNamed(name)
		return nil, err
	}
	return &NS{Name: name, handle: h, nl: nl}, nil
}

// Close deletes the namespace. Processes still running inside keep it alive
// until they exit; tests stop their own processes first.
func (n *NS) Close() {
	if n.nl != nil {
		n.nl.Close()
		n.nl = nil
	}
	n.handle.Close()
	_ = netns.DeleteNamed(n.Name)
}

// Path is the namespace's bind mount, as moby/ipvs and `ip netns` take it.
func (n *NS) Path() string { return filepath.Join("/run/netns", n.Name) }

// Netlink is a netlink handle bound to the namespace.
func (n *NS) Netlink() *netlink.Handle { return n.nl }

// Do runs fn on an OS thread that has entered the namespace. Anything fn
// starts on other goroutines does not inherit the namespace; sockets opened
// by fn itself stay in it.
func (n *NS) Do(fn func() error) error { return nsdo.Do(n.handle, n.Name, fn) }

// Command returns a command that runs inside the namespace. Start it with
// n.Start (a child forked from a thread in the namespace inherits it).
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}

// Start starts cmd inside the namespace.
func (n *NS) Start(cmd *exec.Cmd) error {
	return n.Do(cmd.Start)
}

// Run runs cmd inside the namespace and waits for it.
func (n *NS) Run(cmd *exec.Cmd) error {
	if err := n.Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// Output runs name with args in the namespace and returns its combined
// output; the error includes that output.
func (n *NS) Output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := n.Command(ctx, name, args...)
	var b strings.Builder
	cmd.Stdout = &b
	cmd.Stderr = &b
	err := n.Run(cmd)
	if err != nil {
		return b.String(), fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), n.Name, err, b.String())
	}
	return b.String(), nil
}

// Veth connects a (interface aName) and b (interface bName) with a veth
// pair, both ends up.
func Veth(t testing.TB, a *NS, aName string, b *NS, bName string) {
	t.Helper()
	la := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: aName},
		PeerName:      bName,
		PeerNamespace: netlink.NsFd(int(b.handle)),
	}
	if err := a.nl.LinkAdd(la); err != nil {
		t.Fatalf("veth %s/%s - %s/%s: %v", a.Name, aName, b.Name, bName, err)
	}
	for _, e := range []struct {
		ns  *NS
		dev string
	}{{a, aName}, {b, bName}} {
		if err := e.ns.LinkUp(e.dev); err != nil {
			t.Fatal(err)
		}
	}
}

// Bridge creates bridge dev in n and enslaves the given interfaces.
func (n *NS) Bridge(t testing.TB, dev string, ports ...string) {
	t.Helper()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: dev}}
	if err := n.nl.LinkAdd(br); err != nil {
		t.Fatalf("bridge %s in %s: %v", dev, n.Name, err)
	}
	for _, p := range ports {
		l, err := n.nl.LinkByName(p)
		if err != nil {
			t.Fatalf("bridge port %s in %s: %v", p, n.Name, err)
		}
		if err := n.nl.LinkSetMaster(l, br); err != nil {
			t.Fatalf("enslave %s to %s in %s: %v", p, dev, n.Name, err)
		}
	}
	if err := n.LinkUp(dev); err != nil {
		t.Fatal(err)
	}
}

// LinkUp sets dev up.
func (n *NS) LinkUp(dev string) error {
	l, err := n.nl.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("link %s in %s: %w", dev, n.Name, err)
	}
	if err := n.nl.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up in %s: %w", dev, n.Name, err)
	}
	return nil
}

// LinkDown sets dev down (a cut cable, as far as the namespace can tell).
func (n *NS) LinkDown(dev string) error {
	l, err := n.nl.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("link %s in %s: %w", dev, n.Name, err)
	}
	if err := n.nl.LinkSetDown(l); err != nil {
		return fmt.Errorf("set %s down in %s: %w", dev, n.Name, err)
	}
	return nil
}

// Addr adds prefix (e.g. "10.0.0.1/24") to dev.
func (n *NS) Addr(t testing.TB, dev, prefix string) {
	t.Helper()
	if err := n.AddAddr(dev, netip.MustParsePrefix(prefix)); err != nil {
		t.Fatal(err)
	}
}

// AddAddr adds p to dev. IPv6 addresses skip duplicate address detection so
// they are usable at once.
func (n *NS) AddAddr(dev string, p netip.Prefix) error {
	l, err := n.nl.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("link %s in %s: %w", dev, n.Name, err)
	}
	a := &netlink.Addr{IPNet: prefixToIPNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := n.nl.AddrAdd(l, a); err != nil {
		return fmt.Errorf("add %s to %s in %s: %w", p, dev, n.Name, err)
	}
	return nil
}

// Addrs lists the addresses on dev.
func (n *NS) Addrs(dev string) ([]netip.Prefix, error) {
	l, err := n.nl.LinkByName(dev)
	if err != nil {
		return nil, fmt.Errorf("link %s in %s: %w", dev, n.Name, err)
	}
	as, err := n.nl.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
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

// Route adds a route to dst ("default" or a prefix) via gw ("" for a
// device route on dev).
func (n *NS) Route(t testing.TB, dst, gw, dev string) {
	t.Helper()
	r := &netlink.Route{}
	if dev != "" {
		l, err := n.nl.LinkByName(dev)
		if err != nil {
			t.Fatalf("route dev %s in %s: %v", dev, n.Name, err)
		}
		r.LinkIndex = l.Attrs().Index
	}
	if gw != "" {
		r.Gw = netip.MustParseAddr(gw).AsSlice()
	}
	if dst != "default" {
		r.Dst = prefixToIPNet(netip.MustParsePrefix(dst))
	} else if gw != "" && netip.MustParseAddr(gw).Is6() {
		r.Family = netlink.FAMILY_V6
	}
	if err := n.nl.RouteAdd(r); err != nil {
		t.Fatalf("route %s via %q dev %q in %s: %v", dst, gw, dev, n.Name, err)
	}
}

// Sysctl writes value to the sysctl key ("net.ipv4.ip_forward") inside the
// namespace.
func (n *NS) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	if err := n.SetSysctl(key, value); err != nil {
		t.Fatal(err)
	}
}

// SetSysctl is Sysctl returning the error.
func (n *NS) SetSysctl(key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	return n.Do(func() error {
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s in %s: %w", key, value, n.Name, err)
		}
		return nil
	})
}

package checkers

// Checks across a veth link between two namespaces: a client namespace
// where the checks run and a server namespace whose firewall (nftables)
// drops or rejects their packets. Also ICMP on loopback and the shared
// socket. These need root (raw sockets, namespaces).

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/test/nstest"
	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

type lab struct {
	cli, srv *nstest.NS
	t        *testing.T
}

// srv4/srv6 are the server namespace's addresses, cli4/cli6 the client's.
var (
	cli4 = mustAddr("10.77.0.1")
	srv4 = mustAddr("10.77.0.2")
	cli6 = mustAddr("fd77::1")
	srv6 = mustAddr("fd77::2")
)

func newLab(t *testing.T) *lab {
	t.Helper()
	nstest.Skip(t)
	if _, err := os.Stat("/usr/sbin/nft"); err != nil {
		t.Skip("needs nft (nftables) to drop packets in the server namespace: make deps installs it")
	}
	l := &lab{cli: nstest.New(t, "ckcli"), srv: nstest.New(t, "cksrv"), t: t}
	// nstest's IPv6 addresses are meant to skip duplicate address
	// detection but do not (it sets IFA_F_PERMANENT, 0x80, for
	// IFA_F_NODAD, 0x02): turn DAD off for the interfaces to come, so
	// that addresses (link-local ones too) work at once.
	for _, ns := range []*nstest.NS{l.cli, l.srv} {
		ns.Sysctl(t, "net.ipv6.conf.default.accept_dad", "0")
		ns.Sysctl(t, "net.ipv6.conf.all.accept_dad", "0")
	}
	nstest.Veth(t, l.cli, "eth0", l.srv, "eth0")
	l.cli.Addr(t, "eth0", cli4.String()+"/24")
	l.srv.Addr(t, "eth0", srv4.String()+"/24")
	l.cli.Addr(t, "eth0", cli6.String()+"/64")
	l.srv.Addr(t, "eth0", srv6.String()+"/64")
	l.waitReady()
	return l
}

// waitReady waits (bounded) until both ends of the link have carrier and
// no tentative address: the kernel turns a veth on asynchronously (link
// watch, up to a second), and drops what is sent before.
func (l *lab) waitReady() {
	l.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ready := true
		for _, ns := range []*nstest.NS{l.cli, l.srv} {
			link, err := ns.Netlink().LinkByName("eth0")
			if err != nil {
				l.t.Fatal(err)
			}
			if link.Attrs().OperState != netlink.OperUp {
				ready = false
			}
			addrs, err := ns.Netlink().AddrList(link, netlink.FAMILY_V6)
			if err != nil {
				l.t.Fatal(err)
			}
			for _, a := range addrs {
				if a.Flags&unix.IFA_F_TENTATIVE != 0 {
					ready = false
				}
			}
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			l.t.Fatal("veth link not up with usable addresses after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.reachable(srv4, srv6)
}

// reachable pings each of dsts from the client namespace until it answers
// (bounded): a link that is up is not yet a path. Right after the veth comes
// up the first IPv6 neighbour solicitation is sometimes lost (the kernel
// finishes setting the new link and its addresses up in the background),
// and the next one goes a second later: a check with a shorter timeout
// would fail for a reason that is not the one under test.
func (l *lab) reachable(dsts ...netip.Addr) {
	l.t.Helper()
	p := NewPinger(logrus.New())
	defer p.Close()
	deadline := time.Now().Add(5 * time.Second)
	for _, dst := range dsts {
		for {
			var err error
			l.in(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				defer cancel()
				var r PingResult
				if r, err = p.Ping(ctx, dst, netip.Addr{}, 0, 0); err == nil {
					err = r.Err
				}
			})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				l.t.Fatalf("%s does not answer pings from the client namespace after 5s: %v", dst, err)
			}
		}
	}
}

// in runs fn in the client namespace.
func (l *lab) in(fn func()) {
	if err := l.cli.Do(func() error { fn(); return nil }); err != nil {
		l.t.Fatal(err)
	}
}

// check runs def once from the client namespace.
func (l *lab) check(def Definition, p *Env) Result {
	c, err := Build(def, p)
	if err != nil {
		l.t.Fatal(err)
	}
	var r Result
	l.in(func() { r = c.Check(context.Background()) })
	return r
}

// firewall replaces the server namespace's input rules with rules
// (nft syntax, one per line); empty removes them.
func (l *lab) firewall(rules ...string) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = l.srv.Output(ctx, "nft", "delete", "table", "inet", "lvsdtest")
	if len(rules) == 0 {
		return
	}
	conf := "table inet lvsdtest {\n chain input {\n  type filter hook input priority 0; policy accept;\n  " +
		strings.Join(rules, "\n  ") + "\n }\n}\n"
	f := filepath.Join(l.t.TempDir(), "rules.nft")
	if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
		l.t.Fatal(err)
	}
	if out, err := l.srv.Output(ctx, "nft", "-f", f); err != nil {
		l.t.Fatalf("nft: %v: %s", err, out)
	}
}

// listen opens a TCP listener in the server namespace.
func (l *lab) listen(addr string) net.Listener {
	var ln net.Listener
	if err := l.srv.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		l.t.Fatal(err)
	}
	return ln
}

func TestICMPLoopback(t *testing.T) {
	nstest.Skip(t)
	p := NewEnv(nil)
	defer p.Close()
	for _, a := range []string{"127.0.0.1", "::1"} {
		r := mustCheck(t, Definition{Target: netip.AddrPortFrom(mustAddr(a), 0), Settings: Settings{Timeout: time.Second}, Spec: ICMPSpec{}}, p)
		if !r.OK || r.Reason != "echo reply" || r.Latency <= 0 || r.Latency > time.Second {
			t.Errorf("ping %s: %+v", a, r)
		}
	}
}

// Hundreds of concurrent icmp checks share one raw socket per family and
// each gets its own reply.
func TestICMPSharedSocket(t *testing.T) {
	nstest.Skip(t)
	p := NewEnv(nil)
	defer p.Close()
	const n = 300
	var wg sync.WaitGroup
	results := make([]Result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := netip.AddrFrom4([4]byte{127, 0, byte(i / 250), byte(i%250 + 1)})
			if i%3 == 0 {
				dst = mustAddr("::1")
			}
			c, err := Build(Definition{Target: netip.AddrPortFrom(dst, 0), Settings: Settings{Timeout: 3 * time.Second}, Spec: ICMPSpec{}}, p)
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = c.Check(context.Background())
		}()
	}
	wg.Wait()
	for i, r := range results {
		if !r.OK {
			t.Errorf("ping %d: %+v", i, r)
		}
	}
	if got := p.pinger.opens.Load(); got != 2 {
		t.Errorf("%d sockets opened for %d pings of two families, want 2", got, n)
	}
	// The kernel filter passed the replies only, not the echo requests
	// that loopback also delivers to a raw socket.
	if got := p.pinger.v4.received.Load() + p.pinger.v6.received.Load(); got != n {
		t.Errorf("the sockets read %d packets for %d pings, want %d", got, n, n)
	}
}

func TestChecksThroughFirewall(t *testing.T) {
	l := newLab(t)
	hold80 := serveTCP(t, l.listen("10.77.0.2:80"), hold)
	_ = hold80
	web := l.listen("10.77.0.2:8080")
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go hs.Serve(web)
	t.Cleanup(func() { hs.Close() })
	var dnsPC, udpPC net.PacketConn
	if err := l.srv.Do(func() (err error) {
		if dnsPC, err = net.ListenPacket("udp", "10.77.0.2:53"); err != nil {
			return err
		}
		udpPC, err = net.ListenPacket("udp", "10.77.0.2:9999")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	udpPC.Close() // nothing listens on 9999 any more: port unreachable
	dns := &dnsServer{pc: dnsPC, done: make(chan struct{})}
	go dns.serve()
	t.Cleanup(func() { dnsPC.Close(); <-dns.done })

	p := NewEnv(nil)
	defer p.Close()
	short := Settings{Timeout: 300 * time.Millisecond}
	defs := map[string]Definition{
		"icmp4": {Target: netip.AddrPortFrom(srv4, 0), Settings: short, Spec: ICMPSpec{}},
		"icmp6": {Target: netip.AddrPortFrom(srv6, 0), Settings: short, Spec: ICMPSpec{}},
		"tcp":   {Target: netip.AddrPortFrom(srv4, 80), Settings: short, Spec: TCPSpec{}},
		"tcp6":  {Target: netip.AddrPortFrom(srv6, 80), Settings: short, Spec: TCPSpec{}},
		"http":  {Target: netip.AddrPortFrom(srv4, 8080), Settings: short, Spec: HTTPSpec{}},
		"dns":   {Target: netip.AddrPortFrom(srv4, 53), Settings: short, Spec: DNSSpec{}},
	}
	// tcp6: the listener is on the IPv4 address only: refused.
	want := map[string]string{
		"icmp4": "echo reply", "icmp6": "echo reply", "tcp": "connected",
		"tcp6": "connect: connection refused", "http": "status 200", "dns": "NOERROR",
	}
	for name, def := range defs {
		if r := l.check(def, p); r.Reason != want[name] {
			t.Errorf("open firewall, %s: %+v, want %q", name, r, want[name])
		}
	}
	udp := Definition{Target: netip.AddrPortFrom(srv4, 9999), Settings: Settings{Timeout: 3 * time.Second}, Spec: UDPSpec{Payload: []byte("x")}}
	if r := l.check(udp, p); r.OK || r.Reason != "read: connection refused (port unreachable)" || r.Latency > time.Second {
		t.Errorf("udp to a closed port across the link: %+v", r)
	}

	// Dropped: every check times out.
	l.firewall("tcp dport { 80, 8080 } drop", "udp dport 53 drop", "icmp type echo-request drop", "icmpv6 type echo-request drop")
	dropped := map[string]string{
		"icmp4": "echo: timeout after 300ms", "icmp6": "echo: timeout after 300ms",
		"tcp": "connect: timeout after 300ms", "http": "connect: timeout after 300ms",
		"dns": "read: timeout after 300ms",
	}
	for name, reason := range dropped {
		start := time.Now()
		r := l.check(defs[name], p)
		if r.OK || r.Reason != reason {
			t.Errorf("dropped, %s: %+v, want %q", name, r, reason)
		}
		if took := time.Since(start); took < 250*time.Millisecond || took > 2*time.Second {
			t.Errorf("dropped, %s: took %v for a 300ms timeout", name, took)
		}
	}

	// Rejected with an ICMP error: the echo check fails at once with it.
	l.firewall("icmp type echo-request reject with icmp type admin-prohibited",
		"icmpv6 type echo-request reject with icmpv6 type admin-prohibited")
	for _, name := range []string{"icmp4", "icmp6"} {
		r := l.check(defs[name], p)
		from := srv4
		if name == "icmp6" {
			from = srv6
		}
		want := fmt.Sprintf("destination unreachable (administratively prohibited) from %s", from)
		if r.OK || r.Reason != want || r.Latency > 250*time.Millisecond {
			t.Errorf("rejected, %s: %+v, want %q quickly", name, r, want)
		}
	}
	l.firewall()
	if r := l.check(defs["icmp4"], p); !r.OK {
		t.Errorf("firewall removed, icmp4: %+v", r)
	}
	// One socket per family served every icmp check.
	if got := p.pinger.opens.Load(); got != 2 {
		t.Errorf("pinger opened %d sockets, want 2", got)
	}
}

package ipvs

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/test/nstest"
)

// Data path: a client namespace reaches real servers in their own
// namespaces through a director namespace whose IPVS lvsd programs. Each
// real server answers a connection with its name, then echoes lines; the
// client counts which server answered.
//
//	NAT:    client --- director (VIP) --- br0 --- real servers (default route via the director)
//	DR/TUN: client, director (VIP) and real servers on one bridge; real servers hold the VIP
//	        on lo (DR) or on the ipip device tunl0 (TUN), with arp_ignore=1, arp_announce=2

const (
	vipAddr    = "10.0.0.100"
	clientAddr = "10.0.0.10"
	client2    = "10.0.0.11"
)

type dataPath struct {
	fwd      Forward
	client   *nstest.NS
	director *nstest.NS
	rs       []*nstest.NS
	k        *Kernel
	key      ServiceKey
	reals    []netip.AddrPort // as the director forwards to them
	names    []string
}

func newDataPath(t *testing.T, fwd Forward, n int) *dataPath {
	t.Helper()
	nstest.RequireIPVS(t)
	p := &dataPath{fwd: fwd, key: tcp(vipAddr + ":80")}
	p.client = nstest.New(t, "cli")
	p.director = nstest.New(t, "dir")
	k, err := New(p.director.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	p.k = k

	if fwd == NAT {
		nstest.Veth(t, p.client, "eth0", p.director, "c0")
		p.client.Addr(t, "eth0", clientAddr+"/24")
		p.client.Addr(t, "eth0", client2+"/24")
		p.director.Addr(t, "c0", "10.0.0.1/24")
		p.director.Addr(t, "c0", vipAddr+"/32")
		p.director.Sysctl(t, "net.ipv4.ip_forward", "1")
		var ports []string
		for i := 0; i < n; i++ {
			rs := nstest.New(t, fmt.Sprintf("rs%d", i))
			port := fmt.Sprintf("r%d", i)
			nstest.Veth(t, p.director, port, rs, "eth0")
			ports = append(ports, port)
			addr := fmt.Sprintf("10.0.1.%d", 10+i)
			rs.Addr(t, "eth0", addr+"/24")
			rs.Route(t, "default", "10.0.1.1", "")
			p.addServer(t, rs, addr+":8080", netip.MustParseAddrPort(addr+":8080"))
		}
		p.director.Bridge(t, "br0", ports...)
		p.director.Addr(t, "br0", "10.0.1.1/24")
		return p
	}

	sw := nstest.New(t, "sw")
	nstest.Veth(t, p.client, "eth0", sw, "c")
	nstest.Veth(t, p.director, "eth0", sw, "d")
	ports := []string{"c", "d"}
	p.client.Addr(t, "eth0", clientAddr+"/24")
	p.client.Addr(t, "eth0", client2+"/24")
	p.director.Addr(t, "eth0", "10.0.0.1/24")
	p.director.Addr(t, "eth0", vipAddr+"/32")
	for i := 0; i < n; i++ {
		rs := nstest.New(t, fmt.Sprintf("rs%d", i))
		port := fmt.Sprintf("r%d", i)
		nstest.Veth(t, rs, "eth0", sw, port)
		ports = append(ports, port)
		addr := fmt.Sprintf("10.0.0.%d", 20+i)
		rs.Addr(t, "eth0", addr+"/24")
		for _, dev := range []string{"all", "eth0"} {
			rs.Sysctl(t, "net.ipv4.conf."+dev+".arp_ignore", "1")
			rs.Sysctl(t, "net.ipv4.conf."+dev+".arp_announce", "2")
		}
		vipDev := "lo"
		if fwd == Tunnel {
			vipDev = "tunl0"
			if err := rs.LinkUp("tunl0"); err != nil {
				t.Fatalf("%v: TUN mode needs the ipip module (its fallback device tunl0) in the kernel", err)
			}
			for _, dev := range []string{"all", "default", "eth0", "tunl0"} {
				rs.Sysctl(t, "net.ipv4.conf."+dev+".rp_filter", "0")
			}
		}
		rs.Addr(t, vipDev, vipAddr+"/32")
		p.rs = append(p.rs, rs)
		// Listen on the VIP: DR and TUN deliver packets addressed to it.
		p.addServer(t, rs, vipAddr+":80", netip.MustParseAddrPort(addr+":80"))
	}
	sw.Bridge(t, "br0", ports...)
	return p
}

// addServer starts a named TCP server in rs listening on listen, reached by
// the director at real.
func (p *dataPath) addServer(t *testing.T, rs *nstest.NS, listen string, real netip.AddrPort) {
	t.Helper()
	name := fmt.Sprintf("rs%d", len(p.names))
	var ln net.Listener
	if err := rs.Do(func() (err error) { ln, err = net.Listen("tcp4", listen); return err }); err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				fmt.Fprintf(c, "%s\n", name)
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintf(c, "%s\n", sc.Text())
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	p.reals = append(p.reals, real)
	p.names = append(p.names, name)
}

// table is the virtual service over the real servers with these weights.
func (p *dataPath) table(sched string, weights ...uint32) Table {
	v := VirtualService{Service: Service{ServiceKey: p.key, Scheduler: sched}}
	for i, w := range weights {
		v.Destinations = append(v.Destinations, Destination{Addr: p.reals[i], Forward: p.fwd, Weight: w})
	}
	return NewTable(v)
}

// hits makes n short connections to the VIP from source address src and
// returns which server answered each.
func (p *dataPath) hits(t *testing.T, n int, src string) []string {
	t.Helper()
	var out []string
	err := p.client.Do(func() error {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		for i := 0; i < n; i++ {
			c, err := d.Dial("tcp4", p.key.Addr.String())
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err != nil {
				return fmt.Errorf("connection %d: read: %w", i, err)
			}
			out = append(out, strings.TrimSpace(line))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("through %s %s: %v", p.fwd, p.key, err)
	}
	return out
}

// longConn is an established connection through the VIP.
type longConn struct {
	c      net.Conn
	r      *bufio.Reader
	server string
}

func (p *dataPath) open(t *testing.T) *longConn {
	t.Helper()
	var lc longConn
	err := p.client.Do(func() error {
		c, err := net.DialTimeout("tcp4", p.key.Addr.String(), 5*time.Second)
		if err != nil {
			return err
		}
		lc.c, lc.r = c, bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := lc.r.ReadString('\n')
		lc.server = strings.TrimSpace(line)
		return err
	})
	if err != nil {
		t.Fatalf("open a connection through %s: %v", p.key, err)
	}
	t.Cleanup(func() { lc.c.Close() })
	return &lc
}

// echo proves the connection still carries data both ways.
func (lc *longConn) echo(t *testing.T, msg string) {
	t.Helper()
	lc.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(lc.c, "%s\n", msg); err != nil {
		t.Fatalf("established connection to %s: write: %v", lc.server, err)
	}
	line, err := lc.r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != msg {
		t.Fatalf("established connection to %s: read %q, %v; want the echo %q", lc.server, line, err, msg)
	}
}

// reset closes with RST, so the director's connection entry expires in
// seconds (CLOSE) instead of minutes (TIME_WAIT).
func (lc *longConn) reset() {
	if tc, ok := lc.c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	lc.c.Close()
}

func count(hits []string) map[string]int {
	m := map[string]int{}
	for _, h := range hits {
		m[h]++
	}
	return m
}

func TestKernelDataPathNAT(t *testing.T)    { testDataPath(t, NAT) }
func TestKernelDataPathDR(t *testing.T)     { testDataPath(t, DR) }
func TestKernelDataPathTunnel(t *testing.T) { testDataPath(t, Tunnel) }

func testDataPath(t *testing.T, fwd Forward) {
	p := newDataPath(t, fwd, 2)

	t.Run("rr alternates", func(t *testing.T) {
		program(t, p.k, p.table("rr", 1, 1))
		h := p.hits(t, 20, clientAddr)
		for i := 1; i < len(h); i++ {
			if h[i] == h[i-1] {
				t.Fatalf("rr sent connections %d and %d to the same server: %v", i-1, i, h)
			}
		}
		if c := count(h); c["rs0"] != 10 || c["rs1"] != 10 {
			t.Fatalf("rr: %v", c)
		}
		if fwd == Tunnel {
			// The VIP on tunl0 would also take plain routed packets;
			// prove they came encapsulated.
			for i, rs := range p.rs {
				l, err := rs.Netlink().LinkByName("tunl0")
				if err != nil {
					t.Fatal(err)
				}
				if st := l.Attrs().Statistics; st == nil || st.RxPackets < 10 {
					t.Fatalf("rs%d received %+v packets on tunl0, want at least 10 (ipip)", i, st)
				}
			}
		}
	})

	t.Run("wrr 3:1", func(t *testing.T) {
		program(t, p.k, p.table("wrr", 3, 1))
		const n = 200
		c := count(p.hits(t, n, clientAddr))
		// The kernel's wrr is exact per cycle of 4; allow 5 points for
		// whatever else may schedule in between.
		share := float64(c["rs0"]) / n
		if share < 0.70 || share > 0.80 || c["rs0"]+c["rs1"] != n {
			t.Fatalf("wrr 3:1 over %d connections: %v (share %.2f, want 0.75 +- 0.05)", n, c, share)
		}
		t.Logf("wrr 3:1 over %d connections: %v", n, c)
	})

	t.Run("sh keeps a client on one server", func(t *testing.T) {
		program(t, p.k, p.table("sh", 1, 1))
		for _, src := range []string{clientAddr, client2} {
			if c := count(p.hits(t, 15, src)); len(c) != 1 {
				t.Fatalf("sh spread client %s over %v", src, c)
			}
		}
	})

	t.Run("weight 0 takes no new connections, keeps established ones", func(t *testing.T) {
		program(t, p.k, p.table("rr", 1, 1))
		lc := p.open(t)
		idx := slices.Index(p.names, lc.server)
		if idx < 0 {
			t.Fatalf("unknown server %q", lc.server)
		}
		weights := []uint32{1, 1}
		weights[idx] = 0
		program(t, p.k, p.table("rr", weights...))
		d, _ := dumpOK(t, p.k).Destination(p.key, p.reals[idx])
		if d.Weight != 0 || d.Stats.ActiveConns != 1 {
			t.Fatalf("quiesced server reads weight %d, %d active connections; want 0 and 1", d.Weight, d.Stats.ActiveConns)
		}
		if c := count(p.hits(t, 10, clientAddr)); c[lc.server] != 0 {
			t.Fatalf("weight-0 server %s got new connections: %v", lc.server, c)
		}
		lc.echo(t, "still here")
		lc.echo(t, "and here")
		lc.c.Close()
	})
}

// Drain end to end, with the Reconciler: a real server removed from the
// desired table keeps its established connection at weight 0, comes back
// with an update if put back, and is deleted once its last connection is
// gone; another is deleted when its drain timeout passes, connection or not.
func TestKernelDrainEndToEnd(t *testing.T) {
	p := newDataPath(t, NAT, 2)
	clk := &fakeClock{t: time.Now()}
	r := newReconciler(t, p.k, ReconcilerOptions{Clock: clk})
	const timeout = time.Minute
	desired := func(n int) Table {
		v := VirtualService{Service: Service{ServiceKey: p.key, Scheduler: "rr", DrainTimeout: timeout}}
		for i := 0; i < n; i++ {
			v.Destinations = append(v.Destinations, Destination{Addr: p.reals[i], Forward: NAT, Weight: 1})
		}
		return NewTable(v)
	}
	syncTo := func(d Table) Report {
		t.Helper()
		rep, err := r.Sync(context.Background(), d)
		if err != nil || len(rep.Failed) > 0 {
			t.Fatalf("sync: %v %v", err, rep.Failed)
		}
		return rep
	}
	syncTo(desired(2))

	// Find a connection that lands on rs1, the server we remove.
	var lc *longConn
	for i := 0; i < 4 && (lc == nil || lc.server != "rs1"); i++ {
		lc = p.open(t)
	}
	if lc.server != "rs1" {
		t.Fatalf("rr never chose rs1")
	}

	rep := syncTo(desired(1))
	if got := render(rep.Ops); !slices.Equal(got, []string{"-e -t 10.0.0.100:80 -r 10.0.1.11:8080 -m -w 0"}) || len(rep.Draining) != 1 {
		t.Fatalf("removing a busy server: %q, draining %+v", got, rep.Draining)
	}
	if c := count(p.hits(t, 6, clientAddr)); c["rs1"] != 0 {
		t.Fatalf("a draining server got new connections: %v", c)
	}
	lc.echo(t, "draining")

	// Put back during the drain: an update, the connection survives.
	rep = syncTo(desired(2))
	if got := render(rep.Ops); !slices.Equal(got, []string{"-e -t 10.0.0.100:80 -r 10.0.1.11:8080 -m -w 1"}) {
		t.Fatalf("restore: %q, want one update", got)
	}
	lc.echo(t, "restored")

	// Remove again, then end the connection: deleted well before the
	// timeout, as soon as the kernel has forgotten the connection.
	syncTo(desired(1))
	lc.reset()
	deadline := time.Now().Add(40 * time.Second)
	for {
		rep = syncTo(desired(1))
		if len(rep.Ops) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rs1 still draining 40s after its last connection closed: %+v", rep.Draining)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := render(rep.Ops); !slices.Equal(got, []string{"-d -t 10.0.0.100:80 -r 10.0.1.11:8080"}) {
		t.Fatalf("after the last connection: %q, want the delete", got)
	}
	if dumpOK(t, p.k).NumDestinations() != 1 {
		t.Fatal("rs1 still in the kernel")
	}

	// The timeout: rs0 drains with a live connection until the clock
	// passes its deadline.
	syncTo(desired(2))
	lc0 := p.open(t)
	for i := 0; i < 4 && lc0.server != "rs0"; i++ {
		lc0 = p.open(t)
	}
	if lc0.server != "rs0" {
		t.Fatal("rr never chose rs0")
	}
	only1 := NewTable(VirtualService{Service: Service{ServiceKey: p.key, Scheduler: "rr", DrainTimeout: timeout},
		Destinations: []Destination{{Addr: p.reals[1], Forward: NAT, Weight: 1}}})
	syncTo(only1)
	clk.Advance(timeout - time.Second)
	if rep := syncTo(only1); len(rep.Ops) != 0 {
		t.Fatalf("before the timeout: %q", render(rep.Ops))
	}
	lc0.echo(t, "one second left")
	clk.Advance(time.Second)
	if got := render(syncTo(only1).Ops); !slices.Equal(got, []string{"-d -t 10.0.0.100:80 -r 10.0.1.10:8080"}) {
		t.Fatalf("at the timeout: %q", got)
	}
}

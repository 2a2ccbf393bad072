package vrrp

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// conn sends and receives VRRP messages on one interface. Implementations
// own their socket; Close unblocks Read.
type conn interface {
	// Read blocks for the next packet; the Received's Msg is its own copy.
	Read() (Received, error)
	// WriteTo sends one VRRP message to dst (the group or a peer).
	WriteTo(msg []byte, dst netip.Addr) error
	Close() error
}

// openConn opens a raw IP protocol 112 socket bound to ifi, in the network
// namespace of the calling thread. With join it joins the VRRP group on
// ifi (multicast mode); unicast mode receives only what is sent to us.
// openConn opens the VRRP socket of an instance on ifi, joining group
// (none when it is the zero Addr: unicast).
func openConn(ifi *net.Interface, src, group netip.Addr) (conn, error) {
	if src.Is6() {
		return openConn6(ifi, src, group)
	}
	return openConn4(ifi, src, group)
}

// sockopts sets the options both families share: bound to the interface
// (receive only there; keepalived does the same), and control priority
// for the qdisc (TC_PRIO_CONTROL, as keepalived).
func sockopts(pc net.PacketConn, ifname string, extra func(fd int) error) error {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return fmt.Errorf("%T has no file descriptor", pc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.BindToDevice(int(fd), ifname); serr != nil {
			serr = fmt.Errorf("bind to device %s: %w", ifname, serr)
			return
		}
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PRIORITY, 6); serr != nil {
			serr = fmt.Errorf("SO_PRIORITY: %w", serr)
			return
		}
		if extra != nil {
			serr = extra(int(fd))
		}
	})
	if err != nil {
		return err
	}
	return serr
}

type conn4 struct {
	pc  net.PacketConn
	rc  *ipv4.RawConn
	src netip.Addr
	buf []byte
}

func openConn4(ifi *net.Interface, src, group netip.Addr) (conn, error) {
	pc, err := net.ListenPacket("ip4:112", "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("open raw IPv4 socket for VRRP on %s: %w", ifi.Name, err)
	}
	c := &conn4{pc: pc, src: src, buf: make([]byte, 65536)}
	if err := c.setup(ifi, group); err != nil {
		pc.Close()
		return nil, fmt.Errorf("VRRP socket on %s: %w", ifi.Name, err)
	}
	return c, nil
}

func (c *conn4) setup(ifi *net.Interface, group netip.Addr) error {
	var err error
	// IP_HDRINCL: we write the header (TTL 255, TOS 0xc0, our source).
	if c.rc, err = ipv4.NewRawConn(c.pc); err != nil {
		return err
	}
	if err := sockopts(c.pc, ifi.Name, func(fd int) error {
		// Only groups this socket joined, not every group of the host.
		return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
	}); err != nil {
		return err
	}
	if err := c.rc.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst|ipv4.FlagTTL, true); err != nil {
		return err
	}
	if err := c.rc.SetMulticastLoopback(false); err != nil {
		return err
	}
	if err := c.rc.SetMulticastInterface(ifi); err != nil {
		return err
	}
	if group.IsValid() {
		if err := c.rc.JoinGroup(ifi, &net.IPAddr{IP: group.AsSlice()}); err != nil {
			return fmt.Errorf("join %v: %w", group, err)
		}
	}
	return nil
}

func (c *conn4) Read() (Received, error) {
	for {
		h, p, cm, err := c.rc.ReadFrom(c.buf)
		if err != nil {
			return Received{}, err
		}
		if h.Protocol != Protocol {
			continue
		}
		r := Received{TTL: h.TTL, Msg: append([]byte(nil), p...)}
		r.Src, _ = netip.AddrFromSlice(h.Src.To4())
		r.Dst, _ = netip.AddrFromSlice(h.Dst.To4())
		if cm != nil {
			r.IfIndex = cm.IfIndex
		}
		if h.TotalLen != h.Len+len(p) {
			// keepalived: "ip_tot_len mismatch against received length";
			// give the filter a message that fails its length check.
			r.Msg = r.Msg[:0]
		}
		return r, nil
	}
}

func (c *conn4) WriteTo(msg []byte, dst netip.Addr) error {
	return c.rc.WriteTo(advertHeader(c.src, dst, len(msg)), msg, nil)
}

func (c *conn4) Close() error { return c.pc.Close() }

type conn6 struct {
	pc  net.PacketConn
	p   *ipv6.PacketConn
	ifi *net.Interface
	src netip.Addr
	buf []byte
}

func openConn6(ifi *net.Interface, src, group netip.Addr) (conn, error) {
	pc, err := net.ListenPacket("ip6:112", "::")
	if err != nil {
		return nil, fmt.Errorf("open raw IPv6 socket for VRRP on %s: %w", ifi.Name, err)
	}
	c := &conn6{pc: pc, p: ipv6.NewPacketConn(pc), ifi: ifi, src: src, buf: make([]byte, 65536)}
	if err := c.setup(group); err != nil {
		pc.Close()
		return nil, fmt.Errorf("VRRP socket on %s: %w", ifi.Name, err)
	}
	return c, nil
}

func (c *conn6) setup(group netip.Addr) error {
	if err := sockopts(c.pc, c.ifi.Name, func(fd int) error {
		// IPV6_MULTICAST_ALL (Linux 4.20+); older kernels lack it, and
		// the interface binding still keeps other groups' packets apart.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0)
		return nil
	}); err != nil {
		return err
	}
	for _, f := range []func() error{
		func() error {
			return c.p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		},
		func() error { return c.p.SetMulticastLoopback(false) },
		func() error { return c.p.SetMulticastInterface(c.ifi) },
		func() error { return c.p.SetMulticastHopLimit(TTL) },
		func() error { return c.p.SetHopLimit(TTL) },
		func() error { return c.p.SetTrafficClass(TOS) },
	} {
		if err := f(); err != nil {
			return err
		}
	}
	if group.IsValid() {
		if err := c.p.JoinGroup(c.ifi, &net.IPAddr{IP: group.AsSlice()}); err != nil {
			return fmt.Errorf("join %v: %w", group, err)
		}
	}
	return nil
}

func (c *conn6) Read() (Received, error) {
	n, cm, from, err := c.p.ReadFrom(c.buf)
	if err != nil {
		return Received{}, err
	}
	r := Received{Msg: append([]byte(nil), c.buf[:n]...)}
	if ia, ok := from.(*net.IPAddr); ok {
		r.Src, _ = netip.AddrFromSlice(ia.IP)
	}
	if cm != nil {
		r.TTL = cm.HopLimit
		r.IfIndex = cm.IfIndex
		r.Dst, _ = netip.AddrFromSlice(cm.Dst)
	}
	return r, nil
}

func (c *conn6) WriteTo(msg []byte, dst netip.Addr) error {
	cm := &ipv6.ControlMessage{Src: c.src.AsSlice(), IfIndex: c.ifi.Index, HopLimit: TTL, TrafficClass: TOS}
	_, err := c.p.WriteTo(msg, cm, &net.IPAddr{IP: dst.AsSlice(), Zone: c.ifi.Name})
	return err
}

func (c *conn6) Close() error { return c.pc.Close() }

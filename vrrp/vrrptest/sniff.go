package vrrptest

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/test/nstest"
)

// vrrpProto is IP protocol 112 (the vrrp package's Protocol; this package
// does not import vrrp, so that vrrp's own tests can use it).
const vrrpProto = 112

// Packet is one packet the sniffer kept: a gratuitous ARP, a VRRP advert
// or an unsolicited neighbour advert.
type Packet struct {
	At      time.Time // kernel receive timestamp
	SrcMAC  net.HardwareAddr
	Kind    string // "garp", "vrrp" or "na"
	Src     netip.Addr
	Target  netip.Addr // garp: target address; na: target address
	Prio    uint8      // vrrp
	Version uint8      // vrrp
	VRID    uint8      // vrrp
}

// Sniffer records ARP, VRRP and neighbour adverts seen on one interface.
type Sniffer struct {
	fd   int
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	pkts []Packet
}

// StartSniffer sniffs dev in ns until the test ends.
func StartSniffer(t testing.TB, ns *nstest.NS, dev string) *Sniffer {
	t.Helper()
	s := &Sniffer{stop: make(chan struct{}), done: make(chan struct{})}
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_ALL))
		s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		if err := unix.Bind(s.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
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

func (s *Sniffer) close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	<-s.done
	unix.Close(s.fd)
}

func (s *Sniffer) loop() {
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
		if p, ok := parse(buf[:n]); ok {
			p.At = at
			s.mu.Lock()
			s.pkts = append(s.pkts, p)
			s.mu.Unlock()
		}
	}
}

func parse(f []byte) (Packet, bool) {
	var p Packet
	if len(f) < 14 {
		return p, false
	}
	p.SrcMAC = append(net.HardwareAddr(nil), f[6:12]...)
	et := binary.BigEndian.Uint16(f[12:14])
	b := f[14:]
	switch et {
	case 0x0806:
		if len(b) < 28 || binary.BigEndian.Uint16(b[6:8]) != 1 {
			return p, false
		}
		p.Src = netip.AddrFrom4([4]byte(b[14:18]))
		p.Target = netip.AddrFrom4([4]byte(b[24:28]))
		if p.Src != p.Target {
			return p, false // an ordinary request, not gratuitous
		}
		p.Kind = "garp"
		return p, true
	case 0x0800:
		if len(b) < 20 || b[9] != vrrpProto {
			return p, false
		}
		ihl := int(b[0]&0x0f) * 4
		if len(b) < ihl+8 {
			return p, false
		}
		p.Kind, p.Src = "vrrp", netip.AddrFrom4([4]byte(b[12:16]))
		p.Version, p.VRID, p.Prio = b[ihl]>>4, b[ihl+1], b[ihl+2]
		return p, true
	case 0x86dd:
		if len(b) < 40+8 {
			return p, false
		}
		p.Src = netip.AddrFrom16([16]byte(b[8:24]))
		switch b[6] {
		case vrrpProto:
			p.Kind = "vrrp"
			p.Version, p.VRID, p.Prio = b[40]>>4, b[41], b[42]
			return p, true
		case 58:
			if b[40] != 136 || len(b) < 40+24 {
				return p, false
			}
			p.Kind = "na"
			p.Target = netip.AddrFrom16([16]byte(b[48:64]))
			return p, true
		}
	}
	return p, false
}

// Find returns the packets matching f, in order.
func (s *Sniffer) Find(f func(Packet) bool) []Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Packet
	for _, p := range s.pkts {
		if f(p) {
			out = append(out, p)
		}
	}
	return out
}

// LastAdvert is the time of the last advert with a priority above 0 from
// src seen before t.
func (s *Sniffer) LastAdvert(src netip.Addr, before time.Time) time.Time {
	var last time.Time
	for _, p := range s.Find(func(p Packet) bool { return p.Kind == "vrrp" && p.Src == src && p.Prio > 0 }) {
		if p.At.After(before) {
			break
		}
		last = p.At
	}
	return last
}

// Adverts are the adverts from src seen at or after t.
func (s *Sniffer) Adverts(src netip.Addr, after time.Time) []Packet {
	return s.Find(func(p Packet) bool { return p.Kind == "vrrp" && p.Src == src && !p.At.Before(after) })
}

// Announcements are the gratuitous ARPs / neighbour adverts for vip from
// mac at or after t.
func (s *Sniffer) Announcements(vip netip.Addr, mac net.HardwareAddr, after time.Time) []Packet {
	return s.Find(func(p Packet) bool {
		return (p.Kind == "garp" || p.Kind == "na") && p.Target == vip && p.SrcMAC.String() == mac.String() && !p.At.Before(after)
	})
}

// WaitAnnouncement waits for a first announcement of vip from mac after t.
func (s *Sniffer) WaitAnnouncement(t testing.TB, d time.Duration, vip netip.Addr, mac net.HardwareAddr, after time.Time) Packet {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if a := s.Announcements(vip, mac, after); len(a) > 0 {
			return a[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no gratuitous ARP / neighbour advert for %v from %v within %v", vip, mac, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitNextAdvert waits for an advert from src (priority above 0) that
// arrives after t, polling every 100µs, and returns when it arrived.
func (s *Sniffer) WaitNextAdvert(t testing.TB, src netip.Addr, after time.Time, d time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s.mu.Lock()
		for k := len(s.pkts) - 1; k >= 0 && s.pkts[k].At.After(after); k-- {
			if p := s.pkts[k]; p.Kind == "vrrp" && p.Src == src && p.Prio > 0 {
				s.mu.Unlock()
				return p.At
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no advert from %v within %v", src, d)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

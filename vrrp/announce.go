package vrrp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// announcer tells the LAN where the virtual addresses live: gratuitous ARP
// requests for IPv4 (keepalived's format: sender and target both the
// address, target hardware ff:ff:ff:ff:ff:ff, broadcast) and unsolicited
// neighbour advertisements for IPv6 (to ff02::1, override flag set).
// Sockets are opened at construction, in the caller's network namespace.
type announcer struct {
	mu   sync.Mutex
	devs []*annDev
}

type annDev struct {
	ifi    *net.Interface
	v4     []netip.Addr
	v6     []netip.Addr
	eth    *packet.Conn     // send-only: bound to protocol 0, receives nothing
	icmp   net.PacketConn   // ICMPv6 for neighbour adverts
	nd     *ipv6.PacketConn // the same socket with IPv6 options
	ll     netip.Addr       // link-local source of neighbour adverts
	router bool             // forwarding on: set the router flag
}

func newAnnouncer(vips []VIP, linkLocal func(*net.Interface) (netip.Addr, error)) (*announcer, error) {
	a := &announcer{}
	byDev := map[string]*annDev{}
	for _, v := range vips {
		d := byDev[v.Device]
		if d == nil {
			ifi, err := net.InterfaceByName(v.Device)
			if err != nil {
				a.close()
				return nil, fmt.Errorf("announce on %s: %w", v.Device, err)
			}
			d = &annDev{ifi: ifi}
			byDev[v.Device] = d
			a.devs = append(a.devs, d)
		}
		if v.Prefix.Addr().Is4() {
			d.v4 = append(d.v4, v.Prefix.Addr())
		} else {
			d.v6 = append(d.v6, v.Prefix.Addr())
		}
	}
	for _, d := range a.devs {
		if err := d.open(linkLocal); err != nil {
			a.close()
			return nil, err
		}
	}
	return a, nil
}

func (d *annDev) open(linkLocal func(*net.Interface) (netip.Addr, error)) error {
	if len(d.v4) > 0 {
		if len(d.ifi.HardwareAddr) != 6 {
			return fmt.Errorf("gratuitous ARP on %s: no Ethernet address", d.ifi.Name)
		}
		c, err := packet.Listen(d.ifi, packet.Raw, 0, nil)
		if err != nil {
			return fmt.Errorf("gratuitous ARP socket on %s: %w", d.ifi.Name, err)
		}
		d.eth = c
	}
	if len(d.v6) > 0 {
		ll, err := linkLocal(d.ifi)
		if err != nil {
			return err
		}
		d.ll = ll
		c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return fmt.Errorf("neighbour advert socket on %s: %w", d.ifi.Name, err)
		}
		d.icmp, d.nd = c, ipv6.NewPacketConn(c)
		var block ipv6.ICMPFilter
		block.SetAll(true) // send only
		for _, f := range []func() error{
			func() error { return d.nd.SetICMPFilter(&block) },
			func() error { return d.nd.SetMulticastInterface(d.ifi) },
			func() error { return d.nd.SetMulticastHopLimit(255) },
			func() error { return d.nd.SetHopLimit(255) },
			func() error { return sockopts(c, d.ifi.Name, nil) },
		} {
			if err := f(); err != nil {
				return fmt.Errorf("neighbour advert socket on %s: %w", d.ifi.Name, err)
			}
		}
		fw, _ := os.ReadFile("/proc/sys/net/ipv6/conf/" + d.ifi.Name + "/forwarding")
		d.router = strings.TrimSpace(string(fw)) == "1"
	}
	return nil
}

// garpFrame is the gratuitous ARP keepalived sends for ip from hw.
func garpFrame(hw net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, hw, ip, ethernet.Broadcast, ip)
	if err != nil {
		return nil, err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: hw, EtherType: ethernet.EtherTypeARP, Payload: pb}
	return f.MarshalBinary()
}

// naMessage is an unsolicited neighbour advertisement (RFC 4861 4.4) for
// target from hw: override set, solicited clear, with the target
// link-layer address option. The kernel fills in the checksum.
func naMessage(target netip.Addr, hw net.HardwareAddr, router bool) ([]byte, error) {
	body := make([]byte, 4+16+8)
	flags := uint32(1 << 29) // O
	if router {
		flags |= 1 << 31 // R
	}
	binary.BigEndian.PutUint32(body, flags)
	t16 := target.As16()
	copy(body[4:], t16[:])
	body[20], body[21] = 2, 1 // option: target link-layer address, 8 bytes
	copy(body[22:], hw)
	m := icmp.Message{Type: ipv6.ICMPTypeNeighborAdvertisement, Body: &icmp.RawBody{Data: body}}
	return m.Marshal(nil)
}

var allNodes = netip.MustParseAddr("ff02::1")

// send announces every address once.
func (a *announcer) send() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for _, d := range a.devs {
		for _, ip := range d.v4 {
			f, err := garpFrame(d.ifi.HardwareAddr, ip)
			if err == nil {
				_, err = d.eth.WriteTo(f, &packet.Addr{HardwareAddr: ethernet.Broadcast})
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("gratuitous ARP for %v on %s: %w", ip, d.ifi.Name, err))
			}
		}
		for _, ip := range d.v6 {
			m, err := naMessage(ip, d.ifi.HardwareAddr, d.router)
			if err == nil {
				cm := &ipv6.ControlMessage{Src: d.ll.AsSlice(), IfIndex: d.ifi.Index, HopLimit: 255}
				_, err = d.nd.WriteTo(m, cm, &net.IPAddr{IP: allNodes.AsSlice(), Zone: d.ifi.Name})
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("neighbour advert for %v on %s: %w", ip, d.ifi.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// burst sends n rounds, gap apart; it stops early when ctx ends.
func (a *announcer) burst(ctx context.Context, n int, gap time.Duration) error {
	var errs []error
	for i := range n {
		if i > 0 && gap > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(errs...)
			case <-time.After(gap):
			}
		}
		if err := a.send(); err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

func (a *announcer) close() {
	for _, d := range a.devs {
		if d.eth != nil {
			d.eth.Close()
		}
		if d.icmp != nil {
			d.icmp.Close()
		}
	}
}

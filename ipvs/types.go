package ipvs

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Protocol is the transport protocol of a virtual service, as the IANA
// protocol number the kernel uses.
type Protocol uint16

const (
	TCP  Protocol = unix.IPPROTO_TCP
	UDP  Protocol = unix.IPPROTO_UDP
	SCTP Protocol = unix.IPPROTO_SCTP
)

// ParseProtocol accepts "tcp", "udp" and "sctp" in any case.
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	case "sctp":
		return SCTP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q (want tcp, udp or sctp)", s)
}

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case SCTP:
		return "sctp"
	}
	return fmt.Sprintf("proto(%d)", uint16(p))
}

// Forward is a real server's packet forwarding method. The values are the
// kernel's IP_VS_CONN_F_* forwarding flags.
type Forward uint32

const (
	NAT    Forward = 0 // masquerading
	Local  Forward = 1 // local node (the kernel picks this itself for local addresses)
	Tunnel Forward = 2 // IP-in-IP (and GUE/GRE with a tunnel type)
	DR     Forward = 3 // direct routing (gatewaying)
)

// ParseForward accepts lvsd's names and the keepalived/ipvsadm synonyms.
func ParseForward(s string) (Forward, error) {
	switch strings.ToLower(s) {
	case "nat", "masq", "masquerading":
		return NAT, nil
	case "dr", "route", "direct", "gatewaying":
		return DR, nil
	case "tun", "tunnel", "ipip":
		return Tunnel, nil
	}
	return 0, fmt.Errorf("unknown forwarding method %q (want nat, dr or tun)", s)
}

func (f Forward) String() string {
	switch f {
	case NAT:
		return "nat"
	case Local:
		return "local"
	case Tunnel:
		return "tun"
	case DR:
		return "dr"
	}
	return fmt.Sprintf("fwd(%d)", uint32(f))
}

// Schedulers lists every scheduler the mainline kernel ships, by the name
// the kernel module registers.
var Schedulers = []string{
	"rr", "wrr", "lc", "wlc", "sh", "dh", "sed", "nq",
	"lblc", "lblcr", "mh", "fo", "ovf", "twos",
}

// ValidScheduler reports whether name is a scheduler the kernel ships.
func ValidScheduler(name string) bool {
	for _, s := range Schedulers {
		if s == name {
			return true
		}
	}
	return false
}

// SchedFlags are the scheduler-specific flags. The kernel has three generic
// bits whose meaning depends on the scheduler; lvsd names them.
type SchedFlags struct {
	Fallback bool // sh-fallback / mh-fallback: skip an unavailable server
	Port     bool // sh-port / mh-port: hash the source port too
}

// Family is an address family, AF_INET or AF_INET6.
type Family uint16

const (
	IPv4 Family = unix.AF_INET
	IPv6 Family = unix.AF_INET6
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "inet"
	case IPv6:
		return "inet6"
	}
	return fmt.Sprintf("af(%d)", uint16(f))
}

// FamilyOf returns the family of a.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() || a.Is4In6() {
		return IPv4
	}
	return IPv6
}

// ServiceKey identifies a virtual service the way the kernel does: either
// protocol + address:port, or firewall mark + family. It is comparable and
// used as a map key.
type ServiceKey struct {
	Family   Family
	Protocol Protocol       // zero for firewall-mark services
	Addr     netip.AddrPort // zero for firewall-mark services
	FWMark   uint32         // zero for address services
}

// AddrKey is the key of the protocol service on a. The family follows a.
func AddrKey(p Protocol, a netip.AddrPort) ServiceKey {
	return ServiceKey{Family: FamilyOf(a.Addr()), Protocol: p, Addr: a}
}

// MarkKey is the key of the firewall-mark service mark in family f.
func MarkKey(mark uint32, f Family) ServiceKey {
	return ServiceKey{Family: f, FWMark: mark}
}

// IsFWMark reports whether k is a firewall-mark service.
func (k ServiceKey) IsFWMark() bool { return k.FWMark != 0 }

// Compare orders keys: address services before firewall-mark services;
// address services by address, port, then protocol; marks by value, then
// family. Tables list services in this order.
func (k ServiceKey) Compare(o ServiceKey) int {
	if km, om := k.IsFWMark(), o.IsFWMark(); km != om {
		if km {
			return 1
		}
		return -1
	}
	if k.IsFWMark() {
		if c := cmpInt(k.FWMark, o.FWMark); c != 0 {
			return c
		}
		return cmpInt(k.Family, o.Family)
	}
	if c := k.Addr.Compare(o.Addr); c != 0 {
		return c
	}
	if c := cmpInt(k.Protocol, o.Protocol); c != 0 {
		return c
	}
	return cmpInt(k.Family, o.Family)
}

func cmpInt[T ~uint8 | ~uint16 | ~uint32 | ~int](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// String renders the key in ipvsadm's notation: "tcp 10.0.0.1:80",
// "tcp [2001:db8::1]:80", "fwm 7" (plus "inet6" for an IPv6 mark).
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		if k.Family == IPv6 {
			return fmt.Sprintf("fwm %d inet6", k.FWMark)
		}
		return fmt.Sprintf("fwm %d", k.FWMark)
	}
	return fmt.Sprintf("%s %s", k.Protocol, k.Addr)
}

// Service is a virtual service's settings, without its real servers.
type Service struct {
	ServiceKey
	Scheduler  string
	SchedFlags SchedFlags
	// Persistence is the persistence timeout in seconds; 0 disables it.
	Persistence uint32
	// PersistenceMask is the persistence netmask as a prefix length
	// (1..32 for IPv4, 1..128 for IPv6). Zero means the full length (one
	// client address). A dumped service whose kernel mask lvsd cannot
	// express (a non-contiguous IPv4 mask, or /0) reads as -1.
	PersistenceMask int
	OnePacket       bool

	// DrainTimeout is lvsd policy, not kernel state: how long a real server
	// removed from this service keeps serving its established connections
	// at weight 0 before it is deleted. Zero deletes at once. Diff ignores
	// it; the Reconciler uses it.
	DrainTimeout time.Duration
}

// TunnelType is the encapsulation of a tunnel (Forward == Tunnel) real
// server, as the kernel's IP_VS_CONN_F_TUNNEL_TYPE_*.
type TunnelType uint8

const (
	TunnelIPIP TunnelType = 0 // IP-in-IP, the default
	TunnelGUE  TunnelType = 1 // Generic UDP Encapsulation; needs TunnelPort
	TunnelGRE  TunnelType = 2
)

// ParseTunnelType accepts "ipip", "gue" and "gre".
func ParseTunnelType(s string) (TunnelType, error) {
	switch strings.ToLower(s) {
	case "ipip", "":
		return TunnelIPIP, nil
	case "gue":
		return TunnelGUE, nil
	case "gre":
		return TunnelGRE, nil
	}
	return 0, fmt.Errorf("unknown tunnel type %q (want ipip, gue or gre)", s)
}

func (t TunnelType) String() string {
	switch t {
	case TunnelIPIP:
		return "ipip"
	case TunnelGUE:
		return "gue"
	case TunnelGRE:
		return "gre"
	}
	return fmt.Sprintf("tun-type(%d)", uint8(t))
}

// TunnelChecksum is the checksum mode of a GUE or GRE tunnel, as the
// kernel's IP_VS_TUNNEL_ENCAP_FLAG_*.
type TunnelChecksum uint16

const (
	TunnelNoCsum  TunnelChecksum = 0      // no checksum (default)
	TunnelCsum    TunnelChecksum = 1 << 0 // checksum (gue, gre)
	TunnelRemCsum TunnelChecksum = 1 << 1 // remote checksum offload (gue)
)

// ParseTunnelChecksum accepts ipvsadm's names: "nocsum", "csum", "remcsum".
func ParseTunnelChecksum(s string) (TunnelChecksum, error) {
	switch strings.ToLower(s) {
	case "nocsum", "":
		return TunnelNoCsum, nil
	case "csum":
		return TunnelCsum, nil
	case "remcsum":
		return TunnelRemCsum, nil
	}
	return 0, fmt.Errorf("unknown tunnel checksum %q (want nocsum, csum or remcsum)", s)
}

func (c TunnelChecksum) String() string {
	switch c {
	case TunnelNoCsum:
		return "nocsum"
	case TunnelCsum:
		return "csum"
	case TunnelRemCsum:
		return "remcsum"
	}
	return fmt.Sprintf("tun-flags(%#x)", uint16(c))
}

// Destination is a real server of a virtual service.
type Destination struct {
	Addr           netip.AddrPort
	Forward        Forward
	Weight         uint32 // 0..65535; 0 takes no new connections
	UpperThreshold uint32 // 0 = no limit
	LowerThreshold uint32

	// Tunnel encapsulation; only with Forward == Tunnel.
	TunnelType     TunnelType
	TunnelPort     uint16 // GUE destination port; required for gue
	TunnelChecksum TunnelChecksum

	// Stats are the kernel's counters, filled by a dump. Diff ignores
	// them; desired tables leave them zero.
	Stats Counters
}

// Counters are a service's or destination's kernel statistics. They are
// read from the kernel and never part of a desired table.
type Counters struct {
	ActiveConns     uint32 // destinations only
	InactiveConns   uint32 // destinations only
	PersistentConns uint32 // destinations only: persistence templates
	Conns           uint64
	PacketsIn       uint64
	PacketsOut      uint64
	BytesIn         uint64
	BytesOut        uint64
	CPS             uint64
	PPSIn           uint64
	PPSOut          uint64
	BPSIn           uint64
	BPSOut          uint64
}

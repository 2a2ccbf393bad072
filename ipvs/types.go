package ipvs

import (
	"fmt"
	"net/netip"
	"strings"

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

// Service flags, as the kernel's IP_VS_SVC_F_*. Only the settable ones are
// named; the kernel also reports IP_VS_SVC_F_HASHED on every dumped service.
const (
	flagPersistent = 0x0001
	flagHashed     = 0x0002
	flagOnePacket  = 0x0004
	flagSched1     = 0x0008 // sh-fallback, mh-fallback
	flagSched2     = 0x0010 // sh-port, mh-port
	flagSched3     = 0x0020
)

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
	// (0..32 for IPv4, 0..128 for IPv6). Zero means the full length.
	PersistenceMask int
	OnePacket       bool
}

// Destination is a real server of a virtual service.
type Destination struct {
	Addr           netip.AddrPort
	Forward        Forward
	Weight         uint32 // 0..65535; 0 takes no new connections
	UpperThreshold uint32 // 0 = no limit
	LowerThreshold uint32
}

// Counters are a service's or destination's kernel statistics. They are
// read from the kernel and never part of a desired table.
type Counters struct {
	ActiveConns   uint32
	InactiveConns uint32
	Conns         uint64
	PacketsIn     uint64
	PacketsOut    uint64
	BytesIn       uint64
	BytesOut      uint64
	CPS           uint64
	PPSIn         uint64
	PPSOut        uint64
	BPSIn         uint64
	BPSOut        uint64
}

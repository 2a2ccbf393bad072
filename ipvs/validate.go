package ipvs

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Limits the kernel (or ipvsadm, where lvsd follows it) puts on settings.
const (
	// MaxWeight is the largest real server weight lvsd accepts (as
	// keepalived does; the kernel would take any non-negative int).
	MaxWeight = 65535
	// MaxPersistence is the largest persistence timeout in seconds: the
	// kernel keeps it in jiffies in an unsigned int (HZ up to 1000).
	MaxPersistence = math.MaxUint32 / 1000
	// MaxSyncID is the largest connection-sync id (one byte on the wire).
	MaxSyncID = 255
	maxIfName = 15 // IFNAMSIZ - 1
)

// Validate checks the key alone: a known family, and either a protocol
// with a usable address or a firewall mark with nothing else.
func (k ServiceKey) Validate() error {
	if k.Family != IPv4 && k.Family != IPv6 {
		return fmt.Errorf("service %s: unknown address family %d (want inet or inet6)", k, uint16(k.Family))
	}
	if k.IsFWMark() {
		if k.Protocol != 0 {
			return fmt.Errorf("service %s: a firewall-mark service has no protocol (got %s)", k, k.Protocol)
		}
		if k.Addr != (netip.AddrPort{}) {
			return fmt.Errorf("service %s: a firewall-mark service has no address or port (got %s)", k, k.Addr)
		}
		return nil
	}
	switch k.Protocol {
	case TCP, UDP, SCTP:
	case 0:
		return fmt.Errorf("service %s: needs a protocol (tcp, udp or sctp) or a firewall mark", k)
	default:
		return fmt.Errorf("service %s: unknown protocol %d (want tcp, udp or sctp)", k, uint16(k.Protocol))
	}
	a := k.Addr.Addr()
	switch {
	case !a.IsValid():
		return fmt.Errorf("service %s: needs an address", k)
	case a.Is4In6():
		return fmt.Errorf("service %s: IPv4-mapped IPv6 address; write it as IPv4 (%s)", k, a.Unmap())
	case a.Zone() != "":
		return fmt.Errorf("service %s: the address has a zone; IPVS does not take one", k)
	case a.IsUnspecified():
		return fmt.Errorf("service %s: the unspecified address cannot be a virtual address", k)
	case a.IsMulticast():
		return fmt.Errorf("service %s: a multicast address cannot be a virtual address", k)
	case FamilyOf(a) != k.Family:
		return fmt.Errorf("service %s: address is %s but the service family is %s", k, FamilyOf(a), k.Family)
	}
	return nil
}

// Validate checks a service's settings. Errors name the service and say
// what is wrong.
func (s Service) Validate() error {
	if err := s.ServiceKey.Validate(); err != nil {
		return err
	}
	k := s.ServiceKey
	switch {
	case s.Scheduler == "":
		return fmt.Errorf("service %s: no scheduler (want one of %s)", k, strings.Join(Schedulers, ", "))
	case !ValidScheduler(s.Scheduler):
		return fmt.Errorf("service %s: unknown scheduler %q (want one of %s)", k, s.Scheduler, strings.Join(Schedulers, ", "))
	case s.SchedFlags != (SchedFlags{}) && s.Scheduler != "sh" && s.Scheduler != "mh":
		return fmt.Errorf("service %s: scheduler flags (%s) only apply to the sh and mh schedulers, not %s", k, s.SchedFlags.render(s.Scheduler), s.Scheduler)
	case s.Persistence > MaxPersistence:
		return fmt.Errorf("service %s: persistence timeout %ds is above the kernel's limit of %ds", k, s.Persistence, MaxPersistence)
	case s.PersistenceMask != 0 && s.Persistence == 0:
		return fmt.Errorf("service %s: a persistence mask (/%d) needs a persistence timeout", k, s.PersistenceMask)
	case s.PersistenceMask < 0 || s.PersistenceMask > k.Family.bits():
		return fmt.Errorf("service %s: persistence mask /%d is out of range (1..%d for %s)", k, s.PersistenceMask, k.Family.bits(), k.Family)
	case !k.IsFWMark() && k.Addr.Port() == 0 && s.Persistence == 0:
		return fmt.Errorf("service %s: port 0 (all ports) needs persistence", k)
	case s.OnePacket && (k.Protocol == TCP || k.Protocol == SCTP):
		return fmt.Errorf("service %s: one-packet scheduling only applies to UDP", k)
	case s.DrainTimeout < 0:
		return fmt.Errorf("service %s: negative drain timeout %s", k, s.DrainTimeout)
	}
	return nil
}

// Validate checks a real server of the service with key k.
func (d Destination) Validate(k ServiceKey) error {
	err := d.validate(k)
	switch {
	case err == nil:
		return nil
	case !d.Addr.Addr().IsValid():
		return fmt.Errorf("real server of %s: %w", k, err)
	}
	return fmt.Errorf("real server %s of %s: %w", d.Addr, k, err)
}

func (d Destination) validate(k ServiceKey) error {
	a := d.Addr.Addr()
	switch {
	case !a.IsValid():
		return errors.New("needs an address")
	case a.Is4In6():
		return fmt.Errorf("IPv4-mapped IPv6 address; write it as IPv4 (%s)", a.Unmap())
	case a.Zone() != "":
		return errors.New("the address has a zone; IPVS does not take one")
	case a.IsUnspecified() || a.IsMulticast():
		return errors.New("not a unicast address")
	case FamilyOf(a) != k.Family:
		return fmt.Errorf("the real server is %s but the service is %s (lvsd does not mix families)", FamilyOf(a), k.Family)
	}
	switch d.Forward {
	case NAT, DR, Tunnel:
	case Local:
		return errors.New("forwarding method local is chosen by the kernel for local addresses, not configured")
	default:
		return fmt.Errorf("unknown forwarding method %d (want nat, dr or tun)", uint32(d.Forward))
	}
	vport := k.Addr.Port()
	switch {
	case k.IsFWMark():
		// The kernel forwards to the packet's own port when the real
		// server's is 0; DR and TUN never rewrite it.
	case d.Forward != NAT && d.Addr.Port() != vport:
		return fmt.Errorf("%s cannot change the port: the real server port must be the virtual port %d", d.Forward, vport)
	case d.Forward == NAT && d.Addr.Port() == 0 && vport != 0:
		return errors.New("needs a port")
	}
	switch {
	case d.Weight > MaxWeight:
		return fmt.Errorf("weight %d is out of range (0..%d)", d.Weight, MaxWeight)
	case d.LowerThreshold > d.UpperThreshold:
		if d.UpperThreshold == 0 {
			return fmt.Errorf("a lower connection threshold (%d) needs an upper threshold", d.LowerThreshold)
		}
		return fmt.Errorf("lower connection threshold %d is above the upper threshold %d", d.LowerThreshold, d.UpperThreshold)
	}
	if d.Forward != Tunnel {
		if d.TunnelType != TunnelIPIP || d.TunnelPort != 0 || d.TunnelChecksum != TunnelNoCsum {
			return fmt.Errorf("tunnel options only apply to forwarding method tun, not %s", d.Forward)
		}
		return nil
	}
	switch d.TunnelType {
	case TunnelIPIP:
		if d.TunnelPort != 0 || d.TunnelChecksum != TunnelNoCsum {
			return errors.New("tunnel port and checksum only apply to gue and gre tunnels, not ipip")
		}
	case TunnelGUE:
		if d.TunnelPort == 0 {
			return errors.New("a gue tunnel needs a tunnel port")
		}
		if d.TunnelChecksum != TunnelNoCsum && d.TunnelChecksum != TunnelCsum && d.TunnelChecksum != TunnelRemCsum {
			return fmt.Errorf("unknown tunnel checksum %s", d.TunnelChecksum)
		}
	case TunnelGRE:
		if d.TunnelPort != 0 {
			return errors.New("a tunnel port only applies to gue tunnels, not gre")
		}
		if d.TunnelChecksum != TunnelNoCsum && d.TunnelChecksum != TunnelCsum {
			return fmt.Errorf("a gre tunnel takes checksum nocsum or csum, not %s", d.TunnelChecksum)
		}
	default:
		return fmt.Errorf("unknown tunnel type %d (want ipip, gue or gre)", uint8(d.TunnelType))
	}
	return nil
}

// Validate checks every service and real server of t and returns all the
// problems found, joined, in table order.
func (t Table) Validate() error {
	type problem struct {
		k   ServiceKey
		a   netip.AddrPort
		err error
	}
	var ps []problem
	// Checking in map order and sorting only the problems keeps a valid
	// table of 10,000 services cheap to check on every sync.
	for k, e := range t.svcs {
		if e.svc.ServiceKey != k {
			ps = append(ps, problem{k, netip.AddrPort{}, fmt.Errorf("service %s is filed under key %s", e.svc.ServiceKey, k)})
			continue
		}
		if err := e.svc.Validate(); err != nil {
			ps = append(ps, problem{k, netip.AddrPort{}, err})
			continue
		}
		for a, d := range e.dests {
			if err := d.Validate(k); err != nil {
				ps = append(ps, problem{k, a, err})
			}
		}
	}
	if len(ps) == 0 {
		return nil
	}
	slices.SortFunc(ps, func(x, y problem) int {
		if c := x.k.Compare(y.k); c != 0 {
			return c
		}
		return x.a.Compare(y.a)
	})
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p.err
	}
	return errors.Join(errs...)
}

func (f Family) bits() int {
	if f == IPv6 {
		return 128
	}
	return 32
}

// render names the flags the way ipvsadm's -b option takes them.
func (f SchedFlags) render(sched string) string {
	prefix := sched
	if prefix != "mh" {
		prefix = "sh"
	}
	var parts []string
	if f.Fallback {
		parts = append(parts, prefix+"-fallback")
	}
	if f.Port {
		parts = append(parts, prefix+"-port")
	}
	return strings.Join(parts, ",")
}

// ParseSchedFlags accepts ipvsadm's comma-separated -b list
// ("sh-fallback,sh-port"; "mh-" works too, and the bare "fallback", "port").
func ParseSchedFlags(s string) (SchedFlags, error) {
	var f SchedFlags
	if s == "" {
		return f, nil
	}
	for _, p := range strings.Split(s, ",") {
		switch strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(strings.ToLower(p)), "sh-"), "mh-") {
		case "fallback":
			f.Fallback = true
		case "port":
			f.Port = true
		default:
			return SchedFlags{}, fmt.Errorf("unknown scheduler flag %q (want fallback or port, with sh- or mh-)", p)
		}
	}
	return f, nil
}

// ParseServiceKey reads a key in the notation ServiceKey.String writes:
// "tcp 10.0.0.1:80", "udp [2001:db8::1]:53", "fwm 7", "fwm 7 inet6".
func ParseServiceKey(s string) (ServiceKey, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return ServiceKey{}, fmt.Errorf("service key %q: want \"<proto> <addr:port>\" or \"fwm <mark> [inet6]\"", s)
	}
	if f[0] == "fwm" {
		mark, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil || mark == 0 {
			return ServiceKey{}, fmt.Errorf("service key %q: bad firewall mark %q", s, f[1])
		}
		fam := IPv4
		switch {
		case len(f) == 2:
		case len(f) == 3 && f[2] == "inet6":
			fam = IPv6
		case len(f) == 3 && f[2] == "inet":
		default:
			return ServiceKey{}, fmt.Errorf("service key %q: want \"fwm <mark> [inet6]\"", s)
		}
		return MarkKey(uint32(mark), fam), nil
	}
	if len(f) != 2 {
		return ServiceKey{}, fmt.Errorf("service key %q: want \"<proto> <addr:port>\"", s)
	}
	p, err := ParseProtocol(f[0])
	if err != nil {
		return ServiceKey{}, fmt.Errorf("service key %q: %w", s, err)
	}
	ap, err := netip.ParseAddrPort(f[1])
	if err != nil {
		return ServiceKey{}, fmt.Errorf("service key %q: %w", s, err)
	}
	k := AddrKey(p, ap)
	if err := k.Validate(); err != nil {
		return ServiceKey{}, err
	}
	return k, nil
}

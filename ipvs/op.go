package ipvs

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// OpKind is what an Op does.
type OpKind uint8

const (
	AddService OpKind = iota + 1
	UpdateService
	DeleteService
	AddDestination
	UpdateDestination
	DeleteDestination
)

func (k OpKind) String() string {
	switch k {
	case AddService:
		return "add-service"
	case UpdateService:
		return "update-service"
	case DeleteService:
		return "delete-service"
	case AddDestination:
		return "add-destination"
	case UpdateDestination:
		return "update-destination"
	case DeleteDestination:
		return "delete-destination"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Op is one change to the kernel's IPVS table: one netlink write.
type Op struct {
	Kind OpKind
	// Service is the full service for AddService and UpdateService; the
	// other kinds only use its key.
	Service Service
	// Destination is the full real server for AddDestination and
	// UpdateDestination; DeleteDestination only uses its address.
	Destination Destination
}

// IsService reports whether op changes a service (rather than a real
// server).
func (op Op) IsService() bool {
	return op.Kind == AddService || op.Kind == UpdateService || op.Kind == DeleteService
}

// Describe says what op does in words, for errors and logs:
// "add real server 10.0.1.2:80 to tcp 10.0.0.1:80".
func (op Op) Describe() string {
	k := op.Service.ServiceKey
	a := op.Destination.Addr
	switch op.Kind {
	case AddService:
		return fmt.Sprintf("add service %s", k)
	case UpdateService:
		return fmt.Sprintf("update service %s", k)
	case DeleteService:
		return fmt.Sprintf("delete service %s", k)
	case AddDestination:
		return fmt.Sprintf("add real server %s to %s", a, k)
	case UpdateDestination:
		return fmt.Sprintf("update real server %s of %s", a, k)
	case DeleteDestination:
		return fmt.Sprintf("delete real server %s from %s", a, k)
	}
	return fmt.Sprintf("%s on %s", op.Kind, k)
}

// String renders op in ipvsadm's notation, as `ipvsadm -R` reads it:
//
//	-A -t 10.0.0.1:80 -s wrr
//	-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 3
func (op Op) String() string {
	var b strings.Builder
	switch op.Kind {
	case AddService:
		b.WriteString("-A ")
	case UpdateService:
		b.WriteString("-E ")
	case DeleteService:
		b.WriteString("-D ")
	case AddDestination:
		b.WriteString("-a ")
	case UpdateDestination:
		b.WriteString("-e ")
	case DeleteDestination:
		b.WriteString("-d ")
	default:
		return fmt.Sprintf("# %s", op.Describe())
	}
	writeServiceSpec(&b, op.Service.ServiceKey)
	switch op.Kind {
	case AddService, UpdateService:
		writeServiceOptions(&b, op.Service)
	case AddDestination, UpdateDestination:
		b.WriteString(" -r ")
		b.WriteString(hostPort(op.Destination.Addr))
		writeDestinationOptions(&b, op.Destination)
	case DeleteDestination:
		b.WriteString(" -r ")
		b.WriteString(hostPort(op.Destination.Addr))
	}
	return b.String()
}

func writeServiceSpec(b *strings.Builder, k ServiceKey) {
	if k.IsFWMark() {
		b.WriteString("-f ")
		b.WriteString(strconv.FormatUint(uint64(k.FWMark), 10))
		if k.Family == IPv6 {
			b.WriteString(" -6")
		}
		return
	}
	switch k.Protocol {
	case TCP:
		b.WriteString("-t ")
	case UDP:
		b.WriteString("-u ")
	case SCTP:
		b.WriteString("--sctp-service ")
	default:
		fmt.Fprintf(b, "--proto-%d ", uint16(k.Protocol))
	}
	b.WriteString(k.Addr.String())
}

func writeServiceOptions(b *strings.Builder, s Service) {
	b.WriteString(" -s ")
	b.WriteString(s.Scheduler)
	if s.SchedFlags != (SchedFlags{}) {
		b.WriteString(" -b ")
		b.WriteString(s.SchedFlags.render(s.Scheduler))
	}
	if s.Persistence > 0 {
		b.WriteString(" -p ")
		b.WriteString(strconv.FormatUint(uint64(s.Persistence), 10))
		if m := s.PersistenceMask; m != 0 {
			b.WriteString(" -M ")
			b.WriteString(maskString(s.Family, m))
		}
	}
	if s.OnePacket {
		b.WriteString(" -o")
	}
}

// maskString writes a persistence mask as ipvsadm's -M takes it: a dotted
// netmask for IPv4, a prefix length for IPv6.
func maskString(f Family, bits int) string {
	if bits < 0 {
		return "?"
	}
	if f == IPv6 {
		return strconv.Itoa(bits)
	}
	p := netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), bits).Masked()
	return p.Addr().String()
}

func writeDestinationOptions(b *strings.Builder, d Destination) {
	switch d.Forward {
	case NAT:
		b.WriteString(" -m")
	case Tunnel:
		b.WriteString(" -i")
	default: // DR, and Local (which the kernel chose itself)
		b.WriteString(" -g")
	}
	b.WriteString(" -w ")
	b.WriteString(strconv.FormatUint(uint64(d.Weight), 10))
	if d.UpperThreshold != 0 {
		b.WriteString(" -x ")
		b.WriteString(strconv.FormatUint(uint64(d.UpperThreshold), 10))
	}
	if d.LowerThreshold != 0 {
		b.WriteString(" -y ")
		b.WriteString(strconv.FormatUint(uint64(d.LowerThreshold), 10))
	}
	if d.Forward == Tunnel && (d.TunnelType != TunnelIPIP || d.TunnelPort != 0 || d.TunnelChecksum != TunnelNoCsum) {
		b.WriteString(" --tun-type ")
		b.WriteString(d.TunnelType.String())
		if d.TunnelPort != 0 {
			b.WriteString(" --tun-port ")
			b.WriteString(strconv.FormatUint(uint64(d.TunnelPort), 10))
		}
		if d.TunnelChecksum != TunnelNoCsum {
			b.WriteString(" --tun-")
			b.WriteString(d.TunnelChecksum.String())
		}
	}
}

// hostPort writes a real server address; port 0 (fwmark services: "the
// packet's own port") is left out, as ipvsadm does.
func hostPort(a netip.AddrPort) string {
	if a.Port() != 0 {
		return a.String()
	}
	if a.Addr().Is6() {
		return "[" + a.Addr().String() + "]"
	}
	return a.Addr().String()
}

// OpError is an operation the kernel refused.
type OpError struct {
	Op  Op
	Err error
}

func (e *OpError) Error() string { return e.Op.Describe() + ": " + e.Err.Error() }
func (e *OpError) Unwrap() error { return e.Err }

package ipvs

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
)

// Kernel service flags (IP_VS_SVC_F_*), as the dump reports them.
const (
	svcFlagPersistent = 0x0001
	svcFlagHashed     = 0x0002
	svcFlagOnePacket  = 0x0004
	svcFlagSched1     = 0x0008 // sh-fallback / mh-fallback
	svcFlagSched2     = 0x0010 // sh-port / mh-port
)

// serviceFlags are the IP_VS_SVC_F_* bits for s. HASHED is the kernel's own
// and never written (the kernel sets it back on every edit).
func serviceFlags(s Service) uint32 {
	var f uint32
	if s.Persistence > 0 {
		f |= svcFlagPersistent
	}
	if s.OnePacket {
		f |= svcFlagOnePacket
	}
	if s.SchedFlags.Fallback {
		f |= svcFlagSched1
	}
	if s.SchedFlags.Port {
		f |= svcFlagSched2
	}
	return f
}

// netmaskValue is the persistence netmask as the kernel wants the 32 bits
// of IPVS_SVC_ATTR_NETMASK, read in host order: for IPv4 the bytes of the
// dotted mask (255.255.255.0), for IPv6 the prefix length (1..128). Zero
// means the full length, which is also what the kernel must get when
// persistence is off: an IPv4 mask of 0 would group every client together
// once persistence is turned on, and an IPv6 service with a prefix length
// of 0 is refused (EINVAL). moby/ipvs passes 0 for both unless told.
func netmaskValue(s Service) uint32 {
	b := s.PersistenceMask
	if b <= 0 || b > s.Family.bits() {
		b = s.Family.bits()
	}
	if s.Family == IPv6 {
		return uint32(b)
	}
	mask := ^uint32(0) << (32 - b)
	return native.Uint32(binary.BigEndian.AppendUint32(nil, mask))
}

// maskBits turns a dumped netmask back into a PersistenceMask: 0 for the
// full length, the prefix length otherwise, -1 for what lvsd cannot
// express (an IPv4 /0 or non-contiguous mask, an IPv6 length out of range).
func maskBits(f Family, raw []byte) int {
	if len(raw) < 4 {
		return 0
	}
	if f == IPv6 {
		plen := int(native.Uint32(raw))
		switch {
		case plen == 128:
			return 0
		case plen >= 1 && plen < 128:
			return plen
		}
		return -1
	}
	m := binary.BigEndian.Uint32(raw)
	ones := bits.LeadingZeros32(^m)
	switch {
	case ones == 32:
		return 0
	case ones == 0 || m != ^uint32(0)<<(32-ones):
		return -1
	}
	return ones
}

// serviceID writes the attributes naming service k: the address family and
// either the firewall mark or protocol, address and port.
func serviceID(a *attrs, k ServiceKey) {
	a.nest(cmdAttrService, func(a *attrs) {
		a.u16(svcAttrAF, uint16(k.Family))
		if k.IsFWMark() {
			a.u32(svcAttrFWMark, k.FWMark)
			return
		}
		a.u16(svcAttrProtocol, uint16(k.Protocol))
		a.put(svcAttrAddr, k.Addr.Addr().AsSlice())
		a.be16(svcAttrPort, k.Addr.Port())
	})
}

// destFull writes a whole real server, tunnel settings and address family
// included (moby/ipvs sends neither).
func destFull(a *attrs, d Destination) {
	a.nest(cmdAttrDest, func(a *attrs) {
		a.put(destAttrAddr, d.Addr.Addr().AsSlice())
		a.be16(destAttrPort, d.Addr.Port())
		a.u32(destAttrFwdMethod, uint32(d.Forward))
		a.u32(destAttrWeight, d.Weight)
		a.u32(destAttrUThresh, d.UpperThreshold)
		a.u32(destAttrLThresh, d.LowerThreshold)
		a.u16(destAttrAddrFamily, uint16(FamilyOf(d.Addr.Addr())))
		a.u8(destAttrTunType, uint8(d.TunnelType))
		a.be16(destAttrTunPort, d.TunnelPort)
		a.u16(destAttrTunFlags, uint16(d.TunnelChecksum))
	})
}

// nested returns the value of the first attribute of type t in b.
func nested(b []byte, t uint16) ([]byte, error) {
	var out []byte
	err := forAttrs(b, func(typ uint16, v []byte) error {
		if typ == t && out == nil {
			out = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("netlink: message without attribute %d", t)
	}
	return out, nil
}

// parseServiceMsg reads a service from the payload of an
// IPVS_CMD_NEW_SERVICE message of a dump.
func parseServiceMsg(b []byte) (Service, Counters, error) {
	v, err := nested(b, cmdAttrService)
	if err != nil {
		return Service{}, Counters{}, err
	}
	return parseService(v)
}

func parseService(b []byte) (Service, Counters, error) {
	var (
		s                         Service
		st, st64                  Counters
		has64                     bool
		fam, proto, port          uint16
		mark, flags, timeout      uint32
		addr, netmask             []byte
		hasAF, hasProto, hasSched bool
	)
	err := forAttrs(b, func(t uint16, v []byte) (err error) {
		switch t {
		case svcAttrAF:
			fam, err = getU16(v)
			hasAF = true
		case svcAttrProtocol:
			proto, err = getU16(v)
			hasProto = true
		case svcAttrAddr:
			addr = v
		case svcAttrPort:
			port, err = getBE16(v)
		case svcAttrFWMark:
			mark, err = getU32(v)
		case svcAttrSchedName:
			s.Scheduler = getString(v)
			hasSched = true
		case svcAttrFlags:
			flags, err = getU32(v)
		case svcAttrTimeout:
			timeout, err = getU32(v)
		case svcAttrNetmask:
			netmask = v
		case svcAttrStats:
			st, err = parseStats(v)
		case svcAttrStats64:
			st64, err = parseStats(v)
			has64 = true
		}
		return err
	})
	if err != nil {
		return Service{}, Counters{}, fmt.Errorf("parse service: %w", err)
	}
	if !hasAF || !hasSched {
		return Service{}, Counters{}, fmt.Errorf("parse service: no address family or scheduler")
	}
	f := Family(fam)
	if mark != 0 {
		s.ServiceKey = MarkKey(mark, f)
	} else {
		if !hasProto {
			return Service{}, Counters{}, fmt.Errorf("parse service: neither firewall mark nor protocol")
		}
		ip, err := parseAddr(f, addr)
		if err != nil {
			return Service{}, Counters{}, fmt.Errorf("parse service: %w", err)
		}
		s.ServiceKey = ServiceKey{Family: f, Protocol: Protocol(proto), Addr: netip.AddrPortFrom(ip, port)}
	}
	if flags&svcFlagPersistent != 0 {
		s.Persistence = timeout
		s.PersistenceMask = maskBits(f, netmask)
	}
	s.OnePacket = flags&svcFlagOnePacket != 0
	s.SchedFlags = SchedFlags{Fallback: flags&svcFlagSched1 != 0, Port: flags&svcFlagSched2 != 0}
	if has64 {
		st = st64
	}
	return s, st, nil
}

// parseAddr reads an address attribute: the kernel sends a 16-byte
// nf_inet_addr with an IPv4 address in its first 4 bytes.
func parseAddr(f Family, v []byte) (netip.Addr, error) {
	switch {
	case f == IPv4 && len(v) >= 4:
		return netip.AddrFrom4([4]byte(v[:4])), nil
	case f == IPv6 && len(v) >= 16:
		return netip.AddrFrom16([16]byte(v[:16])), nil
	}
	return netip.Addr{}, fmt.Errorf("address of %d bytes for family %s", len(v), f)
}

// parseDestMsg reads a real server from the payload of an
// IPVS_CMD_NEW_DEST message of a dump; fam is the service's family, used
// when the kernel is too old to send the real server's own.
func parseDestMsg(b []byte, fam Family) (Destination, error) {
	v, err := nested(b, cmdAttrDest)
	if err != nil {
		return Destination{}, err
	}
	return parseDest(v, fam)
}

func parseDest(b []byte, fam Family) (Destination, error) {
	var (
		d        Destination
		addr     []byte
		port, af uint16
		fwd      uint32
		st64     Counters
		has64    bool
		hasAddr  bool
	)
	active, inact, persist := uint32(0), uint32(0), uint32(0)
	err := forAttrs(b, func(t uint16, v []byte) (err error) {
		switch t {
		case destAttrAddr:
			addr, hasAddr = v, true
		case destAttrPort:
			port, err = getBE16(v)
		case destAttrFwdMethod:
			fwd, err = getU32(v)
		case destAttrWeight:
			d.Weight, err = getU32(v)
		case destAttrUThresh:
			d.UpperThreshold, err = getU32(v)
		case destAttrLThresh:
			d.LowerThreshold, err = getU32(v)
		case destAttrActiveConns:
			active, err = getU32(v)
		case destAttrInactConns:
			inact, err = getU32(v)
		case destAttrPersistConns:
			persist, err = getU32(v)
		case destAttrStats:
			d.Stats, err = parseStats(v)
		case destAttrStats64:
			st64, err = parseStats(v)
			has64 = true
		case destAttrAddrFamily:
			af, err = getU16(v)
		case destAttrTunType:
			var tt uint8
			tt, err = getU8(v)
			d.TunnelType = TunnelType(tt)
		case destAttrTunPort:
			d.TunnelPort, err = getBE16(v)
		case destAttrTunFlags:
			var tf uint16
			tf, err = getU16(v)
			d.TunnelChecksum = TunnelChecksum(tf)
		}
		return err
	})
	if err != nil {
		return Destination{}, fmt.Errorf("parse real server: %w", err)
	}
	if !hasAddr {
		return Destination{}, fmt.Errorf("parse real server: no address")
	}
	if af != 0 {
		fam = Family(af)
	}
	ip, err := parseAddr(fam, addr)
	if err != nil {
		return Destination{}, fmt.Errorf("parse real server: %w", err)
	}
	d.Addr = netip.AddrPortFrom(ip, port)
	d.Forward = Forward(fwd & 0x7)
	if has64 {
		d.Stats = st64
	}
	d.Stats.ActiveConns, d.Stats.InactiveConns, d.Stats.PersistentConns = active, inact, persist
	return d, nil
}

// parseStats reads IPVS_*_ATTR_STATS (32-bit counters) or STATS64.
func parseStats(b []byte) (Counters, error) {
	var c Counters
	err := forAttrs(b, func(t uint16, v []byte) error {
		var p *uint64
		switch t {
		case statsAttrConns:
			p = &c.Conns
		case statsAttrInPkts:
			p = &c.PacketsIn
		case statsAttrOutPkts:
			p = &c.PacketsOut
		case statsAttrInBytes:
			p = &c.BytesIn
		case statsAttrOutBytes:
			p = &c.BytesOut
		case statsAttrCPS:
			p = &c.CPS
		case statsAttrInPPS:
			p = &c.PPSIn
		case statsAttrOutPPS:
			p = &c.PPSOut
		case statsAttrInBPS:
			p = &c.BPSIn
		case statsAttrOutBPS:
			p = &c.BPSOut
		default:
			return nil
		}
		n, err := getUint(v)
		*p = n
		return err
	})
	return c, err
}

// daemonAttrs writes a sync daemon for IPVS_CMD_NEW_DAEMON.
func daemonAttrs(a *attrs, d Daemon) {
	a.nest(cmdAttrDaemon, func(a *attrs) {
		a.u32(daemonAttrState, uint32(d.State))
		a.str(daemonAttrMcastIfn, d.Interface)
		a.u32(daemonAttrSyncID, d.SyncID)
		if d.MaxLen != 0 {
			a.u16(daemonAttrSyncMaxLen, d.MaxLen)
		}
		if d.Group.Is4() {
			a.put(daemonAttrMcastGroup, d.Group.AsSlice())
		} else if d.Group.Is6() {
			a.put(daemonAttrMcastGrp6, d.Group.AsSlice())
		}
		if d.Port != 0 {
			a.u16(daemonAttrMcastPort, d.Port)
		}
		if d.TTL != 0 {
			a.u8(daemonAttrMcastTTL, d.TTL)
		}
	})
}

// parseDaemonMsg reads a sync daemon from an IPVS_CMD_GET_DAEMON answer.
func parseDaemonMsg(b []byte) (Daemon, error) {
	v, err := nested(b, cmdAttrDaemon)
	if err != nil {
		return Daemon{}, err
	}
	var d Daemon
	err = forAttrs(v, func(t uint16, v []byte) (err error) {
		switch t {
		case daemonAttrState:
			var s uint32
			s, err = getU32(v)
			d.State = DaemonState(s)
		case daemonAttrMcastIfn:
			d.Interface = getString(v)
		case daemonAttrSyncID:
			d.SyncID, err = getU32(v)
		case daemonAttrSyncMaxLen:
			d.MaxLen, err = getU16(v)
		case daemonAttrMcastGroup:
			if len(v) < 4 {
				return errShortAttr
			}
			d.Group = netip.AddrFrom4([4]byte(v[:4]))
		case daemonAttrMcastGrp6:
			if len(v) < 16 {
				return errShortAttr
			}
			d.Group = netip.AddrFrom16([16]byte(v[:16]))
		case daemonAttrMcastPort:
			d.Port, err = getU16(v)
		case daemonAttrMcastTTL:
			d.TTL, err = getU8(v)
		}
		return err
	})
	if err != nil {
		return Daemon{}, fmt.Errorf("parse sync daemon: %w", err)
	}
	return d, nil
}

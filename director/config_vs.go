package director

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/lvsd/lvsd/ipvs"
)

// vsDecode is the state of one virtual_server's decoding.
type vsDecode struct {
	vs        *VirtualServer
	raw       *rawVirtualServer
	svcRanges []hcl.Range // where each of vs.Services is written
	fwmark    bool
	// family is known from an address or an explicit family; a
	// firewall-mark service without one takes its real servers'.
	familyKnown bool
	// rsAddrRanges are the real servers' address attributes (and
	// sorryRange the sorry server's), for the checks done once the family is
	// known.
	rsAddrRanges map[*RealServer]hcl.Range
	sorryRange   hcl.Range
}

func (d *decoder) decodeVirtualServer(r *rawVirtualServer) *VirtualServer {
	vs := &VirtualServer{
		Name:         r.Name,
		Scheduler:    DefaultScheduler,
		Forward:      ipvs.NAT,
		DrainTimeout: DefaultDrainTimeout,
		Quorum:       DefaultQuorum,
		DefRange:     r.DefRange,
	}
	st := &vsDecode{vs: vs, raw: r, rsAddrRanges: map[*RealServer]hcl.Range{}}
	d.decodeVirtualAddresses(st)

	if s, ok := d.str(r.Scheduler); ok {
		if ipvs.ValidScheduler(s) {
			vs.Scheduler = s
		} else {
			d.errAttr(r.Scheduler, "Unknown scheduler", "%q is not an IPVS scheduler; the kernel has %s.%s", s, strings.Join(ipvs.Schedulers, ", "), suggest(s, ipvs.Schedulers))
		}
	}
	d.decodeSchedFlags(st)
	if s, ok := d.str(r.Forward); ok {
		if f, err := ipvs.ParseForward(s); err != nil {
			d.errAttr(r.Forward, "Unknown forwarding method", "%v.", err)
		} else {
			vs.Forward = f
		}
	}
	if v, ok := d.boolean(r.OnePacket); ok {
		vs.OnePacket = v
		if v && !st.fwmark && len(vs.Services) > 0 && vs.Services[0].Protocol != ipvs.UDP {
			d.warnAttr(r.OnePacket, "one_packet has no effect", "One-packet scheduling applies to UDP only; the kernel ignores it for %s.", vs.Services[0].Protocol)
		}
	}
	if v, ok := d.duration(r.DrainTimeout, 0, 24*time.Hour); ok {
		vs.DrainTimeout = v
	}
	if v, ok := d.integer(r.Quorum, 0, math.MaxUint32); ok {
		vs.Quorum = uint32(v)
	}
	if v, ok := d.integer(r.Hysteresis, 0, math.MaxUint32); ok {
		vs.Hysteresis = uint32(v)
	}
	if v, ok := d.boolean(r.InhibitOnFailure); ok {
		vs.InhibitOnFailure = v
	}
	persistence := single(d, r.Persistence, "persistence")
	if p := persistence; p != nil && !d.missing(p.Timeout, "timeout", p.DefRange) {
		if v, ok := d.duration(p.Timeout, time.Second, maxPersistence); ok {
			if v%time.Second != 0 {
				d.errAttr(p.Timeout, "Invalid duration", "timeout must be whole seconds: the kernel counts persistence in seconds.")
			} else {
				vs.Persistence = &Persistence{Timeout: v}
			}
		} else if p.Timeout != nil && d.lastNull {
			d.errAttr(p.Timeout, "Missing value", "timeout is required and cannot be null.")
		}
	}

	for _, rc := range r.Checks {
		if c, ok := d.decodeCheck(rc); ok {
			vs.Checks = append(vs.Checks, c)
		}
	}
	d.checkNoneCheck(r.Checks)

	rsNames := map[string]hcl.Range{}
	for _, rr := range r.RealServers {
		rs := d.decodeRealServer(st, rr)
		if rs == nil {
			continue
		}
		if prev, dup := rsNames[rs.Name]; dup {
			rng := rr.DefRange
			if rr.Name != nil {
				rng = rr.Name.Expr.Range()
			}
			d.errAt(rng, "Duplicate real server name", "Real server %q of virtual_server %q is already declared at %s; set name to tell them apart.", rs.Name, vs.Name, posString(prev))
			continue
		}
		rsNames[rs.Name] = rr.DefRange
		vs.RealServers = append(vs.RealServers, rs)
	}
	if ss := single(d, r.SorryServer, "sorry_server"); ss != nil {
		vs.SorryServer = d.decodeSorryServer(st, ss)
	}

	d.settleFamily(st)
	d.checkDuplicateDestinations(st)
	if p := persistence; p != nil {
		bits, ok := fullBits(vs.Family), true
		if p.Netmask != nil {
			bits, ok = d.netmask(p.Netmask, vs.Family)
		}
		if ok && vs.Persistence != nil {
			vs.Persistence.PrefixLen = bits
		}
	}
	for i, key := range vs.Services {
		if key.FWMark == 0 && key.Addr.Port() == 0 && persistence == nil {
			d.errAt(st.svcRanges[i], "Port 0 needs persistence", "Port 0 makes %s a service for every port, which the kernel accepts only with persistence: add a persistence block, or give the port.", key.Addr.Addr())
		}
	}

	hooks := d.decodeHooks(r.Notify, "quorum_up", "quorum_down")
	vs.NotifyQuorumUp, vs.NotifyQuorumDown = hooks["quorum_up"], hooks["quorum_down"]
	d.checkQuorum(st)
	if len(vs.RealServers) == 0 && len(r.RealServers) == 0 && len(vs.Services) > 0 {
		msg := "the kernel drops or resets its connections"
		if vs.SorryServer != nil {
			msg = "the sorry server takes every connection"
		}
		d.warnAt(r.LabelRange, "Virtual server without real servers", "virtual_server %q has no real_server: %s.", vs.Name, msg)
	}
	return vs
}

// fullBits is the address length of the family.
func fullBits(f ipvs.Family) int {
	if f == ipvs.IPv6 {
		return 128
	}
	return 32
}

func (d *decoder) decodeVirtualAddresses(st *vsDecode) {
	r, vs := st.raw, st.vs
	var set []*hcl.Attribute
	for _, a := range []*hcl.Attribute{r.Address, r.Addresses, r.FWMark} {
		if a != nil {
			set = append(set, a)
		}
	}
	slices.SortFunc(set, func(a, b *hcl.Attribute) int { return a.Range.Start.Byte - b.Range.Start.Byte })
	switch {
	case len(set) == 0:
		d.errAt(r.DefRange, "Missing virtual address", "virtual_server %q needs address (\"IP:port\"), addresses (a list of them) or fwmark (a firewall mark).", r.Name)
		return
	case len(set) > 1:
		d.errAt(set[1].NameRange, "Conflicting attributes", "address, addresses and fwmark are mutually exclusive: a virtual_server is either addresses or one firewall mark.")
		return
	}

	proto := ipvs.TCP
	if s, ok := d.str(r.Protocol); ok {
		if p, err := ipvs.ParseProtocol(s); err != nil {
			d.errAttr(r.Protocol, "Unknown protocol", "%v.", err)
		} else {
			proto = p
		}
		if r.FWMark != nil {
			d.errAttr(r.Protocol, "Protocol on a firewall-mark service", "A firewall-mark service takes every packet with its mark, whatever the protocol: remove protocol (the rule that sets the mark chooses the protocols).")
		}
	}

	if r.FWMark != nil {
		st.fwmark = true
		mark, ok := d.integer(r.FWMark, 1, math.MaxUint32)
		if s, fok := d.str(r.Family); fok {
			if v, vok := d.oneOf(r.Family, s, "inet", "inet6", "ipv4", "ipv6"); vok {
				vs.Family = ipvs.IPv4
				if v == "inet6" || v == "ipv6" {
					vs.Family = ipvs.IPv6
				}
				st.familyKnown = true
			}
		}
		if ok {
			vs.Services = []ipvs.ServiceKey{{FWMark: uint32(mark)}} // family set by settleFamily
			st.svcRanges = []hcl.Range{r.FWMark.Expr.Range()}
			d.svcRanges[vs] = st.svcRanges
		}
		return
	}
	if r.Family != nil {
		d.errAt(r.Family.NameRange, "Family on an address service", "family is for firewall-mark services; a service with addresses has their family.")
	}

	var addrs []string
	var ranges []hcl.Range
	if r.Address != nil {
		s, ok := d.str(r.Address)
		if !d.required(r.Address, ok) {
			return
		}
		addrs, ranges = []string{s}, []hcl.Range{r.Address.Expr.Range()}
	} else {
		var ok bool
		addrs, ranges, ok = d.strList(r.Addresses)
		if !d.required(r.Addresses, ok) {
			return
		}
		if len(addrs) == 0 {
			d.errAttr(r.Addresses, "No addresses", "addresses is empty: list at least one \"IP:port\".")
			return
		}
	}
	seen := map[ipvs.ServiceKey]int{}
	for i, s := range addrs {
		ip, port, hasPort, err := parseHostPort(s)
		switch {
		case err != nil:
			d.errAt(ranges[i], "Invalid virtual address", "%v.", err)
			continue
		case !hasPort:
			hint := ""
			if ip.Is6() {
				hint = " An IPv6 address with a port is written in brackets: [2001:db8::1]:80."
			}
			d.errAt(ranges[i], "Missing port", "Virtual address %q has no port: write \"%s\" (port 0 means every port, and needs persistence).%s", s, netip.AddrPortFrom(ip, 80), hint)
			continue
		case ip.IsMulticast() || ip.IsLinkLocalUnicast() || ip.IsLoopback():
			d.errAt(ranges[i], "Invalid virtual address", "%s is a multicast, link-local or loopback address; a virtual address must be a unicast address clients can reach.", ip)
			continue
		}
		fam := ipvs.FamilyOf(ip)
		if !st.familyKnown {
			vs.Family, st.familyKnown = fam, true
		} else if fam != vs.Family {
			d.errAt(ranges[i], "Mixed address families", "%s is %s but the virtual server's first address is %s: IPVS forwards within one family, so put each family in its own virtual_server.", s, familyName(fam), familyName(vs.Family))
			continue
		}
		key := ipvs.ServiceKey{Family: fam, Protocol: proto, Addr: netip.AddrPortFrom(ip, port)}
		if j, dup := seen[key]; dup {
			d.errAt(ranges[i], "Duplicate virtual address", "%s is listed twice (also at %s).", key, posString(ranges[j]))
			continue
		}
		seen[key] = i
		vs.Services = append(vs.Services, key)
		st.svcRanges = append(st.svcRanges, ranges[i])
		d.svcRanges[vs] = st.svcRanges
	}
}

func familyName(f ipvs.Family) string {
	if f == ipvs.IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

func (d *decoder) decodeSchedFlags(st *vsDecode) {
	a := st.raw.SchedulerFlags
	flags, ranges, ok := d.strList(a)
	if !ok {
		return
	}
	seen := map[string]bool{}
	for i, f := range flags {
		f = strings.ToLower(f)
		sched, what, found := strings.Cut(f, "-")
		if !found || (sched != "sh" && sched != "mh") || (what != "port" && what != "fallback") {
			all := []string{"sh-port", "sh-fallback", "mh-port", "mh-fallback"}
			d.errAt(ranges[i], "Unknown scheduler flag", "%q is not a scheduler flag; the kernel has %s.%s", flags[i], quoteList(all), suggest(flags[i], all))
			continue
		}
		if sched != st.vs.Scheduler {
			d.errAt(ranges[i], "Scheduler flag for another scheduler", "%s is a flag of the %s scheduler, but this virtual server uses %q.", f, sched, st.vs.Scheduler)
			continue
		}
		if seen[f] {
			d.errAt(ranges[i], "Duplicate scheduler flag", "%s is listed twice.", f)
			continue
		}
		seen[f] = true
		if what == "port" {
			st.vs.SchedFlags.Port = true
		} else {
			st.vs.SchedFlags.Fallback = true
		}
	}
}

// netmask parses a persistence netmask: a prefix length (24, "24",
// "/24") or, for IPv4, a dotted mask ("255.255.255.0").
func (d *decoder) netmask(a *hcl.Attribute, fam ipvs.Family) (int, bool) {
	s, ok := d.str(a)
	if !ok {
		return 0, false
	}
	max := fullBits(fam)
	if n, err := strconv.Atoi(strings.TrimPrefix(s, "/")); err == nil {
		if n < 1 || n > max {
			d.errAttr(a, "Invalid netmask", "The persistence netmask of an %s service is a prefix length from 1 to %d, not %d.", familyName(fam), max, n)
			return 0, false
		}
		return n, true
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		d.errAttr(a, "Invalid netmask", "netmask must be a prefix length (e.g. 24) or an IPv4 mask (e.g. \"255.255.255.0\"), not %q.", s)
		return 0, false
	}
	if fam == ipvs.IPv6 {
		d.errAttr(a, "Invalid netmask", "This virtual server is IPv6: give its netmask as a prefix length (e.g. 64).")
		return 0, false
	}
	v := uint32(m.As4()[0])<<24 | uint32(m.As4()[1])<<16 | uint32(m.As4()[2])<<8 | uint32(m.As4()[3])
	ones := 0
	for ones < 32 && v&(1<<(31-ones)) != 0 {
		ones++
	}
	if ones < 32 && v<<ones != 0 || ones == 0 {
		d.errAttr(a, "Invalid netmask", "%s is not a contiguous netmask.", s)
		return 0, false
	}
	return ones, true
}

// destination decodes the address of a real or sorry server and checks its
// port against the forwarding method and the virtual services.
func (d *decoder) destination(st *vsDecode, a *hcl.Attribute, fwd ipvs.Forward, what string) (netip.Addr, uint16, bool) {
	s, ok := d.str(a)
	if !d.required(a, ok) {
		return netip.Addr{}, 0, false
	}
	ip, port, hasPort, err := parseHostPort(s)
	if err != nil {
		d.errAttr(a, "Invalid "+what+" address", "%v.", err)
		return netip.Addr{}, 0, false
	}
	if ip.IsMulticast() {
		d.errAttr(a, "Invalid "+what+" address", "%s is a multicast address.", ip)
		return netip.Addr{}, 0, false
	}
	if !hasPort || port == 0 {
		return ip, 0, true
	}
	if st.fwmark {
		if fwd == ipvs.NAT {
			d.warnAttr(a, "Port on a firewall-mark real server", "Every connection with the mark (whatever its port) is sent to port %d of %s. Leave the port out to keep each connection's own port.", port, ip)
			return ip, port, true
		}
		d.errAttr(a, "Port on a firewall-mark real server", "In %s mode the kernel forwards the packet unchanged and cannot send it to port %d: leave the port out (write %q).", fwd, port, ip.String())
		return ip, 0, false
	}
	if fwd == ipvs.DR || fwd == ipvs.Tunnel {
		for _, key := range st.vs.Services {
			if key.Addr.Port() == 0 {
				d.errAttr(a, "Port differs from the virtual port", "%s takes every port, and in %s mode the kernel forwards each packet unchanged, on the client's port: leave the port out (write %q).", key, fwd, ip.String())
				return ip, 0, false
			}
			if key.Addr.Port() != port {
				d.errAttr(a, "Port differs from the virtual port", "In %s mode the kernel forwards the packet unchanged, so the real server gets it on port %d, not %d: write %q, leave the port out, or use forward = \"nat\".", fwd, key.Addr.Port(), port, netip.AddrPortFrom(ip, key.Addr.Port()))
				return ip, 0, false
			}
		}
	}
	return ip, port, true
}

func (d *decoder) forward(a *hcl.Attribute, def ipvs.Forward) ipvs.Forward {
	if s, ok := d.str(a); ok {
		f, err := ipvs.ParseForward(s)
		if err != nil {
			d.errAttr(a, "Unknown forwarding method", "%v.", err)
			return def
		}
		return f
	}
	return def
}

func (d *decoder) decodeRealServer(st *vsDecode, r *rawRealServer) *RealServer {
	vs := st.vs
	rs := &RealServer{
		Weight:           DefaultWeight,
		InhibitOnFailure: vs.InhibitOnFailure,
		DefRange:         r.DefRange,
	}
	rs.Forward = d.forward(r.Forward, vs.Forward)
	// On a bad address, go on decoding the rest to report its mistakes
	// too, and drop the server at the end.
	valid := !d.missing(r.Address, "address", r.DefRange)
	var ip netip.Addr
	var port uint16
	if valid {
		ip, port, valid = d.destination(st, r.Address, rs.Forward, "real server")
	}
	rs.Addr, rs.Port = ip, port
	if valid {
		st.rsAddrRanges[rs] = r.Address.Expr.Range()
		for i, key := range vs.Services {
			if key.FWMark == 0 && netip.AddrPortFrom(ip, rs.portFor(key)) == key.Addr {
				d.errAttr(r.Address, "Real server is the virtual address", "%s is the virtual service %s itself (declared at %s): connections would loop.", netip.AddrPortFrom(ip, rs.portFor(key)), key, posString(st.svcRanges[i]))
				valid = false
			}
		}
	}

	rs.Name = ip.String()
	if port != 0 {
		rs.Name = netip.AddrPortFrom(ip, port).String()
	}
	if n, ok := d.str(r.Name); ok {
		if !rsNameRE.MatchString(n) {
			d.errAttr(r.Name, "Invalid name", "Real server name %q: use 1 to 64 letters, digits, '_', '.', ':' and '-'.", n)
		} else {
			rs.Name = n
		}
	}
	rs.ID = vs.Name + "/" + rs.Name

	if v, ok := d.integer(r.Weight, 0, 65535); ok {
		rs.Weight = uint32(v)
	}
	if v, ok := d.integer(r.UpperThreshold, 0, math.MaxUint32); ok {
		rs.UpperThreshold = uint32(v)
	}
	if v, ok := d.integer(r.LowerThreshold, 0, math.MaxUint32); ok {
		rs.LowerThreshold = uint32(v)
		if rs.LowerThreshold > rs.UpperThreshold {
			if rs.UpperThreshold == 0 {
				d.errAttr(r.LowerThreshold, "Lower threshold without an upper one", "lower_threshold %d needs an upper_threshold above it: the kernel refuses a lower threshold above the upper one, and upper 0 means no limit.", rs.LowerThreshold)
			} else {
				d.errAttr(r.LowerThreshold, "Lower threshold above the upper one", "lower_threshold %d is above upper_threshold %d; the kernel refuses it.", rs.LowerThreshold, rs.UpperThreshold)
			}
		}
	}
	if v, ok := d.boolean(r.InhibitOnFailure); ok {
		rs.InhibitOnFailure = v
	}

	checks := vs.Checks
	rs.ChecksInherited = true
	if len(r.Checks) > 0 {
		checks, rs.ChecksInherited = nil, false
		for _, rc := range r.Checks {
			if c, ok := d.decodeCheck(rc); ok {
				checks = append(checks, c)
			}
		}
		d.checkNoneCheck(r.Checks)
	}
	if len(checks) == 0 {
		rs.ChecksInherited = false
	}
	if valid {
		rs.Checks = d.resolveChecks(st, rs, checks)
	}

	hooks := d.decodeHooks(r.Notify, "up", "down")
	rs.NotifyUp, rs.NotifyDown = hooks["up"], hooks["down"]
	if !valid {
		return nil
	}
	return rs
}

func (d *decoder) decodeSorryServer(st *vsDecode, r *rawSorryServer) *SorryServer {
	s := &SorryServer{DefRange: r.DefRange}
	s.Forward = d.forward(r.Forward, st.vs.Forward)
	if d.missing(r.Address, "address", r.DefRange) {
		return nil
	}
	ip, port, ok := d.destination(st, r.Address, s.Forward, "sorry server")
	if !ok {
		return nil
	}
	s.Addr, s.Port = ip, port
	st.sorryRange = r.Address.Expr.Range()
	if v, ok := d.boolean(r.Inhibit); ok {
		s.Inhibit = v
	}
	for _, rs := range st.vs.RealServers {
		if rs.Addr == s.Addr && rs.Port == s.Port {
			d.warnAttr(r.Address, "Sorry server is a real server", "The sorry server is also real server %q: when the virtual server is below quorum it would take the traffic the failed checks just removed.", rs.Name)
			break
		}
	}
	return s
}

// settleFamily fixes the family of a firewall-mark service (explicit, else
// its real servers', else IPv4) and checks every destination against it.
func (d *decoder) settleFamily(st *vsDecode) {
	vs := st.vs
	if !st.familyKnown {
		vs.Family = ipvs.IPv4
		for _, rs := range vs.RealServers {
			vs.Family = ipvs.FamilyOf(rs.Addr)
			break
		}
		if len(vs.RealServers) == 0 && vs.SorryServer != nil {
			vs.Family = ipvs.FamilyOf(vs.SorryServer.Addr)
		}
	}
	for i := range vs.Services {
		vs.Services[i].Family = vs.Family
	}
	check := func(ip netip.Addr, rng hcl.Range) {
		if f := ipvs.FamilyOf(ip); f != vs.Family {
			d.errAt(rng, "Mixed address families", "%s is %s but virtual_server %q is %s: IPVS forwards within one family.", ip, familyName(f), vs.Name, familyName(vs.Family))
		}
	}
	for _, rs := range vs.RealServers {
		check(rs.Addr, st.rsAddrRanges[rs])
	}
	if vs.SorryServer != nil {
		check(vs.SorryServer.Addr, st.sorryRange)
	}
}

// checkDuplicateDestinations rejects two real servers that are the same
// kernel destination of a service.
func (d *decoder) checkDuplicateDestinations(st *vsDecode) {
	vs := st.vs
	reported := map[*RealServer]bool{}
	for _, key := range vs.Services {
		seen := map[netip.AddrPort]*RealServer{}
		for _, rs := range vs.RealServers {
			ap := netip.AddrPortFrom(rs.Addr, rs.portFor(key))
			if prev, dup := seen[ap]; dup {
				if !reported[rs] {
					d.errAt(st.rsAddrRanges[rs], "Duplicate real server", "Real servers %q and %q of virtual_server %q are both %s for %s (the first at %s).", prev.Name, rs.Name, vs.Name, ap, key, posString(st.rsAddrRanges[prev]))
					reported[rs] = true
				}
				continue
			}
			seen[ap] = rs
		}
	}
}

// checkQuorum warns when the real servers' weights can never reach the
// quorum.
func (d *decoder) checkQuorum(st *vsDecode) {
	vs, r := st.vs, st.raw
	if len(vs.RealServers) == 0 {
		return
	}
	var total uint64
	for _, rs := range vs.RealServers {
		total += uint64(rs.Weight)
		for _, c := range rs.Checks {
			if c.Exec != nil && c.Exec.DynamicWeight {
				return // weights change at run time
			}
		}
	}
	q, h := uint64(vs.Quorum), uint64(vs.Hysteresis)
	switch {
	case q > total && r.Quorum != nil:
		d.warnAttr(r.Quorum, "Quorum can never be reached", "quorum %d is above the sum of the real servers' weights (%d): virtual_server %q will always be down.", q, total, vs.Name)
	case q > total:
		d.warnAt(r.LabelRange, "Quorum can never be reached", "Every real server of virtual_server %q has weight 0, below the default quorum of 1: it will always be down (set weights, or quorum = 0).", vs.Name)
	case q+h > total && r.Hysteresis != nil:
		d.warnAttr(r.Hysteresis, "Quorum can never come back", "quorum + hysteresis (%d) is above the sum of the real servers' weights (%d): once down, virtual_server %q never comes back up.", q+h, total, vs.Name)
	}
}

// checkServiceKeys rejects a kernel service declared by two virtual
// servers.
func (d *decoder) checkServiceKeys(cfg *Config) {
	type decl struct {
		vs  string
		rng hcl.Range
	}
	seen := map[ipvs.ServiceKey]decl{}
	for _, vs := range cfg.VirtualServers {
		for i, key := range vs.Services {
			rng := d.svcRanges[vs][i]
			if prev, dup := seen[key]; dup {
				d.errAt(rng, "Duplicate virtual service", "%s is already declared by virtual_server %q at %s.", key, prev.vs, posString(prev.rng))
				continue
			}
			seen[key] = decl{vs.Name, rng}
		}
	}
}

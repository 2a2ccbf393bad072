package kaconf

import (
	"fmt"
	"math/big"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// schedulers are the kernel's IPVS schedulers (as director accepts them).
var schedulers = map[string]bool{"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "lblcr": true, "dh": true,
	"sh": true, "sed": true, "nq": true, "mh": true, "fo": true, "ovf": true, "twos": true}

// maxGroupAddrs bounds the addresses a virtual_server_group range expands
// to.
const maxGroupAddrs = 4096

// checkDefaults are the checker settings a virtual server or real server
// passes down (keepalived: checker > real server > virtual server).
type checkDefaults struct {
	delayLoop   time.Duration
	connTimeout time.Duration
	retry       *int64
	dbr         *time.Duration // delay_before_retry
	warmup      *time.Duration
	alpha       bool
	host        string // virtualhost
	vsDelayLoop time.Duration
}

// service is one address of a virtual server, or its firewall mark.
type service struct {
	addr   netip.AddrPort
	fwmark uint32
	family string // inet/inet6 of a firewall mark from a group
}

type vsConv struct {
	c      *conv
	n      *Node
	b      *hblock
	fwmark bool
	svcs   []service
	fwd    string // nat, dr, tun
	family int    // 4 or 6
	defs   checkDefaults
	once   map[string]bool
}

// warnOnce warns about key once per virtual server.
func (v *vsConv) warnOnce(pos Pos, key, format string, args ...any) {
	if v.once[key] {
		return
	}
	v.once[key] = true
	v.c.warn(pos, format, args...)
}

func (c *conv) virtualServer(n *Node) []*hblock {
	if !n.HasBlock {
		c.warn(n.Pos, "virtual_server needs a { } block; ignored")
		return nil
	}
	v := &vsConv{c: c, n: n, once: map[string]bool{}}
	var baseName, groupName string
	switch strings.ToLower(n.Arg(0)) {
	case "":
		c.warn(n.Pos, "virtual_server needs an address, fwmark N or group NAME; ignored")
		return nil
	case "fwmark":
		m, err := strconv.ParseUint(n.Arg(1), 10, 32)
		if err != nil || m == 0 {
			c.warn(n.Pos, "virtual_server fwmark %s: not a mark in [1, 4294967295]; ignored", n.Arg(1))
			return nil
		}
		v.svcs = []service{{fwmark: uint32(m)}}
		baseName = "fwmark-" + n.Arg(1)
	case "group":
		groupName = n.Arg(1)
		g, ok := c.vsgroups[groupName]
		if !ok {
			c.warn(n.Pos, "virtual_server group %s: no virtual_server_group of that name; ignored (keepalived ignores it too)", groupName)
			return nil
		}
		v.svcs = c.groupServices(g)
		if len(v.svcs) == 0 {
			c.warn(n.Pos, "virtual_server group %s: the group has no usable entry; ignored", groupName)
			return nil
		}
		baseName = groupName
	default:
		ip, err := netip.ParseAddr(strings.Trim(n.Arg(0), "[]"))
		if err != nil || ip.Zone() != "" {
			c.warn(n.Pos, "virtual_server %s: not an IP address; ignored (keepalived skips it too)", n.Arg(0))
			return nil
		}
		port := uint64(0)
		if n.Arg(1) != "" {
			if port, err = strconv.ParseUint(n.Arg(1), 10, 16); err != nil {
				c.warn(n.Pos, "virtual_server %s %s: not a port; ignored", n.Arg(0), n.Arg(1))
				return nil
			}
		}
		ip = ip.Unmap()
		v.svcs = []service{{addr: netip.AddrPortFrom(ip, uint16(port))}}
		baseName = strings.ReplaceAll(ip.String(), ":", "-") + "_" + strconv.FormatUint(port, 10)
	}
	v.fwmark = v.svcs[0].fwmark != 0
	v.family = 4
	for _, s := range v.svcs {
		if s.fwmark == 0 && s.addr.Addr().Is6() {
			v.family = 6
		}
	}
	return v.convert(baseName)
}

// groupServices expands a virtual_server_group.
func (c *conv) groupServices(g *Node) []service {
	var out []service
	n := 0
	for _, l := range g.Block {
		if l.Keyword() == "fwmark" {
			m, err := strconv.ParseUint(l.Arg(0), 10, 32)
			if err != nil || m == 0 {
				c.warn(l.Pos, "fwmark %s: not a mark; left out of the group", l.Arg(0))
				continue
			}
			out = append(out, service{fwmark: uint32(m), family: l.Arg(1)})
			continue
		}
		port := uint64(0)
		if l.Arg(0) != "" {
			var err error
			if port, err = strconv.ParseUint(l.Arg(0), 10, 16); err != nil {
				c.warn(l.Pos, "%s %s: not a port; left out of the group", l.Keyword(), l.Arg(0))
				continue
			}
		}
		addrs, err := expandRange(l.Keyword())
		if err != nil {
			c.warn(l.Pos, "%s: %v; left out of the group", l.Keyword(), err)
			continue
		}
		for _, a := range addrs {
			if n++; n > maxGroupAddrs {
				c.warn(l.Pos, "virtual_server_group %s expands to more than %d addresses; the rest are left out", g.Arg(0), maxGroupAddrs)
				return out
			}
			out = append(out, service{addr: netip.AddrPortFrom(a, uint16(port))})
		}
	}
	return out
}

// expandRange reads a group address: "IP", "IP-LAST" (the last part of
// the address, decimal for IPv4, hex for IPv6), "IP-IP" or "IP/LEN".
func expandRange(s string) ([]netip.Addr, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("not an address range")
		}
		p = p.Masked()
		bits := p.Addr().BitLen() - p.Bits()
		if bits > 16 {
			return nil, fmt.Errorf("a range of 2^%d addresses is too large", bits)
		}
		var out []netip.Addr
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			out = append(out, a)
			if !a.Next().IsValid() {
				break
			}
		}
		return out, nil
	}
	first, last, isRange := strings.Cut(s, "-")
	start, err := netip.ParseAddr(first)
	if err != nil || start.Zone() != "" {
		return nil, fmt.Errorf("not an IP address or range")
	}
	start = start.Unmap()
	if !isRange {
		return []netip.Addr{start}, nil
	}
	end, err := netip.ParseAddr(last)
	if err != nil {
		// Only the last part: an octet (IPv4) or a group (IPv6).
		b := start.AsSlice()
		if start.Is4() {
			v, perr := strconv.ParseUint(last, 10, 8)
			if perr != nil {
				return nil, fmt.Errorf("bad range end %q", last)
			}
			b[3] = byte(v)
		} else {
			v, perr := strconv.ParseUint(last, 16, 16)
			if perr != nil {
				return nil, fmt.Errorf("bad range end %q", last)
			}
			b[14], b[15] = byte(v>>8), byte(v)
		}
		end, _ = netip.AddrFromSlice(b)
	}
	end = end.Unmap()
	if end.BitLen() != start.BitLen() || end.Less(start) {
		return nil, fmt.Errorf("range end %s is before its start", end)
	}
	span := new(big.Int).Sub(new(big.Int).SetBytes(end.AsSlice()), new(big.Int).SetBytes(start.AsSlice()))
	if span.Cmp(big.NewInt(maxGroupAddrs)) >= 0 {
		return nil, fmt.Errorf("a range of %s addresses is too large", span.Add(span, big.NewInt(1)))
	}
	var out []netip.Addr
	for a := start; ; a = a.Next() {
		out = append(out, a)
		if a == end {
			break
		}
	}
	return out, nil
}

// vsSettings are the virtual server's own statements, read before the real
// servers are converted.
type vsSettings struct {
	protocol, sched, fwd, family string
	protoPos, fwdPos             Pos
	flags                        []string
	persist                      *int64
	persistPos                   Pos
	granularity                  string
	ops                          *Node
	quorum, hysteresis           *int64
	qPos, hPos                   Pos
	inhibit                      *bool
	sorry                        *Node
	sorryInhibit                 bool
	sorryFwd                     string
	hooks                        map[string]*Node
	snmpName                     string
	rss                          []*Node
}

func (v *vsConv) convert(baseName string) []*hblock {
	c, n := v.c, v.n
	st := vsSettings{hooks: map[string]*Node{}}
	v.defs = checkDefaults{delayLoop: 60 * time.Second, connTimeout: 5 * time.Second}
	for _, s := range n.Block {
		kw := s.Keyword()
		switch kw {
		case "real_server":
			st.rss = append(st.rss, s)
		case "lb_algo", "lvs_sched":
			st.sched = s.Arg(0)
		case "lb_kind", "lvs_method":
			st.fwd, st.fwdPos = c.forwardMethod(s), s.Pos
		case "protocol":
			st.protocol, st.protoPos = strings.ToLower(s.Arg(0)), s.Pos
		case "persistence_timeout":
			t := int64(360)
			if s.Arg(0) != "" {
				var ok bool
				if t, ok = c.uintArg(s, 0, 0, 4294967); !ok {
					continue
				}
			}
			st.persist, st.persistPos = &t, s.Pos
		case "persistence_granularity":
			st.granularity = s.Arg(0)
		case "persistence_engine":
			c.ignored(s, "the kernel's persistence engines (sip) are not supported by lvsd")
		case "ops":
			st.ops = s
		case "sh-port", "sh-fallback", "mh-port", "mh-fallback", "flag-1", "flag-2", "flag-3":
			st.flags = append(st.flags, kw)
		case "quorum":
			if q, ok := c.uintArg(s, 0, 0, 4294967295); ok {
				st.quorum, st.qPos = &q, s.Pos
			}
		case "hysteresis":
			if h, ok := c.uintArg(s, 0, 0, 4294967295); ok {
				st.hysteresis, st.hPos = &h, s.Pos
			}
		case "quorum_up", "quorum_down":
			st.hooks[kw] = s
		case "inhibit_on_failure":
			if b, ok := c.boolArg(s, 0); ok {
				st.inhibit = &b
			}
		case "sorry_server":
			st.sorry = s
		case "sorry_server_inhibit":
			if b, ok := c.boolArg(s, 0); ok {
				st.sorryInhibit = b
			}
		case "sorry_server_lvs_method":
			st.sorryFwd = c.forwardMethod(s)
		case "ip_family":
			st.family = s.Arg(0)
		case "snmp_name":
			st.snmpName = s.Arg(0)
		case "virtualhost":
			v.defs.host = s.Arg(0)
		case "alpha":
			if b, ok := c.boolArg(s, 0); ok {
				v.defs.alpha = b
			}
		case "delay_loop", "connect_timeout", "retry", "nb_get_retry", "delay_before_retry", "warmup":
			c.timingSetting(s, &v.defs)
		case "omega":
			c.ignored(s, "lvsd runs no down hooks when it stops: a stop leaves the IPVS table as it is")
		case "ha_suspend":
			c.ignored(s, "lvsd always runs the checks, also on the backup (warm standby), so a failover finds the real servers' state known")
		case "smtp_alert":
			c.ignored(s, "lvsd sends no e-mail: use notify hooks")
		case "syn_proxy", "laddr_group_name", "daddr_group_name", "vip_bind_dev", "bps", "limit_proportion":
			c.ignored(s, "a keyword of a keepalived fork (FULLNAT), not of keepalived 2.2")
		default:
			c.unknown(s, "virtual_server")
		}
	}
	v.defs.vsDelayLoop = v.defs.delayLoop

	// Protocol: keepalived 2.2 defaults an address service without one to
	// UDP (it says so when it starts).
	proto := st.protocol
	switch {
	case v.fwmark && proto != "":
		c.note(st.protoPos, "protocol %s on a firewall-mark service: keepalived ignores it, lvsd does not allow it", strings.ToUpper(proto))
		proto = ""
	case v.fwmark:
	case proto == "":
		c.warn(n.Pos, "virtual_server without protocol: keepalived 2.2 makes it a UDP service (\"no protocol set - defaulting to UDP\"); imported as protocol = \"udp\" — write protocol TCP if TCP was meant")
		proto = "udp"
	case proto != "tcp" && proto != "udp" && proto != "sctp":
		c.warn(st.protoPos, "protocol %s: not TCP, UDP or SCTP; imported as udp, as keepalived does", st.protocol)
		proto = "udp"
	}
	v.fwd = st.fwd
	if v.fwd == "" {
		v.fwd = "nat"
	}

	// Several firewall marks, or marks and addresses, are one keepalived
	// virtual server but several lvsd ones.
	var parts [][]service
	var addrs []service
	for _, s := range v.svcs {
		if s.fwmark != 0 {
			parts = append(parts, []service{s})
		} else {
			addrs = append(addrs, s)
		}
	}
	if len(addrs) > 0 {
		parts = append([][]service{addrs}, parts...)
	}
	if len(parts) > 1 {
		c.warn(n.Pos, "virtual_server group %s mixes addresses and firewall marks (or holds several marks): lvsd makes one virtual server of the addresses and one of each mark, each with its own copy of the real servers, checks and quorum", n.Arg(1))
	}
	var out []*hblock
	for i, p := range parts {
		name := baseName
		if st.snmpName != "" && i == 0 {
			name = st.snmpName
		}
		if p[0].fwmark != 0 && len(parts) > 1 {
			name = baseName + "-fwmark-" + strconv.FormatUint(uint64(p[0].fwmark), 10)
		}
		if proto != "" && proto != "tcp" && p[0].fwmark == 0 {
			name += "-" + proto
		}
		pv := *v
		pv.svcs = p
		pv.fwmark = p[0].fwmark != 0
		if b := pv.emit(proto, &st); b != nil {
			if name == st.snmpName {
				b.labels = []string{c.lvsdName("virtual_server", name, n.Pos)}
			} else {
				b.labels = []string{c.uniqueName("virtual_server", name)}
			}
			out = append(out, b)
		}
	}
	return out
}

func (c *conv) forwardMethod(s *Node) string {
	m := strings.ToUpper(s.Arg(0))
	switch m {
	case "NAT":
		return "nat"
	case "DR":
		return "dr"
	case "TUN":
		rest := s.Args()[1:]
		if len(rest) >= 2 && rest[0] == "type" && rest[1] != "ipip" {
			c.warn(s.Pos, "%s TUN type %s: lvsd's tunnels are IPIP only; imported as tun (IPIP) — the real servers must decapsulate IPIP", s.Keyword(), rest[1])
		} else if len(rest) > 0 && !(len(rest) == 2 && rest[0] == "type") {
			c.warn(s.Pos, "%s %s: tunnel options are not supported by lvsd; plain IPIP tunnel", s.Keyword(), strings.Join(s.Args(), " "))
		}
		return "tun"
	}
	c.warn(s.Pos, "%s %s: not NAT, DR or TUN; imported as nat", s.Keyword(), s.Arg(0))
	return "nat"
}

// timingSetting reads delay_loop, connect_timeout, retry,
// delay_before_retry and warmup into d.
func (c *conv) timingSetting(s *Node, d *checkDefaults) {
	switch s.Keyword() {
	case "delay_loop":
		if t, ok := c.timerArg(s, 0, time.Hour); ok {
			if t < 10*time.Millisecond {
				c.warn(s.Pos, "delay_loop %s: lvsd checks at most every 10ms; imported as 10ms", s.Arg(0))
				t = 10 * time.Millisecond
			}
			d.delayLoop = t
		}
	case "connect_timeout":
		if t, ok := c.timerArg(s, 0, time.Hour); ok {
			if t < time.Millisecond {
				t = time.Millisecond
			}
			d.connTimeout = t
		}
	case "retry", "nb_get_retry":
		if r, ok := c.uintArg(s, 0, 0, 999); ok {
			d.retry = &r
		}
		if s.Keyword() == "nb_get_retry" {
			c.note(s.Pos, "nb_get_retry is keepalived's old name of retry")
		}
	case "delay_before_retry":
		if t, ok := c.timerArg(s, 0, time.Hour); ok {
			d.dbr = &t
		}
	case "warmup":
		if t, ok := c.timerArg(s, 0, time.Hour); ok {
			d.warmup = &t
		}
	}
}

// emit builds one lvsd virtual server (without its name).
func (v *vsConv) emit(proto string, st *vsSettings) *hblock {
	c, n := v.c, v.n
	b := newBlock("virtual_server")
	b.comments = []string{from(n.Pos)}
	v.b = b
	if v.fwmark {
		b.setInt("fwmark", int64(v.svcs[0].fwmark))
		fam := st.family
		if v.svcs[0].family != "" {
			fam = v.svcs[0].family
		}
		if fam == "inet" || fam == "inet6" {
			b.setString("family", fam)
		} else if fam != "" {
			c.warn(n.Pos, "ip_family %s: not inet or inet6; ignored", fam)
		}
	} else {
		var list []string
		seen := map[netip.AddrPort]bool{}
		for _, s := range v.svcs {
			if seen[s.addr] {
				continue
			}
			seen[s.addr] = true
			a := s.addr.Addr()
			if a.IsMulticast() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
				c.warn(n.Pos, "%s is not an address clients can reach (multicast, loopback, link-local or unspecified); lvsd refuses it, left out", a)
				continue
			}
			if s.addr.Addr().Is6() != (v.family == 6) {
				c.warn(n.Pos, "%s: lvsd keeps one address family per virtual server; left out", s.addr)
				continue
			}
			list = append(list, s.addr.String())
		}
		if len(list) == 0 {
			c.warn(n.Pos, "virtual_server has no usable address; ignored")
			return nil
		}
		if len(list) == 1 {
			b.setString("address", list[0])
		} else {
			b.setStrings("addresses", list)
		}
		if st.family != "" {
			c.note(n.Pos, "ip_family: the family follows the addresses")
		}
		b.setString("protocol", proto)
	}

	sched := strings.ToLower(st.sched)
	switch {
	case sched == "":
		sched = "wlc"
		b.setString("scheduler", sched).note("keepalived's default")
	case schedulers[sched]:
		b.setString("scheduler", sched)
	default:
		c.warn(n.Pos, "lb_algo %s: not a kernel IPVS scheduler; imported as wlc (keepalived's default)", st.sched)
		sched = "wlc"
		b.setString("scheduler", sched)
	}
	var flags []string
	for _, f := range st.flags {
		switch f {
		case "flag-1", "flag-2":
			if sched != "sh" && sched != "mh" {
				c.warn(n.Pos, "%s: a flag of the sh and mh schedulers only; ignored with %s", f, sched)
				continue
			}
			f = sched + map[string]string{"flag-1": "-fallback", "flag-2": "-port"}[f]
		case "flag-3":
			c.ignored(&Node{Pos: n.Pos, Words: []string{f}}, "no kernel scheduler uses it")
			continue
		}
		if !strings.HasPrefix(f, sched+"-") {
			c.warn(n.Pos, "%s is a flag of another scheduler than %s; ignored (the kernel ignores it too)", f, sched)
			continue
		}
		if !contains(flags, f) {
			flags = append(flags, f)
		}
	}
	if len(flags) > 0 {
		b.setStrings("scheduler_flags", flags)
	}
	if st.fwd == "" {
		b.setString("forward", "nat").note("keepalived's default")
	} else {
		b.setString("forward", v.fwd)
	}
	if st.ops != nil {
		if v.fwmark || proto == "udp" {
			b.setBool("one_packet", true)
		} else {
			c.warn(st.ops.Pos, "ops on a %s service: keepalived resets it (one-packet scheduling is for UDP); left out", strings.ToUpper(proto))
		}
	}

	persist := st.persist
	zeroPort := false
	for _, s := range v.svcs {
		zeroPort = zeroPort || (s.fwmark == 0 && s.addr.Port() == 0)
	}
	if zeroPort && (persist == nil || *persist == 0) {
		c.warn(n.Pos, "a virtual server on port 0 (every port) needs persistence: keepalived sets persistence_timeout 360, and so does the import")
		t := int64(360)
		persist = &t
	}
	if persist != nil && *persist > 0 {
		p := b.add(newBlock("persistence"))
		p.setDuration("timeout", time.Duration(*persist)*time.Second)
		if st.granularity != "" {
			if mask := granularity(st.granularity, v.family); mask != "" {
				p.setString("netmask", mask)
			} else {
				c.warn(n.Pos, "persistence_granularity %s: not a netmask; ignored", st.granularity)
			}
		}
	} else if st.granularity != "" {
		c.warn(n.Pos, "persistence_granularity without persistence_timeout has no effect; ignored")
	}
	if st.inhibit != nil && *st.inhibit {
		b.setBool("inhibit_on_failure", true)
	}

	// Real servers.
	type rsOut struct {
		b      *hblock
		checks []*hblock
		weight int64
	}
	var rss []rsOut
	seen := map[string]bool{}
	var total int64
	for _, r := range st.rss {
		rb, checks, w, key := v.realServer(r, st.inhibit != nil && *st.inhibit)
		if rb == nil {
			continue
		}
		if seen[key] {
			c.warn(r.Pos, "real_server %s is a duplicate; keepalived removes the second one, and so does the import", key)
			continue
		}
		seen[key] = true
		total += w
		rss = append(rss, rsOut{rb, checks, w})
	}
	if len(rss) == 0 {
		c.warn(n.Pos, "virtual_server %s has no real server: keepalived ignores it (\"has no real servers - ignoring\"), and so does the import", strings.Join(n.Args(), " "))
		return nil
	}

	// Checks: identical on every real server, they become the virtual
	// server's default checks.
	hoist := len(rss) > 1
	for i := 0; hoist && i < len(rss); i++ {
		hoist = len(rss[i].checks) > 0 && len(rss[i].checks) == len(rss[0].checks)
		for j := 0; hoist && j < len(rss[i].checks); j++ {
			hoist = rss[i].checks[j].key() == rss[0].checks[j].key()
		}
	}
	if hoist {
		for _, ch := range rss[0].checks {
			all := fmt.Sprintf("all %d", len(rss))
			if len(rss) == 2 {
				all = "both"
			}
			ch.comments = append(ch.comments, "the same on "+all+" real servers")
			b.add(ch)
		}
	}

	q, h := int64(1), int64(0)
	if st.quorum != nil {
		q = *st.quorum
	}
	if st.hysteresis != nil {
		h = *st.hysteresis
	}
	qPos, hPos := st.qPos, st.hPos
	if qPos == (Pos{}) {
		qPos = n.Pos
	}
	if hPos == (Pos{}) {
		hPos = n.Pos
	}
	if len(rss) > 0 && q > total {
		c.warn(qPos, "quorum %d is above the real servers' total weight %d: keepalived reduces it to %d, and so does the import", q, total, total)
		q = total
	}
	if h > 0 && h >= q {
		nh := q - 1
		if nh < 0 {
			nh = 0
		}
		c.warn(hPos, "hysteresis %d is not below quorum %d: keepalived sets it to %d, and so does the import", h, q, nh)
		h = nh
	}
	if h > 0 {
		b.setInt("quorum", q-h).note(fmt.Sprintf("keepalived quorum %d, hysteresis %d: down below %d", q, h, q-h))
		b.setInt("hysteresis", 2*h).note(fmt.Sprintf("up again at %d", q+h))
		c.note(hPos, "quorum %d hysteresis %d: keepalived goes down below quorum-hysteresis and up at quorum+hysteresis, lvsd down below quorum and up at quorum+hysteresis; imported as quorum = %d, hysteresis = %d (the same thresholds)", q, h, q-h, 2*h)
	} else if q != 1 {
		b.setInt("quorum", q)
	}
	if q == 0 && st.quorum != nil && len(rss) > 0 {
		c.warn(qPos, "quorum 0: keepalived still takes the virtual server down when no real server is up; lvsd with quorum 0 never does")
	}

	if st.sorry != nil {
		v.sorryServer(st)
	}
	for _, kw := range []string{"quorum_up", "quorum_down"} {
		if s := st.hooks[kw]; s != nil {
			if sc, ok := c.command(s); ok {
				if sc.user != "" {
					c.warn(s.Pos, "%s: the user %s is ignored; lvsd runs hooks as its own user", kw, sc.user)
				}
				nb := newBlock("notify", kw)
				nb.setStrings("command", sc.argv)
				b.add(nb)
			}
		}
	}
	for _, r := range rss {
		if !hoist {
			for _, ch := range r.checks {
				r.b.add(ch)
			}
		}
		b.add(r.b)
	}
	return b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// granularity converts persistence_granularity (an IPv4 netmask, or an
// IPv6 prefix length) to lvsd's netmask.
func granularity(s string, family int) string {
	if n, err := strconv.Atoi(strings.TrimPrefix(s, "/")); err == nil {
		max := 32
		if family == 6 {
			max = 128
		}
		if n >= 1 && n <= max {
			return strconv.Itoa(n)
		}
		return ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || family == 6 {
		return ""
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for ones < 32 && m&(1<<(31-ones)) != 0 {
		ones++
	}
	if ones == 0 || (ones < 32 && m<<ones != 0) {
		return ""
	}
	return s
}

// realServer converts a real_server block. It returns the block (without
// its checks), the checks, the weight and a key telling duplicates apart.
func (v *vsConv) realServer(r *Node, vsInhibit bool) (*hblock, []*hblock, int64, string) {
	c := v.c
	ip, err := netip.ParseAddr(strings.Trim(r.Arg(0), "[]"))
	if err != nil || ip.Zone() != "" {
		c.warn(r.Pos, "real_server %s: not an IP address; ignored (keepalived skips it too)", r.Arg(0))
		return nil, nil, 0, ""
	}
	ip = ip.Unmap()
	if ip.Is6() != (v.family == 6) && !v.fwmark {
		c.warn(r.Pos, "real_server %s: lvsd keeps one address family per virtual server (IPVS tunnels between families are not supported); ignored", ip)
		return nil, nil, 0, ""
	}
	port := uint64(0)
	if r.Arg(1) != "" {
		if port, err = strconv.ParseUint(r.Arg(1), 10, 16); err != nil {
			c.warn(r.Pos, "real_server %s %s: not a port; ignored", r.Arg(0), r.Arg(1))
			return nil, nil, 0, ""
		}
	}
	b := newBlock("real_server")
	b.comments = []string{from(r.Pos)}
	defs := v.defs
	fwd := v.fwd
	var (
		weight      int64 = 1
		weightSet   bool
		inhibit     *bool
		upper       *int64
		lower       *int64
		hooks       = map[string]*Node{}
		checkers    []*Node
		fwdExplicit string
		snmpName    string
	)
	if r.HasBlock {
		for _, s := range r.Block {
			kw := s.Keyword()
			switch kw {
			case "weight":
				if w, ok := c.uintArg(s, 0, 0, 65535); ok {
					weight, weightSet = w, true
				}
			case "lvs_method", "lb_kind":
				fwdExplicit = c.forwardMethod(s)
				fwd = fwdExplicit
			case "notify_up", "notify_down":
				hooks[kw] = s
			case "uthreshold":
				if x, ok := c.uintArg(s, 0, 0, 4294967295); ok {
					upper = &x
				}
			case "lthreshold":
				if x, ok := c.uintArg(s, 0, 0, 4294967295); ok {
					lower = &x
				}
			case "inhibit_on_failure":
				if x, ok := c.boolArg(s, 0); ok {
					inhibit = &x
				}
			case "alpha":
				if x, ok := c.boolArg(s, 0); ok {
					defs.alpha = x
				}
			case "virtualhost":
				defs.host = s.Arg(0)
			case "snmp_name":
				snmpName = s.Arg(0)
			case "delay_loop", "connect_timeout", "retry", "nb_get_retry", "delay_before_retry", "warmup":
				c.timingSetting(s, &defs)
			case "smtp_alert":
				c.ignored(s, "lvsd sends no e-mail: use notify hooks")
			case "track_file", "track_bfd":
				c.ignored(s, "lvsd checks real servers with check blocks only")
			case "HTTP_GET", "SSL_GET", "TCP_CHECK", "SMTP_CHECK", "DNS_CHECK", "MISC_CHECK", "PING_CHECK",
				"UDP_CHECK", "BFD_CHECK", "FILE_CHECK":
				checkers = append(checkers, s)
			default:
				c.unknown(s, "real_server")
			}
		}
	}

	// The port the kernel gets, and the one keepalived's checkers probe.
	checkPort := uint16(0)
	emitPort := uint16(port)
	switch {
	case port == 0:
	case v.fwmark && fwd != "nat":
		c.warn(r.Pos, "real_server %s %d of a firewall-mark service in %s mode: keepalived clears the port (the kernel forwards packets unchanged), and so does the import; its checks keep probing port %d", ip, port, strings.ToUpper(fwd), port)
		emitPort, checkPort = 0, uint16(port)
	case !v.fwmark && fwd != "nat":
		for _, s := range v.svcs {
			if s.addr.Port() != uint16(port) {
				c.warn(r.Pos, "real_server %s %d in %s mode: the kernel forwards packets unchanged, to virtual port %d; keepalived resets the port, and the import leaves it out; its checks keep probing port %d", ip, port, strings.ToUpper(fwd), s.addr.Port(), port)
				emitPort, checkPort = 0, uint16(port)
				break
			}
		}
	}
	addr := ip.String()
	if emitPort != 0 {
		addr = netip.AddrPortFrom(ip, emitPort).String()
	}
	for _, s := range v.svcs {
		if s.fwmark == 0 && netip.AddrPortFrom(ip, effPort(emitPort, s.addr.Port())) == s.addr {
			c.warn(r.Pos, "real_server %s is the virtual service itself; ignored", addr)
			return nil, nil, 0, ""
		}
	}
	if snmpName != "" {
		if rsName := rsNameInvalid.ReplaceAllString(snmpName, "_"); rsName != "" {
			if len(rsName) > 64 {
				rsName = rsName[:64]
			}
			b.setString("name", rsName).note("keepalived: snmp_name")
		}
	}
	b.setString("address", addr)
	if weightSet {
		b.setInt("weight", weight)
	}
	if fwdExplicit != "" && fwdExplicit != v.fwd {
		b.setString("forward", fwdExplicit)
	}
	if upper != nil && *upper > 0 {
		b.setInt("upper_threshold", *upper)
	}
	if lower != nil && *lower > 0 {
		if upper == nil || *upper == 0 || *lower > *upper {
			c.warn(r.Pos, "lthreshold %d without a higher uthreshold: the kernel refuses it; ignored", *lower)
		} else {
			b.setInt("lower_threshold", *lower)
		}
	}
	if inhibit != nil && *inhibit != vsInhibit {
		b.setBool("inhibit_on_failure", *inhibit)
	}
	for _, kw := range []string{"notify_up", "notify_down"} {
		if s := hooks[kw]; s != nil {
			if sc, ok := c.command(s); ok {
				if sc.user != "" {
					c.warn(s.Pos, "%s: the user %s is ignored; lvsd runs hooks as its own user", kw, sc.user)
				}
				nb := b.add(newBlock("notify", strings.TrimPrefix(kw, "notify_")))
				nb.setStrings("command", sc.argv)
			}
		}
	}

	// Does the real server have a port of its own for checks?
	hasPort := emitPort != 0 || checkPort != 0
	if !hasPort && !v.fwmark {
		ports := map[uint16]bool{}
		for _, s := range v.svcs {
			ports[s.addr.Port()] = true
		}
		hasPort = len(ports) == 1 && !ports[0]
	}
	var checks []*hblock
	for _, ch := range checkers {
		checks = append(checks, v.checker(ch, defs, checkPort, hasPort, ip)...)
	}
	return b, checks, weight, addr
}

func effPort(rs, vs uint16) uint16 {
	if rs != 0 {
		return rs
	}
	return vs
}

func (v *vsConv) sorryServer(st *vsSettings) {
	c, s := v.c, st.sorry
	ip, err := netip.ParseAddr(strings.Trim(s.Arg(0), "[]"))
	if err != nil || ip.Zone() != "" {
		c.warn(s.Pos, "sorry_server %s: not an IP address; ignored", s.Arg(0))
		return
	}
	ip = ip.Unmap()
	if ip.Is6() != (v.family == 6) && !v.fwmark {
		c.warn(s.Pos, "sorry_server %s: another address family than the virtual server's; ignored", ip)
		return
	}
	port := uint64(0)
	if s.Arg(1) != "" {
		if port, err = strconv.ParseUint(s.Arg(1), 10, 16); err != nil {
			c.warn(s.Pos, "sorry_server %s %s: not a port; ignored", s.Arg(0), s.Arg(1))
			return
		}
	}
	fwd := v.fwd
	if st.sorryFwd != "" {
		fwd = st.sorryFwd
	}
	if port != 0 && fwd != "nat" {
		for _, sv := range v.svcs {
			if sv.fwmark != 0 || sv.addr.Port() != uint16(port) {
				c.warn(s.Pos, "sorry_server %s %d in %s mode: keepalived clears or resets the port, and so does the import", ip, port, strings.ToUpper(fwd))
				port = 0
				break
			}
		}
	}
	b := newBlock("sorry_server")
	b.comments = []string{from(s.Pos)}
	addr := ip.String()
	if port != 0 {
		addr = netip.AddrPortFrom(ip, uint16(port)).String()
	}
	b.setString("address", addr)
	if st.sorryFwd != "" && st.sorryFwd != v.fwd {
		b.setString("forward", st.sorryFwd)
	}
	if st.sorryInhibit {
		b.setBool("inhibit", true)
	}
	v.b.add(b)
}

// checkerKinds maps keepalived checkers to lvsd check kinds.
var checkerKinds = map[string]string{"HTTP_GET": "http", "SSL_GET": "https", "TCP_CHECK": "tcp", "SMTP_CHECK": "tcp",
	"DNS_CHECK": "dns", "MISC_CHECK": "exec", "PING_CHECK": "icmp", "UDP_CHECK": "udp"}

var rsNameInvalid = regexp.MustCompile(`[^A-Za-z0-9_.:\[\]-]`)

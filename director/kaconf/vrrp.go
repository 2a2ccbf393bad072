package kaconf

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// ---- vrrp_script ----

type scriptState struct {
	name    string // lvsd name
	weight  int    // the script's default tracking weight
	reverse bool   // and its direction
}

func (c *conv) vrrpScript(n *Node) *hblock {
	orig := n.Arg(0)
	if orig == "" || !n.HasBlock {
		c.warn(n.Pos, "vrrp_script needs a name and a { } block; ignored")
		return nil
	}
	if _, dup := c.scripts[orig]; dup {
		c.warn(n.Pos, "vrrp_script %q is declared twice; this one is ignored (keepalived uses the first)", orig)
		return nil
	}
	st := &scriptState{}
	var cmd []string
	b := newBlock("vrrp_script")
	b.comments = []string{from(n.Pos)}
	var interval, timeout time.Duration
	var rise, fall int64
	weight, user := int64(0), ""
	for _, s := range n.Block {
		switch s.Keyword() {
		case "script":
			if sc, ok := c.command(s); ok {
				cmd = sc.argv
				if sc.user != "" {
					c.warn(s.Pos, "script: the user after the command is not supported here; set user in the vrrp_script")
				}
			}
		case "interval":
			if v, ok := c.uintArg(s, 0, 0, 3600); ok {
				if v == 0 {
					v = 1 // keepalived: "must be greater than 0, setting to 1"
				}
				interval = time.Duration(v) * time.Second
			}
		case "timeout":
			if v, ok := c.uintArg(s, 0, 0, 3600); ok && v > 0 {
				timeout = time.Duration(v) * time.Second
			}
		case "weight":
			if v, ok := c.uintArg(s, 0, -253, 253); ok {
				weight = v
			}
			st.reverse = s.Arg(1) == "reverse"
		case "rise":
			if v, ok := c.uintArg(s, 0, 1, 1000); ok {
				rise = v
			}
		case "fall":
			if v, ok := c.uintArg(s, 0, 1, 1000); ok {
				fall = v
			}
		case "user":
			user = s.Arg(0)
			if s.Arg(1) != "" {
				c.warn(s.Pos, "user %s %s: lvsd runs the script with the user's own group; the group is ignored", s.Arg(0), s.Arg(1))
			}
		case "init_fail":
			c.warn(s.Pos, "init_fail: lvsd has no initial state for scripts; the tracking instance starts as if the script succeeded until it fails %s", "fall times")
		default:
			c.unknown(s, "vrrp_script")
		}
	}
	if len(cmd) == 0 {
		c.warn(n.Pos, "vrrp_script %q has no script; ignored (instances tracking it lose that tracking)", orig)
		return nil
	}
	st.name = c.lvsdName("vrrp_script", orig, n.Pos)
	st.weight = int(weight)
	c.scripts[orig] = st
	b.labels = []string{st.name}
	b.setStrings("command", cmd)
	if interval > 0 {
		b.setDuration("interval", interval)
	}
	if timeout > 0 {
		b.setDuration("timeout", timeout)
	}
	if rise > 0 {
		b.setInt("rise", rise)
	}
	if fall > 0 {
		b.setInt("fall", fall)
	}
	if weight != 0 {
		b.setInt("weight", weight)
	}
	if st.reverse {
		b.setBool("reverse", true)
	}
	if user != "" {
		b.setString("user", user)
	}
	return b
}

// ---- vrrp_sync_group (membership, read before the instances) ----

type groupState struct {
	node    *Node
	members []string // keepalived instance names
	// keepWeights: sync_group_tracking_weight or global_tracking: keepalived
	// keeps the members' tracking weights.
	keepWeights bool
	// tracks are the group's own track_interface / track_script entries,
	// applied to every member.
	tracks []*Node
	noted  bool
}

func (c *conv) collectGroups(nodes []*Node) {
	seen := map[string]bool{}
	member := map[string]string{}
	for _, n := range nodes {
		orig := n.Arg(0)
		if orig == "" || !n.HasBlock {
			c.warn(n.Pos, "vrrp_sync_group needs a name and a { } block; ignored")
			continue
		}
		if seen[orig] {
			c.warn(n.Pos, "vrrp_sync_group %q is declared twice; this one is ignored", orig)
			continue
		}
		seen[orig] = true
		g := &groupState{node: n}
		for _, s := range n.Block {
			switch s.Keyword() {
			case "group":
				if !c.needBlock(s) {
					continue
				}
				for _, l := range s.Block {
					for _, w := range l.Words {
						if prev, dup := member[w]; dup {
							c.warn(l.Pos, "vrrp_instance %q is already in vrrp_sync_group %q; keepalived rejects the second group too", w, prev)
							continue
						}
						member[w] = orig
						g.members = append(g.members, w)
					}
				}
			case "sync_group_tracking_weight", "global_tracking":
				g.keepWeights = true
			case "track_interface", "track_script":
				g.tracks = append(g.tracks, s)
			}
		}
		c.groups = append(c.groups, g)
	}
}

// groupOf returns the sync group of a keepalived instance name.
func (c *conv) groupOf(inst string) *groupState {
	for _, g := range c.groups {
		for _, m := range g.members {
			if m == inst {
				return g
			}
		}
	}
	return nil
}

// ---- vrrp_instance ----

type instState struct {
	name  string
	iface string
}

// vip is one parsed virtual_ipaddress line.
type vip struct {
	pos    Pos
	prefix string // as written: "ADDR" or "ADDR/LEN"
	addr   netip.Addr
	dev    string
}

func (c *conv) vrrpInstance(n *Node) *hblock {
	orig := n.Arg(0)
	if orig == "" || !n.HasBlock {
		c.warn(n.Pos, "vrrp_instance needs a name and a { } block; ignored")
		return nil
	}
	if _, dup := c.instances[orig]; dup {
		c.warn(n.Pos, "vrrp_instance %q is declared twice; keepalived rejects the second, so it is ignored", orig)
		return nil
	}
	var (
		state, iface, authType, authPass string
		statePos, prioPos, preemptPos    Pos
		vrid, priority, version          int64
		advert                           time.Duration
		advertSet                        bool
		nopreempt                        bool
		preemptDelay                     time.Duration
		source                           string
		peers                            []string
		mcastDst                         netip.Addr
		mcastPos                         Pos
		vips, excluded                   []vip
		trackIfs, trackScripts           []*Node
		notify                           = map[string]*Node{}
		garp                             *hblock
	)
	for _, s := range n.Block {
		kw := s.Keyword()
		switch kw {
		case "state":
			st := s.Arg(0)
			if st != "MASTER" && st != "BACKUP" {
				c.warn(s.Pos, "state %s: not MASTER or BACKUP (keepalived takes it as BACKUP, and so does the import)", st)
				st = "BACKUP"
			}
			state, statePos = st, s.Pos
		case "interface":
			iface = s.Arg(0)
		case "virtual_router_id":
			if v, ok := c.uintArg(s, 0, 1, 255); ok {
				vrid = v
			}
		case "priority":
			if v, ok := c.uintArg(s, 0, 1, 255); ok {
				priority, prioPos = v, s.Pos
			}
		case "advert_int":
			if d, ok := c.timerArg(s, 0, 255*time.Second); ok && d > 0 {
				advert, advertSet = d, true
			}
		case "version":
			if v, ok := c.uintArg(s, 0, 2, 3); ok {
				version = v
			}
		case "authentication":
			if !c.needBlock(s) {
				continue
			}
			for _, a := range s.Block {
				switch a.Keyword() {
				case "auth_type":
					authType = strings.ToUpper(a.Arg(0))
					if authType != "PASS" && authType != "AH" {
						c.warn(a.Pos, "auth_type %s: not PASS or AH; ignored", a.Arg(0))
						authType = ""
					}
				case "auth_pass":
					authPass = a.Arg(0)
					if len(authPass) > 8 {
						c.warn(a.Pos, "auth_pass is %d bytes; keepalived uses only the first 8 (%q), and so does the import", len(authPass), authPass[:8])
						authPass = authPass[:8]
					}
				default:
					c.unknown(a, "authentication")
				}
			}
		case "virtual_ipaddress":
			if c.needBlock(s) {
				vips = append(vips, c.vipLines(s)...)
			}
		case "virtual_ipaddress_excluded":
			if c.needBlock(s) {
				excluded = append(excluded, c.vipLines(s)...)
			}
		case "unicast_src_ip", "mcast_src_ip":
			source = s.Arg(0)
			if kw == "mcast_src_ip" {
				c.note(s.Pos, "mcast_src_ip is keepalived's synonym of unicast_src_ip")
			}
		case "unicast_peer":
			if !c.needBlock(s) {
				continue
			}
			for _, p := range s.Block {
				peers = append(peers, p.Keyword())
				if len(p.Words) > 1 {
					c.warn(p.Pos, "unicast_peer %s: %s: lvsd does not check the TTL of adverts; ignored", p.Keyword(), strings.Join(p.Args(), " "))
				}
			}
		case "nopreempt":
			nopreempt, preemptPos = true, s.Pos
		case "preempt":
			nopreempt = false
		case "preempt_delay":
			if d, ok := c.timerArg(s, 0, 1000*time.Second); ok {
				preemptDelay = d
			}
		case "track_interface":
			if c.needBlock(s) {
				trackIfs = append(trackIfs, s.Block...)
			}
		case "track_script":
			if c.needBlock(s) {
				trackScripts = append(trackScripts, s.Block...)
			}
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			notify[kw] = s
		case "garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat":
			if garp == nil {
				garp = newBlock("gratuitous_arp")
			}
			c.garpSetting(s, garp)
		case "lvs_sync_daemon_interface":
			c.syncd, c.syncdFrom = s, orig
			c.note(s.Pos, "lvs_sync_daemon_interface (keepalived 1.x) becomes ipvs { sync_daemon { } } following this instance")
		case "native_ipv6":
			c.note(s.Pos, "native_ipv6: the family follows the virtual addresses")
		case "accept":
			c.note(s.Pos, "accept: lvsd installs no firewall rules, so a backup never blocks traffic to the virtual addresses")
		case "no_accept":
			c.ignored(s, "lvsd installs no firewall rules; filter traffic to the virtual addresses with nftables if needed")
		case "strict_mode":
			c.ignored(s, "lvsd installs no firewall rules; what strict mode rejects in the configuration lvsd reports by itself")
		case "use_vmac", "vmac_xmit_base", "use_vmac_addr", "use_ipvlan":
			c.warn(s.Pos, "%s: lvsd has no virtual MAC (macvlan/ipvlan) interfaces: the master answers for the addresses with the interface's own MAC and sends gratuitous ARPs on takeover; switches that pinned the VRRP MAC relearn it then", kw)
		case "track_file", "track_process", "track_bfd":
			c.ignored(s, "lvsd tracks interfaces, vrrp_scripts and virtual servers only")
		case "dont_track_primary":
			c.ignored(s, "lvsd always goes to FAULT when the instance's interface goes down")
		case "virtual_routes", "virtual_rules":
			c.ignored(s, "lvsd moves addresses only; add routes and rules from notify \"master\" and \"backup\" hooks")
		case "promote_secondaries":
			c.ignored(s, "set it on the interface: sysctl net.ipv4.conf.IFACE.promote_secondaries=1")
		case "mcast_dst_ip":
			if a, err := netip.ParseAddr(s.Arg(0)); err == nil && a.IsMulticast() && !a.Is4In6() {
				mcastDst, mcastPos = a, s.Pos
			} else {
				c.warn(s.Pos, "mcast_dst_ip %s: not a multicast address; ignored (keepalived rejects it too)", s.Arg(0))
			}
		case "garp_lower_prio_delay", "garp_lower_prio_repeat", "garp_extra_if", "garp_extra_if_vmac", "down_timer_adverts",
			"lower_prio_no_advert", "higher_prio_send_advert", "skip_check_adv_addr", "check_unicast_src",
			"unicast_fault_no_peer", "unicast_ttl", "old_unicast_checksum", "track_src_ip", "vrf", "kernel_rx_buf_size":
			c.ignored(s, "VRRP detail lvsd does not configure: it follows RFC 5798")
		case "notify_master_rx_lower_pri", "notify_priority_changes":
			c.ignored(s, "lvsd runs hooks on state changes only")
		case "smtp_alert":
			c.ignored(s, "lvsd sends no e-mail: use a notify hook")
		case "debug", "linkbeat_use_polling":
			c.ignored(s, "")
		default:
			c.unknown(s, "vrrp_instance")
		}
	}

	// What lvsd requires, and keepalived's own corrections.
	if vrid == 0 {
		c.warn(n.Pos, "vrrp_instance %q has no virtual_router_id (keepalived rejects it too); ignored", orig)
		return nil
	}
	family := 4
	var kept []vip
	for _, v := range vips {
		fam := 4
		if v.addr.Is6() {
			fam = 6
		}
		if len(kept) == 0 {
			family = fam
		} else if fam != family {
			c.warn(v.pos, "%s: keepalived needs one family in virtual_ipaddress; left out", v.prefix)
			continue
		}
		kept = append(kept, v)
	}
	vips = kept
	// virtual_ipaddress_excluded maps as it is: owned, announced, not in
	// the adverts, either family (lvsd's virtual_addresses_excluded).
	if len(vips) == 0 {
		c.warn(n.Pos, "vrrp_instance %q has no virtual_ipaddress: lvsd needs at least one address per instance; ignored (with its sync group membership and tracking)", orig)
		return nil
	}
	if iface == "" {
		iface = vips[0].dev
		if iface == "" {
			iface = c.globals.defaultInterface
		}
		if iface == "" {
			iface = "eth0"
		}
		c.warn(n.Pos, "vrrp_instance %q has no interface: lvsd needs one for the adverts; using %s — check it", orig, iface)
	}
	switch {
	case family == 6 && version == 2:
		c.warn(n.Pos, "version 2 with IPv6 addresses: lvsd speaks VRRP over IPv6 in version 3 only (RFC 5798); imported as version 3, which a keepalived peer set to version 2 does not understand — set version 3 there too")
		version = 3
	case family == 6 && version == 0:
		c.note(n.Pos, "IPv6 instances use VRRP version 3 (keepalived does the same)")
		version = 3
	case version == 0:
		version = int64(c.version)
	}
	if priority == 0 {
		priority = 100
		if state == "MASTER" {
			priority = 255
			c.warn(statePos, "state MASTER without priority: keepalived makes this node the address owner (priority 255); imported as priority = 255")
		}
	}
	if state != "" {
		msg := "state %s: lvsd has no initial state; the priorities decide (keepalived too starts every node below priority 255 as BACKUP)"
		c.note(statePos, msg, state)
	}
	if nopreempt && priority == 255 {
		c.warn(preemptPos, "nopreempt with priority 255: keepalived resets nopreempt (the address owner always preempts), and so does the import")
		nopreempt = false
	}
	if state == "MASTER" {
		if nopreempt {
			c.warn(preemptPos, "nopreempt with state MASTER: keepalived clears nopreempt (\"will not work with initial state MASTER\"), so this node preempts; imported as preempt = true — remove state MASTER in keepalived too, or set preempt = false here, to really not preempt")
			nopreempt = false
		}
		if preemptDelay > 0 {
			c.warn(statePos, "preempt_delay with state MASTER: keepalived clears the delay; imported without it")
			preemptDelay = 0
		}
	}
	if nopreempt && preemptDelay > 0 {
		c.warn(preemptPos, "preempt_delay with nopreempt: keepalived resets the delay; imported without it")
		preemptDelay = 0
	}
	if !advertSet {
		advert = time.Second
	}
	if version == 2 {
		r := (advert + time.Second/2) / time.Second * time.Second
		if r == 0 {
			r = time.Second
		}
		if r != advert {
			c.warn(n.Pos, "advert_int %s: VRRPv2 counts whole seconds; keepalived rounds it to %s, and so does the import", fmtDuration(advert), fmtDuration(r))
			advert = r
		}
	} else {
		r := (advert + 5*time.Millisecond) / (10 * time.Millisecond) * (10 * time.Millisecond)
		if r == 0 {
			r = 10 * time.Millisecond
		}
		if r > 40950*time.Millisecond {
			r = 40950 * time.Millisecond
		}
		if r != advert {
			c.warn(n.Pos, "advert_int %s: VRRPv3 counts centiseconds; keepalived rounds it to %s, and so does the import", fmtDuration(advert), fmtDuration(r))
			advert = r
		}
	}

	name := c.lvsdName("vrrp_instance", orig, n.Pos)
	c.instances[orig] = &instState{name: name, iface: iface}
	b := newBlock("vrrp_instance", name)
	b.comments = []string{from(n.Pos)}
	b.setString("interface", iface)
	b.setInt("vrid", vrid)
	p := b.setInt("priority", priority)
	switch {
	case prioPos == (Pos{}) && priority == 255:
		p.note("keepalived: state MASTER without priority")
	case prioPos == (Pos{}):
		p.note("keepalived's default")
	}
	v := b.setInt("version", version)
	if version == 2 {
		v.note("keepalived's default (lvsd's is 3): the adverts stay v2")
	}
	b.setDuration("advert_interval", advert)
	if nopreempt {
		b.setBool("preempt", false).note("keepalived: nopreempt")
	}
	if preemptDelay > 0 {
		b.setDuration("preempt_delay", preemptDelay)
	}
	var ps []string
	for _, p := range peers {
		if p == source {
			c.note(n.Pos, "unicast_peer %s is this node's unicast_src_ip; left out of unicast_peers", p)
			continue
		}
		ps = append(ps, p)
	}
	if len(ps) > 0 {
		if source != "" {
			b.setString("unicast_source", source)
		}
		b.setStrings("unicast_peers", ps)
	} else if source != "" {
		c.warn(n.Pos, "%s %s without unicast peers: lvsd's multicast adverts come from the interface's primary address; ignored", "unicast_src_ip/mcast_src_ip", source)
	}
	group := mcastDst
	switch {
	case len(ps) > 0 && mcastDst.IsValid():
		c.note(mcastPos, "mcast_dst_ip %s with unicast peers: the adverts go to the peers (keepalived ignores it too)", mcastDst)
		group = netip.Addr{}
	case len(ps) > 0:
	case mcastDst.IsValid() && mcastDst.Is6() != (family == 6):
		c.warn(mcastPos, "mcast_dst_ip %s is not of the instance's family; ignored", mcastDst)
		group = netip.Addr{}
	case !mcastDst.IsValid() && family == 6:
		group = c.globals.mcastGroup6
	case !mcastDst.IsValid():
		group = c.globals.mcastGroup4
	}
	if group.IsValid() && group != netip.MustParseAddr("224.0.0.18") && group != netip.MustParseAddr("ff02::12") {
		b.setString("multicast_group", group.String())
	}
	switch {
	case authType == "AH":
		c.warn(n.Pos, "authentication AH: lvsd does not implement IPsec AH; imported without authentication, which keepalived peers using AH reject — switch every node to PASS or none first")
	case authType == "PASS" && authPass == "":
		c.warn(n.Pos, "authentication PASS without auth_pass: keepalived ignores it; so does the import")
	case authType == "PASS" && version == 3:
		c.warn(n.Pos, "authentication with VRRP version 3: keepalived ignores it (v3 has none); so does the import")
	case authType == "PASS":
		b.setString("auth_pass", authPass)
	case authType == "" && authPass != "":
		c.warn(n.Pos, "auth_pass without auth_type PASS: keepalived sends no authentication; neither does lvsd")
	}
	b.set("virtual_addresses", c.vipValue(vips, iface))
	if len(excluded) > 0 {
		b.set("virtual_addresses_excluded", c.vipValue(excluded, iface))
	}
	if garp != nil && len(garp.items) > 0 {
		b.add(garp)
	}

	// keepalived ignores the tracking weights of a sync group member's own
	// tracking (not the group's).
	g := c.groupOf(orig)
	seenTrack := map[string]bool{}
	for _, t := range trackIfs {
		c.trackInterface(b, t, iface, g, seenTrack)
	}
	for _, t := range trackScripts {
		c.trackScript(b, t, g, seenTrack)
	}
	if g != nil && len(g.tracks) > 0 {
		if !g.noted {
			g.noted = true
			c.note(g.node.Pos, "vrrp_sync_group %q tracking: lvsd tracks per instance, so the group's track_interface/track_script entries are added to each member", g.node.Arg(0))
		}
		for _, t := range g.tracks {
			if !t.HasBlock {
				continue
			}
			for _, e := range t.Block {
				if t.Keyword() == "track_interface" {
					c.trackInterface(b, e, iface, nil, seenTrack)
				} else {
					c.trackScript(b, e, nil, seenTrack)
				}
			}
		}
	}
	c.vrrpNotify(b, notify)
	return b
}

// vipLines parses the lines of a virtual_ipaddress block.
func (c *conv) vipLines(s *Node) []vip {
	var out []vip
	for _, l := range s.Block {
		p := l.Keyword()
		addrPart, _, _ := strings.Cut(p, "/")
		a, err := netip.ParseAddr(addrPart)
		if err != nil || a.Zone() != "" {
			c.warn(l.Pos, "%s: not an IP address (or ADDRESS/LEN); left out", p)
			continue
		}
		if strings.Contains(p, "/") {
			if _, err := netip.ParsePrefix(p); err != nil {
				c.warn(l.Pos, "%s: bad prefix length; left out", p)
				continue
			}
		}
		v := vip{pos: l.Pos, prefix: p, addr: a.Unmap()}
		args := l.Args()
		for i := 0; i < len(args); i++ {
			opt := args[i]
			val := ""
			if i+1 < len(args) {
				val = args[i+1]
			}
			switch opt {
			case "dev":
				v.dev = val
				i++
			case "label":
				c.warn(l.Pos, "%s label %s: lvsd adds addresses without labels (`ip addr` shows them all the same; ifconfig-era aliases are not made)", p, val)
				i++
			case "brd", "broadcast":
				c.warn(l.Pos, "%s brd %s: lvsd adds addresses with the kernel's default broadcast; ignored", p, val)
				i++
			case "scope":
				if val != "global" {
					c.warn(l.Pos, "%s scope %s: lvsd adds addresses with scope global; ignored", p, val)
				}
				i++
			case "peer", "preferred_lft", "track_group":
				c.warn(l.Pos, "%s %s %s: not supported by lvsd; ignored", p, opt, val)
				i++
			case "home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "use_vmac":
				c.warn(l.Pos, "%s %s: not supported by lvsd; ignored", p, opt)
			case "no_track":
				c.note(l.Pos, "%s no_track: lvsd does not watch for its addresses being removed by hand", p)
			default:
				c.warn(l.Pos, "%s: unknown option %q; ignored", p, opt)
			}
		}
		out = append(out, v)
	}
	return out
}

// vipValue is the virtual_addresses list: strings, or objects for an
// address on another interface than the instance's.
func (c *conv) vipValue(vips []vip, iface string) cty.Value {
	var vals []cty.Value
	seen := map[netip.Addr]bool{}
	for _, v := range vips {
		if seen[v.addr] {
			c.warn(v.pos, "%s is listed twice; the second is left out", v.prefix)
			continue
		}
		seen[v.addr] = true
		if v.dev != "" && v.dev != iface {
			vals = append(vals, cty.ObjectVal(map[string]cty.Value{"address": str(v.prefix), "interface": str(v.dev)}))
			continue
		}
		vals = append(vals, str(v.prefix))
	}
	return cty.TupleVal(vals)
}

func (c *conv) garpSetting(s *Node, b *hblock) {
	switch s.Keyword() {
	case "garp_master_delay":
		if v, ok := c.uintArg(s, 0, 0, 3600); ok {
			b.setDuration("second_burst_delay", time.Duration(v)*time.Second)
		}
	case "garp_master_repeat":
		if v, ok := c.uintArg(s, 0, 0, 1000); ok {
			c.garpCount(s, b, "count", v)
		}
	case "garp_master_refresh":
		if v, ok := c.uintArg(s, 0, 0, 86400); ok {
			b.setDuration("refresh_interval", time.Duration(v)*time.Second)
		}
	case "garp_master_refresh_repeat":
		if v, ok := c.uintArg(s, 0, 0, 1000); ok {
			c.garpCount(s, b, "refresh_count", v)
		}
	}
}

// trackOpts is what follows a tracked object's name.
type trackOpts struct {
	weight    int64
	hasWeight bool
	// reverse is set by "reverse" and cleared by "noreverse"/"no_reverse";
	// hasReverse says whether either was written.
	reverse, hasReverse bool
}

// trackWeight parses "NAME [weight W [reverse|noreverse|no_reverse]]";
// false when keepalived ignores the whole line.
func (c *conv) trackWeight(t *Node) (trackOpts, bool) {
	var o trackOpts
	args := t.Args()
	if len(args) == 0 {
		return o, true
	}
	if args[0] != "weight" || len(args) < 2 {
		c.warn(t.Pos, "%s %s: expected \"weight N\"; the options are ignored", t.Keyword(), strings.Join(args, " "))
		return o, true
	}
	w, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || w < -253 || w > 253 {
		c.warn(t.Pos, "%s weight %s: not in [-253, 253]; ignored (keepalived ignores it too)", t.Keyword(), args[1])
		return o, false
	}
	o.weight, o.hasWeight = w, true
	if len(args) > 2 {
		switch args[2] {
		case "reverse":
			o.reverse, o.hasReverse = true, true
		case "noreverse", "no_reverse":
			o.hasReverse = true
		default:
			c.warn(t.Pos, "%s weight %s %s: expected reverse or noreverse; ignored", t.Keyword(), args[1], args[2])
		}
	}
	return o, true
}

func (c *conv) trackInterface(b *hblock, t *Node, iface string, g *groupState, seen map[string]bool) {
	name := t.Keyword()
	o, ok := c.trackWeight(t)
	if !ok {
		return
	}
	w, hasW := o.weight, o.hasWeight
	if name == iface && !hasW {
		c.note(t.Pos, "track_interface %s is the instance's own interface, which is always tracked (keepalived ignores it too)", name)
		return
	}
	if g != nil && !g.keepWeights && w != 0 {
		c.warn(t.Pos, "track_interface %s weight %d in sync group %q: keepalived ignores tracking weights of sync group members (the instance goes to FAULT instead), and so does the import; set sync_group_tracking_weight in keepalived to keep them", name, w, g.node.Arg(0))
		w, hasW = 0, false
	}
	if seen["if:"+name] {
		return
	}
	seen["if:"+name] = true
	tb := b.add(newBlock("track_interface", name))
	if hasW && w != 0 {
		tb.setInt("weight", w)
	}
	if o.reverse {
		tb.setBool("reverse", true)
	}
}

func (c *conv) trackScript(b *hblock, t *Node, g *groupState, seen map[string]bool) {
	orig := t.Keyword()
	sc, ok := c.scripts[orig]
	if !ok {
		c.warn(t.Pos, "track_script %s: no vrrp_script of that name is imported; ignored", orig)
		return
	}
	o, ok := c.trackWeight(t)
	if !ok {
		return
	}
	w, hasW := o.weight, o.hasWeight
	eff := sc.weight
	if hasW {
		eff = int(w)
	}
	if g != nil && !g.keepWeights && eff != 0 {
		c.warn(t.Pos, "track_script %s (weight %d) in sync group %q: keepalived ignores weighted scripts of sync group members entirely, so the import leaves it out; set sync_group_tracking_weight in keepalived to use it", orig, eff, g.node.Arg(0))
		return
	}
	if seen["sc:"+orig] {
		return
	}
	seen["sc:"+orig] = true
	tb := b.add(newBlock("track_script", sc.name))
	if hasW && int(w) != sc.weight {
		tb.setInt("weight", w)
	}
	if o.hasReverse && o.reverse != sc.reverse {
		tb.setBool("reverse", o.reverse)
	}
}

// vrrpNotify converts notify_master/backup/fault/stop/notify statements.
// lvsd runs them as keepalived does: arguments appended to notify only.
func (c *conv) vrrpNotify(b *hblock, notify map[string]*Node) {
	for _, kw := range []string{"notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"} {
		s := notify[kw]
		if s == nil {
			continue
		}
		sc, ok := c.command(s)
		if !ok {
			continue
		}
		if sc.user != "" {
			c.warn(s.Pos, "%s: the user %s is ignored; lvsd runs hooks as its own user", kw, sc.user)
		}
		event := map[string]string{"notify_master": "master", "notify_backup": "backup", "notify_fault": "fault", "notify_stop": "stop", "notify": "any"}[kw]
		nb := b.add(newBlock("notify", event))
		nb.setStrings("command", sc.argv)
	}
}

// ---- vrrp_sync_group ----

func (c *conv) syncGroup(g *groupState) *hblock {
	n := g.node
	var members []string
	for _, m := range g.members {
		st, ok := c.instances[m]
		if !ok {
			c.warn(n.Pos, "vrrp_sync_group %q: vrrp_instance %q is not imported; left out of the group", n.Arg(0), m)
			continue
		}
		members = append(members, st.name)
	}
	notify := map[string]*Node{}
	for _, s := range n.Block {
		switch kw := s.Keyword(); kw {
		case "group", "track_interface", "track_script":
		case "sync_group_tracking_weight":
			c.note(s.Pos, "sync_group_tracking_weight: the members keep their tracking weights, as lvsd always does")
		case "global_tracking":
			c.note(s.Pos, "global_tracking (deprecated in keepalived): the members keep their tracking weights, as lvsd always does")
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			notify[kw] = s
		case "track_file", "track_process", "track_bfd":
			c.ignored(s, "lvsd tracks interfaces, vrrp_scripts and virtual servers only")
		case "smtp_alert":
			c.ignored(s, "lvsd sends no e-mail: use a notify hook")
		case "notify_priority_changes":
			c.ignored(s, "lvsd runs hooks on state changes only")
		default:
			c.unknown(s, "vrrp_sync_group")
		}
	}
	if len(members) == 0 {
		c.warn(n.Pos, "vrrp_sync_group %q has no imported member; left out", n.Arg(0))
		return nil
	}
	name := c.lvsdName("vrrp_sync_group", n.Arg(0), n.Pos)
	b := newBlock("vrrp_sync_group", name)
	b.comments = []string{from(n.Pos)}
	b.setStrings("instances", members)
	c.vrrpNotify(b, notify)
	return b
}

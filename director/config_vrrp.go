package director

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/lvsd/lvsd/ipvs"
)

// maxTrackWeight bounds tracking weights as keepalived does, so that one
// tracked object cannot push a priority across the whole 1..254 range.
const maxTrackWeight = 253

func (d *decoder) decodeVRRPScript(r *rawVRRPScript) *VRRPScript {
	s := &VRRPScript{Name: r.Name, Interval: time.Second, Rise: 1, Fall: 1, DefRange: r.DefRange}
	if !d.missing(r.Command, "command", r.DefRange) {
		s.Command, _ = d.command(r.Command)
	}
	if v, ok := d.duration(r.Interval, 10*time.Millisecond, time.Hour); ok {
		s.Interval = v
	}
	s.Timeout = s.Interval
	if v, ok := d.duration(r.Timeout, time.Millisecond, time.Hour); ok {
		s.Timeout = v
	}
	if v, ok := d.integer(r.Rise, 1, 1000); ok {
		s.Rise = int(v)
	}
	if v, ok := d.integer(r.Fall, 1, 1000); ok {
		s.Fall = int(v)
	}
	if v, ok := d.integer(r.Weight, -maxTrackWeight, maxTrackWeight); ok {
		s.Weight = int(v)
	}
	if v, ok := d.boolean(r.Reverse); ok {
		s.Reverse = v
	}
	if u, ok := d.str(r.User); ok {
		if u == "" || strings.ContainsAny(u, ": \t/") {
			d.errAttr(r.User, "Invalid user", "%q is not a user name.", u)
		} else {
			s.User = u
		}
	}
	return s
}

func (d *decoder) decodeVRRPInstance(r *rawVRRPInstance, cfg *Config, garp GratuitousARP) *VRRPInstance {
	vi := &VRRPInstance{
		Name:           r.Name,
		Priority:       DefaultPriority,
		Version:        DefaultVRRPVersion,
		AdvertInterval: DefaultAdvertInterval,
		Preempt:        true,
		GratuitousARP:  garp,
		DefRange:       r.DefRange,
	}
	d.missing(r.Interface, "interface", r.DefRange)
	d.missing(r.VRID, "vrid", r.DefRange)
	d.missing(r.VirtualAddresses, "virtual_addresses", r.DefRange)
	vi.Interface, _ = d.iface(r.Interface)
	if v, ok := d.integer(r.VRID, 1, 255); d.required(r.VRID, ok) {
		vi.VRID = uint8(v)
	}
	if v, ok := d.integer(r.Priority, 1, 255); ok {
		vi.Priority = uint8(v)
	}
	if v, ok := d.integer(r.Version, 2, 3); ok {
		vi.Version = int(v)
	}
	if v, ok := d.duration(r.AdvertInterval, 10*time.Millisecond, 255*time.Second); ok {
		switch {
		case vi.Version == 2 && (v%time.Second != 0 || v < time.Second):
			d.errAttr(r.AdvertInterval, "Invalid advert interval for VRRPv2", "VRRPv2 carries the interval in whole seconds (1s to 255s); %s needs version = 3 (centiseconds, 10ms to 40.95s).", v)
		case vi.Version == 3 && (v%(10*time.Millisecond) != 0 || v > 4095*10*time.Millisecond):
			d.errAttr(r.AdvertInterval, "Invalid advert interval for VRRPv3", "VRRPv3 carries the interval in centiseconds: a multiple of 10ms from 10ms to 40.95s, not %s.", v)
		default:
			vi.AdvertInterval = v
		}
	}
	if v, ok := d.boolean(r.Preempt); ok {
		vi.Preempt = v
		if !v && vi.Priority == 255 {
			d.warnAttr(r.Preempt, "Address owner always preempts", "Priority 255 makes this node the address owner, which takes the master role whenever it is up (RFC 5798); preempt = false does not change that.")
		}
	}
	if v, ok := d.duration(r.PreemptDelay, 0, 1000*time.Second); ok {
		vi.PreemptDelay = v
		if !vi.Preempt && v > 0 {
			d.warnAttr(r.PreemptDelay, "preempt_delay without preemption", "preempt_delay has no effect with preempt = false.")
		}
	}

	vi.VirtualAddresses = d.virtualAddresses(r.VirtualAddresses, vi, nil)
	if len(vi.VirtualAddresses) > 0 {
		vi.Family = ipvs.FamilyOf(vi.VirtualAddresses[0].Prefix.Addr())
	}
	if r.VirtualAddressesExcluded != nil {
		vi.VirtualAddresses = append(vi.VirtualAddresses, d.virtualAddresses(r.VirtualAddressesExcluded, vi, vi.VirtualAddresses)...)
	}
	if vi.Family == ipvs.IPv6 && vi.Version == 2 {
		d.errAttr(r.VirtualAddresses, "VRRPv2 is IPv4 only", "IPv6 virtual addresses need version = 3 (RFC 5798).")
	}

	if ip, ok := d.addr(r.UnicastSource); ok {
		vi.UnicastSource = ip
		if vi.Family != 0 && ipvs.FamilyOf(ip) != vi.Family {
			d.errAttr(r.UnicastSource, "Mixed address families", "unicast_source %s is %s, the virtual addresses %s.", ip, familyName(ipvs.FamilyOf(ip)), familyName(vi.Family))
		}
	}
	if peers, ranges, ok := d.strList(r.UnicastPeers); ok {
		for i, s := range peers {
			ip, err := parseAddr(s)
			switch {
			case err != nil:
				d.errAt(ranges[i], "Invalid peer address", "%v.", err)
			case ip.IsMulticast():
				d.errAt(ranges[i], "Invalid peer address", "%s is multicast; unicast_peers lists the other nodes' own addresses.", ip)
			case vi.Family != 0 && ipvs.FamilyOf(ip) != vi.Family:
				d.errAt(ranges[i], "Mixed address families", "Peer %s is %s, the virtual addresses %s.", ip, familyName(ipvs.FamilyOf(ip)), familyName(vi.Family))
			case ip == vi.UnicastSource:
				d.errAt(ranges[i], "Peer is this node", "%s is this node's unicast_source; list only the other nodes.", ip)
			case slices.Contains(vi.UnicastPeers, ip):
				d.errAt(ranges[i], "Duplicate peer", "%s is listed twice.", ip)
			default:
				vi.UnicastPeers = append(vi.UnicastPeers, ip)
			}
		}
		if len(peers) == 0 {
			d.errAttr(r.UnicastPeers, "No peers", "unicast_peers is empty; remove it for multicast, or list the other nodes.")
		}
	}
	if r.UnicastSource != nil && r.UnicastPeers == nil {
		d.errAt(r.UnicastSource.NameRange, "unicast_source without peers", "unicast_source only applies in unicast mode: list the other nodes in unicast_peers.")
	}
	if ip, ok := d.addr(r.MulticastGroup); ok {
		switch {
		case !ip.IsMulticast():
			d.errAttr(r.MulticastGroup, "Invalid multicast_group", "%s is not a multicast address (224.0.0.0/4, ff00::/8).", ip)
		case vi.Family != 0 && ipvs.FamilyOf(ip) != vi.Family:
			d.errAttr(r.MulticastGroup, "Mixed address families", "multicast_group %s is %s, the virtual addresses %s.", ip, familyName(ipvs.FamilyOf(ip)), familyName(vi.Family))
		case r.UnicastPeers != nil:
			d.errAttr(r.MulticastGroup, "multicast_group with unicast_peers", "The adverts go to unicast_peers, so the group is not used: remove one of the two.")
		default:
			vi.MulticastGroup = ip
		}
	}
	if s, ok := d.str(r.AuthPass); ok {
		switch {
		case vi.Version != 2:
			d.errAttr(r.AuthPass, "Authentication needs VRRPv2", "VRRPv3 has no authentication (RFC 5798 removed it) and keepalived ignores it there: remove auth_pass, or set version = 2 to talk to a v2 peer.")
		case s == "" || len(s) > 8:
			d.errAttr(r.AuthPass, "Invalid auth_pass", "The VRRPv2 password is 1 to 8 bytes (keepalived silently cuts longer ones, so a longer one would not match a keepalived peer), not %d.", len(s))
		default:
			vi.AuthPass = s
		}
	}

	d.decodeGARP(single(d, r.GratuitousARP, "gratuitous_arp"), &vi.GratuitousARP)
	vi.TrackInterfaces = d.tracks(r.TrackInterfaces, "track_interface", func(t *rawTrack) (Track, bool) {
		if !ifaceRE.MatchString(t.Name) {
			d.errAt(t.LabelRange, "Invalid interface name", "%q is not an interface name.", t.Name)
			return Track{}, false
		}
		return Track{}, true
	})
	vi.TrackScripts = d.tracks(r.TrackScripts, "track_script", func(t *rawTrack) (Track, bool) {
		for _, s := range cfg.VRRPScripts {
			if s.Name == t.Name {
				return Track{Weight: s.Weight, Reverse: s.Reverse}, true
			}
		}
		names := make([]string, len(cfg.VRRPScripts))
		for i, s := range cfg.VRRPScripts {
			names[i] = s.Name
		}
		d.errAt(t.LabelRange, "Unknown vrrp_script", "No vrrp_script %q is declared.%s", t.Name, suggest(t.Name, names))
		return Track{}, false
	})
	vi.TrackVirtualServers = d.tracks(r.TrackVirtualServers, "track_virtual_server", func(t *rawTrack) (Track, bool) {
		if cfg.VirtualServer(t.Name) != nil {
			return Track{}, true
		}
		names := make([]string, len(cfg.VirtualServers))
		for i, vs := range cfg.VirtualServers {
			names[i] = vs.Name
		}
		d.errAt(t.LabelRange, "Unknown virtual_server", "No virtual_server %q is declared.%s", t.Name, suggest(t.Name, names))
		return Track{}, false
	})
	vi.Notify = d.vrrpNotify(r.Notify)
	return vi
}

// tracks decodes track_* blocks; resolve checks the name and gives the
// defaults (a vrrp_script's weight and reverse).
func (d *decoder) tracks(rs []*rawTrack, what string, resolve func(*rawTrack) (Track, bool)) []Track {
	var out []Track
	seen := map[string]hcl.Range{}
	for _, r := range rs {
		if prev, dup := seen[r.Name]; dup {
			d.errAt(r.LabelRange, "Duplicate "+what, "%s %q is already declared at %s.", what, r.Name, posString(prev))
			continue
		}
		seen[r.Name] = r.LabelRange
		t, ok := resolve(r)
		if v, wok := d.integer(r.Weight, -maxTrackWeight, maxTrackWeight); wok {
			t.Weight = int(v)
		}
		if v, rok := d.boolean(r.Reverse); rok {
			t.Reverse = v
		}
		if ok {
			t.Name = r.Name
			out = append(out, t)
		}
	}
	return out
}

func (d *decoder) vrrpNotify(rs []*rawNotify) VRRPNotify {
	h := d.decodeHooks(rs, "master", "backup", "fault", "stop", "any")
	return VRRPNotify{Master: h["master"], Backup: h["backup"], Fault: h["fault"], Stop: h["stop"], Any: h["any"]}
}

// virtualAddresses decodes a list whose elements are "ADDR[/LEN]" strings
// or {address = "ADDR[/LEN]", interface = "IFACE"} objects: the
// virtual_addresses, or the virtual_addresses_excluded (either family, none
// of them in advertised, the instance's virtual_addresses).
func (d *decoder) virtualAddresses(a *hcl.Attribute, vi *VRRPInstance, advertised []VirtualAddress) []VirtualAddress {
	excluded := a != nil && a.Name == "virtual_addresses_excluded"
	v, ok := d.eval(a, cty.DynamicPseudoType)
	if !d.required(a, ok) {
		return nil
	}
	ty := v.Type()
	if !ty.IsTupleType() && !ty.IsListType() && !ty.IsSetType() {
		d.errAttr(a, "Invalid "+a.Name, "%s must be a list of \"ADDR/LEN\" strings or {address, interface} objects.", a.Name)
		return nil
	}
	n := v.LengthInt()
	if n == 0 {
		if !excluded {
			d.errAttr(a, "No virtual addresses", "virtual_addresses is empty: a VRRP instance needs at least one address to own.")
		}
		return nil
	}
	ranges := elemRanges(a.Expr, n)
	var out []VirtualAddress
	i := -1
	for it := v.ElementIterator(); it.Next(); {
		i++
		_, e := it.Element()
		rng := ranges[i]
		va := VirtualAddress{Interface: vi.Interface, Excluded: excluded}
		var s string
		switch {
		case e.IsNull():
			d.errAt(rng, "Invalid virtual address", "null is not an address.")
			continue
		case e.Type() == cty.String:
			s = e.AsString()
		case e.Type().IsObjectType() || e.Type().IsMapType():
			obj := map[string]cty.Value{}
			for oit := e.ElementIterator(); oit.Next(); {
				k, ev := oit.Element()
				obj[k.AsString()] = ev
			}
			bad := false
			for _, k := range sortedKeys(obj) {
				if k != "address" && k != "interface" {
					d.errAt(rng, "Invalid virtual address", "Unknown key %q: a virtual address object has address and interface.%s", k, suggest(k, []string{"address", "interface"}))
					bad = true
				}
			}
			addrV, hasAddr := obj["address"]
			if !hasAddr {
				d.errAt(rng, "Invalid virtual address", "The object has no address.")
				bad = true
			}
			if bad {
				continue
			}
			sv, err := convert.Convert(addrV, cty.String)
			if err != nil || sv.IsNull() {
				d.errAt(rng, "Invalid virtual address", "address must be a string.")
				continue
			}
			s = sv.AsString()
			if ifv, ok := obj["interface"]; ok && !ifv.IsNull() {
				iv, err := convert.Convert(ifv, cty.String)
				if err != nil || !ifaceRE.MatchString(iv.AsString()) {
					d.errAt(rng, "Invalid interface name", "interface must be an interface name.")
					continue
				}
				va.Interface = iv.AsString()
			}
		default:
			d.errAt(rng, "Invalid virtual address", "Each virtual address is a string (\"10.0.0.100/24\") or an object ({address = \"10.0.0.100/24\", interface = \"eth1\"}), not %s.", e.Type().FriendlyName())
			continue
		}
		p, err := parseVIP(s)
		if err != nil {
			d.errAt(rng, "Invalid virtual address", "%v.", err)
			continue
		}
		va.Prefix = p
		if !excluded && len(out) > 0 && ipvs.FamilyOf(p.Addr()) != ipvs.FamilyOf(out[0].Prefix.Addr()) {
			d.errAt(rng, "Mixed address families", "%s is %s, the first virtual address %s: a VRRP instance carries one family in its adverts; put the other in its own vrrp_instance, or in virtual_addresses_excluded (owned, not advertised).", p.Addr(), familyName(ipvs.FamilyOf(p.Addr())), familyName(ipvs.FamilyOf(out[0].Prefix.Addr())))
			continue
		}
		same := func(x VirtualAddress) bool { return x.Prefix.Addr() == p.Addr() }
		if slices.ContainsFunc(out, same) {
			d.errAt(rng, "Duplicate virtual address", "%s is listed twice.", p.Addr())
			continue
		}
		if slices.ContainsFunc(advertised, same) {
			d.errAt(rng, "Duplicate virtual address", "%s is in virtual_addresses too: an address is either advertised or excluded.", p.Addr())
			continue
		}
		out = append(out, va)
		d.vipRanges[vipKey{vi, p.Addr()}] = rng
	}
	return out
}

type vipKey struct {
	vi *VRRPInstance
	ip netip.Addr
}

// parseVIP parses "ADDR" (a host prefix) or "ADDR/LEN", keeping the
// address bits.
func parseVIP(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not an address with a prefix length (e.g. \"10.0.0.100/24\")", s)
		}
	} else {
		ip, err := parseAddr(s)
		if err != nil {
			return p, err
		}
		p = netip.PrefixFrom(ip, ip.BitLen())
	}
	ip := p.Addr().Unmap()
	p = netip.PrefixFrom(ip, min(p.Bits(), ip.BitLen()))
	switch {
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsLoopback():
		return p, fmt.Errorf("%s cannot be a virtual address (unspecified, multicast or loopback)", ip)
	case ip.Is4() && p.Bits() < 31 && p.Masked().Addr() == ip:
		return p, fmt.Errorf("%s is the network address of %s, not a host address", ip, p.Masked())
	}
	return p, nil
}

// checkVRRPInstances rejects two instances that would fight over a VRID or
// an address.
func (d *decoder) checkVRRPInstances(cfg *Config, raw *rawRoot) {
	type vridKey struct {
		iface string
		fam   ipvs.Family
		vrid  uint8
	}
	vrids := map[vridKey][]*VRRPInstance{}
	vips := map[netip.Addr]*VRRPInstance{}
	for _, vi := range cfg.VRRPInstances {
		r := rawInstance(raw, vi)
		if r == nil {
			continue
		}
		if vi.VRID != 0 && vi.Interface != "" && vi.Family != 0 {
			k := vridKey{vi.Interface, vi.Family, vi.VRID}
			// Two unicast instances with no peer in common can share a
			// VRID (as in keepalived): each accepts adverts from its own
			// peers only.
			i := slices.IndexFunc(vrids[k], func(prev *VRRPInstance) bool {
				return len(vi.UnicastPeers) == 0 || len(prev.UnicastPeers) == 0 ||
					slices.ContainsFunc(vi.UnicastPeers, func(p netip.Addr) bool { return slices.Contains(prev.UnicastPeers, p) })
			})
			if i >= 0 {
				prev := vrids[k][i]
				d.errAttr(r.VRID, "Duplicate VRID", "vrid %d on %s (%s) is already used by vrrp_instance %q at %s: each instance on an interface needs its own VRID (unicast instances may share one when they have no peer in common).", vi.VRID, vi.Interface, familyName(vi.Family), prev.Name, posString(prev.DefRange))
			} else {
				vrids[k] = append(vrids[k], vi)
			}
		}
		for _, va := range vi.VirtualAddresses {
			if prev, dup := vips[va.Prefix.Addr()]; dup {
				d.errAt(d.vipRanges[vipKey{vi, va.Prefix.Addr()}], "Virtual address in two instances", "%s is already a virtual address of vrrp_instance %q at %s: two instances would fight over it.", va.Prefix.Addr(), prev.Name, posString(prev.DefRange))
				continue
			}
			vips[va.Prefix.Addr()] = vi
		}
	}
}

func rawInstance(raw *rawRoot, vi *VRRPInstance) *rawVRRPInstance {
	for _, r := range raw.VRRPInstances {
		if r.DefRange == vi.DefRange {
			return r
		}
	}
	return nil
}

func (d *decoder) decodeSyncGroups(rs []*rawSyncGroup, cfg *Config) {
	seen := map[string]hcl.Range{}
	member := map[string]*SyncGroup{}
	for _, r := range rs {
		if !d.checkName("vrrp_sync_group", r.Name, r.LabelRange) {
			continue
		}
		if prev, dup := seen[r.Name]; dup {
			d.errAt(r.LabelRange, "Duplicate vrrp_sync_group", "vrrp_sync_group %q is already declared at %s.", r.Name, posString(prev))
			continue
		}
		seen[r.Name] = r.LabelRange
		g := &SyncGroup{Name: r.Name, DefRange: r.DefRange}
		d.missing(r.Instances, "instances", r.DefRange)
		names, ranges, ok := d.strList(r.Instances)
		if d.required(r.Instances, ok) {
			for i, n := range names {
				vi := cfg.VRRPInstance(n)
				switch {
				case vi == nil:
					d.errAt(ranges[i], "Unknown vrrp_instance", "No vrrp_instance %q is declared.", n)
				case member[n] == g:
					d.errAt(ranges[i], "Duplicate instance", "%q is listed twice.", n)
				case member[n] != nil:
					d.errAt(ranges[i], "Instance in two sync groups", "vrrp_instance %q is already in vrrp_sync_group %q.", n, member[n].Name)
				default:
					member[n] = g
					vi.SyncGroup = g.Name
					g.Instances = append(g.Instances, n)
				}
			}
			switch {
			case len(names) == 0:
				d.errAttr(r.Instances, "Empty sync group", "instances is empty.")
			case len(names) == 1:
				d.warnAttr(r.Instances, "Sync group of one", "A vrrp_sync_group with one instance changes nothing: it moves together with itself.")
			}
		}
		g.Notify = d.vrrpNotify(r.Notify)
		cfg.SyncGroups = append(cfg.SyncGroups, g)
	}
}

func (d *decoder) checkUnusedScripts(cfg *Config, raw *rawRoot) {
	for _, r := range raw.VRRPScripts {
		used := false
		for _, vi := range cfg.VRRPInstances {
			used = used || slices.ContainsFunc(vi.TrackScripts, func(t Track) bool { return t.Name == r.Name })
		}
		if !used {
			d.warnAt(r.LabelRange, "Unused vrrp_script", "No vrrp_instance tracks vrrp_script %q (add track_script %q to one), so it never runs.", r.Name, r.Name)
		}
	}
}

// checkGroupWeights warns about tracking weights of sync group members:
// as in keepalived, they are 0 there (a failure faults the member and the
// group follows), since a weight moves one member and the group holds it
// back, so the failover the weight was meant to cause would not happen.
func (d *decoder) checkGroupWeights(cfg *Config, raw *rawRoot) {
	for _, vi := range cfg.VRRPInstances {
		if vi.SyncGroup == "" {
			continue
		}
		r := rawInstance(raw, vi)
		if r == nil {
			continue
		}
		for _, ts := range []struct {
			raw  []*rawTrack
			have []Track
		}{{r.TrackInterfaces, vi.TrackInterfaces}, {r.TrackScripts, vi.TrackScripts}, {r.TrackVirtualServers, vi.TrackVirtualServers}} {
			for _, t := range ts.have {
				if t.Weight == 0 {
					continue
				}
				for _, rt := range ts.raw {
					if rt.Name == t.Name {
						d.warnAt(rt.LabelRange, "Tracking weight ignored in a sync group", "vrrp_instance %q is in vrrp_sync_group %q, where a tracked object's weight (%d) is ignored: its failure puts the instance in FAULT and the whole group follows (keepalived's rule). Set weight = 0 to say so.", vi.Name, vi.SyncGroup, t.Weight)
					}
				}
			}
		}
	}
}

// checkVIPsHeld warns about a virtual service address that no VRRP
// instance owns, on a node that uses VRRP: it is easy to forget one.
func (d *decoder) checkVIPsHeld(cfg *Config, raw *rawRoot) {
	if len(cfg.VRRPInstances) == 0 {
		return
	}
	held := map[netip.Addr]bool{}
	for _, vi := range cfg.VRRPInstances {
		for _, va := range vi.VirtualAddresses {
			held[va.Prefix.Addr()] = true
		}
	}
	for _, vs := range cfg.VirtualServers {
		for i, key := range vs.Services {
			if key.FWMark != 0 || held[key.Addr.Addr()] {
				continue
			}
			d.warnAt(d.svcRanges[vs][i], "Virtual address not held by VRRP", "%s is not a virtual address of any vrrp_instance, so it does not move with the master role: add it to one, or configure it on this host by other means.", key.Addr.Addr())
		}
	}
}

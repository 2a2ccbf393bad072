package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Config is one VRRP instance (keepalived's vrrp_instance). The HCL layer
// fills it; Validate reports every mistake at once; New applies defaults.
type Config struct {
	// Name identifies the instance in logs, events, notify hooks and the
	// state file ("VI_1").
	Name string
	// Interface carries the adverts and, by default, the virtual addresses.
	Interface string
	// VRID is the virtual router id, 1-255, shared by all routers of the
	// instance.
	VRID uint8
	// Priority is 1-254, or 255 for the address owner (Master at once).
	Priority uint8
	// Version is 2 (RFC 3768) or 3 (RFC 5798); 0 means 3. keepalived's
	// default is 2: set it explicitly when peering with keepalived.
	Version uint8
	// AdvertInterval defaults to 1s. v2: whole seconds, 1s-255s. v3:
	// whole centiseconds, 10ms-40.95s.
	AdvertInterval time.Duration
	// NoPreempt keeps a higher-priority backup from taking over a running
	// lower-priority master (keepalived's nopreempt).
	NoPreempt bool
	// PreemptDelay holds preemption back after a lower-priority master is
	// first seen (keepalived's preempt_delay).
	PreemptDelay time.Duration
	// SourceAddr is the source of our adverts (keepalived's unicast_src_ip /
	// mcast_src_ip) and the tie-break address. Default: the interface's
	// first IPv4 address, or its link-local address for IPv6 instances.
	SourceAddr netip.Addr
	// Peers switches to unicast: adverts go to each peer instead of the
	// multicast group, and only adverts from peers are accepted.
	Peers []netip.Addr
	// Group is the multicast group the adverts go to and are received on
	// (keepalived's mcast_dst_ip, vrrp_mcast_group4/6). Zero: the RFCs'
	// 224.0.0.18 or ff02::12. Not with Peers.
	Group netip.Addr
	// UnicastAnyTTL accepts unicast adverts with any TTL (peers behind
	// routers). Off: TTL must be 255 as the RFCs require.
	UnicastAnyTTL bool
	// AuthPass enables v2 simple password authentication (first 8 bytes
	// used, as keepalived does). Not allowed with v3.
	AuthPass string
	// VIPs are the virtual addresses. Those in the adverts (not Excluded)
	// are all of one family, which decides between IPv4 and IPv6 VRRP; at
	// least one is. Excluded ones may be of either family.
	VIPs []VIP
	// GARP tunes the gratuitous ARPs / unsolicited neighbour adverts sent
	// on becoming master.
	GARP GARPConfig
	// ImmediateRelease removes the addresses the moment a graceful stop or
	// step-down sends its priority 0 advert, as keepalived does. By default
	// the stopping master keeps them until the new master's first advert
	// arrives (bounded by Skew_Time plus an interval), so clients see no gap.
	ImmediateRelease bool
	// DontTrackPrimary ignores the link state of Interface (keepalived's
	// dont_track_primary). By default Interface down means Fault.
	DontTrackPrimary bool
	// Track lists the tracked objects (interfaces, scripts, the director's
	// virtual servers) with their weights.
	Track []Track
	// Notify runs commands on transitions.
	Notify Notify
}

// VIP is a virtual address with its prefix length and interface.
type VIP struct {
	Prefix netip.Prefix // e.g. 10.0.0.100/24; a bare address is /32 or /128
	Device string       // default Config.Interface
	// Excluded addresses are owned and announced like the others but not
	// listed in the adverts (keepalived's virtual_ipaddress_excluded): a
	// peer compares the advert's list with its own, so both sides must
	// agree on which addresses are in it. They may be of the other family
	// (IPv6 addresses with a VRRPv2 instance).
	Excluded bool
}

// GARPConfig mirrors keepalived's garp_master_* settings. Zero values take
// keepalived's defaults; negative values switch a feature off.
type GARPConfig struct {
	Repeat        int           // per burst on becoming master; default 5
	Delay         time.Duration // second burst after; default 5s, <0 none
	Refresh       time.Duration // periodic burst while master; default none
	RefreshRepeat int           // per refresh burst; default 1
	Interval      time.Duration // between packets of a burst; default 0
}

// TrackKind names what a tracked object is.
type TrackKind string

const (
	TrackInterface TrackKind = "interface" // link state of Name, watched by the instance
	TrackScript    TrackKind = "script"    // a Script's result, fed by whoever runs it
	TrackExternal  TrackKind = "external"  // anything else fed with Instance.SetTrack (e.g. virtual server health)
)

// Track is one tracked object and its weight, with keepalived's semantics:
// weight 0 means Fault while the object is down; a positive weight is added
// to the priority while it is up; a negative weight is added while it is
// down. Reverse flips the direction (weight 0 reverse: Fault while up).
type Track struct {
	Kind    TrackKind
	Name    string // interface name, script name, or external key
	Weight  int    // -253..253
	Reverse bool
}

// Key is how SetTrack refers to the object: "interface:eth1",
// "script:chk_nginx", or the external key as given.
func (t Track) Key() string {
	if t.Kind == TrackExternal || t.Kind == "" {
		return t.Name
	}
	return string(t.Kind) + ":" + t.Name
}

// Notify holds the commands run on transitions (keepalived's notify_*).
// Each is an argv; the environment adds LVSD_INSTANCE, LVSD_VRID,
// LVSD_STATE, LVSD_FROM, LVSD_PRIORITY and LVSD_REASON.
type Notify struct {
	Master, Backup, Fault, Stop []string
	// Any runs on every transition with keepalived's four arguments
	// appended: INSTANCE, the name, the new state, the priority.
	Any []string
	// Timeout kills a hook that runs longer; default 30s.
	Timeout time.Duration
	// Env is added to every hook's environment (e.g. LVSD_NODE).
	Env []string
	// Run runs one hook: argv, and the variables to add to the process's
	// environment (Env and the LVSD_ ones). Default: exec the command
	// with them, killed at the context's end.
	Run func(ctx context.Context, argv, env []string) error `json:"-"`
}

// withDefaults returns c with zero values replaced by defaults.
func (c Config) withDefaults() Config {
	if c.Version == 0 {
		c.Version = 3
	}
	if c.AdvertInterval == 0 {
		c.AdvertInterval = time.Second
	}
	if c.GARP.Repeat == 0 {
		c.GARP.Repeat = 5
	}
	if c.GARP.Delay == 0 {
		c.GARP.Delay = 5 * time.Second
	}
	if c.GARP.RefreshRepeat == 0 {
		c.GARP.RefreshRepeat = 1
	}
	if c.Notify.Timeout == 0 {
		c.Notify.Timeout = 30 * time.Second
	}
	for i, v := range c.VIPs {
		if v.Device == "" {
			c.VIPs[i].Device = c.Interface
		}
	}
	return c
}

// IPv6 reports whether the instance runs VRRP over IPv6 (its advertised
// VIPs are IPv6).
func (c Config) IPv6() bool {
	a := c.Advertised()
	return len(a) > 0 && a[0].Prefix.Addr().Is6()
}

// group is where multicast adverts go: Group, or the RFCs' group.
func (c Config) group() netip.Addr {
	switch {
	case c.Group.IsValid():
		return c.Group
	case c.IPv6():
		return Group6
	default:
		return Group4
	}
}

// Advertised returns the VIPs listed in the adverts: all but the excluded.
func (c Config) Advertised() []VIP {
	var out []VIP
	for _, v := range c.VIPs {
		if !v.Excluded {
			out = append(out, v)
		}
	}
	return out
}

// Validate checks c and returns every problem found, joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("vrrp instance %q: "+format, append([]any{c.Name}, args...)...))
	}
	d := c.withDefaults()
	if c.Name == "" {
		bad("needs a name")
	}
	if c.Interface == "" {
		bad("needs an interface")
	}
	if c.VRID == 0 {
		bad("vrid must be 1-255")
	}
	if c.Priority == 0 {
		bad("priority must be 1-255 (255: address owner)")
	}
	switch d.Version {
	case 2:
		if d.AdvertInterval%time.Second != 0 || d.AdvertInterval < time.Second || d.AdvertInterval > 255*time.Second {
			bad("advert interval %v: VRRP v2 takes whole seconds, 1s to 255s", d.AdvertInterval)
		}
		if c.IPv6() {
			bad("VRRP v2 is IPv4 only; use version 3 for IPv6 addresses")
		}
	case 3:
		if d.AdvertInterval%(10*time.Millisecond) != 0 || d.AdvertInterval < 10*time.Millisecond || d.AdvertInterval > 40950*time.Millisecond {
			bad("advert interval %v: VRRP v3 takes whole centiseconds, 10ms to 40.95s", d.AdvertInterval)
		}
		if c.AuthPass != "" {
			bad("authentication is VRRP v2 only (RFC 5798 removed it)")
		}
	default:
		bad("version %d: must be 2 or 3", c.Version)
	}
	if len(c.AuthPass) > authLen {
		bad("auth password is %d bytes; only the first 8 are sent, as keepalived does: shorten it so both sides agree", len(c.AuthPass))
	}
	if c.PreemptDelay < 0 || c.PreemptDelay > 1000*time.Second {
		bad("preempt delay %v: must be 0 to 1000s", c.PreemptDelay)
	}
	if c.PreemptDelay > 0 && c.NoPreempt {
		bad("preempt delay has no effect with nopreempt")
	}
	if c.NoPreempt && c.Priority == 255 {
		bad("nopreempt cannot apply to the address owner (priority 255)")
	}
	if adv := len(c.Advertised()); adv == 0 {
		bad("needs at least one virtual address in its adverts (not excluded)")
	} else if adv > 255 {
		bad("%d virtual addresses: an advert carries at most 255 (exclude the others from the adverts)", adv)
	}
	seen := map[netip.Addr]bool{}
	six := c.IPv6()
	for _, v := range c.VIPs {
		a := v.Prefix.Addr()
		if !v.Prefix.IsValid() || a.Is4In6() {
			bad("virtual address %v is not valid", v.Prefix)
			continue
		}
		if !v.Excluded && a.Is6() != six {
			bad("virtual address %v: all the addresses in an instance's adverts must be one family (exclude it from the adverts, or give it an instance of its own)", v.Prefix)
		}
		if seen[a] {
			bad("virtual address %v is listed twice", a)
		}
		seen[a] = true
	}
	if c.SourceAddr.IsValid() && c.SourceAddr.Is6() != c.IPv6() {
		bad("source address %v is not of the virtual addresses' family", c.SourceAddr)
	}
	if c.Group.IsValid() {
		switch {
		case !c.Group.IsMulticast() || c.Group.Is4In6():
			bad("multicast group %v is not a multicast address", c.Group)
		case c.Group.Is6() != c.IPv6():
			bad("multicast group %v is not of the virtual addresses' family", c.Group)
		case len(c.Peers) > 0:
			bad("multicast group %v with unicast peers: adverts go to the peers, the group is not used", c.Group)
		}
	}
	for _, p := range c.Peers {
		if !p.IsValid() || p.Is6() != c.IPv6() {
			bad("unicast peer %v is not of the virtual addresses' family", p)
		}
		if p == c.SourceAddr {
			bad("unicast peer %v is our own source address", p)
		}
	}
	if d.GARP.Repeat < 0 || d.GARP.RefreshRepeat < 0 || d.GARP.Interval < 0 || d.GARP.Refresh < 0 {
		bad("gratuitous ARP repeat, refresh and interval must not be negative")
	}
	keys := map[string]bool{}
	for _, t := range c.Track {
		switch t.Kind {
		case TrackInterface, TrackScript, TrackExternal, "":
		default:
			bad("track %q: unknown kind %q", t.Name, t.Kind)
		}
		if t.Name == "" {
			bad("track entry without a name")
		}
		if t.Weight < -253 || t.Weight > 253 {
			bad("track %s: weight %d must be -253..253", t.Key(), t.Weight)
		}
		if keys[t.Key()] {
			bad("track %s is listed twice", t.Key())
		}
		keys[t.Key()] = true
	}
	return errors.Join(errs...)
}

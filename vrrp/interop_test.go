package vrrp

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// lvsd and keepalived side by side on one LAN must agree on the master in
// every scenario, whoever has the higher priority, for v2 with PASS
// authentication, v3, multicast and unicast.

type interopMode struct {
	name    string
	version uint8
	intv    time.Duration
	auth    string
	unicast bool
}

var interopModes = []interopMode{
	{name: "v3-multicast", version: 3, intv: 100 * time.Millisecond},
	{name: "v3-unicast", version: 3, intv: 100 * time.Millisecond, unicast: true},
	{name: "v2-pass-multicast", version: 2, intv: time.Second, auth: "s3cr3t"},
	{name: "v2-pass-unicast", version: 2, intv: time.Second, auth: "s3cr3t", unicast: true},
}

// pair is one lvsd node and one keepalived node in a lab.
type pair struct {
	t          *testing.T
	l          *lab
	mode       interopMode
	lvName     string // node running lvsd
	kaName     string // node running keepalived
	lvPrio     uint8
	kaPrio     uint8
	lv         *procNode
	ka         *kaNode
	vip        netip.Addr
	noPreempt  bool           // for the next start of either side
	excluded   []netip.Prefix // owned by both sides, in neither's adverts
	group      netip.Addr     // multicast group of both sides' adverts
	lvGroup    netip.Addr     // lvsd's, when it differs (a misconfigured pair)
	lastMaster string
}

func newPair(t *testing.T, m interopMode, lvsdMaster bool) *pair {
	p := &pair{t: t, l: newLab(t, 2), mode: m, lvName: "n1", kaName: "n2", vip: labVIP4.Addr()}
	p.lvPrio, p.kaPrio = 100, 150
	if lvsdMaster {
		p.lvPrio, p.kaPrio = 150, 100
	}
	return p
}

func (p *pair) startLvsd() {
	c := labConfig(p.lvName, p.lvPrio, p.mode.version, p.mode.intv, false)
	c.AuthPass = p.mode.auth
	c.NoPreempt = p.noPreempt
	for _, x := range p.excluded {
		c.VIPs = append(c.VIPs, VIP{Prefix: x, Excluded: true})
	}
	c.Group = p.group
	if p.lvGroup.IsValid() {
		c.Group = p.lvGroup
	}
	if p.mode.unicast {
		c.Peers = []netip.Addr{p.l.Node(p.kaName).Addr4}
	}
	p.lv = p.l.startLvsd(p.lvName, nodeSpec{Config: c})
}

func (p *pair) startKeepalived() {
	s := kaSpec{Prio: p.kaPrio, Version: p.mode.version, Interval: p.mode.intv, AuthPass: p.mode.auth, NoPreempt: p.noPreempt, Excluded: p.excluded, Group: p.group}
	if p.mode.unicast {
		s.Src = p.l.Node(p.kaName).Addr4
		s.Peers = []netip.Addr{p.l.Node(p.lvName).Addr4}
	}
	p.ka = p.l.startKeepalived(p.kaName, s)
}

// agree waits until both sides say who is master and only that node holds
// the address. who is "lvsd" or "keepalived".
func (p *pair) agree(d time.Duration, who string) {
	p.t.Helper()
	wantLv, wantKa, holder := "MASTER", "BACKUP", p.lvName
	if who == "keepalived" {
		wantLv, wantKa, holder = "BACKUP", "MASTER", p.kaName
	}
	deadline := time.Now().Add(d)
	for {
		lv, ka, h := p.lv.state(), p.ka.state(), p.l.Holders(p.vip)
		if lv == wantLv && ka == wantKa && slices.Equal(h, []string{holder}) {
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("after %v: lvsd %s, keepalived %s, address on %v; want %s master", d, lv, ka, h, who)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// And they stay agreed for a few adverts.
	time.Sleep(2*p.mode.intv + 100*time.Millisecond)
	if lv, ka, h := p.lv.state(), p.ka.state(), p.l.Holders(p.vip); lv != wantLv || ka != wantKa || !slices.Equal(h, []string{holder}) {
		p.t.Fatalf("agreement did not last: lvsd %s, keepalived %s, address on %v; want %s master", lv, ka, h, who)
	}
	p.lastMaster = who
}

func (p *pair) settle() time.Duration {
	return MasterDownInterval(p.mode.version, 1, p.mode.intv) + 2*time.Second
}

func TestInteropKeepalived(t *testing.T) {
	requireKeepalived(t)
	for _, m := range interopModes {
		for _, lvsdMaster := range []bool{true, false} {
			role := "keepalived-master"
			if lvsdMaster {
				role = "lvsd-master"
			}
			t.Run(m.name+"/"+role, func(t *testing.T) {
				p := newPair(t, m, lvsdMaster)
				high, low := "keepalived", "lvsd"
				if lvsdMaster {
					high, low = "lvsd", "keepalived"
				}
				// Election: both start; the higher priority wins.
				p.startKeepalived()
				p.startLvsd()
				p.agree(p.settle(), high)

				// Graceful stop of the master: the other takes over after
				// its Skew_Time; then the master returns and preempts.
				p.stopSide(high)
				p.agreeAlone(low)
				p.startSide(high)
				p.agree(p.settle(), high)

				if m.version == 2 {
					// 1s adverts make each round seconds long; SIGKILL
					// with v2 is covered between lvsd nodes and in v3 here.
					return
				}
				// SIGKILL of the master: the other takes over after its
				// Master_Down_Interval; the restarted master preempts.
				p.killSide(high)
				p.agreeAlone(low)
				p.startSide(high)
				p.agree(p.settle(), high)
			})
		}
	}
}

// TestInteropKeepalivedExcluded: keepalived's virtual_ipaddress_excluded
// (addresses owned but not in the adverts), here the usual reason for it:
// IPv6 addresses with a VRRPv2 instance, plus an IPv4 one. A peer drops
// adverts whose address list differs from its own, so lvsd must leave the
// same addresses out: then the pair elects one master, and every address,
// excluded or not, is on it and only on it, through a handover each way.
func TestInteropKeepalivedExcluded(t *testing.T) {
	requireKeepalived(t)
	m := interopMode{name: "v2-pass-multicast", version: 2, intv: time.Second, auth: "s3cr3t"}
	p := newPair(t, m, true)
	p.excluded = []netip.Prefix{netip.MustParsePrefix("fd00:200::200/64"), netip.MustParsePrefix("fd00:200::201/64"), netip.MustParsePrefix("10.200.0.200/24")}
	all := func(who string) {
		t.Helper()
		node := p.nodeOf(who)
		deadline := time.Now().Add(2 * time.Second)
		for _, x := range p.excluded {
			for !slices.Equal(p.l.Holders(x.Addr()), []string{node}) {
				if time.Now().After(deadline) {
					t.Fatalf("%s is master; excluded address %v is on %v", who, x, p.l.Holders(x.Addr()))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	p.startKeepalived()
	p.startLvsd()
	p.agree(p.settle(), "lvsd")
	all("lvsd")
	// lvsd hands over to keepalived, and takes the role back.
	p.stopSide("lvsd")
	p.agreeAlone("keepalived")
	all("keepalived")
	p.startSide("lvsd")
	p.agree(p.settle(), "lvsd")
	all("lvsd")
}

// TestInteropKeepalivedGroup: a pair whose adverts go to another
// multicast group than 224.0.0.18 (keepalived's mcast_dst_ip; sites use it
// to keep several clusters' adverts apart). With the same group on both
// sides they elect one master and hand over each way; with lvsd on the
// default group they cannot hear each other and both become master, so
// the group is really what carries the adverts.
func TestInteropKeepalivedGroup(t *testing.T) {
	requireKeepalived(t)
	m := interopMode{name: "v3-multicast", version: 3, intv: 100 * time.Millisecond}
	group := netip.MustParseAddr("224.0.0.88")
	t.Run("same group", func(t *testing.T) {
		p := newPair(t, m, true)
		p.group = group
		p.startKeepalived()
		p.startLvsd()
		p.agree(p.settle(), "lvsd")
		p.stopSide("lvsd")
		p.agreeAlone("keepalived")
		p.startSide("lvsd")
		p.agree(p.settle(), "lvsd")
	})
	t.Run("lvsd on the default group", func(t *testing.T) {
		p := newPair(t, m, true)
		p.group, p.lvGroup = group, Group4
		p.startKeepalived()
		p.startLvsd()
		p.waitState("lvsd", "MASTER", p.settle())
		p.waitState("keepalived", "MASTER", p.settle())
	})
}

// TestInteropKeepalivedFaults runs the harsher scenarios in v3 multicast at
// 100ms, both ways round: link cut and mend, partition and heal, and
// nopreempt on the returning side.
func TestInteropKeepalivedFaults(t *testing.T) {
	requireKeepalived(t)
	m := interopModes[0]
	for _, lvsdMaster := range []bool{true, false} {
		role := "keepalived-master"
		high, low := "keepalived", "lvsd"
		if lvsdMaster {
			role, high, low = "lvsd-master", "lvsd", "keepalived"
		}
		t.Run(role, func(t *testing.T) {
			p := newPair(t, m, lvsdMaster)
			p.startKeepalived()
			p.startLvsd()
			p.agree(p.settle(), high)

			// Cut the master's cable: the other side takes over; mend it:
			// the master preempts again.
			p.l.CutLink(p.nodeOf(high))
			p.waitState(low, "MASTER", 2*time.Second)
			p.waitState(high, "FAULT", 3*time.Second)
			p.l.WaitHolders(2*time.Second, p.vip, p.nodeOf(low))
			p.l.MendLink(p.nodeOf(high))
			p.l.WaitPortUp(p.nodeOf(high))
			p.agree(p.settle(), high)

			// Partition: both become master; heal: they agree again.
			p.l.Partition()
			p.waitState(low, "MASTER", 2*time.Second)
			p.l.Heal()
			p.agree(p.settle(), high)

			// The master stops and comes back with nopreempt: the other
			// stays master, and both say so.
			p.stopSide(high)
			p.agreeAlone(low)
			p.noPreempt = true
			p.startSide(high)
			time.Sleep(2 * MasterDownInterval(m.version, 150, m.intv))
			p.agree(p.settle(), low)
		})
	}
}

func (p *pair) nodeOf(who string) string {
	if who == "lvsd" {
		return p.lvName
	}
	return p.kaName
}

func (p *pair) waitState(who, state string, d time.Duration) {
	p.t.Helper()
	if who == "lvsd" {
		p.lv.waitState(d, state)
	} else {
		p.ka.waitState(d, state)
	}
}

func (p *pair) stopSide(who string) {
	if who == "lvsd" {
		p.lv.stop()
	} else {
		p.ka.stop()
	}
}

func (p *pair) killSide(who string) {
	if who == "lvsd" {
		p.lv.kill()
	} else {
		p.ka.kill()
	}
}

func (p *pair) startSide(who string) {
	if who == "lvsd" {
		p.startLvsd()
	} else {
		p.startKeepalived()
	}
}

// agreeAlone waits until who, the only one left, is master and the only
// live node holding the address (a SIGKILLed node keeps its copy).
func (p *pair) agreeAlone(who string) {
	p.t.Helper()
	p.waitState(who, "MASTER", p.settle())
	deadline := time.Now().Add(2 * time.Second)
	for !slices.Contains(p.l.Holders(p.vip), p.nodeOf(who)) {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s is master but does not hold %v", who, p.vip)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInteropKeepalivedTrackScript: lvsd is master with a tracked script;
// the script fails, lvsd goes to Fault with a priority 0 advert and
// keepalived takes over; the script recovers and lvsd preempts.
func TestInteropKeepalivedTrackScript(t *testing.T) {
	requireKeepalived(t)
	p := newPair(t, interopModes[0], true)
	flag := filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p.startKeepalived()
	c := labConfig(p.lvName, p.lvPrio, 3, p.mode.intv, false)
	c.Track = []Track{{Kind: TrackScript, Name: "chk"}}
	p.lv = p.l.startLvsd(p.lvName, nodeSpec{Config: c, Scripts: []ScriptConfig{
		{Name: "chk", Command: []string{"/bin/test", "-e", flag}, Interval: 50 * time.Millisecond},
	}})
	p.agree(p.settle(), "lvsd")
	os.Remove(flag)
	p.lv.waitState(time.Second, "FAULT")
	p.ka.waitState(time.Second, "MASTER")
	p.l.WaitHolders(time.Second, p.vip, p.kaName)
	os.WriteFile(flag, nil, 0o644)
	p.agree(p.settle(), "lvsd")
}

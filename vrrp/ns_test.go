package vrrp

import (
	"fmt"
	"github.com/lvsd/lvsd/vrrp/vrrptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// Two (or three) lvsd node processes in network namespaces, a client, and
// the kernel doing the rest. Timings are asserted against the RFC values
// with a margin for a loaded two-core host: 60ms + 10% of the RFC time.

func margin(rfc time.Duration) time.Duration { return 60*time.Millisecond + rfc/10 }

// requireWithin fails unless want-early <= got <= want+margin(want).
func requireWithin(t *testing.T, what string, got, want, early time.Duration) {
	t.Helper()
	if got < want-early || got > want+margin(want) {
		t.Fatalf("%s took %v, want %v (-%v/+%v)", what, got, want, early, margin(want))
	}
	t.Logf("%s: %v (RFC %v)", what, got.Round(100*time.Microsecond), want.Round(100*time.Microsecond))
}

// twoNodes starts n1 (priority 150) and n2 (100) with cfg's other settings
// and waits for n1 to be master with the client answered by it.
func twoNodes(t *testing.T, l *lab, v uint8, intv time.Duration, mod func(name string, s *nodeSpec)) (*procNode, *procNode) {
	t.Helper()
	specs := map[string]*nodeSpec{}
	for _, n := range []struct {
		name string
		prio uint8
	}{{"n1", 150}, {"n2", 100}} {
		s := &nodeSpec{Config: labConfig(n.name, n.prio, v, intv, false)}
		if mod != nil {
			mod(n.name, s)
		}
		specs[n.name] = s
	}
	n1 := l.startLvsd("n1", *specs["n1"])
	n2 := l.startLvsd("n2", *specs["n2"])
	vip := specs["n1"].Config.VIPs[0].Prefix.Addr()
	n1.waitState(MasterDownInterval(v, 150, intv)+2*time.Second, "MASTER")
	l.WaitHolders(time.Second, vip, "n1")
	if l.Probe == nil {
		l.StartProbe(vip, 2*time.Millisecond)
	}
	l.Probe.WaitAnswer(t, 2*time.Second, "n1")
	if s := n2.state(); s != "BACKUP" {
		t.Fatalf("n2 is %s, want BACKUP", s)
	}
	return n1, n2
}

func TestNSElection(t *testing.T) {
	intv := 100 * time.Millisecond
	l := newLab(t, 3)
	vip := labVIP4.Addr()
	start := time.Now()
	// Start the three together; the priorities are far enough apart
	// (Master_Down_Interval 361ms, 302ms, 380ms) that process start-up
	// jitter cannot change the order.
	prios := []uint8{100, 250, 50}
	procs := make([]*procNode, 3)
	var wg sync.WaitGroup
	for i, p := range prios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i] = l.startLvsd(fmt.Sprintf("n%d", i+1), nodeSpec{Config: labConfig("", p, 3, intv, false)})
		}()
	}
	wg.Wait()
	procs[1].waitState(2*time.Second, "MASTER")
	owned := l.Takeover("n2", vip, start)
	requireWithin(t, "n2 elected (from its start-up)", owned.Sub(procs[1].readyAt()), MasterDownInterval(3, 250, intv), 0)
	l.WaitHolders(time.Second, vip, "n2")
	p := l.StartProbe(vip, 2*time.Millisecond)
	p.WaitAnswer(t, time.Second, "n2")
	time.Sleep(5 * intv)
	for _, i := range []int{0, 2} {
		if got := procs[i].transitions(); !slices.Equal(got, []string{"BACKUP"}) {
			t.Fatalf("n%d went through %v, want only BACKUP", i+1, got)
		}
	}
	// keepalived's GARP defaults: a burst of 5 at once, 5 more 5s later.
	if n := len(l.Sniff.Announcements(vip, l.Node("n2").MAC, start)); n != 5 {
		t.Fatalf("%d gratuitous ARPs on takeover, want 5", n)
	}
	time.Sleep(5*time.Second + 200*time.Millisecond)
	late := l.Sniff.Announcements(vip, l.Node("n2").MAC, owned.Add(4900*time.Millisecond))
	if len(late) != 5 {
		t.Fatalf("%d gratuitous ARPs in the second burst, want 5", len(late))
	}
	requireWithin(t, "second gratuitous ARP burst", late[0].At.Sub(owned), 5*time.Second, 0)
}

func TestNSGracefulStop(t *testing.T) {
	intv := 100 * time.Millisecond
	l := newLab(t, 2)
	vip := labVIP4.Addr()
	n1, n2 := twoNodes(t, l, 3, intv, nil)
	stop := time.Now()
	n1.stop()
	n2.waitState(2*time.Second, "MASTER")
	owned := l.Takeover("n2", vip, stop)
	zero := l.Sniff.Find(func(p vrrptest.Packet) bool { return p.Kind == "vrrp" && p.Prio == 0 && !p.At.Before(stop) })
	if len(zero) != 1 {
		t.Fatalf("saw %d priority 0 adverts after stop, want 1", len(zero))
	}
	requireWithin(t, "takeover after priority 0", owned.Sub(zero[0].At), SkewTime(3, 100, intv), 0)
	l.WaitHolders(time.Second, vip, "n2")
	// n1 handed over: it dropped the address only after n2 had it. (The
	// two times come from two netlink watchers; allow them 5ms of skew.)
	added := l.Node("n2").Addrs.Added(vip, stop)
	released := l.Node("n1").Addrs.Removed(vip, stop)
	if released.IsZero() || added.IsZero() || released.Before(added.Add(-5*time.Millisecond)) {
		t.Fatalf("n1 released at %v, n2 added at %v: want release after takeover", released, added)
	}
	l.Probe.WaitAnswer(t, time.Second, "n2")
	out, _ := l.Probe.Outage(stop, time.Now())
	if out > 25*time.Millisecond {
		t.Fatalf("client outage %v on graceful stop, want next to none (handover)", out)
	}
	t.Logf("client outage on graceful stop: %v", out.Round(100*time.Microsecond))
	if got := n1.transitions(); !slices.Equal(got, []string{"BACKUP", "MASTER", "INIT"}) {
		t.Fatalf("n1 went through %v", got)
	}
}

func TestNSKillMasterAndRestart(t *testing.T) {
	intv := 100 * time.Millisecond
	l := newLab(t, 2)
	vip := labVIP4.Addr()
	n1, n2 := twoNodes(t, l, 3, intv, nil)
	kill := time.Now()
	n1.kill()
	n2.waitState(2*time.Second, "MASTER")
	owned := l.Takeover("n2", vip, kill)
	last := l.Sniff.LastAdvert(l.Node("n1").Addr4, owned)
	requireWithin(t, "takeover after SIGKILL (from the last advert)", owned.Sub(last), MasterDownInterval(3, 100, intv), 2*time.Millisecond)
	l.Probe.WaitAnswer(t, time.Second, "n2")
	// SIGKILL leaves the address on n1, as with keepalived.
	l.RequireHolders(vip, "n1", "n2")

	// A restarted n1 first removes the stale address, then waits out the
	// election like any backup and preempts.
	restart := time.Now()
	n1 = l.startLvsd("n1", nodeSpec{Config: labConfig("n1", 150, 3, intv, false)})
	n1.waitState(2*time.Second, "MASTER")
	back := l.Takeover("n1", vip, restart)
	removed := l.Node("n1").Addrs.Removed(vip, restart)
	if removed.IsZero() {
		t.Fatal("the restarted n1 did not remove the stale address")
	}
	if back.Sub(removed) < MasterDownInterval(3, 150, intv)-20*time.Millisecond {
		t.Fatalf("stale address removed %v before n1 became master: want at least its Master_Down_Interval", back.Sub(removed))
	}
	// Timed from the node's start-up (sockets open), not from the exec:
	// process start-up on a loaded host is not the protocol's business.
	requireWithin(t, "preemption after restart (from start-up)", back.Sub(n1.readyAt()), MasterDownInterval(3, 150, intv), 0)
	l.WaitHolders(time.Second, vip, "n1")
	l.Probe.WaitAnswer(t, time.Second, "n1")
	out, _ := l.Probe.Outage(back.Add(-50*time.Millisecond), back.Add(200*time.Millisecond))
	if out > 25*time.Millisecond {
		t.Fatalf("client outage %v during preemption", out)
	}
	if s := n2.state(); s != "BACKUP" {
		t.Fatalf("n2 is %s after preemption", s)
	}
}

func TestNSLinkCut(t *testing.T) {
	intv := 100 * time.Millisecond
	l := newLab(t, 2)
	vip := labVIP4.Addr()
	n1, n2 := twoNodes(t, l, 3, intv, nil)
	cut := time.Now()
	l.CutLink("n1")
	n2.waitState(2*time.Second, "MASTER")
	owned := l.Takeover("n2", vip, cut)
	last := l.Sniff.LastAdvert(l.Node("n1").Addr4, owned)
	mdi := MasterDownInterval(3, 100, intv)
	requireWithin(t, "takeover after link cut (from the last advert)", owned.Sub(last), mdi, 2*time.Millisecond)
	l.Probe.WaitAnswer(t, time.Second, "n2")
	out, _ := l.Probe.Outage(cut.Add(-10*time.Millisecond), time.Now())
	if out > mdi+margin(mdi) {
		t.Fatalf("client outage %v after link cut, want at most %v", out, mdi+margin(mdi))
	}
	t.Logf("client outage after link cut: %v", out.Round(100*time.Microsecond))
	// n1 saw its carrier go: Fault, address released.
	n1.waitState(time.Second, "FAULT")
	l.WaitHolders(time.Second, vip, "n2")

	// Mend the link: n1 comes back as backup and preempts n2 after its
	// Master_Down_Interval.
	mend := time.Now()
	l.MendLink("n1")
	n1.waitState(3*time.Second, "MASTER")
	back := l.Takeover("n1", vip, mend)
	requireWithin(t, "preemption after the link came back", back.Sub(mend), MasterDownInterval(3, 150, intv), 0)
	l.WaitHolders(time.Second, vip, "n1")
	l.Probe.WaitAnswer(t, 2*time.Second, "n1")
	if got := n1.transitions(); !slices.Equal(got, []string{"BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"}) {
		t.Fatalf("n1 went through %v", got)
	}
}

func TestNSPreemptVariants(t *testing.T) {
	intv := 100 * time.Millisecond
	for _, tc := range []struct {
		name    string
		mod     func(c *Config)
		want    string        // master after n1 joins
		earlier time.Duration // takeover after n1's start: window [want-earlier, want+margin]
		after   time.Duration
	}{
		{name: "preempt", mod: func(c *Config) {}, want: "n1", after: MasterDownInterval(3, 150, intv)},
		{name: "nopreempt", mod: func(c *Config) { c.NoPreempt = true }, want: "n2"},
		{name: "preempt_delay", mod: func(c *Config) { c.PreemptDelay = time.Second }, want: "n1",
			after: time.Second + MasterDownInterval(3, 150, intv), earlier: intv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, 2)
			vip := labVIP4.Addr()
			n2 := l.startLvsd("n2", nodeSpec{Config: labConfig("n2", 100, 3, intv, false)})
			n2.waitState(2*time.Second, "MASTER")
			l.StartProbe(vip, 2*time.Millisecond).WaitAnswer(t, time.Second, "n2")
			c := labConfig("n1", 150, 3, intv, false)
			tc.mod(&c)
			start := time.Now()
			n1 := l.startLvsd("n1", nodeSpec{Config: c})
			if tc.want == "n2" {
				time.Sleep(4 * MasterDownInterval(3, 150, intv))
				l.RequireHolders(vip, "n2")
				if s := n1.state(); s != "BACKUP" {
					t.Fatalf("nopreempt n1 is %s", s)
				}
				return
			}
			n1.waitState(3*time.Second, "MASTER")
			back := l.Takeover("n1", vip, start)
			requireWithin(t, tc.name+" (from start-up)", back.Sub(n1.readyAt()), tc.after, tc.earlier)
			l.WaitHolders(time.Second, vip, "n1")
			out, _ := l.Probe.Outage(back.Add(-50*time.Millisecond), back.Add(200*time.Millisecond))
			if out > 25*time.Millisecond {
				t.Fatalf("client outage %v during preemption", out)
			}
		})
	}
}

func TestNSTrackScript(t *testing.T) {
	intv := 100 * time.Millisecond
	l := newLab(t, 2)
	vip := labVIP4.Addr()
	flag := filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A generous timeout: starting a process on a loaded host can take
	// longer than the interval, and a timeout counts as a failure.
	check := ScriptConfig{Name: "chk", Command: []string{"/bin/test", "-e", flag}, Interval: 50 * time.Millisecond,
		Timeout: time.Second, Rise: 2, Fall: 2}
	n1, n2 := twoNodes(t, l, 3, intv, func(name string, s *nodeSpec) {
		if name == "n1" {
			s.Scripts = []ScriptConfig{check}
			s.Config.Track = []Track{{Kind: TrackScript, Name: "chk"}}
		}
	})
	fail := time.Now()
	os.Remove(flag)
	n1.waitState(2*time.Second, "FAULT")
	faultAt := n1.lastStateAt("FAULT")
	t.Logf("n1 in fault %v after the check began failing (fall 2, every 50ms)", faultAt.Sub(fail).Round(time.Millisecond))
	n2.waitState(time.Second, "MASTER")
	owned := l.Takeover("n2", vip, fail)
	// n1's priority 0 advert on entering Fault: n2 takes over after its
	// Skew_Time. (The event time is stamped just after the advert went.)
	requireWithin(t, "takeover after n1's fault", owned.Sub(faultAt), SkewTime(3, 100, intv), 5*time.Millisecond)
	l.WaitHolders(time.Second, vip, "n2")
	l.Probe.WaitAnswer(t, time.Second, "n2")

	os.WriteFile(flag, nil, 0o644)
	n1.waitState(2*time.Second, "BACKUP")
	n1.waitState(2*time.Second, "MASTER")
	l.WaitHolders(time.Second, vip, "n1")
	l.Probe.WaitAnswer(t, time.Second, "n1")
}

func TestNSPartitionAndHeal(t *testing.T) {
	intv := 100 * time.Millisecond
	l := newLab(t, 2)
	vip := labVIP4.Addr()
	_, n2 := twoNodes(t, l, 3, intv, nil)
	l.Partition()
	n2.waitState(2*time.Second, "MASTER")
	l.WaitHolders(time.Second, vip, "n1", "n2") // split brain, as the protocol must
	healing := time.Now()
	l.Heal()
	heal := time.Now()
	// n1's next advert (at most one interval away) settles it, or n2's
	// advert draws an immediate answer from n1.
	l.WaitHolders(intv+margin(intv), vip, "n1")
	t.Logf("one master %v after the heal", time.Since(heal).Round(time.Millisecond))
	n2.waitState(time.Second, "BACKUP")
	// n1 heard the lower-priority master and announced itself again, so
	// the client, whose cache n2's announcements had won, comes back.
	l.Sniff.WaitAnnouncement(t, time.Second, vip, l.Node("n1").MAC, healing)
	l.Probe.WaitAnswer(t, time.Second, "n1")
}

func TestNSUnicast(t *testing.T) {
	intv := 100 * time.Millisecond
	l := newLab(t, 2)
	vip := labVIP4.Addr()
	n1, n2 := twoNodes(t, l, 3, intv, func(name string, s *nodeSpec) {
		peer := map[string]string{"n1": "10.200.0.12", "n2": "10.200.0.11"}[name]
		s.Config.Peers = []netip.Addr{netip.MustParseAddr(peer)}
	})
	// The client sees no adverts in unicast mode (the bridge learned the
	// nodes' MACs), so measure from the kill.
	kill := time.Now()
	n1.kill()
	n2.waitState(2*time.Second, "MASTER")
	owned := l.Node("n2").Addrs.WaitAdded(t, time.Second, vip, kill)
	mdi := MasterDownInterval(3, 100, intv)
	requireWithin(t, "unicast takeover after SIGKILL (from the kill)", owned.Sub(kill), mdi, intv)
	l.Probe.WaitAnswer(t, time.Second, "n2")
	if n := len(l.Sniff.Find(func(p vrrptest.Packet) bool { return p.Kind == "vrrp" && p.At.After(kill) })); n > 2 {
		t.Fatalf("client saw %d adverts in unicast mode", n)
	}
}

func TestNSFastAdverts(t *testing.T) {
	// v3 at 10ms: Master_Down_Interval 36ms. A link cut must cost the
	// client less than 60ms.
	intv := 10 * time.Millisecond
	l := newLab(t, 2)
	vip := labVIP4.Addr()
	_, n2 := twoNodes(t, l, 3, intv, nil)
	time.Sleep(200 * time.Millisecond)
	cut := time.Now()
	l.CutLink("n1")
	n2.waitState(time.Second, "MASTER")
	owned := l.Takeover("n2", vip, cut)
	last := l.Sniff.LastAdvert(l.Node("n1").Addr4, owned)
	mdi := MasterDownInterval(3, 100, intv)
	requireWithin(t, "takeover at 10ms adverts (from the last advert)", owned.Sub(last), mdi, 2*time.Millisecond)
	l.Probe.WaitAnswer(t, time.Second, "n2")
	out, _ := l.Probe.Outage(cut.Add(-20*time.Millisecond), time.Now())
	t.Logf("client outage after link cut at 10ms adverts: %v", out.Round(100*time.Microsecond))
	if out >= 60*time.Millisecond {
		t.Fatalf("client outage %v, want under 60ms", out)
	}
}

func TestNSIPv6(t *testing.T) {
	intv := 100 * time.Millisecond
	l := newLab(t, 2)
	vip := labVIP6.Addr()
	start := time.Now()
	n1 := l.startLvsd("n1", nodeSpec{Config: labConfig("n1", 150, 3, intv, true)})
	n2 := l.startLvsd("n2", nodeSpec{Config: labConfig("n2", 100, 3, intv, true)})
	n1.waitState(2*time.Second, "MASTER")
	l.WaitHolders(time.Second, vip, "n1")
	na := l.Sniff.WaitAnnouncement(t, time.Second, vip, l.Node("n1").MAC, start)
	if na.Kind != "na" {
		t.Fatalf("announcement %+v, want a neighbour advert", na)
	}
	adverts := l.Sniff.Find(func(p vrrptest.Packet) bool { return p.Kind == "vrrp" && p.Version == 3 && p.Src.IsLinkLocalUnicast() })
	if len(adverts) == 0 {
		t.Fatal("no VRRPv3 adverts from a link-local source over IPv6")
	}
	p := l.StartProbe(vip, 2*time.Millisecond)
	p.WaitAnswer(t, 2*time.Second, "n1")
	stop := time.Now()
	n1.stop()
	n2.waitState(2*time.Second, "MASTER")
	l.WaitHolders(time.Second, vip, "n2")
	l.Sniff.WaitAnnouncement(t, time.Second, vip, l.Node("n2").MAC, stop)
	p.WaitAnswer(t, time.Second, "n2")
	out, _ := p.Outage(stop, time.Now())
	t.Logf("IPv6 graceful stop: client outage %v", out.Round(100*time.Microsecond))
	if out > 25*time.Millisecond {
		t.Fatalf("client outage %v on graceful stop over IPv6", out)
	}
}

func TestNSv2Auth(t *testing.T) {
	// v2 with PASS authentication, 1s adverts; a node with the wrong
	// password is not heard (and so also becomes master: split brain is
	// what a misconfigured password causes, with keepalived too).
	intv := time.Second
	l := newLab(t, 3)
	vip := labVIP4.Addr()
	auth := func(pass string) func(string, *nodeSpec) {
		return func(_ string, s *nodeSpec) { s.Config.AuthPass = pass }
	}
	n1, n2 := twoNodes(t, l, 2, intv, auth("s3cr3t"))
	kill := time.Now()
	n1.kill()
	n2.waitState(5*time.Second, "MASTER")
	owned := l.Takeover("n2", vip, kill)
	last := l.Sniff.LastAdvert(l.Node("n1").Addr4, owned)
	requireWithin(t, "v2 takeover after SIGKILL (from the last advert)", owned.Sub(last), MasterDownInterval(2, 100, intv), 2*time.Millisecond)
	v2 := l.Sniff.Find(func(p vrrptest.Packet) bool { return p.Kind == "vrrp" && p.Version == 2 })
	if len(v2) == 0 {
		t.Fatal("no VRRPv2 adverts seen")
	}
	c := labConfig("n3", 200, 2, intv, false)
	c.AuthPass = "wrong"
	n3 := l.startLvsd("n3", nodeSpec{Config: c})
	n3.waitState(6*time.Second, "MASTER")
	if s := n2.state(); s != "MASTER" {
		t.Fatalf("n2 yielded to an advert with the wrong password: %s", s)
	}
}

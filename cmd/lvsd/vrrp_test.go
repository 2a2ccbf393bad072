package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/vrrp"
	"github.com/lvsd/lvsd/vrrp/vrrptest"
)

// Two `lvsd run` nodes sharing the lab's VIP: n1 at priority 150, n2 at
// 100, VRRPv3 at 100ms unless a test says otherwise.

const intv = 100 * time.Millisecond

func plain(prio int) string { return vrrpHCL(prio, "100ms", "", "") }

func TestVRRPDaemonElectionAndGracefulStop(t *testing.T) {
	l := vrrptest.New(t, 2)
	vip := vrrptest.VIP4.Addr()
	start := time.Now()
	n1, n2 := pairUp(t, l, plain, intv)
	// keepalived's GARP defaults: a burst of 5 as n1 takes over.
	if n := len(l.Sniff.Announcements(vip, l.Node("n1").MAC, start)); n != 5 {
		t.Fatalf("%d gratuitous ARPs from n1 on takeover, want 5", n)
	}
	if got := n1.transitions(0, "VI_1"); !slices.Equal(got, []string{"BACKUP", "MASTER"}) {
		t.Fatalf("n1 went through %v", got)
	}

	// SIGTERM: a priority 0 advert; n2 takes over after its Skew_Time, and
	// n1 keeps the address until then (handover), so the client sees no
	// gap.
	stop := time.Now()
	n1.stop()
	n2.waitState(2*time.Second, "VI_1", "MASTER")
	owned := l.Takeover("n2", vip, stop)
	zero := l.Sniff.Find(func(p vrrptest.Packet) bool { return p.Kind == "vrrp" && p.Prio == 0 && !p.At.Before(stop) })
	if len(zero) != 1 || zero[0].Src != l.Node("n1").Addr4 {
		t.Fatalf("priority 0 adverts after SIGTERM: %+v, want one from n1", zero)
	}
	requireWithin(t, "graceful stop: takeover after the priority 0 advert", owned.Sub(zero[0].At), vrrp.SkewTime(3, 100, intv), 0)
	l.WaitHolders(time.Second, vip, "n2")
	added := l.Node("n2").Addrs.Added(vip, stop)
	released := l.Node("n1").Addrs.Removed(vip, stop)
	if released.IsZero() || added.IsZero() || released.Before(added.Add(-5*time.Millisecond)) {
		t.Fatalf("n1 released at %v, n2 added at %v: want the release after the takeover", released, added)
	}
	l.Probe.WaitAnswer(t, time.Second, "n2")
	out, _ := l.Probe.Outage(stop, time.Now())
	if out > 25*time.Millisecond {
		t.Fatalf("client outage %v on graceful stop, want next to none (handover)", out)
	}
	t.Logf("graceful stop: client outage %v", out.Round(100*time.Microsecond))
	if got := n1.transitions(0, "VI_1"); !slices.Equal(got, []string{"BACKUP", "MASTER", "INIT"}) {
		t.Fatalf("n1 went through %v", got)
	}
}

func TestVRRPDaemonKillAndRestart(t *testing.T) {
	l := vrrptest.New(t, 2)
	vip := vrrptest.VIP4.Addr()
	n1, n2 := pairUp(t, l, plain, intv)
	kill := time.Now()
	n1.kill()
	n2.waitState(2*time.Second, "VI_1", "MASTER")
	owned := l.Takeover("n2", vip, kill)
	last := l.Sniff.LastAdvert(l.Node("n1").Addr4, owned)
	mdi := vrrp.MasterDownInterval(3, 100, intv)
	requireWithin(t, "SIGKILL: takeover after the last advert", owned.Sub(last), mdi, 2*time.Millisecond)
	l.Probe.WaitAnswer(t, time.Second, "n2")
	// SIGKILL leaves the address on n1, as with keepalived.
	l.RequireHolders(vip, "n1", "n2")

	// The restarted n1 removes the stale address first, waits out the
	// election like any backup and preempts.
	restart := time.Now()
	n1.restart()
	n1.waitState(3*time.Second, "VI_1", "MASTER")
	back := l.Takeover("n1", vip, restart)
	removed := l.Node("n1").Addrs.Removed(vip, restart)
	if removed.IsZero() {
		t.Fatal("the restarted n1 did not remove the stale address")
	}
	if d := back.Sub(removed); d < vrrp.MasterDownInterval(3, 150, intv)-20*time.Millisecond {
		t.Fatalf("stale address removed %v before n1 became master: want at least its Master_Down_Interval", d)
	}
	l.WaitHolders(time.Second, vip, "n1")
	l.Probe.WaitAnswer(t, time.Second, "n1")
	out, _ := l.Probe.Outage(back.Add(-50*time.Millisecond), back.Add(200*time.Millisecond))
	if out > 25*time.Millisecond {
		t.Fatalf("client outage %v during preemption", out)
	}
	n2.waitState(time.Second, "VI_1", "BACKUP")
}

func TestVRRPDaemonLinkCut(t *testing.T) {
	l := vrrptest.New(t, 2)
	vip := vrrptest.VIP4.Addr()
	n1, n2 := pairUp(t, l, plain, intv)
	cut := time.Now()
	l.CutLink("n1")
	n2.waitState(2*time.Second, "VI_1", "MASTER")
	owned := l.Takeover("n2", vip, cut)
	mdi := vrrp.MasterDownInterval(3, 100, intv)
	requireWithin(t, "link cut: takeover after the last advert", owned.Sub(l.Sniff.LastAdvert(l.Node("n1").Addr4, owned)), mdi, 2*time.Millisecond)
	l.Probe.WaitAnswer(t, time.Second, "n2")
	out, _ := l.Probe.Outage(cut.Add(-10*time.Millisecond), time.Now())
	if out > mdi+vmargin(mdi) {
		t.Fatalf("client outage %v after the link cut, want at most %v", out, mdi+vmargin(mdi))
	}
	t.Logf("link cut: client outage %v", out.Round(100*time.Microsecond))
	// n1 saw its carrier go: FAULT, address released.
	n1.waitState(time.Second, "VI_1", "FAULT")
	l.WaitHolders(time.Second, vip, "n2")

	// Mended, n1 is a backup again and preempts.
	l.MendLink("n1")
	n1.waitState(3*time.Second, "VI_1", "MASTER")
	n2.waitState(time.Second, "VI_1", "BACKUP")
	l.WaitHolders(time.Second, vip, "n1")
	l.Probe.WaitAnswer(t, time.Second, "n1")
}

func TestVRRPDaemonPreemptSettings(t *testing.T) {
	vip := vrrptest.VIP4.Addr()
	t.Run("nopreempt", func(t *testing.T) {
		l := vrrptest.New(t, 2)
		cfg := func(prio int) string { return vrrpHCL(prio, "100ms", "  preempt = false\n", "") }
		n1, n2 := pairUp(t, l, cfg, intv)
		n1.kill()
		n2.waitState(2*time.Second, "VI_1", "MASTER")
		l.Probe.WaitAnswer(t, time.Second, "n2")
		n1.restart()
		n1.waitState(2*time.Second, "VI_1", "BACKUP")
		// Well past its Master_Down_Interval, n1 still waits.
		time.Sleep(3 * vrrp.MasterDownInterval(3, 150, intv))
		if s := n1.state("VI_1"); s != "BACKUP" {
			t.Fatalf("n1 with preempt = false is %s next to a running lower-priority master", s)
		}
		l.RequireHolders(vip, "n2")
		// It takes over when the master goes.
		n2.stop()
		n1.waitState(2*time.Second, "VI_1", "MASTER")
		l.WaitHolders(time.Second, vip, "n1")
	})
	t.Run("preempt_delay", func(t *testing.T) {
		l := vrrptest.New(t, 2)
		cfg := func(prio int) string { return vrrpHCL(prio, "100ms", "  preempt_delay = \"1s\"\n", "") }
		n1, n2 := pairUp(t, l, cfg, intv)
		n1.kill()
		n2.waitState(2*time.Second, "VI_1", "MASTER")
		restart := time.Now()
		n1.restart()
		n1.waitState(3*time.Second, "VI_1", "MASTER")
		back := l.Takeover("n1", vip, restart)
		// The delay runs from the first advert of the lower-priority master
		// n1 hears, which comes right after its start.
		if d := back.Sub(restart); d < time.Second {
			t.Fatalf("n1 preempted %v after its restart, before its 1s preempt_delay", d)
		} else {
			t.Logf("preempt_delay 1s: n1 took over %v after its restart", d.Round(time.Millisecond))
		}
		n2.waitState(time.Second, "VI_1", "BACKUP")
	})
}

func TestVRRPDaemonTrackScript(t *testing.T) {
	l := vrrptest.New(t, 2)
	vip := vrrptest.VIP4.Addr()
	dir := t.TempDir()
	flag := filepath.Join(dir, "healthy")
	writeFile(t, flag, "")
	hooks := filepath.Join(dir, "hooks")
	state := filepath.Join(dir, "vrrp.state")
	cfg := func(prio int) string {
		if prio != 150 {
			return plain(prio)
		}
		return vrrpHCL(prio, "100ms", fmt.Sprintf(`  track_script "chk" {}
  notify "any" {
    command = ["/bin/sh", "-c", "echo \"$*\" $LVSD_STATE $LVSD_FROM >> %s", "hook"]
  }
`, hooks), fmt.Sprintf(`vrrp_script "chk" {
  command  = ["/bin/test", "-e", %q]
  interval = "50ms"
  fall     = 2
  rise     = 2
  weight   = -60
}
vrrp {
  state_file = %q
}
`, flag, state))
	}
	n1, n2 := pairUp(t, l, cfg, intv)
	waitFile(t, state, func(s string) bool { return strings.HasPrefix(s, "INSTANCE VI_1 MASTER 150 ") })

	// The script fails: 150 - 60 = 90 < 100, n2 preempts.
	fail := time.Now()
	os.Remove(flag)
	n2.waitState(2*time.Second, "VI_1", "MASTER")
	n1.waitState(time.Second, "VI_1", "BACKUP")
	l.WaitHolders(time.Second, vip, "n2")
	l.Probe.WaitAnswer(t, time.Second, "n2")
	t.Logf("script failure to takeover: %v (two failed runs at 50ms, then the Master_Down_Interval)", l.Takeover("n2", vip, fail).Sub(fail).Round(time.Millisecond))
	waitFile(t, state, func(s string) bool { return strings.HasPrefix(s, "INSTANCE VI_1 BACKUP 90 ") })

	// It recovers: n1 preempts back.
	writeFile(t, flag, "")
	n1.waitState(2*time.Second, "VI_1", "MASTER")
	n2.waitState(time.Second, "VI_1", "BACKUP")
	l.WaitHolders(time.Second, vip, "n1")
	l.Probe.WaitAnswer(t, time.Second, "n1")

	// keepalived's four arguments, and lvsd's environment.
	want := []string{"INSTANCE VI_1 BACKUP 150 BACKUP INIT", "INSTANCE VI_1 MASTER 150 MASTER BACKUP",
		"INSTANCE VI_1 BACKUP 90 BACKUP MASTER", "INSTANCE VI_1 MASTER 150 MASTER BACKUP"}
	waitFile(t, hooks, func(s string) bool { return strings.Count(s, "\n") >= len(want) })
	if got := readLines(t, hooks); !slices.Equal(got, want) {
		t.Fatalf("notify hooks ran with:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestVRRPDaemonSyncGroup(t *testing.T) {
	l := vrrptest.New(t, 2)
	vip1, vip2 := vrrptest.VIP4.Addr(), vrrptest.VIP4.Addr().Next()
	flag := filepath.Join(t.TempDir(), "healthy")
	writeFile(t, flag, "")
	hooks := filepath.Join(t.TempDir(), "hooks")
	cfg := func(prio int) string {
		track := ""
		if prio == 150 {
			track = "  track_script \"chk\" {}\n"
		}
		return vrrpHCL(prio, "100ms", track, fmt.Sprintf(`vrrp_instance "VI_2" {
  interface         = "eth0"
  vrid              = 52
  priority          = %d
  advert_interval   = "100ms"
  virtual_addresses = ["%s/24"]
}
vrrp_sync_group "G" {
  instances = ["VI_1", "VI_2"]
  notify "any" {
    command = ["/bin/sh", "-c", "echo \"$*\" >> %s", "hook"]
  }
}
vrrp_script "chk" {
  command  = ["/bin/test", "-e", %q]
  interval = "50ms"
}
`, prio, vip2, hooks+fmt.Sprint(prio), flag))
	}
	n1, n2 := pairUp(t, l, cfg, intv)
	n1.waitState(time.Second, "VI_2", "MASTER")
	n2.waitState(time.Second, "VI_2", "BACKUP")
	l.WaitHolders(time.Second, vip2, "n1")

	// VI_1's script fails on n1: VI_1 faults, VI_2 follows it, and n2
	// takes both addresses.
	os.Remove(flag)
	n1.waitState(2*time.Second, "VI_1", "FAULT")
	n1.waitState(time.Second, "VI_2", "FAULT")
	n2.waitState(2*time.Second, "VI_1", "MASTER")
	n2.waitState(time.Second, "VI_2", "MASTER")
	l.WaitHolders(time.Second, vip1, "n2")
	l.WaitHolders(time.Second, vip2, "n2")
	l.Probe.WaitAnswer(t, time.Second, "n2")

	writeFile(t, flag, "")
	for _, inst := range []string{"VI_1", "VI_2"} {
		n1.waitState(3*time.Second, inst, "MASTER")
		n2.waitState(time.Second, inst, "BACKUP")
	}
	l.WaitHolders(time.Second, vip1, "n1")
	l.WaitHolders(time.Second, vip2, "n1")
	waitFile(t, hooks+"150", func(s string) bool {
		return strings.Contains(s, "GROUP G FAULT") && strings.HasSuffix(s, "GROUP G MASTER 0\n")
	})
	waitFile(t, hooks+"100", func(s string) bool { return strings.Contains(s, "GROUP G MASTER 0\nGROUP G BACKUP 0\n") })
}

func TestVRRPDaemonPartitionAndHeal(t *testing.T) {
	l := vrrptest.New(t, 2)
	vip := vrrptest.VIP4.Addr()
	n1, n2 := pairUp(t, l, plain, intv)
	l.Partition()
	// Split brain: n2 hears nobody and takes over too.
	n2.waitState(2*time.Second, "VI_1", "MASTER")
	l.WaitHolders(time.Second, vip, "n1", "n2")
	if s := n1.state("VI_1"); s != "MASTER" {
		t.Fatalf("n1 is %s in the partition", s)
	}
	heal := time.Now()
	l.Heal()
	// At most one master after the heal: n2 yields at n1's next advert.
	n2.waitState(time.Second, "VI_1", "BACKUP")
	l.WaitHolders(time.Second, vip, "n1")
	// n1 heard a lower-priority master and announced itself again, so the
	// client (whose cache n2 may have won) comes back to n1.
	l.Sniff.WaitAnnouncement(t, time.Second, vip, l.Node("n1").MAC, heal)
	l.Probe.WaitAnswer(t, time.Second, "n1")
	time.Sleep(5 * intv)
	if s1, s2 := n1.state("VI_1"), n2.state("VI_1"); s1 != "MASTER" || s2 != "BACKUP" {
		t.Fatalf("after the heal: n1 %s, n2 %s", s1, s2)
	}
}

func TestVRRPDaemonReload(t *testing.T) {
	l := vrrptest.New(t, 2)
	vip := vrrptest.VIP4.Addr()
	// No second GARP burst, so that any announcement after the election
	// is the reload's doing.
	global := "vrrp {\n  gratuitous_arp {\n    second_burst_delay = \"0s\"\n  }\n}\n"
	cfg := func(prio int) string { return vrrpHCL(prio, "100ms", "", global) }
	n1, n2 := pairUp(t, l, cfg, intv)
	n1mac, n1addr := l.Node("n1").MAC, l.Node("n1").Addr4
	time.Sleep(200 * time.Millisecond)

	// Unchanged (a comment): nothing moves, on the wire or in the log.
	at := time.Now()
	mark := n1.reload(cfg(150) + "# a comment\n")
	n1.waitLog(mark, 5*time.Second, "configuration reloaded")
	time.Sleep(vrrp.MasterDownInterval(3, 100, intv))
	if a := l.Sniff.Announcements(vip, n1mac, at); len(a) != 0 {
		t.Fatalf("%d gratuitous ARPs after an unchanged reload", len(a))
	}
	if c := l.Node("n1").Addrs.Changes(vip, at); c != 0 {
		t.Fatalf("the VIP was removed or added %d times by an unchanged reload", c)
	}
	if tr := n1.transitions(mark, "VI_1"); len(tr) != 0 {
		t.Fatalf("transitions after an unchanged reload: %v", tr)
	}
	requireSteadyAdverts(t, l, n1addr, at, time.Now())

	// Another setting (the GARP count) replaces the instance in place: n1
	// stays master, announces once more with the new count, and n2 never
	// notices.
	at = time.Now()
	changed := vrrpHCL(150, "100ms", "  gratuitous_arp {\n    count = 2\n  }\n", global)
	mark = n1.reload(changed)
	n1.waitLog(mark, 5*time.Second, "detached: the instance replacing this one takes over")
	time.Sleep(vrrp.MasterDownInterval(3, 100, intv))
	if a := l.Sniff.Announcements(vip, n1mac, at); len(a) != 2 {
		t.Fatalf("%d gratuitous ARPs after a reload that replaced the instance, want the new burst of 2", len(a))
	}
	if c := l.Node("n1").Addrs.Changes(vip, at); c != 0 {
		t.Fatalf("the VIP was removed or added %d times by a reload that keeps it", c)
	}
	if tr := n2.transitions(0, "VI_1"); !slices.Equal(tr, []string{"BACKUP"}) {
		t.Fatalf("n2 went through %v", tr)
	}
	requireSteadyAdverts(t, l, n1addr, at, time.Now())
	l.RequireHolders(vip, "n1")

	// A priority change is applied live: no new instance, and n2
	// (preempting) takes over from n1's lower priority.
	mark = n1.reload(strings.Replace(changed, "priority          = 150", "priority          = 90", 1))
	n2.waitState(2*time.Second, "VI_1", "MASTER")
	n1.waitState(time.Second, "VI_1", "BACKUP")
	n1.waitLog(mark, time.Second, "vrrp: priority changed by the reload; applied live")
	if n := len(n1.logged(mark, "detached: the instance replacing this one takes over")); n != 0 {
		t.Fatal("a priority change replaced the instance")
	}
	l.WaitHolders(time.Second, vip, "n2")
	mark = n1.reload(changed)
	n1.waitLog(mark, time.Second, "vrrp: priority changed by the reload; applied live")
	n1.waitState(2*time.Second, "VI_1", "MASTER")
	l.WaitHolders(time.Second, vip, "n1")

	// A bad file is refused and changes nothing.
	mark = n1.reload(strings.Replace(changed, "vrid              = 51", "vrid              = 510", 1))
	n1.waitLog(mark, 5*time.Second, "reload refused: the configuration is invalid; nothing changed")
	time.Sleep(3 * intv)
	if s := n1.state("VI_1"); s != "MASTER" {
		t.Fatalf("n1 is %s after a refused reload", s)
	}
	l.RequireHolders(vip, "n1")
}

// requireSteadyAdverts fails if src's adverts left a gap of more than two
// intervals between from and to (a backup would start counting), or if
// one of them had priority 0.
func requireSteadyAdverts(t *testing.T, l *vrrptest.Lab, src netip.Addr, from, to time.Time) {
	t.Helper()
	var times []time.Time
	for _, a := range l.Sniff.Adverts(src, from.Add(-2*intv)) {
		if a.At.After(to) {
			break
		}
		if a.Prio == 0 {
			t.Fatalf("a priority 0 advert from %v at %v", src, a.At)
		}
		times = append(times, a.At)
	}
	if len(times) == 0 || to.Sub(times[len(times)-1]) > 2*intv {
		t.Fatalf("no advert from %v near %v", src, to)
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap > 2*intv {
			t.Fatalf("a gap of %v in %v's adverts at %v", gap, src, times[i])
		}
	}
}

// waitFile waits until the file's content satisfies ok.
func waitFile(t *testing.T, path string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if ok(string(b)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n%s", path, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The instance's interface is deleted under the daemon: the instance
// stops, the daemon tries again with a backoff (logged) while the rest
// runs, and once an interface of that name is back the instance runs
// again and preempts.
func TestVRRPDaemonInterfaceDeletedAndBack(t *testing.T) {
	l := vrrptest.New(t, 2)
	vip := vrrptest.VIP4.Addr()
	n1, n2 := pairUp(t, l, plain, intv)
	mark := n1.mark()
	l.DeleteLink("n1")
	n2.waitState(2*time.Second, "VI_1", "MASTER")
	l.WaitHolders(time.Second, vip, "n2")
	first := n1.waitLog(mark, 2*time.Second, "vrrp: cannot run; trying again")
	if !strings.Contains(first.str("error"), "was deleted") || first.str("retry_in") != "1s" {
		t.Fatalf("first retry line: %v", first)
	}
	// The retries fail while there is no eth0, each one waiting longer.
	deadline := time.Now().Add(5 * time.Second)
	for len(n1.logged(mark, "vrrp: cannot run; trying again")) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("retries: %v", n1.logged(mark, "vrrp: cannot run; trying again"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	retries := n1.logged(mark, "vrrp: cannot run; trying again")
	if retries[1].str("retry_in") != "2s" || !strings.Contains(retries[1].str("error"), "eth0") {
		t.Fatalf("second retry line: %v", retries[1])
	}
	back := time.Now()
	l.RestoreLink("n1")
	n1.waitLog(mark, 10*time.Second, "vrrp: running again")
	n1.waitState(3*time.Second, "VI_1", "MASTER")
	n2.waitState(time.Second, "VI_1", "BACKUP")
	l.WaitHolders(time.Second, vip, "n1")
	l.Takeover("n1", vip, back)
	l.Probe.WaitAnswer(t, 2*time.Second, "n1")
}

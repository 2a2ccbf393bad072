package drills

import (
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/test/scenario"
)

// Every drill starts the lab (NAT unless said otherwise: every packet
// through the director), lvsd on lb1 (priority 150) and lb2 (100), VRRPv3
// adverts every 100ms (Master_Down_Interval 361ms for lb2), the connection
// sync daemon following the instance, and a client making a request on a
// new connection every 20ms. Each asserts that the traffic through the
// VIP recovers within its bound and that no state is lost.

// SIGKILL of lvsd on the master. Its kernel keeps forwarding (table and
// VIP stay), lb2 takes over after Master_Down_Interval and announces
// itself; no request and no connection is lost. Restarted, lvsd on lb1
// adopts its table, removes its stale VIP and preempts.
func TestKernelDrillMasterSIGKILL(t *testing.T) {
	d := newDrill(t, scenario.NAT, nil)
	s := d.streams(10)
	p := d.prober()
	from := time.Now()
	m2 := d.Director("lb2").Mark()
	killed := time.Now()
	if err := d.Director("lb1").Kill(); err != nil {
		t.Fatal(err)
	}
	moved := d.enteredMaster("lb2", m2, d.MasterDown()+slack())
	d.holds("lb2", slack())
	t.Logf("lb2 MASTER %v after lvsd on lb1 was killed (Master_Down_Interval %v); lb1's kernel still holds the VIP and forwards", moved.Sub(killed).Round(time.Millisecond), d.MasterDown())
	d.clientSends("lb2", 2*time.Second)
	time.Sleep(time.Second)
	d.acrossMove(p, from, moved, "lvsd killed on the master")
	d.noneBroken(s, "lvsd killed on the master")

	m := d.Director("lb1").Mark()
	from = time.Now()
	if err := d.Director("lb1").Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if l := d.Director("lb1").Logged(m, "IPVS table programmed; running"); len(l) != 1 || l[0].Num("writes") != 0 {
		t.Errorf("lb1's restarted lvsd did not adopt its table as it was: %v", l)
	}
	moved = d.enteredMaster("lb1", m, 10*d.MasterDown()+2*slack())
	d.master("lb1", slack())
	t.Logf("lb1 master again %v after its lvsd restarted", moved.Sub(from).Round(time.Millisecond))
	d.clientSends("lb1", 2*time.Second)
	time.Sleep(time.Second)
	d.acrossMove(p, from, moved, "lb1 back")
	d.noneBroken(s, "lb1 back")
}

// The master's cable is pulled: lb1 sees no carrier (FAULT, VIP released)
// and goes silent; lb2 takes over after Master_Down_Interval. The client
// is without service for about that long; connections survive (sync).
// Plugged back in, lb1 preempts without a gap.
func TestKernelDrillMasterLinkCut(t *testing.T) {
	d := newDrill(t, scenario.NAT, nil)
	s := d.streams(10)
	p := d.prober()
	cut := time.Now()
	if err := d.Topo.CutLinks("lb1"); err != nil {
		t.Fatal(err)
	}
	took := d.master("lb2", d.MasterDown()+slack())
	t.Logf("lb2 the one master %v after lb1's cable was pulled (Master_Down_Interval %v)", took.Sub(cut).Round(time.Millisecond), d.MasterDown())
	time.Sleep(time.Second)
	st := d.window(p, cut)
	t.Logf("client: outage %v, %d of %d requests failed (%s)", st.Outage.Round(time.Millisecond), st.Failed, st.Requests, scenario.FormatErrors(st.Errors))
	if bound := d.MasterDown() + slack(); st.Outage > bound {
		t.Errorf("client outage %v, bound %v", st.Outage, bound)
	}
	time.Sleep(time.Second)
	d.noneBroken(s, "lb1's cable pulled")

	from := time.Now()
	m := d.Director("lb1").Mark()
	if err := d.Topo.RestoreLinks(d.ctx, "lb1"); err != nil {
		t.Fatal(err)
	}
	moved := d.enteredMaster("lb1", m, 10*d.MasterDown()+2*slack())
	d.master("lb1", slack())
	t.Logf("lb1 master again %v after its cable was plugged back", moved.Sub(from).Round(time.Millisecond))
	d.clientSends("lb1", 2*time.Second)
	time.Sleep(time.Second)
	d.acrossMove(p, from, moved, "lb1's cable back")
	d.noneBroken(s, "lb1's cable back")
}

// A graceful stop of lvsd on the master: it hands over (priority 0) and
// keeps the VIP until lb2's first advert, so clients see no gap at all.
func TestKernelDrillMasterGracefulStop(t *testing.T) {
	d := newDrill(t, scenario.NAT, nil)
	s := d.streams(10)
	p := d.prober()
	from := time.Now()
	m := d.Director("lb2").Mark()
	if err := d.Director("lb1").Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	moved := d.enteredMaster("lb2", m, slack())
	d.master("lb2", slack())
	t.Logf("lb2 MASTER %v after SIGTERM to lvsd on lb1", moved.Sub(from).Round(time.Millisecond))
	d.clientSends("lb2", 2*time.Second)
	time.Sleep(time.Second)
	d.acrossMove(p, from, moved, "graceful stop of the master")
	d.noneBroken(s, "graceful stop of the master")
}

// A restart of lvsd on the master (an upgrade): stop, start. The handover
// and the return cost no request; the kernel table is adopted with zero
// writes; with preemption the VIP comes back without a gap; no client
// connection breaks.
func TestKernelDrillMasterRestart(t *testing.T) {
	d := newDrill(t, scenario.NAT, nil)
	s := d.streams(10)
	p := d.prober()
	before := d.tables()
	lb1 := d.Director("lb1")
	from := time.Now()
	m2 := d.Director("lb2").Mark()
	if err := lb1.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	handover := d.enteredMaster("lb2", m2, slack())
	m := lb1.Mark()
	if err := lb1.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	mid := time.Now()
	if l := lb1.Logged(m, "IPVS table programmed; running"); len(l) != 1 || l[0].Num("writes") != 0 {
		t.Errorf("the restarted lvsd did not adopt the table as it was: %v", l)
	}
	back := d.enteredMaster("lb1", m, 10*d.MasterDown()+2*slack())
	d.master("lb1", slack())
	t.Logf("lb1 stopped (lb2 master %v later), started, and master again %v after the stop",
		handover.Sub(from).Round(time.Millisecond), back.Sub(from).Round(time.Millisecond))
	d.clientSends("lb1", 2*time.Second)
	time.Sleep(time.Second)
	if after := d.tables(); after["lb1"] != before["lb1"] || after["lb2"] != before["lb2"] {
		t.Errorf("the tables changed across the restart:\nbefore %v\nafter %v", before, after)
	}
	d.acrossMoves(p, from, mid, handover, back, "restart of lvsd on the master")
	d.noneBroken(s, "restart of lvsd on the master")
}

// Split brain: the directors lose each other but not the client. Both
// become master (the protocol must); when the link heals exactly one
// master remains (lb1, the higher priority), lb2 steps back, and the
// client, whose ARP cache lb2 had won, is sent back to lb1.
func TestKernelDrillSplitBrain(t *testing.T) {
	d := newDrill(t, scenario.NAT, nil)
	arps := d.watchClientARP()
	p := d.prober()
	from := time.Now()
	if err := d.Topo.Split(d.ctx); err != nil {
		t.Fatal(err)
	}
	d.waitState("lb2", "MASTER", d.MasterDown()+slack())
	d.holds("lb2", slack())
	if st := d.States(); st["lb1"] != "MASTER" {
		t.Fatalf("lb1 left MASTER during the split: %v", st)
	}
	t.Logf("split: both masters, VIP held by %v, the client sends to %s", d.Holders(), d.ClientSees())
	// lb2's gratuitous ARPs moved the client from lb1 to lb2. The
	// directors cannot hear each other, so neither can their sync daemons:
	// a request open at that moment was on a connection lb2 never heard of
	// and may be reset. That one move is the only failure allowed.
	split := d.clientMoved(arps, "lb2", from)
	time.Sleep(time.Second)
	d.acrossMove(p, from, split, "split brain")

	healed := time.Now()
	if err := d.Topo.Heal(d.ctx); err != nil {
		t.Fatal(err)
	}
	one := d.master("lb1", 10*d.Opt.Advert+slack())
	t.Logf("healed: lb1 the one master %v later", one.Sub(healed).Round(time.Millisecond))
	d.clientSends("lb1", 2*time.Second)
	// The client went back to lb1 when lb1, hearing lb2's lower-priority
	// adverts, announced the VIP again; the requests lb2 carried then were
	// on connections only lb2 knew (neither synced to the other while
	// split) and may be reset. The move is the first ARP from lb1 the
	// client received: lb1's log says it only once a minute.
	moved := d.clientMoved(arps, "lb1", healed)
	time.Sleep(time.Second)
	d.acrossMove(p, healed, moved, "after the heal")
	if h := d.Holders(); len(h) != 1 || h[0] != "lb1" {
		t.Fatalf("after the heal the VIP is held by %v", h)
	}
}

// A reload storm: 100 reloads in a row on both directors while traffic
// flows, each one changing a weight (a kernel write). No request fails, no
// connection breaks, and VRRP never moves.
func TestKernelDrillReloadStorm(t *testing.T) {
	d := newDrill(t, scenario.NAT, nil)
	s := d.streams(10)
	p := d.prober()
	adverts, err := scenario.WatchAdverts(d.Topo.Client, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	defer adverts.Stop()
	var moved atomic.Value
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if h := d.Holders(); len(h) != 1 || h[0] != "lb1" {
				moved.CompareAndSwap(nil, fmt.Sprintf("VIP held by %v", h))
			}
			if st := d.States(); st["lb1"] != "MASTER" || st["lb2"] != "BACKUP" {
				moved.CompareAndSwap(nil, fmt.Sprintf("VRRP states %v", st))
			}
		}
	}()
	from := time.Now()
	// The same file, with web3 at weight 2 instead of 1 every other time.
	light := d.Spec.Render()
	heavier := strings.Replace(light, "name    = \"web3\"\n", "name    = \"web3\"\n    weight  = 2\n", 1)
	if heavier == light {
		t.Fatal("cannot find web3 in the configuration")
	}
	const n = 100
	for i := range n {
		text := light
		if i%2 == 0 {
			text = heavier
		}
		marks := d.Marks()
		if err := d.WriteConfig(text); err != nil {
			t.Fatal(err)
		}
		for _, dir := range d.Directors {
			if err := dir.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		for _, dir := range d.Directors {
			l, err := dir.WaitLog(marks[dir.Name], 20*time.Second, "configuration reloaded")
			if err != nil {
				t.Fatalf("reload %d: %v", i+1, err)
			}
			if l.Num("writes") != 1 {
				t.Fatalf("reload %d on %s: %v writes, want 1 (one weight)", i+1, dir.Name, l.Str("writes"))
			}
		}
	}
	t.Logf("%d reloads on each director in %v", n, time.Since(from).Round(time.Millisecond))
	close(stop)
	<-watched
	for src, g := range adverts.Gaps() {
		t.Logf("adverts from %s: %d, the longest silence %v (at %s)", src, adverts.Count(src), g.Len.Round(time.Millisecond), g.At.Format("15:04:05.000"))
	}
	if m := moved.Load(); m != nil {
		t.Errorf("VRRP moved during the reloads: %v", m)
	}
	d.noFailures(p, from, "reload storm")
	d.noneBroken(s, "reload storm")
}

// A bad configuration pushed to both directors: both refuse it, say where
// the mistake is, and change nothing; the service and VRRP go on. A
// director restarted on it refuses to start and leaves the kernel as it
// was. The fixed file is taken.
func TestKernelDrillBadConfig(t *testing.T) {
	d := newDrill(t, scenario.NAT, nil)
	s := d.streams(10)
	p := d.prober()
	before := d.tables()
	good := d.Spec.Render()
	bad := strings.Replace(good, `scheduler     = "rr"`, `scheduler     = "fastest"`, 1)
	if bad == good {
		t.Fatal("cannot find the scheduler in the configuration")
	}
	from := time.Now()
	marks := d.Marks()
	if err := d.WriteConfig(bad); err != nil {
		t.Fatal(err)
	}
	for _, dir := range d.Directors {
		if err := dir.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range d.Directors {
		if _, err := dir.WaitLog(marks[dir.Name], 20*time.Second, "reload refused: the configuration is invalid; nothing changed"); err != nil {
			t.Fatal(err)
		}
		e := dir.Logged(marks[dir.Name], "configuration error")
		if len(e) != 1 || !strings.Contains(e[0].Str("at"), "lvsd.hcl:") || e[0].Str("summary") != "Unknown scheduler" {
			t.Errorf("%s: error lines %v", dir.Name, e)
		}
	}
	time.Sleep(time.Second)
	if after := d.tables(); after["lb1"] != before["lb1"] || after["lb2"] != before["lb2"] {
		t.Errorf("a refused configuration changed the tables:\nbefore %v\nafter %v", before, after)
	}
	d.master("lb1", 0)

	// lb2 restarted on the bad file refuses to start; its table stays.
	lb2 := d.Director("lb2")
	if err := lb2.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := lb2.Start(20 * time.Second); err == nil {
		t.Fatal("lvsd started on an invalid configuration")
	}
	if st, err := lb2.Save(d.ctx); err != nil || st != before["lb2"] {
		t.Errorf("lb2's table after a refused start: %v\n%s", err, st)
	}

	if err := d.WriteConfig(good); err != nil {
		t.Fatal(err)
	}
	if err := lb2.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	d.master("lb1", 10*d.MasterDown()+2*slack())
	d.noFailures(p, from, "bad configuration")
	d.noneBroken(s, "bad configuration")
}

// Every real server down: the sorry server answers; one comes back:
// traffic returns to it.
func TestKernelDrillSorryServer(t *testing.T) {
	d := newDrill(t, scenario.NAT, nil)
	p := d.prober()
	marks := d.Marks()
	down := time.Now()
	for _, w := range d.Web {
		w.Kill()
	}
	for _, w := range d.Web {
		if _, err := d.WaitRealServer(w.Name, false, marks, 3*d.Opt.CheckInterval+2*slack()); err != nil {
			t.Fatal(err)
		}
	}
	// The last server's removal brings the sorry server in: from then on
	// every request is answered by it.
	bound := 3*d.Opt.CheckInterval + 2*slack()
	deadline := time.Now().Add(bound)
	var sorryFrom time.Time
	for sorryFrom.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("the sorry server does not answer every request %v after the real servers died", bound)
		}
		time.Sleep(100 * time.Millisecond)
		// Requests of the last half second that have finished.
		now := time.Now()
		if st := p.Window(now.Add(-600*time.Millisecond), now.Add(-100*time.Millisecond)); st.Requests > 0 && st.PerServer["sorry"] == st.Requests {
			sorryFrom = now.Add(-600 * time.Millisecond)
		}
	}
	t.Logf("the sorry server answers every request %v after the real servers died", sorryFrom.Sub(down).Round(time.Millisecond))
	from := time.Now()
	time.Sleep(time.Second)
	if st := d.noFailures(p, from, "sorry server"); st.PerServer["sorry"] != st.Requests {
		t.Errorf("while every real server is down: %s", scenario.Spread(st.PerServer))
	}

	marks = d.Marks()
	up := time.Now()
	if err := d.WebServer("web2").Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitRealServer("web2", true, marks, 3*d.Opt.CheckInterval+2*slack()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	from = time.Now()
	time.Sleep(time.Second)
	st := d.noFailures(p, from, "web2 back")
	if st.PerServer["web2"] != st.Requests {
		t.Errorf("after web2 came back %v ago: %s, want web2 only", time.Since(up).Round(time.Millisecond), scenario.Spread(st.PerServer))
	}
}

// Failover that keeps established connections (DR mode): 50 long-lived
// connections through the VIP (48 keep-alive streams, 2 large downloads)
// while the master dies (lvsd killed, cables pulled). With the sync daemon
// none breaks; without it, lb2 has never heard of them and resets them.
func TestKernelDrillConnectionSync(t *testing.T) {
	const conns = 50
	for _, sync := range []bool{true, false} {
		name := map[bool]string{true: "with_sync", false: "without_sync"}[sync]
		t.Run(name, func(t *testing.T) {
			d := newDrill(t, scenario.DR, func(o *scenario.Options) { o.NoSync = !sync })
			s := d.streams(conns)
			p := d.prober()
			killed, err := d.PowerOff("lb1")
			if err != nil {
				t.Fatal(err)
			}
			took := d.master("lb2", d.MasterDown()+slack())
			// Every connection carries traffic through lb2, or breaks.
			stuck := s.Settle(took, 15*time.Second)
			st := d.window(p, killed)
			r := s.Report()
			if stuck > 0 {
				t.Errorf("%d connections neither carried traffic nor broke in the 15s after the takeover", stuck)
			}
			t.Logf("broken connections across failover: %d of %d (%s); lb2 took over %v after lb1 died; client outage %v, %d of %d requests failed",
				r.Broken, r.Total, strings.ReplaceAll(name, "_", " "), took.Sub(killed).Round(time.Millisecond), st.Outage.Round(time.Millisecond), st.Failed, st.Requests)
			if sync && r.Broken > 0 {
				t.Errorf("%d of %d connections broke with the sync daemon:\n  %s", r.Broken, r.Total, strings.Join(r.Errors, "\n  "))
			}
			if !sync && r.Broken == 0 {
				t.Errorf("no connection broke without the sync daemon: the drill proves nothing")
			}
		})
	}
}

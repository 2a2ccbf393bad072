package scenario

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"
)

// Result is one expectation of the walkthrough, met or not.
type Result struct {
	Step   string
	OK     bool
	Detail string
}

// Summary is what the walkthrough found.
type Summary struct {
	Mode    Mode
	Results []Result
	// Figures are the headline numbers ("broken connections across
	// failover: 0 of 50"), in order.
	Figures []string
}

// OK says whether every expectation was met.
func (s *Summary) OK() bool {
	for _, r := range s.Results {
		if !r.OK {
			return false
		}
	}
	return len(s.Results) > 0
}

// Write prints the summary.
func (s *Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "\n=== lvsd lab summary (%s mode)\n", strings.ToUpper(string(s.Mode)))
	for _, r := range s.Results {
		mark := "ok  "
		if !r.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %-28s %s\n", mark, r.Step, r.Detail)
	}
	if len(s.Figures) > 0 {
		fmt.Fprintln(w)
		for _, f := range s.Figures {
			fmt.Fprintln(w, f)
		}
	}
	failed := 0
	for _, r := range s.Results {
		if !r.OK {
			failed++
		}
	}
	if failed == 0 && len(s.Results) > 0 {
		fmt.Fprintf(w, "\nlvsd lab: every step behaved as expected (%d checks)\n", len(s.Results))
	} else {
		fmt.Fprintf(w, "\nlvsd lab: %d of %d checks FAILED\n", failed, len(s.Results))
	}
}

func (s *Summary) check(l *Lab, step string, ok bool, format string, args ...any) bool {
	r := Result{Step: step, OK: ok, Detail: fmt.Sprintf(format, args...)}
	s.Results = append(s.Results, r)
	mark := "ok"
	if !ok {
		mark = "FAILED"
	}
	l.Logf("%s: %s: %s", mark, step, r.Detail)
	return ok
}

func (s *Summary) figure(l *Lab, format string, args ...any) {
	f := fmt.Sprintf(format, args...)
	s.Figures = append(s.Figures, f)
	l.Logf(">>> %s", f)
}

// WalkOptions tune the walkthrough.
type WalkOptions struct {
	// Conns is the number of long-lived connections (default 50).
	Conns int
}

// Walkthrough runs the lab's tour: election, the client's requests
// spreading, a real server killed and back, the master director dying and
// the backup taking over (with established connections kept by the sync
// daemon), the old master returning, and the same failover without
// connection sync. It prints progress to opt.Out as it goes and returns
// what it found; steps after a failed one still run when they can.
func Walkthrough(ctx context.Context, opt Options, wo WalkOptions) *Summary {
	if wo.Conns == 0 {
		wo.Conns = 50
	}
	sum := &Summary{Mode: opt.Mode}
	fail := func(l *Lab, step string, err error) *Summary {
		sum.check(l, step, false, "%v", err)
		return sum
	}
	l, err := New(ctx, opt)
	if err != nil {
		fmt.Fprintf(opt.Out, "lvsd lab: %v\n", err)
		sum.Results = append(sum.Results, Result{Step: "build the lab", Detail: err.Error()})
		return sum
	}
	defer l.Close()
	opt = l.Opt // with its defaults
	sync := "on"
	if opt.NoSync {
		sync = "off"
	}
	l.Logf("lvsd lab, %s mode: directors lb1 (priority 150) and lb2 (100) share %s by VRRPv3 (adverts every %v); %d web servers; connection sync %s",
		strings.ToUpper(string(opt.Mode)), VIP, opt.Advert, ServerNum, sync)
	l.Print(Diagram(opt.Mode))
	l.Logf("network built: %d namespaces; web servers up (each answers with its name); configuration: %s", len(l.Topo.nodes), l.ConfigPath)

	// 1. Both directors start; lb1 wins the election.
	l.Logf("--- 1. lvsd starts on lb1 and lb2")
	t0 := time.Now()
	if err := l.StartDirectors(60 * time.Second); err != nil {
		return fail(l, "directors start", err)
	}
	at, err := l.WaitMaster("lb1", 10*time.Second+10*l.MasterDown())
	if opt.StaticVIP {
		at, err = time.Now(), nil
	}
	if !sum.check(l, "election", err == nil, "lb1 MASTER, lb2 BACKUP, the VIP on lb1 %.1fs after start%s", at.Sub(t0).Seconds(), errText(err)) {
		l.showStatus(ctx)
		return sum
	}
	l.showStatus(ctx)

	// 2. The client's requests spread over the real servers.
	l.Logf("--- 2. the client sends a request on a new connection every %v to %s", opt.ProbeEvery, Target())
	p := l.Prober()
	defer p.Stop()
	from := time.Now()
	time.Sleep(3 * time.Second)
	to := time.Now()
	p.Settle()
	st := p.Window(from, to)
	even := st.Failed == 0 && len(st.PerServer) == ServerNum
	for _, c := range st.PerServer {
		if c*ServerNum*2 < st.Requests { // under half its fair share
			even = false
		}
	}
	sum.check(l, "requests spread", even, "%d requests in 3s, %d failed: %s", st.Requests, st.Failed, Spread(st.PerServer))

	// 3. A real server dies: both directors remove it; the client only
	// loses the requests the kernel sent it before the checks noticed.
	l.Logf("--- 3. web2 is killed (its listener and connections closed; the kernel refuses new ones)")
	marks := l.Marks()
	killed := time.Now()
	l.WebServer("web2").Kill()
	bound := 2*opt.CheckInterval + opt.CheckInterval + 2*time.Second
	removed, err := l.WaitRealServer("web2", false, marks, bound)
	if sum.check(l, "real server removed", err == nil, "both directors took web2 out %dms after it died (checks every %v, fall 2)%s",
		removed.Sub(killed).Milliseconds(), opt.CheckInterval, errText(err)) {
		time.Sleep(2 * time.Second)
		end := time.Now()
		p.Settle()
		before := p.Window(killed, removed.Add(50*time.Millisecond))
		after := p.Window(removed.Add(50*time.Millisecond), end)
		ok := after.Failed == 0 && after.PerServer["web2"] == 0 && len(after.PerServer) == ServerNum-1 && before.Errors["refused"] == before.Failed
		if !sum.check(l, "client after the removal", ok, "%d requests, %d failed, none to web2 (%s); before it: %d of %d refused by web2 in the %dms the checks needed",
			after.Requests, after.Failed, Spread(after.PerServer), before.Failed, before.Requests, removed.Sub(killed).Milliseconds()) {
			l.showFailures(p, removed.Add(50*time.Millisecond), removed)
		}
	}

	// 4. It comes back.
	l.Logf("--- 4. web2 is started again")
	marks = l.Marks()
	back := time.Now()
	if err := l.WebServer("web2").Start(); err != nil {
		return fail(l, "web2 back", err)
	}
	returned, err := l.WaitRealServer("web2", true, marks, 2*opt.CheckInterval+opt.CheckInterval+3*time.Second)
	if sum.check(l, "real server back", err == nil, "both directors put web2 back %dms after it started (rise 2)%s", returned.Sub(back).Milliseconds(), errText(err)) {
		from := time.Now()
		time.Sleep(1500 * time.Millisecond)
		to := time.Now()
		p.Settle()
		st := p.Window(from, to)
		sum.check(l, "traffic returns", st.Failed == 0 && st.PerServer["web2"] > 0, "%d requests, %d failed: %s", st.Requests, st.Failed, Spread(st.PerServer))
	}
	l.showStatus(ctx)
	if opt.StaticVIP {
		l.Logf("static VIP, no VRRP: the director failover steps are left out")
		return sum
	}

	// 5-7. The master dies with established connections, then returns.
	l.failover(ctx, sum, p, wo.Conns, !opt.NoSync, true)

	// 8. The same without the sync daemon, for comparison.
	if !opt.NoSync {
		l.Logf("--- 8. the same failover without connection sync: sync_daemon removed from the configuration, both directors reloaded")
		spec := l.Spec
		spec.Sync = false
		if err := l.reloadAll(spec); err != nil {
			sum.check(l, "reload without sync", false, "%v", err)
		} else {
			l.failover(ctx, sum, p, wo.Conns, false, false)
		}
	}
	return sum
}

// failover opens n long-lived connections, kills the master (lb1), and
// measures the takeover, the client's outage and the broken connections;
// then brings lb1 back.
func (l *Lab) failover(ctx context.Context, sum *Summary, p *Prober, n int, sync, full bool) {
	what := "with connection sync"
	if !sync {
		what = "without connection sync"
	}
	step := 5
	if !full {
		step = 8
	}
	lasting := 30 * time.Second
	if full {
		l.Logf("--- %d. long-lived connections through the VIP", step)
	}
	streams, err := l.Streams(ctx, n, lasting)
	if err != nil {
		sum.check(l, "long-lived connections", false, "%v", err)
		return
	}
	defer streams.Close()
	r := streams.Report()
	l.Logf("%d long-lived connections open through the VIP (%d keep-alive streams with a request every %v, %d large downloads at %d KiB/s): %s",
		r.Total, r.Total-min(2, r.Total), l.Opt.StreamEvery, min(2, r.Total), l.Opt.DownloadRate>>10, Spread(r.Servers))
	if sync {
		// The kernel's sync master sends its buffer when full or every
		// 2s (IPVS_SYNC_FLUSH_TIME): give it the time.
		l.Logf("waiting 3s for lb1's sync daemon to copy them to lb2")
	}
	time.Sleep(3 * time.Second)

	if full {
		l.Logf("--- %d. lb1, the master, dies: lvsd killed with SIGKILL and its cables pulled", step+1)
	} else {
		l.Logf("lb1 dies again")
	}
	killed, err := l.PowerOff("lb1")
	if err != nil {
		sum.check(l, "master dies", false, "%v", err)
		return
	}
	took, err := l.WaitMaster("lb2", l.MasterDown()+5*time.Second)
	if took.IsZero() {
		took = killed
	}
	name := "backup takes over"
	if !full {
		name = "takeover (no sync)"
	}
	if !sum.check(l, name, err == nil, "lb2 MASTER with the VIP %dms after lb1 died (Master_Down_Interval %dms)%s",
		took.Sub(killed).Milliseconds(), l.MasterDown().Milliseconds(), errText(err)) {
		l.showStatus(ctx)
		if err := l.PowerOn(ctx, "lb1", 60*time.Second); err == nil {
			_, _ = l.WaitMaster("lb1", 10*time.Second+10*l.MasterDown())
		}
		return
	}
	time.Sleep(2 * time.Second)
	to := time.Now()
	p.Settle()
	st := p.Window(killed, to)
	if full {
		sum.figure(l, "client outage across the failover: %dms, %d of %d requests failed (%s)",
			st.Outage.Milliseconds(), st.Failed, st.Requests, FormatErrors(st.Errors))
		sum.check(l, "client outage", st.Outage <= l.MasterDown()+2*time.Second, "%dms (bound: Master_Down_Interval + 2s for the emulator)", st.Outage.Milliseconds())
	}
	// Every connection must carry traffic through lb2 (or break) before
	// the count is final.
	stuck := streams.Settle(took, 15*time.Second)
	r = streams.Report()
	r.Broken += stuck
	sum.figure(l, "broken connections across failover: %d of %d (%s)", r.Broken, r.Total, what)
	if stuck > 0 {
		l.Logf("    %d of them stuck: no traffic and no error for 15s after the takeover", stuck)
	}
	for i, e := range r.Errors {
		if i == 3 {
			l.Logf("    ... and %d more", len(r.Errors)-3)
			break
		}
		l.Logf("    %s", e)
	}
	if sync {
		sum.check(l, "connections kept (sync)", r.Broken == 0, "%d of %d broken; %d requests answered, %d MiB downloaded on them so far", r.Broken, r.Total, r.Requests, r.Bytes>>20)
	} else {
		sum.check(l, "connections lost (no sync)", r.Broken > 0, "%d of %d broken, as expected without the sync daemon: lb2 had never heard of them", r.Broken, r.Total)
	}
	if full {
		l.showStatus(ctx)
	}

	if full {
		l.Logf("--- %d. lb1 returns: cables back in, lvsd started (it adopts the table it left; preempt = %t)", step+2, l.Spec.Preempt)
	}
	marks := l.Marks()
	before := streams.Report().Broken
	start := time.Now()
	if err := l.PowerOn(ctx, "lb1", 60*time.Second); err != nil {
		sum.check(l, "old master returns", false, "%v", err)
		return
	}
	if _, err := l.Director("lb1").WaitLog(marks["lb1"], 10*time.Second, "IPVS table programmed; running"); err == nil && full {
		if lines := l.Director("lb1").Logged(marks["lb1"], "IPVS table programmed; running"); len(lines) > 0 {
			l.Logf("lb1's lvsd adopted the kernel table: %v writes", lines[0].Str("writes"))
		}
	}
	want := "lb1"
	if !l.Spec.Preempt {
		want = "lb2"
	}
	back, err := l.WaitMaster(want, 10*time.Second+10*l.MasterDown())
	if !full {
		if err != nil {
			sum.check(l, "old master returns", false, "%v", err)
		}
		return
	}
	if !sum.check(l, "old master returns", err == nil, "%s is MASTER %dms after lb1's lvsd started%s", want, back.Sub(start).Milliseconds(), errText(err)) {
		return
	}
	moved := back
	if want == "lb1" {
		if line, err := l.Director("lb1").WaitLog(marks["lb1"], time.Second, "entering MASTER"); err == nil {
			moved = line.At()
		}
	}
	time.Sleep(2 * time.Second)
	to = time.Now()
	p.Settle()
	st = p.Window(start, to)
	r = streams.Report()
	mv := p.AcrossMove(start, to, moved)
	if !sum.check(l, "return without a gap", len(mv.Other) == 0 && st.Requests > 0,
		"client: %d requests, %d failed, of which %d were open at the move and younger than the sync daemon's delay", st.Requests, st.Failed, mv.InFlight) {
		l.showFailures(p, start, moved)
	}
	if mv.InFlight > 0 {
		sum.figure(l, "requests reset as lb1 took the VIP back: %d (open at that moment and under %v old: the kernel's sync daemon had not copied them yet)", mv.InFlight, SyncDelay)
	}
	if sync {
		sum.check(l, "connections kept (return)", r.Broken == before, "%d of %d broken in all (%d during the return)", r.Broken, r.Total, r.Broken-before)
	}
	l.showStatus(ctx)
}

// showFailures lists the first failed requests since from, with their
// time relative to at.
func (l *Lab) showFailures(p *Prober, from, at time.Time) {
	for i, f := range p.FailedSince(from) {
		if i == 5 {
			break
		}
		l.Logf("    request at %+dms took %dms: %v", f.Start.Sub(at).Milliseconds(), f.Took.Milliseconds(), f.Err)
	}
}

// reloadAll rewrites the configuration and reloads every running director,
// waiting for each to apply it.
func (l *Lab) reloadAll(spec ConfigSpec) error {
	marks := l.Marks()
	if err := l.WriteConfig(spec.Render()); err != nil {
		return err
	}
	for _, d := range l.Directors {
		if !d.Running() {
			continue
		}
		if err := d.Signal(syscall.SIGHUP); err != nil {
			return err
		}
	}
	for _, d := range l.Directors {
		if !d.Running() {
			continue
		}
		if _, err := d.WaitLog(marks[d.Name], 20*time.Second, "configuration reloaded"); err != nil {
			return err
		}
	}
	l.Spec = spec
	return nil
}

// showStatus prints each director's status.
func (l *Lab) showStatus(ctx context.Context) {
	for _, d := range l.Directors {
		if !d.Running() {
			l.Logf("%s: lvsd not running", d.Name)
			continue
		}
		l.Logf("%s status:", d.Name)
		l.Print(Indent(d.Status(ctx), "        "))
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

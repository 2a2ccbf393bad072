package vrrp

import (
	"fmt"
	"github.com/lvsd/lvsd/vrrp/vrrptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/lvsd/lvsd/test/nstest"
)

// BenchmarkFailover (make bench-failover) measures failover of lvsd
// against keepalived 2.2.7 in the same lab topology, in the same run: two
// nodes of the same daemon (n1 priority 150, n2 priority 100, VRRPv3), a
// client probing the VIP every millisecond. For each advert interval it
// repeats graceful stop, SIGKILL, link cut and preemption (LVSD_BENCH_RUNS
// times, default 5) and reports per scenario:
//
//   - outage: the client's longest loss of service (lost probes);
//   - takeover: from the master's last advert seen on the LAN (its priority
//     0 advert for a graceful stop) to the new master's first gratuitous
//     ARP (it owns the address and says so); for preemption, from the
//     returning node's start to its first gratuitous ARP.
//
// The lvsd and keepalived labs run side by side (same load for both). A
// 10ms link-cut series checks the target of a client outage under 60ms.
func BenchmarkFailover(b *testing.B) {
	nstest.Skip(b)
	requireKeepalived(b)
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("LVSD_BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	res := &benchResults{samples: map[benchKey][]time.Duration{}}
	start := time.Now()
	// LVSD_BENCH_INTERVALS (e.g. "10ms") picks series; default all.
	only := os.Getenv("LVSD_BENCH_INTERVALS")
	want := func(d time.Duration) bool { return only == "" || strings.Contains(","+only+",", ","+d.String()+",") }
	for _, intv := range []time.Duration{time.Second, 100 * time.Millisecond} {
		if want(intv) {
			sideBySide(b, func(tb testing.TB, daemon string) { failoverSeries(tb, res, daemon, intv, runs, false) })
		}
	}
	if want(10 * time.Millisecond) {
		sideBySide(b, func(tb testing.TB, daemon string) { failoverSeries(tb, res, daemon, 10*time.Millisecond, runs, true) })
	}
	if b.Failed() {
		return
	}
	res.print(os.Stdout, runs, time.Since(start))
}

// sideBySide runs f for lvsd and keepalived concurrently, each in its own
// lab, and waits for both.
func sideBySide(b *testing.B, f func(tb testing.TB, daemon string)) {
	var wg sync.WaitGroup
	for _, d := range []string{"lvsd", "keepalived"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(&goTB{TB: b, name: d}, d)
		}()
	}
	wg.Wait()
}

// goTB lets lab code running on another goroutine fail the benchmark:
// Fatal records the error and ends that goroutine only.
type goTB struct {
	testing.TB
	name string
}

func (g *goTB) Helper() {}
func (g *goTB) Fatal(args ...any) {
	g.TB.Error(append([]any{g.name + ": "}, args...)...)
	runtime.Goexit()
}
func (g *goTB) Fatalf(format string, args ...any) {
	g.TB.Errorf(g.name+": "+format, args...)
	runtime.Goexit()
}
func (g *goTB) FailNow() { g.TB.Fail(); runtime.Goexit() }

type benchKey struct {
	scenario string
	intv     time.Duration
	metric   string // outage, takeover
	daemon   string
}

type benchResults struct {
	mu      sync.Mutex
	samples map[benchKey][]time.Duration
}

func (r *benchResults) add(scenario string, intv time.Duration, daemon string, outage, takeover time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples[benchKey{scenario, intv, "outage", daemon}] = append(r.samples[benchKey{scenario, intv, "outage", daemon}], outage)
	if takeover >= 0 {
		r.samples[benchKey{scenario, intv, "takeover", daemon}] = append(r.samples[benchKey{scenario, intv, "takeover", daemon}], takeover)
	}
}

// benchDaemon starts, stops and kills one node of either daemon.
type benchDaemon struct {
	l      *lab
	daemon string
	intv   time.Duration
	lv     map[string]*procNode
	ka     map[string]*kaNode
}

func (d *benchDaemon) start(node string, prio uint8) {
	if d.daemon == "lvsd" {
		d.lv[node] = d.l.startLvsd(node, nodeSpec{Config: labConfig(node, prio, 3, d.intv, false)})
		return
	}
	d.ka[node] = d.l.startKeepalived(node, kaSpec{Prio: prio, Version: 3, Interval: d.intv})
}

func (d *benchDaemon) stop(node string) {
	if d.daemon == "lvsd" {
		d.lv[node].stop()
	} else {
		d.ka[node].stop()
	}
}

func (d *benchDaemon) kill(node string) {
	if d.daemon == "lvsd" {
		d.lv[node].kill()
	} else {
		d.ka[node].kill()
	}
}

// failoverSeries runs the scenarios runs times on one daemon. onlyCut
// runs just the link cut (the 10ms series).
func failoverSeries(tb testing.TB, res *benchResults, daemon string, intv time.Duration, runs int, onlyCut bool) {
	l := newLab(tb, 2)
	vip := labVIP4.Addr()
	d := &benchDaemon{l: l, daemon: daemon, intv: intv, lv: map[string]*procNode{}, ka: map[string]*kaNode{}}
	settle := MasterDownInterval(3, 1, intv) + 3*time.Second
	tail := max(300*time.Millisecond, 3*intv)
	d.start("n2", 100)
	d.start("n1", 150)
	l.WaitHolders(settle, vip, "n1")
	p := l.StartProbe(vip, time.Millisecond)
	p.WaitAnswer(tb, 2*time.Second, "n1")
	n1 := l.Node("n1")

	// backOnN1 restarts n1 if needed and waits until it is master again
	// and the client is served by it; it returns n1's start time.
	backOnN1 := func(step string, restart bool) {
		if restart {
			d.start("n1", 150)
		}
		l.WaitHolders(settle, vip, "n1")
		if !p.Answered(2*time.Second, "n1") {
			tb.Fatalf("after %s: n1 holds the address but the client is not served by it", step)
		}
	}
	for range runs {
		if !onlyCut {
			// Graceful stop.
			t0 := time.Now()
			d.stop("n1")
			own := l.Takeover("n2", vip, t0)
			zero := l.Sniff.Find(func(s vrrptest.Packet) bool {
				return s.Kind == "vrrp" && s.Src == n1.Addr4 && s.Prio == 0 && !s.At.Before(t0)
			})
			if len(zero) == 0 {
				tb.Fatalf("%s: no priority 0 advert on graceful stop", daemon)
			}
			out, _ := p.Outage(t0.Add(-50*time.Millisecond), own.Add(tail))
			res.add("graceful stop", intv, daemon, out, own.Sub(zero[0].At))
			p.WaitAnswer(tb, 2*time.Second, "n2")

			// Preemption by the returning n1.
			started := time.Now()
			d.start("n1", 150)
			own = l.Takeover("n1", vip, started)
			out, _ = p.Outage(started, own.Add(tail))
			res.add("preemption", intv, daemon, out, own.Sub(started))
			backOnN1("preemption", false)

			// SIGKILL (n1's copy of the address stays, as it would).
			t0 = time.Now()
			d.kill("n1")
			own = l.Takeover("n2", vip, t0)
			last := l.Sniff.LastAdvert(n1.Addr4, own)
			out, _ = p.Outage(t0.Add(-50*time.Millisecond), own.Add(tail))
			res.add("SIGKILL", intv, daemon, out, own.Sub(last))
			p.WaitAnswer(tb, 2*time.Second, "n2")
			backOnN1("restart after SIGKILL", true)
		}

		// Link cut, right after one of n1's adverts so that both daemons
		// are cut at the same phase of their advert cycle (the client's
		// outage is Master_Down_Interval minus that phase).
		l.Sniff.WaitNextAdvert(tb, n1.Addr4, time.Now(), 3*intv)
		t0 := time.Now()
		l.CutLink("n1")
		own := l.Takeover("n2", vip, t0)
		last := l.Sniff.LastAdvert(n1.Addr4, own)
		out, _ := p.Outage(t0.Add(-50*time.Millisecond), own.Add(tail))
		res.add("link cut", intv, daemon, out, own.Sub(last))
		p.WaitAnswer(tb, 2*time.Second, "n2")
		l.MendLink("n1")
		backOnN1("link mended", false)
	}
}

func median(s []time.Duration) time.Duration {
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtMS(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }

func (r *benchResults) print(w *os.File, runs int, took time.Duration) {
	fmt.Fprintf(w, "\nVRRP failover, lvsd vs keepalived 2.2.7, VRRPv3, %d runs each, client probing every 1ms (%v)\n", runs, took.Round(time.Second))
	fmt.Fprintln(w, "outage: client's longest loss of service; takeover: master's last advert -> new master's first GARP")
	fmt.Fprintln(w, "(preemption: returning node's start -> its first GARP); ratio: lvsd median / keepalived median")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tadvert\tmetric\tlvsd median ms\tlvsd max ms\tkeepalived median ms\tkeepalived max ms\tratio\t")
	for _, intv := range []time.Duration{time.Second, 100 * time.Millisecond, 10 * time.Millisecond} {
		for _, sc := range []string{"graceful stop", "SIGKILL", "link cut", "preemption"} {
			for _, m := range []string{"outage", "takeover"} {
				lv := r.samples[benchKey{sc, intv, m, "lvsd"}]
				ka := r.samples[benchKey{sc, intv, m, "keepalived"}]
				if len(lv) == 0 && len(ka) == 0 {
					continue
				}
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\t%s\t%s\t%s\t\n", sc, intv, m,
					fmtMS(median(lv)), fmtMS(maxOf(lv)), fmtMS(median(ka)), fmtMS(maxOf(ka)), ratio(median(lv), median(ka)))
			}
		}
	}
	tw.Flush()
	var raw strings.Builder
	for k, v := range r.samples {
		fmt.Fprintf(&raw, "  %s %v %s %s:", k.scenario, k.intv, k.metric, k.daemon)
		for _, d := range v {
			fmt.Fprintf(&raw, " %s", fmtMS(d))
		}
		raw.WriteString("\n")
	}
	lines := strings.Split(strings.TrimRight(raw.String(), "\n"), "\n")
	slices.Sort(lines)
	fmt.Fprintf(w, "samples (ms):\n%s\n", strings.Join(lines, "\n"))
}

// ratio is lvsd/keepalived. Outages below the probe interval on both sides
// count as equal (1.00): the probe cannot tell them apart.
func ratio(lv, ka time.Duration) string {
	const floor = time.Millisecond
	if lv < floor && ka < floor {
		return "1.00"
	}
	if ka < floor {
		ka = floor
	}
	return strconv.FormatFloat(float64(lv)/float64(ka), 'f', 2, 64)
}

func maxOf(s []time.Duration) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

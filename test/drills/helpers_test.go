package drills

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/test/lab"
	"github.com/lvsd/lvsd/test/nstest"
	"github.com/lvsd/lvsd/test/scenario"
)

// The drills run the real lvsd binary on both directors.
//
//lab:program ./cmd/lvsd

var lvsdBuild struct {
	sync.Once
	path string
	err  error
}

// lvsdBinary is the lab's lvsd, or (on a host whose kernel has IPVS, with
// Go installed) one built here once.
func lvsdBinary(t *testing.T) string {
	t.Helper()
	if p := lab.ProgramPath("lvsd"); p != "" {
		return p
	}
	lvsdBuild.Do(func() {
		dir, err := os.MkdirTemp("", "lvsd-drills-")
		if err != nil {
			lvsdBuild.err = err
			return
		}
		lvsdBuild.path = filepath.Join(dir, "lvsd")
		_, here, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", lvsdBuild.path, "./cmd/lvsd")
		cmd.Dir = filepath.Join(filepath.Dir(here), "..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			lvsdBuild.err = err
			lvsdBuild.path = string(out)
		}
	})
	if lvsdBuild.err != nil {
		t.Fatalf("no lvsd binary: not in the lab's files, and go build failed: %v\n%s", lvsdBuild.err, lvsdBuild.path)
	}
	return lvsdBuild.path
}

// slack is what the emulated lab VM adds to a timing bound: its vCPU is
// shared by both directors, the servers and the client, and stalls.
func slack() time.Duration {
	if nstest.InLab() {
		return 1500 * time.Millisecond
	}
	return 300 * time.Millisecond
}

// drill is one drill's lab: built, both directors running, lb1 master.
type drill struct {
	t   *testing.T
	ctx context.Context
	*scenario.Lab
	stalls *scenario.StallWatch
}

// tlog writes each line it gets to the test's log.
type tlog struct {
	t       *testing.T
	mu      sync.Mutex
	partial string
}

func (w *tlog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial += string(p)
	for {
		i := strings.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.t.Log(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// newDrill builds the lab in mode (options adjusted by mod), starts lvsd
// on both directors and waits for lb1 to be the one master.
func newDrill(t *testing.T, mode scenario.Mode, mod func(*scenario.Options)) *drill {
	t.Helper()
	nstest.RequireIPVS(t)
	// Lighter than `make lab`: the drills share one emulated vCPU.
	opt := scenario.Options{Mode: mode, Lvsd: lvsdBinary(t), Dir: t.TempDir(), Out: &tlog{t: t},
		ProbeEvery: 40 * time.Millisecond, StreamEvery: time.Second, DownloadRate: 256 << 10,
		CheckInterval: 500 * time.Millisecond, CheckTimeout: time.Second}
	if mod != nil {
		mod(&opt)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l, err := scenario.New(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	d := &drill{t: t, ctx: ctx, Lab: l, stalls: scenario.WatchStalls()}
	t.Cleanup(func() {
		d.stalls.Stop()
		if t.Failed() {
			d.dumpLogs()
		}
		l.Close()
	})
	start := time.Now()
	if err := l.StartDirectors(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Both start as backups; lb1 takes over after its Master_Down_Interval.
	at, err := l.WaitMaster("lb1", 10*l.MasterDown()+5*slack())
	if err != nil {
		t.Fatalf("election: %v", err)
	}
	t.Logf("lb1 is master %v after the start", at.Sub(start).Round(time.Millisecond))
	return d
}

// dumpLogs shows the end of each director's log.
func (d *drill) dumpLogs() {
	for _, dir := range d.Directors {
		b, err := os.ReadFile(filepath.Join(dir.Dir, "lvsd.log"))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		d.t.Logf("--- last lines of %s's lvsd log:\n%s", dir.Name, strings.Join(lines, "\n"))
	}
	d.t.Logf("VRRP states: %s; VIP held by %v; the client sends to %s", d.FormatStates(), d.Holders(), d.ClientSees())
	// A machine that stalls longer than Master_Down_Interval makes the
	// backup take over by itself: say if this one did.
	for _, s := range d.stalls.Worst() {
		d.t.Logf("the test process did not run for %v at %s", s.Len.Round(time.Millisecond), s.At.Format("15:04:05.000"))
	}
}

// window settles the prober and returns the stats of [from, now).
func (d *drill) window(p *scenario.Prober, from time.Time) scenario.Stats {
	to := time.Now()
	p.Settle()
	return p.Window(from, to)
}

// noFailures fails the test if a request started in [from, now) failed.
func (d *drill) noFailures(p *scenario.Prober, from time.Time, what string) scenario.Stats {
	d.t.Helper()
	st := d.window(p, from)
	if st.Failed > 0 || st.Requests == 0 {
		d.t.Errorf("%s: %d of %d requests failed (%s), outage %v", what, st.Failed, st.Requests, scenario.FormatErrors(st.Errors), st.Outage)
		for i, f := range p.FailedSince(from) {
			if i == 5 {
				break
			}
			d.t.Logf("    failed at %s after %v: %v", f.Start.Format("15:04:05.000"), f.Took.Round(time.Millisecond), f.Err)
		}
	} else {
		d.t.Logf("%s: %d requests, none failed (%s)", what, st.Requests, scenario.Spread(st.PerServer))
	}
	return st
}

// noneBroken fails the test if a long-lived connection broke or is stuck
// (no traffic since the last second).
func (d *drill) noneBroken(s *scenario.Streams, what string) {
	d.t.Helper()
	if stuck := s.Settle(time.Now().Add(-time.Second), 15*time.Second); stuck > 0 {
		d.t.Errorf("%s: %d long-lived connections carry no traffic", what, stuck)
	}
	r := s.Report()
	if r.Broken > 0 {
		d.t.Errorf("%s: %d of %d long-lived connections broke:\n  %s", what, r.Broken, r.Total, strings.Join(r.Errors, "\n  "))
		return
	}
	d.t.Logf("%s: none of %d long-lived connections broke (%d requests, %d KiB downloaded on them)", what, r.Total, r.Requests, r.Bytes>>10)
}

// streams opens n long-lived connections and gives the sync daemon the
// time to copy them to the backup (the kernel sends its buffer when full,
// or every 2s).
func (d *drill) streams(n int) *scenario.Streams {
	d.t.Helper()
	s, err := d.Streams(d.ctx, n, 60*time.Second)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(s.Close)
	time.Sleep(3 * time.Second)
	return s
}

func (d *drill) prober() *scenario.Prober {
	p := d.Prober()
	d.t.Cleanup(p.Stop)
	time.Sleep(500 * time.Millisecond)
	return p
}

// waitState waits for director name's VRRP state.
func (d *drill) waitState(name, state string, within time.Duration) time.Time {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if st := d.States()[name]; st == state {
			return time.Now()
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s is not %s after %v: VRRP states %s; VIP held by %v", name, state, within, d.FormatStates(), d.Holders())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// holds waits until director name holds the VIP (whoever else does).
func (d *drill) holds(name string, within time.Duration) time.Time {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, h := range d.Holders() {
			if h == name {
				return time.Now()
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s does not hold the VIP after %v: held by %v; VRRP states %s", name, within, d.Holders(), d.FormatStates())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// master waits until name is the one master.
func (d *drill) master(name string, within time.Duration) time.Time {
	d.t.Helper()
	at, err := d.WaitMaster(name, within)
	if err != nil {
		d.t.Fatal(err)
	}
	return at
}

// watchClientARP records the ARP packets for the VIP the client receives
// until the test ends.
func (d *drill) watchClientARP() *scenario.ARPWatch {
	d.t.Helper()
	w, err := scenario.WatchARP(d.Topo.Client, "eth0", scenario.VIP)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(w.Stop)
	return w
}

// clientMoved is when the client received the first ARP packet for the
// VIP from name at or after since: when its traffic moved to name.
func (d *drill) clientMoved(w *scenario.ARPWatch, name string, since time.Time) time.Time {
	d.t.Helper()
	mac, err := d.Director(name).Node.MAC("eth0")
	if err != nil {
		d.t.Fatal(err)
	}
	at, ok := w.FirstFrom(mac, since)
	if !ok {
		d.t.Fatalf("the client received no ARP for the VIP from %s (%v) since %s; it received %v",
			name, mac, since.Format("15:04:05.000"), w.Seen(since))
	}
	d.t.Logf("the client heard %s announce the VIP %v after %s", name, at.Sub(since).Round(time.Millisecond), since.Format("15:04:05.000"))
	return at
}

// clientSends waits until the client's packets for the VIP go to name.
func (d *drill) clientSends(name string, within time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for d.ClientSees() != name {
		if time.Now().After(deadline) {
			d.t.Fatalf("the client still sends to %q, not %s, after %v", d.ClientSees(), name, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tables returns both directors' tables without counters.
func (d *drill) tables() map[string]string {
	d.t.Helper()
	out := map[string]string{}
	for _, dir := range d.Directors {
		s, err := dir.Save(d.ctx)
		if err != nil {
			d.t.Fatal(err)
		}
		out[dir.Name] = s
	}
	return out
}

// enteredMaster waits for director name to log `entering MASTER` after
// mark and returns when the lab saw that line.
func (d *drill) enteredMaster(name string, mark int, within time.Duration) time.Time {
	d.t.Helper()
	l, err := d.Director(name).WaitLog(mark, within, "entering MASTER")
	if err != nil {
		d.t.Fatal(err)
	}
	return l.At()
}

// acrossMove checks the requests started in [from, now) around a planned
// move of the VIP at moved (both directors alive): none may fail except
// the few open at the move and younger than the sync daemon's delay, which
// the new master cannot know (docs/lab.md: the limits of connection sync).
func (d *drill) acrossMove(p *scenario.Prober, from, moved time.Time, what string) {
	d.t.Helper()
	to := time.Now()
	p.Settle()
	st := p.Window(from, to)
	r := p.AcrossMove(from, to, moved)
	if len(r.Other) > 0 || st.Requests == 0 {
		d.t.Errorf("%s: %d of %d requests failed (%s), %d of them open at the move and younger than the sync delay; the others:",
			what, st.Failed, st.Requests, scenario.FormatErrors(st.Errors), r.InFlight)
		for i, f := range r.Other {
			if i == 5 {
				break
			}
			d.t.Logf("    started %+dms from the move, failed after %v: %v", f.Start.Sub(moved).Milliseconds(), f.Took.Round(time.Millisecond), f.Err)
		}
		return
	}
	d.t.Logf("%s: %d requests; %d reset at the move (open then, younger than the sync delay), no other failure", what, st.Requests, r.InFlight)
}

// acrossMoves is acrossMove for two moves: the first in [from, mid), the
// second in [mid, now).
func (d *drill) acrossMoves(p *scenario.Prober, from, mid, first, second time.Time, what string) {
	d.t.Helper()
	to := time.Now()
	p.Settle()
	st := p.Window(from, to)
	a, b := p.AcrossMove(from, mid, first), p.AcrossMove(mid, to, second)
	other := append(a.Other, b.Other...)
	if len(other) > 0 || st.Requests == 0 {
		d.t.Errorf("%s: %d of %d requests failed (%s), %d of them open at a move and younger than the sync delay; the others:",
			what, st.Failed, st.Requests, scenario.FormatErrors(st.Errors), a.InFlight+b.InFlight)
		for i, f := range other {
			if i == 5 {
				break
			}
			d.t.Logf("    started at %s, failed after %v: %v", f.Start.Format("15:04:05.000"), f.Took.Round(time.Millisecond), f.Err)
		}
		return
	}
	d.t.Logf("%s: %d requests; %d and %d reset at the two moves (open then, younger than the sync delay), no other failure", what, st.Requests, a.InFlight, b.InFlight)
}

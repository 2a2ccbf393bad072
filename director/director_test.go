package director

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/lvsd/lvsd/checkers/hook"
	"github.com/lvsd/lvsd/ipvs"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// server is a TCP listener on loopback that a test can stop and start
// again on the same address: a real server for real checks.
type server struct {
	t    *testing.T
	addr netip.AddrPort
	mu   sync.Mutex
	ln   net.Listener
	done chan struct{}
}

// newServer listens on a free port of 127.0.0.1 .. 127.0.0.254 (host byte
// n), so several servers can share a port number as real servers of one
// service often do.
func newServer(t *testing.T, host byte, port uint16) *server {
	t.Helper()
	s := &server{t: t, addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, host}), port)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return
	}
	ln, err := net.Listen("tcp4", s.addr.String())
	if err != nil {
		s.t.Fatalf("listen %s: %v", s.addr, err)
	}
	if s.addr.Port() == 0 {
		s.addr = netip.MustParseAddrPort(ln.Addr().String())
	}
	s.ln, s.done = ln, make(chan struct{})
	go func(ln net.Listener, done chan struct{}) {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}(ln, s.done)
}

func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return
	}
	s.ln.Close()
	<-s.done
	s.ln = nil
}

// freePort returns a port free on 127.0.0.1 (and, by convention here, on
// the other loopback addresses the test uses).
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return netip.MustParseAddrPort(ln.Addr().String()).Port()
}

// rig runs a Director on a Memory backend and a fake clock.
type rig struct {
	t      *testing.T
	d      *Director
	mem    *ipvs.Memory
	clock  *clockwork.FakeClock
	logs   *logtest.Hook
	hooks  *hookRecorder
	src    string // the configuration Load returns
	srcMu  sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

type hookRecorder struct {
	mu   sync.Mutex
	cmds []hook.Command
}

func (h *hookRecorder) run(_ context.Context, c hook.Command) hook.Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cmds = append(h.cmds, c)
	return hook.Result{ExitCode: 0}
}

func (h *hookRecorder) list() []hook.Command {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.cmds)
}

type rigOpts struct {
	mem       *ipvs.Memory
	backend   ipvs.Backend // instead of mem
	stateFile string
	overrides string // Options.OverridesFile
}

func newRig(t *testing.T, src string, o rigOpts) *rig {
	t.Helper()
	logger, logs := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	r := &rig{t: t, mem: o.mem, clock: clockwork.NewFakeClockAt(t0), logs: logs, hooks: &hookRecorder{}, src: src}
	if r.mem == nil {
		r.mem = ipvs.NewMemory(ipvs.Table{})
	}
	cfg := parse(t, src)
	var backend ipvs.Backend = r.mem
	if o.backend != nil {
		backend = o.backend
	}
	d, err := New(Options{
		Config:        cfg,
		Load:          r.load,
		Backend:       backend,
		StateFile:     o.stateFile,
		OverridesFile: o.overrides,
		Clock:         r.clock,
		Rand:          rand.New(rand.NewPCG(1, 2)),
		Log:           logger,
		RunHook:       r.hooks.run,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	ready := make(chan struct{})
	d.ready = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() { r.stop() })
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the director did not become ready")
	}
	return r
}

func (r *rig) stop() error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		return err
	case <-time.After(10 * time.Second):
		r.t.Error("Run did not return after cancel")
		return nil
	}
}

func (r *rig) load() (*Config, hcl.Diagnostics) {
	r.srcMu.Lock()
	defer r.srcMu.Unlock()
	return ParseConfig([]byte(r.src), "test.hcl", nil)
}

func (r *rig) setSource(src string) {
	r.srcMu.Lock()
	defer r.srcMu.Unlock()
	r.src = src
}

// kernel is the Memory table as ipvsadm -S lines.
func (r *rig) kernel() []string {
	s := strings.TrimSpace(r.mem.Table().String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// until advances the fake clock by step and waits a little, until cond
// holds; at most 60 steps.
func (r *rig) until(step time.Duration, what string, cond func() bool) {
	r.t.Helper()
	for range 60 {
		if cond() {
			return
		}
		r.clock.Advance(step)
		for range 50 {
			time.Sleep(2 * time.Millisecond)
			if cond() {
				return
			}
		}
	}
	r.t.Fatalf("timed out waiting for %s; kernel:\n%s", what, strings.Join(r.kernel(), "\n"))
}

func (r *rig) rs(id string) RealServerStatus {
	r.t.Helper()
	for _, vs := range r.d.Status().VirtualServers {
		for _, rs := range vs.RealServers {
			if rs.ID == id {
				return rs
			}
		}
	}
	r.t.Fatalf("no real server %s in the status", id)
	return RealServerStatus{}
}

func (r *rig) logged(msg string) []*logrus.Entry {
	var out []*logrus.Entry
	for _, e := range r.logs.AllEntries() {
		if e.Message == msg {
			out = append(out, e)
		}
	}
	return out
}

func has(lines []string, s string) bool { return slices.Contains(lines, s) }

// twoServers is a configuration of one virtual server over a and b with
// fast tcp checks.
func twoServers(a, b *server, extra string) string {
	return fmt.Sprintf(`
node_name = "test"
ipvs { resync_interval = "10s" }
virtual_server "web" {
  address       = "192.0.2.1:80"
  scheduler     = "wrr"
  drain_timeout = "0s"
  check "tcp" {
    interval = "1s"
    timeout  = "500ms"
    rise     = 2
    fall     = 2
    warmup   = "0s"
  }
  real_server {
    name    = "a"
    address = "%s"
    weight  = 3
  }
  real_server {
    name    = "b"
    address = "%s"
    weight  = 1
  }
  %s
}
`, a.addr, b.addr, extra)
}

func TestDirectorFollowsHealth(t *testing.T) {
	port := freePort(t)
	a, b := newServer(t, 2, port), newServer(t, 3, port)
	r := newRig(t, twoServers(a, b, ""), rigOpts{})
	lineA := fmt.Sprintf("-a -t 192.0.2.1:80 -r %s -m -w 3", a.addr)
	lineB := fmt.Sprintf("-a -t 192.0.2.1:80 -r %s -m -w 1", b.addr)
	if k := r.kernel(); !slices.Equal(k, []string{"-A -t 192.0.2.1:80 -s wrr", lineA, lineB}) {
		t.Fatalf("first sync:\n%s", strings.Join(k, "\n"))
	}

	// fall = 2: the first failure leaves b in the table, the second
	// takes it out.
	b.stop()
	failures := func() uint64 {
		for _, c := range r.d.runner.Status() {
			if c.Target == b.addr {
				return c.Failures
			}
		}
		return 0
	}
	// Steps of a tenth of the interval: the runner never has two checks
	// of b due at once.
	r.until(100*time.Millisecond, "b's first failure", func() bool { return failures() >= 1 })
	if !has(r.kernel(), lineB) || !r.rs("web/b").Up {
		t.Fatal("b left after one failure (fall is 2)")
	}
	if n := failures(); n != 1 {
		t.Fatalf("%d failures at once", n)
	}
	r.until(100*time.Millisecond, "b to leave the table", func() bool { return !has(r.kernel(), lineB) })
	if n := failures(); n != 2 {
		t.Fatalf("b left after %d failures, want 2", n)
	}
	st := r.rs("web/b")
	if st.Up || st.InTable || !strings.Contains(st.Reason, "connection refused") || st.Transitions != 1 {
		t.Fatalf("b after failing: %+v", st)
	}
	if st := r.d.Status(); st.Sync.FastSyncs == 0 || st.Sync.LastError != "" {
		t.Fatalf("sync status %+v", st.Sync)
	}
	down := r.logged("real server down")
	if len(down) != 1 || down[0].Data["rs"] != "web/b" || !strings.Contains(fmt.Sprint(down[0].Data["reason"]), "connection refused") || down[0].Data["writes"] != uint64(1) {
		t.Fatalf("down log lines: %v", down)
	}
	if !has(r.kernel(), lineA) {
		t.Fatal("a left the table too")
	}

	// rise = 2: one success is not enough.
	b.start()
	runs := func() uint64 {
		for _, c := range r.d.runner.Status() {
			if c.Target == b.addr {
				return c.Successes
			}
		}
		return 0
	}
	before := runs()
	r.until(100*time.Millisecond, "b's first success", func() bool { return runs() >= before+1 })
	if n := runs() - before; n != 1 {
		t.Fatalf("%d successes at once", n)
	}
	if has(r.kernel(), lineB) {
		t.Fatal("b came back after one success (rise is 2)")
	}
	r.until(100*time.Millisecond, "b to come back", func() bool { return has(r.kernel(), lineB) })
	if n := runs() - before; n != 2 {
		t.Fatalf("b came back after %d successes, want 2", n)
	}
	if st := r.rs("web/b"); !st.Up || st.EffectiveWeight != 1 || st.Reason != "connected" || len(st.Checks) != 1 || st.Checks[0].Runs < 4 {
		t.Fatalf("b after recovering: %+v", st)
	}
	if up := r.logged("real server up"); len(up) != 1 {
		t.Fatalf("up log lines: %d", len(up))
	}
}

// The same check of the same real server under two virtual servers runs
// once and feeds both.
func TestDirectorSharesChecks(t *testing.T) {
	port := freePort(t)
	a := newServer(t, 2, port)
	src := fmt.Sprintf(`
virtual_server "http" {
  address = "192.0.2.1:80"
  check "tcp" {
    port   = %d
    warmup = "0s"
    interval = "1s"
    fall   = 1
  }
  real_server { address = "%s" }
}
virtual_server "https" {
  address = "192.0.2.1:443"
  check "tcp" {
    port   = %d
    warmup = "0s"
    interval = "1s"
    fall   = 1
  }
  real_server { address = "%s" }
}
`, port, a.addr.Addr(), port, a.addr.Addr())
	r := newRig(t, src, rigOpts{})
	checks := r.d.runner.Status()
	if len(checks) != 1 || len(checks[0].Owners) != 2 {
		t.Fatalf("checks %+v, want one check with two owners", checks)
	}
	a.stop()
	r.until(time.Second, "both services to lose the server", func() bool { return r.mem.Table().NumDestinations() == 0 })
	if st := r.rs("https/" + a.addr.Addr().String()); st.Up || len(st.Checks) != 1 || st.Checks[0].Owners != 2 {
		t.Fatalf("status %+v", st)
	}
}

// Reloads: an unchanged check keeps its state (a down server stays down,
// no flap, no new warmup), a changed one restarts alone, one changed real
// server is one write, and a bad configuration changes nothing.
func TestDirectorReload(t *testing.T) {
	port := freePort(t)
	a, b := newServer(t, 2, port), newServer(t, 3, port)
	r := newRig(t, twoServers(a, b, ""), rigOpts{})
	lineB := fmt.Sprintf("-a -t 192.0.2.1:80 -r %s -m -w 1", b.addr)
	b.stop()
	r.until(time.Second, "b down", func() bool { return !has(r.kernel(), lineB) })
	before := r.d.runner.Status()

	// Change a's weight only.
	src := strings.Replace(twoServers(a, b, ""), "weight  = 3", "weight  = 5", 1)
	r.setSource(src)
	writes := r.mem.Writes()
	res, err := r.d.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Writes != 1 || r.mem.Writes()-writes != 1 || len(res.Ops) != 1 || res.Ops[0].String() != fmt.Sprintf("-e -t 192.0.2.1:80 -r %s -m -w 5", a.addr) {
		t.Fatalf("reload: changed %v, %d writes, ops %v", res.Changed, res.Writes, res.Ops)
	}
	after := r.d.runner.Status()
	if len(after) != 2 || after[0].ID != before[0].ID || after[1].ID != before[1].ID ||
		after[0].Runs < before[0].Runs || after[1].Runs < before[1].Runs || !after[0].Next.Equal(before[0].Next) || !after[1].Since.Equal(before[1].Since) {
		t.Fatalf("check state did not survive the reload:\nbefore %+v\nafter  %+v", before, after)
	}
	if has(r.kernel(), lineB) || r.rs("web/b").Up {
		t.Fatal("b flapped up on reload")
	}
	if n := len(r.logged("real server up")); n != 0 {
		t.Fatalf("%d up transitions logged on reload", n)
	}

	// A changed check definition restarts that check only: a's check gets
	// a new interval, b's (same settings) keeps running, b stays down.
	src2 := strings.Replace(src, fmt.Sprintf(`name    = "a"
    address = "%s"`, a.addr), fmt.Sprintf(`name    = "a"
    address = "%s"
    check "tcp" {
      interval = "2s"
      warmup   = "0s"
    }`, a.addr), 1)
	r.setSource(src2)
	if _, err := r.d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := r.d.runner.Status()
	var kept, restarted int
	for _, c := range again {
		switch {
		case c.ID == before[0].ID || c.ID == before[1].ID:
			kept++
			if c.Runs == 0 {
				t.Fatalf("kept check %s restarted", c.ID)
			}
		default:
			restarted++
		}
	}
	if kept != 1 || restarted != 1 || has(r.kernel(), lineB) || r.mem.Writes() != writes+1 {
		t.Fatalf("after a check change: %d kept, %d new, kernel\n%s", kept, restarted, strings.Join(r.kernel(), "\n"))
	}

	// A configuration with an error changes nothing.
	r.setSource(src2 + "\nvirtual_server \"bad\" { address = \"nonsense\" }\n")
	k := r.kernel()
	_, err = r.d.Reload(context.Background())
	if _, ok := err.(*ConfigError); !ok {
		t.Fatalf("bad config: err %v, want a *ConfigError", err)
	}
	if !slices.Equal(r.kernel(), k) || r.mem.Writes() != writes+1 {
		t.Fatal("a bad configuration changed the kernel")
	}
	st := r.d.Status().Reload
	if st.Reloads != 3 || st.Failures != 1 || st.OK || !strings.Contains(st.Error, "invalid configuration") {
		t.Fatalf("reload status %+v", st)
	}
	if len(r.logged("configuration error")) == 0 || len(r.logged("reload refused: the configuration is invalid; nothing changed")) != 1 {
		t.Fatal("the refused reload was not logged")
	}
}

func TestDirectorOverrides(t *testing.T) {
	port := freePort(t)
	a, b := newServer(t, 2, port), newServer(t, 3, port)
	r := newRig(t, twoServers(a, b, ""), rigOpts{})
	ctx := context.Background()
	lineA := func(w int) string { return fmt.Sprintf("-a -t 192.0.2.1:80 -r %s -m -w %d", a.addr, w) }

	w := r.mem.Writes()
	if err := r.d.SetOverride(ctx, "web/a", OverrideDrain); err != nil {
		t.Fatal(err)
	}
	if !has(r.kernel(), lineA(0)) || r.mem.Writes() != w+1 {
		t.Fatalf("drain: kernel\n%s", strings.Join(r.kernel(), "\n"))
	}
	if st := r.rs("web/a"); st.Override != OverrideDrain || !st.InTable || st.EffectiveWeight != 0 || !st.Up {
		t.Fatalf("status %+v", st)
	}

	// Overrides survive a reload.
	if _, err := r.d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if !has(r.kernel(), lineA(0)) {
		t.Fatal("the drain did not survive a reload")
	}

	if err := r.d.SetOverride(ctx, "web/a", OverrideDisable); err != nil {
		t.Fatal(err)
	}
	if has(r.kernel(), lineA(0)) || has(r.kernel(), lineA(3)) {
		t.Fatalf("disable: kernel\n%s", strings.Join(r.kernel(), "\n"))
	}
	if err := r.d.SetOverride(ctx, "web/a", OverrideNone); err != nil {
		t.Fatal(err)
	}
	if !has(r.kernel(), lineA(3)) {
		t.Fatalf("enable: kernel\n%s", strings.Join(r.kernel(), "\n"))
	}
	if err := r.d.SetOverride(ctx, "web/nope", OverrideDrain); err == nil || !strings.Contains(err.Error(), `no real server "web/nope"`) {
		t.Fatalf("unknown real server: %v", err)
	}
	if err := r.d.SetOverride(ctx, "web/a", Override("maintenance")); err == nil {
		t.Fatal("an unknown override was accepted")
	}
	if st := r.d.Status(); len(st.Overrides) != 0 {
		t.Fatalf("overrides left: %+v", st.Overrides)
	}
}

// Overrides are kept in the overrides file: a restarted director starts
// with them (the drained server is never back at its weight), and a file
// that cannot be written refuses the override rather than losing it.
func TestDirectorOverridesSurviveRestart(t *testing.T) {
	port := freePort(t)
	a, b := newServer(t, 2, port), newServer(t, 3, port)
	src := twoServers(a, b, "")
	file := filepath.Join(t.TempDir(), "lib", "overrides.json")
	ctx := context.Background()
	r := newRig(t, src, rigOpts{overrides: file})
	if err := r.d.SetOverride(ctx, "web/a", OverrideDrain); err != nil {
		t.Fatal(err)
	}
	if err := r.d.SetOverride(ctx, "web/b", OverrideDisable); err != nil {
		t.Fatal(err)
	}
	if err := r.d.SetOverride(ctx, "web/b", OverrideNone); err != nil {
		t.Fatal(err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"real_server": "web/a"`) || !strings.Contains(string(raw), `"override": "drain"`) || strings.Contains(string(raw), "web/b") {
		t.Fatalf("overrides file:\n%s", raw)
	}

	// The next run adopts the table with web/a at weight 0: no write.
	writes := r.mem.Writes()
	r2 := newRig(t, src, rigOpts{mem: r.mem, overrides: file})
	lineA := fmt.Sprintf("-a -t 192.0.2.1:80 -r %s -m -w 0", a.addr)
	if !has(r2.kernel(), lineA) || r.mem.Writes() != writes {
		t.Fatalf("after the restart, %d writes: kernel\n%s", r.mem.Writes()-writes, strings.Join(r2.kernel(), "\n"))
	}
	st := r2.d.Status()
	if len(st.Overrides) != 1 || st.Overrides[0].RealServer != "web/a" || st.Overrides[0].Override != OverrideDrain || !st.Overrides[0].Since.Equal(t0) {
		t.Fatalf("overrides after the restart: %+v", st.Overrides)
	}
	if len(r2.logged("operator override restored")) != 1 {
		t.Fatal("the restored override was not logged")
	}

	// An override that cannot be saved is refused and changes nothing
	// (the file's directory is replaced by a file: even root cannot write).
	dir := filepath.Dir(file)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r2.d.SetOverride(ctx, "web/b", OverrideDrain); err == nil || !strings.Contains(err.Error(), "override not applied") {
		t.Fatalf("unsaveable override: %v", err)
	}
	if st := r2.d.Status(); len(st.Overrides) != 1 || !has(r2.kernel(), fmt.Sprintf("-a -t 192.0.2.1:80 -r %s -m -w 1", b.addr)) {
		t.Fatalf("after a refused override: %+v, kernel\n%s", st.Overrides, strings.Join(r2.kernel(), "\n"))
	}
	if len(r2.logged("operator override refused: cannot save it")) != 1 {
		t.Fatal("the refused override was not logged")
	}
	r2.stop()
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	// A corrupt file stops New with its name.
	for _, bad := range []string{"{", `{"overrides":[{"real_server":"web/a","override":"maintenance"}]}`, `{"overrides":[],"extra":1}`} {
		if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := New(Options{Config: parse(t, src), Backend: ipvs.NewMemory(ipvs.Table{}), OverridesFile: file})
		if err == nil || !strings.Contains(err.Error(), file) {
			t.Fatalf("corrupt overrides file %q: %v", bad, err)
		}
	}
}

// Quorum, the sorry server and hooks.
func TestDirectorQuorumSorryServerAndHooks(t *testing.T) {
	port := freePort(t)
	a, b := newServer(t, 2, port), newServer(t, 3, port)
	extra := `
  quorum     = 3
  hysteresis = 1
  sorry_server { address = "127.0.0.9:8080" }
  notify "quorum_down" { command = ["/bin/qdown", "x"] }
  notify "quorum_up" { command = ["/bin/qup"] }
`
	src := strings.Replace(twoServers(a, b, extra), `weight  = 1
  }`, `weight  = 1
    notify "down" {
      command = ["/bin/rsdown"]
      timeout = "5s"
    }
  }`, 1)
	r := newRig(t, src, rigOpts{})
	lineA := func(w int) string { return fmt.Sprintf("-a -t 192.0.2.1:80 -r %s -m -w %d", a.addr, w) }
	sorry := "-a -t 192.0.2.1:80 -r 127.0.0.9:8080 -m -w 1"

	b.stop() // 3 of 4 left: exactly quorum, still up
	r.until(time.Second, "b down", func() bool { return !r.rs("web/b").Up })
	if has(r.kernel(), sorry) || !r.d.Status().VirtualServers[0].QuorumUp {
		t.Fatal("at quorum, the sorry server came in")
	}
	a.stop() // 0: below quorum
	r.until(time.Second, "the sorry server", func() bool { return has(r.kernel(), sorry) })
	if k := r.kernel(); len(k) != 2 {
		t.Fatalf("below quorum:\n%s", strings.Join(k, "\n"))
	}
	vs := r.d.Status().VirtualServers[0]
	if vs.QuorumUp || !vs.SorryActive || vs.WeightUp != 0 {
		t.Fatalf("status %+v", vs)
	}

	b.start() // 1 of 4: below quorum + hysteresis; up servers stay quiesced
	r.until(time.Second, "b up", func() bool { return r.rs("web/b").Up })
	if st := r.rs("web/b"); !st.InTable || st.EffectiveWeight != 0 || !has(r.kernel(), sorry) {
		t.Fatalf("b up below quorum: %+v", st)
	}
	a.start() // 4: at quorum + hysteresis
	r.until(time.Second, "quorum back", func() bool { return has(r.kernel(), lineA(3)) })
	if has(r.kernel(), sorry) || !r.d.Status().VirtualServers[0].QuorumUp {
		t.Fatalf("quorum back:\n%s", strings.Join(r.kernel(), "\n"))
	}

	// Hooks run off the loop; wait for them.
	var cmds []hook.Command
	r.until(time.Millisecond, "hooks", func() bool { cmds = r.hooks.list(); return len(cmds) >= 3 })
	var names []string
	for _, c := range cmds {
		names = append(names, c.Path)
	}
	if !slices.Equal(names, []string{"/bin/rsdown", "/bin/qdown", "/bin/qup"}) {
		t.Fatalf("hooks run: %q", names)
	}
	env := map[string]string{}
	for _, e := range cmds[0].Env {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	want := map[string]string{"LVSD_EVENT": "down", "LVSD_NODE": "test", "LVSD_VS": "web", "LVSD_VS_SERVICES": "tcp 192.0.2.1:80",
		"LVSD_RS": "web/b", "LVSD_RS_ADDR": b.addr.String(), "LVSD_RS_WEIGHT": "1"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("down hook %s=%q, want %q", k, env[k], v)
		}
	}
	if !strings.Contains(env["LVSD_REASON"], "connection refused") || cmds[0].Timeout != 5*time.Second {
		t.Errorf("down hook reason %q timeout %v", env["LVSD_REASON"], cmds[0].Timeout)
	}
	if !slices.Contains(cmds[1].Env, "LVSD_WEIGHT_UP=0") || !slices.Contains(cmds[1].Env, "LVSD_QUORUM=3") || !slices.Equal(cmds[1].Args, []string{"x"}) ||
		!slices.Contains(cmds[2].Env, "LVSD_WEIGHT_UP=4") || !slices.Contains(cmds[2].Env, "LVSD_EVENT=quorum_up") {
		t.Errorf("quorum hooks: %+v", cmds[1:])
	}
	if n, m := len(r.logged("virtual server down: below quorum")), len(r.logged("virtual server up: quorum reached")); n != 1 || m != 1 {
		t.Errorf("quorum log lines: %d down, %d up", n, m)
	}
}

// inhibit_on_failure keeps a failed server at weight 0; an exec check with
// dynamic weight sets the weight.
func TestDirectorInhibitAndDynamicWeight(t *testing.T) {
	dir := t.TempDir()
	codeFile := filepath.Join(dir, "code")
	os.WriteFile(codeFile, []byte("0"), 0o644)
	script := filepath.Join(dir, "check.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nexit $(cat "+codeFile+")\n"), 0o755)
	port := freePort(t)
	a := newServer(t, 2, port)
	src := fmt.Sprintf(`
virtual_server "v" {
  address = "192.0.2.1:80"
  real_server {
    name               = "a"
    address            = "%s"
    weight             = 4
    inhibit_on_failure = true
    check "tcp" {
      interval = "1s"
      warmup   = "0s"
      fall     = 1
      rise     = 1
    }
  }
  real_server {
    name    = "x"
    address = "127.0.0.5:80"
    weight  = 4
    check "exec" {
      command        = ["%s"]
      dynamic_weight = true
      interval       = "1s"
      warmup         = "0s"
      fall           = 1
      rise           = 1
    }
  }
}
`, a.addr, script)
	r := newRig(t, src, rigOpts{})
	a.stop()
	lineA0 := fmt.Sprintf("-a -t 192.0.2.1:80 -r %s -m -w 0", a.addr)
	r.until(time.Second, "a at weight 0", func() bool { return has(r.kernel(), lineA0) })
	if st := r.rs("v/a"); st.Up || !st.InTable {
		t.Fatalf("inhibited: %+v", st)
	}
	if e := r.logged("real server down"); len(e) != 1 || e[0].Data["action"] != "weight 0 (inhibit_on_failure)" {
		t.Fatalf("down line %v", e)
	}

	os.WriteFile(codeFile, []byte("9"), 0o644)
	r.until(time.Second, "dynamic weight 7", func() bool { return has(r.kernel(), "-a -t 192.0.2.1:80 -r 127.0.0.5:80 -m -w 7") })
	if st := r.rs("v/x"); st.DynamicWeight != 7 || st.ConfiguredWeight != 4 || st.EffectiveWeight != 7 {
		t.Fatalf("dynamic: %+v", st)
	}
	os.WriteFile(codeFile, []byte("1"), 0o644)
	r.until(time.Second, "x out", func() bool { return !strings.Contains(strings.Join(r.kernel(), "\n"), "127.0.0.5:80") })
}

// Drift made by hand is repaired at the next resync and counted.
func TestDirectorRepairsDrift(t *testing.T) {
	port := freePort(t)
	a, b := newServer(t, 2, port), newServer(t, 3, port)
	r := newRig(t, twoServers(a, b, ""), rigOpts{})
	want := r.kernel()
	key := ipvs.AddrKey(ipvs.TCP, netip.MustParseAddrPort("192.0.2.1:80"))
	r.mem.Edit(func(t *ipvs.Table) { t.Delete(key) })
	r.until(time.Second, "the service restored", func() bool { return slices.Equal(r.kernel(), want) })
	st := r.d.Status().Sync
	if st.DriftRepairs != 3 || st.FullSyncs < 2 {
		t.Fatalf("sync status %+v, want 3 drift repairs", st)
	}
	if e := r.logged("IPVS table drifted from what lvsd programmed; repairing"); len(e) != 3 {
		t.Fatalf("%d drift lines, want one per repaired item (3)", len(e))
	}
}

// A restarted director adopts the kernel with zero writes, start_down
// checks included; remove_on_stop removes only what lvsd owns.
func TestDirectorRestartAndRemoveOnStop(t *testing.T) {
	port := freePort(t)
	a, b := newServer(t, 2, port), newServer(t, 3, port)
	state := filepath.Join(t.TempDir(), "owned")
	foreign := ipvs.NewTable(ipvs.VirtualService{Service: ipvs.Service{ServiceKey: ipvs.AddrKey(ipvs.TCP, netip.MustParseAddrPort("192.0.2.99:22")), Scheduler: "rr"}})
	mem := ipvs.NewMemory(foreign)
	src := strings.ReplaceAll(twoServers(a, b, ""), `warmup   = "0s"`, `warmup   = "0s"
    start_down = true`)
	r := newRig(t, src, rigOpts{mem: mem, stateFile: state})
	r.until(time.Second, "both up", func() bool { return r.mem.Table().NumDestinations() == 2 })
	want := r.kernel()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.kernel(), want) {
		t.Fatal("stopping changed the table")
	}

	w := mem.Writes()
	src2 := strings.Replace(src, `ipvs { resync_interval = "10s" }`, `ipvs {
  resync_interval = "10s"
  remove_on_stop  = true
}`, 1)
	r2 := newRig(t, src2, rigOpts{mem: mem, stateFile: state})
	if mem.Writes() != w || !slices.Equal(r2.kernel(), want) {
		t.Fatalf("restart: %d writes; kernel\n%s", mem.Writes()-w, strings.Join(r2.kernel(), "\n"))
	}
	if st := r2.rs("web/a"); !st.Up {
		t.Fatalf("a start_down server found serving in the kernel started down: %+v", st)
	}
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
	if !mem.Table().Equal(foreign) {
		t.Fatalf("remove_on_stop left:\n%s", mem.Table())
	}
}

package checkers

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// harness runs a Runner on a fake clock and collects its verdicts and
// log lines.
type harness struct {
	t        *testing.T
	r        *Runner
	clock    *clockwork.FakeClock
	verdicts chan Verdict
	logs     *logtest.Hook
	obs      atomic.Int64
}

func newHarness(t *testing.T, mod func(*Options)) *harness {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.InfoLevel)
	h := &harness{t: t, clock: clockwork.NewFakeClockAt(t0), verdicts: make(chan Verdict, 1000), logs: hook}
	o := Options{
		Clock:   h.clock,
		Rand:    rand.New(rand.NewPCG(1, 2)),
		Log:     logger,
		Notify:  func(v Verdict) { h.verdicts <- v },
		Observe: func(Observation) { h.obs.Add(1) },
	}
	if mod != nil {
		mod(&o)
	}
	h.r = NewRunner(o)
	return h
}

// start runs the runner until the test ends.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.r.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			h.t.Error("Run did not return after cancel")
		}
	})
}

func (h *harness) update(regs ...Registration) {
	h.t.Helper()
	if err := h.r.Update(regs); err != nil {
		h.t.Fatalf("Update: %v", err)
	}
	h.settle()
}

// settle waits until every due check has run.
func (h *harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !h.r.idle() {
		if time.Now().After(deadline) {
			h.t.Fatal("runner did not settle within 15s")
		}
		time.Sleep(time.Millisecond)
	}
}

// step moves the clock on by d and waits for the checks that fell due.
func (h *harness) step(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(d)
	h.settle()
}

// next returns the next verdict sent to Notify.
func (h *harness) next() Verdict {
	h.t.Helper()
	select {
	case v := <-h.verdicts:
		return v
	case <-time.After(10 * time.Second):
		h.t.Fatal("no verdict within 10s")
	}
	return Verdict{}
}

// quiet asserts that no verdict is pending.
func (h *harness) quiet() {
	h.t.Helper()
	select {
	case v := <-h.verdicts:
		h.t.Fatalf("unexpected verdict %+v", v)
	case <-time.After(20 * time.Millisecond):
	}
}

func (h *harness) status() []Status { return h.r.Status() }

func (h *harness) only() Status {
	h.t.Helper()
	st := h.status()
	if len(st) != 1 {
		h.t.Fatalf("%d checks, want 1", len(st))
	}
	return st[0]
}

// transitions returns the log lines about check transitions.
func (h *harness) transitions() []string {
	var out []string
	for _, e := range h.logs.AllEntries() {
		if e.Level <= logrus.InfoLevel && e.Data["check"] != nil {
			out = append(out, e.Message+" "+e.Data["check"].(string)+": "+e.Data["reason"].(string))
		}
	}
	return out
}

// fast settings for fake-clock tests: first check at once.
func fast(s Settings) Settings {
	s.Interval = time.Second
	s.Warmup = -1
	if s.Rise == 0 {
		s.Rise = 2
	}
	if s.Fall == 0 {
		s.Fall = 3
	}
	if s.Timeout == 0 {
		s.Timeout = 500 * time.Millisecond
	}
	return s
}

// fallRise drives one check of one owner down and up again with the fake
// clock, asserting the verdict changes at exactly the fall-th failure and
// the rise-th success, with one log line per transition.
func fallRise(t *testing.T, h *harness, def Definition, healthy func(bool)) {
	t.Helper()
	def.Settings = fast(def.Settings)
	rise, fall := def.Settings.Rise, def.Settings.Fall
	h.update(Registration{Owner: "vs/rs", Check: def})
	if v := h.next(); !v.Initial || !v.Up || v.Owner != "vs/rs" {
		t.Fatalf("initial verdict %+v", v)
	}
	st := h.only()
	if st.Runs != 1 || !st.Last.OK {
		t.Fatalf("first check: %+v", st)
	}
	for i := 0; i < 3; i++ {
		h.step(time.Second)
	}
	if st := h.only(); st.Runs != 4 || st.Failures != 0 {
		t.Fatalf("healthy: %+v", st)
	}

	healthy(false)
	for i := 1; i <= fall; i++ {
		h.step(time.Second)
		st := h.only()
		if st.Last.OK {
			t.Fatalf("failure %d: the check passed: %+v", i, st.Last)
		}
		if i < fall {
			if !st.Up || st.Doubt != i {
				t.Fatalf("after %d of %d failures: up=%v doubt=%d", i, fall, st.Up, st.Doubt)
			}
			h.quiet()
			continue
		}
		if st.Up {
			t.Fatalf("still up after %d failures", fall)
		}
	}
	v := h.next()
	if v.Up || v.Initial || v.Check != def.ID() || v.Reason == "" || v.Result.OK || v.Reason != v.Result.Reason {
		t.Fatalf("down verdict %+v", v)
	}
	t.Logf("down: %s", v.Reason)

	healthy(true)
	for i := 1; i <= rise; i++ {
		h.step(time.Second)
		st := h.only()
		if !st.Last.OK {
			t.Fatalf("success %d: the check failed: %+v", i, st.Last)
		}
		if i < rise {
			if st.Up {
				t.Fatalf("up after %d of %d successes", i, rise)
			}
			h.quiet()
		}
	}
	if v := h.next(); !v.Up || !v.Result.OK {
		t.Fatalf("up verdict %+v", v)
	}
	if st := h.only(); st.Transitions != 2 || st.Runs != uint64(4+fall+rise) {
		t.Fatalf("final status %+v", st)
	}
	if got := h.transitions(); len(got) != 2 || !strings.HasPrefix(got[0], "check down") || !strings.HasPrefix(got[1], "check up") {
		t.Fatalf("log lines %q, want one per transition", got)
	}
}

func TestFallRiseTCP(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	srv := startTCP(t, "127.0.0.1:0", nil)
	addr := srv.Addr()
	var mu sync.Mutex
	healthy := func(up bool) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			srv.Close()
			return
		}
		srv = startTCP(t, addr.String(), nil)
	}
	fallRise(t, h, Definition{Target: addr, Spec: TCPSpec{}}, healthy)
}

func TestFallRiseHTTP(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	h := newHarness(t, nil)
	h.start()
	web := startWeb(t, httpHandler(&status), nil)
	fallRise(t, h, Definition{Target: web.Addr(), Spec: HTTPSpec{Path: "/health"}}, func(up bool) {
		status.Store(map[bool]int32{true: 200, false: 503}[up])
	})
}

func TestFallRiseHTTPS(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	cert, _, _ := selfSigned(t, t.TempDir(), "server", "127.0.0.1")
	h := newHarness(t, nil)
	h.start()
	web := startWeb(t, httpHandler(&status), tlsConfig(cert))
	fallRise(t, h, Definition{Target: web.Addr(), Settings: Settings{Rise: 1, Fall: 2}, Spec: HTTPSpec{TLS: true, Insecure: true}}, func(up bool) {
		status.Store(map[bool]int32{true: 200, false: 500}[up])
	})
}

func TestFallRiseExec(t *testing.T) {
	dir := t.TempDir()
	flag := dir + "/healthy"
	touch(t, flag)
	script := writeScript(t, dir, "check.sh", "test -e "+flag+"\n")
	h := newHarness(t, nil)
	h.start()
	fallRise(t, h, Definition{Target: netip.MustParseAddrPort("127.0.0.1:80"), Settings: Settings{Timeout: 5 * time.Second}, Spec: ExecSpec{Command: []string{script}}}, func(up bool) {
		if up {
			touch(t, flag)
		} else {
			removeFile(t, flag)
		}
	})
}

func TestFallRiseDNS(t *testing.T) {
	srv := startDNS(t, mustAddr("192.0.2.1"))
	h := newHarness(t, nil)
	h.start()
	fallRise(t, h, Definition{Target: srv.Addr(), Settings: Settings{Rise: 3, Fall: 1}, Spec: DNSSpec{Name: "www.example.test", Type: "A", Expect: []netip.Addr{mustAddr("192.0.2.1")}}}, func(up bool) {
		srv.rcode.Store(map[bool]int32{true: 0, false: 2}[up])
	})
}

func TestFallRiseUDP(t *testing.T) {
	srv := startUDP(t, "127.0.0.1:0")
	h := newHarness(t, nil)
	h.start()
	fallRise(t, h, Definition{Target: srv.Addr(), Settings: Settings{Timeout: 200 * time.Millisecond}, Spec: UDPSpec{Payload: []byte("hi"), Expect: "^echo:hi$"}}, func(up bool) {
		srv.silent.Store(!up)
	})
}

// ICMP across a veth link, dropped by nftables in the server namespace;
// the runner's workers run the check inside the client namespace.
func TestFallRiseICMP(t *testing.T) {
	l := newLab(t)
	h := newHarness(t, func(o *Options) {})
	h.r.wrap = l.in
	h.start()
	fallRise(t, h, Definition{Target: netip.AddrPortFrom(srv6, 0), Settings: Settings{Timeout: 200 * time.Millisecond}, Spec: ICMPSpec{}}, func(up bool) {
		if up {
			l.firewall()
		} else {
			l.firewall("icmpv6 type echo-request drop")
		}
	})
}

// The same check of the same target registered by several owners runs
// once and feeds all of them.
func TestRunnerDeduplicates(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	h := newHarness(t, nil)
	h.start()
	def := Definition{Target: srv.Addr(), Settings: fast(Settings{Fall: 1}), Spec: TCPSpec{}}
	// vs2 serves the same real server on another port but checks port 80
	// the same way: the same check.
	other := def
	other.Target = netip.AddrPortFrom(srv.Addr().Addr(), 8443)
	other.Settings.Port = srv.Addr().Port()
	h.update(
		Registration{Owner: "vs1/rs1", Check: def},
		Registration{Owner: "vs2/rs1", Check: other},
		Registration{Owner: "vs2/rs1", Check: other}, // a duplicate line
	)
	st := h.only()
	if len(st.Owners) != 2 || st.Owners[0] != "vs1/rs1" || st.Owners[1] != "vs2/rs1" {
		t.Fatalf("owners %v", st.Owners)
	}
	got := map[string]bool{}
	for range 2 {
		v := h.next()
		got[v.Owner] = v.Initial && v.Up
	}
	if !got["vs1/rs1"] || !got["vs2/rs1"] {
		t.Fatalf("initial verdicts %v", got)
	}
	for range 4 {
		h.step(time.Second)
	}
	if n := srv.accepted.Load(); n != 5 {
		t.Fatalf("server saw %d connections in 5 intervals, want 5 (one check)", n)
	}
	srv.Close()
	h.step(time.Second)
	downs := map[string]bool{}
	for range 2 {
		v := h.next()
		downs[v.Owner] = !v.Up
	}
	if !downs["vs1/rs1"] || !downs["vs2/rs1"] {
		t.Fatalf("down verdicts %v", downs)
	}
	if got := h.transitions(); len(got) != 1 {
		t.Fatalf("log lines %q, want one for the one check", got)
	}
}

// Update with an unchanged definition keeps the check's state and
// schedule; a changed one restarts it without flapping the owner; a
// removed one stops.
func TestRunnerUpdate(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	addr := srv.Addr()
	h := newHarness(t, nil)
	h.start()
	def := Definition{Target: addr, Settings: fast(Settings{Fall: 1}), Spec: TCPSpec{}}
	reg := Registration{Owner: "vs1/rs1", Check: def}
	h.update(reg)
	h.next()
	srv.Close()
	h.step(time.Second)
	if v := h.next(); v.Up {
		t.Fatalf("verdict %+v, want down", v)
	}
	before := h.only()

	// Same definition, plus a new owner of the same check.
	h.update(reg, Registration{Owner: "vs2/rs1", Check: def})
	after := h.only()
	if after.ID != before.ID || after.Up || after.Runs != before.Runs || !after.Next.Equal(before.Next) || after.Transitions != 1 {
		t.Fatalf("unchanged definition lost its state:\nbefore %+v\nafter  %+v", before, after)
	}
	if v := h.next(); v.Owner != "vs2/rs1" || !v.Initial || v.Up || v.Reason != "registered down" {
		t.Fatalf("new owner's verdict %+v", v)
	}
	h.quiet()
	if v, ok := h.r.State("vs1/rs1"); !ok || v.Up {
		t.Fatalf("State(vs1/rs1) = %+v, %v", v, ok)
	}

	// Changed definition: a new check that starts from the old verdict
	// (down), so the owners see no change until it has evidence.
	changed := def
	changed.Settings.Rise = 1
	changed.Settings.Warmup = 0 // spread over the interval
	h.update(Registration{Owner: "vs1/rs1", Check: changed}, Registration{Owner: "vs2/rs1", Check: changed})
	st := h.only()
	if st.ID == before.ID || st.Runs != 0 || st.Up {
		t.Fatalf("changed definition: %+v", st)
	}
	if st.Next.Before(t0.Add(time.Second)) || !st.Next.Before(t0.Add(2*time.Second)) {
		t.Fatalf("restarted check due at %v, want within one interval (warmup) of %v", st.Next, t0.Add(time.Second))
	}
	h.quiet()
	srv = startTCP(t, addr.String(), nil)
	h.step(time.Second)
	ups := map[string]bool{}
	for range 2 {
		v := h.next()
		ups[v.Owner] = v.Up
	}
	if !ups["vs1/rs1"] || !ups["vs2/rs1"] {
		t.Fatalf("after restart: %v", ups)
	}

	// Removed: the check stops; no connection after.
	h.update()
	if st := h.status(); len(st) != 0 {
		t.Fatalf("checks after removal: %+v", st)
	}
	n := srv.accepted.Load()
	for range 3 {
		h.step(time.Second)
	}
	if got := srv.accepted.Load(); got != n {
		t.Fatalf("removed check still connects: %d -> %d", n, got)
	}
	if _, ok := h.r.State("vs1/rs1"); ok {
		t.Fatal("removed owner still has a state")
	}
}

// A run in flight when its check is removed is cancelled at once, and its
// result is dropped.
func TestRunnerUpdateCancelsInFlight(t *testing.T) {
	gotConn := make(chan struct{}, 1)
	closed := make(chan time.Time, 1)
	srv := startTCP(t, "127.0.0.1:0", func(c net.Conn) {
		gotConn <- struct{}{}
		hold(c)
		closed <- time.Now()
	})
	h := newHarness(t, nil)
	h.start()
	def := Definition{Target: srv.Addr(), Settings: fast(Settings{Fall: 1, Timeout: 10 * time.Second}), Spec: TCPSpec{Expect: "never"}}
	if err := h.r.Update([]Registration{{Owner: "o", Check: def}}); err != nil {
		t.Fatal(err)
	}
	h.next()
	<-gotConn
	start := time.Now()
	if err := h.r.Update(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-closed:
		if d := at.Sub(start); d > 2*time.Second {
			t.Fatalf("in-flight check ended %v after removal", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight check not cancelled")
	}
	h.settle()
	h.quiet()
}

// Warmup spreads first checks uniformly over the window, reproducibly for
// a seeded Rand.
func TestRunnerWarmup(t *testing.T) {
	next := func(seed uint64) []time.Time {
		h := newHarness(t, func(o *Options) { o.Rand = rand.New(rand.NewPCG(seed, seed)) })
		var regs []Registration
		for i := range 1000 {
			a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(i%250 + 1)}), 80)
			regs = append(regs, Registration{Owner: a.String(), Check: Definition{Target: a, Settings: Settings{Interval: 10 * time.Second}, Spec: TCPSpec{}}})
		}
		if err := h.r.Update(regs); err != nil {
			t.Fatal(err)
		}
		var out []time.Time
		for _, s := range h.status() {
			out = append(out, s.Next)
		}
		return out
	}
	a, b, c := next(7), next(7), next(8)
	buckets := make([]int, 10)
	same := true
	for i := range a {
		off := a[i].Sub(t0)
		if off < 0 || off >= 10*time.Second {
			t.Fatalf("first check at +%v, outside the 10s warmup", off)
		}
		buckets[off/time.Second]++
		if !a[i].Equal(b[i]) {
			t.Fatal("the same seed gave another schedule")
		}
		same = same && a[i].Equal(c[i])
	}
	if same {
		t.Fatal("another seed gave the same schedule")
	}
	for i, n := range buckets {
		if n < 50 || n > 150 {
			t.Fatalf("second %d of the warmup holds %d of 1000 first checks: not spread (%v)", i, n, buckets)
		}
	}
}

func TestRunnerStartDown(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	h := newHarness(t, nil)
	h.start()
	def := Definition{Target: srv.Addr(), Settings: fast(Settings{StartDown: true, Rise: 3}), Spec: TCPSpec{}}
	h.update(Registration{Owner: "o", Check: def})
	if v := h.next(); !v.Initial || v.Up || v.Reason != "registered down" {
		t.Fatalf("initial %+v", v)
	}
	h.step(time.Second)
	h.quiet()
	h.step(time.Second)
	if v := h.next(); !v.Up {
		t.Fatalf("after 3 successes: %+v", v)
	}
}

// AssumeUp: a restarted director's real server that is already serving
// starts up despite StartDown; it still goes down after fall failures, and
// the same check registered again later keeps its state.
func TestRunnerAssumeUp(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	h := newHarness(t, nil)
	h.start()
	def := Definition{Target: srv.Addr(), Settings: fast(Settings{StartDown: true, Fall: 2}), Spec: TCPSpec{}}
	h.update(Registration{Owner: "o", Check: def, AssumeUp: true}, Registration{Owner: "p", Check: def})
	for range 2 {
		if v := h.next(); !v.Initial || !v.Up {
			t.Fatalf("initial %+v, want up for both owners of the shared check", v)
		}
	}
	srv.Close()
	h.step(time.Second)
	h.step(time.Second)
	for range 2 {
		if v := h.next(); v.Up {
			t.Fatalf("after 2 failures: %+v", v)
		}
	}
	h.update(Registration{Owner: "o", Check: def, AssumeUp: true})
	if v, _ := h.r.State("o"); v.Up {
		t.Fatalf("AssumeUp changed a running check: %+v", v)
	}
}

// Exec checks with dynamic weight report weight changes while up, as
// keepalived's misc_dynamic does.
func TestRunnerDynamicWeight(t *testing.T) {
	dir := t.TempDir()
	codeFile := dir + "/code"
	setCode := func(s string) { writeFile(t, codeFile, s) }
	setCode("0")
	script := writeScript(t, dir, "w.sh", "exit $(cat "+codeFile+")\n")
	h := newHarness(t, nil)
	h.start()
	def := Definition{Target: netip.MustParseAddrPort("127.0.0.1:80"), Settings: fast(Settings{Fall: 2, Timeout: 5 * time.Second}), Spec: ExecSpec{Command: []string{script}, DynamicWeight: true}}
	h.update(Registration{Owner: "o", Check: def})
	if v := h.next(); !v.Up || v.Weight != -1 {
		t.Fatalf("initial %+v", v)
	}
	setCode("12")
	h.step(time.Second)
	if v := h.next(); !v.Up || v.Weight != 10 {
		t.Fatalf("exit 12: %+v, want weight 10", v)
	}
	h.step(time.Second)
	h.quiet() // same weight again: nothing to say
	setCode("0")
	h.step(time.Second)
	h.quiet() // exit 0 keeps the weight in force
	setCode("7")
	h.step(time.Second)
	if v := h.next(); !v.Up || v.Weight != 5 {
		t.Fatalf("exit 7: %+v, want weight 5", v)
	}
	setCode("1")
	h.step(time.Second)
	h.quiet()
	h.step(time.Second)
	if v := h.next(); v.Up {
		t.Fatalf("exit 1 twice: %+v, want down", v)
	}
	if st := h.only(); st.Weight != 5 {
		t.Fatalf("status weight %d", st.Weight)
	}
}

// An owner with several checks is up only while all are up.
func TestRunnerOwnerNeedsAllChecks(t *testing.T) {
	tcp := startTCP(t, "127.0.0.1:0", nil)
	var status atomic.Int32
	status.Store(200)
	web := startWeb(t, httpHandler(&status), nil)
	h := newHarness(t, nil)
	h.start()
	s := fast(Settings{Fall: 1, Rise: 1})
	h.update(
		Registration{Owner: "o", Check: Definition{Target: tcp.Addr(), Settings: s, Spec: TCPSpec{}}},
		Registration{Owner: "o", Check: Definition{Target: web.Addr(), Settings: s, Spec: HTTPSpec{}}},
		Registration{Owner: "tcp-only", Check: Definition{Target: tcp.Addr(), Settings: s, Spec: TCPSpec{}}},
	)
	h.next()
	h.next()
	status.Store(500)
	h.step(time.Second)
	if v := h.next(); v.Owner != "o" || v.Up || v.Reason != "status 500 not in 200-299" {
		t.Fatalf("%+v", v)
	}
	h.quiet() // tcp-only is not affected
	status.Store(200)
	h.step(time.Second)
	if v := h.next(); v.Owner != "o" || !v.Up {
		t.Fatalf("%+v", v)
	}
	// Dropping the failing check from an owner brings it up at Update.
	tcp.Close()
	h.step(time.Second)
	for range 2 {
		if v := h.next(); v.Up {
			t.Fatalf("%+v", v)
		}
	}
	h.update(Registration{Owner: "o", Check: Definition{Target: web.Addr(), Settings: s, Spec: HTTPSpec{}}})
	if v := h.next(); v.Owner != "o" || !v.Up || v.Reason != "checks changed" || v.Initial {
		t.Fatalf("%+v", v)
	}
	if v, _ := h.r.State("o"); !v.Up {
		t.Fatalf("State %+v", v)
	}
}

// Healthy checks log nothing; Update errors change nothing.
func TestRunnerQuietAndStrict(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	h := newHarness(t, nil)
	h.start()
	good := Registration{Owner: "o", Check: Definition{Target: srv.Addr(), Settings: fast(Settings{}), Spec: TCPSpec{}}}
	h.update(good)
	for range 20 {
		h.step(time.Second)
	}
	if got := h.transitions(); len(got) != 0 {
		t.Fatalf("healthy checks logged %q", got)
	}
	// A reload that changes nothing logs nothing; one that adds a check
	// logs one summary line.
	h.update(good)
	countUpdates := func() (n int) {
		for _, e := range h.logs.AllEntries() {
			if e.Message == "checks updated" {
				n++
			}
		}
		return n
	}
	if n := countUpdates(); n != 1 {
		t.Fatalf("%d 'checks updated' lines after two updates, one of them a no-op; want 1", n)
	}
	if h.obs.Load() != 21 {
		t.Fatalf("Observe saw %d runs, want 21", h.obs.Load())
	}
	bad := Registration{Owner: "vs9/rs9", Check: Definition{Target: srv.Addr(), Spec: HTTPSpec{Path: "nope"}}}
	err := h.r.Update([]Registration{bad, {Owner: "x", Check: Definition{Target: srv.Addr(), Spec: TCPSpec{}}}})
	if err == nil || !strings.Contains(err.Error(), "vs9/rs9: http check of "+srv.Addr().String()+`: path "nope" does not start with /`) {
		t.Fatalf("Update error %v", err)
	}
	if st := h.only(); st.Owners[0] != "o" || st.Runs != 21 {
		t.Fatalf("a failed Update changed the checks: %+v", st)
	}
	if err := h.r.Update([]Registration{{Check: good.Check}}); err == nil {
		t.Fatal("a registration without an owner was accepted")
	}
	if err := h.r.Run(context.Background()); err == nil {
		t.Fatal("second Run accepted")
	}
}

// MaxConcurrent bounds the checks in flight; late checks wait, and the
// delay shows in Status.
func TestRunnerMaxConcurrent(t *testing.T) {
	var cur, peak atomic.Int64
	srv := startTCP(t, "127.0.0.1:0", func(c net.Conn) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		cur.Add(-1) // before the reply frees the checker's worker
		c.Write([]byte("ok"))
		hold(c)
	})
	// The real clock: the start delay is measured on the runner's clock.
	h := newHarness(t, func(o *Options) { o.MaxConcurrent = 2; o.Clock = clockwork.NewRealClock() })
	h.start()
	var regs []Registration
	for i := range 8 {
		regs = append(regs, Registration{Owner: string(rune('a' + i)), Check: Definition{
			Target: srv.Addr(), Settings: Settings{Interval: time.Minute, Warmup: -1, Fall: 1 + i, Timeout: 5 * time.Second}, Spec: TCPSpec{Expect: "ok"}}})
	}
	h.update(regs...)
	if p := peak.Load(); p > 2 || p < 1 {
		t.Fatalf("%d checks ran at once, want at most 2", p)
	}
	var late int
	for _, s := range h.status() {
		if s.Runs != 1 || !s.Last.OK {
			t.Fatalf("%+v", s)
		}
		if s.LastDelay >= 40*time.Millisecond {
			late++
		}
	}
	// 8 checks of 50ms, 2 at a time: 6 of them wait for a worker.
	if late < 6 {
		t.Fatalf("%d checks recorded a start delay of at least 40ms, want 6", late)
	}
}

// The runner on the real clock with short intervals, to its end: every
// goroutine it started is gone after Run returns (TestMain checks leaks).
func TestRunnerRealClock(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	verdicts := make(chan Verdict, 100)
	logger, _ := logtest.NewNullLogger()
	r := NewRunner(Options{Log: logger, Notify: func(v Verdict) { verdicts <- v }})
	def := Definition{Target: srv.Addr(), Settings: Settings{Interval: 20 * time.Millisecond, Fall: 3, Rise: 2}, Spec: TCPSpec{}}
	if err := r.Update([]Registration{{Owner: "o", Check: def}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	wait := func(up bool) time.Duration {
		start := time.Now()
		for {
			select {
			case v := <-verdicts:
				if v.Up == up && !v.Initial {
					return time.Since(start)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no verdict up=%v within 10s", up)
			}
		}
	}
	time.Sleep(100 * time.Millisecond)
	srv.Close()
	if d := wait(false); d > 2*time.Second {
		t.Errorf("down after %v with 3 x 20ms", d)
	}
	startTCP(t, srv.Addr().String(), nil) // closed by the test cleanup
	if d := wait(true); d > 2*time.Second {
		t.Errorf("up after %v with 2 x 20ms", d)
	}
	if st := r.Status()[0]; st.Runs < 5 {
		t.Errorf("%d runs", st.Runs)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

// While the verdict is in doubt checks run every RetryInterval, otherwise
// every Interval.
func TestRunnerRetryInterval(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	h := newHarness(t, nil)
	h.start()
	def := Definition{Target: srv.Addr(), Settings: Settings{Interval: 10 * time.Second, RetryInterval: time.Second, Warmup: -1, Fall: 3, Rise: 2}, Spec: TCPSpec{}}
	h.update(Registration{Owner: "o", Check: def})
	h.next()
	if st := h.only(); !st.Next.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("healthy: next run at %v, want +10s", st.Next.Sub(t0))
	}
	srv.Close()
	h.step(10 * time.Second) // first failure
	if st := h.only(); st.Doubt != 1 || !st.Next.Equal(t0.Add(11*time.Second)) {
		t.Fatalf("in doubt: doubt %d, next at +%v, want 1 and +11s", st.Doubt, st.Next.Sub(t0))
	}
	h.step(time.Second)
	h.step(time.Second) // third failure: down, and no longer in doubt
	if st := h.only(); st.Up || st.Doubt != 0 || !st.Next.Equal(t0.Add(22*time.Second)) {
		t.Fatalf("down: %+v, want next at +22s", st)
	}
}

// A Notify that blocks does not stop the checks; the verdicts wait, and
// arrive in order with increasing Seq.
func TestRunnerSlowNotify(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	addr := srv.Addr()
	release := make(chan struct{})
	got := make(chan Verdict, 100)
	h := newHarness(t, func(o *Options) {
		o.Notify = func(v Verdict) {
			<-release
			got <- v
		}
	})
	h.start()
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	h.update(Registration{Owner: "o", Check: Definition{Target: addr, Settings: fast(Settings{Fall: 1, Rise: 1}), Spec: TCPSpec{}}})
	for i := range 6 {
		if i%2 == 0 {
			srv.Close()
		} else {
			srv = startTCP(t, addr.String(), nil)
		}
		h.step(time.Second)
	}
	if st := h.only(); st.Runs != 7 || st.Transitions != 6 {
		t.Fatalf("with Notify blocked: %+v", st)
	}
	close(release)
	var seq uint64
	for i := range 7 {
		var v Verdict
		select {
		case v = <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("verdict %d not delivered", i)
		}
		if v.Seq <= seq {
			t.Fatalf("verdict %d has Seq %d after %d", i, v.Seq, seq)
		}
		seq = v.Seq
		if want := i%2 == 0; v.Up != want {
			t.Fatalf("verdict %d: up=%v, want %v", i, v.Up, want)
		}
	}
	if v, _ := h.r.State("o"); v.Seq != seq {
		t.Fatalf("State Seq %d, last delivered %d", v.Seq, seq)
	}
}

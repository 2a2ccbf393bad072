package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// These tests run real Instances (goroutines, real clock) over an
// in-memory LAN with fake address owners: the runner's wiring, not the
// kernel. The namespace tests do the kernel.

type memLAN struct {
	mu    sync.Mutex
	conns []*memConn
}

type memConn struct {
	lan    *memLAN
	src    netip.Addr
	in     chan Received
	closed chan struct{}
	once   sync.Once
}

func (l *memLAN) conn(src netip.Addr) *memConn {
	c := &memConn{lan: l, src: src, in: make(chan Received, 256), closed: make(chan struct{})}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return c
}

func (c *memConn) Read() (Received, error) {
	select {
	case r := <-c.in:
		return r, nil
	case <-c.closed:
		return Received{}, errors.New("closed")
	}
}

func (c *memConn) WriteTo(msg []byte, dst netip.Addr) error {
	c.lan.mu.Lock()
	defer c.lan.mu.Unlock()
	for _, o := range c.lan.conns {
		if o == c || !(dst.IsMulticast() || dst == o.src) {
			continue // a unicast advert reaches its addressee only
		}
		select {
		case o.in <- Received{Src: c.src, Dst: dst, TTL: TTL, Msg: append([]byte(nil), msg...)}:
		default:
		}
	}
	return nil
}

func (c *memConn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

// inject delivers a raw packet to c as if from the wire.
func (c *memConn) inject(r Received) { c.in <- r }

type fakeOwner struct {
	mu        sync.Mutex
	owned     bool
	adds      []time.Time
	removes   []time.Time
	announces int
	stale     []netip.Prefix
	kept      [][]VIP
}

func (o *fakeOwner) add() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.owned = true
	o.adds = append(o.adds, time.Now())
	return nil
}

func (o *fakeOwner) remove() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.owned = false
	o.removes = append(o.removes, time.Now())
	return nil
}

// removeExcept keeps the address when keep is not empty (the fake has
// one address, as memConfig).
func (o *fakeOwner) removeExcept(keep []VIP) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.kept = append(o.kept, keep)
	if len(keep) == 0 {
		o.owned = false
		o.removes = append(o.removes, time.Now())
	}
	return nil
}

func (o *fakeOwner) removeStale() ([]netip.Prefix, error) { return o.stale, nil }

func (o *fakeOwner) announce(ctx context.Context, n int, gap time.Duration) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.announces += n
	return nil
}

func (o *fakeOwner) close() {}

func (o *fakeOwner) isOwned() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.owned
}

type memNode struct {
	inst   *Instance
	owner  *fakeOwner
	conn   *memConn
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	events []Event
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetLevel(logrus.WarnLevel)
	if testing.Verbose() {
		l.SetLevel(logrus.DebugLevel)
	}
	return logrus.NewEntry(l)
}

func memConfig(name string, prio uint8, intv time.Duration) Config {
	return Config{Name: name, Interface: "eth0", VRID: 7, Priority: prio, Version: 3, AdvertInterval: intv,
		VIPs: []VIP{{Prefix: netip.MustParsePrefix("10.9.0.100/24")}}, DontTrackPrimary: true}
}

func startMem(t *testing.T, lan *memLAN, addr string, cfg Config, opts ...Option) *memNode {
	t.Helper()
	cfg.SourceAddr = netip.MustParseAddr(addr)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg = cfg.withDefaults()
	o := options{log: quietLog()}
	for _, f := range opts {
		f(&o)
	}
	n := &memNode{owner: &fakeOwner{}, conn: lan.conn(cfg.SourceAddr), done: make(chan error, 1)}
	n.inst = newInstance(cfg, o, n.conn, n.owner, nil)
	return n
}

func (n *memNode) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() {
		for ev := range n.inst.Events() {
			n.mu.Lock()
			n.events = append(n.events, ev)
			n.mu.Unlock()
		}
	}()
	go func() { n.done <- n.inst.Run(ctx) }()
	t.Cleanup(func() { n.stop(t) })
}

func (n *memNode) stop(t *testing.T) {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("%s: Run: %v", n.inst.Name(), err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: Run did not return 5s after cancel", n.inst.Name())
	}
}

func (n *memNode) states() []State {
	n.mu.Lock()
	defer n.mu.Unlock()
	var s []State
	for _, e := range n.events {
		s = append(s, e.To)
	}
	return s
}

// waitFor polls cond every 5ms up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noLeaks fails t if goroutines started during the test outlive it.
func noLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestInstanceElectionAndHandover(t *testing.T) {
	noLeaks(t)
	lan := &memLAN{}
	intv := 30 * time.Millisecond
	// Priorities far apart: a's Master_Down_Interval is 18ms shorter, so b
	// never becomes master first (which would make a announce twice).
	a := startMem(t, lan, "10.9.0.1", memConfig("a", 250, intv))
	b := startMem(t, lan, "10.9.0.2", memConfig("b", 100, intv))
	a.run(t)
	b.run(t)
	waitFor(t, 2*time.Second, "a master", func() bool { return a.inst.Status().State == Master })
	time.Sleep(5 * intv)
	if !a.owner.isOwned() || b.owner.isOwned() || b.inst.Status().State != Backup {
		t.Fatalf("a owns %v, b owns %v state %v", a.owner.isOwned(), b.owner.isOwned(), b.inst.Status().State)
	}
	if s := b.inst.Status(); s.Master != netip.MustParseAddr("10.9.0.1") || s.MasterPriority != 250 {
		t.Fatalf("b sees master %v/%d", s.Master, s.MasterPriority)
	}
	if a.owner.announces != 5 {
		t.Fatalf("a announced %d times on takeover, want the first burst of 5", a.owner.announces)
	}

	// Graceful stop: a keeps the address until b's first advert.
	a.stop(t)
	// a released only after hearing b as master; b's status follows its
	// own I/O, so give it a moment.
	if !b.owner.isOwned() {
		t.Fatal("a stopped before b owned the address")
	}
	waitFor(t, time.Second, "b master", func() bool { return b.inst.Status().State == Master })
	a.owner.mu.Lock()
	b.owner.mu.Lock()
	released, took := a.owner.removes[len(a.owner.removes)-1], b.owner.adds[0]
	b.owner.mu.Unlock()
	a.owner.mu.Unlock()
	if released.Before(took) {
		t.Fatalf("a released at %v, before b took over at %v: a gap for clients", released, took)
	}
	if got := a.states(); fmt.Sprint(got) != "[BACKUP MASTER]" && fmt.Sprint(got) != "[BACKUP MASTER INIT]" {
		t.Fatalf("a's events %v", got)
	}
	st := a.inst.Stats()
	if st.Sent == 0 || st.PriorityZeroSent != 1 {
		t.Fatalf("a sent %d adverts, %d with priority 0; want some and one", st.Sent, st.PriorityZeroSent)
	}
	if b.inst.Stats().PriorityZeroRcvd != 1 {
		t.Fatalf("b got %d priority 0 adverts, want 1", b.inst.Stats().PriorityZeroRcvd)
	}
}

func TestInstanceCountsDrops(t *testing.T) {
	lan := &memLAN{}
	cfg := memConfig("a", 100, 30*time.Millisecond)
	a := startMem(t, lan, "10.9.0.1", cfg)
	a.run(t)
	src := netip.MustParseAddr("10.9.0.5")
	good := Advert{Version: 3, VRID: 7, Priority: 200, Interval: 30 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("10.9.0.100")}}
	enc := func(a Advert) []byte {
		b, err := a.Marshal(src, Group4)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := good
	other.VRID = 8
	bad := enc(good)
	bad[7] ^= 0xff
	a.conn.inject(Received{Src: src, Dst: Group4, TTL: 254, Msg: enc(good)})
	a.conn.inject(Received{Src: src, Dst: Group4, TTL: TTL, Msg: enc(other)})
	a.conn.inject(Received{Src: src, Dst: Group4, TTL: TTL, Msg: bad})
	a.conn.inject(Received{Src: src, Dst: Group4, TTL: TTL, Msg: enc(good)})
	waitFor(t, time.Second, "four packets counted", func() bool {
		s := a.inst.Stats()
		return s.Received+s.TotalDropped() == 4
	})
	s := a.inst.Stats()
	if s.Dropped[DropTTL] != 1 || s.Dropped[DropVRID] != 1 || s.Dropped[DropChecksum] != 1 || s.Received != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInstanceTrackingFaultAndWeights(t *testing.T) {
	noLeaks(t)
	lan := &memLAN{}
	intv := 30 * time.Millisecond
	cfg := memConfig("a", 150, intv)
	cfg.Track = []Track{
		{Kind: TrackScript, Name: "chk", Weight: 0},
		{Kind: TrackExternal, Name: "vs:web", Weight: -60},
	}
	a := startMem(t, lan, "10.9.0.1", cfg)
	b := startMem(t, lan, "10.9.0.2", memConfig("b", 100, intv))
	a.run(t)
	b.run(t)
	waitFor(t, 2*time.Second, "a master", func() bool { return a.inst.Status().State == Master })

	// Weighted: 150-60 = 90 < 100: b preempts.
	a.inst.SetTrack("vs:web", false)
	waitFor(t, 2*time.Second, "b master after a's priority drop", func() bool { return b.inst.Status().State == Master })
	waitFor(t, time.Second, "a backup", func() bool { return a.inst.Status().State == Backup })
	if p := a.inst.Status().Priority; p != 90 {
		t.Fatalf("a's priority %d, want 90", p)
	}
	a.inst.SetTrack("vs:web", true)
	waitFor(t, 2*time.Second, "a master again", func() bool { return a.inst.Status().State == Master })

	// Unweighted: Fault.
	a.inst.SetTrack("script:chk", false)
	waitFor(t, time.Second, "a fault", func() bool { return a.inst.Status().State == Fault })
	if f := a.inst.Status().Fault; f != "script:chk" {
		t.Fatalf("fault %q, want script:chk", f)
	}
	waitFor(t, time.Second, "b master", func() bool { return b.inst.Status().State == Master })
	if a.owner.isOwned() {
		t.Fatal("a still owns the address in fault")
	}
	a.inst.SetTrack("script:chk", true)
	waitFor(t, 2*time.Second, "a master after recovery", func() bool { return a.inst.Status().State == Master })
	a.inst.SetTrack("no-such-key", false) // ignored
	time.Sleep(3 * intv)
	if a.inst.Status().State != Master {
		t.Fatal("an untracked key changed the state")
	}
}

func TestInstanceStepDown(t *testing.T) {
	noLeaks(t)
	lan := &memLAN{}
	intv := 30 * time.Millisecond
	a := startMem(t, lan, "10.9.0.1", memConfig("a", 150, intv))
	b := startMem(t, lan, "10.9.0.2", memConfig("b", 100, intv))
	a.run(t)
	b.run(t)
	waitFor(t, 2*time.Second, "a master", func() bool { return a.inst.Status().State == Master })
	a.inst.StepDown(500 * time.Millisecond)
	start := time.Now()
	waitFor(t, time.Second, "b master", func() bool { return b.inst.Status().State == Master })
	// b took over after its Skew_Time, far sooner than a Master_Down_Interval.
	if d := time.Since(start); d > MasterDownInterval(3, 100, intv) {
		t.Fatalf("b took %v", d)
	}
	time.Sleep(300 * time.Millisecond)
	if a.inst.Status().State != Backup {
		t.Fatalf("a is %v during its step-down", a.inst.Status().State)
	}
	// After the step-down a preempts again.
	waitFor(t, 2*time.Second, "a master after the step-down", func() bool { return a.inst.Status().State == Master })
}

// Two unicast instances of one node can share a VRID when their peers
// differ (keepalived allows it; lvsd's configuration checks that no peer
// is shared): both receive the adverts sent to the node, each drops the
// other pair's, and each elects with its own peer.
func TestInstanceSameVRIDDifferentPeers(t *testing.T) {
	noLeaks(t)
	lan := &memLAN{}
	mk := func(name, addr string, prio uint8, vip, peer string) *memNode {
		c := memConfig(name, prio, 30*time.Millisecond)
		c.VIPs = []VIP{{Prefix: netip.MustParsePrefix(vip)}}
		c.Peers = []netip.Addr{netip.MustParseAddr(peer)}
		return startMem(t, lan, addr, c)
	}
	// Node .1 runs both instances, both VRID 7: one with .2 (higher
	// priority), one with .3 (lower).
	a1 := mk("with-b", "10.9.0.1", 100, "10.9.0.100/24", "10.9.0.2")
	a2 := mk("with-c", "10.9.0.1", 100, "10.9.0.101/24", "10.9.0.3")
	b := mk("b", "10.9.0.2", 200, "10.9.0.100/24", "10.9.0.1")
	c := mk("c", "10.9.0.3", 50, "10.9.0.101/24", "10.9.0.1")
	nodes := []*memNode{a1, a2, b, c}
	for _, n := range nodes {
		n.run(t)
	}
	want := map[*memNode]State{a1: Backup, a2: Master, b: Master, c: Backup}
	settled := func() bool {
		for n, st := range want {
			if n.inst.Status().State != st {
				return false
			}
		}
		return true
	}
	waitFor(t, 3*time.Second, "each pair elects its own master", settled)
	time.Sleep(10 * 30 * time.Millisecond) // and it holds
	if !settled() {
		t.Fatalf("states: with-b %v, with-c %v, b %v, c %v", a1.inst.Status().State, a2.inst.Status().State, b.inst.Status().State, c.inst.Status().State)
	}
	// b, master, advertises to node .1 all along: those adverts reached
	// with-c too and were dropped (c, a backup, sends none to with-b).
	if st := a2.inst.Status(); st.Stats.TotalDropped() == 0 {
		t.Errorf("with-c dropped no advert: b's never reached it (%+v)", st.Stats)
	}
	for _, n := range nodes {
		n.stop(t)
	}
}

func TestInstanceNotifyAndStateFile(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "hooks")
	sf := NewStateFile(filepath.Join(dir, "state"))
	lan := &memLAN{}
	cfg := memConfig("VI_1", 150, 30*time.Millisecond)
	sh := func(tag string) []string {
		return []string{"/bin/sh", "-c", `echo "` + tag + ` $LVSD_INSTANCE $LVSD_STATE $LVSD_FROM $LVSD_PRIORITY" "$@" >> ` + out, "hook"}
	}
	cfg.Notify = Notify{Master: sh("master"), Backup: sh("backup"), Stop: sh("stop"), Any: sh("any")}
	a := startMem(t, lan, "10.9.0.1", cfg, WithStateFile(sf))
	a.run(t)
	waitFor(t, 2*time.Second, "master", func() bool { return a.inst.Status().State == Master })
	waitFor(t, 2*time.Second, "state file says MASTER", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "state"))
		return strings.HasPrefix(string(b), "INSTANCE VI_1 MASTER 150 ")
	})
	a.stop(t)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := `backup VI_1 BACKUP INIT 150
any VI_1 BACKUP INIT 150 INSTANCE VI_1 BACKUP 150
master VI_1 MASTER BACKUP 150
any VI_1 MASTER BACKUP 150 INSTANCE VI_1 MASTER 150
stop VI_1 STOP MASTER 150
any VI_1 STOP MASTER 150 INSTANCE VI_1 STOP 150
`
	if string(b) != want {
		t.Fatalf("hooks ran:\n%s\nwant:\n%s", b, want)
	}
	st, _ := os.ReadFile(filepath.Join(dir, "state"))
	if !strings.HasPrefix(string(st), "INSTANCE VI_1 STOP 150 ") {
		t.Fatalf("state file after stop: %q", st)
	}
}

func TestSyncGroupMovesTogether(t *testing.T) {
	noLeaks(t)
	// Two nodes, two instances each (vrid 7 and 8 on separate LANs); node A
	// has the higher priorities. A tracked failure of one of A's instances
	// must take both of A's instances to Fault and both of B's to Master.
	intv := 30 * time.Millisecond
	lan7, lan8 := &memLAN{}, &memLAN{}
	mk := func(lan *memLAN, addr, name string, vrid uint8, prio uint8, track bool) *memNode {
		c := memConfig(name, prio, intv)
		c.VRID = vrid
		if track {
			c.Track = []Track{{Kind: TrackScript, Name: "chk", Weight: -100}}
		}
		return startMem(t, lan, addr, c)
	}
	a7 := mk(lan7, "10.9.0.1", "a7", 7, 150, true)
	a8 := mk(lan8, "10.9.0.1", "a8", 8, 150, false)
	b7 := mk(lan7, "10.9.0.2", "b7", 7, 100, false)
	b8 := mk(lan8, "10.9.0.2", "b8", 8, 100, false)
	ga, err := NewSyncGroup(SyncGroupConfig{Name: "A"}, quietLog(), nil, a7.inst, a8.inst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSyncGroup(SyncGroupConfig{Name: "B"}, quietLog(), nil, b7.inst, b8.inst); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSyncGroup(SyncGroupConfig{Name: "C"}, quietLog(), nil, a7.inst, b8.inst); err == nil {
		t.Fatal("an instance joined two groups")
	}
	// The weight of a group member's track is forced to 0 (keepalived).
	if w := a7.inst.tracks.objs["script:chk"].Weight; w != 0 {
		t.Fatalf("member track weight %d, want 0", w)
	}
	for _, n := range []*memNode{a7, a8, b7, b8} {
		n.run(t)
	}
	both := func(x, y *memNode, s State) func() bool {
		return func() bool { return x.inst.Status().State == s && y.inst.Status().State == s }
	}
	waitFor(t, 2*time.Second, "A master on both", both(a7, a8, Master))
	waitFor(t, time.Second, "group A state MASTER", func() bool { return ga.State() == Master })
	a7.inst.SetTrack("script:chk", false)
	waitFor(t, 2*time.Second, "A fault on both", both(a7, a8, Fault))
	waitFor(t, 2*time.Second, "B master on both", both(b7, b8, Master))
	if a8.owner.isOwned() {
		t.Fatal("a8 kept its address in group fault")
	}
	a7.inst.SetTrack("script:chk", true)
	waitFor(t, 3*time.Second, "A master again on both", both(a7, a8, Master))
	waitFor(t, 2*time.Second, "B backup on both", both(b7, b8, Backup))

	// One member of A loses to a higher priority (c8, in no group): its
	// partner follows it to Backup. Nobody may then be master of vrid 7:
	// B's members are held too, since b8 does not want Master either
	// (keepalived: a group goes Master only when all its members want to).
	c8 := mk(lan8, "10.9.0.3", "c8", 8, 200, false)
	c8.run(t)
	waitFor(t, 2*time.Second, "c8 master", func() bool { return c8.inst.Status().State == Master })
	waitFor(t, 2*time.Second, "a7 follows a8 to backup", both(a7, a8, Backup))
	time.Sleep(MasterDownInterval(3, 1, intv) + 3*intv)
	if a7.inst.Status().State != Backup || b7.inst.Status().State != Backup {
		t.Fatalf("vrid 7: a7 %v b7 %v, want both held in backup", a7.inst.Status().State, b7.inst.Status().State)
	}
	c8.stop(t)
	waitFor(t, 3*time.Second, "A master on both once c8 is gone", both(a7, a8, Master))
}

func TestScriptRiseFall(t *testing.T) {
	s, err := NewScript(ScriptConfig{Name: "chk", Command: []string{"x"}, Rise: 2, Fall: 3}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	s.Subscribe(func(key string, up bool) { got = append(got, fmt.Sprintf("%s=%v", key, up)) })
	fail := errors.New("exit 1")
	for _, r := range []error{fail, fail, nil, fail, fail, fail, nil, fail, nil, nil, nil} {
		s.record(r)
	}
	want := "[script:chk=true script:chk=false script:chk=true]"
	if fmt.Sprint(got) != want {
		t.Fatalf("changes %v, want %v", got, want)
	}
	s2, _ := NewScript(ScriptConfig{Name: "c2", Command: []string{"x"}, InitFail: true}, nil)
	if s2.Up() {
		t.Fatal("init_fail script starts up")
	}
}

func TestScriptRunsCommand(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ok")
	s, err := NewScript(ScriptConfig{Name: "chk", Command: []string{"/bin/test", "-e", flag}, Interval: 20 * time.Millisecond}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan bool, 16)
	s.Subscribe(func(_ string, up bool) { ch <- up })
	<-ch // current state
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	expect := func(want bool) {
		t.Helper()
		select {
		case up := <-ch:
			if up != want {
				t.Fatalf("script reported %v, want %v", up, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("script did not report %v", want)
		}
	}
	expect(false)
	os.WriteFile(flag, nil, 0o644)
	expect(true)
	os.Remove(flag)
	expect(false)

	// A hanging command times out and counts as a failure.
	hang, _ := NewScript(ScriptConfig{Name: "hang", Command: []string{"/bin/sleep", "10"}, Interval: 50 * time.Millisecond}, quietLog())
	hch := make(chan bool, 4)
	hang.Subscribe(func(_ string, up bool) { hch <- up })
	<-hch
	hctx, hcancel := context.WithCancel(context.Background())
	hdone := make(chan struct{})
	go func() { hang.Run(hctx); close(hdone) }()
	defer func() { hcancel(); <-hdone }()
	select {
	case up := <-hch:
		if up {
			t.Fatal("hanging script reported up")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("hanging script never timed out")
	}
}

func TestInstanceDropLogIsRateLimited(t *testing.T) {
	lan := &memLAN{}
	log, hook := logtest.NewNullLogger()
	a := startMem(t, lan, "10.9.0.1", memConfig("a", 100, 30*time.Millisecond), WithLogger(logrus.NewEntry(log)))
	a.run(t)
	src := netip.MustParseAddr("10.9.0.5")
	good := Advert{Version: 3, VRID: 7, Priority: 200, Interval: 30 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("10.9.0.100")}}
	msg, err := good.Marshal(src, Group4)
	if err != nil {
		t.Fatal(err)
	}
	// A neighbour sending adverts with a wrong TTL, each one different:
	// one line for the reason, not one per packet.
	for ttl := range 50 {
		a.conn.inject(Received{Src: src, Dst: Group4, TTL: ttl, Msg: msg})
	}
	waitFor(t, 2*time.Second, "50 drops counted", func() bool { return a.inst.Stats().Dropped[DropTTL] == 50 })
	n := 0
	for _, e := range hook.AllEntries() {
		if e.Data["reason"] == "ttl" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d log lines for 50 dropped adverts, want 1", n)
	}
}

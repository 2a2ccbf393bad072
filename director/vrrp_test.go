package director

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/lvsd/lvsd/ipvs"
	"github.com/lvsd/lvsd/test/nstest"
	"github.com/lvsd/lvsd/vrrp"
)

func TestVRRPConfigMapping(t *testing.T) {
	cfg := parse(t, `
node_name = "lb1"
vrrp {
  gratuitous_arp {
    count              = 3
    second_burst_delay = "0s"
  }
}
vrrp_script "chk" {
  command = ["/bin/true"]
  weight  = -20
}
vrrp_instance "a" {
  interface         = "eth0"
  vrid              = 51
  virtual_addresses = ["10.0.0.100/24", { address = "10.1.0.1/24", interface = "eth1" }]
  multicast_group   = "224.0.0.88"
  preempt_delay     = "30s"
  track_script "chk" {}
  track_interface "eth1" {
    weight  = -10
    reverse = true
  }
  track_virtual_server "web" {}
  notify "master" {
    command = ["/bin/m"]
    timeout = "5s"
  }
  notify "any" {
    command = ["/bin/any", "x"]
    timeout = "7s"
  }
}
vrrp_instance "owner" {
  interface         = "eth0"
  vrid              = 52
  priority          = 255
  preempt           = false
  version           = 2
  auth_pass         = "pw"
  unicast_source    = "10.0.0.1"
  unicast_peers     = ["10.0.0.2"]
  virtual_addresses = ["10.0.0.101"]
  virtual_addresses_excluded = ["2001:db8::101/64"]
  gratuitous_arp {
    refresh_interval = "60s"
    refresh_count    = 2
  }
}
vrrp_instance "g1" {
  interface         = "eth0"
  vrid              = 53
  preempt           = false
  preempt_delay     = "10s"
  virtual_addresses = ["10.0.0.102/24"]
  track_script "chk" {}
}
vrrp_instance "g2" {
  interface         = "eth1"
  vrid              = 54
  virtual_addresses = ["10.1.0.2/24"]
}
vrrp_sync_group "g" {
  instances = ["g1", "g2"]
}
virtual_server "web" {
  address = "10.0.0.100:80"
  real_server {
    address = "10.1.0.11:80"
  }
}
`)
	a := vrrpConfig(cfg, cfg.VRRPInstance("a"))
	want := vrrp.Config{
		Name: "a", Interface: "eth0", VRID: 51, Priority: 100, Version: 3, AdvertInterval: time.Second,
		PreemptDelay: 30 * time.Second, Group: netip.MustParseAddr("224.0.0.88"),
		VIPs: []vrrp.VIP{
			{Prefix: netip.MustParsePrefix("10.0.0.100/24"), Device: "eth0"},
			{Prefix: netip.MustParsePrefix("10.1.0.1/24"), Device: "eth1"},
		},
		GARP: vrrp.GARPConfig{Repeat: 3, Delay: -1, RefreshRepeat: 1},
		Track: []vrrp.Track{
			{Kind: vrrp.TrackInterface, Name: "eth1", Weight: -10, Reverse: true},
			{Kind: vrrp.TrackScript, Name: "chk", Weight: -20},
			{Kind: vrrp.TrackExternal, Name: "vs:web", Weight: 0},
		},
		Notify: vrrp.Notify{Master: []string{"/bin/m"}, Any: []string{"/bin/any", "x"}, Timeout: 7 * time.Second, Env: []string{"LVSD_NODE=lb1"}},
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("instance a:\n got %+v\nwant %+v", a, want)
	}
	if err := a.Validate(); err != nil {
		t.Error(err)
	}

	o := vrrpConfig(cfg, cfg.VRRPInstance("owner"))
	if o.NoPreempt || o.Version != 2 || o.AuthPass != "pw" || o.SourceAddr != netip.MustParseAddr("10.0.0.1") ||
		!reflect.DeepEqual(o.Peers, []netip.Addr{netip.MustParseAddr("10.0.0.2")}) ||
		o.VIPs[0].Prefix != netip.MustParsePrefix("10.0.0.101/32") ||
		len(o.VIPs) != 2 || o.VIPs[1] != (vrrp.VIP{Prefix: netip.MustParsePrefix("2001:db8::101/64"), Device: "eth0", Excluded: true}) ||
		o.IPv6() || len(o.Advertised()) != 1 ||
		o.GARP != (vrrp.GARPConfig{Repeat: 3, Delay: -1, Refresh: time.Minute, RefreshRepeat: 2}) {
		t.Errorf("owner: %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("the owner with preempt = false must still validate (lvsd warns, the owner preempts): %v", err)
	}

	g1 := vrrpConfig(cfg, cfg.VRRPInstance("g1"))
	if !g1.NoPreempt || g1.PreemptDelay != 0 {
		t.Errorf("g1: preempt_delay without preemption must be dropped: %+v", g1)
	}
	if g1.Track[0].Weight != 0 {
		t.Errorf("g1 is in a sync group: its tracking weight must be 0 (a failure faults the group), got %d", g1.Track[0].Weight)
	}
	if err := g1.Validate(); err != nil {
		t.Error(err)
	}

	specs := unitSpecs(cfg)
	if len(specs) != 3 || specs["group g"] == nil || len(specs["group g"].members) != 2 || specs["instance a"] == nil {
		t.Fatalf("units: %v", specs)
	}
	if n := specs["group g"].members; n[0].Name != "g1" || n[1].Name != "g2" {
		t.Errorf("group members %s, %s", n[0].Name, n[1].Name)
	}
}

func TestClassifyVRRP(t *testing.T) {
	base := vrrp.Config{Name: "a", Interface: "eth0", VRID: 51, Priority: 150, Version: 3, AdvertInterval: time.Second,
		VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("10.0.0.100/24"), Device: "eth0"}}}
	mod := func(f func(c *vrrp.Config)) vrrp.Config {
		c := base
		c.VIPs = append([]vrrp.VIP(nil), base.VIPs...)
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		new  vrrp.Config
		want vrrpChange
	}{
		{"unchanged", mod(func(*vrrp.Config) {}), vrrpKeep},
		{"priority", mod(func(c *vrrp.Config) { c.Priority = 90 }), vrrpPriority},
		{"to owner", mod(func(c *vrrp.Config) { c.Priority = 255 }), vrrpReplace},
		{"priority and garp", mod(func(c *vrrp.Config) { c.Priority = 90; c.GARP.Repeat = 2 }), vrrpReplace},
		{"addresses", mod(func(c *vrrp.Config) {
			c.VIPs = append(c.VIPs, vrrp.VIP{Prefix: netip.MustParsePrefix("10.0.0.101/24"), Device: "eth0"})
		}), vrrpReplace},
		{"interval", mod(func(c *vrrp.Config) { c.AdvertInterval = 100 * time.Millisecond }), vrrpReplace},
		{"unicast", mod(func(c *vrrp.Config) { c.Peers = []netip.Addr{netip.MustParseAddr("10.0.0.2")} }), vrrpReplace},
		{"preempt", mod(func(c *vrrp.Config) { c.NoPreempt = true }), vrrpReplace},
		{"tracking", mod(func(c *vrrp.Config) { c.Track = []vrrp.Track{{Kind: vrrp.TrackScript, Name: "x"}} }), vrrpReplace},
		{"hooks", mod(func(c *vrrp.Config) { c.Notify.Master = []string{"/bin/x"} }), vrrpReplace},
		{"vrid", mod(func(c *vrrp.Config) { c.VRID = 52 }), vrrpRestart},
		{"interface", mod(func(c *vrrp.Config) { c.Interface = "eth1" }), vrrpRestart},
		{"version", mod(func(c *vrrp.Config) { c.Version = 2 }), vrrpRestart},
		{"family", mod(func(c *vrrp.Config) {
			c.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("fd00::1/64"), Device: "eth0"}}
		}), vrrpRestart},
	} {
		if got := classifyVRRP(base, tc.new); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	other := mod(func(c *vrrp.Config) { c.Name, c.VRID = "b", 52 })
	g := &vrrp.SyncGroupConfig{Name: "g"}
	g2 := &vrrp.SyncGroupConfig{Name: "g", Notify: vrrp.Notify{Any: []string{"/bin/x"}}}
	for _, tc := range []struct {
		name       string
		old, new   []vrrp.Config
		oldG, newG *vrrp.SyncGroupConfig
		want       vrrpChange
	}{
		{"same group", []vrrp.Config{base, other}, []vrrp.Config{base, other}, g, g, vrrpKeep},
		{"member priority", []vrrp.Config{base, other}, []vrrp.Config{mod(func(c *vrrp.Config) { c.Priority = 99 }), other}, g, g, vrrpPriority},
		{"group hooks", []vrrp.Config{base, other}, []vrrp.Config{base, other}, g, g2, vrrpReplace},
		{"member left", []vrrp.Config{base, other}, []vrrp.Config{base}, g, g, vrrpRestart},
		{"into a group", []vrrp.Config{base}, []vrrp.Config{base}, nil, g, vrrpRestart},
	} {
		if got := classifyUnit(tc.old, tc.new, tc.oldG, tc.newG); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestVRRPRetryBackoff(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, vrrpRetry(n))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff %v", got)
		}
	}
}

// ---- directors with real VRRP instances in namespaces ----

// vrrpNode is a Director running in-process whose VRRP instances live in
// their own network namespace (eth0, 10.201.0.N/24), on a veth pair with
// the other node.
type vrrpNode struct {
	t      *testing.T
	ns     *nstest.NS
	addr   netip.Addr
	d      *Director
	logs   *logtest.Hook
	mu     sync.Mutex
	src    string
	cancel context.CancelFunc
	done   chan error
}

const vrrpTestVIP = "10.201.0.100"

func vrrpPair(t *testing.T) (*nstest.NS, *nstest.NS) {
	t.Helper()
	if testing.Short() {
		t.Skip("namespace test skipped in -short mode (make test runs it)")
	}
	a, b := nstest.New(t, "va"), nstest.New(t, "vb")
	nstest.Veth(t, a, "eth0", b, "eth0")
	a.Addr(t, "eth0", "10.201.0.1/24")
	b.Addr(t, "eth0", "10.201.0.2/24")
	return a, b
}

// vrrpSource is a configuration with one instance VI_1 (and extra).
func vrrpSource(prio int, extra string) string {
	return fmt.Sprintf(`
vrrp_instance "VI_1" {
  interface         = "eth0"
  vrid              = 51
  priority          = %d
  advert_interval   = "50ms"
  virtual_addresses = ["%s/24"]
}
%s`, prio, vrrpTestVIP, extra)
}

// startVRRPNode runs a director in ns; backend, if given, is its IPVS
// table (in memory otherwise).
func startVRRPNode(t *testing.T, ns *nstest.NS, addr, src string, backend ...ipvs.Backend) *vrrpNode {
	t.Helper()
	logger, logs := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	n := &vrrpNode{t: t, ns: ns, addr: netip.MustParseAddr(addr), logs: logs, src: src}
	opts := Options{Config: parse(t, src), Load: n.load, Log: logger}
	if len(backend) > 0 {
		opts.Backend = backend[0]
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	d.vrrp.open = func(c vrrp.Config, opts ...vrrp.Option) (*vrrp.Instance, error) {
		var inst *vrrp.Instance
		err := ns.Do(func() (err error) {
			inst, err = vrrp.New(c, opts...)
			return err
		})
		return inst, err
	}
	n.d = d
	ready := make(chan struct{})
	d.ready = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- d.Run(ctx) }()
	t.Cleanup(n.stop)
	select {
	case <-ready:
	case err := <-n.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the director did not become ready")
	}
	return n
}

func (n *vrrpNode) load() (*Config, hcl.Diagnostics) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return ParseConfig([]byte(n.src), "test.hcl", nil)
}

func (n *vrrpNode) reload(src string) ReloadResult {
	n.t.Helper()
	n.mu.Lock()
	n.src = src
	n.mu.Unlock()
	res, err := n.d.Reload(context.Background())
	if err != nil {
		n.t.Fatalf("reload: %v", err)
	}
	return res
}

func (n *vrrpNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		n.t.Error("Run did not return after cancel")
	}
	if n.t.Failed() {
		for _, e := range n.logs.AllEntries() {
			line, _ := e.String()
			n.t.Logf("%s: %s", n.addr, strings.TrimSpace(line))
		}
	}
}

// instance is the status of VI_1 (or name).
func (n *vrrpNode) instance(name string) VRRPInstanceStatus {
	n.t.Helper()
	for _, s := range n.d.Status().VRRP {
		if s.Name == name {
			return s
		}
	}
	n.t.Fatalf("no vrrp instance %q in the status", name)
	return VRRPInstanceStatus{}
}

func (n *vrrpNode) waitState(d time.Duration, name, state string) {
	n.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := n.instance(name)
		if s.State == state {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: %s is %s after %v, want %s", n.addr, name, s.State, d, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (n *vrrpNode) holdsVIP() bool {
	n.t.Helper()
	as, err := n.ns.Addrs("eth0")
	if err != nil {
		n.t.Fatal(err)
	}
	for _, a := range as {
		if a.Addr().String() == vrrpTestVIP {
			return true
		}
	}
	return false
}

func TestVRRPDirectorStepDownAndStatus(t *testing.T) {
	nsA, nsB := vrrpPair(t)
	a := startVRRPNode(t, nsA, "10.201.0.1", vrrpSource(150, ""))
	b := startVRRPNode(t, nsB, "10.201.0.2", vrrpSource(100, ""))
	a.waitState(5*time.Second, "VI_1", "MASTER")
	b.waitState(time.Second, "VI_1", "BACKUP")
	time.Sleep(200 * time.Millisecond) // a few adverts

	sa, sb := a.instance("VI_1"), b.instance("VI_1")
	if !sa.Running || sa.Priority != 150 || sa.EffectivePriority != 150 || sa.Master != a.addr || sa.VRID != 51 || sa.Version != 3 ||
		sa.Counters.AdvertsSent == 0 || sa.Counters.Transitions != 2 || sa.Reason != string(vrrp.ReasonMasterDown) ||
		len(sa.VirtualAddresses) != 1 || len(sa.Tracked) != 1 || sa.Tracked[0].Kind != "interface" || !sa.Tracked[0].Up {
		t.Fatalf("a's status: %+v", sa)
	}
	if sb.Master != a.addr || sb.MasterPriority != 150 || sb.Counters.AdvertsReceived == 0 || sb.EffectivePriority != 100 {
		t.Fatalf("b's status: %+v", sb)
	}
	if !a.holdsVIP() || b.holdsVIP() {
		t.Fatalf("VIP on a: %v, on b: %v", a.holdsVIP(), b.holdsVIP())
	}

	ctx := context.Background()
	if err := a.d.StepDown(ctx, "nope", time.Second); !errors.Is(err, ErrNotFound) {
		t.Fatalf("StepDown of an unknown instance: %v", err)
	}
	if err := a.d.StepDown(ctx, "VI_1", 0); err == nil {
		t.Fatal("StepDown for 0s accepted")
	}
	start := time.Now()
	if err := a.d.StepDown(ctx, "VI_1", time.Second); err != nil {
		t.Fatal(err)
	}
	b.waitState(time.Second, "VI_1", "MASTER")
	if took := time.Since(start); took > vrrp.MasterDownInterval(3, 100, 50*time.Millisecond) {
		t.Fatalf("b took %v over: more than a Master_Down_Interval, not a handover", took)
	}
	sa = a.instance("VI_1")
	if sa.State != "BACKUP" || sa.StepDownUntil.IsZero() || sa.Reason != string(vrrp.ReasonStepDown)+": for 1s" || sa.Counters.PriorityZeroSent != 1 {
		t.Fatalf("a after the step-down: %+v", sa)
	}
	for deadline := time.Now().Add(time.Second); a.instance("VI_1").Master != b.addr; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a sees master %v, want b", a.instance("VI_1").Master)
		}
	}
	// After the step-down a preempts again.
	a.waitState(3*time.Second, "VI_1", "MASTER")
	if time.Since(start) < time.Second {
		t.Fatalf("a was master again %v after a 1s step-down", time.Since(start))
	}
	b.waitState(time.Second, "VI_1", "BACKUP")
}

func TestVRRPDirectorReloads(t *testing.T) {
	nsA, nsB := vrrpPair(t)
	a := startVRRPNode(t, nsA, "10.201.0.1", vrrpSource(150, ""))
	b := startVRRPNode(t, nsB, "10.201.0.2", vrrpSource(100, ""))
	a.waitState(5*time.Second, "VI_1", "MASTER")
	b.waitState(time.Second, "VI_1", "BACKUP")
	transitions := func() (uint64, uint64) {
		return a.instance("VI_1").Counters.Transitions, b.instance("VI_1").Counters.Transitions
	}
	ta, tb := transitions()
	sent := a.instance("VI_1").Counters.AdvertsSent

	// Unchanged: nothing happens, not even a detach.
	a.reload(vrrpSource(150, "# a comment\n"))
	// A new setting (GARP) replaces a's instance in place: still master,
	// no election anywhere, counters go on.
	garp := func(prio int) string {
		return strings.Replace(vrrpSource(prio, ""), `advert_interval   = "50ms"`, "advert_interval   = \"50ms\"\n  gratuitous_arp {\n    count = 2\n  }", 1)
	}
	a.reload(garp(150))
	if s := a.instance("VI_1"); s.State != "MASTER" || s.Counters.AdvertsSent < sent {
		t.Fatalf("a after a replacing reload: %+v", s)
	}
	time.Sleep(vrrp.MasterDownInterval(3, 100, 50*time.Millisecond) + 100*time.Millisecond)
	if na, nb := transitions(); na != ta || nb != tb {
		t.Fatalf("transitions went from %d/%d to %d/%d across reloads that change no role", ta, tb, na, nb)
	}
	if n := len(logged(a.logs, "detached: the instance replacing this one takes over")); n != 1 {
		t.Fatalf("%d detaches, want 1 (the unchanged reload must not replace the instance)", n)
	}

	// A lower priority is applied live, and b (preempting) takes over.
	a.reload(garp(90))
	b.waitState(2*time.Second, "VI_1", "MASTER")
	a.waitState(time.Second, "VI_1", "BACKUP")
	if s := a.instance("VI_1"); s.Priority != 90 || s.EffectivePriority != 90 {
		t.Fatalf("a's priorities after the reload: %+v", s)
	}
	if n := len(logged(a.logs, "detached: the instance replacing this one takes over")); n != 1 {
		t.Fatal("a priority change replaced the instance")
	}

	// A bad configuration changes nothing.
	a.mu.Lock()
	a.src = vrrpSource(90, `vrrp_instance "VI_2" {
  interface         = "nosuchif0"
  vrid              = 52
  virtual_addresses = ["10.201.0.101/24"]
}`)
	a.mu.Unlock()
	if _, err := a.d.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "nosuchif0") {
		t.Fatalf("a reload with an instance on a missing interface: %v", err)
	}
	if st := a.d.Status(); len(st.VRRP) != 1 || st.VRRP[0].State != "BACKUP" {
		t.Fatalf("the refused reload changed something: %+v", st.VRRP)
	}

	// Removing the instance stops it as on shutdown: b keeps the VIP.
	a.reload("")
	if st := a.d.Status(); len(st.VRRP) != 0 {
		t.Fatalf("instances after removing them all: %+v", st.VRRP)
	}
	time.Sleep(vrrp.MasterDownInterval(3, 100, 50*time.Millisecond))
	if s := b.instance("VI_1"); s.State != "MASTER" {
		t.Fatalf("b is %s", s.State)
	}
}

func logged(h *logtest.Hook, msg string) []*logrus.Entry {
	var out []*logrus.Entry
	for _, e := range h.AllEntries() {
		if e.Message == msg {
			out = append(out, e)
		}
	}
	return out
}

func TestVRRPDirectorStepDownSyncGroup(t *testing.T) {
	nsA, nsB := vrrpPair(t)
	group := func(prio int) string {
		return vrrpSource(prio, fmt.Sprintf(`
vrrp_instance "VI_2" {
  interface         = "eth0"
  vrid              = 52
  priority          = %d
  advert_interval   = "50ms"
  virtual_addresses = ["10.201.0.101/24"]
}
vrrp_sync_group "G" {
  instances = ["VI_1", "VI_2"]
}`, prio))
	}
	a := startVRRPNode(t, nsA, "10.201.0.1", group(150))
	b := startVRRPNode(t, nsB, "10.201.0.2", group(100))
	for _, n := range []string{"VI_1", "VI_2"} {
		a.waitState(5*time.Second, n, "MASTER")
		b.waitState(time.Second, n, "BACKUP")
	}
	if g := a.d.Status().VRRPGroups; len(g) != 1 || g[0].Name != "G" || g[0].State != "MASTER" || len(g[0].Instances) != 2 {
		t.Fatalf("a's groups: %+v", g)
	}
	if s := a.instance("VI_2"); s.SyncGroup != "G" {
		t.Fatalf("VI_2's group %q", s.SyncGroup)
	}
	if err := a.d.StepDown(context.Background(), "G", time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"VI_1", "VI_2"} {
		b.waitState(2*time.Second, n, "MASTER")
		a.waitState(time.Second, n, "BACKUP")
	}
	if g := b.d.Status().VRRPGroups; len(g) != 1 || g[0].State != "MASTER" {
		t.Fatalf("b's groups: %+v", g)
	}
}

// A sync daemon that follows an instance runs the backup daemon until the
// instance is MASTER, then the master daemon, and back on a step-down;
// each switch is one log line.
func TestVRRPDirectorSyncDaemonFollows(t *testing.T) {
	nsA, nsB := vrrpPair(t)
	b := &extrasBackend{Memory: ipvs.NewMemory(ipvs.Table{}), daemons: map[ipvs.DaemonState]ipvs.Daemon{}}
	follow := `
ipvs {
  sync_daemon {
    interface     = "eth0"
    vrrp_instance = "VI_1"
    sync_id       = 51
  }
}
`
	a := startVRRPNode(t, nsA, "10.201.0.1", vrrpSource(150, follow), b)
	peer := startVRRPNode(t, nsB, "10.201.0.2", vrrpSource(100, ""))
	a.waitState(5*time.Second, "VI_1", "MASTER")
	peer.waitState(time.Second, "VI_1", "BACKUP")
	waitCalls := func(want ...string) {
		t.Helper()
		var got []string
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got = append(got, b.takeCalls()...)
			if len(got) >= len(want) || time.Now().After(deadline) {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("sync daemon calls %q, want %q", got, want)
		}
	}
	waitCalls("start backup eth0 51", "start master eth0 51", "stop backup")
	if err := a.d.StepDown(context.Background(), "VI_1", time.Second); err != nil {
		t.Fatal(err)
	}
	waitCalls("start backup eth0 51", "stop master")

	var switched []string
	for _, e := range a.logs.AllEntries() {
		if strings.HasPrefix(e.Message, "IPVS sync daemon") {
			switched = append(switched, fmt.Sprintf("%s state=%v was=%v", e.Message, e.Data["state"], e.Data["was"]))
		}
	}
	want := []string{
		"IPVS sync daemon started state=backup was=<nil>",
		"IPVS sync daemon switched with the followed VRRP instance state=master was=backup",
		"IPVS sync daemon switched with the followed VRRP instance state=backup was=master",
	}
	if !slices.Equal(switched, want) {
		t.Fatalf("log lines:\n  %s\nwant\n  %s", strings.Join(switched, "\n  "), strings.Join(want, "\n  "))
	}
}

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/test/nstest"
)

// Kernel tests: each makes its own network namespace (IPVS tables are per
// namespace) and opens the backend on it. They need a kernel with IPVS:
// on a host without it they skip, and the kernel lab runs them in a VM.

func newKernel(t *testing.T) (*Kernel, *nstest.NS) {
	t.Helper()
	nstest.RequireIPVS(t)
	ns := nstest.New(t, "ipvs")
	k, err := New(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k, ns
}

func applyOK(t *testing.T, k *Kernel, ops []Op) {
	t.Helper()
	if errs := k.Apply(context.Background(), ops); len(errs) > 0 {
		t.Fatalf("apply %q: %v", render(ops), errors.Join(asErrors(errs)...))
	}
}

func asErrors(es []*OpError) []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func dumpOK(t *testing.T, k *Kernel) Table {
	t.Helper()
	tb, err := k.Dump(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// program makes the kernel hold desired (owning every desired service) and
// checks that a dump reads it back identically: no op either way.
func program(t *testing.T, k *Kernel, desired Table, retired ...ServiceKey) Table {
	t.Helper()
	if err := desired.Validate(); err != nil {
		t.Fatalf("test table is invalid: %v", err)
	}
	applyOK(t, k, Diff(desired, dumpOK(t, k), retired...))
	got := dumpOK(t, k)
	if ops := Diff(desired, got); len(ops) != 0 {
		t.Fatalf("dump differs from what was applied; still needed: %q\nkernel:\n%s", render(ops), got)
	}
	for _, key := range desired.Keys() {
		w, _ := desired.Get(key)
		h, _ := got.Get(key)
		if kernelService(w.Service) != kernelService(h.Service) {
			t.Fatalf("service read back as %+v, want %+v", h.Service, w.Service)
		}
		if len(w.Destinations) != len(h.Destinations) {
			t.Fatalf("%s: %d real servers read back, want %d", key, len(h.Destinations), len(w.Destinations))
		}
		for i := range w.Destinations {
			if kernelDest(w.Destinations[i]) != kernelDest(h.Destinations[i]) {
				t.Fatalf("real server read back as %+v, want %+v", h.Destinations[i], w.Destinations[i])
			}
		}
	}
	return got
}

func TestKernelEverySchedulerCreateDumpUpdateDelete(t *testing.T) {
	k, _ := newKernel(t)
	for i, sched := range Schedulers {
		t.Run(sched, func(t *testing.T) {
			key := tcp(fmt.Sprintf("10.0.0.%d:80", i+1))
			v := vs(key, sched, "10.0.1.2:80=3", "10.0.1.3:80=1")
			if sched == "sh" || sched == "mh" {
				v.SchedFlags = SchedFlags{Fallback: true, Port: true}
			}
			if errs := k.Apply(context.Background(), Diff(NewTable(v), Table{})[:1]); len(errs) > 0 {
				if sched == "twos" && errors.Is(errs[0], syscall.ENOENT) {
					t.Skipf("kernel %s has no twos scheduler (it came in Linux 6.2)", kernelRelease())
				}
				t.Fatal(errs[0])
			}
			program(t, k, NewTable(v))

			// Update: settings and a weight, through the diff.
			v.Destinations[1].Weight = 7
			v.Persistence = 120
			if sched == "sh" || sched == "mh" {
				v.SchedFlags.Port = false
			}
			ops := Diff(NewTable(v), dumpOK(t, k))
			if len(ops) != 2 || ops[0].Kind != UpdateService || ops[1].Kind != UpdateDestination {
				t.Fatalf("update ops %q, want one service and one real server update", render(ops))
			}
			program(t, k, NewTable(v))

			program(t, k, Table{}, key)
			if dumpOK(t, k).Has(key) {
				t.Fatal("service still there after delete")
			}
		})
	}
}

func TestKernelPersistence(t *testing.T) {
	k, _ := newKernel(t)
	v4 := vs(tcp("10.0.0.1:443"), "wlc", "10.0.1.2:443=1")
	v4.Persistence, v4.PersistenceMask = 300, 24
	v6 := vs(tcp("[2001:db8::1]:443"), "rr", "[2001:db8:1::2]:443=1")
	v6.Persistence, v6.PersistenceMask = 60, 64
	all := vs(tcp("10.0.0.2:0"), "rr", "10.0.1.2:0=1") // every port: needs persistence
	all.Persistence = 30
	full6 := vs(tcp("[2001:db8::2]:80"), "rr")
	full6.Persistence = 10
	got := program(t, k, NewTable(v4, v6, all, full6))
	if s, _ := got.Get(v4.ServiceKey); s.PersistenceMask != 24 || s.Persistence != 300 {
		t.Fatalf("v4 persistence read back as %ds /%d", s.Persistence, s.PersistenceMask)
	}
	// Turning persistence off and on keeps the kernel's mask sane.
	v4.Persistence, v4.PersistenceMask = 0, 0
	program(t, k, NewTable(v4, v6, all, full6))
	v4.Persistence = 5
	got = program(t, k, NewTable(v4, v6, all, full6))
	if s, _ := got.Get(v4.ServiceKey); s.PersistenceMask != 0 {
		t.Fatalf("persistence back on: mask /%d, want the full length", s.PersistenceMask)
	}
}

func TestKernelFirewallMarkServices(t *testing.T) {
	k, ns := newKernel(t)
	m4 := vs(MarkKey(7, IPv4), "wrr", "10.0.1.2:0=2", "10.0.1.3:8080=1")
	m6 := vs(MarkKey(7, IPv6), "rr", "[2001:db8:1::2]:0=1")
	m6.Destinations[0].Forward = DR
	program(t, k, NewTable(m4, m6))
	// ipvsadm sees the same two services, one per family.
	out := ipvsadm(t, ns, "-L", "-n")
	for _, want := range []string{"FWM  7 wrr", "FWM  7 IPv6 rr", "-> [2001:db8:1::2]:0"} {
		if !strings.Contains(out, want) {
			t.Errorf("ipvsadm -Ln lacks %q:\n%s", want, out)
		}
	}
	program(t, k, NewTable(m6), m4.ServiceKey)
}

func TestKernelUDPAndSCTP(t *testing.T) {
	k, _ := newKernel(t)
	dns := vs(AddrKey(UDP, ap("10.0.0.1:53")), "rr", "10.0.1.2:53=1", "10.0.1.3:53=1")
	dns.OnePacket = true
	dns6 := vs(AddrKey(UDP, ap("[2001:db8::1]:53")), "sh", "[2001:db8:1::2]:53=1")
	diam := vs(AddrKey(SCTP, ap("10.0.0.1:3868")), "wlc", "10.0.1.2:3868=1")
	program(t, k, NewTable(dns, dns6, diam))
	dns.OnePacket = false
	program(t, k, NewTable(dns, dns6, diam))
}

func TestKernelIPv6Services(t *testing.T) {
	k, _ := newKernel(t)
	v := vs(tcp("[2001:db8::1]:80"), "wrr", "[2001:db8:1::2]:8080=3", "[2001:db8:1::3]:8080=1")
	dr := vs(tcp("[2001:db8::1]:443"), "lc")
	dr.Destinations = []Destination{
		{Addr: ap("[2001:db8:1::2]:443"), Forward: DR, Weight: 1},
		{Addr: ap("[2001:db8:1::3]:443"), Forward: Tunnel, Weight: 2, UpperThreshold: 100, LowerThreshold: 10},
	}
	program(t, k, NewTable(v, dr))
}

func TestKernelForwardingMethodsAndTunnels(t *testing.T) {
	k, _ := newKernel(t)
	key := tcp("10.0.0.1:80")
	v := VirtualService{Service: Service{ServiceKey: key, Scheduler: "rr"}, Destinations: []Destination{
		{Addr: ap("10.0.1.2:80"), Forward: NAT, Weight: 1},
		{Addr: ap("10.0.1.3:80"), Forward: DR, Weight: 1, UpperThreshold: 1000, LowerThreshold: 500},
		{Addr: ap("10.0.1.4:80"), Forward: Tunnel, Weight: 1},
		{Addr: ap("10.0.1.5:80"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelChecksum: TunnelRemCsum},
		{Addr: ap("10.0.1.6:80"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGRE, TunnelChecksum: TunnelCsum},
	}}
	got := program(t, k, NewTable(v))
	if d, _ := got.Destination(key, ap("10.0.1.5:80")); d.TunnelType != TunnelGUE || d.TunnelPort != 6080 || d.TunnelChecksum != TunnelRemCsum {
		t.Fatalf("gue real server read back as %+v", d)
	}
	// Every method changes in place.
	v.Destinations[0].Forward = DR
	v.Destinations[1].Forward = Tunnel
	v.Destinations[2].Forward = NAT
	v.Destinations[3].TunnelType, v.Destinations[3].TunnelPort, v.Destinations[3].TunnelChecksum = TunnelIPIP, 0, TunnelNoCsum
	v.Destinations[4].TunnelType, v.Destinations[4].TunnelPort = TunnelGUE, 5555
	program(t, k, NewTable(v))
}

func TestKernelRoundTripMixedTable(t *testing.T) {
	k, _ := newKernel(t)
	var desired Table
	scheds := slices.DeleteFunc(slices.Clone(Schedulers), func(s string) bool { return s == "twos" }) // not in every kernel
	for i := 0; i < 40; i++ {
		v := vs(AddrKey([]Protocol{TCP, UDP, SCTP}[i%3], ap(fmt.Sprintf("10.0.%d.%d:%d", i/200, i%200+1, 80+i))), scheds[i%len(scheds)])
		for j := 0; j < i%6; j++ {
			v.Destinations = append(v.Destinations, Destination{Addr: ap(fmt.Sprintf("10.1.%d.%d:%d", i, j+1, 80+i)), Forward: []Forward{NAT, DR, Tunnel}[j%3], Weight: uint32(j)})
		}
		desired.Put(v)
	}
	desired.Put(vs(MarkKey(1, IPv4), "rr", "10.2.0.1:0=1"))
	desired.Put(vs(tcp("[2001:db8::1]:80"), "wrr", "[2001:db8:1::1]:80=5"))
	program(t, k, desired)
	// A second backend on the same namespace reads the same table.
	k2, err := New(k.nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if got := dumpOK(t, k2); !got.Equal(desired) {
		t.Fatalf("second backend reads\n%s", got)
	}
}

func TestKernelApplyReportsEachFailedOp(t *testing.T) {
	k, _ := newKernel(t)
	key := tcp("10.0.0.1:80")
	missing := tcp("10.0.0.2:80")
	ops := []Op{
		{Kind: AddService, Service: Service{ServiceKey: key, Scheduler: "rr"}},
		{Kind: AddDestination, Service: Service{ServiceKey: missing}, Destination: Destination{Addr: ap("10.0.1.9:80"), Weight: 1}},
		{Kind: AddDestination, Service: Service{ServiceKey: key}, Destination: Destination{Addr: ap("10.0.1.2:80"), Weight: 1}},
		{Kind: AddService, Service: Service{ServiceKey: key, Scheduler: "rr"}},
		{Kind: AddDestination, Service: Service{ServiceKey: key}, Destination: Destination{Addr: ap("10.0.1.3:80"), Weight: 2}},
		{Kind: AddService, Service: Service{ServiceKey: tcp("10.0.0.3:80"), Scheduler: "nosuchsched"}},
	}
	w := k.Writes()
	errs := k.Apply(context.Background(), ops)
	if k.Writes()-w != uint64(len(ops)) {
		t.Fatalf("%d writes for %d ops", k.Writes()-w, len(ops))
	}
	if len(errs) != 3 {
		t.Fatalf("errors %v, want 3", errs)
	}
	if errs[0].Op != ops[1] || !errors.Is(errs[0], syscall.ESRCH) {
		t.Errorf("first error %v, want ESRCH for the missing service", errs[0])
	}
	if errs[1].Op != ops[3] || !errors.Is(errs[1], syscall.EEXIST) {
		t.Errorf("second error %v, want EEXIST", errs[1])
	}
	if errs[2].Op != ops[5] || !errors.Is(errs[2], syscall.ENOENT) || !strings.Contains(errs[2].Error(), `scheduler "nosuchsched" is not in this kernel`) {
		t.Errorf("third error %v, want ENOENT explained", errs[2])
	}
	if !strings.Contains(errs[0].Error(), "add real server 10.0.1.9:80 to tcp 10.0.0.2:80") {
		t.Errorf("error does not name the op: %v", errs[0])
	}
	if got := dumpOK(t, k); got.NumDestinations() != 2 {
		t.Fatalf("the good ops were not all applied:\n%s", got)
	}
}

func TestKernelForeignServiceSurvivesEverySync(t *testing.T) {
	k, ns := newKernel(t)
	ipvsadm(t, ns, "-A", "-t", "10.0.0.9:22", "-s", "sh", "-p", "600")
	ipvsadm(t, ns, "-a", "-t", "10.0.0.9:22", "-r", "10.0.9.2:22", "-g", "-w", "2")
	ipvsadm(t, ns, "-A", "-f", "99", "-s", "rr")
	before := dumpOK(t, k)

	r := newReconciler(t, k, ReconcilerOptions{})
	steps := []Table{
		NewTable(vs(web, "wrr", "10.0.1.2:80=3")),
		NewTable(vs(web, "wrr", "10.0.1.2:80=1", "10.0.1.3:80=1"), vs(api, "rr")),
		NewTable(vs(api, "rr", "10.0.2.2:443=1")),
		{},
	}
	for i, desired := range steps {
		rep, err := r.Sync(context.Background(), desired)
		if err != nil || len(rep.Failed) > 0 {
			t.Fatalf("step %d: %v %v", i, err, rep.Failed)
		}
		after := dumpOK(t, k)
		for _, fk := range before.Keys() {
			b, _ := before.Get(fk)
			a, ok := after.Get(fk)
			if !ok || a.Service != b.Service || len(a.Destinations) != len(b.Destinations) {
				t.Fatalf("step %d: foreign service %s changed:\n%s", i, fk, after)
			}
			for j := range b.Destinations {
				if kernelDest(a.Destinations[j]) != kernelDest(b.Destinations[j]) {
					t.Fatalf("step %d: foreign real server changed: %+v", i, a.Destinations[j])
				}
			}
		}
		if got, want := after.Len(), before.Len()+desired.Len(); got != want {
			t.Fatalf("step %d: %d services in the kernel, want %d:\n%s", i, got, want, after)
		}
	}
}

func TestKernelRestartAdoptsWithoutOps(t *testing.T) {
	k, ns := newKernel(t)
	ipvsadm(t, ns, "-A", "-u", "10.0.0.9:53", "-s", "rr")
	sticky := vs(api, "sh", "10.0.2.2:443=1")
	sticky.SchedFlags.Fallback = true
	sticky.Persistence = 60
	desired := NewTable(
		withDrain(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1"), time.Minute),
		sticky,
		vs(MarkKey(4, IPv6), "rr", "[2001:db8::4]:0=1"),
	)
	rep, err := newReconciler(t, k, ReconcilerOptions{}).Sync(context.Background(), desired)
	if err != nil || len(rep.Failed) > 0 || len(rep.Ops) == 0 {
		t.Fatalf("first sync: %v %v %q", err, rep.Failed, render(rep.Ops))
	}

	// A new process: a new backend and a new Reconciler over the kernel.
	k2, err := New(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	r2 := newReconciler(t, k2, ReconcilerOptions{})
	rep, err = r2.Sync(context.Background(), desired)
	if err != nil || len(rep.Ops) != 0 || rep.Writes != 0 || k2.Writes() != 0 {
		t.Fatalf("restart: %v, ops %q, %d writes; want none", err, render(rep.Ops), rep.Writes)
	}
}

func TestKernelOneWeightChangeIsOneWrite(t *testing.T) {
	k, _ := newKernel(t)
	r := newReconciler(t, k, ReconcilerOptions{})
	var desired Table
	for i := 1; i <= 20; i++ {
		desired.Put(vs(tcp(fmt.Sprintf("10.0.0.%d:80", i)), "wrr", "10.0.1.2:80=1", "10.0.1.3:80=1", "10.0.1.4:80=1"))
	}
	if _, err := r.Sync(context.Background(), desired); err != nil {
		t.Fatal(err)
	}
	changed := desired.Clone()
	d, _ := changed.Destination(tcp("10.0.0.7:80"), ap("10.0.1.3:80"))
	d.Weight = 9
	changed.PutDestination(tcp("10.0.0.7:80"), d)
	w := k.Writes()
	rep, err := r.Sync(context.Background(), changed)
	if err != nil || rep.Writes != 1 || k.Writes()-w != 1 || len(rep.Ops) != 1 {
		t.Fatalf("%v: ops %q, %d writes; want exactly one", err, render(rep.Ops), k.Writes()-w)
	}
	if got, _ := dumpOK(t, k).Destination(tcp("10.0.0.7:80"), ap("10.0.1.3:80")); got.Weight != 9 {
		t.Fatalf("weight is %d", got.Weight)
	}
	if rep, _ := r.Sync(context.Background(), changed); rep.Writes != 0 {
		t.Fatalf("resync wrote %d times", rep.Writes)
	}
}

func TestKernelSyncDaemon(t *testing.T) {
	k, ns := newKernel(t)
	peer := nstest.New(t, "peer")
	nstest.Veth(t, ns, "sync0", peer, "sync0")
	ns.Addr(t, "sync0", "192.168.77.1/24")

	if ds, err := k.Daemons(); err != nil || len(ds) != 0 {
		t.Fatalf("fresh namespace: daemons %v, %v", ds, err)
	}
	master := Daemon{State: DaemonMaster, Interface: "sync0", SyncID: 7, Group: netip.MustParseAddr("224.0.0.82"), Port: 8849, TTL: 2, MaxLen: 1200}
	if err := k.StartDaemon(master); err != nil {
		t.Fatal(err)
	}
	backup := Daemon{State: DaemonBackup, Interface: "sync0", SyncID: 7}
	if err := k.StartDaemon(backup); err != nil {
		t.Fatal(err)
	}
	ds, err := k.Daemons()
	if err != nil || len(ds) != 2 {
		t.Fatalf("daemons %+v, %v", ds, err)
	}
	if ds[0] != master {
		t.Errorf("master read back as %+v, want %+v", ds[0], master)
	}
	// The backup's unset options come back as the kernel's defaults.
	want := Daemon{State: DaemonBackup, Interface: "sync0", SyncID: 7, Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1, MaxLen: ds[1].MaxLen}
	if ds[1] != want || ds[1].MaxLen == 0 {
		t.Errorf("backup read back as %+v, want %+v", ds[1], want)
	}
	// ipvsadm agrees (it reads the same kernel state its own way).
	out := ipvsadm(t, ns, "-L", "--daemon")
	for _, w := range []string{"master sync daemon (mcast=sync0, syncid=7", "port=8849", "ttl=2", "group=224.0.0.82", "backup sync daemon (mcast=sync0, syncid=7"} {
		if !strings.Contains(out, w) {
			t.Errorf("ipvsadm --daemon lacks %q:\n%s", w, out)
		}
	}
	if err := k.StartDaemon(master); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second master: %v, want EEXIST", err)
	}
	if err := k.StopDaemon(DaemonMaster); err != nil {
		t.Fatal(err)
	}
	if ds, _ := k.Daemons(); len(ds) != 1 || ds[0].State != DaemonBackup {
		t.Fatalf("after stopping the master: %+v", ds)
	}
	if err := k.StopDaemon(DaemonBackup); err != nil {
		t.Fatal(err)
	}
	if ds, _ := k.Daemons(); len(ds) != 0 {
		t.Fatalf("after stopping both: %+v", ds)
	}
	if err := k.StopDaemon(DaemonBackup); err == nil {
		t.Error("stopping a stopped daemon succeeded")
	}
	if err := k.StartDaemon(Daemon{State: DaemonMaster, Interface: "nosuch0", SyncID: 1}); err == nil {
		t.Error("a daemon on a missing interface started")
	}
}

func kernelRelease() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "?"
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// ipvsadm runs ipvsadm inside ns (the adoption tests need a foreign tool).
func ipvsadm(t *testing.T, ns *nstest.NS, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("ipvsadm"); err != nil {
		t.Fatal("ipvsadm not found: the kernel lab must ship it (Debian package ipvsadm)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := ns.Output(ctx, "ipvsadm", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Dump reads IPv4 real servers through getsockopt and everything else
// through netlink; DumpCounters reads all through netlink. Both must see
// the same table, whatever mix of services it holds.
func TestKernelDumpPathsAgree(t *testing.T) {
	k, _ := newKernel(t)
	tun := vs(tcp("10.0.0.3:80"), "rr")
	tun.Destinations = []Destination{
		{Addr: ap("10.0.1.2:80"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGUE, TunnelPort: 5555, TunnelChecksum: TunnelCsum},
		{Addr: ap("10.0.1.3:80"), Forward: NAT, Weight: 2, UpperThreshold: 50, LowerThreshold: 5},
	}
	many := vs(tcp("10.0.0.4:80"), "wlc")
	for i := 0; i < 70; i++ { // more than the first getsockopt asks for
		many.Destinations = append(many.Destinations, Destination{Addr: ap(fmt.Sprintf("10.0.2.%d:8080", i+1)), Weight: uint32(i)})
	}
	desired := NewTable(
		vs(tcp("10.0.0.1:80"), "wrr", "10.0.1.2:8080=3", "10.0.1.3:8080=1"),
		vs(AddrKey(UDP, ap("10.0.0.2:53")), "sh", "10.0.1.2:53=1"),
		tun, many,
		vs(MarkKey(3, IPv4), "rr", "10.0.1.4:0=1"),
		vs(MarkKey(3, IPv6), "rr", "[2001:db8::4]:0=1"),
		vs(tcp("[2001:db8::1]:80"), "rr", "[2001:db8::2]:80=1"),
		vs(tcp("10.0.0.5:80"), "rr"), // no real servers
	)
	program(t, k, desired)
	full, err := k.DumpCounters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fast := dumpOK(t, k)
	if !full.Equal(desired) || !fast.Equal(full) {
		t.Fatalf("dumps disagree:\nnetlink:\n%s\nfast:\n%s", full, fast)
	}
	if d, _ := fast.Destination(tun.ServiceKey, ap("10.0.1.2:80")); d.TunnelType != TunnelGUE || d.TunnelPort != 5555 || d.TunnelChecksum != TunnelCsum {
		t.Fatalf("tunnel settings lost by the fast dump: %+v", d)
	}
}

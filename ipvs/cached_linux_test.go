package ipvs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fast path against a real kernel: 2,000 services of 3 real servers,
// one real server failing is one write without a dump, a real server
// drained on the fast path is deleted by the next Sync, and drift made by
// hand is left to Sync. The test logs the time of each path.
func TestKernelSyncCached(t *testing.T) {
	k, ns := newKernel(t)
	r := newReconciler(t, k, ReconcilerOptions{})
	var desired Table
	for i := range 2000 {
		v := vs(tcp(fmt.Sprintf("10.%d.%d.1:80", i/250, i%250)), "wrr", "10.200.0.1:80=1", "10.200.0.2:80=1", "10.200.0.3:80=1")
		v.DrainTimeout = time.Minute
		desired.Put(v)
	}
	ctx := context.Background()
	if _, err := r.Sync(ctx, desired); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if rep, err := r.Sync(ctx, desired); err != nil || rep.Writes != 0 {
		t.Fatalf("resync: %v, %d writes", err, rep.Writes)
	}
	full := time.Since(start)

	key := tcp("10.4.0.1:80")
	down := desired.Clone()
	down.DeleteDestination(key, ap("10.200.0.2:80"))
	w := k.Writes()
	start = time.Now()
	rep, err := r.SyncCached(ctx, down, key)
	cached := time.Since(start)
	if err != nil || len(rep.Failed) > 0 {
		t.Fatalf("SyncCached: %v %v", err, rep.Failed)
	}
	if got := render(rep.Ops); !slices.Equal(got, []string{"-e -t 10.4.0.1:80 -r 10.200.0.2:80 -m -w 0"}) || k.Writes()-w != 1 {
		t.Fatalf("ops %q, %d writes; want the weight-0 update only", got, k.Writes()-w)
	}
	if d, ok := dumpOK(t, k).Destination(key, ap("10.200.0.2:80")); !ok || d.Weight != 0 {
		t.Fatalf("kernel: %+v %v", d, ok)
	}
	t.Logf("2,000 services x 3 real servers: Sync with nothing to do %v, SyncCached of one failure %v", full.Round(time.Millisecond), cached.Round(time.Microsecond))

	// The failed server has no connections: the next Sync deletes it, and
	// nothing of this counts as drift.
	rep, err = r.Sync(ctx, down)
	if err != nil || !slices.Equal(render(rep.Ops), []string{"-d -t 10.4.0.1:80 -r 10.200.0.2:80"}) || len(rep.Drift) != 0 {
		t.Fatalf("full sync: %v ops %q drift %q", err, render(rep.Ops), render(rep.Drift))
	}

	// Drift is Sync's job: a service deleted by hand is not seen by
	// SyncCached, and Sync restores it as drift.
	ipvsadm(t, ns, "-D", "-t", "10.0.7.1:80")
	if rep, err := r.SyncCached(ctx, down); err != nil || len(rep.Ops) != 0 {
		t.Fatalf("SyncCached saw the kernel: %v %q", err, render(rep.Ops))
	}
	rep, err = r.Sync(ctx, down)
	if err != nil || len(rep.Ops) != 4 || len(rep.Drift) != 4 {
		t.Fatalf("repair: %v ops %q drift %q", err, render(rep.Ops), render(rep.Drift))
	}
	if !dumpOK(t, k).Equal(down) {
		t.Fatal("the kernel does not match after the repair")
	}
}

func TestKernelTimeouts(t *testing.T) {
	k, ns := newKernel(t)
	before, err := k.Timeouts()
	if err != nil {
		t.Fatal(err)
	}
	if before.TCP == 0 || before.TCPFin == 0 || before.UDP == 0 {
		t.Fatalf("kernel defaults read as %+v", before)
	}
	w := k.Writes()
	if err := k.SetTimeouts(Timeouts{TCP: 900 * time.Second, UDP: 60 * time.Second}); err != nil {
		t.Fatal(err)
	}
	got, err := k.Timeouts()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Timeouts{TCP: 900 * time.Second, TCPFin: before.TCPFin, UDP: 60 * time.Second}); got != want || k.Writes()-w != 1 {
		t.Fatalf("after setting tcp and udp: %+v, want %+v (tcpfin unchanged), %d writes", got, want, k.Writes()-w)
	}
	if out := ipvsadm(t, ns, "-L", "--timeout"); !slices.Contains(strings.Fields(out), "900") {
		t.Fatalf("ipvsadm sees %q", out)
	}
	if err := k.SetTimeouts(Timeouts{TCP: 1500 * time.Millisecond}); err == nil {
		t.Fatal("a fraction of a second was accepted")
	}
}

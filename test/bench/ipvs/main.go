// Command bench-ipvs measures lvsd's IPVS backend against ipvsadm on the
// same kernel in the same boot (make bench-ipvs runs it in the kernel lab):
//
//	cold        program N TCP services x M real servers into an empty, fresh
//	            network namespace: lvsd's Reconciler.Sync vs ipvsadm -R
//	resync      the same sync again, nothing changed: lvsd's Sync (one full
//	            dump, a diff, no write) vs ipvsadm -S -n (a full dump)
//	one-change  one real server's weight changed: lvsd's Sync vs ipvsadm -e
//
// Each tool gets its own fresh namespace: the kernel keeps deleted real
// servers on a per-namespace trash list that slows every later add, so a
// namespace that was flushed is no fair ground (see kernel-lab.md). And
// each tool runs its steps alone in the kernel's service hash table, which
// all namespaces share: ipvsadm first, then its namespace is flushed (not
// timed), then lvsd.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/lvsd/lvsd/ipvs"
)

func main() {
	var (
		services   = flag.Int("services", 10000, "virtual services")
		reals      = flag.Int("reals", 5, "real servers per service")
		estimation = flag.Bool("estimation", false, "leave the kernel's rate estimators on (net.ipv4.vs.run_estimation)")
	)
	flag.Parse()
	if err := run(*services, *reals, *estimation); err != nil {
		fmt.Fprintln(os.Stderr, "bench-ipvs:", err)
		os.Exit(1)
	}
}

type row struct {
	step                   string
	lvsd, peer             time.Duration
	lvsdWrites, peerWrites uint64
	peerName               string
}

func run(nsvc, nreal int, estimation bool) error {
	ctx := context.Background()
	desired := table(nsvc, nreal)
	fmt.Printf("bench-ipvs: %d TCP services x %d real servers (%d netlink writes cold), kernel %s, GOMAXPROCS %d, estimators %v\n",
		nsvc, nreal, desired.Len()+desired.NumDestinations(), release(), runtime.GOMAXPROCS(0), onOff(estimation))

	peerNS, err := newNS("bench-ipvsadm", estimation)
	if err != nil {
		return err
	}
	defer netns.DeleteNamed("bench-ipvsadm")
	lvsdNS, err := newNS("bench-lvsd", estimation)
	if err != nil {
		return err
	}
	defer netns.DeleteNamed("bench-lvsd")

	// The kernel's service hash table (256 buckets in 6.1) is shared by
	// all namespaces: each tool runs its three steps with only its own
	// table hashed. ipvsadm goes first; its namespace is flushed (not
	// timed) before lvsd starts.
	restore := desired.String()
	changed := desired.Clone()
	key := changed.Keys()[nsvc/2]
	v, _ := changed.Get(key)
	d := v.Destinations[nreal/2]
	d.Weight += 7
	if err := changed.PutDestination(key, d); err != nil {
		return err
	}
	op := ipvs.Op{Kind: ipvs.UpdateDestination, Service: ipvs.Service{ServiceKey: key}, Destination: d}

	peerCold, err := timeCmd(peerNS, restore, "ipvsadm", "-R")
	if err != nil {
		return err
	}
	peerTable, err := dump(peerNS)
	if err != nil {
		return err
	}
	if !peerTable.Equal(desired) {
		return fmt.Errorf("ipvsadm -R did not load the table (%d services, %d real servers)", peerTable.Len(), peerTable.NumDestinations())
	}
	peerDump, err := timeCmd(peerNS, "", "ipvsadm", "-S", "-n")
	if err != nil {
		return err
	}
	peerOne, err := timeCmd(peerNS, "", "ipvsadm", strings.Fields(op.String())...)
	if err != nil {
		return err
	}
	if _, err := timeCmd(peerNS, "", "ipvsadm", "-C"); err != nil {
		return err
	}

	k, err := ipvs.New(lvsdNS)
	if err != nil {
		return err
	}
	defer k.Close()
	r, err := ipvs.NewReconciler(k, ipvs.ReconcilerOptions{})
	if err != nil {
		return err
	}
	sync := func(step string, t ipvs.Table) (time.Duration, ipvs.Report, error) {
		start := time.Now()
		rep, err := r.Sync(ctx, t)
		took := time.Since(start)
		if err == nil && len(rep.Failed) > 0 {
			err = fmt.Errorf("%s: %d ops failed, first: %v", step, len(rep.Failed), rep.Failed[0])
		}
		return took, rep, err
	}
	lvsdCold, coldRep, err := sync("cold", desired)
	if err != nil {
		return err
	}
	lvsdResync, resyncRep, err := sync("resync", desired)
	if err != nil {
		return err
	}
	lvsdOne, oneRep, err := sync("one-change", changed)
	if err != nil {
		return err
	}
	if len(oneRep.Ops) != 1 || oneRep.Ops[0] != op {
		return fmt.Errorf("one-change sync applied %q, want exactly %s", oneRep.Ops, op)
	}
	rows := []row{
		{"cold", lvsdCold, peerCold, coldRep.Writes, uint64(strings.Count(restore, "\n")), "ipvsadm -R"},
		{"resync", lvsdResync, peerDump, resyncRep.Writes, 0, "ipvsadm -S -n"},
		{"one-change", lvsdOne, peerOne, oneRep.Writes, 1, "ipvsadm -e"},
	}

	// The dump alone, to show where a resync's time goes.
	start := time.Now()
	if _, err := k.Dump(ctx); err != nil {
		return err
	}
	dumpOnly := time.Since(start)

	fmt.Println()
	fmt.Printf("%-11s %10s %10s %7s %12s %15s  %s\n", "step", "lvsd_s", "ipvsadm_s", "ratio", "lvsd_writes", "ipvsadm_writes", "ipvsadm ran")
	for _, r := range rows {
		fmt.Printf("%-11s %10.3f %10.3f %7.2f %12d %15d  %s\n", r.step, r.lvsd.Seconds(), r.peer.Seconds(),
			r.lvsd.Seconds()/r.peer.Seconds(), r.lvsdWrites, r.peerWrites, r.peerName)
	}
	fmt.Println()
	fmt.Printf("lvsd dump alone: %.3f s (%d services, %d real servers)\n", dumpOnly.Seconds(), desired.Len(), desired.NumDestinations())
	cold, resync, one := rows[0], rows[1], rows[2]
	check := func(ok bool, what string) {
		mark := "ok  "
		if !ok {
			mark = "MISS"
		}
		fmt.Printf("target %s %s\n", mark, what)
	}
	check(cold.lvsd.Seconds()/cold.peer.Seconds() <= 1.5, fmt.Sprintf("cold ratio lvsd/ipvsadm <= 1.5: %.2f", cold.lvsd.Seconds()/cold.peer.Seconds()))
	check(resync.lvsd < cold.lvsd/10 && resync.lvsdWrites == 0, fmt.Sprintf("resync < 10%% of cold with 0 writes: %.1f%%, %d writes", 100*resync.lvsd.Seconds()/cold.lvsd.Seconds(), resync.lvsdWrites))
	check(one.lvsdWrites == 1, fmt.Sprintf("one-change = exactly 1 write: %d", one.lvsdWrites))
	return nil
}

// table is nsvc TCP services on 10.x.y.z:80 with nreal NAT real servers each.
func table(nsvc, nreal int) ipvs.Table {
	var t ipvs.Table
	for i := 0; i < nsvc; i++ {
		vip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		v := ipvs.VirtualService{Service: ipvs.Service{ServiceKey: ipvs.AddrKey(ipvs.TCP, netip.AddrPortFrom(vip, 80)), Scheduler: "wrr"}}
		for j := 0; j < nreal; j++ {
			n := i*nreal + j
			rip := netip.AddrFrom4([4]byte{172, 16 + byte(n>>16), byte(n >> 8), byte(n)})
			v.Destinations = append(v.Destinations, ipvs.Destination{Addr: netip.AddrPortFrom(rip, 8080), Forward: ipvs.NAT, Weight: uint32(1 + j)})
		}
		t.Put(v)
	}
	return t
}

// newNS creates a named network namespace with lo up and returns its path.
func newNS(name string, estimation bool) (string, error) {
	_ = netns.DeleteNamed(name)
	err := onThread(func() error {
		h, err := netns.NewNamed(name) // and enters it
		if err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
		h.Close()
		// lo up creates the local routing table; without it the kernel
		// takes every IPv4 address for a broadcast and refuses real
		// servers (EINVAL).
		if err := netlink.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: "lo"}}); err != nil {
			return fmt.Errorf("set lo up in %s: %w", name, err)
		}
		v := "0"
		if estimation {
			v = "1"
		}
		if err := os.WriteFile("/proc/sys/net/ipv4/vs/run_estimation", []byte(v), 0o644); err != nil {
			fmt.Printf("note: cannot set net.ipv4.vs.run_estimation=%s (%v)\n", v, err)
		}
		return nil
	})
	return "/run/netns/" + name, err
}

// onThread runs fn on a locked thread of its own and puts the thread back
// in its original namespace after; a thread that cannot go back is retired.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		err = fn()
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, serr)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// timeCmd runs a program inside the namespace at path and times it.
func timeCmd(path, stdin string, name string, args ...string) (time.Duration, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stderr = &out
	target, err := netns.GetFromPath(path)
	if err != nil {
		return 0, err
	}
	defer target.Close()
	var start time.Time
	err = onThread(func() error {
		if err := netns.Set(target); err != nil {
			return err
		}
		start = time.Now()
		return cmd.Start() // the child inherits the thread's namespace
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	err = cmd.Wait()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out.String())
	}
	return took, nil
}

func dump(path string) (ipvs.Table, error) {
	k, err := ipvs.New(path)
	if err != nil {
		return ipvs.Table{}, err
	}
	defer k.Close()
	return k.Dump(context.Background())
}

func release() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

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
// all namespaces share: a tool's table is flushed (untimed) before the
// other starts. Rounds alternate the order (ipvsadm first, then lvsd
// first); the table shows the means, and each round is printed too.
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
		rounds     = flag.Int("rounds", 2, "rounds; odd rounds run ipvsadm first, even ones lvsd first")
		estimation = flag.Bool("estimation", false, "leave the kernel's rate estimators on (net.ipv4.vs.run_estimation)")
	)
	flag.Parse()
	if err := run(*services, *reals, *rounds, *estimation); err != nil {
		fmt.Fprintln(os.Stderr, "bench-ipvs:", err)
		os.Exit(1)
	}
}

// result is one tool's three steps: seconds and netlink writes.
type result struct {
	took   [3]time.Duration
	writes [3]uint64
}

var steps = [3]string{"cold", "resync", "one-change"}

type bench struct {
	desired, changed ipvs.Table
	restore          string
	op               ipvs.Op // the one change
	estimation       bool
}

func run(nsvc, nreal, rounds int, estimation bool) error {
	b := bench{desired: table(nsvc, nreal), estimation: estimation}
	b.restore = b.desired.String()
	b.changed = b.desired.Clone()
	key := b.changed.Keys()[nsvc/2]
	v, _ := b.changed.Get(key)
	d := v.Destinations[nreal/2]
	d.Weight += 7
	if err := b.changed.PutDestination(key, d); err != nil {
		return err
	}
	b.op = ipvs.Op{Kind: ipvs.UpdateDestination, Service: ipvs.Service{ServiceKey: key}, Destination: d}
	fmt.Printf("bench-ipvs: %d TCP services x %d real servers (%d netlink writes cold), kernel %s, GOMAXPROCS %d, estimators %v, %d rounds\n",
		nsvc, nreal, b.desired.Len()+b.desired.NumDestinations(), release(), runtime.GOMAXPROCS(0), onOff(estimation), rounds)

	// Each tool runs its steps on a fresh namespace, alone in the kernel's
	// service hash (shared by all namespaces): the other tool's table is
	// flushed first (untimed). Rounds alternate which tool goes first, so
	// a machine that gets busier or quieter during the run does not favour
	// one of them; the table shows the means.
	var lv, pe []result
	for i := 1; i <= rounds; i++ {
		order := []string{"ipvsadm", "lvsd"}
		if i%2 == 0 {
			order = []string{"lvsd", "ipvsadm"}
		}
		for _, tool := range order {
			ns, err := newNS(fmt.Sprintf("bench-%s-%d", tool, i), estimation)
			if err != nil {
				return err
			}
			defer netns.DeleteNamed(fmt.Sprintf("bench-%s-%d", tool, i))
			var r result
			if tool == "lvsd" {
				r, err = b.lvsd(ns)
				lv = append(lv, r)
			} else {
				r, err = b.ipvsadm(ns)
				pe = append(pe, r)
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", i, tool, err)
			}
			if _, err := timeCmd(ns, "", "ipvsadm", "-C"); err != nil {
				return err
			}
		}
		l, p := lv[len(lv)-1], pe[len(pe)-1]
		fmt.Printf("round %d (%s first): cold %.3f/%.3f s, resync %.3f/%.3f s, one-change %.3f/%.3f s (lvsd/ipvsadm)\n", i, order[0],
			l.took[0].Seconds(), p.took[0].Seconds(), l.took[1].Seconds(), p.took[1].Seconds(), l.took[2].Seconds(), p.took[2].Seconds())
	}

	peerName := [3]string{"ipvsadm -R", "ipvsadm -S -n", "ipvsadm -e"}
	fmt.Println()
	fmt.Printf("%-11s %10s %10s %7s %12s %15s  %s\n", "step", "lvsd_s", "ipvsadm_s", "ratio", "lvsd_writes", "ipvsadm_writes", "ipvsadm ran")
	var mean [2][3]float64
	for i := range steps {
		l, p := meanSeconds(lv, i), meanSeconds(pe, i)
		mean[0][i], mean[1][i] = l, p
		fmt.Printf("%-11s %10.3f %10.3f %7.2f %12d %15d  %s\n", steps[i], l, p, l/p, lv[0].writes[i], pe[0].writes[i], peerName[i])
	}
	fmt.Println()
	check := func(ok bool, what string) {
		mark := "ok  "
		if !ok {
			mark = "MISS"
		}
		fmt.Printf("target %s %s\n", mark, what)
	}
	maxWrites := func(step int) uint64 {
		var m uint64
		for _, r := range lv {
			m = max(m, r.writes[step])
		}
		return m
	}
	check(mean[0][0]/mean[1][0] <= 1.5, fmt.Sprintf("cold ratio lvsd/ipvsadm <= 1.5: %.2f", mean[0][0]/mean[1][0]))
	check(mean[0][1] < mean[0][0]/10 && maxWrites(1) == 0, fmt.Sprintf("resync < 10%% of cold with 0 writes: %.1f%%, %d writes", 100*mean[0][1]/mean[0][0], maxWrites(1)))
	check(maxWrites(2) == 1, fmt.Sprintf("one-change = exactly 1 write: %d", maxWrites(2)))
	return nil
}

func meanSeconds(rs []result, step int) float64 {
	var sum float64
	for _, r := range rs {
		sum += r.took[step].Seconds()
	}
	return sum / float64(len(rs))
}

// ipvsadm loads the table with ipvsadm -R, reads it with ipvsadm -S -n,
// changes one weight with ipvsadm -e.
func (b *bench) ipvsadm(ns string) (result, error) {
	var r result
	var err error
	if r.took[0], err = timeCmd(ns, b.restore, "ipvsadm", "-R"); err != nil {
		return r, err
	}
	r.writes[0] = uint64(strings.Count(b.restore, "\n"))
	got, err := dump(ns)
	if err != nil {
		return r, err
	}
	if !got.Equal(b.desired) {
		return r, fmt.Errorf("ipvsadm -R did not load the table (%d services, %d real servers)", got.Len(), got.NumDestinations())
	}
	if r.took[1], err = timeCmd(ns, "", "ipvsadm", "-S", "-n"); err != nil {
		return r, err
	}
	if r.took[2], err = timeCmd(ns, "", "ipvsadm", strings.Fields(b.op.String())...); err != nil {
		return r, err
	}
	r.writes[2] = 1
	return r, nil
}

// lvsd runs a Reconciler on the Kernel backend: a cold sync into the empty
// namespace, the same sync again, then the table with one weight changed.
func (b *bench) lvsd(ns string) (result, error) {
	var r result
	k, err := ipvs.New(ns)
	if err != nil {
		return r, err
	}
	defer k.Close()
	rec, err := ipvs.NewReconciler(k, ipvs.ReconcilerOptions{})
	if err != nil {
		return r, err
	}
	for i, t := range []ipvs.Table{b.desired, b.desired, b.changed} {
		start := time.Now()
		rep, err := rec.Sync(context.Background(), t)
		r.took[i] = time.Since(start)
		if err != nil {
			return r, err
		}
		if len(rep.Failed) > 0 {
			return r, fmt.Errorf("%s: %d ops failed, first: %v", steps[i], len(rep.Failed), rep.Failed[0])
		}
		r.writes[i] = rep.Writes
	}
	got, err := k.Dump(context.Background())
	if err != nil {
		return r, err
	}
	if !got.Equal(b.changed) {
		return r, fmt.Errorf("the kernel does not hold the changed table after one-change")
	}
	return r, nil
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

package ipvs

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// vs builds a virtual service from ipvsadm-like shorthand for tests:
// vs(tcp("10.0.0.1:80"), "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1").
func vs(k ServiceKey, sched string, dests ...string) VirtualService {
	v := VirtualService{Service: Service{ServiceKey: k, Scheduler: sched}}
	for _, d := range dests {
		a, w, _ := strings.Cut(d, "=")
		var weight uint32
		fmt.Sscan(w, &weight)
		v.Destinations = append(v.Destinations, Destination{Addr: ap(a), Forward: NAT, Weight: weight})
	}
	return v
}

func render(ops []Op) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = op.String()
	}
	return out
}

func TestDiff(t *testing.T) {
	web := tcp("10.0.0.1:80")
	api := tcp("10.0.0.2:443")
	foreign := tcp("10.0.0.9:22")
	tests := []struct {
		name    string
		desired Table
		actual  Table
		retired []ServiceKey
		want    []string
	}{
		{
			name:    "empty kernel: add everything in key order",
			desired: NewTable(vs(api, "rr", "10.0.2.2:443=1"), vs(web, "wrr", "10.0.1.3:80=1", "10.0.1.2:80=3")),
			want: []string{
				"-A -t 10.0.0.1:80 -s wrr",
				"-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 3",
				"-a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1",
				"-A -t 10.0.0.2:443 -s rr",
				"-a -t 10.0.0.2:443 -r 10.0.2.2:443 -m -w 1",
			},
		},
		{
			name:    "equal: nothing",
			desired: NewTable(vs(web, "wrr", "10.0.1.2:80=3")),
			actual:  NewTable(vs(web, "wrr", "10.0.1.2:80=3")),
		},
		{
			name:    "one weight: one update",
			desired: NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1")),
			actual:  NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=5")),
			want:    []string{"-e -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1"},
		},
		{
			name:    "scheduler change is an update, real servers untouched",
			desired: NewTable(vs(web, "wlc", "10.0.1.2:80=3")),
			actual:  NewTable(vs(web, "wrr", "10.0.1.2:80=3")),
			want:    []string{"-E -t 10.0.0.1:80 -s wlc"},
		},
		{
			name:    "real servers: deletes, then updates, then adds",
			desired: NewTable(vs(web, "wrr", "10.0.1.2:80=2", "10.0.1.5:80=1", "10.0.1.4:80=1")),
			actual:  NewTable(vs(web, "wrr", "10.0.1.2:80=1", "10.0.1.3:80=1", "10.0.1.1:80=1")),
			want: []string{
				"-d -t 10.0.0.1:80 -r 10.0.1.1:80",
				"-d -t 10.0.0.1:80 -r 10.0.1.3:80",
				"-e -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 2",
				"-a -t 10.0.0.1:80 -r 10.0.1.4:80 -m -w 1",
				"-a -t 10.0.0.1:80 -r 10.0.1.5:80 -m -w 1",
			},
		},
		{
			name:    "foreign service and its real servers are never touched",
			desired: NewTable(vs(web, "wrr", "10.0.1.2:80=3")),
			actual:  NewTable(vs(web, "wrr", "10.0.1.2:80=3"), vs(foreign, "rr", "10.0.9.9:22=1")),
		},
		{
			name:    "retired service is deleted with one op",
			desired: NewTable(vs(web, "wrr", "10.0.1.2:80=3")),
			actual:  NewTable(vs(web, "wrr", "10.0.1.2:80=3"), vs(api, "rr", "10.0.2.2:443=1", "10.0.2.3:443=1"), vs(foreign, "rr")),
			retired: []ServiceKey{api, api},
			want:    []string{"-D -t 10.0.0.2:443"},
		},
		{
			name:    "retired but already gone, or desired again: nothing",
			desired: NewTable(vs(web, "wrr", "10.0.1.2:80=3")),
			actual:  NewTable(vs(web, "wrr", "10.0.1.2:80=3")),
			retired: []ServiceKey{api, web},
		},
		{
			name:    "deletes come before adds across services",
			desired: NewTable(vs(web, "rr", "10.0.1.2:80=1")),
			actual:  NewTable(vs(api, "rr")),
			retired: []ServiceKey{api},
			want:    []string{"-D -t 10.0.0.2:443", "-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1"},
		},
		{
			name:    "fwmark services of both families are different services",
			desired: NewTable(vs(MarkKey(5, IPv4), "rr", "10.0.1.2:0=1"), vs(MarkKey(5, IPv6), "rr", "[2001:db8::2]:0=1")),
			actual:  NewTable(vs(MarkKey(5, IPv4), "rr", "10.0.1.2:0=1")),
			want:    []string{"-A -f 5 -6 -s rr", "-a -f 5 -6 -r [2001:db8::2] -m -w 1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := render(Diff(tc.desired, tc.actual, tc.retired...))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Diff:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// A dump reports what the kernel adds on its own; none of it is a change.
func TestDiffIgnoresWhatTheKernelAdds(t *testing.T) {
	k := tcp("10.0.0.1:80")
	desired := NewTable(VirtualService{
		Service: Service{ServiceKey: k, Scheduler: "wrr", Persistence: 300, DrainTimeout: time.Minute},
		Destinations: []Destination{
			{Addr: ap("10.0.1.2:80"), Forward: DR, Weight: 3},
			{Addr: ap("10.0.1.3:80"), Forward: NAT, Weight: 1},
		},
	})
	dumped := NewTable(VirtualService{
		// full mask spelled out, stats, no drain timeout (not kernel state)
		Service: Service{ServiceKey: k, Scheduler: "wrr", Persistence: 300, PersistenceMask: 32},
		Destinations: []Destination{
			{Addr: ap("10.0.1.2:80"), Forward: DR, Weight: 3, Stats: Counters{ActiveConns: 4, Conns: 99}},
			// the kernel picked "local" for an address of its own
			{Addr: ap("10.0.1.3:80"), Forward: Local, Weight: 1},
		},
		Stats: Counters{Conns: 100},
	})
	if ops := Diff(desired, dumped); len(ops) != 0 {
		t.Errorf("Diff = %q, want nothing", render(ops))
	}
	// With persistence off, the mask is not the kernel's business either.
	d2 := NewTable(VirtualService{Service: Service{ServiceKey: k, Scheduler: "rr"}})
	a2 := NewTable(VirtualService{Service: Service{ServiceKey: k, Scheduler: "rr", PersistenceMask: 24}})
	if ops := Diff(d2, a2); len(ops) != 0 {
		t.Errorf("Diff = %q, want nothing", render(ops))
	}
}

func TestDiffSeesEverySetting(t *testing.T) {
	k := tcp("10.0.0.1:80")
	base := VirtualService{
		Service:      Service{ServiceKey: k, Scheduler: "sh", Persistence: 300},
		Destinations: []Destination{{Addr: ap("10.0.1.2:80"), Forward: Tunnel, Weight: 1}},
	}
	edits := map[string]func(*VirtualService){
		"scheduler":      func(v *VirtualService) { v.Scheduler = "mh" },
		"sched flags":    func(v *VirtualService) { v.SchedFlags.Port = true },
		"persistence":    func(v *VirtualService) { v.Persistence = 60 },
		"mask":           func(v *VirtualService) { v.PersistenceMask = 16 },
		"one-packet":     func(v *VirtualService) { v.OnePacket = true },
		"forward":        func(v *VirtualService) { v.Destinations[0].Forward = DR },
		"weight":         func(v *VirtualService) { v.Destinations[0].Weight = 2 },
		"upper":          func(v *VirtualService) { v.Destinations[0].UpperThreshold = 9 },
		"lower":          func(v *VirtualService) { v.Destinations[0].LowerThreshold = 9 },
		"tunnel type":    func(v *VirtualService) { v.Destinations[0].TunnelType = TunnelGRE },
		"tunnel port":    func(v *VirtualService) { v.Destinations[0].TunnelPort = 1 },
		"tunnel csum":    func(v *VirtualService) { v.Destinations[0].TunnelChecksum = TunnelCsum },
		"server address": func(v *VirtualService) { v.Destinations[0].Addr = ap("10.0.1.3:80") },
	}
	for name, edit := range edits {
		want := base
		want.Destinations = slices.Clone(base.Destinations)
		edit(&want)
		if ops := Diff(NewTable(want), NewTable(base)); len(ops) == 0 {
			t.Errorf("%s: a change went unnoticed", name)
		}
	}
}

func TestDiffDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	desired, actual := randomTable(r, 60), randomTable(r, 60)
	retired := actual.Keys()[:20]
	first := render(Diff(desired, actual, retired...))
	if len(first) == 0 {
		t.Fatal("random tables diff to nothing; the test proves nothing")
	}
	for i := 0; i < 20; i++ {
		slices.Reverse(retired)
		if got := render(Diff(desired.Clone(), actual.Clone(), retired...)); !slices.Equal(got, first) {
			t.Fatalf("run %d differs from the first", i)
		}
	}
}

// Applying a diff to the actual table makes the owned part equal desired
// and leaves the rest alone.
func TestDiffApplyConverges(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		desired, actual := randomTable(r, 15), randomTable(r, 15)
		var retired []ServiceKey
		for i, k := range actual.Keys() {
			if i%3 == 0 {
				retired = append(retired, k)
			}
		}
		after := actual.Clone()
		for _, op := range Diff(desired, actual, retired...) {
			if err := after.Apply(op); err != nil {
				t.Fatalf("seed %d: %s: %v", seed, op, err)
			}
		}
		if ops := Diff(desired, after, retired...); len(ops) != 0 {
			t.Fatalf("seed %d: not converged, still %q", seed, render(ops))
		}
		for _, k := range actual.Keys() {
			owned := desired.Has(k) || slices.Contains(retired, k)
			if owned {
				continue
			}
			a, _ := actual.Get(k)
			b, ok := after.Get(k)
			if !ok || !slices.Equal(a.Destinations, b.Destinations) || a.Service != b.Service {
				t.Fatalf("seed %d: foreign service %s changed", seed, k)
			}
		}
	}
}

func randomTable(r *rand.Rand, n int) Table {
	var t Table
	scheds := []string{"rr", "wrr", "sh", "wlc"}
	for i := 0; i < n; i++ {
		k := tcp(fmt.Sprintf("10.0.%d.%d:80", r.IntN(2), r.IntN(n)+1))
		v := VirtualService{Service: Service{ServiceKey: k, Scheduler: scheds[r.IntN(len(scheds))]}}
		for j := r.IntN(5); j > 0; j-- {
			v.Destinations = append(v.Destinations, Destination{
				Addr:   netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(r.IntN(3)), byte(r.IntN(6) + 1)}), 80),
				Weight: uint32(r.IntN(4)),
			})
		}
		t.Put(v)
	}
	return t
}

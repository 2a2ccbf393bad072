package vrrp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"testing"
	"time"
)

// The simulation runs N state machines in one process on a fake clock and a
// fake LAN: adverts are delivered to every other live, reachable node after
// a delay, possibly dropped. No goroutines, fully deterministic.

type simNode struct {
	name     string
	addr     netip.Addr
	cfg      MachineConfig
	m        *Machine
	deadline time.Time
	up       bool // process running
	owns     bool // holds the virtual addresses
	trans    []Transition
	sent     []sentAdvert
	lastRcvd time.Time // last advert with priority > 0 delivered to it
}

type sentAdvert struct {
	at   time.Time
	prio uint8
}

type delivery struct {
	at       time.Time
	seq      int
	from, to int
	a        Advert
}

type sim struct {
	t     *testing.T
	now   time.Time
	nodes []*simNode
	delay time.Duration
	loss  float64
	rng   *rand.Rand
	cut   map[[2]int]bool // cut[{a,b}]: a's adverts do not reach b
	queue []delivery
	seq   int
}

func newSim(t *testing.T, version uint8, intv time.Duration, prios ...uint8) *sim {
	s := &sim{t: t, now: t0, cut: map[[2]int]bool{}, rng: rand.New(rand.NewPCG(1, 2))}
	for i, p := range prios {
		addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
		cfg := MachineConfig{Version: version, Priority: p, AdvertInterval: intv, Preempt: true, Address: addr}
		s.nodes = append(s.nodes, &simNode{name: fmt.Sprintf("n%d", i+1), addr: addr, cfg: cfg})
	}
	return s
}

func (s *sim) node(i int) *simNode { return s.nodes[i] }

// boot starts node i now (a fresh process: new machine, no addresses
// unless a crashed run left them).
func (s *sim) boot(i int) {
	n := s.nodes[i]
	n.m = NewMachine(n.cfg)
	n.up = true
	n.owns = false // a restart removes stale addresses first
	n.m.Start(s.now)
	s.apply(i)
}

// crash stops node i without a word (SIGKILL); its addresses stay.
func (s *sim) crash(i int) { s.nodes[i].up = false; s.nodes[i].deadline = time.Time{} }

func (s *sim) shutdown(i int) {
	s.nodes[i].m.Shutdown(s.now)
	s.apply(i)
}

func (s *sim) input(i int, f func(m *Machine, now time.Time)) {
	f(s.nodes[i].m, s.now)
	s.apply(i)
}

// partition cuts every link between the groups.
func (s *sim) partition(groups ...[]int) {
	s.cut = map[[2]int]bool{}
	for gi, g := range groups {
		for gj, h := range groups {
			if gi == gj {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					s.cut[[2]int{a, b}] = true
				}
			}
		}
	}
}

func (s *sim) heal() { s.cut = map[[2]int]bool{} }

// apply does what node i's Ready says.
func (s *sim) apply(i int) {
	n := s.nodes[i]
	rd := n.m.Ready()
	n.trans = append(n.trans, rd.Transitions...)
	if rd.Own {
		n.owns = true
	}
	for _, p := range rd.Adverts {
		n.sent = append(n.sent, sentAdvert{s.now, p})
		a := Advert{Version: n.cfg.Version, VRID: 1, Priority: p, Interval: n.cfg.AdvertInterval}
		for j := range s.nodes {
			if j == i || s.cut[[2]int{i, j}] || (s.loss > 0 && s.rng.Float64() < s.loss) {
				continue
			}
			s.seq++
			s.queue = append(s.queue, delivery{at: s.now.Add(s.delay), seq: s.seq, from: i, to: j, a: a})
		}
	}
	if rd.Release {
		n.owns = false
	}
	n.deadline = rd.Deadline
}

// run processes events up to and including until.
func (s *sim) run(until time.Time) {
	for steps := 0; ; steps++ {
		if steps > 1_000_000 {
			s.t.Fatal("simulation does not settle")
		}
		// Next event: earliest delivery or node deadline.
		next, kind, idx := time.Time{}, "", -1
		for k, d := range s.queue {
			if next.IsZero() || d.at.Before(next) {
				next, kind, idx = d.at, "d", k
			}
		}
		for i, n := range s.nodes {
			if n.up && !n.deadline.IsZero() && (next.IsZero() || n.deadline.Before(next)) {
				next, kind, idx = n.deadline, "t", i
			}
		}
		if next.IsZero() || next.After(until) {
			s.now = until
			return
		}
		s.now = next
		if kind == "t" {
			s.nodes[idx].m.Tick(s.now)
			s.apply(idx)
			continue
		}
		d := s.queue[idx]
		s.queue = append(s.queue[:idx], s.queue[idx+1:]...)
		n := s.nodes[d.to]
		if !n.up {
			continue
		}
		if d.a.Priority > 0 {
			n.lastRcvd = s.now
		}
		n.m.Step(s.now, s.nodes[d.from].addr, d.a)
		s.apply(d.to)
	}
}

func (s *sim) runFor(d time.Duration) { s.run(s.now.Add(d)) }

// masters lists running nodes in Master.
func (s *sim) masters() []int {
	var out []int
	for i, n := range s.nodes {
		if n.up && n.m.State() == Master {
			out = append(out, i)
		}
	}
	return out
}

func (s *sim) owners() []int {
	var out []int
	for i, n := range s.nodes {
		if n.owns {
			out = append(out, i)
		}
	}
	return out
}

// becameMasterAt is when node i last became Master.
func (s *sim) becameMasterAt(i int) time.Time {
	tr := s.nodes[i].trans
	for k := len(tr) - 1; k >= 0; k-- {
		if tr[k].To == Master {
			return tr[k].At
		}
	}
	return time.Time{}
}

func (s *sim) requireMaster(i int) {
	s.t.Helper()
	if m := s.masters(); len(m) != 1 || m[0] != i {
		s.t.Fatalf("at %v masters are %v, want [%d]%s", s.now.Sub(t0), m, i, s.dump())
	}
	if o := s.owners(); len(o) != 1 || o[0] != i {
		s.t.Fatalf("at %v address owners are %v, want [%d]%s", s.now.Sub(t0), o, i, s.dump())
	}
}

func (s *sim) dump() string {
	out := ""
	for _, n := range s.nodes {
		out += fmt.Sprintf("\n  %s up=%v prio=%d", n.name, n.up, n.cfg.Priority)
		for _, tr := range n.trans {
			out += fmt.Sprintf("\n    %v %v->%v %s %s", tr.At.Sub(t0), tr.From, tr.To, tr.Reason, tr.Detail)
		}
	}
	return out
}

func TestSimElection(t *testing.T) {
	for _, v := range []uint8{2, 3} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			s := newSim(t, v, time.Second, 100, 200, 150)
			s.delay = time.Millisecond
			for i := range s.nodes {
				s.boot(i)
			}
			s.runFor(10 * time.Second)
			s.requireMaster(1)
			// The highest priority has the shortest skew, so it fires first,
			// exactly at its Master_Down_Interval.
			if got, want := s.becameMasterAt(1), t0.Add(MasterDownInterval(v, 200, time.Second)); !got.Equal(want) {
				t.Fatalf("master at %v, want %v", got.Sub(t0), want.Sub(t0))
			}
			for _, i := range []int{0, 2} {
				if len(s.node(i).trans) != 1 {
					t.Fatalf("%s changed state %d times, want once (startup)%s", s.node(i).name, len(s.node(i).trans), s.dump())
				}
			}
		})
	}
}

func TestSimTieBreakOnAddress(t *testing.T) {
	// Equal priorities all fire together; the highest address must win
	// and everyone else yield after the first exchange.
	s := newSim(t, 3, 100*ms, 100, 100, 100, 100)
	s.delay = 2 * ms
	for i := range s.nodes {
		s.boot(i)
	}
	mdi := MasterDownInterval(3, 100, 100*ms)
	s.run(t0.Add(mdi))
	if len(s.masters()) != 4 {
		t.Fatalf("masters at the down interval %v, want all four firing together%s", s.masters(), s.dump())
	}
	s.run(t0.Add(mdi + s.delay))
	s.requireMaster(3)
	for i := range 3 {
		tr := s.node(i).trans
		if last := tr[len(tr)-1]; last.Reason != ReasonEqualPriority {
			t.Fatalf("%s yielded for %q, want equal priority", s.node(i).name, last.Reason)
		}
	}
}

func TestSimCrashTakeoverTiming(t *testing.T) {
	for _, tc := range []struct {
		v    uint8
		intv time.Duration
	}{{2, time.Second}, {3, time.Second}, {3, 100 * ms}, {3, 10 * ms}} {
		t.Run(fmt.Sprintf("v%d-%v", tc.v, tc.intv), func(t *testing.T) {
			s := newSim(t, tc.v, tc.intv, 150, 100, 50)
			s.delay = 300 * time.Microsecond
			for i := range s.nodes {
				s.boot(i)
			}
			s.runFor(10 * tc.intv)
			s.requireMaster(0)
			s.runFor(tc.intv / 3)
			s.crash(0)
			lastAdvert := s.node(1).lastRcvd
			s.runFor(10 * tc.intv)
			// n2 (100) takes over exactly Master_Down_Interval after the last
			// advert it received; n3 (50) yields to n2's first advert.
			want := lastAdvert.Add(MasterDownInterval(tc.v, 100, tc.intv))
			if got := s.becameMasterAt(1); !got.Equal(want) {
				t.Fatalf("n2 master at %v, want %v (last advert %v + MDI)", got.Sub(t0), want.Sub(t0), lastAdvert.Sub(t0))
			}
			if m := s.masters(); len(m) != 1 || m[0] != 1 {
				t.Fatalf("masters %v, want [1]%s", m, s.dump())
			}
			// The crashed node still holds the addresses (SIGKILL); so does n2.
			if o := s.owners(); len(o) != 2 {
				t.Fatalf("owners %v, want the crashed master and n2", o)
			}
			// Restart: stale addresses removed, n1 preempts after its MDI.
			s.boot(0)
			boot := s.now
			s.runFor(10 * tc.intv)
			s.requireMaster(0)
			if got, want := s.becameMasterAt(0), boot.Add(MasterDownInterval(tc.v, 150, tc.intv)); !got.Equal(want) {
				t.Fatalf("n1 preempted at %v, want %v", got.Sub(t0), want.Sub(t0))
			}
			if tr := s.node(0).trans; tr[len(tr)-1].Reason != ReasonPreempt {
				t.Fatalf("n1 became master for %q, want preempt", tr[len(tr)-1].Reason)
			}
		})
	}
}

func TestSimGracefulStop(t *testing.T) {
	for _, handover := range []bool{false, true} {
		t.Run(fmt.Sprintf("handover=%v", handover), func(t *testing.T) {
			s := newSim(t, 3, time.Second, 150, 100, 50)
			s.delay = time.Millisecond
			for i := range s.nodes {
				s.nodes[i].cfg.Handover = handover
				s.boot(i)
			}
			s.runFor(10 * time.Second)
			s.requireMaster(0)
			s.runFor(300 * ms)
			stop := s.now
			s.shutdown(0)
			if handover != s.node(0).owns {
				t.Fatalf("after shutdown n1 owns=%v, want %v", s.node(0).owns, handover)
			}
			s.runFor(5 * time.Second)
			// Backup reacts to priority 0 with Skew_Time, not the full interval.
			want := stop.Add(s.delay + SkewTime(3, 100, time.Second))
			if got := s.becameMasterAt(1); !got.Equal(want) {
				t.Fatalf("n2 master at %v, want %v", got.Sub(t0), want.Sub(t0))
			}
			if !s.node(0).m.Done() {
				t.Fatal("n1 not done")
			}
			s.node(0).up = false
			s.requireMaster(1)
			if handover {
				// Released exactly when n2's first advert arrived.
				var rel time.Time
				for _, sa := range s.node(1).sent {
					if sa.prio > 0 {
						rel = sa.at.Add(s.delay)
						break
					}
				}
				if rel.After(want.Add(s.delay)) {
					t.Fatalf("n2's first advert at %v", rel.Sub(t0))
				}
			}
		})
	}
}

func TestSimHandoverWithoutBackupEnds(t *testing.T) {
	s := newSim(t, 3, 100*ms, 150)
	s.nodes[0].cfg.Handover = true
	s.boot(0)
	s.runFor(time.Second)
	s.requireMaster(0)
	s.shutdown(0)
	s.runFor(time.Second)
	if s.node(0).owns || !s.node(0).m.Done() {
		t.Fatalf("lone master still owns=%v done=%v a second after stop", s.node(0).owns, s.node(0).m.Done())
	}
}

func TestSimPartitionAndHeal(t *testing.T) {
	s := newSim(t, 3, 100*ms, 200, 150, 100, 50, 25)
	s.delay = ms
	for i := range s.nodes {
		s.boot(i)
	}
	s.runFor(2 * time.Second)
	s.requireMaster(0)

	// Split into three islands: each elects its own master.
	s.partition([]int{0}, []int{1, 2}, []int{3, 4})
	s.runFor(2 * time.Second)
	if m := s.masters(); fmt.Sprint(m) != "[0 1 3]" {
		t.Fatalf("masters during partition %v, want [0 1 3]%s", m, s.dump())
	}
	// Heal: within one advert interval (plus delivery) one master remains.
	s.heal()
	s.runFor(100*ms + 2*s.delay)
	s.requireMaster(0)
	s.runFor(5 * time.Second)
	s.requireMaster(0)
}

func TestSimPreemptVariants(t *testing.T) {
	intv := 100 * ms
	tests := []struct {
		name       string
		preempt    bool
		delay      time.Duration
		wantMaster int
		// when n1 (the returning higher priority) becomes master, after its boot
		after time.Duration
	}{
		{"preempt", true, 0, 0, MasterDownInterval(3, 200, intv)},
		{"nopreempt", false, 0, 1, 0},
		// With preempt_delay the first lower advert (at most one interval after
		// boot) starts the delay; adverts reset the timer until it ends.
		{"preempt_delay", true, 2 * time.Second, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, 3, intv, 200, 100)
			s.delay = ms
			s.nodes[0].cfg.Preempt = tt.preempt
			s.nodes[0].cfg.PreemptDelay = tt.delay
			s.boot(1)
			s.runFor(time.Second)
			s.requireMaster(1)
			s.boot(0)
			boot := s.now
			s.runFor(5 * time.Second)
			s.requireMaster(tt.wantMaster)
			got := s.becameMasterAt(0).Sub(boot)
			switch tt.name {
			case "preempt":
				if got != tt.after {
					t.Fatalf("preempted %v after boot, want %v", got, tt.after)
				}
			case "preempt_delay":
				lo := tt.delay + MasterDownInterval(3, 200, intv) - intv
				hi := tt.delay + MasterDownInterval(3, 200, intv) + intv
				if got < lo || got > hi {
					t.Fatalf("preempted %v after boot, want between %v and %v", got, lo, hi)
				}
			}
		})
	}
}

func TestSimPriorityChange(t *testing.T) {
	intv := 100 * ms
	for _, preempt := range []bool{true, false} {
		t.Run(fmt.Sprintf("preempt=%v", preempt), func(t *testing.T) {
			s := newSim(t, 3, intv, 150, 100)
			s.delay = ms
			s.nodes[1].cfg.Preempt = preempt
			s.boot(0)
			s.boot(1)
			s.runFor(2 * time.Second)
			s.requireMaster(0)
			// Tracking drops the master below the backup.
			s.input(0, func(m *Machine, now time.Time) { m.SetPriority(now, 50) })
			lastAccepted := s.node(1).lastRcvd
			s.runFor(2 * time.Second)
			if !preempt {
				s.requireMaster(0)
				return
			}
			s.requireMaster(1)
			// n2 discarded the lower adverts; it took over Master_Down_Interval
			// after the last one it accepted (the advert before the drop).
			want := lastAccepted.Add(MasterDownInterval(3, 100, intv))
			if got := s.becameMasterAt(1); !got.Equal(want) {
				t.Fatalf("n2 master at %v, want %v", got.Sub(t0), want.Sub(t0))
			}
		})
	}
}

func TestSimFaultAndRecovery(t *testing.T) {
	s := newSim(t, 3, 100*ms, 150, 100)
	s.delay = ms
	s.boot(0)
	s.boot(1)
	s.runFor(2 * time.Second)
	s.requireMaster(0)
	s.input(0, func(m *Machine, now time.Time) { m.SetFault(now, true, "eth1 down") })
	fault := s.now
	s.runFor(time.Second)
	s.requireMaster(1)
	// The faulting master sent priority 0: n2 took over after Skew_Time.
	if got, want := s.becameMasterAt(1), fault.Add(s.delay+SkewTime(3, 100, 100*ms)); !got.Equal(want) {
		t.Fatalf("n2 master at %v, want %v", got.Sub(t0), want.Sub(t0))
	}
	s.input(0, func(m *Machine, now time.Time) { m.SetFault(now, false, "") })
	s.runFor(2 * time.Second)
	s.requireMaster(0)
}

// TestSimChaos drives five nodes through random crashes, restarts,
// partitions, heals, priority changes and packet loss (seeded), and checks
// after every heal that exactly one master remains once an advert interval
// has passed, and that only masters (and crashed ex-masters) hold the
// addresses.
func TestSimChaos(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			intv := 100 * ms
			s := newSim(t, 3, intv, 250, 200, 150, 100, 50)
			s.rng = rand.New(rand.NewPCG(seed, seed*7))
			r := rand.New(rand.NewPCG(seed, 99))
			s.delay = time.Duration(r.IntN(3000)) * time.Microsecond
			for i := range s.nodes {
				s.nodes[i].cfg.Preempt = r.IntN(4) != 0
				s.nodes[i].cfg.Handover = r.IntN(2) == 0
				s.boot(i)
			}
			for round := range 30 {
				switch r.IntN(6) {
				case 0: // crash or restart someone
					i := r.IntN(len(s.nodes))
					if s.nodes[i].up && len(s.masters()) > 0 {
						s.crash(i)
						s.nodes[i].owns = false // the test checks ownership of live nodes
					} else if !s.nodes[i].up {
						s.boot(i)
					}
				case 1: // graceful stop and restart later
					i := r.IntN(len(s.nodes))
					if s.nodes[i].up {
						s.shutdown(i)
						s.runFor(2 * time.Second)
						s.nodes[i].up = false
						s.nodes[i].owns = false
					}
				case 2: // partition
					perm := r.Perm(len(s.nodes))
					k := 1 + r.IntN(len(s.nodes)-1)
					s.partition(perm[:k], perm[k:])
				case 3: // lossy
					s.loss = 0.3
				case 4: // priority change
					i := r.IntN(len(s.nodes))
					if s.nodes[i].up {
						p := uint8(1 + r.IntN(254))
						s.input(i, func(m *Machine, now time.Time) { m.SetPriority(now, p) })
					}
				}
				s.runFor(time.Duration(r.IntN(3000)) * ms)

				// Heal everything and check convergence.
				s.heal()
				s.loss = 0
				up := 0
				for _, n := range s.nodes {
					if n.up {
						up++
					}
				}
				// Master_Down_Interval for the lowest priority, plus delivery:
				// by then a partitioned-off side must have noticed or yielded.
				s.runFor(MasterDownInterval(3, 1, intv) + 2*s.delay + intv)
				m := s.masters()
				if up > 0 && len(m) != 1 {
					t.Fatalf("round %d: %d nodes up, masters %v%s", round, up, m, s.dump())
				}
				owners := s.owners()
				sort.Ints(owners)
				if fmt.Sprint(owners) != fmt.Sprint(m) {
					t.Fatalf("round %d: owners %v, masters %v%s", round, owners, m, s.dump())
				}
			}
		})
	}
}

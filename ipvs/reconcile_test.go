package ipvs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func mustSync(t *testing.T, r *Reconciler, desired Table) Report {
	t.Helper()
	rep, err := r.Sync(context.Background(), desired)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if len(rep.Failed) > 0 {
		t.Fatalf("Sync: failed ops: %v", rep.Failed)
	}
	return rep
}

func newReconciler(t *testing.T, b Backend, opts ReconcilerOptions) *Reconciler {
	t.Helper()
	r, err := NewReconciler(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var (
	web     = tcp("10.0.0.1:80")
	api     = tcp("10.0.0.2:443")
	foreign = tcp("10.0.0.9:22")
)

func withDrain(v VirtualService, d time.Duration) VirtualService {
	v.DrainTimeout = d
	return v
}

func TestReconcilerProgramsThenStaysQuiet(t *testing.T) {
	m := NewMemory(Table{})
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	desired := NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1"), vs(api, "rr", "10.0.2.2:443=1"))

	rep := mustSync(t, r, desired)
	if len(rep.Ops) != 5 || rep.Writes != 5 || len(rep.Drift) != 0 || rep.Owned != 2 {
		t.Fatalf("first sync: %d ops, %d writes, drift %v, owned %d; want 5, 5, none, 2", len(rep.Ops), rep.Writes, rep.Drift, rep.Owned)
	}
	if !m.Table().Equal(desired) {
		t.Fatalf("kernel is\n%s\nwant\n%s", m.Table(), desired)
	}
	for i := 0; i < 3; i++ {
		rep = mustSync(t, r, desired)
		if len(rep.Ops) != 0 || rep.Writes != 0 {
			t.Fatalf("resync %d: %q, %d writes; want nothing", i, render(rep.Ops), rep.Writes)
		}
	}
}

func TestReconcilerOneWeightOneWrite(t *testing.T) {
	m := NewMemory(Table{})
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	mustSync(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1")))
	rep := mustSync(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=2")))
	if got := render(rep.Ops); rep.Writes != 1 || !slices.Equal(got, []string{"-e -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 2"}) {
		t.Fatalf("ops %q, %d writes; want the one weight update", got, rep.Writes)
	}
	if len(rep.Drift) != 0 {
		t.Fatalf("a change lvsd made itself counted as drift: %q", render(rep.Drift))
	}
}

func TestReconcilerNeverTouchesForeignServices(t *testing.T) {
	hand := vs(foreign, "rr", "10.0.9.9:22=1")
	handInOwned := Destination{Addr: ap("10.0.9.8:80"), Weight: 1}
	m := NewMemory(NewTable(hand))
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	steps := []Table{
		NewTable(vs(web, "wrr", "10.0.1.2:80=3")),
		NewTable(vs(web, "wrr", "10.0.1.2:80=1"), vs(api, "rr", "10.0.2.2:443=1")),
		NewTable(vs(api, "rr")),
		{},
	}
	for i, desired := range steps {
		rep := mustSync(t, r, desired)
		for _, op := range rep.Ops {
			if op.Service.ServiceKey == foreign {
				t.Fatalf("step %d touched the foreign service: %s", i, op)
			}
		}
		got, ok := m.Table().Get(foreign)
		if want, _ := NewTable(hand).Get(foreign); !ok || got.Service != want.Service || !slices.Equal(got.Destinations, want.Destinations) {
			t.Fatalf("step %d: foreign service is now %+v", i, got)
		}
		if i == 0 {
			// A real server added by hand to a service lvsd owns is not
			// foreign: lvsd owns the whole service.
			m.Edit(func(t *Table) { t.PutDestination(web, handInOwned) })
		}
	}
	if m.Table().Len() != 1 {
		t.Fatalf("after emptying desired the kernel holds\n%s", m.Table())
	}
}

func TestReconcilerAdoptsAProgrammedKernel(t *testing.T) {
	m := NewMemory(NewTable(vs(foreign, "rr")))
	desired := NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1"), vs(api, "sh", "10.0.2.2:443=1"))
	mustSync(t, newReconciler(t, m, ReconcilerOptions{Clock: newClock()}), desired)

	w := m.Writes()
	r2 := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	rep := mustSync(t, r2, desired)
	if len(rep.Ops) != 0 || m.Writes() != w {
		t.Fatalf("restart over a programmed kernel: %q; want no ops", render(rep.Ops))
	}
	if got := r2.Owned(); !slices.Equal(got, []ServiceKey{web, api}) {
		t.Fatalf("owned after adoption = %v", got)
	}
}

func TestReconcilerReportsAndRepairsDrift(t *testing.T) {
	m := NewMemory(Table{})
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	desired := NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1"), vs(api, "rr", "10.0.2.2:443=1"))
	mustSync(t, r, desired)

	m.Edit(func(t *Table) {
		t.Delete(api) // ipvsadm -D by hand
		d, _ := t.Destination(web, ap("10.0.1.2:80"))
		d.Weight = 7
		t.PutDestination(web, d)
	})
	// A config change in the same sync is not drift.
	desired2 := NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=2"), vs(api, "rr", "10.0.2.2:443=1"))
	rep := mustSync(t, r, desired2)
	wantDrift := []string{
		"-e -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 3",
		"-A -t 10.0.0.2:443 -s rr",
		"-a -t 10.0.0.2:443 -r 10.0.2.2:443 -m -w 1",
	}
	if got := render(rep.Drift); !slices.Equal(got, wantDrift) {
		t.Fatalf("drift %q, want %q", got, wantDrift)
	}
	if len(rep.Ops) != 4 {
		t.Fatalf("ops %q, want the drift plus the weight change", render(rep.Ops))
	}
	if !m.Table().Equal(desired2) {
		t.Fatalf("not repaired:\n%s", m.Table())
	}
	if rep := mustSync(t, r, desired2); len(rep.Ops)+len(rep.Drift) != 0 {
		t.Fatalf("after repair: %q", render(rep.Ops))
	}
}

func TestReconcilerRetriesFailedOps(t *testing.T) {
	m := NewMemory(Table{})
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	bad := ap("10.0.1.3:80")
	m.FailOps(func(op Op) error {
		if op.Destination.Addr == bad {
			return syscall.ENOMEM
		}
		return nil
	})
	desired := NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1"), vs(api, "rr", "10.0.2.2:443=1"))
	rep, err := r.Sync(context.Background(), desired)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 1 || rep.Failed[0].Op.Destination.Addr != bad || len(rep.Ops) != 5 {
		t.Fatalf("failed %v of %q; want the one bad op, the rest applied", rep.Failed, render(rep.Ops))
	}
	if !strings.Contains(rep.Failed[0].Error(), "add real server 10.0.1.3:80 to tcp 10.0.0.1:80") {
		t.Fatalf("error does not name the op: %v", rep.Failed[0])
	}
	m.FailOps(nil)
	rep = mustSync(t, r, desired)
	if got := render(rep.Ops); !slices.Equal(got, []string{"-a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1"}) || len(rep.Drift) != 0 {
		t.Fatalf("retry: ops %q drift %q", got, render(rep.Drift))
	}
}

func TestReconcilerRefusesInvalidDesired(t *testing.T) {
	m := NewMemory(Table{})
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	_, err := r.Sync(context.Background(), NewTable(vs(web, "fastest", "10.0.1.2:80=1")))
	if err == nil || !strings.Contains(err.Error(), `unknown scheduler "fastest"`) {
		t.Fatalf("err = %v", err)
	}
	if m.Dumps() != 0 || m.Writes() != 0 {
		t.Fatal("an invalid table reached the kernel")
	}
}

func TestReconcilerDrain(t *testing.T) {
	const timeout = 30 * time.Second
	a, b := ap("10.0.1.2:80"), ap("10.0.1.3:80")
	both := NewTable(withDrain(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1"), timeout))
	onlyA := NewTable(withDrain(vs(web, "wrr", "10.0.1.2:80=3"), timeout))

	setup := func(t *testing.T) (*Memory, *Reconciler, *fakeClock) {
		m := NewMemory(Table{})
		clk := newClock()
		r := newReconciler(t, m, ReconcilerOptions{Clock: clk})
		mustSync(t, r, both)
		if err := m.SetConns(web, b, 2, 1); err != nil {
			t.Fatal(err)
		}
		rep := mustSync(t, r, onlyA)
		if got := render(rep.Ops); !slices.Equal(got, []string{"-e -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 0"}) {
			t.Fatalf("removing a busy real server: %q, want weight 0 only", got)
		}
		if len(rep.Draining) != 1 || rep.Draining[0].Addr != b || !rep.NextDeadline().Equal(clk.Now().Add(timeout)) {
			t.Fatalf("draining %+v", rep.Draining)
		}
		return m, r, clk
	}

	t.Run("deleted when its connections end", func(t *testing.T) {
		m, r, clk := setup(t)
		clk.Advance(10 * time.Second)
		if rep := mustSync(t, r, onlyA); len(rep.Ops) != 0 || len(rep.Draining) != 1 {
			t.Fatalf("still busy: %q", render(rep.Ops))
		}
		m.SetConns(web, b, 0, 0)
		rep := mustSync(t, r, onlyA)
		if got := render(rep.Ops); !slices.Equal(got, []string{"-d -t 10.0.0.1:80 -r 10.0.1.3:80"}) || len(rep.Draining) != 0 {
			t.Fatalf("idle: %q draining %v", got, rep.Draining)
		}
		if len(rep.Drift) != 0 {
			t.Fatalf("drain counted as drift: %q", render(rep.Drift))
		}
	})
	t.Run("deleted at the timeout", func(t *testing.T) {
		_, r, clk := setup(t)
		clk.Advance(timeout - time.Second)
		if rep := mustSync(t, r, onlyA); len(rep.Ops) != 0 {
			t.Fatalf("before the timeout: %q", render(rep.Ops))
		}
		clk.Advance(time.Second)
		if got := render(mustSync(t, r, onlyA).Ops); !slices.Equal(got, []string{"-d -t 10.0.0.1:80 -r 10.0.1.3:80"}) {
			t.Fatalf("at the timeout: %q", got)
		}
	})
	t.Run("put back during its drain: restored, not re-created", func(t *testing.T) {
		m, r, clk := setup(t)
		clk.Advance(5 * time.Second)
		rep := mustSync(t, r, both)
		if got := render(rep.Ops); !slices.Equal(got, []string{"-e -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1"}) {
			t.Fatalf("restore: %q", got)
		}
		if d, _ := m.Table().Destination(web, b); d.Stats.ActiveConns != 2 {
			t.Fatal("the real server was re-created (its connections are gone)")
		}
		// A later removal starts a fresh drain.
		clk.Advance(time.Hour)
		rep = mustSync(t, r, onlyA)
		if len(rep.Draining) != 1 || !rep.Draining[0].Since.Equal(clk.Now()) {
			t.Fatalf("second drain %+v", rep.Draining)
		}
	})
	t.Run("idle server goes at once", func(t *testing.T) {
		m, r, _ := setup(t)
		m.SetConns(web, a, 0, 0)
		rep := mustSync(t, r, NewTable(withDrain(vs(web, "wrr"), timeout)))
		// b is still draining; a had no connections and is deleted.
		if got := render(rep.Ops); !slices.Equal(got, []string{"-d -t 10.0.0.1:80 -r 10.0.1.2:80"}) {
			t.Fatalf("%q", got)
		}
	})
	t.Run("no drain timeout: deleted at once", func(t *testing.T) {
		m := NewMemory(Table{})
		r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
		mustSync(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1")))
		m.SetConns(web, b, 5, 5)
		if got := render(mustSync(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3"))).Ops); !slices.Equal(got, []string{"-d -t 10.0.0.1:80 -r 10.0.1.3:80"}) {
			t.Fatalf("%q", got)
		}
	})
	t.Run("a removed service drains as a whole", func(t *testing.T) {
		m, r, clk := setup(t)
		m.SetConns(web, a, 1, 0)
		rep := mustSync(t, r, Table{})
		want := []string{"-e -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0"}
		if got := render(rep.Ops); !slices.Equal(got, want) || len(rep.Draining) != 2 || !rep.Draining[0].ServiceRemoved {
			t.Fatalf("removing a busy service: %q, draining %+v", got, rep.Draining)
		}
		clk.Advance(time.Second)
		m.SetConns(web, a, 0, 0)
		if rep := mustSync(t, r, Table{}); len(rep.Ops) != 0 {
			t.Fatalf("one server still busy: %q", render(rep.Ops))
		}
		m.SetConns(web, b, 0, 0)
		if got := render(mustSync(t, r, Table{}).Ops); !slices.Equal(got, []string{"-D -t 10.0.0.1:80"}) {
			t.Fatalf("idle service: %q", got)
		}
		if len(r.Owned()) != 0 {
			t.Fatalf("still owns %v", r.Owned())
		}
	})
}

func TestReconcilerStateFile(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "lib", "owned")
	m := NewMemory(NewTable(vs(foreign, "rr")))
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock(), StateFile: state})
	mustSync(t, r, NewTable(vs(web, "rr", "10.0.1.2:80=1"), vs(api, "rr"), vs(MarkKey(3, IPv6), "rr")))
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if want := stateHeader + "tcp 10.0.0.1:80\ntcp 10.0.0.2:443\nfwm 3 inet6\n"; string(b) != want {
		t.Fatalf("state file:\n%s\nwant\n%s", b, want)
	}

	// lvsd restarts with api and the mark removed from its config: with
	// the state file it still knows they are its own.
	r2 := newReconciler(t, m, ReconcilerOptions{Clock: newClock(), StateFile: state})
	rep := mustSync(t, r2, NewTable(vs(web, "rr", "10.0.1.2:80=1")))
	if got := render(rep.Ops); !slices.Equal(got, []string{"-D -t 10.0.0.2:443", "-D -f 3 -6"}) {
		t.Fatalf("ops %q", got)
	}
	if !m.Table().Has(foreign) {
		t.Fatal("the foreign service went too")
	}
	if b, _ := os.ReadFile(state); string(b) != stateHeader+"tcp 10.0.0.1:80\n" {
		t.Fatalf("state after: %q", b)
	}

	// Without a state file the same restart leaves them (documented).
	m3 := NewMemory(NewTable(vs(web, "rr", "10.0.1.2:80=1"), vs(api, "rr")))
	rep = mustSync(t, newReconciler(t, m3, ReconcilerOptions{Clock: newClock()}), NewTable(vs(web, "rr", "10.0.1.2:80=1")))
	if len(rep.Ops) != 0 || !m3.Table().Has(api) {
		t.Fatalf("without state: %q", render(rep.Ops))
	}

	os.WriteFile(state, []byte("tcp 10.0.0.1:80\nbogus line\n"), 0o644)
	if _, err := NewReconciler(m, ReconcilerOptions{StateFile: state}); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("corrupt state file: %v", err)
	}
}

func FuzzParseOwned(f *testing.F) {
	f.Add([]byte(stateHeader + "tcp 10.0.0.1:80\nfwm 3 inet6\n"))
	f.Add([]byte("# x\n\n  udp [2001:db8::1]:53 # comment\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := parseOwned(b)
		if err != nil {
			return
		}
		for _, k := range keys {
			if err := k.Validate(); err != nil {
				t.Fatalf("parsed an invalid key %v: %v", k, err)
			}
		}
	})
}

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

func mustSyncCached(t *testing.T, r *Reconciler, desired Table, keys ...ServiceKey) Report {
	t.Helper()
	rep, err := r.SyncCached(context.Background(), desired, keys...)
	if err != nil {
		t.Fatalf("SyncCached: %v", err)
	}
	if len(rep.Failed) > 0 {
		t.Fatalf("SyncCached: failed ops: %v", rep.Failed)
	}
	return rep
}

func TestSyncCachedWritesWithoutDumping(t *testing.T) {
	m := NewMemory(NewTable(vs(foreign, "rr", "10.0.9.1:22=1")))
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	both := NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1"), vs(api, "rr", "10.0.2.2:443=1"))
	mustSync(t, r, both)
	dumps, writes := m.Dumps(), m.Writes()

	changed := NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=5"), vs(api, "rr", "10.0.2.2:443=1"))
	rep := mustSyncCached(t, r, changed, web)
	if got := render(rep.Ops); !slices.Equal(got, []string{"-e -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 5"}) {
		t.Fatalf("ops %q", got)
	}
	if !rep.Cached || rep.Writes != 1 || m.Writes()-writes != 1 || m.Dumps() != dumps {
		t.Fatalf("cached %v, %d writes (backend %d), %d dumps; want 1 write and no dump", rep.Cached, rep.Writes, m.Writes()-writes, m.Dumps()-dumps)
	}
	if !m.Table().Equal(NewTable(vs(foreign, "rr", "10.0.9.1:22=1"), vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=5"), vs(api, "rr", "10.0.2.2:443=1"))) {
		t.Fatalf("kernel:\n%s", m.Table())
	}
	// The model followed the write: a full sync finds nothing to do and no drift.
	if rep := mustSync(t, r, changed); len(rep.Ops) != 0 || len(rep.Drift) != 0 {
		t.Fatalf("full sync after the cached one: %q drift %q", render(rep.Ops), render(rep.Drift))
	}
}

func TestSyncCachedTouchesOnlyItsKeys(t *testing.T) {
	m := NewMemory(Table{})
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	mustSync(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3"), vs(api, "rr", "10.0.2.2:443=1")))
	both := NewTable(vs(web, "wrr", "10.0.1.2:80=4"), vs(api, "rr", "10.0.2.2:443=2"))
	if got := render(mustSyncCached(t, r, both, api).Ops); !slices.Equal(got, []string{"-e -t 10.0.0.2:443 -r 10.0.2.2:443 -m -w 2"}) {
		t.Fatalf("scoped to api: %q", got)
	}
	// No keys: everything desired or owned.
	if got := render(mustSyncCached(t, r, both).Ops); !slices.Equal(got, []string{"-e -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 4"}) {
		t.Fatalf("unscoped: %q", got)
	}
}

func TestSyncCachedAddsAndRetiresServices(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "owned")
	m := NewMemory(Table{})
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock(), StateFile: state})
	mustSync(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3")))
	rep := mustSyncCached(t, r, NewTable(vs(api, "rr", "10.0.2.2:443=1")), web, api)
	want := []string{"-D -t 10.0.0.1:80", "-A -t 10.0.0.2:443 -s rr", "-a -t 10.0.0.2:443 -r 10.0.2.2:443 -m -w 1"}
	if got := render(rep.Ops); !slices.Equal(got, want) {
		t.Fatalf("ops %q, want %q", got, want)
	}
	if got := r.Owned(); !slices.Equal(got, []ServiceKey{api}) {
		t.Fatalf("owned %v", got)
	}
	if b, _ := os.ReadFile(state); string(b) != stateHeader+"tcp 10.0.0.2:443\n" {
		t.Fatalf("state file %q", b)
	}
}

func TestSyncCachedDrains(t *testing.T) {
	const timeout = 30 * time.Second
	b := ap("10.0.1.3:80")
	both := NewTable(withDrain(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1"), timeout))
	onlyA := NewTable(withDrain(vs(web, "wrr", "10.0.1.2:80=3"), timeout))
	setup := func(t *testing.T) (*Memory, *Reconciler, *fakeClock) {
		m := NewMemory(Table{})
		clk := newClock()
		r := newReconciler(t, m, ReconcilerOptions{Clock: clk})
		mustSync(t, r, both)
		return m, r, clk
	}

	t.Run("weight 0 even without connections; the next sync deletes it", func(t *testing.T) {
		m, r, clk := setup(t)
		rep := mustSyncCached(t, r, onlyA, web)
		if got := render(rep.Ops); !slices.Equal(got, []string{"-e -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 0"}) {
			t.Fatalf("cached removal: %q", got)
		}
		if len(rep.Draining) != 1 || rep.Draining[0].Addr != b || !rep.NextDeadline().Equal(clk.Now().Add(timeout)) {
			t.Fatalf("draining %+v", rep.Draining)
		}
		clk.Advance(time.Second)
		rep = mustSync(t, r, onlyA)
		if got := render(rep.Ops); !slices.Equal(got, []string{"-d -t 10.0.0.1:80 -r 10.0.1.3:80"}) || len(rep.Drift) != 0 {
			t.Fatalf("full sync of an idle draining server: %q drift %q", got, render(rep.Drift))
		}
		if m.Table().NumDestinations() != 1 {
			t.Fatalf("kernel:\n%s", m.Table())
		}
	})
	t.Run("busy: the drain started by the cached sync keeps its start", func(t *testing.T) {
		m, r, clk := setup(t)
		m.SetConns(web, b, 3, 0)
		mustSyncCached(t, r, onlyA, web)
		clk.Advance(timeout - time.Second)
		if rep := mustSync(t, r, onlyA); len(rep.Ops) != 0 || len(rep.Draining) != 1 {
			t.Fatalf("before the deadline: %q", render(rep.Ops))
		}
		clk.Advance(time.Second)
		if got := render(mustSync(t, r, onlyA).Ops); !slices.Equal(got, []string{"-d -t 10.0.0.1:80 -r 10.0.1.3:80"}) {
			t.Fatalf("at the deadline: %q", got)
		}
	})
	t.Run("the cached sync deletes at the deadline too", func(t *testing.T) {
		_, r, clk := setup(t)
		mustSyncCached(t, r, onlyA, web)
		clk.Advance(timeout)
		if got := render(mustSyncCached(t, r, onlyA, web).Ops); !slices.Equal(got, []string{"-d -t 10.0.0.1:80 -r 10.0.1.3:80"}) {
			t.Fatalf("at the deadline: %q", got)
		}
	})
	t.Run("restored during the drain with an update", func(t *testing.T) {
		m, r, _ := setup(t)
		m.SetConns(web, b, 2, 0)
		mustSyncCached(t, r, onlyA, web)
		rep := mustSyncCached(t, r, both, web)
		if got := render(rep.Ops); !slices.Equal(got, []string{"-e -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1"}) || len(rep.Draining) != 0 {
			t.Fatalf("restore: %q draining %v", got, rep.Draining)
		}
		if d, _ := m.Table().Destination(web, b); d.Stats.ActiveConns != 2 {
			t.Fatal("re-created: its connections are gone")
		}
	})
	t.Run("no drain timeout: deleted at once", func(t *testing.T) {
		m := NewMemory(Table{})
		r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
		mustSync(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1")))
		if got := render(mustSyncCached(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3"))).Ops); !slices.Equal(got, []string{"-d -t 10.0.0.1:80 -r 10.0.1.3:80"}) {
			t.Fatalf("%q", got)
		}
	})
	t.Run("a retired service drains as a whole", func(t *testing.T) {
		_, r, clk := setup(t)
		rep := mustSyncCached(t, r, Table{}, web)
		want := []string{"-e -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0", "-e -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 0"}
		if got := render(rep.Ops); !slices.Equal(got, want) || len(rep.Draining) != 2 || !rep.Draining[0].ServiceRemoved {
			t.Fatalf("%q draining %+v", got, rep.Draining)
		}
		clk.Advance(time.Second)
		if got := render(mustSync(t, r, Table{}).Ops); !slices.Equal(got, []string{"-D -t 10.0.0.1:80"}) {
			t.Fatalf("idle: %q", got)
		}
	})
}

func TestSyncCachedLeavesDriftToSync(t *testing.T) {
	m := NewMemory(Table{})
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	desired := NewTable(vs(web, "wrr", "10.0.1.2:80=3"), vs(api, "rr", "10.0.2.2:443=1"))
	mustSync(t, r, desired)
	m.Edit(func(t *Table) { t.Delete(api) })

	if rep := mustSyncCached(t, r, desired); len(rep.Ops) != 0 {
		t.Fatalf("the cached sync saw the kernel: %q", render(rep.Ops))
	}
	rep := mustSync(t, r, desired)
	want := []string{"-A -t 10.0.0.2:443 -s rr", "-a -t 10.0.0.2:443 -r 10.0.2.2:443 -m -w 1"}
	if got, drift := render(rep.Ops), render(rep.Drift); !slices.Equal(got, want) || !slices.Equal(drift, want) {
		t.Fatalf("ops %q drift %q, want both %q", got, drift, want)
	}
}

func TestSyncCachedReportsAWrongModel(t *testing.T) {
	m := NewMemory(Table{})
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	mustSync(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3")))
	m.Edit(func(t *Table) { t.Delete(web) })
	rep, err := r.SyncCached(context.Background(), NewTable(vs(web, "wrr", "10.0.1.2:80=1")))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 1 || !errors.Is(rep.Failed[0].Err, syscall.ESRCH) {
		t.Fatalf("failed %v, want the update refused with ESRCH", rep.Failed)
	}
	rep = mustSync(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=1")))
	if len(rep.Ops) != 2 || !m.Table().Equal(NewTable(vs(web, "wrr", "10.0.1.2:80=1"))) {
		t.Fatalf("repair: %q\n%s", render(rep.Ops), m.Table())
	}
}

func TestSyncCachedBeforeTheFirstSyncDumps(t *testing.T) {
	m := NewMemory(NewTable(vs(web, "wrr", "10.0.1.2:80=3")))
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	rep := mustSyncCached(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3")))
	if rep.Cached || m.Dumps() != 1 || len(rep.Ops) != 0 {
		t.Fatalf("cached %v, %d dumps, ops %q: want a full sync that adopts", rep.Cached, m.Dumps(), render(rep.Ops))
	}
}

func TestSyncCachedRefusesInvalidDesired(t *testing.T) {
	m := NewMemory(Table{})
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock()})
	mustSync(t, r, NewTable(vs(web, "wrr", "10.0.1.2:80=3")))
	w := m.Writes()
	if _, err := r.SyncCached(context.Background(), NewTable(vs(web, "fastest", "10.0.1.2:80=1")), web); err == nil {
		t.Fatal("an invalid table was accepted")
	}
	if m.Writes() != w {
		t.Fatal("an invalid table reached the kernel")
	}
}

func TestRemoveOwned(t *testing.T) {
	state := filepath.Join(t.TempDir(), "owned")
	m := NewMemory(NewTable(vs(foreign, "rr", "10.0.9.1:22=1")))
	r := newReconciler(t, m, ReconcilerOptions{Clock: newClock(), StateFile: state})
	mustSync(t, r, NewTable(withDrain(vs(web, "wrr", "10.0.1.2:80=3"), time.Minute), vs(api, "rr", "10.0.2.2:443=1")))
	m.SetConns(web, ap("10.0.1.2:80"), 5, 0)
	rep, err := r.RemoveOwned(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := render(rep.Ops); !slices.Equal(got, []string{"-D -t 10.0.0.1:80", "-D -t 10.0.0.2:443"}) {
		t.Fatalf("ops %q", got)
	}
	if !m.Table().Equal(NewTable(vs(foreign, "rr", "10.0.9.1:22=1"))) || len(r.Owned()) != 0 {
		t.Fatalf("after: owned %v, kernel\n%s", r.Owned(), m.Table())
	}
	if b, _ := os.ReadFile(state); string(b) != stateHeader {
		t.Fatalf("state file %q", b)
	}
}

// BenchmarkSyncCachedOneChange is the fast path's CPU cost for one real
// server going down among 10,000 services: what a verdict costs before
// the kernel write itself.
func BenchmarkSyncCachedOneChange(b *testing.B) {
	const n = 10000
	var svcs []VirtualService
	for i := range n {
		k := AddrKey(TCP, ap(fmt.Sprintf("10.%d.%d.1:80", i/250, i%250)))
		svcs = append(svcs, vs(k, "wrr", "10.200.0.1:80=1", "10.200.0.2:80=1", "10.200.0.3:80=1", "10.200.0.4:80=1", "10.200.0.5:80=1"))
	}
	desired := NewTable(svcs...)
	m := NewMemory(Table{})
	r, _ := NewReconciler(m, ReconcilerOptions{})
	if _, err := r.Sync(context.Background(), desired); err != nil {
		b.Fatal(err)
	}
	key := svcs[n/2].ServiceKey
	down := desired.Clone()
	down.DeleteDestination(key, ap("10.200.0.3:80"))
	tables := []Table{down, desired}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := r.SyncCached(context.Background(), tables[i%2], key); err != nil {
			b.Fatal(err)
		}
	}
}

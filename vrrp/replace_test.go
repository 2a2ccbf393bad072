package vrrp

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A reload changes a running instance in place (SetPriority) or replaces
// it (Detach, then Resume on the replacement) without an election: the
// peers must not notice anything but the new settings.

func TestInstanceSetPriorityLive(t *testing.T) {
	noLeaks(t)
	lan := &memLAN{}
	intv := 30 * time.Millisecond
	a := startMem(t, lan, "10.9.0.1", memConfig("a", 150, intv))
	b := startMem(t, lan, "10.9.0.2", memConfig("b", 100, intv))
	a.run(t)
	b.run(t)
	waitFor(t, 2*time.Second, "a master", func() bool { return a.inst.Status().State == Master })

	if err := a.inst.SetPriority(255); err == nil {
		t.Fatal("SetPriority(255) accepted: becoming the address owner needs a new instance")
	}
	if err := a.inst.SetPriority(0); err == nil {
		t.Fatal("SetPriority(0) accepted")
	}
	// Below b: b preempts after its Master_Down_Interval, as it would for a
	// tracking change.
	if err := a.inst.SetPriority(90); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "b master", func() bool { return b.inst.Status().State == Master })
	waitFor(t, time.Second, "a backup", func() bool { return a.inst.Status().State == Backup })
	if s := a.inst.Status(); s.BasePriority != 90 || s.Priority != 90 {
		t.Fatalf("a's priorities %d/%d, want 90/90", s.BasePriority, s.Priority)
	}
	if err := a.inst.SetPriority(200); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "a master again", func() bool { return a.inst.Status().State == Master })
	// Tracking applies on top of the new priority.
	if s := a.inst.Status(); s.Priority != 200 {
		t.Fatalf("a's effective priority %d, want 200", s.Priority)
	}

	owner := startMem(t, &memLAN{}, "10.9.0.9", memConfig("o", 255, intv))
	defer owner.inst.Close()
	if err := owner.inst.SetPriority(100); err == nil {
		t.Fatal("the address owner's priority changed on a running instance")
	}
}

// replacement builds an instance that replaces n on the same host: same
// address, same (fake) addresses on the interface.
func replacement(t *testing.T, lan *memLAN, n *memNode, cfg Config, opts ...Option) *memNode {
	t.Helper()
	r := startMem(t, lan, n.conn.src.String(), cfg, opts...)
	r.inst.owner = n.owner
	r.owner = n.owner
	return r
}

func TestInstanceDetachAndResumeAsMaster(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	hooks := filepath.Join(dir, "hooks")
	sf := NewStateFile(filepath.Join(dir, "state"))
	lan := &memLAN{}
	intv := 30 * time.Millisecond
	cfg := memConfig("a", 150, intv)
	cfg.Notify = Notify{Any: []string{"/bin/sh", "-c", `echo "$@" >> ` + hooks, "hook"}}
	a := startMem(t, lan, "10.9.0.1", cfg, WithStateFile(sf))
	b := startMem(t, lan, "10.9.0.2", memConfig("b", 100, intv))
	a.run(t)
	b.run(t)
	waitFor(t, 2*time.Second, "a master", func() bool { return a.inst.Status().State == Master })
	since := a.inst.Status().Since
	waitFor(t, time.Second, "hooks of a's election", func() bool {
		h, _ := os.ReadFile(hooks)
		return string(h) == "INSTANCE a BACKUP 150\nINSTANCE a MASTER 150\n"
	})
	state, _ := os.ReadFile(filepath.Join(dir, "state"))

	// The replacement has a new GARP setting: same router, new settings.
	cfg2 := cfg
	cfg2.GARP.Repeat = 2
	a2 := replacement(t, lan, a, cfg2, WithStateFile(sf))
	r := a.inst.Detach(cfg2.VIPs)
	a.cancel = nil // Run has returned
	if r.State != Master || !r.Since.Equal(since) {
		t.Fatalf("Detach reported %+v, want MASTER since %v", r, since)
	}
	if !a.owner.isOwned() {
		t.Fatal("the detached master removed the addresses its replacement keeps")
	}
	a2.inst.Resume(r)
	resumed := time.Now()
	a2.run(t)
	waitFor(t, time.Second, "a2 master", func() bool { return a2.inst.Status().State == Master })
	if d := time.Since(resumed); d > MasterDownInterval(3, 150, intv)/2 {
		t.Fatalf("the replacement took %v to be master: it waited for an election", d)
	}
	time.Sleep(MasterDownInterval(3, 100, intv) + 2*intv)
	if got := b.states(); !slices.Equal(got, []State{Backup}) {
		t.Fatalf("b went through %v while a was replaced, want BACKUP only", got)
	}
	if n := a.inst.Stats().PriorityZeroSent + a2.inst.Stats().PriorityZeroSent; n != 0 {
		t.Fatalf("%d priority 0 adverts sent by the replacement", n)
	}
	a2.mu.Lock()
	ev := slices.Clone(a2.events)
	a2.mu.Unlock()
	if len(ev) == 0 || ev[0].Reason != ReasonResume || ev[0].To != Master {
		t.Fatalf("a2's first event %+v, want MASTER by %q", ev, ReasonResume)
	}
	if s := a2.inst.Status(); !s.Since.Equal(since) {
		t.Fatalf("a2 master since %v, want the replaced instance's %v", s.Since, since)
	}
	if st, _ := os.ReadFile(filepath.Join(dir, "state")); string(st) != string(state) {
		t.Fatalf("state file changed:\n%s\nwas:\n%s", st, state)
	}
	a2.owner.mu.Lock()
	announced := a2.owner.announces
	a2.owner.mu.Unlock()
	if announced != 5+2 {
		t.Fatalf("%d announcements, want a's 5 and the replacement's burst of 2", announced)
	}
	a2.stop(t)
	h, _ := os.ReadFile(hooks)
	if want := "INSTANCE a BACKUP 150\nINSTANCE a MASTER 150\nINSTANCE a STOP 150\n"; string(h) != want {
		t.Fatalf("hooks ran:\n%s\nwant (nothing for the replacement):\n%s", h, want)
	}
}

func TestInstanceDetachDropsAddressesNotKept(t *testing.T) {
	noLeaks(t)
	lan := &memLAN{}
	a := startMem(t, lan, "10.9.0.1", memConfig("a", 150, 30*time.Millisecond))
	a.run(t)
	waitFor(t, 2*time.Second, "a master", func() bool { return a.inst.Status().State == Master })
	r := a.inst.Detach(nil)
	a.cancel = nil
	if r.State != Master || a.owner.isOwned() {
		t.Fatalf("state %v, owned %v: want MASTER and the address removed", r.State, a.owner.isOwned())
	}
	if a.inst.Stats().PriorityZeroSent != 0 {
		t.Fatal("Detach sent a priority 0 advert")
	}

	// A backup resumes as backup and waits for the election as usual; a
	// step-down in force goes on.
	b := startMem(t, lan, "10.9.0.2", memConfig("b", 100, 30*time.Millisecond))
	b.inst.Resume(Resume{State: Backup, StepDownUntil: time.Now().Add(time.Hour)})
	b.run(t)
	time.Sleep(MasterDownInterval(3, 100, 30*time.Millisecond) + 100*time.Millisecond)
	if s := b.inst.Status().State; s != Backup {
		t.Fatalf("b is %v during its carried-over step-down", s)
	}

	// Detach of an instance that never ran is a Close.
	c := startMem(t, lan, "10.9.0.3", memConfig("c", 100, 30*time.Millisecond))
	if r := c.inst.Detach(nil); r.State != Init {
		t.Fatalf("Detach of a stopped instance: %+v", r)
	}
}

func TestSyncGroupResumes(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	hooks := filepath.Join(dir, "hooks")
	intv := 30 * time.Millisecond
	lan7, lan8 := &memLAN{}, &memLAN{}
	mk := func(lan *memLAN, addr, name string, vrid, prio uint8) *memNode {
		c := memConfig(name, prio, intv)
		c.VRID = vrid
		return startMem(t, lan, addr, c)
	}
	gcfg := SyncGroupConfig{Name: "A", Notify: Notify{Any: []string{"/bin/sh", "-c", `echo "$@" >> ` + hooks, "hook"}}}
	a7, a8 := mk(lan7, "10.9.0.1", "a7", 7, 150), mk(lan8, "10.9.0.1", "a8", 8, 150)
	b7, b8 := mk(lan7, "10.9.0.2", "b7", 7, 100), mk(lan8, "10.9.0.2", "b8", 8, 100)
	ga, err := NewSyncGroup(gcfg, quietLog(), nil, a7.inst, a8.inst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSyncGroup(SyncGroupConfig{Name: "B"}, quietLog(), nil, b7.inst, b8.inst); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*memNode{a7, a8, b7, b8} {
		n.run(t)
	}
	ctx := t.Context()
	go ga.Run(ctx)
	waitFor(t, 2*time.Second, "group A master", func() bool { return ga.State() == Master })
	waitFor(t, time.Second, "group hook", func() bool { h, _ := os.ReadFile(hooks); return string(h) == "GROUP A BACKUP 0\nGROUP A MASTER 0\n" })

	// Replace both members of A (a new group object, as a reload does).
	n7, n8 := replacement(t, lan7, a7, a7.inst.Config()), replacement(t, lan8, a8, a8.inst.Config())
	r7, r8 := a7.inst.Detach(a7.inst.Config().VIPs), a8.inst.Detach(a8.inst.Config().VIPs)
	a7.cancel, a8.cancel = nil, nil
	n7.inst.Resume(r7)
	n8.inst.Resume(r8)
	ga2, err := NewSyncGroup(gcfg, quietLog(), nil, n7.inst, n8.inst)
	if err != nil {
		t.Fatal(err)
	}
	if ga2.State() != Master {
		t.Fatalf("the replacing group starts %v, want MASTER", ga2.State())
	}
	go ga2.Run(ctx)
	n7.run(t)
	n8.run(t)
	waitFor(t, time.Second, "both replacements master", func() bool {
		return n7.inst.Status().State == Master && n8.inst.Status().State == Master
	})
	time.Sleep(MasterDownInterval(3, 100, intv) + 2*intv)
	for _, n := range []*memNode{b7, b8} {
		if got := n.states(); !slices.Equal(got, []State{Backup}) {
			t.Fatalf("%s went through %v, want BACKUP only", n.inst.Name(), got)
		}
	}
	if h, _ := os.ReadFile(hooks); string(h) != "GROUP A BACKUP 0\nGROUP A MASTER 0\n" {
		t.Fatalf("group hooks ran again for the replacement:\n%s", h)
	}
}

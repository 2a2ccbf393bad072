package vrrp

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const ms = time.Millisecond

func TestTimers(t *testing.T) {
	tests := []struct {
		v        uint8
		prio     uint8
		mai      time.Duration
		skew     time.Duration
		downIntv time.Duration
	}{
		// RFC 5798: Skew = (256-P)*MAI/256 in v3 (exact, not truncated to cs).
		{3, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{3, 150, time.Second, 414062500 * time.Nanosecond, 3414062500 * time.Nanosecond},
		{3, 100, 100 * ms, 60937500 * time.Nanosecond, 360937500 * time.Nanosecond},
		{3, 100, 10 * ms, 6093750 * time.Nanosecond, 36093750 * time.Nanosecond},
		{3, 255, time.Second, 3906250 * time.Nanosecond, 3003906250 * time.Nanosecond},
		{3, 1, 40950 * ms, 40790039062500 * time.Nanosecond / 1000, 163640039062500 * time.Nanosecond / 1000},
		// RFC 3768: Skew = (256-P)/256 seconds whatever the interval.
		{2, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{2, 100, 3 * time.Second, 609375 * time.Microsecond, 9609375 * time.Microsecond},
		{2, 254, time.Second, 7812500 * time.Nanosecond, 3007812500 * time.Nanosecond},
	}
	for _, tt := range tests {
		if got := SkewTime(tt.v, tt.prio, tt.mai); got != tt.skew {
			t.Errorf("SkewTime(v%d, %d, %v) = %v, want %v", tt.v, tt.prio, tt.mai, got, tt.skew)
		}
		if got := MasterDownInterval(tt.v, tt.prio, tt.mai); got != tt.downIntv {
			t.Errorf("MasterDownInterval(v%d, %d, %v) = %v, want %v", tt.v, tt.prio, tt.mai, got, tt.downIntv)
		}
	}
}

var (
	addrLow  = netip.MustParseAddr("10.0.0.1")
	addrMe   = netip.MustParseAddr("10.0.0.2")
	addrHigh = netip.MustParseAddr("10.0.0.3")
)

func adv(prio uint8, intv time.Duration) Advert {
	return Advert{Version: 3, VRID: 1, Priority: prio, Interval: intv}
}

// op is one input to a machine under test.
type op struct {
	at   time.Duration
	kind string // start, step, tick, prio, fault, clear, hold, unhold, stepdown, shutdown
	src  netip.Addr
	adv  Advert
	arg  uint8
	d    time.Duration
}

func start(d time.Duration) op { return op{at: d, kind: "start"} }
func tick(d time.Duration) op  { return op{at: d, kind: "tick"} }
func recv(d time.Duration, src netip.Addr, a Advert) op {
	return op{at: d, kind: "step", src: src, adv: a}
}
func setPrio(d time.Duration, p uint8) op             { return op{at: d, kind: "prio", arg: p} }
func fault(d time.Duration) op                        { return op{at: d, kind: "fault"} }
func clearFault(d time.Duration) op                   { return op{at: d, kind: "clear"} }
func hold(d time.Duration) op                         { return op{at: d, kind: "hold"} }
func unhold(d time.Duration) op                       { return op{at: d, kind: "unhold"} }
func stepDown(d time.Duration, for_ time.Duration) op { return op{at: d, kind: "stepdown", d: for_} }
func shutdown(d time.Duration) op                     { return op{at: d, kind: "shutdown"} }
func (o op) apply(m *Machine) {
	now := at(o.at)
	switch o.kind {
	case "start":
		m.Start(now)
	case "tick":
		m.Tick(now)
	case "step":
		m.Step(now, o.src, o.adv)
	case "prio":
		m.SetPriority(now, o.arg)
	case "fault":
		m.SetFault(now, true, "chk_nginx")
	case "clear":
		m.SetFault(now, false, "")
	case "hold":
		m.SetHold(now, true)
	case "unhold":
		m.SetHold(now, false)
	case "stepdown":
		m.StepDown(now, o.d)
	case "shutdown":
		m.Shutdown(now)
	}
}

func TestMachineTransitions(t *testing.T) {
	v3 := MachineConfig{Version: 3, Priority: 100, AdvertInterval: time.Second, Preempt: true, Address: addrMe}
	v2 := v3
	v2.Version = 2
	v2.AdvertInterval = 2 * time.Second
	owner := v3
	owner.Priority = 255
	nopreempt := v3
	nopreempt.Preempt = false
	delay := v3
	delay.PreemptDelay = 10 * time.Second
	handover := v3
	handover.Handover = true
	mdi := MasterDownInterval(3, 100, time.Second) // 3.609375s
	skew := SkewTime(3, 100, time.Second)          // 609.375ms
	// becomeMaster drives a v3 machine to Master at mdi.
	becomeMaster := []op{start(0), tick(mdi)}

	tests := []struct {
		name  string
		cfg   MachineConfig
		setup []op
		in    op
		// expectations for the Ready after in
		state    State
		adverts  []uint8
		own      bool
		release  bool
		reason   Reason // of the last transition; "" = no transition
		deadline time.Duration
		noTimer  bool
		announce bool
	}{
		{name: "start: backup waits Master_Down_Interval", cfg: v3, in: start(0),
			state: Backup, reason: ReasonStartup, deadline: mdi},
		{name: "start v2: skew in seconds, interval from config", cfg: v2, in: start(0),
			state: Backup, reason: ReasonStartup, deadline: 6*time.Second + skew},
		{name: "start: owner is master at once", cfg: owner, in: start(0),
			state: Master, adverts: []uint8{255}, own: true, reason: ReasonOwner, deadline: time.Second},
		{name: "start: state MASTER below 255 is still backup", cfg: v3, in: start(0),
			state: Backup, reason: ReasonStartup, deadline: mdi},
		{name: "start faulted", cfg: v3, setup: []op{fault(0)}, in: start(0),
			state: Fault, reason: ReasonFault, noTimer: true},
		{name: "start held owner stays backup", cfg: owner, setup: []op{hold(0)}, in: start(0),
			state: Backup, reason: ReasonStartup, deadline: MasterDownInterval(3, 255, time.Second)},

		{name: "backup: timer 1ns early does nothing", cfg: v3, setup: []op{start(0)}, in: tick(mdi - 1),
			state: Backup, deadline: mdi},
		{name: "backup: timer expiry makes master", cfg: v3, setup: []op{start(0)}, in: tick(mdi),
			state: Master, adverts: []uint8{100}, own: true, reason: ReasonMasterDown, deadline: mdi + time.Second},
		{name: "backup: higher advert resets timer", cfg: v3, setup: []op{start(0)}, in: recv(time.Second, addrHigh, adv(200, time.Second)),
			state: Backup, deadline: time.Second + mdi},
		{name: "backup v3: learns master's interval", cfg: v3, setup: []op{start(0)}, in: recv(time.Second, addrHigh, adv(200, 100*ms)),
			state: Backup, deadline: time.Second + MasterDownInterval(3, 100, 100*ms)},
		{name: "backup v2: keeps its interval", cfg: v2, setup: []op{start(0)}, in: recv(time.Second, addrHigh, Advert{Version: 2, Priority: 200, Interval: 2 * time.Second}),
			state: Backup, deadline: time.Second + 6*time.Second + skew},
		{name: "backup: equal priority lower address is not preempted", cfg: v3, setup: []op{start(0)}, in: recv(time.Second, addrLow, adv(100, time.Second)),
			state: Backup, deadline: time.Second + mdi},
		{name: "backup: priority 0 cuts timer to Skew_Time", cfg: v3, setup: []op{start(0), recv(time.Second, addrHigh, adv(200, time.Second))}, in: recv(2*time.Second, addrHigh, adv(0, time.Second)),
			state: Backup, deadline: 2*time.Second + skew},
		{name: "backup: master after priority 0", cfg: v3, setup: []op{start(0), recv(0, addrHigh, adv(0, time.Second))}, in: tick(skew),
			state: Master, adverts: []uint8{100}, own: true, reason: ReasonPriorityZero, deadline: skew + time.Second},
		{name: "backup preempt: lower advert discarded", cfg: v3, setup: []op{start(0)}, in: recv(time.Second, addrHigh, adv(50, time.Second)),
			state: Backup, deadline: mdi},
		{name: "backup preempt: takes over", cfg: v3, setup: []op{start(0), recv(time.Second, addrHigh, adv(50, time.Second))}, in: tick(mdi),
			state: Master, adverts: []uint8{100}, own: true, reason: ReasonPreempt, deadline: mdi + time.Second},
		{name: "backup nopreempt: lower advert resets timer", cfg: nopreempt, setup: []op{start(0)}, in: recv(time.Second, addrHigh, adv(50, time.Second)),
			state: Backup, deadline: time.Second + mdi},
		{name: "preempt delay: first lower advert resets and starts delay", cfg: delay, setup: []op{start(0)}, in: recv(time.Second, addrLow, adv(50, time.Second)),
			state: Backup, deadline: time.Second + mdi},
		{name: "preempt delay: still resetting before it ends", cfg: delay, setup: []op{start(0), recv(time.Second, addrLow, adv(50, time.Second))}, in: recv(10*time.Second, addrLow, adv(50, time.Second)),
			state: Backup, deadline: 10*time.Second + mdi},
		{name: "preempt delay: discards once it ends", cfg: delay, setup: []op{start(0), recv(time.Second, addrLow, adv(50, time.Second)), recv(10*time.Second, addrLow, adv(50, time.Second))}, in: recv(11*time.Second, addrLow, adv(50, time.Second)),
			state: Backup, deadline: 10*time.Second + mdi},
		{name: "preempt delay: higher advert cancels it", cfg: delay, setup: []op{start(0), recv(time.Second, addrLow, adv(50, time.Second)), recv(5*time.Second, addrHigh, adv(200, time.Second))}, in: recv(11*time.Second, addrLow, adv(50, time.Second)),
			state: Backup, deadline: 11*time.Second + mdi},

		{name: "master: adver timer sends", cfg: v3, setup: becomeMaster, in: tick(mdi + time.Second),
			state: Master, adverts: []uint8{100}, deadline: mdi + 2*time.Second},
		{name: "master: late tick does not drift", cfg: v3, setup: becomeMaster, in: tick(mdi + time.Second + 30*ms),
			state: Master, adverts: []uint8{100}, deadline: mdi + 2*time.Second},
		{name: "master: higher priority makes backup", cfg: v3, setup: becomeMaster, in: recv(4*time.Second, addrLow, adv(101, 500*ms)),
			state: Backup, adverts: []uint8{100}, release: true, reason: ReasonHigherPriority, deadline: 4*time.Second + MasterDownInterval(3, 100, 500*ms)},
		{name: "master: equal priority higher address makes backup", cfg: v3, setup: becomeMaster, in: recv(4*time.Second, addrHigh, adv(100, time.Second)),
			state: Backup, adverts: []uint8{100}, release: true, reason: ReasonEqualPriority, deadline: 4*time.Second + mdi},
		{name: "master: equal priority lower address answered", cfg: v3, setup: becomeMaster, in: recv(4*time.Second, addrLow, adv(100, time.Second)),
			state: Master, adverts: []uint8{100}, announce: true, deadline: mdi + time.Second},
		{name: "master: lower priority answered and re-announced", cfg: v3, setup: becomeMaster, in: recv(4*time.Second, addrHigh, adv(99, time.Second)),
			state: Master, adverts: []uint8{100}, announce: true, deadline: mdi + time.Second},
		{name: "master: priority 0 answered and timer reset", cfg: v3, setup: becomeMaster, in: recv(4*time.Second, addrHigh, adv(0, time.Second)),
			state: Master, adverts: []uint8{100}, deadline: 5 * time.Second},
		{name: "master: own address ignored", cfg: v3, setup: becomeMaster, in: recv(4*time.Second, addrMe, adv(100, time.Second)),
			state: Master, deadline: mdi + time.Second},
		{name: "owner: second owner with higher address wins", cfg: owner, setup: []op{start(0)}, in: recv(500*ms, addrHigh, adv(255, time.Second)),
			state: Backup, adverts: []uint8{255}, release: true, reason: ReasonEqualPriority, deadline: 500*ms + MasterDownInterval(3, 255, time.Second)},

		{name: "shutdown master: priority 0 and release", cfg: v3, setup: becomeMaster, in: shutdown(5 * time.Second),
			state: Init, adverts: []uint8{0}, release: true, reason: ReasonShutdown, noTimer: true},
		{name: "shutdown backup", cfg: v3, setup: []op{start(0)}, in: shutdown(time.Second),
			state: Init, reason: ReasonShutdown, noTimer: true},
		{name: "shutdown master with handover keeps addresses", cfg: handover, setup: becomeMaster, in: shutdown(5 * time.Second),
			state: Init, adverts: []uint8{0}, reason: ReasonShutdown, deadline: 5*time.Second + SkewTime(3, 1, time.Second) + time.Second},
		{name: "handover: new master's advert releases", cfg: handover, setup: append(becomeMaster[:2:2], shutdown(5*time.Second)), in: recv(5*time.Second+skew, addrLow, adv(90, time.Second)),
			state: Init, release: true, noTimer: true},
		{name: "handover: wait runs out", cfg: handover, setup: append(becomeMaster[:2:2], shutdown(5*time.Second)), in: tick(5*time.Second + SkewTime(3, 1, time.Second) + time.Second),
			state: Init, release: true, noTimer: true},

		{name: "fault master: priority 0, release at once", cfg: handover, setup: becomeMaster, in: fault(5 * time.Second),
			state: Fault, adverts: []uint8{0}, release: true, reason: ReasonFault, noTimer: true},
		{name: "fault backup", cfg: v3, setup: []op{start(0)}, in: fault(time.Second),
			state: Fault, reason: ReasonFault, noTimer: true},
		{name: "fault ignores adverts", cfg: v3, setup: []op{start(0), fault(time.Second)}, in: recv(2*time.Second, addrHigh, adv(0, time.Second)),
			state: Fault, noTimer: true},
		{name: "fault cleared: backup with fresh timer", cfg: v3, setup: []op{start(0), fault(time.Second)}, in: clearFault(2 * time.Second),
			state: Backup, reason: ReasonFaultCleared, deadline: 2*time.Second + mdi},
		{name: "fault cleared: owner is master", cfg: owner, setup: []op{start(0), fault(time.Second)}, in: clearFault(2 * time.Second),
			state: Master, adverts: []uint8{255}, own: true, reason: ReasonFaultCleared, deadline: 3 * time.Second},

		{name: "priority change: master advertises it", cfg: v3, setup: becomeMaster, in: setPrio(4*time.Second, 80),
			state: Master, adverts: []uint8{80}, deadline: mdi + time.Second},
		{name: "priority change: backup timer keeps origin", cfg: v3, setup: []op{start(0)}, in: setPrio(time.Second, 200),
			state: Backup, deadline: MasterDownInterval(3, 200, time.Second)},

		{name: "step-down: master gives way with handover", cfg: handover, setup: becomeMaster, in: stepDown(5*time.Second, time.Minute),
			state: Backup, adverts: []uint8{0}, reason: ReasonStepDown, deadline: 5*time.Second + SkewTime(3, 1, time.Second) + time.Second},
		{name: "step-down: no master while it lasts", cfg: v3, setup: append(becomeMaster[:2:2], stepDown(5*time.Second, time.Minute)), in: tick(5*time.Second + mdi),
			state: Backup, deadline: 5*time.Second + time.Minute},
		{name: "step-down: master when it ends and nobody took over", cfg: v3, setup: append(becomeMaster[:2:2], stepDown(5*time.Second, time.Minute), tick(5*time.Second+mdi)), in: tick(5*time.Second + time.Minute),
			state: Master, adverts: []uint8{100}, own: true, reason: ReasonMasterDown, deadline: 5*time.Second + time.Minute + time.Second},

		{name: "hold: expiry while held waits", cfg: v3, setup: []op{start(0), hold(time.Second)}, in: tick(mdi),
			state: Backup, noTimer: true},
		{name: "hold: lifted after expiry makes master", cfg: v3, setup: []op{start(0), hold(time.Second), tick(mdi)}, in: unhold(5 * time.Second),
			state: Master, adverts: []uint8{100}, own: true, reason: ReasonSyncGroup, deadline: 6 * time.Second},
		{name: "hold: lifted before expiry changes nothing", cfg: v3, setup: []op{start(0), hold(time.Second)}, in: unhold(2 * time.Second),
			state: Backup, deadline: mdi},
		{name: "hold: master steps down", cfg: v3, setup: becomeMaster, in: hold(5 * time.Second),
			state: Backup, adverts: []uint8{0}, release: true, reason: ReasonSyncGroup, deadline: 5*time.Second + mdi},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(tt.cfg)
			for _, o := range tt.setup {
				o.apply(m)
				m.Ready()
			}
			tt.in.apply(m)
			rd := m.Ready()
			if m.State() != tt.state {
				t.Errorf("state %v, want %v", m.State(), tt.state)
			}
			if !slices.Equal(rd.Adverts, tt.adverts) {
				t.Errorf("adverts %v, want %v", rd.Adverts, tt.adverts)
			}
			if rd.Own != tt.own || rd.Release != tt.release || rd.Announce != tt.announce {
				t.Errorf("own %v release %v announce %v, want %v %v %v", rd.Own, rd.Release, rd.Announce, tt.own, tt.release, tt.announce)
			}
			var reason Reason
			if n := len(rd.Transitions); n > 0 {
				reason = rd.Transitions[n-1].Reason
				if rd.Transitions[n-1].To != m.State() {
					t.Errorf("last transition to %v, state is %v", rd.Transitions[n-1].To, m.State())
				}
			}
			if reason != tt.reason {
				t.Errorf("reason %q, want %q (transitions %+v)", reason, tt.reason, rd.Transitions)
			}
			switch {
			case tt.noTimer && !rd.Deadline.IsZero():
				t.Errorf("deadline %v, want none", rd.Deadline.Sub(t0))
			case !tt.noTimer && !rd.Deadline.Equal(at(tt.deadline)):
				t.Errorf("deadline %v, want %v", rd.Deadline.Sub(t0), tt.deadline)
			}
		})
	}
}

func TestMachineOwnerConflictDetail(t *testing.T) {
	m := NewMachine(MachineConfig{Version: 3, Priority: 255, AdvertInterval: time.Second, Preempt: true, Address: addrMe})
	m.Start(t0)
	m.Ready()
	m.Step(at(time.Second), addrHigh, adv(255, time.Second))
	rd := m.Ready()
	if len(rd.Transitions) != 1 || !strings.Contains(rd.Transitions[0].Detail, "two address owners") {
		t.Fatalf("transitions %+v, want one naming the owner conflict", rd.Transitions)
	}
}

func TestMachineDone(t *testing.T) {
	m := NewMachine(MachineConfig{Version: 3, Priority: 100, AdvertInterval: time.Second, Handover: true, Address: addrMe})
	if m.Done() {
		t.Fatal("done before start")
	}
	m.Start(t0)
	m.Tick(at(10 * time.Second))
	m.Shutdown(at(11 * time.Second))
	if m.Done() {
		t.Fatal("done while handover pending")
	}
	rd := m.Ready()
	m.Tick(rd.Deadline)
	if rd := m.Ready(); !rd.Release || !m.Done() {
		t.Fatalf("after the wait: release %v done %v", rd.Release, m.Done())
	}
}

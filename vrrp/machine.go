package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// State is a virtual router's protocol state.
type State uint8

const (
	// Init is the Initialize state of the RFCs: not started, or stopped.
	Init State = iota
	Backup
	Master
	// Fault is keepalived's extra state: a tracked object failed, so the
	// router neither sends adverts nor takes part in elections.
	Fault
)

var stateNames = [...]string{Init: "INIT", Backup: "BACKUP", Master: "MASTER", Fault: "FAULT"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("STATE%d", uint8(s))
}

// Reason says why a transition happened. It ends up in logs, events and
// notify hooks.
type Reason string

const (
	ReasonStartup        Reason = "startup"                      // Init -> Backup
	ReasonOwner          Reason = "address owner (priority 255)" // Init -> Master
	ReasonMasterDown     Reason = "no advert for master down interval"
	ReasonPriorityZero   Reason = "master stepped down (priority 0 advert)"
	ReasonPreempt        Reason = "preempting lower-priority master"
	ReasonHigherPriority Reason = "higher-priority advert"
	ReasonEqualPriority  Reason = "equal-priority advert from a higher address"
	ReasonFault          Reason = "tracked object failed"
	ReasonFaultCleared   Reason = "tracked objects recovered"
	ReasonStepDown       Reason = "forced step-down"
	ReasonSyncGroup      Reason = "sync group"
	ReasonShutdown       Reason = "shutdown"
	// ReasonResume is the first transition of an instance that replaced
	// another one (a reload) and took up its state instead of starting
	// afresh.
	ReasonResume Reason = "resumed from the instance it replaced"
)

// Transition is a state change.
type Transition struct {
	From, To State
	Reason   Reason
	Detail   string // e.g. which tracked object failed
	Priority uint8  // our effective priority at the time
	// Master is the router whose advert caused the change, if any.
	Master netip.Addr
	At     time.Time
}

// Ready is what the caller must do after feeding the machine an input, in
// this order: when Own is set, add the addresses and announce them, then
// send Adverts; otherwise send Adverts, then release the addresses when
// Release is set. Then wake the machine with Tick at Deadline.
type Ready struct {
	Adverts     []uint8 // priorities of adverts to send now
	Transitions []Transition
	Own         bool // add the virtual addresses, send gratuitous ARP / NA
	// Announce asks for the addresses to be announced again: a master heard
	// a lower-priority master (a partition healed), whose announcements may
	// have won the LAN's ARP caches (keepalived's garp_lower_prio_repeat).
	Announce bool
	Release  bool // remove the virtual addresses
	// Deadline is when to call Tick next; zero means no timer runs.
	Deadline time.Time
}

// Empty reports whether r asks for nothing.
func (r Ready) Empty() bool {
	return len(r.Adverts) == 0 && len(r.Transitions) == 0 && !r.Own && !r.Release && !r.Announce
}

// MachineConfig is what the state machine needs to know about its router.
type MachineConfig struct {
	Version uint8 // 2 or 3
	// Priority is the effective priority at start, 1 to 255.
	Priority uint8
	// AdvertInterval is ours; v3 backups learn the master's.
	AdvertInterval time.Duration
	// Preempt lets a higher-priority backup take over from a lower-priority
	// master (the RFC default; keepalived's nopreempt clears it).
	Preempt bool
	// PreemptDelay holds preemption back after a lower-priority master is
	// first seen (keepalived's preempt_delay).
	PreemptDelay time.Duration
	// Address is our primary address: the source of our adverts and the
	// tie-break between masters of equal priority.
	Address netip.Addr
	// Handover keeps the virtual addresses after a graceful stop or
	// step-down until another router's advert shows it took over (or
	// HandoverWait passes), so clients see no gap. Off: release at once,
	// as keepalived does.
	Handover bool
	// HandoverWait bounds Handover; zero picks the longest time a backup
	// may take to answer a priority 0 advert (its Skew_Time) plus a margin.
	HandoverWait time.Duration
}

// SkewTime is RFC 5798's Skew_Time for v3, (256-priority) *
// masterAdverInterval / 256, and RFC 3768's (256-priority)/256 seconds for v2.
func SkewTime(version, priority uint8, masterAdverInterval time.Duration) time.Duration {
	if version == 2 {
		return time.Duration(256-int64(priority)) * time.Second / 256
	}
	return time.Duration(256-int64(priority)) * masterAdverInterval / 256
}

// MasterDownInterval is 3 * Master_Adver_Interval + Skew_Time (both RFCs; in
// v2 the interval is the configured one).
func MasterDownInterval(version, priority uint8, masterAdverInterval time.Duration) time.Duration {
	return 3*masterAdverInterval + SkewTime(version, priority, masterAdverInterval)
}

// Machine is the VRRP state machine of RFC 5798 section 6.4 (and RFC 3768
// for v2) for one virtual router, with keepalived's Fault state, preempt
// delay and sync-group hold. It is pure: no sockets, goroutines or clocks.
// The caller feeds it inputs with the current time (Start, Step, Tick,
// SetPriority, SetFault, SetHold, StepDown, Shutdown), then does what Ready
// says.
type Machine struct {
	cfg   MachineConfig
	state State
	prio  uint8

	masterAdverInterval time.Duration
	downAt              time.Time // Backup: Master_Down_Timer
	downFromZero        bool      // the timer was cut to Skew_Time by a priority 0 advert
	discarding          bool      // lower-priority adverts are being discarded (preempting)
	adverAt             time.Time // Master: Adver_Timer
	preemptAt           time.Time // preempt delay ends; zero: not running
	master              netip.Addr
	masterPrio          uint8

	fault       bool
	faultDetail string
	hold        bool // sync group holds us out of Master
	wantMaster  bool // our Master_Down_Timer expired while held
	stepDownEnd time.Time

	started        bool
	releasePending bool
	releaseAt      time.Time

	rd Ready
}

// NewMachine returns a machine in Init.
func NewMachine(cfg MachineConfig) *Machine {
	if cfg.Priority == 0 {
		cfg.Priority = 100
	}
	return &Machine{cfg: cfg, prio: cfg.Priority, masterAdverInterval: cfg.AdvertInterval}
}

// State is the current state.
func (m *Machine) State() State { return m.state }

// Priority is the current effective priority.
func (m *Machine) Priority() uint8 { return m.prio }

// MasterAdverInterval is the interval the down timer uses: learned from the
// master in v3, ours in v2.
func (m *Machine) MasterAdverInterval() time.Duration { return m.masterAdverInterval }

// Master is the address and priority of the last master heard from while
// Backup (invalid if none).
func (m *Machine) Master() (netip.Addr, uint8) { return m.master, m.masterPrio }

// Done reports whether the machine was shut down and has nothing left to do.
func (m *Machine) Done() bool { return m.started && m.state == Init && !m.releasePending }

// Ready returns what the caller must do and clears it.
func (m *Machine) Ready() Ready {
	rd := m.rd
	rd.Deadline = m.deadline()
	m.rd = Ready{}
	return rd
}

func (m *Machine) deadline() time.Time {
	var d time.Time
	add := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	switch m.state {
	case Backup:
		add(m.downAt)
		if m.wantMaster && !m.hold {
			add(m.stepDownEnd)
		}
	case Master:
		add(m.adverAt)
	}
	if m.releasePending {
		add(m.releaseAt)
	}
	return d
}

func (m *Machine) skew() time.Duration {
	return SkewTime(m.cfg.Version, m.prio, m.masterAdverInterval)
}

func (m *Machine) mdi() time.Duration {
	return MasterDownInterval(m.cfg.Version, m.prio, m.masterAdverInterval)
}

func (m *Machine) transition(now time.Time, to State, why Reason, detail string, master netip.Addr) {
	m.rd.Transitions = append(m.rd.Transitions, Transition{
		From: m.state, To: to, Reason: why, Detail: detail, Priority: m.prio, Master: master, At: now,
	})
	m.state = to
}

// Start leaves Init (RFC 5798 6.4.1): the address owner becomes Master at
// once, everyone else Backup with Master_Down_Timer set; a tracked failure
// known before start means Fault.
func (m *Machine) Start(now time.Time) {
	if m.started {
		return
	}
	m.started = true
	switch {
	case m.fault:
		m.transition(now, Fault, ReasonFault, m.faultDetail, netip.Addr{})
	case m.prio == 255 && !m.hold:
		m.becomeMaster(now, ReasonOwner, netip.Addr{})
	default:
		m.becomeBackup(now, ReasonStartup, "", netip.Addr{})
	}
}

// Resume leaves Init like Start, but takes up the state of the router this
// one replaces (a reload that changed its configuration): a master stays
// master at once, without waiting out Master_Down_Interval, unless a
// tracked failure or a sync group hold says otherwise; a step-down in force
// (stepDownEnd after now) goes on. Anything else starts as Backup, as
// Start does.
func (m *Machine) Resume(now time.Time, s State, stepDownEnd time.Time) {
	if m.started {
		return
	}
	m.started = true
	if stepDownEnd.After(now) {
		m.stepDownEnd = stepDownEnd
	}
	switch {
	case m.fault:
		m.transition(now, Fault, ReasonFault, m.faultDetail, netip.Addr{})
	case m.hold:
		m.becomeBackup(now, ReasonResume, "", netip.Addr{})
	case m.prio == 255:
		m.becomeMaster(now, ReasonOwner, netip.Addr{})
	case s == Master && !now.Before(m.stepDownEnd):
		m.becomeMaster(now, ReasonResume, netip.Addr{})
	default:
		m.becomeBackup(now, ReasonResume, "", netip.Addr{})
	}
}

// StepDownEnd is when a step-down in force ends (zero: none).
func (m *Machine) StepDownEnd() time.Time { return m.stepDownEnd }

// Holding reports whether the router holds its virtual addresses: as
// master, or while a graceful handover waits for the new master.
func (m *Machine) Holding() bool { return m.state == Master || m.releasePending }

func (m *Machine) becomeBackup(now time.Time, why Reason, detail string, from netip.Addr) {
	m.masterAdverInterval = m.cfg.AdvertInterval
	m.resetDown(now)
	m.adverAt = time.Time{}
	m.wantMaster = false
	m.discarding = false
	m.preemptAt = time.Time{}
	m.transition(now, Backup, why, detail, from)
}

func (m *Machine) resetDown(now time.Time) {
	m.downAt = now.Add(m.mdi())
	m.downFromZero = false
}

func (m *Machine) becomeMaster(now time.Time, why Reason, from netip.Addr) {
	// A handover still pending is moot: the addresses stay ours.
	m.releasePending, m.releaseAt = false, time.Time{}
	m.downAt = time.Time{}
	m.wantMaster = false
	m.discarding = false
	m.preemptAt = time.Time{}
	m.master = netip.Addr{}
	m.masterPrio = 0
	m.transition(now, Master, why, "", from)
	m.rd.Own = true
	m.rd.Adverts = append(m.rd.Adverts, m.prio)
	m.adverAt = now.Add(m.cfg.AdvertInterval)
}

// leaveMaster sends a priority 0 advert and gives the addresses up, at
// once or (graceful, with Handover) once another master shows up.
func (m *Machine) leaveMaster(now time.Time, graceful bool) {
	m.rd.Adverts = append(m.rd.Adverts, 0)
	m.adverAt = time.Time{}
	if graceful && m.cfg.Handover {
		m.releasePending = true
		m.releaseAt = now.Add(m.handoverWait())
		return
	}
	m.rd.Release = true
}

func (m *Machine) handoverWait() time.Duration {
	if m.cfg.HandoverWait > 0 {
		return m.cfg.HandoverWait
	}
	// The slowest backup (priority 1) answers a priority 0 advert after
	// Skew_Time(1); allow one more interval (at least 50ms) for its advert
	// to arrive on a loaded host.
	margin := max(m.cfg.AdvertInterval, 50*time.Millisecond)
	return SkewTime(m.cfg.Version, 1, m.cfg.AdvertInterval) + margin
}

func (m *Machine) release() {
	if m.releasePending {
		m.releasePending = false
		m.releaseAt = time.Time{}
		m.rd.Release = true
	}
}

// Step handles an advert that passed the receive checks, from src.
func (m *Machine) Step(now time.Time, src netip.Addr, a Advert) {
	if m.releasePending && a.Priority != 0 && src != m.cfg.Address {
		// Someone took over: hand the addresses to them.
		m.release()
	}
	switch m.state {
	case Backup:
		m.stepBackup(now, src, a)
	case Master:
		m.stepMaster(now, src, a)
	}
}

// stepBackup is RFC 5798 6.4.2 with keepalived's preempt_delay.
func (m *Machine) stepBackup(now time.Time, src netip.Addr, a Advert) {
	if a.Priority == 0 {
		// The master is leaving: take over after Skew_Time.
		m.downAt = now.Add(m.skew())
		m.downFromZero = true
		m.discarding = false
		return
	}
	delaying := m.cfg.PreemptDelay > 0 && (m.preemptAt.IsZero() || now.Before(m.preemptAt))
	if !m.cfg.Preempt || a.Priority >= m.prio || delaying {
		if m.cfg.Version == 3 {
			m.masterAdverInterval = a.Interval
		}
		m.resetDown(now)
		m.master, m.masterPrio = src, a.Priority
		m.wantMaster = false
		m.discarding = false
		if m.cfg.PreemptDelay > 0 && m.cfg.Preempt {
			if a.Priority >= m.prio {
				m.preemptAt = time.Time{}
			} else if m.preemptAt.IsZero() {
				m.preemptAt = now.Add(m.cfg.PreemptDelay)
			}
		}
		return
	}
	// Preempting: discard, and let Master_Down_Timer run out.
	m.discarding = true
	m.master, m.masterPrio = src, a.Priority
}

// stepMaster is RFC 5798 6.4.3, plus keepalived's habit of answering a
// lower-priority advert with one of ours so the other master yields now.
func (m *Machine) stepMaster(now time.Time, src netip.Addr, a Advert) {
	if a.Priority == 0 {
		m.rd.Adverts = append(m.rd.Adverts, m.prio)
		m.adverAt = now.Add(m.cfg.AdvertInterval)
		return
	}
	cmp := src.Compare(m.cfg.Address)
	higher := a.Priority > m.prio
	equalHigherAddr := a.Priority == m.prio && cmp > 0
	if higher || equalHigherAddr {
		why := ReasonHigherPriority
		if !higher {
			why = ReasonEqualPriority
		}
		detail := fmt.Sprintf("priority %d from %v, ours %d", a.Priority, src, m.prio)
		if a.Priority == 255 && m.prio == 255 {
			detail += ": two address owners, fix the configuration"
		}
		// One last advert of ours (keepalived's higher_prio_send_advert):
		// the winner hears that there were two masters and announces
		// itself again, winning back ARP caches our announcements took.
		m.rd.Adverts = append(m.rd.Adverts, m.prio)
		m.becomeBackup(now, why, detail, src)
		if m.cfg.Version == 3 {
			m.masterAdverInterval = a.Interval
			m.resetDown(now)
		}
		m.master, m.masterPrio = src, a.Priority
		m.rd.Release = true
		return
	}
	if cmp == 0 {
		return // our own address: a duplicate router or a loop; ignore
	}
	m.rd.Adverts = append(m.rd.Adverts, m.prio)
	m.rd.Announce = true
}

// Tick fires whatever timers are due at now.
func (m *Machine) Tick(now time.Time) {
	if m.releasePending && !now.Before(m.releaseAt) {
		m.release()
	}
	switch m.state {
	case Master:
		if !m.adverAt.IsZero() && !now.Before(m.adverAt) {
			m.rd.Adverts = append(m.rd.Adverts, m.prio)
			next := m.adverAt.Add(m.cfg.AdvertInterval)
			if !next.After(now) {
				next = now.Add(m.cfg.AdvertInterval)
			}
			m.adverAt = next
		}
	case Backup:
		if m.wantMaster && !m.hold && !m.stepDownEnd.IsZero() && !now.Before(m.stepDownEnd) {
			m.stepDownEnd = time.Time{}
			m.becomeMaster(now, ReasonMasterDown, netip.Addr{})
			return
		}
		if m.downAt.IsZero() || now.Before(m.downAt) {
			return
		}
		why := ReasonMasterDown
		switch {
		case m.downFromZero:
			why = ReasonPriorityZero
		case m.discarding:
			why = ReasonPreempt
		}
		m.downAt = time.Time{}
		if m.hold || now.Before(m.stepDownEnd) {
			// Not allowed to be Master now; remember that we would be.
			m.wantMaster = true
			return
		}
		m.becomeMaster(now, why, netip.Addr{})
	}
}

// SetPriority changes the effective priority (tracking). A master
// advertises the new priority at once.
func (m *Machine) SetPriority(now time.Time, p uint8) {
	if p == 0 || p == m.prio {
		return
	}
	old := m.prio
	m.prio = p
	switch m.state {
	case Master:
		m.rd.Adverts = append(m.rd.Adverts, m.prio)
	case Backup:
		// Skew_Time depends on our priority; keep the timer's origin.
		if !m.downAt.IsZero() {
			v, mai := m.cfg.Version, m.masterAdverInterval
			if m.downFromZero {
				m.downAt = m.downAt.Add(SkewTime(v, p, mai) - SkewTime(v, old, mai))
			} else {
				m.downAt = m.downAt.Add(MasterDownInterval(v, p, mai) - MasterDownInterval(v, old, mai))
			}
		}
	}
}

// WantsMaster reports whether the machine would be Master but for a sync
// group hold.
func (m *Machine) WantsMaster() bool {
	return m.state == Master || (m.state == Backup && m.wantMaster)
}

// SetFault enters (on) or leaves (off) the Fault state; detail says which
// tracked object. A master sends a priority 0 advert and releases at once.
func (m *Machine) SetFault(now time.Time, on bool, detail string) {
	if on == m.fault && detail == m.faultDetail {
		return
	}
	m.fault, m.faultDetail = on, detail
	if on {
		m.release() // no handover from a faulty router
	}
	if !m.started || m.state == Init {
		return
	}
	if on {
		switch m.state {
		case Master:
			m.leaveMaster(now, false)
			m.transition(now, Fault, ReasonFault, detail, netip.Addr{})
		case Backup:
			m.downAt = time.Time{}
			m.wantMaster = false
			m.transition(now, Fault, ReasonFault, detail, netip.Addr{})
		}
		return
	}
	if m.state == Fault {
		if m.prio == 255 && !m.hold {
			m.becomeMaster(now, ReasonFaultCleared, netip.Addr{})
		} else {
			m.becomeBackup(now, ReasonFaultCleared, "", netip.Addr{})
		}
	}
}

// SetHold keeps the machine out of Master while on (a sync group member is
// not ready). A held master steps down with a priority 0 advert; a held
// backup whose timer expired becomes Master as soon as the hold is lifted.
func (m *Machine) SetHold(now time.Time, on bool) {
	if on == m.hold {
		return
	}
	m.hold = on
	if !m.started {
		return
	}
	if on && m.state == Master {
		m.leaveMaster(now, false)
		m.becomeBackup(now, ReasonSyncGroup, "", netip.Addr{})
		return
	}
	if !on && m.state == Backup && m.wantMaster && !now.Before(m.stepDownEnd) {
		m.becomeMaster(now, ReasonSyncGroup, netip.Addr{})
	}
}

// StepDown makes a master give way for d: it sends a priority 0 advert
// (another router takes over after its Skew_Time) and will not become
// Master again before now+d. A backup just refrains for d.
func (m *Machine) StepDown(now time.Time, d time.Duration) {
	if !m.started || m.state == Init {
		return
	}
	m.stepDownEnd = now.Add(d)
	if m.state == Master {
		m.leaveMaster(now, true)
		m.becomeBackup(now, ReasonStepDown, fmt.Sprintf("for %v", d), netip.Addr{})
	}
}

// Shutdown stops the router (RFC 5798 6.4.2/6.4.3 Shutdown event): a master
// sends a priority 0 advert and releases its addresses (with Handover, once
// the new master is heard or the wait ends; keep calling Step and Tick
// until Done).
func (m *Machine) Shutdown(now time.Time) {
	if !m.started || m.state == Init {
		m.started = true
		return
	}
	if m.state == Master {
		m.leaveMaster(now, true)
	}
	m.downAt, m.adverAt = time.Time{}, time.Time{}
	m.transition(now, Init, ReasonShutdown, "", netip.Addr{})
}

package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/internal/ratelog"
)

// Event is a state transition of an instance, as Instance.Events delivers
// it to the director.
type Event struct {
	Instance string
	VRID     uint8
	Transition
}

// Status is a snapshot of an instance for the status API and metrics.
type Status struct {
	Name, Interface     string
	VRID                uint8
	Version             uint8
	State               State
	Since               time.Time
	Priority            uint8 // effective
	BasePriority        uint8
	Master              netip.Addr // last master heard while Backup
	MasterPriority      uint8
	MasterAdverInterval time.Duration
	Fault               string // tracked objects causing Fault
	Tracked             []TrackStatus
	Stats               Stats
}

// Option changes how New builds an Instance.
type Option func(*options)

type options struct {
	log       *logrus.Entry
	clock     Clock
	stateFile *StateFile
}

// WithLogger sets the logger (default: logrus's standard logger).
func WithLogger(l *logrus.Entry) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock (default: the system clock).
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithStateFile makes the instance record its state in f.
func WithStateFile(f *StateFile) Option { return func(o *options) { o.stateFile = f } }

// vipOwner puts the virtual addresses on the host and tells the LAN.
type vipOwner interface {
	add() error
	remove() error
	// removeExcept removes the addresses that are not in keep.
	removeExcept(keep []VIP) error
	removeStale() ([]netip.Prefix, error)
	announce(ctx context.Context, rounds int, gap time.Duration) error
	close()
}

// Instance runs one VRRP virtual router: its socket, its state machine,
// its addresses, its tracking and hooks, in one goroutine (Run).
type Instance struct {
	cfg    Config
	log    *logrus.Entry
	clock  Clock
	m      *Machine
	conn   conn
	owner  vipOwner
	filter Filter
	src    netip.Addr
	dsts   []netip.Addr
	links  linkSource // nil: no interface tracking
	notif  *notifier
	sf     *StateFile
	ctrs   Counters
	events *eventQueue

	tracks     *trackSet
	groupFault string
	group      *SyncGroup

	mu      sync.Mutex // guards inbox and status
	inbox   inbox
	wake    chan struct{}
	status  Status
	running bool

	// resume is the state taken up from a replaced instance (Resume).
	resume *Resume
	// detach is set when Detach asked Run to end; detached is what Run
	// reported. runDone is closed when Run has returned.
	detach   *[]VIP
	detached Resume
	runDone  chan struct{}

	announceCancel context.CancelFunc
	lastReannounce time.Time
	deadline       time.Time // the machine's current deadline
	announceDone   chan struct{}
}

type inbox struct {
	tracks     map[string]bool
	priority   *uint8
	detach     *[]VIP
	stepDown   *time.Duration
	hold       *bool
	groupFault *string
}

// New builds an instance from cfg, opening its sockets, netlink handle and
// link subscription in the network namespace of the calling thread (call it
// inside the namespace; Run may then be called from any goroutine).
func New(cfg Config, opts ...Option) (*Instance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := options{clock: RealClock{}}
	for _, f := range opts {
		f(&o)
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrp instance %q: interface %s: %w", cfg.Name, cfg.Interface, err)
	}
	nl, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("vrrp instance %q: netlink: %w", cfg.Name, err)
	}
	ok := false
	defer func() {
		if !ok {
			nl.Close()
		}
	}()
	local, src, err := localAddrs(nl, ifi, cfg)
	if err != nil {
		return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
	}
	cfg.SourceAddr = src
	ad, err := newAddrs(nl, cfg.VIPs)
	if err != nil {
		return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
	}
	ann, err := newAnnouncer(cfg.VIPs, func(ifi *net.Interface) (netip.Addr, error) { return linkLocal(nl, ifi) })
	if err != nil {
		return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
	}
	owner := &netOwner{addrs: ad, ann: ann, nl: nl}
	var group netip.Addr // unicast: none to join
	if len(cfg.Peers) == 0 {
		group = cfg.group()
	}
	c, err := openConn(ifi, src, group)
	if err != nil {
		owner.close()
		return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
	}
	var links linkSource
	if names := trackedLinks(cfg); len(names) > 0 {
		if links, err = subscribeLinks(names); err != nil {
			c.Close()
			owner.close()
			return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
		}
	}
	i := newInstance(cfg, o, c, owner, links)
	i.filter.IfIndex = ifi.Index
	i.filter.Local = func(a netip.Addr) bool { return local[a] }
	ok = true
	return i, nil
}

// newInstance wires an instance from its parts (tests pass fakes).
func newInstance(cfg Config, o options, c conn, owner vipOwner, links linkSource) *Instance {
	if o.log == nil {
		o.log = logrus.NewEntry(logrus.StandardLogger())
	}
	if o.clock == nil {
		o.clock = RealClock{}
	}
	log := o.log.WithFields(logrus.Fields{"component": "vrrp", "instance": cfg.Name, "vrid": cfg.VRID})
	// The adverts carry the addresses that are not excluded.
	var vips []netip.Addr
	for _, v := range cfg.Advertised() {
		vips = append(vips, v.Prefix.Addr())
	}
	tracks := cfg.Track
	if !cfg.DontTrackPrimary && cfg.Interface != "" {
		own := Track{Kind: TrackInterface, Name: cfg.Interface}
		dup := false
		for _, t := range tracks {
			dup = dup || t.Key() == own.Key()
		}
		if !dup {
			tracks = append([]Track{own}, tracks...)
		}
	}
	i := &Instance{
		cfg:   cfg,
		log:   log,
		clock: o.clock,
		m: NewMachine(MachineConfig{
			Version:        cfg.Version,
			Priority:       cfg.Priority,
			AdvertInterval: cfg.AdvertInterval,
			Preempt:        !cfg.NoPreempt,
			PreemptDelay:   cfg.PreemptDelay,
			Address:        cfg.SourceAddr,
			Handover:       !cfg.ImmediateRelease,
		}),
		conn:  c,
		owner: owner,
		filter: Filter{
			Version:  cfg.Version,
			VRID:     cfg.VRID,
			Interval: cfg.AdvertInterval,
			Addrs:    vips,
			Peers:    cfg.Peers,
			AnyTTL:   cfg.UnicastAnyTTL && len(cfg.Peers) > 0,
		},
		src:     cfg.SourceAddr,
		links:   links,
		notif:   newNotifier(cfg.Notify, "INSTANCE", cfg.Name, cfg.VRID, log),
		sf:      o.stateFile,
		events:  newEventQueue(),
		tracks:  newTrackSet(cfg.Priority, tracks),
		wake:    make(chan struct{}, 1),
		runDone: make(chan struct{}),
	}
	if cfg.Version == 2 && cfg.AuthPass != "" {
		i.filter.AuthType, i.filter.AuthData = AuthPass, PassData(cfg.AuthPass)
	}
	i.dsts = cfg.Peers
	if len(i.dsts) == 0 {
		i.dsts = []netip.Addr{cfg.group()}
	}
	i.status = Status{Name: cfg.Name, Interface: cfg.Interface, VRID: cfg.VRID, Version: cfg.Version,
		State: Init, Priority: cfg.Priority, BasePriority: cfg.Priority, MasterAdverInterval: cfg.AdvertInterval}
	return i
}

// Name is the instance's name.
func (i *Instance) Name() string { return i.cfg.Name }

// Config is the instance's configuration with defaults applied.
func (i *Instance) Config() Config { return i.cfg }

// Events delivers every transition in order. The channel is closed after
// Run returns; events not read by then are dropped. Reading is optional:
// the instance never waits for a reader.
func (i *Instance) Events() <-chan Event { return i.events.out }

// Status returns a snapshot.
func (i *Instance) Status() Status {
	i.mu.Lock()
	defer i.mu.Unlock()
	s := i.status
	s.Tracked = append([]TrackStatus(nil), s.Tracked...)
	s.Stats = i.ctrs.Snapshot()
	return s
}

// Stats returns the packet counters.
func (i *Instance) Stats() Stats { return i.ctrs.Snapshot() }

// SetTrack reports the state of a tracked object by its key (Track.Key):
// a script, a virtual server's health, anything the config tracks. Keys
// the instance does not track are ignored. Safe from any goroutine; never
// blocks.
func (i *Instance) SetTrack(key string, up bool) {
	i.mu.Lock()
	if i.inbox.tracks == nil {
		i.inbox.tracks = map[string]bool{}
	}
	i.inbox.tracks[key] = up
	i.mu.Unlock()
	i.poke()
}

// StepDown makes a master hand over to a backup (priority 0 advert) and
// stay out of Master for d; a backup just refrains for d. For maintenance.
func (i *Instance) StepDown(d time.Duration) {
	i.mu.Lock()
	i.inbox.stepDown = &d
	i.mu.Unlock()
	i.poke()
}

// SetPriority changes the configured priority of a running instance (a
// reload): tracking weights apply on top of it as before, a master
// advertises the new priority at once, and a backup's Master_Down_Timer
// follows it; no election starts by itself. The address owner's 255 can be
// neither set nor left this way: an owner runs the protocol differently
// (master at once), so that change needs a new instance.
func (i *Instance) SetPriority(p uint8) error {
	switch {
	case p == 0 || p == 255:
		return fmt.Errorf("vrrp instance %q: priority %d cannot be set on a running instance (1-254)", i.cfg.Name, p)
	case i.cfg.Priority == 255:
		return fmt.Errorf("vrrp instance %q: the address owner's priority 255 cannot be changed on a running instance", i.cfg.Name)
	}
	i.mu.Lock()
	i.inbox.priority = &p
	i.mu.Unlock()
	i.poke()
	return nil
}

// Resume is the protocol state an instance hands to the instance that
// replaces it: Detach returns it, the replacement's Resume takes it up.
// A reload that changes an instance's configuration replaces the instance
// this way, without an election and without moving the addresses.
type Resume struct {
	State State
	Since time.Time
	// StepDownUntil carries a step-down in force over.
	StepDownUntil time.Time
}

// Detach ends Run without saying goodbye, so that a replacement can
// Resume: no priority 0 advert, no notify hook, no change to the state
// file. A master leaves the virtual addresses that are in keep (the
// replacement's) on their interfaces and removes the others; a router
// waiting to hand over removes them all. Detach waits for Run to return
// and reports the state the instance was in. On an instance that never
// ran, it releases it as Close does and reports Init.
func (i *Instance) Detach(keep []VIP) Resume {
	i.mu.Lock()
	if !i.running {
		i.mu.Unlock()
		i.Close()
		return Resume{State: Init}
	}
	k := append([]VIP(nil), keep...)
	for n := range k {
		if k[n].Device == "" {
			k[n].Device = i.cfg.Interface
		}
	}
	i.inbox.detach = &k
	i.mu.Unlock()
	i.poke()
	<-i.runDone
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.detached
}

// Resume makes the instance take up r, from Detach of the instance it
// replaces, instead of starting afresh: a master stays master at once (its
// addresses are already there, so none is removed first; they are added
// and announced again, in case the set changed) unless tracking or a sync
// group says otherwise, and a step-down in force goes on. Call it before
// Run. The first transition reports ReasonResume; notify hooks do not run
// for it, and the state file keeps the time of the replaced instance's
// last transition while the state is the same.
func (i *Instance) Resume(r Resume) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.running {
		return
	}
	i.resume = &r
}

func (i *Instance) setHold(on bool) {
	i.mu.Lock()
	i.inbox.hold = &on
	i.mu.Unlock()
	i.poke()
}

func (i *Instance) setGroupFault(detail string) {
	i.mu.Lock()
	i.inbox.groupFault = &detail
	i.mu.Unlock()
	i.poke()
}

func (i *Instance) poke() {
	select {
	case i.wake <- struct{}{}:
	default:
	}
}

// Close releases the sockets and subscriptions of an instance that will
// not be run. Run releases them itself; Close after Run does nothing.
func (i *Instance) Close() {
	i.mu.Lock()
	ran := i.running
	i.running = true
	i.mu.Unlock()
	if ran {
		return
	}
	i.conn.Close()
	if i.links != nil {
		i.links.close()
	}
	i.owner.close()
	i.events.close()
}

// Run takes part in the protocol until ctx ends, then stops gracefully: a
// master sends a priority 0 advert and hands its addresses over. It
// returns when done (nil), or early if the socket fails. Run once.
func (i *Instance) Run(ctx context.Context) error {
	i.mu.Lock()
	if i.running {
		i.mu.Unlock()
		return errors.New("vrrp: instance already ran")
	}
	i.running = true
	resume := i.resume
	i.mu.Unlock()
	defer close(i.runDone)

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() {
		i.stopAnnouncing()
		stopBG()
		i.conn.Close()
		if i.links != nil {
			i.links.close()
		}
		wg.Wait()
		i.owner.close()
		i.events.close()
	}()
	wg.Add(2)
	go func() { defer wg.Done(); i.events.loop(bg) }()
	go func() { defer wg.Done(); i.notif.loop(bg) }()

	// A crashed run may have left our addresses: drop them before we
	// take part, so a backup never answers for them. (A master taking
	// over from the instance it replaces keeps them: they are in use.)
	if resume == nil || resume.State != Master {
		if removed, err := i.owner.removeStale(); err != nil {
			i.log.WithError(err).Warn("removing stale virtual addresses")
		} else if len(removed) > 0 {
			i.log.WithField("addresses", removed).Warn("removed virtual addresses left by a previous run")
		}
	}

	pkts := make(chan Received, 64)
	readErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			r, err := i.conn.Read()
			if err != nil {
				readErr <- err
				return
			}
			r.At = i.clock.Now()
			select {
			case pkts <- r:
			case <-bg.Done():
				return
			}
		}
	}()
	var linkCh <-chan linkState
	if i.links != nil {
		linkCh = i.links.updates()
	}

	timer := i.clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	i.log.WithFields(logrus.Fields{"priority": i.cfg.Priority, "version": i.cfg.Version,
		"interval": i.cfg.AdvertInterval, "source": i.src, "peers": i.cfg.Peers}).Info("starting")
	i.applyInbox()
	if resume != nil {
		i.m.Resume(i.clock.Now(), resume.State, resume.StepDownUntil)
	} else {
		i.m.Start(i.clock.Now())
	}
	i.apply(bg, timer)

	done := ctx.Done()
	for !i.m.Done() {
		if i.detach != nil {
			i.finishDetach(*i.detach)
			return nil
		}
		select {
		case <-done:
			done = nil
			i.m.Shutdown(i.clock.Now())
		case r := <-pkts:
			i.receive(r)
		case <-timer.C():
			i.onTimer()
		case <-i.wake:
			i.applyInbox()
		case ls, ok := <-linkCh:
			if !ok {
				linkCh = nil
				i.log.Warn("link state subscription ended; interface tracking stopped")
				continue
			}
			if ls.name == i.cfg.Interface && (ls.gone || (ls.index != 0 && i.filter.IfIndex != 0 && ls.index != i.filter.IfIndex)) {
				// Our socket is bound to an interface that no longer
				// exists (a new one may have its name): stop as for a
				// failed socket, so that the owner builds a new instance.
				i.m.Shutdown(i.clock.Now())
				i.m.Tick(i.clock.Now().Add(time.Hour))
				i.apply(bg, timer)
				return fmt.Errorf("vrrp instance %q: interface %s (index %d) was deleted", i.cfg.Name, i.cfg.Interface, i.filter.IfIndex)
			}
			if i.tracks.set(ls.key(), ls.up) {
				i.log.WithFields(logrus.Fields{"interface": ls.name, "up": ls.up, "link": ls.detail}).Info("link state changed")
			}
			i.applyTracking()
		case err := <-readErr:
			if done == nil {
				// Stopping and the socket is gone: nothing more to hear.
				i.m.Tick(i.clock.Now().Add(time.Hour))
				i.apply(bg, timer)
				return nil
			}
			i.m.Shutdown(i.clock.Now())
			i.m.Tick(i.clock.Now().Add(time.Hour))
			i.apply(bg, timer)
			return fmt.Errorf("vrrp instance %q: read: %w", i.cfg.Name, err)
		}
		i.apply(bg, timer)
	}
	return nil
}

// precisionLead is how early the runtime timer is set before a backup's
// Master_Down_Timer: Go's poller sleeps in whole milliseconds, so its timers
// fire up to a millisecond late; the rest is slept with nanosleep, which is
// precise to tens of microseconds.
const precisionLead = 2 * time.Millisecond

// precise reports whether the current deadline deserves a precise wake: the
// backup's Master_Down_Timer (the takeover moment) with the real clock.
// Adverts of a master do not need it.
func (i *Instance) precise() bool {
	_, real := i.clock.(RealClock)
	return real && i.m.State() == Backup
}

func (i *Instance) onTimer() {
	if i.precise() && !i.deadline.IsZero() {
		if d := time.Until(i.deadline); d > 0 && d <= precisionLead {
			ts := unix.NsecToTimespec(d.Nanoseconds())
			for unix.Nanosleep(&ts, &ts) == unix.EINTR {
			}
		}
	}
	i.m.Tick(i.clock.Now())
}

// receive filters a packet and feeds the state machine.
func (i *Instance) receive(r Received) {
	a, err := i.filter.Check(r)
	if err != nil {
		reason := DropReasonOf(err)
		i.ctrs.Dropped[reason].Add(1)
		if reason != DropVRID {
			// One line per reason, then a count a minute: a
			// misconfigured neighbour must not flood the log.
			ratelog.Default.LogAs("drop "+reason.String(), i.log.WithField("reason", reason.String()), logrus.WarnLevel, err.Error())
		}
		return
	}
	i.ctrs.Received.Add(1)
	if a.Priority == 0 {
		i.ctrs.PriorityZeroRcvd.Add(1)
	}
	if a.Version == 3 && a.Interval != i.cfg.AdvertInterval {
		i.ctrs.IntervalMismatch.Add(1)
	}
	i.m.Step(r.At, r.Src, a)
}

func (i *Instance) applyInbox() {
	i.mu.Lock()
	in := i.inbox
	i.inbox = inbox{}
	if in.priority != nil {
		i.status.BasePriority = *in.priority
	}
	i.mu.Unlock()
	now := i.clock.Now()
	if in.detach != nil {
		i.detach = in.detach
		return
	}
	if in.priority != nil && *in.priority != i.tracks.base {
		i.log.WithFields(logrus.Fields{"from": i.tracks.base, "to": *in.priority}).Info("configured priority changed")
		i.tracks.base = *in.priority
	}
	for k, up := range in.tracks {
		i.tracks.set(k, up)
	}
	if in.groupFault != nil {
		i.groupFault = *in.groupFault
	}
	i.applyTracking()
	if in.hold != nil {
		i.m.SetHold(now, *in.hold)
	}
	if in.stepDown != nil {
		i.log.WithField("for", *in.stepDown).Info("step-down requested")
		i.m.StepDown(now, *in.stepDown)
	}
}

func (i *Instance) applyTracking() {
	now := i.clock.Now()
	prio, fault := i.tracks.effective()
	if i.groupFault != "" {
		if fault != "" {
			fault += ", "
		}
		fault += i.groupFault
	}
	if prio != i.m.Priority() {
		i.log.WithFields(logrus.Fields{"from": i.m.Priority(), "to": prio}).Info("priority changed by tracking")
	}
	i.m.SetPriority(now, prio)
	i.m.SetFault(now, fault != "", fault)
}

// apply performs what the machine asks for: addresses and announcements
// first when taking over (clients move as early as possible), adverts, then
// releases; logs, hooks and events last, off the critical path.
func (i *Instance) apply(ctx context.Context, timer Timer) {
	rd := i.m.Ready()
	if rd.Own {
		i.own(ctx)
	}
	if rd.Announce && !rd.Own {
		i.reannounce(ctx)
	}
	for _, p := range rd.Adverts {
		i.send(p)
	}
	if rd.Release {
		i.release()
	}
	timer.Stop()
	i.deadline = rd.Deadline
	if !rd.Deadline.IsZero() {
		d := rd.Deadline.Sub(i.clock.Now())
		if i.precise() && d > precisionLead {
			// Wake early and sleep the rest precisely (see onTimer).
			d -= precisionLead
		}
		timer.Reset(max(0, d))
	}
	for _, tr := range rd.Transitions {
		i.record(tr)
	}
	if i.group != nil {
		_, own := i.tracks.effective()
		i.group.report(i, memberSnap{state: i.m.State(), wantMaster: i.m.WantsMaster(), ownFault: own})
	}
	i.mu.Lock()
	i.status.Priority = i.m.Priority()
	i.status.Master, i.status.MasterPriority = i.m.Master()
	i.status.MasterAdverInterval = i.m.MasterAdverInterval()
	i.status.Tracked = i.tracks.status()
	_, i.status.Fault = i.tracks.effective()
	if i.groupFault != "" {
		i.status.Fault = i.groupFault
	}
	i.mu.Unlock()
}

// finishDetach ends Run for Detach: what the replacement needs stays, the
// rest goes, and nobody on the network is told.
func (i *Instance) finishDetach(keep []VIP) {
	i.stopAnnouncing()
	r := Resume{State: i.m.State(), StepDownUntil: i.m.StepDownEnd()}
	switch {
	case r.State == Master:
		if err := i.owner.removeExcept(keep); err != nil {
			i.log.WithError(err).Error("removing virtual addresses the replacing instance does not have")
		}
	case i.m.Holding():
		i.release()
	}
	i.mu.Lock()
	r.Since = i.status.Since
	i.detached = r
	i.mu.Unlock()
	i.log.WithField("state", r.State.String()).Info("detached: the instance replacing this one takes over")
}

func (i *Instance) record(tr Transition) {
	l := i.log.WithFields(logrus.Fields{"state": tr.To.String(), "from": tr.From.String(),
		"reason": string(tr.Reason), "priority": tr.Priority})
	if tr.Master.IsValid() {
		l = l.WithField("master", tr.Master)
	}
	if tr.Detail != "" {
		l = l.WithField("detail", tr.Detail)
	}
	l.Info("entering " + tr.To.String())
	at := tr.At
	if tr.Reason == ReasonResume && i.resume != nil && tr.To == i.resume.State && !i.resume.Since.IsZero() {
		// The same state goes on: keep when it began.
		at = i.resume.Since
	}
	i.mu.Lock()
	i.status.State, i.status.Since = tr.To, at
	i.mu.Unlock()
	i.events.push(Event{Instance: i.cfg.Name, VRID: i.cfg.VRID, Transition: tr})
	i.notif.notify(tr)
	if i.sf != nil {
		state := tr.To.String()
		if tr.To == Init {
			state = "STOP"
		}
		if err := i.sf.Set("INSTANCE", i.cfg.Name, state, tr.Priority, at); err != nil {
			i.log.WithError(err).Warn("state file")
		}
	}
}

func (i *Instance) send(prio uint8) {
	a := Advert{Version: i.cfg.Version, VRID: i.cfg.VRID, Priority: prio, Interval: i.cfg.AdvertInterval,
		Addrs: i.filter.Addrs, AuthType: i.filter.AuthType, AuthData: i.filter.AuthData}
	if prio == 0 {
		i.ctrs.PriorityZeroSent.Add(1)
	}
	for _, dst := range i.dsts {
		msg, err := a.Marshal(i.src, dst)
		if err == nil {
			err = i.conn.WriteTo(msg, dst)
		}
		if err != nil {
			i.ctrs.SendErrs.Add(1)
			ratelog.Warn(i.log.WithError(err).WithField("to", dst), "cannot send VRRP advert")
			continue
		}
		i.ctrs.Sent.Add(1)
	}
}

// own adds the addresses, sends the first burst of announcements at once
// and schedules the rest (second burst, periodic refresh).
func (i *Instance) own(ctx context.Context) {
	if err := i.owner.add(); err != nil {
		i.log.WithError(err).Error("adding virtual addresses")
	}
	g := i.cfg.GARP
	first := g.Repeat
	if g.Interval > 0 {
		first = 1
	}
	if first > 0 {
		if err := i.owner.announce(ctx, first, 0); err != nil {
			i.log.WithError(err).Warn("announcing virtual addresses")
		}
	}
	i.stopAnnouncing()
	actx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	i.announceCancel, i.announceDone = cancel, done
	go func() {
		defer close(done)
		i.announceLoop(actx, g.Repeat-first)
	}()
}

// reannounce repeats the takeover announcements when a master hears a
// lower-priority master (a healed partition): the LAN's ARP caches may point
// at the other router. At most once a second, so a router that cannot hear
// us does not cause a storm.
func (i *Instance) reannounce(ctx context.Context) {
	now := i.clock.Now()
	if !i.lastReannounce.IsZero() && now.Sub(i.lastReannounce) < time.Second {
		return
	}
	i.lastReannounce = now
	ratelog.Info(i.log, "lower-priority master heard: announcing the virtual addresses again")
	i.own(ctx)
}

func (i *Instance) announceLoop(ctx context.Context, rest int) {
	g := i.cfg.GARP
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	burst := func(n int) {
		if err := i.owner.announce(ctx, n, g.Interval); err != nil && ctx.Err() == nil {
			ratelog.Warn(i.log.WithError(err), "announcing virtual addresses")
		}
	}
	if rest > 0 && wait(g.Interval) {
		burst(rest)
	}
	if g.Delay > 0 && g.Repeat > 0 {
		if !wait(g.Delay) {
			return
		}
		burst(g.Repeat)
	}
	for g.Refresh > 0 && g.RefreshRepeat > 0 {
		if !wait(g.Refresh) {
			return
		}
		burst(g.RefreshRepeat)
	}
}

func (i *Instance) stopAnnouncing() {
	if i.announceCancel != nil {
		i.announceCancel()
		<-i.announceDone
		i.announceCancel, i.announceDone = nil, nil
	}
}

func (i *Instance) release() {
	i.stopAnnouncing()
	if err := i.owner.remove(); err != nil {
		i.log.WithError(err).Error("removing virtual addresses")
	}
}

// netOwner is the real vipOwner: netlink addresses plus announcements.
type netOwner struct {
	addrs *addrs
	ann   *announcer
	nl    *netlink.Handle
}

func (o *netOwner) add() error                           { return o.addrs.add() }
func (o *netOwner) remove() error                        { return o.addrs.remove() }
func (o *netOwner) removeExcept(keep []VIP) error        { return o.addrs.removeExcept(keep) }
func (o *netOwner) removeStale() ([]netip.Prefix, error) { return o.addrs.removeStale() }
func (o *netOwner) announce(ctx context.Context, n int, gap time.Duration) error {
	return o.ann.burst(ctx, n, gap)
}
func (o *netOwner) close() {
	o.ann.close()
	o.nl.Close()
}

// localAddrs lists the interface's own addresses (adverts from them are
// ours) and picks the advert source: the configured one, else the first
// primary IPv4 address, or the link-local address for IPv6.
func localAddrs(nl *netlink.Handle, ifi *net.Interface, cfg Config) (map[netip.Addr]bool, netip.Addr, error) {
	link, err := nl.LinkByIndex(ifi.Index)
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("interface %s: %w", ifi.Name, err)
	}
	list, err := nl.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
	vip := map[netip.Addr]bool{}
	for _, v := range cfg.VIPs {
		vip[v.Prefix.Addr()] = true
	}
	local := map[netip.Addr]bool{}
	var src netip.Addr
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if vip[ip] {
			continue
		}
		local[ip] = true
		if src.IsValid() {
			continue
		}
		if cfg.IPv6() {
			if ip.Is6() && ip.IsLinkLocalUnicast() {
				src = ip
			}
		} else if ip.Is4() && a.Flags&0x01 == 0 { // not IFA_F_SECONDARY
			src = ip
		}
	}
	if cfg.SourceAddr.IsValid() {
		src = cfg.SourceAddr
	}
	if !src.IsValid() {
		fam := "IPv4"
		if cfg.IPv6() {
			fam = "IPv6 link-local"
		}
		return nil, netip.Addr{}, fmt.Errorf("interface %s has no %s address to send adverts from", ifi.Name, fam)
	}
	return local, src, nil
}

func linkLocal(nl *netlink.Handle, ifi *net.Interface) (netip.Addr, error) {
	link, err := nl.LinkByIndex(ifi.Index)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("interface %s: %w", ifi.Name, err)
	}
	list, err := nl.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.IsLinkLocalUnicast() {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no IPv6 link-local address", ifi.Name)
}

// eventQueue hands events to a channel without ever blocking the sender.
type eventQueue struct {
	mu   sync.Mutex
	q    []Event
	wake chan struct{}
	out  chan Event
}

func newEventQueue() *eventQueue {
	return &eventQueue{wake: make(chan struct{}, 1), out: make(chan Event)}
}

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	e.q = append(e.q, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) loop(ctx context.Context) {
	for {
		e.mu.Lock()
		var ev Event
		has := len(e.q) > 0
		if has {
			ev = e.q[0]
			e.q = e.q[1:]
		}
		e.mu.Unlock()
		if !has {
			select {
			case <-ctx.Done():
				e.mu.Lock()
				pending := len(e.q) > 0
				e.mu.Unlock()
				if pending {
					continue
				}
				return
			case <-e.wake:
			}
			continue
		}
		select {
		case e.out <- ev:
		case <-ctx.Done():
			e.flush(ev)
			return
		}
	}
}

// flush offers the events still queued at stop (the final transition) to
// a reader for up to 200ms; a reader that is not there loses them.
func (e *eventQueue) flush(first Event) {
	e.mu.Lock()
	rest := append([]Event{first}, e.q...)
	e.q = nil
	e.mu.Unlock()
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	for _, ev := range rest {
		select {
		case e.out <- ev:
		case <-t.C:
			return
		}
	}
}

func (e *eventQueue) close() { close(e.out) }

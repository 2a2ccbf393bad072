package director

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/vrrp"
)

// vrrpSub runs the configured VRRP instances, sync groups and scripts: the
// Director's VRRP subsystem. Its methods run on the event loop; the
// instances run in goroutines of their own, owned by the context start
// gets (Run's), and report to the loop through a mailbox that never blocks
// them.
//
// An instance runs alone or as a member of a sync group; either is a unit,
// which starts, stops and is rebuilt as one (a sync group's members must
// be bound before any runs).
type vrrpSub struct {
	d   *Director
	log logrus.FieldLogger
	ctx context.Context
	wg  sync.WaitGroup
	// open builds an instance (vrrp.New, in the process's network
	// namespace); tests replace it.
	open func(vrrp.Config, ...vrrp.Option) (*vrrp.Instance, error)

	mail vrrpMailbox

	// The loop's state.
	units   map[string]*vrrpUnit   // by unitKey
	members map[string]*vrrpMember // by instance name
	scripts map[string]*vrrpScript // by name; only the tracked ones run
	sfPath  string
	sf      *vrrp.StateFile

	// mu guards what Status and the scripts' goroutines read: each
	// member's live fields, the list of members (view), tracking
	// subscriptions.
	mu       sync.Mutex
	view     []*vrrpMember
	groups   []*vrrpUnit
	trackers map[string][]*vrrp.Instance // script name -> instances tracking it
}

// vrrpUnit is a lone instance or a sync group with its members.
type vrrpUnit struct {
	key     string // unitKey
	name    string
	group   *vrrp.SyncGroupConfig // nil: a lone instance (without the hook runner)
	members []*vrrpMember         // sorted by name
	sg      *vrrp.SyncGroup       // guarded by vrrpSub.mu
	cancel  context.CancelFunc    // stops the running generation
	// Failures count attempts that failed in a row (socket errors, or
	// instances that could not be built); retry is the pending attempt.
	failures int
	started  time.Time
	retry    clockwork.Timer
}

func unitKey(group, instance string) string {
	if group != "" {
		return "group " + group
	}
	return "instance " + instance
}

// vrrpMember is one configured instance and what the Status shows of it.
// It outlives the vrrp.Instance values that run it (reloads, restarts).
type vrrpMember struct {
	name string

	// The rest is guarded by vrrpSub.mu (the loop, their only writer,
	// reads them without it).
	vi            *VRRPInstance
	spec          vrrp.Config    // what it runs, without the hook runner
	inst          *vrrp.Instance // nil while not running
	unit          *vrrpUnit
	state         vrrp.State
	since         time.Time
	reason        string
	transitions   uint64
	restarts      uint64
	lastError     string
	stepDownUntil time.Time
	// base adds up the counters of the instances this member ran before
	// the current one, so that they only grow.
	base vrrp.Stats
}

// vrrpScript is a running vrrp_script.
type vrrpScript struct {
	cfg    *VRRPScript
	s      *vrrp.Script
	cancel context.CancelFunc
}

func newVRRPSub(d *Director) *vrrpSub {
	return &vrrpSub{
		d:        d,
		log:      d.log.WithField("component", "vrrp"),
		open:     vrrp.New,
		units:    map[string]*vrrpUnit{},
		members:  map[string]*vrrpMember{},
		scripts:  map[string]*vrrpScript{},
		trackers: map[string][]*vrrp.Instance{},
		mail:     vrrpMailbox{wake: make(chan struct{}, 1)},
	}
}

// vrrpMailbox queues work for the loop without blocking the goroutine
// that queues it (an instance's event reader, a script, a timer).
type vrrpMailbox struct {
	mu   sync.Mutex
	q    []func()
	wake chan struct{}
}

func (m *vrrpMailbox) push(f func()) {
	m.mu.Lock()
	m.q = append(m.q, f)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// pump hands the mailbox to the loop until ctx ends.
func (s *vrrpSub) pump(ctx context.Context) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.mail.wake:
		}
		s.mail.mu.Lock()
		batch := s.mail.q
		s.mail.q = nil
		s.mail.mu.Unlock()
		err := s.d.submit(ctx, eventFunc(func(context.Context, *Director) {
			for _, f := range batch {
				f()
			}
		}))
		if err != nil {
			return
		}
	}
}

// ---- the subsystem interface ----

func (s *vrrpSub) start(ctx context.Context, d *Director) error {
	s.ctx = ctx
	s.wg.Add(1)
	go s.pump(ctx)
	p, err := s.plan(d.st.cfg, true)
	if err != nil {
		return err
	}
	s.commit(p)
	return nil
}

func (s *vrrpSub) prepare(_ context.Context, cfg *Config) (commit, abort func(), err error) {
	p, err := s.plan(cfg, false)
	if err != nil {
		return nil, nil, err
	}
	return func() { s.commit(p) }, func() { p.discard() }, nil
}

func (s *vrrpSub) quorumChanged(vs string, up bool, _ uint64) {
	key := vsTrackKey(vs)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.members {
		if m.inst != nil && tracks(m.spec, key) {
			m.inst.SetTrack(key, up)
		}
	}
}

// stop waits for every instance to stop (they are stopping already: Run's
// context is done), masters after their handover.
func (s *vrrpSub) stop() {
	for _, u := range s.units {
		if u.retry != nil {
			u.retry.Stop()
		}
		if u.cancel != nil {
			u.cancel()
		}
	}
	for _, sc := range s.scripts {
		sc.cancel()
	}
	s.wg.Wait()
}

func tracks(c vrrp.Config, key string) bool {
	return slices.ContainsFunc(c.Track, func(t vrrp.Track) bool { return t.Key() == key })
}

// ---- plan and commit: start and reloads ----

// vrrpPlan is what a configuration changes, with every new instance and
// script already built, so that committing it cannot fail.
type vrrpPlan struct {
	sfPath  string
	sf      *vrrp.StateFile
	scripts map[string]*vrrpScript // the new set; new ones not started yet
	specs   map[string]*unitSpec   // the new set of units
	changes map[string]vrrpChange  // by unit: what happens to the running one
	// built holds the new instances of the units that get them, by member.
	built map[string]*vrrp.Instance
	// failed are units whose instances could not be built and that retry
	// (at start, or a unit that was not running anyway).
	failed map[string]error
}

// unitSpec is a unit of a configuration: its key, name, group and its
// members' configs, sorted by name.
type unitSpec struct {
	key, name string
	group     *vrrp.SyncGroupConfig
	members   []vrrp.Config
	vis       []*VRRPInstance
}

func unitSpecs(cfg *Config) map[string]*unitSpec {
	out := map[string]*unitSpec{}
	groupOf := map[string]*SyncGroup{}
	for _, g := range cfg.SyncGroups {
		for _, n := range g.Instances {
			groupOf[n] = g
		}
	}
	for _, vi := range slices.SortedFunc(slices.Values(cfg.VRRPInstances), func(a, b *VRRPInstance) int { return cmp.Compare(a.Name, b.Name) }) {
		g := groupOf[vi.Name]
		key, name := unitKey("", vi.Name), vi.Name
		if g != nil {
			key, name = unitKey(g.Name, ""), g.Name
		}
		u := out[key]
		if u == nil {
			u = &unitSpec{key: key, name: name}
			if g != nil {
				u.group = &vrrp.SyncGroupConfig{Name: g.Name, Notify: vrrpNotify(cfg, g.Notify)}
			}
			out[key] = u
		}
		u.members = append(u.members, vrrpConfig(cfg, vi))
		u.vis = append(u.vis, vi)
	}
	return out
}

// plan works out what cfg changes and builds what is new (the sockets of
// new instances, scripts), touching nothing that runs. atStart, an
// instance that cannot be built retries later; at a reload it refuses the
// configuration, unless its unit was not running anyway. On error nothing
// is left open.
func (s *vrrpSub) plan(cfg *Config, atStart bool) (p *vrrpPlan, err error) {
	p = &vrrpPlan{sfPath: cfg.VRRP.StateFile, sf: s.sf, scripts: map[string]*vrrpScript{},
		specs: unitSpecs(cfg), changes: map[string]vrrpChange{}, built: map[string]*vrrp.Instance{},
		failed: map[string]error{}}
	built := p
	defer func() {
		if err != nil {
			built.discard()
		}
	}()
	// The state file: the same writer while the path is the same; a new
	// path moves every instance to the new file (replaced in place).
	moved := p.sfPath != s.sfPath
	if moved || atStart {
		p.sf = nil
		if p.sfPath != "" {
			p.sf = vrrp.NewStateFile(p.sfPath)
		}
	}

	// Scripts: only the tracked ones run. A changed one starts from the
	// state of the one it replaces, so that nothing flaps.
	used := map[string]bool{}
	for _, vi := range cfg.VRRPInstances {
		for _, t := range vi.TrackScripts {
			used[t.Name] = true
		}
	}
	for _, sc := range cfg.VRRPScripts {
		if !used[sc.Name] {
			continue
		}
		old := s.scripts[sc.Name]
		if old != nil && sameScript(old.cfg, sc) {
			p.scripts[sc.Name] = old
			continue
		}
		sconf, err := vrrpScriptConfig(sc, old != nil && !old.s.Up())
		if err != nil {
			return nil, err
		}
		vs, err := vrrp.NewScript(sconf, s.entry())
		if err != nil {
			return nil, err
		}
		p.scripts[sc.Name] = &vrrpScript{cfg: sc, s: vs}
	}

	for key, us := range p.specs {
		u := s.units[key]
		change := vrrpRestart // a new unit: built and started
		if u != nil {
			old := make([]vrrp.Config, len(u.members))
			for i, m := range u.members {
				old[i] = m.spec
			}
			change = classifyUnit(old, us.members, u.group, us.group)
			if moved && change < vrrpReplace {
				change = vrrpReplace
			}
		}
		p.changes[key] = change
		if change < vrrpReplace {
			continue
		}
		for _, c := range us.members {
			inst, err := s.build(c, p.sf)
			if err != nil {
				if atStart || (u != nil && unitDown(u)) {
					p.failed[key] = err
					break
				}
				return nil, err
			}
			p.built[c.Name] = inst
		}
	}
	return p, nil
}

// discard releases what the plan built, when it is not committed. (New
// scripts hold nothing until they run.)
func (p *vrrpPlan) discard() {
	for _, inst := range p.built {
		inst.Close()
	}
}

// unitDown reports whether u is waiting to be built again.
func unitDown(u *vrrpUnit) bool { return u.retry != nil }

// entry is the log the vrrp package writes to (it sets its own component).
func (s *vrrpSub) entry() *logrus.Entry {
	if e, ok := s.d.log.(*logrus.Entry); ok {
		return e
	}
	return logrus.NewEntry(logrus.StandardLogger())
}

// build opens one instance: sockets, netlink, link tracking.
func (s *vrrpSub) build(c vrrp.Config, sf *vrrp.StateFile) (*vrrp.Instance, error) {
	c.Notify.Run = runVRRPHook
	opts := []vrrp.Option{vrrp.WithLogger(s.entry())}
	if sf != nil {
		opts = append(opts, vrrp.WithStateFile(sf))
	}
	inst, err := s.open(c, opts...)
	if err != nil {
		return nil, fmt.Errorf("vrrp_instance %q: %w", c.Name, err)
	}
	return inst, nil
}

// commit applies a plan on the loop.
func (s *vrrpSub) commit(p *vrrpPlan) {
	now := s.d.clock.Now()
	// Scripts first, so that new instances see their current states.
	for name, sc := range p.scripts {
		old := s.scripts[name]
		if old == sc {
			continue
		}
		if old != nil {
			old.cancel()
		}
		s.startScript(sc)
	}
	for name, old := range s.scripts {
		if p.scripts[name] == nil {
			old.cancel()
		}
	}
	s.scripts = p.scripts
	s.sf, s.sfPath = p.sf, p.sfPath

	// Old units that do not go on as they are: each member still running
	// is handed to its replacement when that is the same virtual router,
	// and stopped as on shutdown otherwise.
	next := map[string]vrrp.Config{}
	for key, us := range p.specs {
		if p.changes[key] >= vrrpReplace {
			for _, c := range us.members {
				next[c.Name] = c
			}
		}
	}
	resumes := map[string]vrrp.Resume{}
	for key, u := range s.units {
		if _, ok := p.specs[key]; ok && p.changes[key] < vrrpReplace {
			continue // goes on
		}
		for _, m := range u.members {
			c, ok := next[m.name]
			if !ok || m.inst == nil || classifyVRRP(m.spec, c) == vrrpRestart || p.failed[unitOf(p, m.name)] != nil {
				continue
			}
			resumes[m.name] = m.inst.Detach(c.VIPs)
			s.retire(m)
		}
		s.stopUnit(u)
	}

	// The new set of units and members; members carry their history over
	// by name.
	units := map[string]*vrrpUnit{}
	members := map[string]*vrrpMember{}
	s.mu.Lock()
	for key, us := range p.specs {
		u := s.units[key]
		if u == nil || p.changes[key] >= vrrpReplace {
			u = &vrrpUnit{key: key, name: us.name}
		}
		u.group = us.group
		u.members = u.members[:0]
		for i, c := range us.members {
			m := s.members[c.Name]
			if m == nil {
				m = &vrrpMember{name: c.Name, state: vrrp.Init, since: now}
			}
			if p.changes[key] == vrrpPriority && m.spec.Priority != c.Priority && m.inst != nil {
				if err := m.inst.SetPriority(c.Priority); err != nil {
					s.log.WithError(err).WithField("instance", c.Name).Error("cannot change the priority of the running instance")
				} else {
					s.log.WithFields(logrus.Fields{"instance": c.Name, "from": m.spec.Priority, "to": c.Priority}).Info("vrrp: priority changed by the reload; applied live")
				}
			}
			m.vi, m.spec, m.unit = us.vis[i], c, u
			u.members = append(u.members, m)
			members[c.Name] = m
		}
		units[key] = u
	}
	s.members = members
	s.mu.Unlock()

	// Build and run the new units.
	for key, u := range units {
		change := p.changes[key]
		if change < vrrpReplace {
			continue
		}
		if err := p.failed[key]; err != nil {
			for _, m := range u.members {
				if inst := p.built[m.name]; inst != nil {
					inst.Close()
				}
			}
			s.unitFailed(u, err)
			continue
		}
		insts := make([]*vrrp.Instance, len(u.members))
		kept := 0
		for i, m := range u.members {
			insts[i] = p.built[m.name]
			s.mu.Lock()
			if r, ok := resumes[m.name]; ok {
				insts[i].Resume(r)
				m.stepDownUntil = r.StepDownUntil
				kept++
			} else {
				m.state, m.since, m.stepDownUntil = vrrp.Init, now, time.Time{}
			}
			s.mu.Unlock()
		}
		s.launch(u, insts)
		f := logrus.Fields{"unit": key, "instances": memberNames(u)}
		switch {
		case s.units[key] == nil:
			s.log.WithFields(f).Debug("vrrp: starting")
		case kept == len(u.members):
			s.log.WithFields(f).Info("vrrp: configuration changed; replaced in place, state kept")
		default:
			s.log.WithFields(f).Info("vrrp: configuration changed; restarted")
		}
	}
	s.units = units
	s.publishView()
	s.d.syncExtras("vrrp")
}

// unitOf is the key of the unit of p that member name is in.
func unitOf(p *vrrpPlan, name string) string {
	for key, us := range p.specs {
		for _, c := range us.members {
			if c.Name == name {
				return key
			}
		}
	}
	return ""
}

func memberNames(u *vrrpUnit) []string {
	out := make([]string, len(u.members))
	for i, m := range u.members {
		out[i] = m.name
	}
	return out
}

// retire adds a member's counters to its base before its instance goes.
func (s *vrrpSub) retire(m *vrrpMember) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.inst == nil {
		return
	}
	m.base = addStats(m.base, m.inst.Stats())
	m.inst = nil
}

func addStats(a, b vrrp.Stats) vrrp.Stats {
	a.Sent += b.Sent
	a.SendErrs += b.SendErrs
	a.Received += b.Received
	a.IntervalMismatch += b.IntervalMismatch
	a.PriorityZeroRcvd += b.PriorityZeroRcvd
	a.PriorityZeroSent += b.PriorityZeroSent
	for i := range a.Dropped {
		a.Dropped[i] += b.Dropped[i]
	}
	return a
}

// stopUnit stops u's instances as on shutdown (those still running: a
// replaced member was detached already); it does not wait.
func (s *vrrpSub) stopUnit(u *vrrpUnit) {
	if u.retry != nil {
		u.retry.Stop()
		u.retry = nil
	}
	if u.cancel != nil {
		u.cancel()
		u.cancel = nil
	}
	for _, m := range u.members {
		s.retire(m)
	}
}

// startScript runs a script until the subsystem stops or a reload drops it.
func (s *vrrpSub) startScript(sc *vrrpScript) {
	ctx, cancel := context.WithCancel(s.ctx)
	sc.cancel = cancel
	name := sc.cfg.Name
	sc.s.Subscribe(func(key string, up bool) {
		s.mu.Lock()
		insts := s.trackers[name]
		s.mu.Unlock()
		for _, inst := range insts {
			inst.SetTrack(key, up)
		}
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sc.s.Run(ctx)
	}()
}

// launch binds u's new instances (a sync group), tells them the current
// state of what they track, and runs them.
func (s *vrrpSub) launch(u *vrrpUnit, insts []*vrrp.Instance) {
	var sg *vrrp.SyncGroup
	if u.group != nil {
		gc := *u.group
		gc.Notify.Run = runVRRPHook
		var err error
		if sg, err = vrrp.NewSyncGroup(gc, s.entry(), s.sf, insts...); err != nil {
			// Only a programming error gets here (members running or in
			// another group).
			for _, inst := range insts {
				inst.Close()
			}
			s.unitFailed(u, err)
			return
		}
	}
	ctx, cancel := context.WithCancel(s.ctx)
	u.cancel = cancel
	u.started = s.d.clock.Now()
	u.retry = nil
	s.mu.Lock()
	u.sg = sg
	for i, m := range u.members {
		m.inst = insts[i]
		m.lastError = ""
	}
	s.rebuildTrackers()
	s.mu.Unlock()
	// The current states, read after the scripts can reach the instances,
	// so that no change falls in between.
	for i, m := range u.members {
		for _, t := range m.spec.Track {
			switch t.Kind {
			case vrrp.TrackScript:
				if sc := s.scripts[t.Name]; sc != nil {
					insts[i].SetTrack(t.Key(), sc.s.Up())
				}
			case vrrp.TrackExternal:
				if name, ok := strings.CutPrefix(t.Name, "vs:"); ok {
					insts[i].SetTrack(t.Key(), s.d.st.in.QuorumUp[name])
				}
			}
		}
	}
	for i, m := range u.members {
		inst := insts[i]
		s.wg.Add(2)
		go func() {
			defer s.wg.Done()
			for ev := range inst.Events() {
				s.mail.push(func() { s.onEvent(m, inst, ev) })
			}
		}()
		go func() {
			defer s.wg.Done()
			err := inst.Run(ctx)
			s.mail.push(func() { s.onEnded(u, m, inst, err) })
		}()
	}
	if sg != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sg.Run(ctx)
		}()
	}
}

// rebuildTrackers recomputes which instances each script feeds. s.mu is
// held.
func (s *vrrpSub) rebuildTrackers() {
	tr := map[string][]*vrrp.Instance{}
	for _, m := range s.members {
		if m.inst == nil {
			continue
		}
		for _, t := range m.spec.Track {
			if t.Kind == vrrp.TrackScript {
				tr[t.Name] = append(tr[t.Name], m.inst)
			}
		}
	}
	s.trackers = tr
}

// onEvent records an instance's transition.
func (s *vrrpSub) onEvent(m *vrrpMember, inst *vrrp.Instance, ev vrrp.Event) {
	s.mu.Lock()
	if m.inst != inst {
		s.mu.Unlock()
		return // an instance that was replaced or stopped
	}
	resumed := ev.Reason == vrrp.ReasonResume && ev.From == vrrp.Init && ev.To == m.state
	m.state = ev.To
	if !resumed {
		m.since = ev.At
		m.reason = string(ev.Reason)
		if ev.Detail != "" {
			m.reason += ": " + ev.Detail
		}
		m.transitions++
	}
	s.mu.Unlock()
	s.d.changed()
	if sd := s.d.st.cfg.IPVS.SyncDaemon; sd != nil && sd.Role == SyncFollow && sd.VRRPInstance == m.name {
		s.d.syncExtras("vrrp")
	}
}

// onEnded handles an instance whose Run returned: on a socket error the
// unit stops and is built again after a backoff.
func (s *vrrpSub) onEnded(u *vrrpUnit, m *vrrpMember, inst *vrrp.Instance, err error) {
	s.mu.Lock()
	current := m.inst == inst && m.unit == u
	s.mu.Unlock()
	if !current || err == nil || s.units[u.key] != u {
		return
	}
	if s.d.clock.Since(u.started) > time.Minute {
		u.failures = 0 // it ran fine for a while: start the backoff over
	}
	s.mu.Lock()
	m.lastError = err.Error()
	s.mu.Unlock()
	s.stopUnit(u)
	s.unitFailed(u, err)
}

// unitFailed schedules another attempt to build and run u.
func (s *vrrpSub) unitFailed(u *vrrpUnit, err error) {
	u.failures++
	wait := vrrpRetry(u.failures)
	s.mu.Lock()
	for _, m := range u.members {
		m.lastError = err.Error()
		m.state = vrrp.Init
	}
	s.mu.Unlock()
	// Not rate-limited: the backoff (1 s doubling to 30 s) limits it, and
	// each line says when the next attempt comes.
	s.log.WithError(err).WithFields(logrus.Fields{"unit": u.key, "attempt": u.failures, "retry_in": wait.String()}).Error("vrrp: cannot run; trying again")
	if u.retry != nil {
		u.retry.Stop()
	}
	u.retry = s.d.clock.AfterFunc(wait, func() { s.mail.push(func() { s.retryUnit(u) }) })
	s.d.changed()
}

// retryUnit builds u again (fresh: a failed unit holds no state).
func (s *vrrpSub) retryUnit(u *vrrpUnit) {
	if s.units[u.key] != u || u.retry == nil || s.ctx.Err() != nil {
		return
	}
	u.retry = nil
	insts := make([]*vrrp.Instance, 0, len(u.members))
	for _, m := range u.members {
		inst, err := s.build(m.spec, s.sf)
		if err != nil {
			for _, i := range insts {
				i.Close()
			}
			s.unitFailed(u, err)
			return
		}
		insts = append(insts, inst)
	}
	s.log.WithFields(logrus.Fields{"unit": u.key, "attempt": u.failures + 1}).Info("vrrp: running again")
	s.mu.Lock()
	for _, m := range u.members {
		m.restarts++
		m.state, m.since = vrrp.Init, s.d.clock.Now()
	}
	s.mu.Unlock()
	s.launch(u, insts)
	s.publishView()
}

// publishView refreshes what Status lists.
func (s *vrrpSub) publishView() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.view = slices.SortedFunc(maps.Values(s.members), func(a, b *vrrpMember) int { return cmp.Compare(a.name, b.name) })
	s.groups = nil
	for _, u := range s.units {
		if u.group != nil {
			s.groups = append(s.groups, u)
		}
	}
	slices.SortFunc(s.groups, func(a, b *vrrpUnit) int { return cmp.Compare(a.name, b.name) })
}

// state is the current state of instance name (Init when not running or
// not configured).
func (s *vrrpSub) state(name string) vrrp.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.members[name]; m != nil && m.inst != nil {
		return m.state
	}
	return vrrp.Init
}

// stepDown steps the instance, or every member of the sync group, called
// name down for d.
func (s *vrrpSub) stepDown(name string, d time.Duration) error {
	var ms []*vrrpMember
	if m := s.members[name]; m != nil {
		ms = []*vrrpMember{m}
	} else if u := s.units[unitKey(name, "")]; u != nil {
		ms = u.members
	} else {
		return fmt.Errorf("%w: no vrrp_instance or vrrp_sync_group %q", ErrNotFound, name)
	}
	until := s.d.clock.Now().Add(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range ms {
		if m.inst == nil {
			return fmt.Errorf("vrrp_instance %q is not running: %s", m.name, m.lastError)
		}
	}
	for _, m := range ms {
		m.inst.StepDown(d)
		m.stepDownUntil = until
	}
	return nil
}

// ErrNotFound is returned for a name the configuration does not have.
var ErrNotFound = errors.New("not found")

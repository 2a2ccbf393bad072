package director

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/checkers"
	"github.com/lvsd/lvsd/checkers/hook"
	"github.com/lvsd/lvsd/internal/ratelog"
	"github.com/lvsd/lvsd/ipvs"
)

// Options configure a Director.
type Options struct {
	// Config is the configuration applied when Run starts. Required.
	Config *Config
	// Load reads the configuration again for Reload (lvsd run re-reads
	// its -c and -var). Without it, Reload fails.
	Load func() (*Config, hcl.Diagnostics)
	// Backend is the kernel's IPVS table (ipvs.New), or an ipvs.Memory in
	// tests. Nil means the kernel has no IPVS: allowed only for a
	// configuration that needs none (Config.NeedsIPVS), e.g. a node that
	// only moves addresses with VRRP; a reload that needs IPVS is then
	// refused.
	Backend ipvs.Backend
	// StateFile keeps the keys of the services lvsd owns across restarts
	// (ipvs.ReconcilerOptions.StateFile). Empty: in memory only.
	StateFile string
	// OverridesFile keeps the operators' overrides (SetOverride) across
	// restarts: read by New, rewritten on every change. Empty: in memory
	// only.
	OverridesFile string
	// Clock drives the checks' schedules, the resync interval and drain
	// deadlines. Default: the real clock.
	Clock clockwork.Clock
	// Rand spreads the checks' first runs over their warmup. Default:
	// randomly seeded.
	Rand *rand.Rand
	// Log receives one line per transition, reload and drift repair.
	// Default: logrus's standard logger.
	Log logrus.FieldLogger
	// Ready is called once from Run, after the first sync (systemd's
	// READY=1).
	Ready func()
	// RunHook runs notify hooks. Default: hook.Run.
	RunHook func(context.Context, hook.Command) hook.Result
	// Observer sees check runs, syncs and health changes as they happen
	// (metrics). Default: none.
	Observer Observer
}

// Director is the daemon core: it owns the configuration in force, the
// health of every real server, the operators' overrides and the quorum
// state of every virtual server, all in one event-loop goroutine (Run).
// Check verdicts, reloads, overrides and timers are events; each one
// recomputes the desired IPVS table of what it touched and hands it to an
// ipvs.Reconciler. Its exported methods are safe for concurrent use.
type Director struct {
	log     logrus.FieldLogger
	clock   clockwork.Clock
	load    func() (*Config, hcl.Diagnostics)
	backend ipvs.Backend
	rec     *ipvs.Reconciler
	runner  *checkers.Runner
	ready   func()
	runHook func(context.Context, hook.Command) hook.Result
	obs     Observer

	verdicts chan checkers.Verdict
	events   chan event
	quit     chan struct{} // closed when Run is stopping
	started  atomic.Bool
	status   atomic.Pointer[Status]
	// dirty is set when the loop's state changed since status was built.
	dirty   atomic.Bool
	running atomic.Bool

	// subsystems live in the loop next to the IPVS table.
	subsystems []subsystem
	vrrp       *vrrpSub
	// noIPVS is set when the kernel has no IPVS (Options.Backend nil).
	noIPVS bool
	// overridesFile keeps the operators' overrides (Options.OverridesFile).
	overridesFile string

	// st is the loop's state: only the Run goroutine touches it (and New,
	// before Run starts).
	st loopState
}

// loopState is everything the event loop owns.
type loopState struct {
	cfg    *Config
	hash   string
	rsByID map[string]rsRef
	vsByID map[string]*VirtualServer

	// in is the desired table's input, kept up to date event by event so
	// an event recomputes only the virtual server it touches.
	in            Inputs
	rsInfo        map[string]*rsInfo
	quorum        map[string]*quorumInfo
	overrideSince map[string]time.Time
	desired       ipvs.Table
	draining      []ipvs.Drain
	// daemons are the sync daemons lvsd runs (kernel.go).
	daemons map[ipvs.DaemonState]bool

	started time.Time
	ready   bool
	sync    SyncStatus
	reload  ReloadStatus

	hooks *hookQueue

	resync  clockwork.Timer
	drain   clockwork.Timer
	drainAt time.Time
}

type rsRef struct {
	vs *VirtualServer
	rs *RealServer
}

// rsInfo is what the loop remembers of a real server's health besides
// Inputs.Health: the last verdict's sequence number and why it changed.
type rsInfo struct {
	seq         uint64
	reason      string
	check       string
	since       time.Time
	transitions uint64
}

type quorumInfo struct {
	weightUp uint64
	since    time.Time
}

// verdictQueue is how many verdicts may wait for the loop before the
// checkers' notifier blocks (checks keep running meanwhile).
const verdictQueue = 4096

// New returns a Director for opts.Config. It reads the ownership state
// file (a corrupt one is an error) but touches neither the kernel nor the
// network until Run.
func New(opts Options) (*Director, error) {
	if opts.Config == nil {
		return nil, errors.New("director: no configuration")
	}
	noIPVS := opts.Backend == nil
	if noIPVS {
		if opts.Config.NeedsIPVS() {
			return nil, errors.New("director: the configuration needs IPVS (virtual servers, timeouts or a sync daemon), and there is no IPVS backend")
		}
		// Nothing to program: an empty table in memory, and no ownership
		// file to rewrite (it describes a kernel table this run cannot see).
		opts.Backend, opts.StateFile = ipvs.NewMemory(ipvs.Table{}), ""
	}
	d := &Director{
		log:      opts.Log,
		clock:    opts.Clock,
		load:     opts.Load,
		backend:  opts.Backend,
		ready:    opts.Ready,
		runHook:  opts.RunHook,
		obs:      opts.Observer,
		verdicts: make(chan checkers.Verdict, verdictQueue),
		events:   make(chan event),
		quit:     make(chan struct{}),
		noIPVS:   noIPVS,
	}
	if d.log == nil {
		d.log = logrus.StandardLogger()
	}
	if d.clock == nil {
		d.clock = clockwork.NewRealClock()
	}
	if d.runHook == nil {
		d.runHook = hook.Run
	}
	if d.obs == nil {
		d.obs = nopObserver{}
	}
	rec, err := ipvs.NewReconciler(opts.Backend, ipvs.ReconcilerOptions{Clock: d.clock, StateFile: opts.StateFile, Log: d.log})
	if err != nil {
		return nil, err
	}
	d.rec = rec
	d.runner = checkers.NewRunner(checkers.Options{
		Clock:   d.clock,
		Rand:    opts.Rand,
		Log:     d.log,
		Observe: d.obs.CheckRun,
		Notify: func(v checkers.Verdict) {
			select {
			case d.verdicts <- v:
			case <-d.quit:
			}
		},
	})
	d.log = d.log.WithField("component", "director")
	d.vrrp = newVRRPSub(d)
	d.subsystems = append(d.subsystems, d.vrrp)
	d.setConfig(opts.Config)
	d.st.in = Inputs{Health: map[string]Health{}, Overrides: map[string]Override{}, QuorumUp: map[string]bool{}}
	d.st.rsInfo = map[string]*rsInfo{}
	d.st.quorum = map[string]*quorumInfo{}
	d.st.overrideSince = map[string]time.Time{}
	if d.overridesFile = opts.OverridesFile; d.overridesFile != "" {
		over, since, err := readOverrides(d.overridesFile)
		if err != nil {
			return nil, err
		}
		d.st.in.Overrides, d.st.overrideSince = over, since
		for _, id := range sortedStrings(over) {
			_, known := d.st.rsByID[id]
			d.log.WithFields(logrus.Fields{"rs": id, "override": over[id].String(), "since": since[id].Format(time.RFC3339), "configured": known}).
				Info("operator override restored")
		}
	}
	d.st.daemons = map[ipvs.DaemonState]bool{}
	d.status.Store(d.buildStatus())
	return d, nil
}

// setConfig makes cfg the configuration in force and indexes it.
func (d *Director) setConfig(cfg *Config) {
	d.st.cfg = cfg
	d.st.hash = cfg.Hash()
	d.st.rsByID = map[string]rsRef{}
	d.st.vsByID = map[string]*VirtualServer{}
	for _, vs := range cfg.VirtualServers {
		d.st.vsByID[vs.Name] = vs
		for _, rs := range vs.RealServers {
			d.st.rsByID[rs.ID] = rsRef{vs, rs}
		}
	}
}

// Run applies the configuration (adopting what the kernel already holds),
// runs the checks, and handles events until ctx is done. It returns an
// error if the first sync cannot read the kernel or the checks cannot
// start; later errors are logged and retried. On return the IPVS table is
// left as it is, unless the configuration says ipvs.remove_on_stop.
func (d *Director) Run(ctx context.Context) error {
	if !d.started.CompareAndSwap(false, true) {
		return errors.New("director: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		close(d.quit)
		cancel()
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = d.runner.Run(ctx)
	}()
	d.st.hooks = newHookQueue(ctx, d.runHook, d.log, &wg)
	d.st.started = d.clock.Now()
	d.st.resync = d.clock.NewTimer(time.Hour)
	d.st.drain = d.clock.NewTimer(time.Hour)
	d.st.drain.Stop()
	defer d.st.resync.Stop()
	defer d.st.drain.Stop()

	if err := d.start(ctx); err != nil {
		return err
	}
	for _, s := range d.subsystems {
		if err := s.start(ctx, d); err != nil {
			return err
		}
	}
	if d.ready != nil {
		d.ready()
	}
	d.loop(ctx)
	for _, s := range d.subsystems {
		s.stop()
	}
	d.stop()
	return nil
}

// start registers the checks and programs the kernel for the first time.
func (d *Director) start(ctx context.Context) error {
	cfg := d.st.cfg
	assumeUp, err := d.serving(ctx)
	if err != nil {
		return err
	}
	regs, err := registrations(cfg, assumeUp)
	if err != nil {
		return err
	}
	if err := d.runner.Update(regs); err != nil {
		return fmt.Errorf("start the health checks: %w", err)
	}
	now := d.clock.Now()
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			d.st.rsInfo[rs.ID] = &rsInfo{since: now, reason: "no checks"}
			if checked(rs) {
				d.takeState(rs)
			}
		}
		d.st.quorum[vs.Name] = &quorumInfo{since: now}
		d.updateQuorum(vs, now)
	}
	d.st.desired = Desired(cfg, d.st.in)
	start := d.clock.Now()
	rep, err := d.rec.Sync(ctx, d.st.desired)
	if err != nil {
		return fmt.Errorf("first sync of the IPVS table: %w", err)
	}
	d.afterFullSync(rep, start)
	d.syncExtras("start")
	d.st.ready = true
	up, total := 0, 0
	for _, h := range d.st.in.Health {
		total++
		if h.Up {
			up++
		}
	}
	d.log.WithFields(logrus.Fields{
		"virtual_servers": len(cfg.VirtualServers), "real_servers": cfg.RealServerCount(), "checks": len(d.runner.Status()),
		"checked_up": fmt.Sprintf("%d/%d", up, total), "ops": len(rep.Ops), "writes": rep.Writes,
		"owned": rep.Owned, "config": d.st.hash[:12],
	}).Info("IPVS table programmed; running")
	d.publish()
	return nil
}

// serving lists the real servers with a start_down check that the kernel
// already has at a non-zero weight: a restarted daemon keeps them up
// instead of taking them out until their checks pass again.
func (d *Director) serving(ctx context.Context) (map[string]bool, error) {
	var candidates []rsRef
	for _, vs := range d.st.cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			if slices.ContainsFunc(rs.Checks, func(c Check) bool { return c.StartDown }) {
				candidates = append(candidates, rsRef{vs, rs})
			}
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	t, err := d.backend.Dump(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the IPVS table: %w", err)
	}
	out := map[string]bool{}
	for _, c := range candidates {
		for _, key := range c.vs.Services {
			if dst, ok := t.Destination(key, c.rs.Destination(key).Addr); ok && dst.Weight > 0 {
				out[c.rs.ID] = true
			}
		}
	}
	return out, nil
}

// takeState reads rs's first verdict from the runner (current once Update
// has returned) into the loop's state.
func (d *Director) takeState(rs *RealServer) {
	v, ok := d.runner.State(rs.ID)
	if !ok {
		return
	}
	info := d.st.rsInfo[rs.ID]
	info.seq = v.Seq
	info.reason, info.check = v.Reason, v.Check
	d.st.in.Health[rs.ID] = verdictHealth(v)
}

func verdictHealth(v checkers.Verdict) Health {
	h := Health{Up: v.Up}
	if v.Weight >= 0 {
		h.Dynamic, h.Weight = true, uint32(v.Weight)
	}
	return h
}

// loop handles events until ctx is done.
func (d *Director) loop(ctx context.Context) {
	d.running.Store(true)
	defer d.running.Store(false)
	batch := make([]checkers.Verdict, 0, 64)
	for {
		select {
		case <-ctx.Done():
			return
		case v := <-d.verdicts:
			d.changed() // before the kernel changes: a reader that sees the change must see it in Status too
			batch = append(batch[:0], v)
			for more := true; more && len(batch) < cap(batch)*16; {
				select {
				case v := <-d.verdicts:
					batch = append(batch, v)
				default:
					more = false
				}
			}
			d.onVerdicts(ctx, batch)
		case e := <-d.events:
			d.changed()
			e.handle(ctx, d)
		case <-d.st.resync.Chan():
			d.changed()
			d.fullSync(ctx, "resync")
		case <-d.st.drain.Chan():
			d.changed()
			d.st.drainAt = time.Time{}
			d.fullSync(ctx, "drain deadline")
		}
	}
}

// publish stores a new status snapshot. Building one costs about 45 ms
// for 50,000 real servers, so the loop publishes only after the rare
// events (start, reload, override) and otherwise marks the snapshot dirty;
// Status asks the loop for a new one when it is.
func (d *Director) publish() {
	d.dirty.Store(false)
	d.status.Store(d.buildStatus())
}

// changed marks the status snapshot out of date.
func (d *Director) changed() { d.dirty.Store(true) }

// stop cleans up when Run ends: by default nothing, so that a restart is
// hitless; with remove_on_stop, the owned services go.
func (d *Director) stop() {
	if !d.st.cfg.IPVS.RemoveOnStop {
		d.log.WithField("owned", d.st.sync.Owned).Info("stopping; the IPVS table stays as it is (ipvs.remove_on_stop is off)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.stopDaemons()
	rep, err := d.rec.RemoveOwned(ctx)
	if err != nil {
		d.log.WithError(err).Error("stopping: cannot remove the IPVS services lvsd owns")
		return
	}
	d.log.WithFields(logrus.Fields{"removed": len(rep.Ops) - len(rep.Failed), "failed": len(rep.Failed), "writes": rep.Writes}).
		Info("stopping; removed the IPVS services lvsd owns (ipvs.remove_on_stop)")
}

// fullSync dumps the kernel, repairs drift and applies the whole desired
// table.
func (d *Director) fullSync(ctx context.Context, why string) {
	start := d.clock.Now()
	rep, err := d.rec.Sync(ctx, d.st.desired)
	if err != nil {
		d.obs.FullSync(d.clock.Since(start), err)
		d.st.sync.LastError = err.Error()
		ratelog.Error(d.log.WithError(err).WithField("why", why), "IPVS sync failed; retrying soon")
		d.st.resync.Reset(retryInterval(d.st.cfg.IPVS.ResyncInterval))
		d.changed()
		return
	}
	d.afterFullSync(rep, start)
	d.syncExtras(why)
	if len(rep.Drift) > 0 {
		d.log.WithFields(logrus.Fields{"why": why, "repaired": len(rep.Drift), "writes": rep.Writes}).Warn("IPVS drift repaired")
	}
}

// retryInterval is how soon a failed sync is tried again.
func retryInterval(resync time.Duration) time.Duration {
	return min(resync, 2*time.Second)
}

func (d *Director) afterFullSync(rep ipvs.Report, start time.Time) {
	now := d.clock.Now()
	s := &d.st.sync
	s.FullSyncs++
	s.LastFull, s.LastFullDuration = now, now.Sub(start)
	d.obs.FullSync(s.LastFullDuration, nil)
	s.DriftRepairs += uint64(len(rep.Drift))
	d.countReport(rep)
	if len(rep.Failed) == 0 {
		s.LastError = ""
	} else {
		s.LastError = rep.Failed[0].Error()
	}
	iv := d.st.cfg.IPVS.ResyncInterval
	if len(rep.Failed) > 0 {
		iv = retryInterval(iv)
	}
	d.st.resync.Reset(iv)
}

// countReport adds a sync's numbers to the status and follows its drains.
func (d *Director) countReport(rep ipvs.Report) {
	s := &d.st.sync
	s.Ops += uint64(len(rep.Ops))
	s.FailedOps += uint64(len(rep.Failed))
	s.Writes += rep.Writes
	s.Owned = rep.Owned
	d.st.draining = rep.Draining
	next := rep.NextDeadline()
	if !next.Equal(d.st.drainAt) {
		d.st.drainAt = next
		if next.IsZero() {
			d.st.drain.Stop()
		} else {
			d.st.drain.Reset(max(next.Sub(d.clock.Now()), 0))
		}
	}
	d.changed()
}

// syncServices recomputes the desired services of the named virtual
// servers and writes their difference from the Reconciler's model to the
// kernel: the fast path of every event. A write the kernel refuses means
// the model was wrong, and a full sync follows at once.
func (d *Director) syncServices(ctx context.Context, names []string) (ipvs.Report, []quorumChange) {
	now := d.clock.Now()
	var (
		keys    []ipvs.ServiceKey
		changes []quorumChange
	)
	for _, name := range names {
		vs := d.st.vsByID[name]
		if vs == nil {
			continue
		}
		if c, ok := d.updateQuorum(vs, now); ok {
			changes = append(changes, c)
		}
		for _, v := range DesiredServices(vs, d.st.in) {
			d.st.desired.Put(v)
			keys = append(keys, v.ServiceKey)
		}
	}
	rep, err := d.rec.SyncCached(ctx, d.st.desired, keys...)
	d.st.sync.FastSyncs++
	d.countReport(rep)
	switch {
	case err != nil:
		ratelog.Error(d.log.WithError(err), "IPVS write failed; running a full sync")
		d.fullSync(ctx, "failed write")
	case len(rep.Failed) > 0:
		d.log.WithField("failed", len(rep.Failed)).Warn("the kernel refused writes (its table changed behind lvsd's back); running a full sync")
		d.fullSync(ctx, "refused write")
	}
	return rep, changes
}

// quorumChange is a virtual server's quorum transition.
type quorumChange struct {
	vs       *VirtualServer
	up       bool
	weightUp uint64
}

// updateQuorum recomputes vs's quorum state from the inputs, reporting a
// transition.
func (d *Director) updateQuorum(vs *VirtualServer, now time.Time) (quorumChange, bool) {
	w := WeightUp(vs, d.st.in)
	q := d.st.quorum[vs.Name]
	if q == nil {
		q = &quorumInfo{since: now}
		d.st.quorum[vs.Name] = q
	}
	q.weightUp = w
	was, known := d.st.in.QuorumUp[vs.Name]
	up := w >= uint64(vs.Quorum)
	if known {
		up = QuorumAfter(vs, w, was)
	}
	d.st.in.QuorumUp[vs.Name] = up
	if !known || up == was {
		return quorumChange{}, false
	}
	q.since = now
	return quorumChange{vs: vs, up: up, weightUp: w}, true
}

// quorumChanged logs a quorum transition, runs its hook and tells the
// subsystems (VRRP's track_virtual_server).
func (d *Director) quorumChanged(c quorumChange) {
	vs := c.vs
	f := logrus.Fields{"vs": vs.Name, "weight_up": c.weightUp, "quorum": vs.Quorum, "hysteresis": vs.Hysteresis}
	event, h := "quorum_down", vs.NotifyQuorumDown
	if c.up {
		event, h = "quorum_up", vs.NotifyQuorumUp
	}
	if vs.SorryServer != nil {
		f["sorry_server"] = netip.AddrPortFrom(vs.SorryServer.Addr, vs.SorryServer.Port).String()
	}
	if c.up {
		d.log.WithFields(f).Info("virtual server up: quorum reached")
	} else {
		d.log.WithFields(f).Warn("virtual server down: below quorum")
	}
	if h != nil {
		env := append(hookEnv(d.st.cfg, vs, nil, event),
			"LVSD_WEIGHT_UP="+strconv.FormatUint(c.weightUp, 10),
			"LVSD_QUORUM="+strconv.FormatUint(uint64(vs.Quorum), 10))
		d.st.hooks.enqueue("vs "+vs.Name, hookJob{event: event, cmd: hookCommand(h, env), log: d.log.WithField("vs", vs.Name)})
	}
	for _, s := range d.subsystems {
		s.quorumChanged(vs.Name, c.up, c.weightUp)
	}
}

// rsChange is a real server's change of health.
type rsChange struct {
	ref    rsRef
	before Health
	after  Health
	v      checkers.Verdict
}

// onVerdicts applies a batch of check verdicts: the changed real servers'
// virtual servers are recomputed and written at once, then the
// transitions are logged and their hooks queued.
func (d *Director) onVerdicts(ctx context.Context, batch []checkers.Verdict) {
	now := d.clock.Now()
	var (
		changes []rsChange
		names   []string
		first   time.Time
	)
	for _, v := range batch {
		ref, ok := d.st.rsByID[v.Owner]
		info := d.st.rsInfo[v.Owner]
		if !ok || info == nil || v.Seq <= info.seq {
			continue // a real server a reload removed, or news already taken
		}
		info.seq = v.Seq
		h := verdictHealth(v)
		before := d.st.in.Health[v.Owner]
		if h == before {
			continue
		}
		d.st.in.Health[v.Owner] = h
		info.reason, info.check, info.since = v.Reason, v.Check, now
		info.transitions++
		changes = append(changes, rsChange{ref: ref, before: before, after: h, v: v})
		if !slices.Contains(names, ref.vs.Name) {
			names = append(names, ref.vs.Name)
		}
		if first.IsZero() || v.Time.Before(first) {
			first = v.Time
		}
	}
	if len(changes) == 0 {
		return
	}
	rep, qc := d.syncServices(ctx, names)
	end := d.clock.Now()
	t := eventTiming{total: end.Sub(first), queued: now.Sub(first), write: end.Sub(now)}
	d.st.sync.LastEventDelay = t.total
	d.obs.VerdictApplied(t.total)
	for _, c := range changes {
		d.logTransition(c, rep, t)
	}
	for _, c := range qc {
		d.quorumChanged(c)
	}
}

// eventTiming is how long an event took to reach the kernel: in total
// from the verdict, waiting for the loop, and computing and writing.
type eventTiming struct {
	total, queued, write time.Duration
}

// logTransition logs one real server's change of health and queues its
// hook.
func (d *Director) logTransition(c rsChange, rep ipvs.Report, t eventTiming) {
	vs, rs := c.ref.vs, c.ref.rs
	w, in := Placement(rs, c.after, d.st.in.Overrides[rs.ID], SorryActive(vs, d.st.in))
	f := logrus.Fields{"vs": vs.Name, "rs": rs.ID, "reason": c.v.Reason, "writes": rep.Writes}
	if t.total > 0 {
		// From the verdict to the end of its kernel write, and its parts.
		f["delay"] = t.total.Round(time.Microsecond).String()
		f["queued"] = t.queued.Round(time.Microsecond).String()
		f["write"] = t.write.Round(time.Microsecond).String()
	}
	if c.v.Check != "" {
		f["check"] = c.v.Check
	}
	if in {
		f["weight"] = w
	} else {
		f["action"] = "drained and removed"
		if vs.DrainTimeout == 0 {
			f["action"] = "removed"
		}
	}
	l := d.log.WithFields(f)
	switch {
	case c.after.Up && !c.before.Up:
		l.Info("real server up")
		d.rsHook(vs, rs, "up", rs.NotifyUp, c.v.Reason)
	case !c.after.Up && c.before.Up:
		if in && w == 0 {
			f["action"] = "weight 0 (inhibit_on_failure)"
		}
		d.log.WithFields(f).Warn("real server down")
		d.rsHook(vs, rs, "down", rs.NotifyDown, c.v.Reason)
	default:
		l.Info("real server weight changed")
	}
}

func (d *Director) rsHook(vs *VirtualServer, rs *RealServer, event string, h *Hook, reason string) {
	if h == nil {
		return
	}
	env := append(hookEnv(d.st.cfg, vs, rs, event), "LVSD_REASON="+reason)
	d.st.hooks.enqueue("rs "+rs.ID, hookJob{event: event, cmd: hookCommand(h, env), log: d.log.WithFields(logrus.Fields{"vs": vs.Name, "rs": rs.ID})})
}

package director

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/hashicorp/hcl/v2"
	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/checkers"
	"github.com/lvsd/lvsd/ipvs"
)

// The event loop (Director.loop) is the only goroutine that touches the
// Director's state. Check verdicts arrive on their own channel (they come
// in bursts and are batched); everything else is an event.
//
// Adding a source of events (VRRP instance transitions, a control API
// command) is one type implementing event plus a goroutine, owned by the
// ctx Run passes down, that calls d.submit. handle runs on the loop with
// exclusive access to d.st. To change the kernel table it updates d.st.in
// (or the configuration) and calls d.syncServices with the virtual servers
// it touched (the fast path: no dump) or d.fullSync; then d.publish if
// callers expect the status to show the change at once.
type event interface {
	handle(ctx context.Context, d *Director)
}

// ErrStopped is returned by calls made after Run has stopped.
var ErrStopped = errors.New("director stopped")

// submit hands e to the loop.
func (d *Director) submit(ctx context.Context, e event) error {
	select {
	case d.events <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.quit:
		return ErrStopped
	}
}

// call hands e to the loop and waits for its reply.
func call[T any](ctx context.Context, d *Director, e event, reply <-chan T) (T, error) {
	var zero T
	if err := d.submit(ctx, e); err != nil {
		return zero, err
	}
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-d.quit:
		return zero, ErrStopped
	}
}

// subsystem is a part of the daemon that lives in the event loop next to
// the IPVS table. VRRP (director/vrrp*.go) is one: its instances run their
// own goroutines (sockets, timers) and send their transitions to the loop
// as events; the loop tells it about quorum transitions
// (track_virtual_server) and reloads. The IPVS table is
// programmed whatever the VRRP state (warm standby), so nothing here
// depends on being master. Every method runs on the loop goroutine.
type subsystem interface {
	// start runs once, after the first sync and before Ready.
	start(ctx context.Context, d *Director) error
	// prepare checks a new configuration before a reload commits to it:
	// an error refuses the reload (nothing changes anywhere); otherwise
	// either commit is called once the reload is committed, or abort when
	// it is refused after all (what prepare built is released).
	prepare(ctx context.Context, cfg *Config) (commit, abort func(), err error)
	// quorumChanged tells of a virtual server's quorum transition.
	quorumChanged(vs string, up bool, weightUp uint64)
	// stop runs once when Run ends, before remove_on_stop.
	stop()
}

// ReloadResult says what a reload did.
type ReloadResult struct {
	// Config is the configuration in force after the call (the old one
	// when the reload was refused).
	Config *Config
	// Hash is Config's hash; Changed is false when the new configuration
	// hashed equal to the old one.
	Hash    string
	Changed bool
	// Ops and Writes are the kernel changes the reload made.
	Ops    []ipvs.Op
	Writes uint64
	// Diagnostics are the load's: warnings of an applied configuration,
	// errors of a refused one.
	Diagnostics hcl.Diagnostics
}

// ConfigError is a reload refused because the configuration does not
// load; nothing changed.
type ConfigError struct {
	Diagnostics hcl.Diagnostics
}

func (e *ConfigError) Error() string {
	n := len(e.Diagnostics.Errs())
	if n == 1 {
		return "invalid configuration: " + diagLine(e.Diagnostics.Errs()[0].(*hcl.Diagnostic))
	}
	return fmt.Sprintf("invalid configuration: %d errors, the first: %s", n, diagLine(e.Diagnostics.Errs()[0].(*hcl.Diagnostic)))
}

func diagLine(d *hcl.Diagnostic) string {
	s := d.Summary
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	if d.Subject != nil {
		s = d.Subject.String() + ": " + s
	}
	return s
}

// Reload reads the configuration again with Options.Load and applies it
// as Apply does. A configuration that does not load is refused: nothing
// changes, its diagnostics are logged (one line each) and returned in a
// *ConfigError, and Status.Reload records the failure.
func (d *Director) Reload(ctx context.Context) (ReloadResult, error) {
	if d.load == nil {
		return ReloadResult{}, errors.New("reload: the director has no way to read its configuration")
	}
	cfg, diags := d.load()
	if diags.HasErrors() {
		err := &ConfigError{Diagnostics: diags}
		d.logDiagnostics(diags, true)
		reply := make(chan struct{}, 1)
		if _, cerr := call(ctx, d, reloadFailedEvent{err: err, reply: reply}, reply); cerr != nil {
			return ReloadResult{Diagnostics: diags}, cerr
		}
		return ReloadResult{Diagnostics: diags}, err
	}
	d.logDiagnostics(diags, false)
	res, err := d.Apply(ctx, cfg)
	res.Diagnostics = diags
	return res, err
}

// logDiagnostics logs one line per diagnostic.
func (d *Director) logDiagnostics(diags hcl.Diagnostics, refused bool) {
	for _, diag := range diags {
		f := logrus.Fields{"summary": diag.Summary, "detail": diag.Detail}
		if diag.Subject != nil {
			f["at"] = diag.Subject.String()
		}
		if diag.Severity == hcl.DiagError {
			d.log.WithFields(f).Error("configuration error")
		} else {
			d.log.WithFields(f).Warn("configuration warning")
		}
	}
	if refused {
		d.log.WithField("errors", len(diags.Errs())).Error("reload refused: the configuration is invalid; nothing changed")
	}
}

// Apply makes cfg (valid, as LoadConfig returns it) the configuration in
// force: checks whose definition did not change keep their state, new ones
// start, removed ones stop; the kernel gets the difference (one changed
// real server is one write). If the checks cannot start (e.g. an exec
// check's user does not exist), nothing changes and the error is returned.
func (d *Director) Apply(ctx context.Context, cfg *Config) (ReloadResult, error) {
	type result struct {
		res ReloadResult
		err error
	}
	reply := make(chan result, 1)
	r, err := call(ctx, d, eventFunc(func(ctx context.Context, d *Director) {
		res, err := d.applyConfig(ctx, cfg)
		reply <- result{res, err}
	}), reply)
	if err != nil {
		return ReloadResult{}, err
	}
	return r.res, r.err
}

// eventFunc is an event given as a function.
type eventFunc func(ctx context.Context, d *Director)

func (f eventFunc) handle(ctx context.Context, d *Director) { f(ctx, d) }

type reloadFailedEvent struct {
	err   error
	reply chan struct{}
}

func (e reloadFailedEvent) handle(_ context.Context, d *Director) {
	r := &d.st.reload
	r.Reloads++
	r.Failures++
	r.Last, r.OK, r.Error, r.Ops, r.Writes = d.clock.Now(), false, e.err.Error(), 0, 0
	d.publish()
	e.reply <- struct{}{}
}

// applyConfig is Apply on the loop.
func (d *Director) applyConfig(ctx context.Context, cfg *Config) (ReloadResult, error) {
	now := d.clock.Now()
	r := &d.st.reload
	r.Reloads++
	r.Last = now
	refuse := func(err error) (ReloadResult, error) {
		r.Failures++
		r.OK, r.Error, r.Ops, r.Writes = false, err.Error(), 0, 0
		d.log.WithError(err).Error("reload refused; nothing changed")
		d.publish()
		return ReloadResult{Config: d.st.cfg, Hash: d.st.hash}, err
	}
	regs, err := registrations(cfg, nil)
	if err != nil {
		return refuse(err)
	}
	if d.noIPVS && cfg.NeedsIPVS() {
		return refuse(errNoIPVS)
	}
	var commits, aborts []func()
	abort := func() {
		for _, a := range aborts {
			a()
		}
	}
	for _, s := range d.subsystems {
		c, a, err := s.prepare(ctx, cfg)
		if err != nil {
			abort()
			return refuse(err)
		}
		commits, aborts = append(commits, c), append(aborts, a)
	}
	if err := d.runner.Update(regs); err != nil {
		abort()
		return refuse(fmt.Errorf("health checks: %w", err))
	}

	// Committed from here on.
	oldHash := d.st.hash
	d.setConfig(cfg)
	health := make(map[string]Health, len(d.st.rsByID))
	infos := make(map[string]*rsInfo, len(d.st.rsByID))
	var changes []rsChange
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			info := d.st.rsInfo[rs.ID]
			before, had := d.st.in.Health[rs.ID]
			if info == nil || !had {
				info, had = &rsInfo{since: now}, false
			}
			h, v := Health{Up: true}, checkersVerdict(rs.ID, "no checks")
			if checked(rs) {
				if sv, ok := d.runner.State(rs.ID); ok {
					v = sv
					h = verdictHealth(v)
					info.seq = max(info.seq, v.Seq)
				}
			}
			health[rs.ID], infos[rs.ID] = h, info
			switch {
			case !had:
				info.reason, info.check = v.Reason, v.Check
			case h != before:
				info.reason, info.check, info.since = v.Reason, v.Check, now
				info.transitions++
				changes = append(changes, rsChange{ref: rsRef{vs, rs}, before: before, after: h, v: v})
			}
		}
	}
	d.st.in.Health, d.st.rsInfo = health, infos
	for name := range d.st.in.QuorumUp {
		if d.st.vsByID[name] == nil {
			delete(d.st.in.QuorumUp, name)
			delete(d.st.quorum, name)
		}
	}
	var qcs []quorumChange
	for _, vs := range cfg.VirtualServers {
		if c, ok := d.updateQuorum(vs, now); ok {
			qcs = append(qcs, c)
		}
	}
	d.st.desired = Desired(cfg, d.st.in)
	start := d.clock.Now()
	rep, serr := d.rec.Sync(ctx, d.st.desired)
	if serr != nil {
		d.obs.FullSync(d.clock.Since(start), serr)
		d.st.sync.LastError = serr.Error()
		d.st.resync.Reset(retryInterval(cfg.IPVS.ResyncInterval))
		d.log.WithError(serr).Error("the new configuration is in force, but the IPVS sync failed; retrying soon")
	} else {
		d.afterFullSync(rep, start)
	}
	d.syncExtras("reload")
	for _, c := range changes {
		d.logTransition(c, rep, eventTiming{})
	}
	for _, c := range qcs {
		d.quorumChanged(c)
	}
	for _, c := range commits {
		c()
	}
	r.OK, r.Error, r.Ops, r.Writes = true, "", len(rep.Ops), rep.Writes
	res := ReloadResult{Config: cfg, Hash: d.st.hash, Changed: d.st.hash != oldHash, Ops: rep.Ops, Writes: rep.Writes}
	d.log.WithFields(logrus.Fields{
		"config": d.st.hash[:12], "changed": res.Changed, "ops": len(rep.Ops), "writes": rep.Writes,
		"failed": len(rep.Failed), "virtual_servers": len(cfg.VirtualServers), "real_servers": cfg.RealServerCount(),
		"checks": len(d.runner.Status()),
	}).Info("configuration reloaded")
	d.publish()
	return res, serr
}

// SetOverride sets an operator override on the real server id
// ("vs/name"), or clears it with OverrideNone. It is applied at once (the
// fast path: no dump) and survives reloads until cleared. Setting one on a
// real server the configuration does not have is an error; clearing one
// is not.
func (d *Director) SetOverride(ctx context.Context, id string, o Override) error {
	if _, err := ParseOverride(string(o)); err != nil {
		return err
	}
	reply := make(chan error, 1)
	err, cerr := call(ctx, d, eventFunc(func(ctx context.Context, d *Director) {
		reply <- d.setOverride(ctx, id, o)
	}), reply)
	if cerr != nil {
		return cerr
	}
	return err
}

func (d *Director) setOverride(ctx context.Context, id string, o Override) error {
	ref, known := d.st.rsByID[id]
	if !known && o != OverrideNone {
		return fmt.Errorf("no real server %q in the configuration", id)
	}
	was := d.st.in.Overrides[id]
	if was == o {
		return nil
	}
	over, since := maps.Clone(d.st.in.Overrides), maps.Clone(d.st.overrideSince)
	if o == OverrideNone {
		delete(over, id)
		delete(since, id)
	} else {
		over[id], since[id] = o, d.clock.Now()
	}
	// Saved first: an override the next run would not know is refused
	// rather than applied for this run only.
	if d.overridesFile != "" {
		if err := writeOverrides(d.overridesFile, over, since); err != nil {
			d.log.WithError(err).WithFields(logrus.Fields{"rs": id, "override": o.String()}).Error("operator override refused: cannot save it")
			return fmt.Errorf("override not applied: %w", err)
		}
	}
	d.st.in.Overrides, d.st.overrideSince = over, since
	f := logrus.Fields{"rs": id, "override": o.String(), "was": was.String()}
	if known {
		rep, qcs := d.syncServices(ctx, []string{ref.vs.Name})
		f["vs"], f["writes"] = ref.vs.Name, rep.Writes
		d.log.WithFields(f).Info("operator override")
		for _, c := range qcs {
			d.quorumChanged(c)
		}
	} else {
		d.log.WithFields(f).Info("operator override cleared (the real server is not configured)")
	}
	d.publish()
	return nil
}

// Resync runs a full sync now (dump, repair drift, apply) and returns its
// error, if any.
func (d *Director) Resync(ctx context.Context) error {
	reply := make(chan error, 1)
	err, cerr := call(ctx, d, eventFunc(func(ctx context.Context, d *Director) {
		d.fullSync(ctx, "requested")
		d.publish()
		if e := d.st.sync.LastError; e != "" {
			reply <- errors.New(e)
			return
		}
		reply <- nil
	}), reply)
	if cerr != nil {
		return cerr
	}
	return err
}

// checkersVerdict is the verdict of a real server without checks.
func checkersVerdict(owner, reason string) checkers.Verdict {
	return checkers.Verdict{Owner: owner, Up: true, Weight: -1, Reason: reason}
}

package ipvs

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/internal/ratelog"
)

// Clock is where the Reconciler reads the time (drain deadlines). Tests
// pass one they drive.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// ReconcilerOptions configure a Reconciler. The zero value works: the
// system clock, ownership kept in memory only, no logging.
type ReconcilerOptions struct {
	Clock Clock
	// StateFile, if set, is where the Reconciler keeps the keys of the
	// services it owns, so that a restarted lvsd still deletes a service
	// that left the configuration while lvsd was down. Without it, such a
	// service stays in the kernel and is treated as foreign.
	StateFile string
	Log       logrus.FieldLogger
}

// Reconciler keeps the kernel's IPVS table equal to a desired Table. It
// holds what a pure Diff cannot: which services lvsd owns, which real
// servers are draining and since when, and what lvsd believes the kernel
// holds (to tell its own changes from drift). Its methods are safe for
// concurrent use; Syncs run one at a time.
type Reconciler struct {
	mu        sync.Mutex
	b         Backend
	clock     Clock
	stateFile string
	log       logrus.FieldLogger

	owned     map[ServiceKey]bool
	last      map[ServiceKey]Service // last desired settings of owned services
	drains    map[ServiceKey]map[netip.AddrPort]time.Time
	svcDrains map[ServiceKey]time.Time
	model     *Table // the owned part of the kernel as lvsd left it; nil before the first Sync
	draining  []Drain
}

// Drain is a real server kept at weight 0 so its established connections
// can finish before it is deleted.
type Drain struct {
	Service  ServiceKey
	Addr     netip.AddrPort
	Since    time.Time
	Deadline time.Time
	// ActiveConns and InactiveConns are the counts the last dump read; the
	// server is deleted once both are 0 or at Deadline.
	ActiveConns   uint32
	InactiveConns uint32
	// ServiceRemoved is set when the whole service left the desired table:
	// the service is deleted when all of its real servers are done.
	ServiceRemoved bool
}

// Report says what one Sync did.
type Report struct {
	// Ops are the operations Sync applied, in order (failed ones included).
	Ops []Op
	// Failed are the operations the kernel refused; the next Sync retries
	// whatever is still needed.
	Failed []*OpError
	// Writes is the number of netlink writes the backend made.
	Writes uint64
	// Drift are the operations among Ops that lvsd did not expect: the
	// kernel had changed behind its back (a service deleted by hand, a
	// weight edited with ipvsadm, a write that had failed). Empty on the
	// first Sync of a Reconciler, which has nothing to compare with.
	Drift []Op
	// Draining lists the real servers kept at weight 0 after this Sync.
	Draining []Drain
	// Owned is the number of services lvsd owns after this Sync.
	Owned int
	// Cached is set on a report of SyncCached that did not dump the
	// kernel (Drift is then always empty).
	Cached bool
}

// NextDeadline is the earliest drain deadline in r, or the zero time when
// nothing drains: the caller should Sync again by then.
func (r Report) NextDeadline() time.Time {
	var t time.Time
	for _, d := range r.Draining {
		if t.IsZero() || d.Deadline.Before(t) {
			t = d.Deadline
		}
	}
	return t
}

// NewReconciler returns a Reconciler that programs b. If opts.StateFile
// names a file, the services listed there are owned from the start.
func NewReconciler(b Backend, opts ReconcilerOptions) (*Reconciler, error) {
	r := &Reconciler{
		b:         b,
		clock:     opts.Clock,
		stateFile: opts.StateFile,
		log:       opts.Log,
		owned:     map[ServiceKey]bool{},
		last:      map[ServiceKey]Service{},
		drains:    map[ServiceKey]map[netip.AddrPort]time.Time{},
		svcDrains: map[ServiceKey]time.Time{},
	}
	if r.clock == nil {
		r.clock = systemClock{}
	}
	if r.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		r.log = l
	}
	r.log = r.log.WithField("component", "ipvs")
	if r.stateFile != "" {
		keys, err := readOwned(r.stateFile)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			r.owned[k] = true
		}
	}
	return r, nil
}

// Owned lists the keys of the services lvsd owns, in order.
func (r *Reconciler) Owned() []ServiceKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sortedKeys(r.owned)
}

// Draining lists the real servers draining after the last Sync.
func (r *Reconciler) Draining() []Drain {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.draining)
}

// Sync makes the kernel match desired: it dumps the kernel once, works out
// the effective desired table (desired plus the real servers still
// draining at weight 0), diffs it against the dump over the services lvsd
// owns, and applies the operations. An invalid desired table, or a dump
// that fails, changes nothing and returns an error; operations the kernel
// refuses are in the Report, and the next Sync retries them.
func (r *Reconciler) Sync(ctx context.Context, desired Table) (Report, error) {
	if err := desired.Validate(); err != nil {
		return Report{}, fmt.Errorf("desired IPVS table is invalid, nothing changed: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.syncLocked(ctx, desired)
}

func (r *Reconciler) syncLocked(ctx context.Context, desired Table) (Report, error) {
	actual, err := r.b.Dump(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("dump the IPVS table: %w", err)
	}
	now := r.clock.Now()
	eff := r.effective(desired, actual, now)

	var retired []ServiceKey
	for k := range r.owned {
		if !eff.Has(k) {
			retired = append(retired, k)
		}
	}
	ops := Diff(eff, actual, retired...)
	drift := r.drift(eff, ops)

	r.own(eff)
	// The model of the kernel is the dump (ours to keep) with the ops
	// that succeeded applied.
	model := Table{svcs: make(map[ServiceKey]*entry, len(r.owned))}
	for k, e := range actual.svcs {
		if r.owned[k] {
			model.svcs[k] = e
		}
	}
	r.model = &model
	failed, writes := r.apply(ctx, &model, ops, retired, desired.svcs)

	r.logSync(ops, failed, drift)
	return Report{
		Ops:      ops,
		Failed:   failed,
		Writes:   writes,
		Drift:    drift,
		Draining: slices.Clone(r.draining),
		Owned:    len(r.owned),
	}, nil
}

// drift returns the ops lvsd would not have needed had the kernel been as
// lvsd left it: ops minus the diff of eff against the model. Only the
// services that ops touch are diffed again.
func (r *Reconciler) drift(eff Table, ops []Op) []Op {
	if r.model == nil || len(ops) == 0 {
		return nil
	}
	expected := map[Op]bool{}
	seen := map[ServiceKey]bool{}
	for _, op := range ops {
		k := op.Service.ServiceKey
		if seen[k] {
			continue
		}
		seen[k] = true
		want, have := eff.svcs[k], r.model.svcs[k]
		switch {
		case want != nil:
			for _, e := range diffService(k, want, have) {
				expected[e] = true
			}
		case have != nil: // retired, and lvsd left it in the kernel
			expected[Op{Kind: DeleteService, Service: Service{ServiceKey: k}}] = true
		}
	}
	var drift []Op
	for _, op := range ops {
		if !expected[op] {
			drift = append(drift, op)
		}
	}
	return drift
}

// effective returns desired plus what must stay in the kernel a while
// longer: real servers removed from desired that still have connections
// (at weight 0, until they have none or their drain timeout passes), and
// whole services removed from desired, likewise. It updates the drain
// state.
func (r *Reconciler) effective(desired, actual Table, now time.Time) Table {
	// eff shares desired's entries; an entry is copied before it changes.
	eff := Table{svcs: maps.Clone(desired.svcs)}
	if eff.svcs == nil {
		eff.svcs = map[ServiceKey]*entry{}
	}
	st := newDrainState()
	for k, have := range actual.svcs {
		want, inDesired := desired.svcs[k]
		if !inDesired && !r.owned[k] {
			continue // foreign
		}
		if e := r.drainService(k, want, have, now, true, st); e != nil {
			eff.svcs[k] = e
		}
	}
	st.sort()
	r.drains, r.svcDrains, r.draining = st.drains, st.svcDrains, st.list
	return eff
}

// drainState collects the drains one sync decides on.
type drainState struct {
	drains    map[ServiceKey]map[netip.AddrPort]time.Time
	svcDrains map[ServiceKey]time.Time
	list      []Drain
}

func newDrainState() *drainState {
	return &drainState{drains: map[ServiceKey]map[netip.AddrPort]time.Time{}, svcDrains: map[ServiceKey]time.Time{}}
}

func (st *drainState) sort() {
	slices.SortFunc(st.list, func(a, b Drain) int {
		if c := a.Service.Compare(b.Service); c != 0 {
			return c
		}
		return a.Addr.Compare(b.Addr)
	})
}

// drainService decides what lvsd wants in the kernel for the owned
// service k: want (nil when k left the desired table) plus whatever of
// have, the kernel's entry (nil when absent), stays at weight 0 to drain.
// It returns nil when the service is to be deleted. connsKnown says whether
// have's connection counts are fresh (a dump): without them a real server
// drains until its deadline, as it cannot be seen to be idle. Both Sync and
// SyncCached decide here, so their drain rules cannot drift apart.
func (r *Reconciler) drainService(k ServiceKey, want, have *entry, now time.Time, connsKnown bool, st *drainState) *entry {
	if have == nil || len(have.dests) == 0 {
		return want
	}
	idle := func(d Destination) bool {
		return connsKnown && d.Stats.ActiveConns+d.Stats.InactiveConns == 0
	}
	drain := func(a netip.AddrPort, since time.Time, timeout time.Duration, removed bool) Destination {
		hd := have.dests[a]
		st.list = append(st.list, Drain{Service: k, Addr: a, Since: since, Deadline: since.Add(timeout),
			ActiveConns: hd.Stats.ActiveConns, InactiveConns: hd.Stats.InactiveConns, ServiceRemoved: removed})
		d := kernelDest(hd)
		d.Weight = 0
		return d
	}
	if want != nil {
		timeout := want.svc.DrainTimeout
		if timeout <= 0 {
			return want
		}
		eff := want
		for _, a := range have.sortedAddrs() {
			if _, ok := want.dests[a]; ok {
				continue
			}
			since, ok := r.drains[k][a]
			if !ok {
				since = now
			}
			if idle(have.dests[a]) || !now.Before(since.Add(timeout)) {
				continue // done: Diff deletes it
			}
			if eff == want {
				eff = want.clone()
			}
			eff.dests[a] = drain(a, since, timeout, false)
			if st.drains[k] == nil {
				st.drains[k] = map[netip.AddrPort]time.Time{}
			}
			st.drains[k][a] = since
		}
		return eff
	}
	// An owned service that left desired drains as a whole.
	timeout := r.last[k].DrainTimeout
	if timeout <= 0 {
		return nil
	}
	since, ok := r.svcDrains[k]
	if !ok {
		since = now
	}
	busy := false
	for _, d := range have.dests {
		busy = busy || !idle(d)
	}
	if !busy || !now.Before(since.Add(timeout)) {
		return nil // done: Diff deletes the service
	}
	e := &entry{svc: have.svc, dests: make(map[netip.AddrPort]Destination, len(have.dests))}
	e.svc.DrainTimeout = timeout
	for _, a := range have.sortedAddrs() {
		e.dests[a] = drain(a, since, timeout, true)
	}
	st.svcDrains[k] = since
	return e
}

// own records every service of eff as lvsd's before any of them is
// created, so a crash between the two never leaves an unowned service
// behind.
func (r *Reconciler) own(eff Table) {
	grew := false
	for k := range eff.svcs {
		if !r.owned[k] {
			r.owned[k] = true
			grew = true
		}
	}
	if grew {
		r.saveOwned()
	}
}

// apply applies ops, records those that succeeded in model, gives up the
// retired services now gone, and remembers desired's settings (their
// drain timeouts outlive their removal from the configuration).
func (r *Reconciler) apply(ctx context.Context, model *Table, ops []Op, retired []ServiceKey, desired map[ServiceKey]*entry) ([]*OpError, uint64) {
	w0 := r.b.Writes()
	var failed []*OpError
	if len(ops) > 0 {
		failed = r.b.Apply(ctx, ops)
	}
	writes := r.b.Writes() - w0
	bad := make(map[Op]bool, len(failed))
	for _, e := range failed {
		bad[e.Op] = true
	}
	for _, op := range ops {
		if !bad[op] {
			_ = model.Apply(op) // ops came from a diff against model's contents; they apply
		}
	}
	shrank := false
	for _, k := range retired {
		if !model.Has(k) {
			delete(r.owned, k)
			delete(r.last, k)
			shrank = true
		}
	}
	for k, e := range desired {
		r.last[k] = e.svc
	}
	if shrank {
		r.saveOwned()
	}
	return failed, writes
}

func (r *Reconciler) saveOwned() {
	if r.stateFile == "" {
		return
	}
	if err := writeOwned(r.stateFile, sortedKeys(r.owned)); err != nil {
		// Syncing goes on: the kernel matters more than the file. The
		// cost is a service that may be left behind after a restart.
		ratelog.Warn(r.log.WithError(err).WithField("file", r.stateFile), "cannot save which IPVS services lvsd owns")
	}
}

func (r *Reconciler) logSync(ops []Op, failed []*OpError, drift []Op) {
	r.logOps(ops, failed, drift)
	if len(ops) > 0 {
		r.log.WithFields(logrus.Fields{"ops": len(ops), "failed": len(failed), "drift": len(drift)}).Info("IPVS table synced")
	}
}

// logOps logs each drift repair and each failure (a warning each, up to a
// limit) and each op at debug level.
func (r *Reconciler) logOps(ops []Op, failed []*OpError, drift []Op) {
	const maxLines = 20
	for i, op := range drift {
		if i == maxLines {
			r.log.WithField("more", len(drift)-i).Warn("more IPVS drift repaired")
			break
		}
		r.log.WithField("op", op.String()).Warn("IPVS table drifted from what lvsd programmed; repairing")
	}
	for i, e := range failed {
		if i == maxLines {
			ratelog.Warn(r.log.WithField("more", len(failed)-i), "more IPVS operations failed")
			break
		}
		// A write the kernel refuses is refused again on every sync:
		// one line, then a count.
		ratelog.Warn(r.log.WithError(e.Err).WithField("op", e.Op.String()), "IPVS operation failed; the next sync retries")
	}
	for _, op := range ops {
		r.log.WithField("op", op.String()).Debug("IPVS operation")
	}
}

func sortedKeys(m map[ServiceKey]bool) []ServiceKey {
	ks := make([]ServiceKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, ServiceKey.Compare)
	return ks
}

package ipvs

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/sirupsen/logrus"
)

// SyncCached is Sync without the dump, for events that must reach the
// kernel at once (a real server failing its checks): it diffs desired
// against the Reconciler's model of the kernel (its last dump with its own
// successful writes since applied) and applies the difference, so it costs
// the writes alone.
//
// Only the services in keys are compared and changed; with no keys, every
// service of desired and every owned one. A key absent from desired that
// lvsd owns is retired, as in Sync.
//
// What the model cannot know, SyncCached leaves to the next Sync:
//   - drift: a change made behind lvsd's back is neither seen nor
//     repaired;
//   - connection counts: a real server removed here always drains (weight
//     0) when its service has a drain timeout, even if it has no
//     connections; the next Sync deletes it once it sees none, and
//     SyncCached itself deletes it when its drain timeout has passed.
//
// Before the first Sync there is no model, and SyncCached is a Sync. An
// operation the kernel refuses means the model was wrong (the kernel
// changed behind lvsd's back): the caller should Sync soon.
func (r *Reconciler) SyncCached(ctx context.Context, desired Table, keys ...ServiceKey) (Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.model == nil {
		if err := desired.Validate(); err != nil {
			return Report{}, fmt.Errorf("desired IPVS table is invalid, nothing changed: %w", err)
		}
		return r.syncLocked(ctx, desired)
	}

	scope := slices.Clone(keys)
	if len(scope) == 0 {
		for k := range desired.svcs {
			scope = append(scope, k)
		}
		for k := range r.owned {
			scope = append(scope, k)
		}
	}
	slices.SortFunc(scope, ServiceKey.Compare)
	scope = slices.Compact(scope)
	inScope := make(map[ServiceKey]bool, len(scope))
	for _, k := range scope {
		inScope[k] = true
	}

	sub := Table{svcs: make(map[ServiceKey]*entry, len(scope))}
	for _, k := range scope {
		if e := desired.svcs[k]; e != nil {
			sub.svcs[k] = e
		}
	}
	if err := sub.Validate(); err != nil {
		return Report{}, fmt.Errorf("desired IPVS table is invalid, nothing changed: %w", err)
	}

	now := r.clock.Now()
	eff := Table{svcs: make(map[ServiceKey]*entry, len(sub.svcs))}
	have := Table{svcs: make(map[ServiceKey]*entry, len(scope))}
	st := newDrainState()
	var retired []ServiceKey
	for _, k := range scope {
		want, cur := desired.svcs[k], r.model.svcs[k]
		if cur != nil {
			have.svcs[k] = cur
		}
		if want == nil && !r.owned[k] {
			continue // neither desired nor ours
		}
		if e := r.drainService(k, want, cur, now, false, st); e != nil {
			eff.svcs[k] = e
		} else {
			retired = append(retired, k)
		}
	}
	// The drains of services out of scope stand as the last sync left them.
	for _, k := range scope {
		delete(r.drains, k)
		delete(r.svcDrains, k)
	}
	maps.Copy(r.drains, st.drains)
	maps.Copy(r.svcDrains, st.svcDrains)
	st.list = append(st.list, slices.DeleteFunc(slices.Clone(r.draining), func(d Drain) bool { return inScope[d.Service] })...)
	st.sort()
	r.draining = st.list

	ops := Diff(eff, have, retired...)
	r.own(eff)
	failed, writes := r.apply(ctx, r.model, ops, retired, sub.svcs)

	r.logOps(ops, failed, nil)
	if len(ops) > 0 {
		r.log.WithFields(logrus.Fields{"ops": len(ops), "failed": len(failed)}).Debug("IPVS table synced from the cached model")
	}
	return Report{
		Ops:      ops,
		Failed:   failed,
		Writes:   writes,
		Draining: slices.Clone(r.draining),
		Owned:    len(r.owned),
		Cached:   true,
	}, nil
}

// RemoveOwned deletes every service lvsd owns that is in the kernel, at
// once and without draining (for a daemon told to clean up when it stops),
// and gives up their ownership. Foreign services are not touched.
func (r *Reconciler) RemoveOwned(ctx context.Context) (Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	actual, err := r.b.Dump(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("dump the IPVS table: %w", err)
	}
	var ops []Op
	for _, k := range sortedKeys(r.owned) {
		if actual.Has(k) {
			ops = append(ops, Op{Kind: DeleteService, Service: Service{ServiceKey: k}})
		}
	}
	w0 := r.b.Writes()
	var failed []*OpError
	if len(ops) > 0 {
		failed = r.b.Apply(ctx, ops)
	}
	writes := r.b.Writes() - w0
	bad := make(map[ServiceKey]bool, len(failed))
	for _, e := range failed {
		bad[e.Op.Service.ServiceKey] = true
	}
	for k := range r.owned {
		if !bad[k] {
			delete(r.owned, k)
			delete(r.last, k)
		}
	}
	r.saveOwned()
	r.model = nil
	st := newDrainState()
	r.drains, r.svcDrains, r.draining = st.drains, st.svcDrains, nil
	r.logOps(ops, failed, nil)
	return Report{Ops: ops, Failed: failed, Writes: writes, Owned: len(r.owned)}, nil
}

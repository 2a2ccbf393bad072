package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

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
	eff := sub // entries are desired's until copied
	eff.svcs = make(map[ServiceKey]*entry, len(sub.svcs))
	have := Table{svcs: make(map[ServiceKey]*entry, len(scope))}
	var (
		retired []ServiceKey
		list    []Drain
	)
	for _, k := range scope {
		want, cur := desired.svcs[k], r.model.svcs[k]
		if cur != nil {
			have.svcs[k] = cur
		}
		oldDrains := r.drains[k]
		oldSince, svcDraining := r.svcDrains[k]
		delete(r.drains, k)
		delete(r.svcDrains, k)
		switch {
		case want != nil:
			eff.svcs[k] = want
			timeout := want.svc.DrainTimeout
			if cur == nil || timeout <= 0 {
				continue
			}
			copied := false
			for _, a := range cur.sortedAddrs() {
				if _, ok := want.dests[a]; ok {
					continue
				}
				since, ok := oldDrains[a]
				if !ok {
					since = now
				}
				if !now.Before(since.Add(timeout)) {
					continue // timed out: Diff deletes it
				}
				if !copied {
					eff.svcs[k] = want.clone()
					copied = true
				}
				hd := cur.dests[a]
				d := kernelDest(hd)
				d.Weight = 0
				eff.svcs[k].dests[a] = d
				if r.drains[k] == nil {
					r.drains[k] = map[netip.AddrPort]time.Time{}
				}
				r.drains[k][a] = since
				list = append(list, Drain{Service: k, Addr: a, Since: since, Deadline: since.Add(timeout),
					ActiveConns: hd.Stats.ActiveConns, InactiveConns: hd.Stats.InactiveConns})
			}
		case r.owned[k]:
			timeout := r.last[k].DrainTimeout
			if cur != nil && timeout > 0 && len(cur.dests) > 0 {
				since := now
				if svcDraining {
					since = oldSince
				}
				if now.Before(since.Add(timeout)) {
					e := &entry{svc: cur.svc, dests: make(map[netip.AddrPort]Destination, len(cur.dests))}
					e.svc.DrainTimeout = timeout
					for _, a := range cur.sortedAddrs() {
						hd := cur.dests[a]
						d := kernelDest(hd)
						d.Weight = 0
						e.dests[a] = d
						list = append(list, Drain{Service: k, Addr: a, Since: since, Deadline: since.Add(timeout),
							ActiveConns: hd.Stats.ActiveConns, InactiveConns: hd.Stats.InactiveConns, ServiceRemoved: true})
					}
					eff.svcs[k] = e
					r.svcDrains[k] = since
					continue
				}
			}
			retired = append(retired, k)
		}
	}
	draining := slices.DeleteFunc(slices.Clone(r.draining), func(d Drain) bool { return inScope[d.Service] })
	draining = append(draining, list...)
	slices.SortFunc(draining, func(a, b Drain) int {
		if c := a.Service.Compare(b.Service); c != 0 {
			return c
		}
		return a.Addr.Compare(b.Addr)
	})
	r.draining = draining

	ops := Diff(eff, have, retired...)

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
			_ = r.model.Apply(op) // ops came from a diff against the model; they apply
		}
	}

	shrank := false
	for _, k := range retired {
		if !r.model.Has(k) {
			delete(r.owned, k)
			delete(r.last, k)
			shrank = true
		}
	}
	for k, e := range sub.svcs {
		r.last[k] = e.svc
	}
	if shrank {
		r.saveOwned()
	}

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
	r.drains = map[ServiceKey]map[netip.AddrPort]time.Time{}
	r.svcDrains = map[ServiceKey]time.Time{}
	r.draining = nil
	r.logOps(ops, failed, nil)
	return Report{Ops: ops, Failed: failed, Writes: writes, Owned: len(r.owned)}, nil
}

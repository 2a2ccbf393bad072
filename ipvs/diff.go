package ipvs

import (
	"slices"
)

// Diff returns the operations that make the part of actual that lvsd owns
// equal to desired, in the order they must be applied.
//
// lvsd owns the services in desired, plus retired: keys of services it
// programmed before and now wants gone (a retired key that is also in
// desired counts as desired). Every other service in actual is foreign
// (added by hand, or by another tool) and is never touched, not even its
// real servers.
//
// The result is minimal and deterministic: retired services first (one
// delete each; the kernel drops their real servers with them), then each
// desired service in key order: add it (then its real servers) or update
// its settings if they differ, then delete, update and add its real
// servers, each group in address order. Settings are compared without what
// the kernel adds or chooses on its own: counters, the HASHED flag, a full
// persistence mask written as 0, the local forwarding method the kernel
// picks for a local address. So a dump of a table that was just applied
// diffs to nothing. Neither table is modified.
func Diff(desired, actual Table, retired ...ServiceKey) []Op {
	var ops []Op
	if len(retired) > 0 {
		rs := slices.Clone(retired)
		slices.SortFunc(rs, ServiceKey.Compare)
		rs = slices.Compact(rs)
		for _, k := range rs {
			if desired.Has(k) || !actual.Has(k) {
				continue
			}
			ops = append(ops, Op{Kind: DeleteService, Service: Service{ServiceKey: k}})
		}
	}
	// Services are compared in map order and only those that changed are
	// sorted: a sync of 10,000 unchanged services sorts nothing.
	type change struct {
		k   ServiceKey
		ops []Op
	}
	var changes []change
	for k, want := range desired.svcs {
		if c := diffService(k, want, actual.svcs[k]); len(c) > 0 {
			changes = append(changes, change{k, c})
		}
	}
	slices.SortFunc(changes, func(a, b change) int { return a.k.Compare(b.k) })
	n := len(ops)
	for _, c := range changes {
		n += len(c.ops)
	}
	ops = slices.Grow(ops, n-len(ops))
	for _, c := range changes {
		ops = append(ops, c.ops...)
	}
	return ops
}

func diffService(k ServiceKey, want, have *entry) []Op {
	key := Service{ServiceKey: k}
	if have == nil {
		ops := make([]Op, 1, 1+len(want.dests))
		ops[0] = Op{Kind: AddService, Service: kernelService(want.svc)}
		for _, d := range want.sortedDests() {
			ops = append(ops, Op{Kind: AddDestination, Service: key, Destination: kernelDest(d)})
		}
		return ops
	}
	var ops []Op
	if !sameService(want.svc, have.svc) {
		ops = append(ops, Op{Kind: UpdateService, Service: kernelService(want.svc)})
	}
	if len(want.dests) == len(have.dests) {
		same := true
		for a, d := range want.dests {
			if hd, ok := have.dests[a]; !ok || !sameDest(d, hd) {
				same = false
				break
			}
		}
		if same {
			return ops
		}
	}
	for _, a := range have.sortedAddrs() {
		if _, ok := want.dests[a]; !ok {
			ops = append(ops, Op{Kind: DeleteDestination, Service: key, Destination: Destination{Addr: a}})
		}
	}
	var adds []Op
	for _, d := range want.sortedDests() {
		hd, ok := have.dests[d.Addr]
		switch {
		case !ok:
			adds = append(adds, Op{Kind: AddDestination, Service: key, Destination: kernelDest(d)})
		case !sameDest(d, hd):
			ops = append(ops, Op{Kind: UpdateDestination, Service: key, Destination: kernelDest(d)})
		}
	}
	return append(ops, adds...)
}

// kernelService is s as the kernel keeps it: without lvsd's policy fields.
func kernelService(s Service) Service {
	s.DrainTimeout = 0
	if s.Persistence == 0 || s.PersistenceMask == s.Family.bits() {
		s.PersistenceMask = 0
	}
	return s
}

// kernelDest is d without counters.
func kernelDest(d Destination) Destination {
	d.Stats = Counters{}
	return d
}

func sameService(want, have Service) bool {
	w, h := kernelService(want), kernelService(have)
	return w.Scheduler == h.Scheduler &&
		w.SchedFlags == h.SchedFlags &&
		w.OnePacket == h.OnePacket &&
		w.Persistence == h.Persistence &&
		w.PersistenceMask == h.PersistenceMask
}

func sameDest(want, have Destination) bool {
	// The kernel turns any method into "local" for a local address.
	if have.Forward != Local && want.Forward != have.Forward {
		return false
	}
	if want.Weight != have.Weight || want.UpperThreshold != have.UpperThreshold || want.LowerThreshold != have.LowerThreshold {
		return false
	}
	if want.Forward == Tunnel && have.Forward == Tunnel {
		return want.TunnelType == have.TunnelType && want.TunnelPort == have.TunnelPort && want.TunnelChecksum == have.TunnelChecksum
	}
	return true
}

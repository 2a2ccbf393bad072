package ipvs

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
)

// VirtualService is a service with its real servers, as a Table hands it
// out.
type VirtualService struct {
	Service
	Destinations []Destination // sorted by address
	// Stats are the service's kernel counters, filled by a dump.
	Stats Counters
}

// Table is a set of virtual services with their real servers: the desired
// state lvsd computes, or the kernel's as a dump reads it.
//
// Services and destinations are held by value and everything a Table hands
// out is a copy, so nobody changes a table through what they read from it.
// Assigning a Table shares its contents, as with a map; Clone makes an
// independent copy. Diff and the Reconciler never modify the tables they are
// given. Listings are in a deterministic order (ServiceKey.Compare, then
// destination address). The zero Table is empty and ready to use.
type Table struct {
	svcs map[ServiceKey]*entry
}

type entry struct {
	svc   Service
	stats Counters
	dests map[netip.AddrPort]Destination
}

func (e *entry) sortedDests() []Destination {
	ds := make([]Destination, 0, len(e.dests))
	for _, d := range e.dests {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b Destination) int { return a.Addr.Compare(b.Addr) })
	return ds
}

func (e *entry) sortedAddrs() []netip.AddrPort {
	as := make([]netip.AddrPort, 0, len(e.dests))
	for a := range e.dests {
		as = append(as, a)
	}
	slices.SortFunc(as, netip.AddrPort.Compare)
	return as
}

func (e *entry) clone() *entry {
	c := &entry{svc: e.svc, stats: e.stats, dests: make(map[netip.AddrPort]Destination, len(e.dests))}
	for a, d := range e.dests {
		c.dests[a] = d
	}
	return c
}

// NewTable returns a table holding vs (later entries replace earlier ones
// with the same key).
func NewTable(vs ...VirtualService) Table {
	var t Table
	for _, v := range vs {
		t.Put(v)
	}
	return t
}

func (t *Table) init() {
	if t.svcs == nil {
		t.svcs = make(map[ServiceKey]*entry)
	}
}

// Put sets a service and replaces all of its destinations.
func (t *Table) Put(vs VirtualService) {
	t.init()
	e := &entry{svc: vs.Service, stats: vs.Stats, dests: make(map[netip.AddrPort]Destination, len(vs.Destinations))}
	for _, d := range vs.Destinations {
		e.dests[d.Addr] = d
	}
	t.svcs[vs.ServiceKey] = e
}

// PutService sets a service's settings, keeping its destinations if it is
// already in the table.
func (t *Table) PutService(s Service) {
	t.init()
	if e, ok := t.svcs[s.ServiceKey]; ok {
		e.svc = s
		return
	}
	t.svcs[s.ServiceKey] = &entry{svc: s, dests: map[netip.AddrPort]Destination{}}
}

// PutDestination adds or replaces a real server of service k, which must
// be in the table.
func (t *Table) PutDestination(k ServiceKey, d Destination) error {
	e, ok := t.svcs[k]
	if !ok {
		return fmt.Errorf("real server %s: no service %s in the table", d.Addr, k)
	}
	e.dests[d.Addr] = d
	return nil
}

// Delete removes service k and its destinations.
func (t *Table) Delete(k ServiceKey) { delete(t.svcs, k) }

// DeleteDestination removes real server a of service k, reporting whether
// it was there.
func (t *Table) DeleteDestination(k ServiceKey, a netip.AddrPort) bool {
	e, ok := t.svcs[k]
	if !ok {
		return false
	}
	_, had := e.dests[a]
	delete(e.dests, a)
	return had
}

// Has reports whether service k is in the table.
func (t Table) Has(k ServiceKey) bool { _, ok := t.svcs[k]; return ok }

// Get returns a copy of service k with its destinations.
func (t Table) Get(k ServiceKey) (VirtualService, bool) {
	e, ok := t.svcs[k]
	if !ok {
		return VirtualService{}, false
	}
	return VirtualService{Service: e.svc, Destinations: e.sortedDests(), Stats: e.stats}, true
}

// Destination returns real server a of service k.
func (t Table) Destination(k ServiceKey, a netip.AddrPort) (Destination, bool) {
	e, ok := t.svcs[k]
	if !ok {
		return Destination{}, false
	}
	d, ok := e.dests[a]
	return d, ok
}

// Len is the number of services.
func (t Table) Len() int { return len(t.svcs) }

// NumDestinations is the number of real servers over all services.
func (t Table) NumDestinations() int {
	n := 0
	for _, e := range t.svcs {
		n += len(e.dests)
	}
	return n
}

// Keys lists the service keys in order.
func (t Table) Keys() []ServiceKey {
	ks := make([]ServiceKey, 0, len(t.svcs))
	for k := range t.svcs {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, ServiceKey.Compare)
	return ks
}

// Services lists copies of every service with its destinations, in order.
func (t Table) Services() []VirtualService {
	out := make([]VirtualService, 0, len(t.svcs))
	for _, k := range t.Keys() {
		vs, _ := t.Get(k)
		out = append(out, vs)
	}
	return out
}

// Clone returns an independent copy of t.
func (t Table) Clone() Table {
	c := Table{svcs: make(map[ServiceKey]*entry, len(t.svcs))}
	for k, e := range t.svcs {
		c.svcs[k] = e.clone()
	}
	return c
}

// Select returns an independent copy of the services of t that keep
// reports true for.
func (t Table) Select(keep func(ServiceKey) bool) Table {
	c := Table{svcs: make(map[ServiceKey]*entry)}
	for k, e := range t.svcs {
		if keep(k) {
			c.svcs[k] = e.clone()
		}
	}
	return c
}

// Equal reports whether t and o hold the same services and real servers
// with the same settings, compared the way Diff compares them (counters,
// drain timeouts and what the kernel adds on its own are ignored).
func (t Table) Equal(o Table) bool { return len(Diff(t, o)) == 0 && len(Diff(o, t)) == 0 }

// String renders the table as ipvsadm would save it (ipvsadm -S -n), one
// rule per line: handy in logs and test failures, and input for ipvsadm -R.
func (t Table) String() string {
	var b strings.Builder
	for _, k := range t.Keys() {
		e := t.svcs[k]
		b.WriteString(Op{Kind: AddService, Service: e.svc}.String())
		b.WriteByte('\n')
		for _, d := range e.sortedDests() {
			b.WriteString(Op{Kind: AddDestination, Service: e.svc, Destination: d}.String())
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Apply changes t as the kernel would for op, failing the way the kernel
// fails (adding what exists: EEXIST; a missing service: ESRCH; a missing
// real server: ENOENT). It is the model behind the in-memory backend and
// the Reconciler's picture of the kernel.
func (t *Table) Apply(op Op) error {
	t.init()
	k := op.Service.ServiceKey
	e, ok := t.svcs[k]
	switch op.Kind {
	case AddService:
		if ok {
			return syscall.EEXIST
		}
		t.svcs[k] = &entry{svc: op.Service, dests: map[netip.AddrPort]Destination{}}
		return nil
	case UpdateService, DeleteService:
		if !ok {
			return syscall.ESRCH
		}
		if op.Kind == DeleteService {
			delete(t.svcs, k)
		} else {
			e.svc = op.Service
		}
		return nil
	}
	if !ok {
		return syscall.ESRCH
	}
	d, have := e.dests[op.Destination.Addr]
	switch op.Kind {
	case AddDestination:
		if have {
			return syscall.EEXIST
		}
		e.dests[op.Destination.Addr] = op.Destination
	case UpdateDestination:
		if !have {
			return syscall.ENOENT
		}
		nd := op.Destination
		nd.Stats = d.Stats
		e.dests[nd.Addr] = nd
	case DeleteDestination:
		if !have {
			return syscall.ENOENT
		}
		delete(e.dests, op.Destination.Addr)
	default:
		return fmt.Errorf("unknown operation kind %d", op.Kind)
	}
	return nil
}

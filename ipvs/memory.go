package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
)

// Backend is what a Reconciler needs from the kernel: read the whole table,
// apply operations, count the writes. *Kernel is the real one; *Memory is
// an in-memory stand-in for unit tests of code that drives a Reconciler.
type Backend interface {
	// Dump reads every service and real server, with counters, into a
	// new table that is the caller's to keep and change.
	Dump(ctx context.Context) (Table, error)
	// Apply applies ops in order. A failed op does not stop the rest; each
	// failure is returned (nil when all succeeded).
	Apply(ctx context.Context, ops []Op) []*OpError
	// Writes is the number of write requests sent so far.
	Writes() uint64
}

// Memory is an in-memory Backend that behaves like the kernel's table as
// far as Diff and the Reconciler can tell: the same errors for adding what
// exists or changing what does not, counters that tests set by hand, and
// hooks to edit the table behind the Reconciler's back or make ops fail.
// It is safe for concurrent use.
type Memory struct {
	mu     sync.Mutex
	t      Table
	writes uint64
	dumps  int
	fail   func(Op) error
}

// NewMemory returns a backend holding a copy of initial.
func NewMemory(initial Table) *Memory { return &Memory{t: initial.Clone()} }

// Dump returns a copy of the table.
func (m *Memory) Dump(ctx context.Context) (Table, error) {
	if err := ctx.Err(); err != nil {
		return Table{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dumps++
	return m.t.Clone(), nil
}

// Apply applies ops one by one, as the kernel backend does.
func (m *Memory) Apply(ctx context.Context, ops []Op) []*OpError {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []*OpError
	for _, op := range ops {
		if err := ctx.Err(); err != nil {
			errs = append(errs, &OpError{Op: op, Err: err})
			continue
		}
		m.writes++
		if m.fail != nil {
			if err := m.fail(op); err != nil {
				errs = append(errs, &OpError{Op: op, Err: err})
				continue
			}
		}
		if err := m.t.Apply(op); err != nil {
			errs = append(errs, &OpError{Op: op, Err: err})
		}
	}
	return errs
}

// Writes counts the ops Apply tried.
func (m *Memory) Writes() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// Dumps counts the calls to Dump.
func (m *Memory) Dumps() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dumps
}

// Table returns a copy of the current table.
func (m *Memory) Table() Table {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t.Clone()
}

// Edit changes the table directly, as someone running ipvsadm by hand
// would; it does not count as writes.
func (m *Memory) Edit(fn func(t *Table)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn(&m.t)
}

// SetConns sets the active and inactive connection counts of a real server,
// which the kernel would count itself.
func (m *Memory) SetConns(k ServiceKey, a netip.AddrPort, active, inactive uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.t.Destination(k, a)
	if !ok {
		return fmt.Errorf("no real server %s in %s", a, k)
	}
	d.Stats.ActiveConns, d.Stats.InactiveConns = active, inactive
	return m.t.PutDestination(k, d)
}

// FailOps makes every op for which fail returns an error fail with it
// (nil restores normal behaviour).
func (m *Memory) FailOps(fail func(Op) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = fail
}

package control

import (
	"context"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/lvsd/lvsd/ipvs"
)

// DefaultCountersMaxAge is how long a read of the kernel's counters is
// reused. The kernel's rate estimator itself refreshes every 2 s.
const DefaultCountersMaxAge = 2 * time.Second

// Counters reads the kernel's IPVS counters (ipvs.Kernel.DumpCounters:
// 64-bit, through netlink) for the status API and metrics, at most once
// per MaxAge however many readers ask: a dump of a large table takes a
// while, and Prometheus servers, dashboards and `lvsd status` may all
// poll at once. Concurrent readers share one dump. Safe for concurrent use.
type Counters struct {
	dump   func(context.Context) (ipvs.Table, error)
	maxAge time.Duration
	clock  clockwork.Clock

	mu     sync.Mutex
	table  ipvs.Table
	at     time.Time
	err    error
	flight chan struct{} // closed when the dump in flight ends
	dumps  uint64
}

// NewCounters reads through dump (nil: no counters; Get then returns a
// zero time and no error). maxAge <= 0 means DefaultCountersMaxAge; clock
// nil means the real one.
func NewCounters(dump func(context.Context) (ipvs.Table, error), maxAge time.Duration, clock clockwork.Clock) *Counters {
	if maxAge <= 0 {
		maxAge = DefaultCountersMaxAge
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &Counters{dump: dump, maxAge: maxAge, clock: clock}
}

// Get returns the kernel's table with counters, read at most MaxAge ago,
// and when it was read. The table is shared: do not modify it.
func (c *Counters) Get(ctx context.Context) (ipvs.Table, time.Time, error) {
	if c == nil || c.dump == nil {
		return ipvs.Table{}, time.Time{}, nil
	}
	for {
		c.mu.Lock()
		if !c.at.IsZero() && c.clock.Since(c.at) < c.maxAge {
			t, at, err := c.table, c.at, c.err
			c.mu.Unlock()
			return t, at, err
		}
		if f := c.flight; f != nil {
			c.mu.Unlock()
			select {
			case <-f:
				continue
			case <-ctx.Done():
				return ipvs.Table{}, time.Time{}, ctx.Err()
			}
		}
		f := make(chan struct{})
		c.flight = f
		c.dumps++
		c.mu.Unlock()

		// The dump belongs to every waiter, not only to this caller: it
		// runs to completion with a bound of its own.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		t, err := c.dump(dctx)
		cancel()
		at := c.clock.Now()
		c.mu.Lock()
		c.table, c.at, c.err = t, at, err
		c.flight = nil
		close(f)
		c.mu.Unlock()
		return t, at, err
	}
}

// Dumps is how many times the kernel was read (for tests).
func (c *Counters) Dumps() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dumps
}

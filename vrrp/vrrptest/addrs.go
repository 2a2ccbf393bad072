package vrrptest

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lvsd/test/nstest"
)

// AddrWatch records address additions and removals in a namespace.
type AddrWatch struct {
	mu     sync.Mutex
	events []addrEvent
}

type addrEvent struct {
	at   time.Time
	addr netip.Addr
	add  bool
}

// WatchAddrs watches ns's addresses until the test ends.
func WatchAddrs(t testing.TB, ns *nstest.NS) *AddrWatch {
	t.Helper()
	w := &AddrWatch{}
	ch := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	if err := ns.Do(func() error { return netlink.AddrSubscribe(ch, done) }); err != nil {
		t.Fatalf("address subscription in %s: %v", ns.Name, err)
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for u := range ch {
			a, ok := netip.AddrFromSlice(u.LinkAddress.IP)
			if !ok {
				continue
			}
			w.mu.Lock()
			w.events = append(w.events, addrEvent{at: time.Now(), addr: a.Unmap(), add: u.NewAddr})
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		close(done)
		select {
		case <-finished:
		case <-time.After(2 * time.Second):
		}
	})
	return w
}

// Added is when vip was first added at or after t (zero if not).
func (w *AddrWatch) Added(vip netip.Addr, after time.Time) time.Time {
	return w.first(vip, after, true)
}

// Removed is when vip was first removed at or after t (zero if not).
func (w *AddrWatch) Removed(vip netip.Addr, after time.Time) time.Time {
	return w.first(vip, after, false)
}

// Changes counts additions and removals of vip at or after t.
func (w *AddrWatch) Changes(vip netip.Addr, after time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		if e.addr == vip && !e.at.Before(after) {
			n++
		}
	}
	return n
}

func (w *AddrWatch) first(vip netip.Addr, after time.Time, add bool) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.add == add && e.addr == vip && !e.at.Before(after) {
			return e.at
		}
	}
	return time.Time{}
}

// WaitAdded waits until vip is added at or after t, and returns when.
func (w *AddrWatch) WaitAdded(t testing.TB, d time.Duration, vip netip.Addr, after time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if at := w.Added(vip, after); !at.IsZero() {
			return at
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v not added within %v", vip, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

package checkers

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// Many connects in flight at once on one epoll loop, to servers that accept
// and to ports that refuse, each get their own answer exactly once.
func TestConnectorConcurrent(t *testing.T) {
	env := NewEnv(nil)
	defer env.Close()
	open := startTCP(t, "127.0.0.1:0", nil)
	closed := freePort(t)
	const n = 2000
	var wg sync.WaitGroup
	var mu sync.Mutex
	calls := make([]int, n)
	results := make([]Result, n)
	set := Settings{Timeout: 5 * time.Second}.WithDefaults()
	for i := range n {
		wg.Add(1)
		dst := open.Addr()
		if i%2 == 1 {
			dst = closed
		}
		env.conn.connect(dst, set, false, func(r Result) {
			mu.Lock()
			calls[i]++
			results[i] = r
			mu.Unlock()
			wg.Done()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("connects did not all finish")
	}
	time.Sleep(10 * time.Millisecond) // a second call would show here
	mu.Lock()
	defer mu.Unlock()
	for i, r := range results {
		want := Result{OK: true, Reason: "connected"}
		if i%2 == 1 {
			want = Result{Reason: "connect: connection refused"}
		}
		if calls[i] != 1 || r.OK != want.OK || r.Reason != want.Reason {
			t.Fatalf("connect %d: %d calls, %+v, want %q", i, calls[i], r, want.Reason)
		}
	}
	// A connect is done when the handshake is; the server's accept loop
	// takes the connection off its queue a little later (on a loaded
	// machine, 958 of 1000 at the moment the last connect finished).
	deadline := time.Now().Add(5 * time.Second)
	for int(open.accepted.Load()) < n/2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := int(open.accepted.Load()); got != n/2 {
		t.Fatalf("server accepted %d connections, want %d", got, n/2)
	}
	env.conn.mu.Lock()
	left := len(env.conn.conns)
	env.conn.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d connects still tracked", left)
	}
}

// Closing the Env fails the connects in flight at once; none is lost.
func TestConnectorClose(t *testing.T) {
	l := newLab(t)
	l.firewall("tcp dport 80 drop")
	env := NewEnv(nil)
	set := Settings{Timeout: time.Minute}.WithDefaults()
	got := make(chan Result, 10)
	l.in(func() {
		for range 10 {
			env.conn.connect(netip.AddrPortFrom(srv4, 80), set, false, func(r Result) { got <- r })
		}
	})
	start := time.Now()
	env.Close()
	for range 10 {
		select {
		case r := <-got:
			if r.OK || r.Reason != "connect: cancelled" {
				t.Fatalf("%+v", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a connect in flight was not failed by Close")
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	// After Close, new connects fail at once.
	var r Result
	l.in(func() { r = mustCheck(t, Definition{Target: netip.AddrPortFrom(srv4, 80), Spec: TCPSpec{}}, env) })
	if r.OK || r.Reason != "connect: connector closed" {
		t.Fatalf("after Close: %+v", r)
	}
}
